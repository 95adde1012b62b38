"""``bgbench demo``: the paper's story end to end on an embedded default, in minutes on a CPU.

1. ``synth``: renders a train and a val split of synthetic photographs whose backgrounds
   ("habitats") match the class 90% of the time: a known, learnable background shortcut.
2. ``build``: builds the IN-9 variants (train from the ground-truth masks; val with GrabCut,
   the paper's method, whose IoU against the true masks is reported, or the true masks).
3. ``train``: small CNNs (``bgbench.smallcnn.small_cnn``, 48 px, ``bgbench.training.train``): one on
   ``original`` (it learns the shortcut), one on ``original`` with the background-swap augmentation
   (``SWAP_P`` of the images get a random image's background, on the fly), one on ``mixed_rand``
   (backgrounds carry no class signal there), as the paper's Section 5 does, and one on ``only_bg_t``
   (no foreground at all: the paper's first finding, backgrounds alone classify far above chance);
   each is evaluated on every variant (accuracy with 95% intervals, BG-Gap, the foreground x
   background group tables, and with ``draws`` donor backgrounds per foreground a BG-Gap interval over
   all composites) and, all but the only_bg_t model, runs the adversarial-backgrounds challenge.
4. ``saliency``: SmoothGrad attributions of the original- and the swap-trained model side by side,
   with their foreground focus.
5. the default real pretrained ImageNet model (``efficientnet_lite0``; ``pretrained=None`` to skip)
   on original, mixed_same and mixed_rand (its accuracy and BG-Gap) under the released 1000 -> 9
   mapping, to show the real-model path. The synthetic objects are not ImageNet objects, so it
   scores far below the trained CNNs here; it is the path, not the figure, that the demo shows
   (``bgbench eval`` on real data gives the real figures).
6. ``report``: ``OUT/report.html`` (``bgbench report`` of the whole folder), with a group heat map
   per model (which background classes pull which objects away).

:data:`PLANS` holds the default run and ``--quick`` (fewer and smaller scenes, two CNNs, no
pretrained model). Everything lands under OUT (default ``bgbench-demo``): the source tree, the
built variants, ``results/<model>/eval.json|csv``, ``challenge/<model>/challenge.json``,
``models/<model>/`` (``model.safetensors``, ``train.json``), ``saliency/``, ``demo.json`` /
``demo.csv`` with the summary table, and the report. Re-running into the same OUT reuses the
synthesized and built data (both stages resume) and the trained models' finished epochs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from bgbench.atomic import atomic_write_text
from bgbench.config import check_numbers, number
from bgbench.errors import BgbenchError
from bgbench.options import DEFAULT_MODEL, ModelOptions
from bgbench.provenance import command_line
from bgbench.results.base import DocumentResult, pct
from bgbench.results.text import Block, TextTable

DEMO_SCHEMA = "bgbench.demo/1"
#: the small CNN the demo trains (bgbench.smallcnn.small_cnn through the python: adapter)
DEMO_NETWORK = "python:bgbench.smallcnn:small_cnn"
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

    def write_companions(self, out: Path) -> None:
        """``demo.csv`` beside demo.json: the summary table, one row per model."""
        atomic_write_text(out / "demo.csv", _csv(self.rows))

    def terminal(self) -> list[Block]:
        """The command line's view: accuracy per val variant and model, BG-Gap (also over the donor
        draws), challenge accuracy; the GrabCut IoU; where the files are."""
        draws = self.doc["plan"]["draws"]
        rows = self.rows
        body = [[v, *[pct(row.get(v)) for row in rows]] for v in SUMMARY_VARIANTS]
        body.append(["BG-Gap", *[pct(row.get("bg_gap")) for row in rows]])
        body.append([f"BG-Gap, {draws} draws", *[_draws_gap(row) for row in rows]])
        body.append(["challenge accuracy", *[pct(row.get("challenge_accuracy")) for row in rows]])
        header = ["variant", *[row["model"].replace("_", " ") for row in rows]]
        blocks: list[Block] = [TextTable(header, body, title="bgbench demo: accuracy on the val variants "
                                                             "(synthetic scenes)")]
        if any(row["model"].startswith("pretrained_") for row in rows):
            blocks.append("The pretrained column is a real ImageNet model under the released 1000 -> 9 "
                          "mapping: synthetic objects are not ImageNet objects, so expect it far below the "
                          "trained CNNs here; `bgbench eval` on real photos gives its real figures.")
        iou = self.doc.get("grabcut_iou")
        if isinstance(iou, dict) and iou.get("median") is not None:
            blocks.append(f"GrabCut IoU against the true masks (val): median {iou['median']:.3f}")
        where = Path(self.doc["out"])
        blocks += [f"Done in {self.doc['seconds']:.0f} s. Summary: {where / 'demo.json'} and demo.csv; "
                   "per-model eval.json under results/, challenge.json under challenge/.",
                   f"Report: {where / 'report.html'}"]
        return blocks


def _draws_gap(row: dict[str, Any]) -> str:
    """The BG-Gap over the donor draws with its interval, in points (``-`` without draws)."""
    value, ci = row.get("bg_gap_draws"), row.get("bg_gap_draws_ci95")
    if value is None:
        return "-"
    return f"{100 * value:+.1f} [{100 * ci[0]:+.0f},{100 * ci[1]:+.0f}]"


#: the demo's small models: (row name, training variant, background-swap probability)
DEMO_MODELS = (("trained_on_original", "original", 0.0), ("trained_with_swap", "original", SWAP_P),
               ("trained_on_mixed_rand", "mixed_rand", 0.0), ("trained_on_only_bg_t", "only_bg_t", 0.0))
#: the models whose saliency the demo draws side by side
SALIENCY_MODELS = ("trained_on_original", "trained_with_swap")
#: training variants whose model skips the challenge (a model that never saw a foreground)
NO_CHALLENGE = frozenset({"only_bg_t"})


@dataclass(frozen=True)
class DemoPlan:
    """How much the demo makes: synthetic scenes per class (train, val), the scene side in pixels
    (variants are built at 7/8 of it, as 224 of 256), epochs, input side and batch size of each small
    CNN, donor draws per foreground for the BG-Gap interval, the val split's segmenter (``grabcut``,
    the paper's method, or ``mask``, the true masks), which of :data:`DEMO_MODELS` to train, the
    pretrained ImageNet model scored beside them (a spec; None: none), the val variants it is scored
    on (None: all; the default three give its accuracy and BG-Gap) and whether it also gets the donor
    draws and the challenge (both off by default: on synthetic objects it is near chance anyway),
    and how many val images per class the saliency figure explains (0: none)."""

    per_class_train: int = number(100, low=1)
    per_class_val: int = number(15, low=1)
    size: int = number(128, low=16)
    epochs: int = number(20, low=1)
    input_size: int = number(48, low=8)
    batch_size: int = number(64, low=1)
    draws: int = number(4, low=1)
    val_segmenter: str = "grabcut"
    models: tuple[str, ...] = ("trained_on_original", "trained_with_swap", "trained_on_mixed_rand",
                               "trained_on_only_bg_t")
    pretrained: str | None = DEFAULT_MODEL
    pretrained_variants: tuple[str, ...] | None = ("original", "mixed_same", "mixed_rand")
    pretrained_draws: bool = False
    pretrained_challenge: bool = False
    saliency_per_class: int = number(2, low=0)

    def __post_init__(self) -> None:
        check_numbers(self)
        unknown = sorted(set(self.models) - {name for name, _, _ in DEMO_MODELS})
        if unknown:
            raise BgbenchError(f"unknown demo model(s) {', '.join(unknown)} "
                               f"(expected some of {', '.join(name for name, _, _ in DEMO_MODELS)})")
        from bgbench.variants import MIXED_VARIANTS, PHASE1_VARIANTS

        odd = sorted(set(self.pretrained_variants or ()) - {*PHASE1_VARIANTS, *MIXED_VARIANTS})
        if odd:
            raise BgbenchError(f"unknown variant(s) {', '.join(odd)} for the demo's pretrained model")
        if self.val_segmenter not in ("grabcut", "mask"):
            raise BgbenchError(f"demo val segmenter must be grabcut or mask, got {self.val_segmenter!r}")

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: ``bgbench demo`` (default) and ``bgbench demo --quick`` (the whole chain on fewer, smaller images)
PLANS = {"default": DemoPlan(),
         "quick": DemoPlan(per_class_train=30, per_class_val=10, size=128, epochs=20, draws=2,
                           val_segmenter="mask", models=("trained_on_original", "trained_with_swap"),
                           pretrained=None, saliency_per_class=1)}


def run_demo(out: str | Path = "bgbench-demo", plan: DemoPlan | str = "default", *, device: str = "auto",
             seed: int = 0, quiet: bool = False, log=print) -> DemoResult:
    """Run the demo into ``out`` and return the summary (also written to ``out/demo.json``).

    ``plan``: a :class:`DemoPlan` or the name of one in :data:`PLANS` (change fields of a named one
    with ``dataclasses.replace(PLANS["quick"], epochs=2)``). ``log`` receives one human-readable line
    per stage (``lambda *_: None`` silences it).
    """
    from bgbench.devices import resolve_device

    if isinstance(plan, str):
        if plan not in PLANS:
            raise BgbenchError(f"unknown demo plan {plan!r} (expected {' or '.join(PLANS)})")
        plan = PLANS[plan]
    out = Path(out)
    source, data = out / "source", out / "in9"
    dev = resolve_device(device)
    explain = bool(plan.saliency_per_class) and set(SALIENCY_MODELS) <= set(plan.models)
    started = time.perf_counter()
    stages = _Stages(["synth", "build", "train", *(["saliency"] if explain else []),
                      *(["pretrained"] if plan.pretrained else []), "report"], log)
    with stages("synth"):
        _synthesize(source, plan, seed, quiet, stages.log)
    with stages("build"):
        builds = _build(source, data, plan, seed, quiet, stages.log)
    with stages("train"):
        rows, training = _train_models(data, out, plan, seed, dev, quiet, stages.log)
    if explain:
        with stages("saliency"):
            _explain(data, out, training, plan, dev, quiet, stages.log)
    if plan.pretrained:
        with stages("pretrained"):
            opts = ModelOptions.of(plan.pretrained, device=str(dev))
            rows.append(_score_pretrained(opts, data, out, plan, quiet, stages.log))
    val = builds["val"].doc["summary"]
    summary = {"schema": DEMO_SCHEMA, "out": str(out), "device": str(dev), "plan": plan.to_json(),
               "command": command_line(), "seconds": round(time.perf_counter() - started, 1),
               "stages": stages.seconds, "stages_cpu": stages.cpu, "train": training,
               "build": {split: b.doc["summary"] for split, b in builds.items()},
               "grabcut_iou": val.get("mask_iou") or val.get("grabcut_iou"), "models": rows,
               "report": str(out / "report.html")}
    DemoResult(summary).write(out)
    with stages("report"):
        from bgbench.reporting import report

        stages.log(f"report -> {out / 'report.html'}")
        report([out], out / "report.html", title="bgbench demo: a planted background shortcut, measured "
               "and removed", quiet=quiet)
    summary["stages"], summary["stages_cpu"] = stages.seconds, stages.cpu
    summary["seconds"] = round(time.perf_counter() - started, 1)
    result = DemoResult(summary)
    result.write(out)
    return result


class _Stages:
    """The demo's steps in order (``names``): wall and CPU seconds per step (``with stages("train"):
    ...``) for demo.json, and ``log``, which prefixes a line with the running step's ``[k/n]``. CPU
    seconds are user + system time of this process and of its child processes that ended within
    the step (the build's workers): on a shared machine they say more than the wall time."""

    def __init__(self, names: list[str], log=print) -> None:
        self.names, self._log, self.current = list(names), log, ""
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start, cpu, self.current = time.perf_counter(), _cpu_seconds(), name
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 1)
            self.cpu[name] = round(self.cpu.get(name, 0.0) + _cpu_seconds() - cpu, 1)

    def log(self, line: str) -> None:
        """Log ``line`` as part of the running step: ``[k/n] line``."""
        k = self.names.index(self.current) + 1 if self.current in self.names else 0
        self._log(f"[{k}/{len(self.names)}] {line}")


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its ended children (0.0 where unavailable)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _synthesize(source: Path, plan: DemoPlan, seed: int, quiet: bool, log) -> None:
    """Stage 1: synthesize the train and val scenes under ``source``."""
    from bgbench.synth import synthesize

    log(f"synth: {plan.per_class_train}/class train + {plan.per_class_val}/class val scenes "
        f"({plan.size} px), background matches the class 90% of the time -> {source}")
    synthesize(source, per_class=plan.per_class_train, split="train", seed=seed, size=plan.size, quiet=quiet)
    synthesize(source, per_class=plan.per_class_val, split="val", seed=seed, size=plan.size, quiet=quiet)


