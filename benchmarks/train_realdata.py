"""Last-layer retraining of a real ImageNet model on real photos, tested only on photos it never saw.

The IN-9 variants of the real photos with boxes (``../shared/realdata/imagenet-samples``; built
here, or ``--data`` an existing build such as the real-data study's) are split into ``--folds``
folds by photo, stratified by class. For every fold, the head of the pretrained
``efficientnet_lite0`` is retrained (``bgbench train --head-only``) on the other folds' photos in
six ways: on ``original``, ``only_bg_t``, ``no_fg``, ``mixed_rand`` and on ``original`` with the
background-swap augmentation (``--swap 1 --swap-draws 4``; backgrounds of any class, and of other
classes only), and evaluated on the held-out fold's
variants with ``--draws`` donor backgrounds per foreground. Every kept photo is tested exactly once;
the folds' predictions are pooled: accuracy per variant with a Wilson interval over photos,
mixed_same / mixed_rand / BG-Gap over all composites with a bootstrap over photos.

Each fold's tree is made of symbolic links into the build (nothing is copied). The training
variants' mixed_rand files were built with donors from all photos, so a training image may carry a
held-out photo's background (never its foreground or its label).

    python benchmarks/train_realdata.py [--data DIR] [--out /tmp/bgbench-train-real] [--folds 5] [--draws 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))
#: (head name, training variant, background-swap classes or None)
HEADS = (("original", "original", None), ("only_bg_t", "only_bg_t", None), ("no_fg", "no_fg", None),
         ("mixed_rand", "mixed_rand", None), ("original+swap", "original", "any"),
         ("original+swap_other", "original", "other"))
CHANCE = 1.0 / 9.0
#: what the table reports (mixed_same / mixed_rand also come from --draws)
EVAL_VARIANTS = ("original", "only_bg_t", "mixed_same", "mixed_rand")


def build(realdata: Path, out: Path) -> Path:
    """Build (or resume) the variants of the photos with boxes (GrabCut, default settings, split val)."""
    from bgbench.build import build_dataset

    build_dataset(realdata / "imagenet-samples", out, split="val", executor="process", workers=2, quiet=True)
    return out


def photo_folds(data: Path, folds: int) -> list[list[str]]:
    """``<class>/<stem>`` keys of the kept photos, dealt into ``folds`` folds class by class."""
    keys = sorted(f"{p.parent.name}/{p.stem}" for p in (data / "original" / "val").glob("*/*") if p.is_file())
    by_class: dict[str, list[str]] = {}
    for key in keys:
        by_class.setdefault(key.split("/")[0], []).append(key)
    out: list[list[str]] = [[] for _ in range(folds)]
    position = 0
    for members in by_class.values():
        for key in members:
            out[position % folds].append(key)
            position += 1
    return out


def link_fold(data: Path, root: Path, test: set[str]) -> Path:
    """``root/<variant>/{train,val}/<class>/<file>`` links into ``data``: held-out photos in val."""
    for variant_dir in sorted(p for p in data.iterdir() if p.is_dir() and (p / "val").is_dir()):
        for path in (variant_dir / "val").glob("*/*"):
            key = f"{path.parent.name}/{path.stem}"
            split = "val" if key in test else "train"
            target = root / variant_dir.name / split / path.parent.name / path.name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(path.resolve())
    return root


def run_fold(root: Path, out: Path, draws: int, seed: int, cache: Path, quiet: bool) -> dict[str, Path]:
    """Retrain the six heads on one fold; returns head name -> its eval/results.json."""
    from bgbench.training import EvalPlan, Swap, train

    done = {}
    for name, variant, swap in HEADS:
        folder = out / name.replace("+", "_")
        results = folder / "eval" / "results.json"
        if not (folder / "train.json").is_file():
            train(root, "efficientnet_lite0", out=folder, variant=variant, head_only=True,
                  swap=Swap(p=1.0, classes=swap, draws=4) if swap else None, seed=seed,
                  evaluation=EvalPlan("val", draws, variants=",".join(EVAL_VARIANTS)),
                  device="cpu", cache_dir=cache, quiet=quiet)
        done[name] = results
    return done


def _pooled(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the folds' results.json documents of one head."""
    from bgbench.metrics import proportion
    from bgbench.stats import bootstrap_mean_over_items

    out: dict[str, Any] = {"accuracy": {}, "draws": {}}
    for variant in EVAL_VARIANTS:
        k = sum(d["correct"][variant] for d in docs)
        n = sum(d["n"][variant] for d in docs)
        p = proportion(k, n)
        out["accuracy"][variant] = {"value": p.value, "ci95": [p.low, p.high], "n": n}
    per_fg = {v: np.concatenate([np.array([np.nan if x is None else x for x in d["draws"]["variants"][v]
                                           ["per_foreground"]], dtype=float) for d in docs])
              for v in docs[0]["draws"]["variants"]}
    for variant, values in per_fg.items():
        kept = values[~np.isnan(values)]
        est = bootstrap_mean_over_items(kept[None, :], n_boot=10000, seed=1)
        out["draws"][variant] = {"value": est.value, "ci95": [est.low, est.high], "n": int(kept.size)}
    gap = per_fg["mixed_same"] - per_fg["mixed_rand"]
    gap = gap[~np.isnan(gap)]
    est = bootstrap_mean_over_items(gap[None, :], n_boot=10000, seed=2)
    out["bg_gap"] = {"value": est.value, "ci95": [est.low, est.high], "n": int(gap.size)}
    return out


