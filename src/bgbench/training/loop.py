"""Full training / fine-tuning: the epoch loop with the background swap, crops, the run's autocast
precision (``--precision``), a resumable state after every epoch, and data parallelism under torchrun
(:mod:`bgbench.training.distributed`). Each epoch's order and every augmentation draw depend only on
the seed, the epoch and the sample index (:mod:`bgbench.training.draws`), so N processes of batch b
take the same steps as one process of batch N x b. Images larger than the crops need are shrunk once
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
from bgbench.training.distributed import SINGLE, DistContext, main_first, sum_across, wrap
from bgbench.training.draws import CROP_COLUMNS, epoch_order, sample_uniforms
from bgbench.training.recipe import Recipe, lr_factor, make_optimizer
from bgbench.training.state import load_state, save_state


def make_swap(data: TrainData, swap: dict[str, Any] | None):
    """The background swap of a run, drawing per sample (:class:`~bgbench.training.draws.SampleSwap`;
    None without the swap)."""
    if not swap or data.bank is None:
        return None
    from bgbench.training.draws import SampleSwap

    return SampleSwap(
        data.bank,  # uint8 (M, H, W, 3), often a memmap: each batch reads only the rows it draws
        data.bank_labels,
        p=swap["p"],
        swap_classes=swap["classes"],
        scale=tuple(swap.get("scale", (1.0, 1.0))),
        translate=swap.get("translate", 0.0),
    )


def autocast_for(device: torch.device, precision: str):
    """The training steps' autocast: nothing for ``fp32`` (exact), else ``torch.autocast`` to bf16
    (or fp16) on ``device``'s type, the CPU included (``--precision`` means the same everywhere)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


class _Epoch:
    """Running loss / accuracy / speed of one epoch on this rank (:meth:`record` sums every rank's)."""

    def __init__(self) -> None:
        self.loss, self.correct, self.seen, self.start = 0.0, 0, 0, time.perf_counter()

    def add(self, loss_sum: float, correct: int, n: int) -> dict[str, str]:
        self.loss += loss_sum
        self.correct += correct
        self.seen += n
        return {
            "loss": f"{self.loss / max(1, self.seen):.3f}",
            "acc": f"{self.correct / max(1, self.seen):.3f}",
            "img/s": f"{self.seen / max(1e-9, time.perf_counter() - self.start):.0f}",
        }

    def record(self, epoch: int, lr_end: float, ctx: DistContext) -> dict[str, Any]:
        """The epoch's history entry: mean loss and accuracy over all ranks' samples, images/s of all."""
        loss, correct, seen = sum_across([self.loss, float(self.correct), float(self.seen)], ctx)
        return {"epoch": epoch, "loss": loss / max(1.0, seen), "train_accuracy": correct / max(1.0, seen),
                "images_per_s": seen / max(1e-9, time.perf_counter() - self.start), "lr_end": lr_end}


