"""A tiny deterministic torch classifier for the API tests (9 outputs, no download)."""

from __future__ import annotations


def tiny_classifier():
    """Average-pool -> linear with seeded random weights: 9 outputs that vary by image."""
    import torch

    from bgbench.models.base import Preprocessing, TorchClassifier

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 9))
    with torch.no_grad():
        net[2].weight.mul_(50.0)
    prep = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), input_size=64)
    return TorchClassifier(module=net, spec="tiny:test", num_outputs=9, preprocessing=prep,
                           device=torch.device("cpu"))
