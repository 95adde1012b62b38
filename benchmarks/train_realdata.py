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

Each fold's tree is made of hard links to the build's files (copies when it is on another
filesystem; symbolic links leading out of a tree are skipped by its reader). The training
variants' mixed_rand files were built with donors from all photos, so a training image may carry a
held-out photo's background (never its foreground or its label).

    python benchmarks/train_realdata.py [--data DIR] [--out /tmp/bgbench-train-real] [--folds 5] [--draws 5]
                                        [--heads NAME,...] [--separate] [--kfold JSON]

``--heads original,only_bg_t`` trains only those heads (a later run with more resumes: finished
heads are kept).

``--separate`` checks ``bgbench train --eval-data`` on the same folds: each fold becomes two
separate ``bgbench build`` runs, the other folds' photos with ``--split train`` and the held-out
fold with ``--split val``, and three of the heads (only_bg_t, original, original+swap) are trained
on the first tree and evaluated on the second (``bgbench train TRAIN --head-only --eval-data VAL
--draws 5``). The builds do not rerun GrabCut: they read (``--segmenter mask --masks``) the k-fold
build's GrabCut masks at the photos' own size, redone once with the seed of the try that build kept
and checked pixel for pixel against its fg_mask. The pooled figures are set beside the k-fold's
(``--kfold`` its train_realdata.json; default OUT/train_realdata.json, else the figures in
docs/train.md), "in" when inside the k-fold interval, and compared fold by fold with the k-fold's
predictions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
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
    from bgbench.builder import BuildConfig, BuildRun, build_dataset

    build_dataset(realdata / "imagenet-samples", out, BuildConfig(split="val",
                                                                  run=BuildRun("process", 2)), quiet=True)
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
    """``root/<variant>/{train,val}/<class>/<file>``: hard links to ``data``'s files (copies when
    ``data`` is on another filesystem; an IN-9 tree's reader skips symbolic links that lead out of
    it), held-out photos in val."""
    variant_dirs = (p for p in data.iterdir()
                    if p.is_dir() and not p.name.startswith(".") and (p / "val").is_dir())
    for variant_dir in sorted(variant_dirs):
        for path in (p for p in (variant_dir / "val").glob("*/*") if p.is_file()):
            key = f"{path.parent.name}/{path.stem}"
            split = "val" if key in test else "train"
            target = root / variant_dir.name / split / path.parent.name / path.name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, target)
                except OSError:  # another filesystem
                    shutil.copyfile(path, target)
    return root


def _chosen_heads(names: str | None) -> tuple[tuple[str, str, str | None], ...]:
    """The entries of HEADS named in the comma list ``names`` (all for None); SystemExit for an
    unknown name."""
    if names is None:
        return HEADS
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {h[0] for h in HEADS})
    if unknown or not wanted:
        raise SystemExit(f"--heads: unknown head(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(h[0] for h in HEADS)}")
    return tuple(h for h in HEADS if h[0] in wanted)


def run_fold(root: Path, out: Path, draws: int, seed: int, cache: Path, quiet: bool,
             heads: tuple[tuple[str, str, str | None], ...] = HEADS) -> dict[str, Path]:
    """Retrain ``heads`` (default all six) on one fold; returns head name -> its eval/eval.json."""
    from bgbench.config import CacheChoice
    from bgbench.options import ModelOptions
    from bgbench.training import EvalPlan, Swap, TrainConfig, train

    done = {}
    for name, variant, swap in heads:
        folder = out / name.replace("+", "_")
        results = folder / "eval" / "eval.json"
        if not (folder / "train.json").is_file():
            config = TrainConfig(variant=variant, head_only=True,
                                 swap=Swap(p=1.0, classes=swap, draws=4) if swap else None, seed=seed,
                                 evaluation=EvalPlan("val", draws, variants=",".join(EVAL_VARIANTS)),
                                 cache=CacheChoice(cache_dir=cache))
            train(root, ModelOptions("efficientnet_lite0", device="cpu"), config, out=folder, quiet=quiet)
        done[name] = results
    return done


