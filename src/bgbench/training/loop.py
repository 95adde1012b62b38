"""Full training / fine-tuning: the epoch loop with the background swap, crops, mixed precision on a
GPU, and a resumable state after every epoch. Images larger than the crops need are shrunk once
before the first epoch (``shrink_train_data``), so the swap and crops run at the working size."""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bgbench.progress import progress
from bgbench.rowfile import read_rows
from bgbench.training.crops import random_resized_crop, working_size
from bgbench.training.data import TrainData, batch_tensor, shrink_train_data
from bgbench.training.recipe import Recipe, lr_factor, make_optimizer
from bgbench.training.state import load_state, save_state


def make_swap(data: TrainData, swap: dict[str, Any] | None, generator: torch.Generator):
    """The :class:`~bgbench.augment.BackgroundSwap` of a run (None without the swap)."""
    if not swap or data.bank is None:
        return None
    from bgbench.augment import BackgroundSwap

    return BackgroundSwap(
        data.bank,  # uint8 (M, H, W, 3), often a memmap: each batch reads only the rows it draws
        data.bank_labels,
        p=swap["p"],
        swap_classes=swap["classes"],
        scale=tuple(swap.get("scale", (1.0, 1.0))),
        translate=swap.get("translate", 0.0),
        generator=generator,
    )


def autocast_for(device: torch.device, precision: str):
    """bf16/fp16 autocast on a GPU (bf16 for ``auto``), nothing on the CPU or for fp32."""
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type="cuda", dtype=dtype)


class _Epoch:
    """Running loss / accuracy / speed of one epoch, shown on the progress bar."""

    def __init__(self) -> None:
        self.loss, self.correct, self.seen, self.start = 0.0, 0, 0, time.perf_counter()

    def add(self, loss: float, correct: int, n: int) -> dict[str, str]:
        self.loss += loss * n
        self.correct += correct
        self.seen += n
        return {
            "loss": f"{self.loss / self.seen:.3f}",
            "acc": f"{self.correct / self.seen:.3f}",
            "img/s": f"{self.images_per_s:.0f}",
        }

    @property
    def images_per_s(self) -> float:
        return self.seen / max(1e-9, time.perf_counter() - self.start)


class _Batches:
    """Turns index batches into augmented, normalised model input (swap, crop + flip, mean/std)."""

    def __init__(self, data: TrainData, net, recipe: Recipe, swapper, generator: torch.Generator) -> None:
        clf = net.classifier
        self.data, self.recipe, self.swapper, self.generator = data, recipe, swapper, generator
        self.device = clf.device
        self.size = int(clf.preprocessing.input_size or data.images.shape[1])
        self.mean = torch.tensor(clf.preprocessing.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(clf.preprocessing.std, device=self.device).view(1, 3, 1, 1)
        self.labels = torch.as_tensor(data.labels, dtype=torch.long)

    def __call__(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised float (B, 3, size, size) channels-last, int64 labels (B,)) on the device."""
        x, y = batch_tensor(self.data.images, idx, self.device), self.labels[idx].to(self.device)
        if self.swapper is not None:
            masks = torch.from_numpy(read_rows(self.data.masks, idx)).to(self.device)
            x = self.swapper(x, masks, y)
        x = random_resized_crop(x.float().div_(255.0), self.size, self.recipe.crop_scale, self.generator,
                                flip=self.recipe.flip)
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last), y


def train_full(net, data: TrainData, recipe: Recipe, *, swap: dict[str, Any] | None, seed: int, out: Path,
               key: str, precision: str, quiet: bool) -> list[dict[str, Any]]:
    """Train every parameter of ``net.module`` on ``data`` with the resolved ``recipe``; resumes from
    ``out/state`` when a run with the same ``key`` saved one. Returns the per-epoch history."""
    module, device = net.module, net.classifier.device
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer([p for p in module.parameters() if p.requires_grad], recipe)
    n, bs = len(data.labels), int(recipe.batch_size)
    per_epoch = math.ceil(n / bs)
    total, warmup = per_epoch * recipe.epochs, round(recipe.warmup_epochs * per_epoch)
    step, start_epoch, history = load_state(out, key, module, optimizer, generator) or (0, 0, [])
    size = int(net.classifier.preprocessing.input_size or data.images.shape[1])
    data = shrink_train_data(data, working_size(size, recipe.crop_scale))
    batches = _Batches(data, net, recipe, make_swap(data, swap, generator), generator)
    bar = progress(total=total, initial=step, desc="train", unit="step", quiet=quiet)
    try:
        for epoch in range(start_epoch, int(recipe.epochs)):
            module.train()
            order = torch.randperm(n, generator=generator).numpy()
            stats = _Epoch()
            for b in range(per_epoch):
                x, y = batches(order[b * bs:(b + 1) * bs])
                for group in optimizer.param_groups:
                    group["lr"] = recipe.lr * lr_factor(step, total, warmup)
                with autocast_for(device, precision):
                    logits = module(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                shown = stats.add(float(loss.detach()), int((logits.argmax(1) == y).sum()), len(y))
                bar.set_postfix(shown, refresh=False)
                bar.update(1)
            history.append({"epoch": epoch + 1, "loss": stats.loss / max(1, stats.seen),
                            "train_accuracy": stats.correct / max(1, stats.seen),
                            "images_per_s": stats.images_per_s,
                            "lr_end": recipe.lr * lr_factor(step, total, warmup)})
            save_state(out, key, module, optimizer, step, epoch + 1, generator, history)
    finally:
        bar.close()
    module.eval()
    return history