def _build(source: Path, data: Path, plan: DemoPlan, seed: int, quiet: bool, log) -> dict[str, Any]:
    """Stage 2: build the train and val variants; the two build results."""
    from bgbench.builder import BuildConfig, build_dataset

    log(f"build: IN-9 variants -> {data} (train: true masks; val: {plan.val_segmenter})")
    return {split: build_dataset(source, data, BuildConfig(split=split, segmenter=segmenter, seed=seed,
                                                           size=plan.size - plan.size // 8, resize=plan.size),
                                 quiet=quiet)
            for split, segmenter in (("train", "mask"), ("val", plan.val_segmenter))}


def _train_models(data: Path, out: Path, plan: DemoPlan, seed: int, dev, quiet: bool,
                  log) -> tuple[list[dict[str, Any]], dict]:
    """Stage 3 for the small CNNs: train each (``bgbench.training.train``), evaluate it on every
    val variant with ``draws`` donor backgrounds per foreground, run the challenge; (rows, records)."""
    from bgbench.options import ModelOptions
    from bgbench.training import EvalPlan, Recipe, Swap, TrainConfig, train

    rows, training = [], {}
    epochs = plan.epochs
    recipe = Recipe(epochs=epochs, input_size=plan.input_size, batch_size=plan.batch_size, lr=3e-3,
                    weight_decay=5e-4, crop_scale=(1.0, 1.0), label_smoothing=0.0, warmup_epochs=0.3 * epochs)
    chosen = [m for m in DEMO_MODELS if m[0] in plan.models]
    for k, (name, variant, swap) in enumerate(chosen, 1):
        how = variant + (f", background swap p={swap}" if swap else "")
        log(f"train {k}/{len(chosen)}: {name} ({how})")
        evaluation = EvalPlan("val", plan.draws, challenge=variant not in NO_CHALLENGE,
                              results_dir=out / "results" / name,
                              challenge_dir=out / "challenge" / name)
        config = TrainConfig(variant=variant, recipe=recipe, swap=Swap.of(swap), seed=seed,
                             evaluation=evaluation)
        timer = _Stages([name])
        with timer(name):
            result = train(data, ModelOptions(DEMO_NETWORK, device=str(dev)), config,
                           out=out / "models" / name, quiet=quiet)
        last = result.history[-1]
        training[name] = {"variant": variant, "swap": swap, "n": result.doc["n_train"],
                          "epochs": len(result.history),
                          "train_accuracy": last["train_accuracy"], "seconds": result.doc["train_s"],
                          "total_seconds": timer.seconds[name], "total_cpu_seconds": timer.cpu[name],
                          "checkpoint": result.checkpoint}
        rows.append(_row(name, result.doc["eval"], (result.doc["challenge"] or {}).get("accuracy")))
    return rows, training


def _row(name: str, metrics: dict[str, Any], challenge: float | None) -> dict[str, Any]:
    """One summary row from an evaluation's metrics (eval.json fields) and the challenge accuracy."""
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


def _explain(data: Path, out: Path, training: dict[str, Any], plan: DemoPlan, dev, quiet: bool, log) -> None:
    """Stage 4: SmoothGrad saliency of the original-trained and the swap-trained CNN side by side on
    ``plan.saliency_per_class`` val images per class, with their foreground focus (out/saliency)."""
    from bgbench.config import ImageSubset
    from bgbench.explain import SaliencyConfig, saliency

    names = SALIENCY_MODELS
    log(f"saliency (SmoothGrad) of {' and '.join(names)}: where each model looks")
    models = [ModelOptions.of(f"ckpt:{training[name]['checkpoint']}", device=str(dev)) for name in names]
    config = SaliencyConfig(method="smoothgrad", subset=ImageSubset(per_class=plan.saliency_per_class))
    saliency(data, models, config, out=out / "saliency", quiet=quiet)


def _score_pretrained(opts: ModelOptions, data: Path, out: Path, plan: DemoPlan, quiet: bool,
                      log) -> dict[str, Any]:
    """Stage 5 for the pretrained model: eval with draws and the challenge; the summary row."""
    from bgbench.challenge import ChallengeConfig, run_challenge
    from bgbench.eval import EvalConfig, evaluate

    name = f"pretrained_{opts.spec}"
    which = ", ".join(plan.pretrained_variants) if plan.pretrained_variants else "every variant"
    log(f"eval {name} on {which} of val (released 1000 -> 9 mapping)")
    draws = plan.draws if plan.pretrained_draws else None
    variants = list(plan.pretrained_variants) if plan.pretrained_variants else None
    result = evaluate(data, opts, EvalConfig(variants=variants, draws=draws), out=out / "results" / name,
                      quiet=quiet)
    accuracy = None
    if plan.pretrained_challenge:
        log(f"challenge {name}")
        challenge = run_challenge(data, opts, ChallengeConfig(gallery=False), out=out / "challenge" / name,
                                  quiet=quiet)
        accuracy = challenge.accuracy
    doc = result.to_json(predictions=False)
    return _row(name, {**doc, "draws": result.draws}, accuracy)


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = ["model", *SUMMARY_VARIANTS, "bg_gap", "challenge_accuracy"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()
