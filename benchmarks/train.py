"""Training throughput: `bgbench train` against a plain PyTorch loop, side by side, with and without the swap.

Both loops train the same network (timm ``test_resnet`` from scratch, 9 classes; or ``--arch``) on the
same device, batch size, input size, optimiser (AdamW, lr 1e-3, weight decay 0.05) and images (a
built synth train split, ``--per-class`` images per class at ``--size`` px), for ``--epochs`` epochs;
the figure is the img/s of the last epoch (the first pays for warm-up).

- ``bgbench``: :func:`bgbench.train` with ``Recipe(crop_scale=(1, 1), flip=False)`` (no crop, no
  flip: the plain loop has none either), reading its batches from the cached data (memmaps, rows read
  per batch), its img/s as recorded in train.json's history (the epoch loop only: not the data
  loading, the checkpoint or the evaluation);
- ``plain``: the images (and masks and bank, for the swap) decoded beforehand into uint8 tensors in
  memory; per batch: index, to float [0, 1], for the swap paste each foreground with probability p on
  a random bank image (``fg * m + bg * (1 - m)``), normalise (channels-last input and weights, as
  bgbench's), forward, cross-entropy (label smoothing 0.1, as bgbench's recipe), backward, step.

Each repeat runs the two loops back to back (in alternating order) and the ratio is the median of
these paired ratios, so load from other processes on the machine falls on both figures of a ratio.
Both use ``--threads`` torch threads (default 1: on a busy machine more threads than free cores make
every step wait for the slowest thread).
Targets (issue 21): bgbench/plain >= 0.9 without the swap, >= 0.85 with it.

    python benchmarks/train.py [--per-class 60] [--size 64] [--batch-size 64] [--epochs 3] [--repeats 5]
                               [--threads 1] [--arch test_resnet]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SWAP_P = 0.5


def make_data(work: Path, per_class: int, size: int) -> Path:
    """A synth train split (true masks), built at ``size`` px; resumes."""
    from bgbench.builder import BuildConfig, build_dataset
    from bgbench.synth import synthesize

    if not (work / "in9" / "build.json").exists():
        synthesize(work / "synth", per_class=per_class, split="train", seed=0, size=size, quiet=True)
        build_dataset(work / "synth", work / "in9", BuildConfig(split="train", segmenter="mask", size=size,
                                                                resize=size + size // 8), quiet=True)
    return work / "in9"


def _tensors(data: Path) -> dict[str, torch.Tensor]:
    from bgbench.data import In9Tree

    tree = In9Tree(data, quiet=True)
    original = tree.images("original", "train")
    bank = tree.backgrounds("train")
    return {"images": torch.from_numpy(np.array(original.images)).permute(0, 3, 1, 2).contiguous(),
            "labels": torch.from_numpy(np.array(original.labels)),
            "masks": torch.from_numpy(np.array(tree.masks("train", original.paths)))[:, None],
            "bank": torch.from_numpy(np.array(bank.images)).permute(0, 3, 1, 2).contiguous()}


def plain_loop(data: dict[str, torch.Tensor], arch: str, batch: int, epochs: int, swap: bool,
               seed: int = 0) -> float:
    """The plain PyTorch loop; img/s of its last epoch."""
    import timm

    torch.manual_seed(seed)
    model = timm.create_model(arch, pretrained=False, num_classes=9).to(memory_format=torch.channels_last)
    cfg = model.pretrained_cfg
    mean = torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    n = len(data["labels"])
    speed = 0.0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n)
        start = time.perf_counter()
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            x, y = data["images"][idx].float().div_(255.0), data["labels"][idx]
            if swap:  # paste the chosen foregrounds on random bank images
                rows = (torch.rand(len(idx)) < SWAP_P).nonzero().squeeze(1)
                bg = data["bank"][torch.randint(len(data["bank"]), (len(rows),))].float().div_(255.0)
                m = data["masks"][idx[rows]].float()
                x[rows] = x[rows] * m + bg * (1 - m)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)  # as bgbench feeds it
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        speed = n / (time.perf_counter() - start)
    return speed


def bgbench_loop(data: Path, out: Path, arch: str, batch: int, epochs: int, size: int, swap: bool,
                 seed: int = 0) -> float:
    """:func:`bgbench.train` (full training, evaluation on original only); img/s of its last epoch."""
    from bgbench import ModelOptions, train
    from bgbench.training import EvalPlan, Recipe, Swap, TrainConfig

    recipe = Recipe(epochs=epochs, batch_size=batch, input_size=size, crop_scale=(1.0, 1.0), flip=False,
                    warmup_epochs=0.0)
    config = TrainConfig(recipe=recipe, swap=Swap(p=SWAP_P) if swap else None, seed=seed,
                         evaluation=EvalPlan(split="train", variants="original"))
    result = train(data, ModelOptions(f"timm:{arch}", pretrained=False, precision="fp32"), config, out=out,
                   quiet=True)
    return float(result.doc["history"][-1]["images_per_s"])


def measure(args: argparse.Namespace, data: Path, tensors: dict[str, torch.Tensor], tmp: Path) -> dict:
    """{"plain no swap": [img/s, ...], "bgbench no swap": [...], ..., "ratio swap": [...]}: each repeat
    runs the two loops back to back (plain first on even repeats, bgbench first on odd ones) and its
    ratio pairs them, so a slow spell of the machine falls on both figures of a ratio."""
    speeds: dict[str, list[float]] = {}
    for r in range(args.repeats):
        for swap in (False, True):
            key = "swap" if swap else "no swap"
            order = ("plain", "bgbench") if r % 2 == 0 else ("bgbench", "plain")
            got = {}
            for name in order:
                if name == "plain":
                    got[name] = plain_loop(tensors, args.arch, args.batch_size, args.epochs, swap)
                else:
                    got[name] = bgbench_loop(data, tmp / f"run{r}{int(swap)}", args.arch, args.batch_size,
                                             args.epochs, args.size, swap)
            for name, value in got.items():
                speeds.setdefault(f"{name} {key}", []).append(value)
            speeds.setdefault(f"ratio {key}", []).append(got["bgbench"] / got["plain"])
    return speeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="Data folder (default: a temporary one).")
    parser.add_argument("--arch", default="test_resnet")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads of both loops (1: steady figures on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bgbench-train-bench-") as tmp:
        data = make_data(args.work or Path(tmp), args.per_class, args.size)
        tensors = _tensors(data)
        speeds = measure(args, data, tensors, Path(tmp))
        median = {k: statistics.median(v) for k, v in speeds.items()}
        print(f"{args.arch}, {len(tensors['labels'])} images at {args.size} px, batch {args.batch_size}, "
              f"{args.epochs} epochs, CPU ({torch.get_num_threads()} threads), medians of {args.repeats}")
        print(f"{'':<9} {'plain img/s':>12} {'bgbench img/s':>14} {'ratio':>6} {'target':>7}")
        report = {}
        for key, target in (("no swap", 0.9), ("swap", 0.85)):
            plain, ours, ratio = median[f"plain {key}"], median[f"bgbench {key}"], median[f"ratio {key}"]
            runs = {k: [round(s, 3) for s in v] for k, v in speeds.items() if k.split(" ", 1)[1] == key}
            report[key] = {"plain": round(plain, 1), "bgbench": round(ours, 1), "ratio": round(ratio, 3),
                           "target": target, "runs": runs}
            print(f"{key:<9} {plain:>12.0f} {ours:>14.0f} {ratio:>6.2f} {target:>7.2f}")
        print("(ratio: the median of the paired per-repeat ratios bgbench / plain)")
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