class _Batches:
    """Turns index batches into augmented, normalised model input (swap, crop + flip, mean/std); every
    draw of sample i in epoch e comes from ``sample_uniforms(seed, e, [i])``."""

    def __init__(self, data: TrainData, net, recipe: Recipe, swapper, seed: int) -> None:
        clf = net.classifier
        self.data, self.recipe, self.swapper, self.seed = data, recipe, swapper, seed
        self.device = clf.device
        self.size = int(clf.preprocessing.input_size or data.images.shape[1])
        self.mean = torch.tensor(clf.preprocessing.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(clf.preprocessing.std, device=self.device).view(1, 3, 1, 1)
        self.labels = torch.as_tensor(data.labels, dtype=torch.long)

    def __call__(self, idx: np.ndarray, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised float (B, 3, size, size) channels-last, int64 labels (B,)) on the device."""
        x, y = batch_tensor(self.data.images, idx, self.device), self.labels[idx].to(self.device)
        rows = sample_uniforms(self.seed, epoch, idx)
        if self.swapper is not None:
            masks = torch.from_numpy(read_rows(self.data.masks, idx)).to(self.device)
            self.swapper.set_draws(rows)
            x = self.swapper(x, masks, y)
        x = random_resized_crop(x.float().div_(255.0), self.size, self.recipe.crop_scale,
                                flip=self.recipe.flip, draws=rows[:, CROP_COLUMNS])
        return ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last), y


def _local_batch(order: np.ndarray, b: int, global_batch: int, ctx: DistContext) -> tuple[np.ndarray, float]:
    """(this rank's indices of global batch ``b``, its loss weight world / len(global batch)), so the
    DDP-averaged gradient is that of the mean loss over the whole global batch. A rank left without
    samples (a last batch smaller than the world) runs the batch's first sample with weight 0."""
    batch = order[b * global_batch:(b + 1) * global_batch]
    mine = ctx.shard(batch)
    if len(mine) == 0:
        return batch[:1], 0.0
    return mine, ctx.world / len(batch)


def _step(model, optimizer, x: torch.Tensor, y: torch.Tensor, weight: float, recipe: Recipe, device,
          precision: str) -> tuple[float, int]:
    """One optimiser step on (x, y) with the loss sum scaled by ``weight``; (loss sum, correct)."""
    with autocast_for(device, precision):
        logits = model(x)
    losses = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing, reduction="none")
    optimizer.zero_grad(set_to_none=True)
    (losses.sum() * weight).backward()
    optimizer.step()
    return float(losses.detach().sum()), int((logits.argmax(1) == y).sum())


def train_full(net, data: TrainData, recipe: Recipe, *, swap: dict[str, Any] | None, seed: int, out: Path,
               key: str, precision: str, quiet: bool, ctx: DistContext = SINGLE,
               tracker=None) -> tuple[list[dict[str, Any]], str | None]:
    """Train every parameter of ``net.module`` on ``data`` with the resolved ``recipe`` (its batch size
    per process; under torchrun each global batch of batch x world samples is sliced across ranks);
    resumes from ``out/state`` when a run with the same ``key`` saved one. Returns (the per-epoch
    history, how BatchNorm statistics were kept: see :func:`~bgbench.training.distributed.wrap`)."""
    module, device = net.module, net.classifier.device
    optimizer = make_optimizer([p for p in module.parameters() if p.requires_grad], recipe)
    n, global_batch = len(data.labels), int(recipe.batch_size) * ctx.world
    per_epoch = math.ceil(n / global_batch)
    total, warmup = per_epoch * recipe.epochs, round(recipe.warmup_epochs * per_epoch)
    step, start_epoch, history = load_state(out, key, module, optimizer) or (0, 0, [])
    size = int(net.classifier.preprocessing.input_size or data.images.shape[1])
    with main_first(ctx):  # rank 0 writes the working-size store; the others map what it wrote
        data = shrink_train_data(data, working_size(size, recipe.crop_scale))
    batches = _Batches(data, net, recipe, make_swap(data, swap), seed)
    model, norm = wrap(module, ctx, device)
    bar = progress(total=total, initial=step, desc="train", unit="step", quiet=quiet or not ctx.is_main)
    try:
        for epoch in range(start_epoch, int(recipe.epochs)):
            model.train()
            order, stats = epoch_order(seed, epoch, n), _Epoch()
            for b in range(per_epoch):
                idx, weight = _local_batch(order, b, global_batch, ctx)
                for group in optimizer.param_groups:
                    group["lr"] = recipe.lr * lr_factor(step, total, warmup)
                x, y = batches(idx, epoch)
                loss_sum, correct = _step(model, optimizer, x, y, weight, recipe, device, precision)
                step += 1
                real = weight > 0  # a weight-0 stand-in batch adds nothing to the statistics
                bar.set_postfix(stats.add(loss_sum * real, correct * real, len(idx) * real), refresh=False)
                bar.update(1)
            history.append(stats.record(epoch + 1, recipe.lr * lr_factor(step, total, warmup), ctx))
            if ctx.is_main:
                save_state(out, key, module, optimizer, step, epoch + 1, history)
                track_epoch(tracker, history[-1])
    finally:
        bar.close()
    module.eval()
    return history, norm


def track_epoch(tracker, entry: dict[str, Any]) -> None:
    """Send one history entry (loss, train accuracy, lr at the end, images/s) to ``tracker`` (or nothing)."""
    if tracker is None:
        return
    names = {"loss": "train/loss", "train_accuracy": "train/accuracy", "lr_end": "train/lr",
             "images_per_s": "train/images_per_s"}
    tracker.log({name: float(entry[k]) for k, name in names.items() if k in entry}, int(entry["epoch"]))
