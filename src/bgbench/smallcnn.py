"""A small CNN for 9-class background-reliance experiments on a CPU, and a minimal trainer for it.

``bgbench demo`` trains :func:`small_cnn` through ``bgbench train`` (``python:bgbench.smallcnn:small_cnn``)
to show the paper's training result in minutes. :func:`train_classifier` is a self-contained,
deterministic in-memory trainer for quick experiments on arrays (no files, no augmentation); the
training command with its recipe, checkpoints and background swap is :mod:`bgbench.training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bgbench.classes import IN9_MEAN, IN9_STD
from bgbench.models.base import Preprocessing, TorchClassifier


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


def to_float_images(images: np.ndarray, size: int, chunk: int = 256) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, size, size) in [0, 1] (bilinear, antialiased when shrinking).

    Converts ``chunk`` images at a time so a large (possibly memory-mapped, read-only) array never
    exists in float32 at full resolution.
    """
    parts = []
    for begin in range(0, len(images), chunk):
        block = torch.from_numpy(np.array(images[begin:begin + chunk], dtype=np.uint8, copy=True))
        x = block.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        parts.append(x)
    if not parts:
        return torch.empty(0, 3, size, size)
    return torch.cat(parts)


@dataclass
class TrainReport:
    epochs: int
    final_loss: float
    train_accuracy: float
    seconds: float


def train_classifier(images: np.ndarray, labels: np.ndarray, *, num_classes: int = 9, input_size: int = 64,
                     epochs: int = 12, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                     width: int = 16, device: str | torch.device = "cpu", spec: str = "demo-cnn",
                     quiet: bool = True) -> tuple[TorchClassifier, TrainReport]:
    """Train :func:`small_cnn` on uint8 images (N, H, W, 3) with int labels (N,) in [0, num_classes).

    Deterministic for a given seed on the CPU (fixed init and shuffling, horizontal flips only).
    Returns a :class:`TorchClassifier` that takes [0, 1] images of any size (resized to
    ``input_size``, IN-9 normalisation) and a short training report.
    """
    import time

    from bgbench.progress import progress

    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = small_cnn(num_classes, width).to(device)
    preprocessing = Preprocessing(mean=IN9_MEAN, std=IN9_STD, input_size=input_size, interpolation="bilinear",
                                  name="in9-small")
    mean = torch.tensor(IN9_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IN9_STD).view(1, 3, 1, 1)
    x_all = (to_float_images(images, input_size) - mean) / std
    y_all = torch.as_tensor(labels, dtype=torch.long)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * max(1, (len(x_all) + batch_size - 1) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    start = time.perf_counter()
    loss_value, correct = 0.0, 0
    bar = progress(total=steps, desc=f"train {spec}", unit="step", quiet=quiet)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=generator)
        correct = 0
        for begin in range(0, len(order), batch_size):
            idx = order[begin:begin + batch_size]
            x, y = x_all[idx], y_all[idx]
            flip = torch.rand(len(idx), generator=generator) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x).to(device)
            y = y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = float(loss.detach())
            correct += int((logits.argmax(1) == y).sum())
            bar.update(1)
    bar.close()
    report = TrainReport(epochs=epochs, final_loss=loss_value, train_accuracy=correct / max(1, len(x_all)),
                         seconds=time.perf_counter() - start)
    classifier = TorchClassifier(module=model, spec=spec, num_outputs=num_classes,
                                 preprocessing=preprocessing, device=device,
                                 info={"weights": "trained-in-process", "output_space": "in9"})
    return classifier, report