def _cell(e: dict[str, Any], signed: bool = False) -> str:
    v, (lo, hi) = e["value"], e["ci95"]
    return (f"{100 * v:+.1f} [{100 * lo:+.0f},{100 * hi:+.0f}]" if signed
            else f"{100 * v:.1f} [{100 * lo:.0f},{100 * hi:.0f}]")


def table(pooled: dict[str, dict[str, Any]]) -> str:
    """Markdown table: original and only_bg_t (Wilson), mixed_same / mixed_rand / BG-Gap (draws)."""
    lines = ["| head trained on | original | only_bg_t | mixed_same (draws) | mixed_rand (draws) "
             "| BG-Gap (draws) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, p in pooled.items():
        lines.append(f"| {name} | {_cell(p['accuracy']['original'])} | {_cell(p['accuracy']['only_bg_t'])} | "
                     f"{_cell(p['draws']['mixed_same'])} | {_cell(p['draws']['mixed_rand'])} | "
                     f"{_cell(p['bg_gap'], signed=True)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="an existing build of the real photos")
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-train-real"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = args.data or build(args.realdata, args.out / "data")
    folds = photo_folds(data, args.folds)
    per_head: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in HEADS}
    for f, test in enumerate(folds):
        root = link_fold(data, args.out / "folds" / f"fold{f}", set(test))
        for name, path in run_fold(root, args.out / "heads" / f"fold{f}", args.draws, args.seed,
                                   args.out / "cache", args.quiet).items():
            per_head[name].append(json.loads(path.read_text()))
        elapsed = time.perf_counter() - started
        print(f"fold {f + 1}/{args.folds}: {len(test)} photos held out, {elapsed:.0f} s", file=sys.stderr)
    pooled = {name: _pooled(docs) for name, docs in per_head.items()}
    text = table(pooled)
    n = sum(len(f) for f in folds)
    result = {"photos": n, "folds": args.folds, "draws": args.draws, "heads": pooled,
              "seconds": round(time.perf_counter() - started, 1), "data": str(data)}
    (args.out / "train_realdata.json").write_text(json.dumps(result, indent=2))
    (args.out / "train_realdata.md").write_text(text + "\n")
    print(f"{n} photos, {args.folds} folds, each tested once; draws {args.draws}; chance {100 * CHANCE:.1f}%")
    print(text)
    print(f"total {result['seconds']} s -> {args.out / 'train_realdata.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
