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

``--halves`` checks ``bgbench train --eval-data`` instead: the boxed photos are dealt class by class
into two disjoint halves, one built as a train split and one as a val split (two separate builds,
so no image, background or donor is shared), and three of the heads (only_bg_t, original,
original+swap) are retrained on the first and evaluated on the second with ``--eval-data``; the table
gives each figure with its interval, and whether it falls inside the k-fold figure's interval
(``--kfold`` a train_realdata.json of the k-fold run; default: the figures in docs/train.md).
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
    from bgbench.builder import build_dataset

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


#: the k-fold run's figures in docs/train.md (value, low, high), in %
KFOLD = {"only_bg_t": {"original": (36.5, 30, 44), "only_bg_t": (44.9, 38, 52),
                       "mixed_same": (36.6, 30, 43), "mixed_rand": (24.9, 20, 30), "bg_gap": (11.7, 8, 16)},
         "original": {"original": (89.9, 85, 94), "only_bg_t": (34.8, 28, 42),
                      "mixed_same": (82.5, 78, 87), "mixed_rand": (71.5, 66, 77), "bg_gap": (11.0, 7, 15)},
         "original+swap": {"original": (82.0, 76, 87), "only_bg_t": (21.3, 16, 28),
                           "mixed_same": (77.1, 71, 82), "mixed_rand": (72.5, 67, 78), "bg_gap": (4.6, 1, 8)}}
HALF_HEADS = ("only_bg_t", "original", "original+swap")


def build_halves(realdata: Path, out: Path) -> tuple[Path, Path]:
    """Deal the boxed photos (those with an XML) class by class into two halves (links), build the
    first as a train split and the second as a val split; (train tree, val tree)."""
    from bgbench.builder import build_dataset

    samples = realdata / "imagenet-samples"
    by_class: dict[str, list[Path]] = {}
    for xml in sorted(samples.glob("xml/*/*.xml")):
        by_class.setdefault(xml.parent.name, []).append(xml)
    for members in by_class.values():
        for k, xml in enumerate(members):
            half = out / ("srcA" if k % 2 == 0 else "srcB")
            image = samples / xml.parent.name / f"{xml.stem}.JPEG"
            for source, link in ((image, half / xml.parent.name / image.name),
                                 (xml, half / "xml" / xml.parent.name / xml.name)):
                if not link.exists():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(source)
    for half, split in (("A", "train"), ("B", "val")):
        build_dataset(out / f"src{half}", out / f"data{half}", split=split, executor="process", workers=2,
                      quiet=True)
    return out / "dataA", out / "dataB"


def run_halves(args: argparse.Namespace) -> int:
    """Train the three heads on half A, evaluate on half B with --eval-data; print the comparison."""
    from bgbench.training import EvalPlan, Swap, train

    started = time.perf_counter()
    out = args.out / "halves"
    train_tree, test_tree = build_halves(args.realdata, out)
    pooled = {}
    for name, variant, swap in (h for h in HEADS if h[0] in HALF_HEADS):
        folder = out / "heads" / name.replace("+", "_")
        if not (folder / "train.json").is_file():
            train(train_tree, "efficientnet_lite0", out=folder, variant=variant, head_only=True,
                  swap=Swap(p=1.0, classes=swap, draws=4) if swap else None, seed=args.seed,
                  evaluation=EvalPlan("val", args.draws, variants=",".join(EVAL_VARIANTS), data=test_tree),
                  device="cpu", cache_dir=args.out / "cache", quiet=args.quiet)
        pooled[name] = _pooled([json.loads((folder / "eval" / "results.json").read_text())])
    kfold = KFOLD if args.kfold is None else _kfold_figures(json.loads(args.kfold.read_text()))
    text = halves_table(pooled, kfold)
    n_test = next(iter(pooled.values()))["accuracy"]["original"]["n"]
    print(f"trained on {train_tree} (train split), tested on {test_tree} "
          f"({n_test} photos, draws {args.draws})")
    print(text)
    result = {"heads": pooled, "kfold": kfold, "seconds": round(time.perf_counter() - started, 1)}
    (out / "halves.json").write_text(json.dumps(result, indent=2))
    (out / "halves.md").write_text(text + "\n")
    return 0


def _kfold_figures(doc: dict[str, Any]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """KFOLD's shape from a k-fold train_realdata.json."""
    def triple(e: dict[str, Any]) -> tuple[float, float, float]:
        return 100 * e["value"], 100 * e["ci95"][0], 100 * e["ci95"][1]

    return {name: {"original": triple(p["accuracy"]["original"]),
                   "only_bg_t": triple(p["accuracy"]["only_bg_t"]),
                   "mixed_same": triple(p["draws"]["mixed_same"]),
                   "mixed_rand": triple(p["draws"]["mixed_rand"]), "bg_gap": triple(p["bg_gap"])}
            for name, p in doc["heads"].items() if name in HALF_HEADS}


def halves_table(pooled: dict[str, dict[str, Any]], kfold: dict[str, Any]) -> str:
    """Markdown: each head's figure on the held-out half [interval] and the k-fold figure [interval];
    a cell is marked "in" when the half's value lies inside the k-fold interval."""
    columns = (("original", lambda p: p["accuracy"]["original"]),
               ("only_bg_t", lambda p: p["accuracy"]["only_bg_t"]),
               ("mixed_same", lambda p: p["draws"]["mixed_same"]),
               ("mixed_rand", lambda p: p["draws"]["mixed_rand"]),
               ("bg_gap", lambda p: p["bg_gap"]))
    lines = ["| head | " + " | ".join(f"{c} (halves / k-fold)" for c, _ in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for name, p in pooled.items():
        cells = []
        for column, pick in columns:
            value, (lo, hi) = 100 * pick(p)["value"], (100 * x for x in pick(p)["ci95"])
            k, k_lo, k_hi = kfold[name][column]
            inside = "in" if k_lo <= value <= k_hi else "OUT"
            cells.append(f"{value:.1f} [{lo:.0f},{hi:.0f}] / {k:.1f} [{k_lo:.0f},{k_hi:.0f}] {inside}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    parser.add_argument("--halves", action="store_true",
                        help="check train --eval-data on two disjoint halves")
    parser.add_argument("--kfold", type=Path, default=None, help="the k-fold run's train_realdata.json")
    args = parser.parse_args(argv)
    if args.halves:
        return run_halves(args)
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