#: the k-fold run's figures in docs/train.md (value, low, high), in %: what ``--separate`` compares
#: with when OUT/train_realdata.json (or ``--kfold``) is absent
KFOLD = {"only_bg_t": {"original": (36.5, 30, 44), "only_bg_t": (44.9, 38, 52),
                       "mixed_same": (36.6, 30, 43), "mixed_rand": (24.9, 20, 30), "bg_gap": (11.7, 8, 16)},
         "original": {"original": (89.9, 85, 94), "only_bg_t": (34.8, 28, 42),
                      "mixed_same": (82.5, 78, 87), "mixed_rand": (71.5, 66, 77), "bg_gap": (11.0, 7, 15)},
         "original+swap": {"original": (82.6, 76, 87), "only_bg_t": (14.6, 10, 21),
                           "mixed_same": (75.2, 70, 80), "mixed_rand": (69.9, 64, 76), "bg_gap": (5.3, 2, 9)}}
SEPARATE_HEADS = ("only_bg_t", "original", "original+swap")
#: what the build writes for each kept photo before the mixed files (compared byte for byte)
PHASE1 = ("original", "only_bg_b", "only_bg_t", "no_fg", "only_fg", "fg_mask")


def kept_records(data: Path) -> list[dict[str, Any]]:
    """The manifest lines of the kept photos of ``data``'s val split, in manifest order."""
    from bgbench.builder.manifest import read_manifest

    return [r for r in read_manifest(data) if r["split"] == "val" and r["status"] == "kept"]


def source_masks(data: Path, samples: Path, out: Path) -> Path:
    """``out/<class>/<stem>.png`` (uint8 (H, W), 255 = foreground, at the photo's own size): the
    GrabCut mask of every kept photo of the build ``data``, redone from the photo under ``samples``
    with the seed of the try the build kept (the manifest's last ``grabcut_seeds``) and checked,
    after the build's Resize + CenterCrop, against the build's ``fg_mask`` (RuntimeError when one
    pixel differs). A mask already written was checked when it was written."""
    from PIL import Image

    from bgbench.atomic import atomic_write_bytes
    from bgbench.segment import grabcut_once
    from bgbench.sources import load_image
    from bgbench.variants import resize_crop

    config = json.loads((data / "build.json").read_text())["splits"]["val"]["config"]
    if config["segmenter"] != "grabcut":
        raise RuntimeError(f"{data}: a GrabCut build is needed, this one used {config['segmenter']}")
    for record in kept_records(data):
        path = out / record["class"] / f"{record['stem']}.png"
        if path.is_file():
            continue
        image = load_image(samples / record["source"])
        mask = grabcut_once(image, [tuple(b) for b in record["boxes"]], seed=record["grabcut_seeds"][-1],
                            iterations=config["grabcut_iters"]).astype(np.uint8)
        built = np.load(data / "fg_mask" / "val" / record["class"] / f"{record['stem']}.npy")
        if not np.array_equal(resize_crop(mask, config["resize"], config["size"]), built):
            raise RuntimeError(f"{record['source']}: the GrabCut mask redone differs from the build's "
                               "fg_mask")
        buffer = io.BytesIO()
        Image.fromarray(mask * 255).save(buffer, format="PNG")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue(), fsync=False)
    return out


