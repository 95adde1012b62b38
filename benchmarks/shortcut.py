"""Is the planted background shortcut learnable? Train a small CNN on backgrounds alone.

Renders the synthetic benchmark at 64 px (train and val splits), paints out every foreground using the
ground-truth instance mask (filled with the mean colour of the image's own background pixels, so no
black silhouette edge is left; ``--fill black`` is the other choice), trains a small CNN on CPU for
about a minute on those background-only images, and prints validation accuracy on background-only and
on full images against chance (1/9).

A painted-out object still leaves its silhouette, which tells the class by shape alone. The control
run (``--control``, on by default) repeats everything with ``bg_correlation = 1/9``, where habitat and
class are independent: the gap between the two background-only accuracies is the background signal.

It also prints the generator's speed: images/s end to end (render + JPEG/XML/PNG writes) and render
only, at 64 px and at the default 256 px.

    python benchmarks/shortcut.py                # about 2.5 minutes on one CPU core
    python benchmarks/shortcut.py --json out.json --seconds 30 --no-control
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from bgbench.atomic import atomic_write_json
from bgbench.synth import render_scene, scene_rng, synthesize


def load_split(out: Path, split: str, size: int, fill: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full images, background-only images (uint8 (N, size, size, 3), centre crops) and labels (N,)."""
    records = [json.loads(line) for line in (out / f"synth-{split}.jsonl").read_text().splitlines()]
    full, bg_only, labels = [], [], []
    for r in records:
        image = np.asarray(Image.open(out / r["image"]).convert("RGB"))
        mask = np.asarray(Image.open(out / r["mask"])) > 0
        painted = image.copy()
        painted[mask] = image[~mask].mean(axis=0).round().astype(np.uint8) if fill == "mean" else 0
        h, w = mask.shape
        y0, x0 = (h - size) // 2, (w - size) // 2
        full.append(image[y0:y0 + size, x0:x0 + size])
        bg_only.append(painted[y0:y0 + size, x0:x0 + size])
        labels.append(r["label"])
    return np.stack(full), np.stack(bg_only), np.asarray(labels, dtype=np.int64)


def small_cnn(num_classes: int = 9) -> nn.Module:
    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.MaxPool2d(2))
    return nn.Sequential(block(3, 32), block(32, 64), block(64, 128), block(128, 128),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, num_classes))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)


def train(x: torch.Tensor, y: torch.Tensor, seconds: float, seed: int) -> tuple[nn.Module, int]:
    """Adam on random flips, minibatches of 64, until ``seconds`` have passed; returns (model, epochs)."""
    torch.manual_seed(seed)
    model = small_cnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    start, epochs = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        model.train()
        for batch in torch.randperm(len(x), generator=generator).split(64):
            xb = x[batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            optimiser.zero_grad()
            loss_fn(model(xb), y[batch]).backward()
            optimiser.step()
        epochs += 1
    return model, epochs


@torch.inference_mode()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    predictions = torch.cat([model(xb).argmax(1) for xb in x.split(256)])
    return float((predictions == y).float().mean())


def render_rate(size: int, n_per_class: int) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU-second) of render_scene alone (no files)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    for label in range(9):
        for index in range(n_per_class):
            render_scene(label, scene_rng(0, "val", label, index), size=size)
    n = 9 * n_per_class
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu_start)


def speed_figures(root: Path) -> dict[str, float]:
    """Generator speed at 256 px and 64 px: render only, and end to end (render + encode + write)."""
    speed: dict[str, float] = {}
    for size, per_class in ((256, 10), (64, 40)):
        wall, cpu = render_rate(size, per_class)
        speed[f"render_only_{size}px"], speed[f"render_only_{size}px_per_cpu_s"] = wall, cpu
        summary = synthesize(root / f"speed{size}", per_class=per_class, split="val", size=size, quiet=True)
        speed[f"end_to_end_{size}px"] = summary.doc["images_per_second"]
        speed[f"end_to_end_{size}px_per_cpu_s"] = summary.doc["images_per_cpu_second"]
    return speed


def print_speed(speed: dict[str, float]) -> None:
    print("synth speed, one process (images per wall-clock second / per CPU-second):")
    for size in (256, 64):
        print(f"  {size:>3} px  render only {speed[f'render_only_{size}px']:7.1f} / "
              f"{speed[f'render_only_{size}px_per_cpu_s']:7.1f}   end to end (JPEG+XML+PNG written) "
              f"{speed[f'end_to_end_{size}px']:7.1f} / {speed[f'end_to_end_{size}px_per_cpu_s']:7.1f}")


def experiment(root: Path, bg_correlation: float, args: argparse.Namespace) -> dict[str, Any]:
    out = root / f"p{bg_correlation:.3f}"
    synthesize(out, per_class=args.per_class_train, split="train", seed=args.seed,
                               bg_correlation=bg_correlation, size=args.size, quiet=True)
    synthesize(out, per_class=args.per_class_val, split="val", seed=args.seed,
               bg_correlation=bg_correlation, size=args.size, quiet=True)
    train_full, train_bg, train_y = load_split(out, "train", args.size, args.fill)
    val_full, val_bg, val_y = load_split(out, "val", args.size, args.fill)
    model, epochs = train(to_tensor(train_bg), torch.from_numpy(train_y), args.seconds, args.seed)
    y = torch.from_numpy(val_y)
    return {
        "bg_correlation": bg_correlation,
        "n_train": len(train_y),
        "n_val": len(val_y),
        "epochs": epochs,
        "val_accuracy_background_only": accuracy(model, to_tensor(val_bg), y),
        "val_accuracy_full_images": accuracy(model, to_tensor(val_full), y),
        "train_accuracy_background_only": accuracy(model, to_tensor(train_bg), torch.from_numpy(train_y)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class-train", type=int, default=60)
    parser.add_argument("--per-class-val", type=int, default=30)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bg-correlation", type=float, default=0.9)
    parser.add_argument("--seconds", type=float, default=60.0, help="training time per run")
    parser.add_argument("--fill", choices=["mean", "black"], default="mean")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction, default=True,
                        help="also run with bg_correlation = 1/9 (habitat independent of class)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-only", action="store_true", help="only measure the generator's speed")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        speed = speed_figures(Path(tmp))
        print_speed(speed)
        runs = []
        if not args.speed_only:
            runs.append(experiment(Path(tmp), args.bg_correlation, args))
            if args.control:
                runs.append(experiment(Path(tmp), 1 / 9, args))
    result = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "chance": 1 / 9, "speed_images_per_second": speed, "runs": runs}
    if args.json:
        atomic_write_json(args.json, result)
    if not runs:
        return 0
    print(f"small CNN trained {args.seconds:.0f} s on background-only {args.size}-px images "
          f"(foreground filled with {'the mean background colour' if args.fill == 'mean' else 'black'}); "
          f"chance = {1 / 9:.3f}")
    print(f"{'bg_correlation':>15} {'train n':>8} {'epochs':>7} {'val bg-only':>12} {'val full':>9}")
    for r in runs:
        print(f"{r['bg_correlation']:>15.3f} {r['n_train']:>8} {r['epochs']:>7} "
              f"{r['val_accuracy_background_only']:>12.3f} {r['val_accuracy_full_images']:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
