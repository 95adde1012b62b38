"""A small CNN for 9-class background-reliance experiments on a CPU.

``bgbench demo`` trains :func:`small_cnn` through ``bgbench train`` (``python:bgbench.smallcnn:small_cnn``)
to show the paper's training result in minutes; the trainer, with its recipe, checkpoints and
background swap, is :mod:`bgbench.training`.
"""

from __future__ import annotations

from torch import nn


def small_cnn(num_classes: int = 9, width: int = 16) -> nn.Module:
    """Four conv blocks (conv-BN-ReLU, 2x2 max-pooling) and a linear head; ~25k parameters at width 16."""
    layers: list[nn.Module] = []
    channels = 3
    for i in range(4):
        out = width * (2 ** min(i, 2))
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                   nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        channels = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))
