"""``bgbench demo``: the paper's story end to end on an embedded default, in a few minutes on a CPU.

1. ``synth``: renders a train and a val split of synthetic photographs whose backgrounds
   ("habitats") match the class 90% of the time: a known, learnable background shortcut.
2. ``build``: builds the IN-9 variants (train from the ground-truth masks; val with GrabCut,
   the paper's method, whose IoU against the true masks is reported).
3. trains two small CNNs: one on ``original`` (it learns the shortcut) and one on ``mixed_rand``
   (backgrounds carry no class signal there), as the paper's Section 5 does.
4. ``eval``: both models on every variant (accuracy with 95% intervals, BG-Gap), and the default
   real pretrained ImageNet model (``efficientnet_lite0``, ``model=``; None to skip) under the
   released 1000 -> 9 mapping, to show the real-model path. The synthetic objects are not ImageNet
   objects, so that model scores far below the trained CNNs here; it is the path, not the figure,
   that the demo shows (``bgbench eval`` on real data gives the real figures).
5. ``challenge``: the adversarial-backgrounds challenge for every model.

Everything lands under OUT (default ``bgbench-demo``): the source tree, the built variants,
``results/<model>/results.json|csv``, ``challenge/<model>/challenge.json`` and ``demo.json`` /
``demo.csv`` with the summary table. Re-running into the same OUT reuses the synthesized and built
data (both stages resume) and retrains the two small models.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_json, atomic_write_text
from bgbench.options import DEFAULT_MODEL

SUMMARY_VARIANTS = ("original", "only_bg_t", "no_fg", "only_fg", "mixed_same", "mixed_rand", "mixed_next")


def run_demo(out: str | Path = "bgbench-demo", *, device: str = "auto", per_class_train: int = 50,
             per_class_val: int = 12, size: int = 256, epochs: int = 12, seed: int = 0,
             model: str | None = DEFAULT_MODEL, quiet: bool = False, log=print) -> dict[str, Any]:
    """Run the demo into ``out`` and return the summary (also written to ``out/demo.json``).

    ``model``: a pretrained model spec evaluated beside the two trained CNNs (None: none).

    ``log`` receives one human-readable line per stage (pass ``lambda *_: None`` to silence it).
    """
    from bgbench.build import build_dataset
    from bgbench.challenge import run_challenge
    from bgbench.dataset import load_variant
    from bgbench.devices import resolve_device
    from bgbench.eval import evaluate
    from bgbench.synth import synthesize
    from bgbench.train import train_classifier

    out = Path(out)
    source, data = out / "source", out / "in9"
    dev = resolve_device(device)
    started = time.perf_counter()

    log(f"[1/5] synth: {per_class_train}/class train + {per_class_val}/class val scenes, "
        f"background matches the class 90% of the time -> {source}")
    synthesize(source, per_class=per_class_train, split="train", seed=seed, size=size, quiet=quiet)
    synthesize(source, per_class=per_class_val, split="val", seed=seed, size=size, quiet=quiet)

    log(f"[2/5] build: IN-9 variants -> {data} (train: true masks; val: GrabCut)")
    build_train = build_dataset(source, data, split="train", segmenter="mask", seed=seed, quiet=quiet,
                                executor="process")
    build_val = build_dataset(source, data, split="val", segmenter="grabcut", seed=seed, quiet=quiet,
                              executor="process")
    iou = build_val["summary"].get("mask_iou") or build_val["summary"].get("grabcut_iou")

    log("[3/5] train: a small CNN on 'original' and one on 'mixed_rand'")
    models = {}
    training = {}
    for variant in ("original", "mixed_rand"):
        train_set = load_variant(data, variant, "train", quiet=quiet)
        clf, report = train_classifier(train_set.images, train_set.labels, epochs=epochs, seed=seed,
                                       device=dev, spec=f"demo-cnn:{variant}", quiet=quiet)
        models[variant] = clf
        training[variant] = {"n": int(len(train_set.labels)), "epochs": report.epochs,
                             "train_accuracy": report.train_accuracy, "seconds": round(report.seconds, 1)}

    evaluated: dict[str, Any] = {f"trained_on_{variant}": clf for variant, clf in models.items()}
    if model:
        from bgbench.models import create_classifier

        evaluated[f"pretrained_{model}"] = create_classifier(model, device=str(dev))
    log(f"[4/5] eval: {', '.join(evaluated)} on every variant of val")
    rows = []
    for name, clf in evaluated.items():
        result = evaluate(data, clf, out=out / "results" / name, device=str(dev), quiet=quiet)
        log(f"[5/5] challenge: {name}")
        challenge = run_challenge(data, clf, out=out / "challenge" / name, device=str(dev), quiet=quiet,
                                  gallery=False)
        row: dict[str, Any] = {"model": name}
        for v in SUMMARY_VARIANTS:
            if v in result.variants:
                row[v] = result.variants[v].accuracy.value
        row["bg_gap"] = None if result.bg_gap is None else result.bg_gap.value
        row["bg_gap_ci95"] = None if result.bg_gap is None else [result.bg_gap.low, result.bg_gap.high]
        row["challenge_accuracy"] = challenge["challenge_accuracy"]
        rows.append(row)

    summary = {"out": str(out), "device": str(dev), "seconds": round(time.perf_counter() - started, 1),
               "train": training, "build": {"train": build_train["summary"], "val": build_val["summary"]},
               "grabcut_iou": iou, "models": rows}
    atomic_write_json(out / "demo.json", summary)
    atomic_write_text(out / "demo.csv", _csv(rows))
    return summary


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = ["model", *SUMMARY_VARIANTS, "bg_gap", "challenge_accuracy"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()
