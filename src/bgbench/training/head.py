"""Last-layer retraining: features of the frozen backbone computed once (cached), a linear head
trained on them, and the head written back into the network.

With the background swap, every training image contributes ``draws`` composites (each swapped with
probability p, seeded), whose features are computed once like the plain images', so retraining the
head with the augmentation stays a matter of seconds to minutes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bgbench.progress import progress
from bgbench.resume import run_key
from bgbench.rowfile import read_rows
from bgbench.training.data import TrainData, batch_tensor
from bgbench.training.distributed import SINGLE, DistContext, gather
from bgbench.training.draws import sample_uniforms
from bgbench.training.features import cached, compute_features
from bgbench.training.loop import make_swap
from bgbench.training.network import head
from bgbench.training.recipe import Recipe, lr_factor, make_optimizer

FEATURE_BATCH = 64


def _image_batches(data: TrainData, device, swapper, draws: int, seed: int, indices: np.ndarray):
    """float [0, 1] (B, 3, H, W) batches of ``indices``: the images once, or ``draws`` passes of swapped
    composites (pass d of sample i drawn from ``sample_uniforms(seed, d, [i])``)."""
    labels = torch.as_tensor(data.labels, dtype=torch.long)
    for draw in range(draws if swapper is not None else 1):
        for lo in range(0, len(indices), FEATURE_BATCH):
            idx = indices[lo:lo + FEATURE_BATCH]
            x = batch_tensor(data.images, idx, device)
            if swapper is not None:
                masks = torch.from_numpy(read_rows(data.masks, idx)).to(device)
                swapper.set_draws(sample_uniforms(seed, draw, idx))
                x = swapper(x, masks, labels[idx].to(device))
            yield x.float().div_(255.0)


def train_features(
    net, data: TrainData, *, swap: dict[str, Any] | None, seed: int, cache_dir: Path | None, quiet: bool,
    ctx: DistContext = SINGLE,
) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (R, D), labels int64 (R,)) of the training rows (R = N, or N x draws; row
    d x N + i is draw d of image i). Under torchrun each rank computes its slice of the images and
    every rank gets all rows; only rank 0 writes the cache."""
    passes = int(swap["draws"]) if swap else 1
    swapper = make_swap(data, swap)
    clf = net.classifier
    key = run_key(
        {
            "model": net.source,
            "preprocessing": clf.preprocessing.describe(),
            "data": data.fingerprint,
            "swap": swap,
            "seed": seed if swap else None,
            "n": len(data.labels),
            "draws": "per-sample",
            # autocast features are other features; fp32 ones keep the key they always had
            **({"precision": clf.precision} if clf.precision != "fp32" else {}),
        }
    )
    n = len(data.labels)
    passes = passes if swapper is not None else 1
    mine = ctx.shard(np.arange(n))

    def make() -> np.ndarray:
        batches = _image_batches(data, clf.device, swapper, passes, seed, mine)
        part = compute_features(clf, net.module, batches, passes * len(mine), "features",
                                quiet or not ctx.is_main)
        parts = [p.reshape(passes, -1, p.shape[-1]) for p in gather(part, ctx) if len(p)]
        return np.concatenate(parts, axis=1).reshape(passes * n, -1)

    feats = cached(cache_dir, key, make, write=ctx.is_main)
    labels = np.tile(np.asarray(data.labels, dtype=np.int64), passes)
    return feats, labels


def train_head(
    net, feats: np.ndarray, labels: np.ndarray, recipe: Recipe, *, seed: int, quiet: bool
) -> list[dict[str, Any]]:
    """Train the last linear layer of ``net.module`` on (``feats``, ``labels``) with the resolved
    ``recipe`` (full-batch-free minibatches, seeded); returns the per-epoch history."""
    layer = head(net.module)
    device = layer.weight.device
    x_all = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)).to(device)
    y_all = torch.from_numpy(labels).to(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    with torch.no_grad():
        layer.reset_parameters()
    optimizer = make_optimizer(layer.parameters(), recipe)
    n, bs = len(y_all), int(recipe.batch_size)
    per_epoch = math.ceil(n / bs)
    total, warmup = per_epoch * int(recipe.epochs), round(recipe.warmup_epochs * per_epoch)
    history, step = [], 0
    for epoch in progress(range(int(recipe.epochs)), desc="train head", unit="epoch", quiet=quiet):
        order = torch.randperm(n, generator=generator).to(device)
        start, loss_sum, correct = time.perf_counter(), 0.0, 0
        for b in range(per_epoch):
            idx = order[b * bs : (b + 1) * bs]
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr * lr_factor(step, total, warmup)
            logits = layer(x_all[idx])
            loss = F.cross_entropy(logits, y_all[idx], label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y_all[idx]).sum())
        history.append(
            {
                "epoch": epoch + 1,
                "loss": loss_sum / n,
                "train_accuracy": correct / n,
                "images_per_s": n / max(1e-9, time.perf_counter() - start),
            }
        )
    net.module.eval()
    return history
