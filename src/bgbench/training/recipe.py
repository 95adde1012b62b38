"""The training recipe: optimiser, schedule, regularisation and augmentation, with documented defaults.

Default recipe (``Recipe()``; ``bgbench train --help`` prints it):

- full training / fine-tuning: AdamW (lr 1e-3, weight decay 0.05) or SGD with momentum 0.9
  (``--optimizer sgd``, lr 0.1, weight decay 5e-5); linear warm-up for ``warmup_epochs`` (1), then
  cosine decay to 0 over the remaining steps; cross-entropy with label smoothing 0.1; random-resized
  crop (scale 0.35-1, aspect 3/4-4/3) to the model's input size and horizontal flips; batch 64;
  fp32 (``--precision bf16``: bf16 autocast, the fast choice on a GPU).
- ``--head-only`` (last-layer retraining): the same optimiser and schedule on cached features of the
  frozen backbone (lr 1e-2 for AdamW, weight decay 1e-4, batch 256, 30 epochs); no crop or flip
  (features are computed once), the background swap draws ``swap_draws`` fixed composites instead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from bgbench.config import check_numbers, number
from bgbench.errors import BgbenchError

OPTIMIZERS = ("adamw", "sgd")


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run (``None`` = the mode's default, see module doc)."""

    optimizer: str = "adamw"
    lr: float | None = number(None, low=0, whole=False, low_open=True)
    weight_decay: float | None = number(None, low=0, whole=False)
    momentum: float = number(0.9, low=0, high=1, whole=False, high_open=True)
    epochs: int | None = number(None, low=1)
    warmup_epochs: float = number(1.0, low=0, whole=False)
    label_smoothing: float = number(0.1, low=0, high=1, whole=False, high_open=True)
    batch_size: int | None = number(None, low=1)
    crop_scale: tuple[float, float] = (0.35, 1.0)
    flip: bool = True
    input_size: int | None = number(None, low=1)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise BgbenchError(f"unknown --optimizer {self.optimizer!r} (expected {' or '.join(OPTIMIZERS)})")
        check_numbers(self)
        if not 0.0 < self.crop_scale[0] <= self.crop_scale[1] <= 1.0:
            raise BgbenchError(f"crop scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")

    def resolved(self, head_only: bool) -> Recipe:
        """The recipe with every ``None`` replaced by the mode's default."""
        sgd = self.optimizer == "sgd"
        if head_only:
            lr, wd, epochs, batch = (0.1 if sgd else 1e-2), 1e-4, 30, 256
        else:
            lr, wd, epochs, batch = (0.1 if sgd else 1e-3), (5e-5 if sgd else 0.05), 10, 64
        return replace(
            self,
            lr=self.lr or lr,
            weight_decay=wd if self.weight_decay is None else self.weight_decay,
            epochs=self.epochs or epochs,
            batch_size=self.batch_size or batch,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up from ~0 to 1 over ``warmup_steps``, then
    cosine decay to 0 at ``total_steps``. Pure; in [0, 1]."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(params, recipe: Recipe):
    """The torch optimiser the (resolved) recipe names."""
    import torch

    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay, nesterov=True
        )
    return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
