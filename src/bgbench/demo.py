"""``bgbench demo``: the paper's story end to end on an embedded default, in a few minutes on a CPU.

1. ``synth``: renders a train and a val split of synthetic photographs whose backgrounds
   ("habitats") match the class 90% of the time: a known, learnable background shortcut.
2. ``build``: builds the IN-9 variants (train from the ground-truth masks; val with GrabCut,
   the paper's method, whose IoU against the true masks is reported).
3. ``train``: three small CNNs (``bgbench.train.small_cnn``, 64 px, ``bgbench.training.train``):
   one on ``original`` (it learns the shortcut), one on ``original`` with the background-swap
   augmentation (``SWAP_P`` of the images get a random image's background, on the fly), and one on
   ``mixed_rand`` (backgrounds carry no class signal there), as the paper's Section 5 does.
4. ``eval``: every model on every variant (accuracy with 95% intervals, BG-Gap, and with
   ``draws`` donor backgrounds per foreground a BG-Gap interval over all composites), and the default
   real pretrained ImageNet model (``efficientnet_lite0``, ``model=``; None to skip) under the
   released 1000 -> 9 mapping, to show the real-model path. The synthetic objects are not ImageNet
   objects, so that model scores far below the trained CNNs here; it is the path, not the figure,
   that the demo shows (``bgbench eval`` on real data gives the real figures).
5. ``challenge``: the adversarial-backgrounds challenge for every model.

Everything lands under OUT (default ``bgbench-demo``): the source tree, the built variants,
``results/<model>/results.json|csv``, ``challenge/<model>/challenge.json`` and ``demo.json`` /
``demo.csv`` with the summary table, ``models/<model>/model.safetensors`` for each trained CNN.
Re-running into the same OUT reuses the synthesized and built data (both stages resume) and the
trained models' finished epochs.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any, ClassVar

from bgbench.atomic import atomic_write_json, atomic_write_text
from bgbench.options import DEFAULT_MODEL, ModelOptions
from bgbench.results.base import DocumentResult, pct

DEMO_SCHEMA = "bgbench.demo/1"
#: the small CNN the demo trains (bgbench.smallcnn.small_cnn through the python: adapter), its input size
DEMO_NETWORK = "python:bgbench.smallcnn:small_cnn"
DEMO_INPUT = 64
SWAP_P = 1.0

SUMMARY_VARIANTS = ("original", "only_bg_t", "no_fg", "only_fg", "mixed_same", "mixed_rand", "mixed_next")


class DemoResult(DocumentResult):
    """The demo's summary (``demo.json``, schema bgbench.demo/1): ``models`` rows with accuracy per
    variant (fractions), ``bg_gap`` and ``challenge_accuracy``; ``train``/``build`` records."""

    SCHEMA: ClassVar[str] = DEMO_SCHEMA
    FILENAME: ClassVar[str] = "demo.json"

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.doc.get("models", []))

    def summary_lines(self) -> list[str]:
        lines = [f"demo in {self.doc.get('out')}: {len(self.rows)} model(s), {self.doc.get('seconds')} s"]
        for row in self.rows:
            gap = row.get("bg_gap")
            gap_text = "-" if gap is None else f"{100 * gap:+.1f}"
            lines.append(f"  {row['model']:<32} original {pct(row.get('original')):>6}  mixed_rand "
                         f"{pct(row.get('mixed_rand')):>6}  BG-Gap {gap_text}  challenge "
                         f"{pct(row.get('challenge_accuracy'))}")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        header = ["variant", *[row["model"] for row in self.rows]]
        body = [[v, *[pct(row.get(v)) for row in self.rows]] for v in SUMMARY_VARIANTS]
        body.append(["BG-Gap", *[pct(row.get("bg_gap")) for row in self.rows]])
        body.append(["challenge", *[pct(row.get("challenge_accuracy")) for row in self.rows]])
        return header, body


def run_demo(out: str | Path = "bgbench-demo", *, device: str = "auto", per_class_train: int = 50,
             per_class_val: int = 20, size: int = 256, epochs: int = 12, seed: int = 0, draws: int = 4,
             model: str | ModelOptions | None = DEFAULT_MODEL, quiet: bool = False, log=print) -> DemoResult:
    """Run the demo into ``out`` and return the summary (also written to ``out/demo.json``).

    ``model``: a pretrained model (spec or ModelOptions) evaluated beside the trained CNNs
    (None: none); ``draws``: donor backgrounds per foreground for the BG-Gap interval. ``log``
    receives one human-readable line per stage (``lambda *_: None`` silences it).
    """
    from bgbench.devices import resolve_device

    out = Path(out)
    source, data = out / "source", out / "in9"
    dev = resolve_device(device)
    started = time.perf_counter()
    builds = _make_data(source, data, per_class_train, per_class_val, size, seed, quiet, log)
    rows, training = _train_models(data, out, epochs, seed, draws, dev, quiet, log)
    if model:
        rows.append(_score_pretrained(ModelOptions.of(model, device=str(dev)), data, out, draws, quiet, log))
    val = builds["val"]["summary"]
    summary = {"schema": DEMO_SCHEMA, "out": str(out), "device": str(dev),
               "seconds": round(time.perf_counter() - started, 1), "train": training,
               "build": {split: b["summary"] for split, b in builds.items()},
               "grabcut_iou": val.get("mask_iou") or val.get("grabcut_iou"), "models": rows}
    atomic_write_json(out / "demo.json", summary)
    atomic_write_text(out / "demo.csv", _csv(rows))
    return DemoResult(summary, out / "demo.json")


def _make_data(source: Path, data: Path, per_class_train: int, per_class_val: int, size: int, seed: int,
               quiet: bool, log) -> dict[str, Any]:
    """Stages 1-2: synthesize train and val scenes, build their variants; the two build results."""
    from bgbench.build import build_dataset
    from bgbench.synth import synthesize

    log(f"[1/5] synth: {per_class_train}/class train + {per_class_val}/class val scenes, "
        f"background matches the class 90% of the time -> {source}")
    synthesize(source, per_class=per_class_train, split="train", seed=seed, size=size, quiet=quiet)
    synthesize(source, per_class=per_class_val, split="val", seed=seed, size=size, quiet=quiet)
    log(f"[2/5] build: IN-9 variants -> {data} (train: true masks; val: GrabCut)")
    return {split: build_dataset(source, data, split=split, segmenter=segmenter, seed=seed, quiet=quiet,
                                 executor="process")
            for split, segmenter in (("train", "mask"), ("val", "grabcut"))}


#: the demo's small models: (row name, training variant, background-swap probability)
DEMO_MODELS = (("trained_on_original", "original", 0.0), ("trained_with_swap", "original", SWAP_P),
               ("trained_on_mixed_rand", "mixed_rand", 0.0))


def _train_models(data: Path, out: Path, epochs: int, seed: int, draws: int, dev, quiet: bool,
                  log) -> tuple[list[dict[str, Any]], dict]:
    """Stages 3-5 for the small CNNs: train each (``bgbench.training.train``), evaluate it on every
    val variant with ``draws`` donor backgrounds per foreground, run the challenge; (rows, records)."""
    from bgbench.training import EvalPlan, Recipe, train

    rows, training = [], {}
    recipe = Recipe(epochs=epochs, input_size=DEMO_INPUT, lr=3e-3, weight_decay=5e-4, crop_scale=(1.0, 1.0),
                    label_smoothing=0.0, warmup_epochs=0.3 * epochs)
    for name, variant, swap in DEMO_MODELS:
        log(f"[3/5] train {name} ({variant}" + (f", background swap p={swap}" if swap else "") + ")")
        plan = EvalPlan("val", draws, challenge=True, results_dir=out / "results" / name,
                        challenge_dir=out / "challenge" / name)
        result = train(data, DEMO_NETWORK, out=out / "models" / name, variant=variant, swap=swap or None,
                       seed=seed, recipe=recipe, evaluation=plan, device=str(dev), quiet=quiet)
        last = result.history[-1]
        training[name] = {"variant": variant, "swap": swap, "n": result["n_train"],
                          "epochs": len(result.history),
                          "train_accuracy": last["train_accuracy"], "seconds": result["train_s"],
                          "checkpoint": result.checkpoint}
        rows.append(_row(name, result["eval"], result["challenge"]["accuracy"]))
    return rows, training


def _row(name: str, metrics: dict[str, Any], challenge: float | None) -> dict[str, Any]:
    """One summary row from an evaluation's metrics (results.json fields) and the challenge accuracy."""
    row: dict[str, Any] = {"model": name}
    row.update({v: a for v, a in metrics["accuracy"].items() if v in SUMMARY_VARIANTS})
    row["bg_gap"], row["bg_gap_ci95"] = metrics["bg_gap"], metrics["bg_gap_ci95"]
    draws = metrics.get("draws")
    if draws:
        row["bg_gap_draws"] = draws["bg_gap"]["value"]
        row["bg_gap_draws_ci95"] = draws["bg_gap"]["ci95"]
        row["mixed_rand_draws"] = draws["variants"]["mixed_rand"]["value"]
    row["challenge_accuracy"] = challenge
    return row


def _score_pretrained(opts: ModelOptions, data: Path, out: Path, draws: int, quiet: bool,
                      log) -> dict[str, Any]:
    """Stages 4-5 for the pretrained model: eval with draws and the challenge; the summary row."""
    from bgbench.challenge import run_challenge
    from bgbench.eval import evaluate

    name = f"pretrained_{opts.spec}"
    log(f"[4/5] eval {name} on every variant of val (released 1000 -> 9 mapping)")
    result = evaluate(data, opts, out=out / "results" / name, draws=draws, quiet=quiet)
    log(f"[5/5] challenge {name}")
    challenge = run_challenge(data, opts, out=out / "challenge" / name, quiet=quiet, gallery=False)
    doc = result.to_json(predictions=False)
    return _row(name, {**doc, "draws": result.draws}, challenge.accuracy)


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = ["model", *SUMMARY_VARIANTS, "bg_gap", "challenge_accuracy"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()
