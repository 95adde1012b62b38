"""Evaluation throughput, measured side by side in one run (CPU by default).

Prints images/s of:
  1. ours (warm cache): ``bgbench.evaluate`` on one variant, decoded images already cached
     (wall time of the whole call: cache load, batching, preprocessing, forward, label map, metrics);
  2. the limit: the model's raw forward on pre-made, already normalised tensors of the same batch size;
  3. released-style: torchvision ImageFolder + DataLoader(batch 32, no shuffle) + ToTensor, then
     the wrapper's clamp + normalise + forward, as the authors' evaluation script does;
plus ours with a cold cache (first run, JPEG decoding included), the two input pipelines alone
(no model: what bounds throughput when the model is fast, e.g. on a GPU), and the ratios.

Images: 224 x 224 JPEG centre crops (Resize 256 + CenterCrop 224, like the released test images)
of the real photos in ../shared/realdata/imagenet-samples when present, else random-noise JPEGs.

    python benchmarks/eval.py [--model efficientnet_lite0] [--images 370] [--batch-size 32] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))


def make_tree(root: Path, limit: int) -> tuple[Path, str]:
    """``root/original/val/<class>/<stem>.JPEG`` 224-px centre crops; returns (root, source)."""
    from torchvision import transforms

    crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    photos = REALDATA / "imagenet-samples"
    folders = sorted(d for d in photos.iterdir() if d.is_dir()) if photos.is_dir() else []
    by_class = [sorted(d.glob("*.JPEG")) for d in folders]
    # round-robin over the class folders so a small --images still covers all nine classes
    paths = [p for rank in range(max(map(len, by_class), default=0)) for c in by_class if rank < len(c)
             for p in [c[rank]]][:limit]
    if paths:
        for path in paths:
            out = root / "original" / "val" / path.parent.name / path.name
            out.parent.mkdir(parents=True, exist_ok=True)
            crop(Image.open(path).convert("RGB")).save(out, format="JPEG", quality=90)
        return root, f"{len(paths)} real photos from {photos}"
    rng = np.random.default_rng(0)
    from bgbench.classes import IN9_FOLDERS

    for i in range(limit):
        out = root / "original" / "val" / IN9_FOLDERS[i % 9] / f"img_{i:05d}.JPEG"
        out.parent.mkdir(parents=True, exist_ok=True)
        noise = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
        Image.fromarray(noise).save(out, format="JPEG", quality=90)
    return root, f"{limit} random-noise JPEGs (no real data found)"


def time_ours(root: Path, clf, batch_size: int, cache_dir: Path) -> tuple[float, int]:
    from bgbench.config import CacheChoice
    from bgbench.eval import EvalConfig, evaluate

    config = EvalConfig(variants=("original",), batch_size=batch_size, cache=CacheChoice(cache_dir=cache_dir))
    start = time.perf_counter()
    result = evaluate(root, clf, config, quiet=True)
    elapsed = time.perf_counter() - start
    return elapsed, result.variants["original"].accuracy.n


def time_raw_forward(clf, n: int, batch_size: int) -> float:
    module = clf.module
    x = torch.rand(batch_size, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    batches = max(1, round(n / batch_size))
    with torch.inference_mode():
        module(x)  # warm-up
        start = time.perf_counter()
        for _ in range(batches):
            module(x)
        return batches * batch_size / (time.perf_counter() - start)


def time_released_style(root: Path, clf, workers: int) -> tuple[float, int]:
    """The authors' loop: ImageFolder, DataLoader(batch 32), ToTensor, clamp + normalise, forward."""
    from torchvision import datasets, transforms

    dataset = datasets.ImageFolder(str(root / "original" / "val"), transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=False, num_workers=workers)
    mean = torch.tensor(clf.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(clf.preprocessing.std).view(1, 3, 1, 1)
    correct = total = 0
    start = time.perf_counter()
    with torch.no_grad():
        for images, _labels in loader:
            logits = clf.module((images.clamp(0, 1) - mean) / std)
            correct += int((logits.argmax(1) >= 0).sum())
            total += images.shape[0]
    return time.perf_counter() - start, total


def time_data_paths(root: Path, cache_dir: Path, batch_size: int, workers: int) -> tuple[float, float]:
    """Images/s of the input pipelines alone (no model): ours (cached uint8 memmap -> float [0,1]
    batches) and the released style (ImageFolder + DataLoader + ToTensor)."""
    from torchvision import datasets, transforms

    from bgbench.data import In9Tree

    start = time.perf_counter()
    data = In9Tree(root, cache_dir=cache_dir).images("original", "val")
    staging = torch.empty((batch_size, *data.images.shape[1:]), dtype=torch.uint8)
    for lo in range(0, len(data), batch_size):
        hi = min(len(data), lo + batch_size)
        staging.numpy()[: hi - lo] = data.images[lo:hi]
        staging[: hi - lo].permute(0, 3, 1, 2).float().div_(255.0)
    ours = len(data) / (time.perf_counter() - start)
    dataset = datasets.ImageFolder(str(root / "original" / "val"), transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=False, num_workers=workers)
    start = time.perf_counter()
    total = sum(images.shape[0] for images, _ in loader)
    return ours, total / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--images", type=int, default=370)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--loader-workers", type=int, default=0,
                        help="DataLoader workers for the released-style loop (default 0: 2-core machine)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("BGBENCH_PROGRESS", "0")
    from bgbench.models import create_classifier

    clf = create_classifier(args.model, device=args.device, preprocess="released")
    with tempfile.TemporaryDirectory(prefix="bgbench-bench-") as tmp:
        root, source = make_tree(Path(tmp) / "data", args.images)
        cache = Path(tmp) / "cache"
        cold_s, n = time_ours(root, clf, args.batch_size, cache)
        ours, raw, released, data_ours, data_released = [], [], [], [], []
        for _ in range(args.reps):  # interleaved so load changes on the shared machine hit all three
            seconds, n = time_ours(root, clf, args.batch_size, cache)
            ours.append(n / seconds)
            raw.append(time_raw_forward(clf, n, args.batch_size))
            seconds, total = time_released_style(root, clf, args.loader_workers)
            released.append(total / seconds)
            fast, plain = time_data_paths(root, cache, args.batch_size, args.loader_workers)
            data_ours.append(fast)
            data_released.append(plain)
    med = statistics.median
    print(f"data: {source}; model {args.model} ({clf.describe()['preprocessing']['name']}), "
          f"device {args.device}, torch threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"median of {args.reps} interleaved reps")
    print(f"  ours, cold cache (decode + eval, first run) : {n / cold_s:8.1f} img/s")
    print(f"  ours, warm cache                             : {med(ours):8.1f} img/s   (runs: "
          f"{', '.join(f'{v:.1f}' for v in ours)})")
    print(f"  raw forward on pre-made tensors (the limit)  : {med(raw):8.1f} img/s")
    print(f"  released-style DataLoader+ToTensor loop      : {med(released):8.1f} img/s   "
          f"(batch 32, {args.loader_workers} workers)")
    print(f"  input pipeline only, ours (cached uint8)     : {med(data_ours):8.1f} img/s")
    print(f"  input pipeline only, DataLoader+ToTensor     : {med(data_released):8.1f} img/s")
    print(f"  ours / raw forward    = {med(ours) / med(raw):.3f}")
    print(f"  ours / released-style = {med(ours) / med(released):.3f}")
    print(f"  input pipelines: ours / DataLoader+ToTensor = {med(data_ours) / med(data_released):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