def fold_sources(samples: Path, records: list[dict[str, Any]], test: set[str],
                 root: Path) -> tuple[Path, Path]:
    """Copies of the kept photos and their box XMLs in the layout of ``samples`` (copies: a source
    must hold its own files, links out of it are refused): ``root/src-train`` the photos whose
    ``<class>/<stem>`` is not in ``test``, ``root/src-val`` those that are; (train, val) source."""
    for record in records:
        image = Path(record["source"])
        src = root / ("src-val" if f"{record['class']}/{record['stem']}" in test else "src-train")
        xml = Path("xml") / image.parent.name / f"{image.stem}.xml"
        for relative in (image, xml):
            if not (src / relative).is_file():
                (src / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(samples / relative, src / relative)
    return root / "src-train", root / "src-val"


def bgbench(*args: str | Path) -> None:
    """``python -m bgbench ARGS`` with this interpreter (its output passed through); raises
    CalledProcessError when it fails."""
    subprocess.run([sys.executable, "-m", "bgbench", *map(str, args)], check=True)


def build_fold(source: Path, out: Path, split: str, masks: Path) -> Path:
    """``bgbench build SOURCE OUT --split SPLIT --segmenter mask --masks MASKS`` (a finished build
    resumes at no cost); returns OUT."""
    bgbench("build", source, out, "--split", split, "--segmenter", "mask", "--masks", masks,
            "--executor", "process", "--workers", "2", "-q")
    return out


def same_files(data: Path, tree: Path, split: str) -> tuple[int, int]:
    """(identical, different) counts of ``tree``'s phase-1 files of ``split`` compared byte for byte
    with ``data``'s val files of the same photos (a file missing there counts as different)."""
    same = other = 0
    for variant in PHASE1:
        for path in sorted((tree / variant / split).glob("*/*")):
            twin = data / variant / "val" / path.parent.name / path.name
            if twin.is_file() and twin.read_bytes() == path.read_bytes():
                same += 1
            else:
                other += 1
    return same, other


def train_args(trees: tuple[Path, Path], head: tuple[str, str, str | None], out: Path,
               args: argparse.Namespace) -> list[str | Path]:
    """The ``bgbench train`` arguments of one head: trained on ``trees[0]``, evaluated on ``trees[1]``."""
    _, variant, swap = head
    extra = ["--swap", "1", "--swap-classes", swap, "--swap-draws", "4"] if swap else []
    return ["train", trees[0], "--model", "efficientnet_lite0", "--variant", variant, "--head-only", *extra,
            "--eval-data", trees[1], "--draws", str(args.draws), "--eval-variants", ",".join(EVAL_VARIANTS),
            "--seed", str(args.seed), "--device", "cpu", "--cache-dir", args.out / "separate" / "cache",
            "--out", out, "-q"]


def _run_fold(data: Path, samples: Path, masks: Path, test: list[str], fold: Path,
              args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """One fold of ``--separate``: its two source copies, its two builds, its three heads; (head name
    -> its eval/eval.json document, what the builds took and how their files compare)."""
    started = time.perf_counter()
    sources = fold_sources(samples, kept_records(data), set(test), fold)
    trees = (build_fold(sources[0], fold / "train", "train", masks),
             build_fold(sources[1], fold / "val", "val", masks))
    check = {"build_seconds": round(time.perf_counter() - started, 1),
             "phase1_files": {"train": same_files(data, trees[0], "train"),
                              "val": same_files(data, trees[1], "val")}}
    docs = {}
    for head in (h for h in HEADS if h[0] in SEPARATE_HEADS):
        folder = fold / "heads" / head[0].replace("+", "_")
        if not (folder / "train.json").is_file():
            bgbench(*train_args(trees, head, folder, args))
        docs[head[0]] = json.loads((folder / "eval" / "eval.json").read_text())
    check["seconds"] = round(time.perf_counter() - started, 1)
    return docs, check


def same_predictions(doc: dict[str, Any], twin: Path) -> bool | None:
    """Whether one fold's eval.json ``doc`` scored what the table reports exactly as the k-fold's
    ``twin``: the same prediction for every image of original and only_bg_t, the same mean over the
    draws for every foreground of mixed_same and mixed_rand; None when ``twin`` does not exist. (The
    built mixed files are not compared: their donors come from another pool of photos.)"""
    if not twin.is_file():
        return None
    other = json.loads(twin.read_text())
    draws, other_draws = doc["draws"]["variants"], other["draws"]["variants"]
    return (all(doc["predictions"][v][k] == other["predictions"][v][k]
                for v in ("original", "only_bg_t") for k in ("path", "pred"))
            and all(draws[v]["per_foreground"] == other_draws[v]["per_foreground"]
                    for v in ("mixed_same", "mixed_rand")))


def run_separate(args: argparse.Namespace) -> int:
    """The k-fold's folds as separate builds (train split / val split), three heads trained on the
    first and evaluated on the second with ``--eval-data``, pooled and set beside the k-fold."""
    started = time.perf_counter()
    data = args.data or build(args.realdata, args.out / "data")
    samples, out = args.realdata / "imagenet-samples", args.out / "separate"
    masks = source_masks(data, samples, out / "masks")
    print(f"masks: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    per_head: dict[str, list[dict[str, Any]]] = {name: [] for name in SEPARATE_HEADS}
    identical: dict[str, list[bool | None]] = {name: [] for name in SEPARATE_HEADS}
    checks = []
    for f, test in enumerate(photo_folds(data, args.folds)):
        docs, check = _run_fold(data, samples, masks, test, out / f"fold{f}", args)
        checks.append(check)
        for name, doc in docs.items():
            per_head[name].append(doc)
            twin = args.out / "heads" / f"fold{f}" / name.replace("+", "_") / "eval" / "eval.json"
            identical[name].append(same_predictions(doc, twin))
        print(f"fold {f + 1}/{args.folds}: {check}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    pooled = {name: _pooled(docs) for name, docs in per_head.items()}
    kfold_json = args.kfold or args.out / "train_realdata.json"
    kfold = _kfold_figures(json.loads(kfold_json.read_text())) if kfold_json.is_file() else KFOLD
    text = compare_table(pooled, kfold)
    origin = kfold_json if kfold_json.is_file() else "docs/train.md"
    print(f"separate builds per fold (train split / val split), {len(per_head['original'])} folds, "
          f"draws {args.draws}; k-fold figures from {origin}")
    print(text)
    print("identical to the k-fold's predictions, fold by fold: " + json.dumps(identical))
    result = {"heads": pooled, "kfold": kfold, "identical": identical, "folds": checks,
              "seconds": round(time.perf_counter() - started, 1)}
    (out / "separate.json").write_text(json.dumps(result, indent=2))
    (out / "separate.md").write_text(text + "\n")
    return 0


def _kfold_figures(doc: dict[str, Any]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """KFOLD's shape from a k-fold train_realdata.json."""
    def triple(e: dict[str, Any]) -> tuple[float, float, float]:
        return 100 * e["value"], 100 * e["ci95"][0], 100 * e["ci95"][1]

    return {name: {"original": triple(p["accuracy"]["original"]),
                   "only_bg_t": triple(p["accuracy"]["only_bg_t"]),
                   "mixed_same": triple(p["draws"]["mixed_same"]),
                   "mixed_rand": triple(p["draws"]["mixed_rand"]), "bg_gap": triple(p["bg_gap"])}
            for name, p in doc["heads"].items() if name in SEPARATE_HEADS}


def compare_table(pooled: dict[str, dict[str, Any]], kfold: dict[str, Any]) -> str:
    """Markdown: each head's figure [interval] pooled over the separate builds' folds and the k-fold
    figure [interval]; a cell is marked "in" when the value lies inside the k-fold interval."""
    columns = (("original", lambda p: p["accuracy"]["original"]),
               ("only_bg_t", lambda p: p["accuracy"]["only_bg_t"]),
               ("mixed_same", lambda p: p["draws"]["mixed_same"]),
               ("mixed_rand", lambda p: p["draws"]["mixed_rand"]),
               ("bg_gap", lambda p: p["bg_gap"]))
    lines = ["| head | " + " | ".join(f"{c} (separate / k-fold)" for c, _ in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for name, p in pooled.items():
        cells = []
        for column, pick in columns:
            value, (lo, hi) = 100 * pick(p)["value"], (100 * x for x in pick(p)["ci95"])
            k, k_lo, k_hi = kfold[name][column]
            inside = "in" if k_lo <= value <= k_hi else "OUT"
            sign = "+" if column == "bg_gap" else ""
            cells.append(f"{value:{sign}.1f} [{lo:{sign}.0f},{hi:{sign}.0f}] / "
                         f"{k:{sign}.1f} [{k_lo:{sign}.0f},{k_hi:{sign}.0f}] {inside}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pooled(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pool the folds' eval.json documents of one head."""
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
    parser.add_argument("--heads", default=None,
                        help=f"comma list of heads to train (default all: {', '.join(h[0] for h in HEADS)})")
    parser.add_argument("--separate", action="store_true",
                        help="check train --eval-data: every fold as two separate builds (train / val split)")
    parser.add_argument("--kfold", type=Path, default=None, help="the k-fold run's train_realdata.json")
    args = parser.parse_args(argv)
    if args.separate:
        return run_separate(args)
    heads = _chosen_heads(args.heads)
    started = time.perf_counter()
    data = args.data or build(args.realdata, args.out / "data")
    folds = photo_folds(data, args.folds)
    per_head: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in heads}
    for f, test in enumerate(folds):
        root = link_fold(data, args.out / "folds" / f"fold{f}", set(test))
        for name, path in run_fold(root, args.out / "heads" / f"fold{f}", args.draws, args.seed,
                                   args.out / "cache", args.quiet, heads).items():
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
