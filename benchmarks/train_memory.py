"""Peak memory (RSS) of `bgbench train` on a train split of IN-9 size (45k images at 224 px), with the swap.

Decoding 45k real JPEGs is not what is measured, so the split's decoded caches are made directly: the
tree holds one empty file per image (``original``, ``only_bg_t``, ``fg_mask`` of train; what the cache
lookup lists and stats), and the cache entries that `bgbench.data` would write for them are
written here (random pixels, a random-sized square mask per image; ``only_bg_t`` shares the images'
file through a hard link, to stay within the disk). A real val split (synth, built) is beside it for
the evaluation at the end. Then, each in its own process, timed with ``os.wait4`` (its peak RSS, kB):

1. ``load``: ``load_train_data(swap=True)`` + ``shrink_train_data`` to the working size, the one-time
   shrink (224 -> 65 px in chunks into the cache);
2. ``train``: ``bgbench train DATA --model timm:test_resnet --scratch --input-size 38 --epochs 1
   --swap 0.5`` (the shrunk copy already cached; the whole real path: data loading, the epoch, the
   evaluation).

    python benchmarks/train_memory.py --work /tmp/bgbench-mem [--per-class 5000] [--keep]

Disk: about 9.4 GB for 45k images (6.8 GB images, 2.3 GB masks, 0.3 GB shrunk); deleted at the end
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIDE = 224
CHUNK = 256


def _empty_files(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()


def make_tree(data: Path, per_class: int) -> list[str]:
    """Empty files of the 45k-image train split (9 classes) plus a real built val split."""
    from bgbench.builder import BuildConfig, build_dataset
    from bgbench.classes import IN9_FOLDERS
    from bgbench.synth import synthesize

    if not (data / "build.json").exists():
        synthesize(data.parent / "synth", per_class=2, split="val", seed=0, size=64, quiet=True)
        build_dataset(data.parent / "synth", data, BuildConfig(split="val", segmenter="mask"), quiet=True)
    stems = [f"img_{i:06d}" for i in range(per_class)]
    for folder in IN9_FOLDERS:
        _empty_files(data / "original" / "train" / folder, [f"{s}.JPEG" for s in stems])
        _empty_files(data / "only_bg_t" / "train" / folder, [f"{s}.JPEG" for s in stems])
        _empty_files(data / "fg_mask" / "train" / folder, [f"{s}.npy" for s in stems])
    return list(IN9_FOLDERS)


def _write_images(path: Path, n: int, seed: int) -> None:
    from bgbench.rowfile import RowWriter

    rng = np.random.default_rng(seed)
    with RowWriter(path, (n, SIDE, SIDE, 3)) as out:
        for begin in range(0, n, CHUNK):
            k = min(CHUNK, n - begin)
            out.write(begin, rng.integers(0, 256, (k, SIDE, SIDE, 3), dtype=np.uint8))


def _write_masks(path: Path, n: int, seed: int) -> None:
    from bgbench.rowfile import RowWriter

    rng = np.random.default_rng(seed)
    with RowWriter(path, (n, SIDE, SIDE)) as out:
        for begin in range(0, n, CHUNK):
            k = min(CHUNK, n - begin)
            block = np.zeros((k, SIDE, SIDE), np.uint8)
            for j, half in enumerate(rng.integers(20, 100, k)):
                block[j, 112 - half:112 + half, 112 - half:112 + half] = 1
            out.write(begin, block)


def make_caches(data: Path, cache: Path, names: list[str]) -> None:
    """The decode-cache entries of original/train and only_bg_t/train and the masks cache entry, as
    bgbench.data writes them, keyed on the (empty) files' stat key."""
    from bgbench.data import In9Tree
    from bgbench.data.images import CACHE_FORMAT, variant_fingerprint

    tree = In9Tree(data)
    images_file: Path | None = None
    for variant in ("original", "only_bg_t"):
        files = tree.files(variant, "train")
        entry = cache / "datasets" / variant_fingerprint(files, data)
        if (entry / "meta.json").exists():
            images_file = entry / "images.npy"
            continue
        entry.mkdir(parents=True, exist_ok=True)
        if images_file is None:
            _write_images(entry / "images.npy", len(files), 0)
        else:
            os.link(images_file, entry / "images.npy")
        images_file = entry / "images.npy"
        rels = [p.relative_to(data).as_posix() for p, _ in files]
        meta = {"format": CACHE_FORMAT, "root": str(data.resolve()), "variant": variant, "split": "train",
                "shape": [len(files), SIDE, SIDE, 3], "paths_all": rels, "keep": [True] * len(files),
                "skipped": [], "fingerprint": f"synthetic-{variant}-{len(files)}", "class_names": names}
        (entry / "meta.json").write_text(json.dumps(meta))
    files = tree.files("fg_mask", "train")
    entry = cache / "masks" / variant_fingerprint(files, data)
    if not (entry / "meta.json").exists():
        entry.mkdir(parents=True, exist_ok=True)
        _write_masks(entry / "masks.npy", len(files), 1)
        meta = {"format": CACHE_FORMAT, "shape": [len(files), SIDE, SIDE],
                "paths": [p.relative_to(data).as_posix() for p, _ in files]}
        (entry / "meta.json").write_text(json.dumps(meta))


LOAD = """
import sys, time
from bgbench.training.data import load_train_data, shrink_train_data
from bgbench.training.crops import working_size
t = time.perf_counter()
data = load_train_data(sys.argv[1], "original", swap=True, quiet=True)
small = shrink_train_data(data, working_size(38, (0.35, 1.0)))
print(len(data.labels), data.images.shape, small.images.shape, small.bank.shape, small.masks.shape,
      f"{time.perf_counter() - t:.1f} s")
"""


def measured(command: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Run ``command``; (peak RSS in kB of that process, seconds, its output's last lines)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{output[-3000:]}")
    return int(usage.ru_maxrss), time.perf_counter() - start, "\n".join(output.strip().splitlines()[-3:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bgbench-mem"))
    parser.add_argument("--per-class", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="Keep the tree and caches.")
    args = parser.parse_args(argv)
    data, cache = args.work / "in9", args.work / "cache"
    env = {**os.environ, "BGBENCH_CACHE": str(cache)}
    os.environ["BGBENCH_CACHE"] = str(cache)
    start = time.perf_counter()
    names = make_tree(data, args.per_class)
    make_caches(data, cache, names)
    print(f"prepared {9 * args.per_class} train images at {SIDE} px in {time.perf_counter() - start:.0f} s")
    try:
        rows = []
        rss, secs, tail = measured([sys.executable, "-c", LOAD, str(data)], env)
        rows.append(("load + one-time shrink", rss, secs, tail))
        command = [sys.executable, "-m", "bgbench", "train", str(data), "--model", "timm:test_resnet",
                   "--scratch", "--input-size", "38", "--epochs", "1", "--swap", "0.5", "--batch-size", "128",
                   "--out", str(args.work / "run"), "--quiet"]
        rss, secs, tail = measured(command, env)
        rows.append(("bgbench train --epochs 1 --swap 0.5", rss, secs, tail))
        print(f"\n{'step':<38} {'peak RSS':>10} {'time':>8}")
        for name, rss, secs, _ in rows:
            print(f"{name:<38} {rss / 1024 ** 2:>7.2f} GiB {secs:>7.0f}s")
        for name, _, _, tail in rows:
            print(f"\n[{name}]\n{tail}")
        print(json.dumps({"images": 9 * args.per_class, "side": SIDE,
                          "peak_rss_kb": {name: rss for name, rss, _, _ in rows}}))
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
