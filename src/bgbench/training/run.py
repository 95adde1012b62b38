"""``train``: data + a model (pretrained, or from scratch) -> a checkpoint, its evaluation, a TrainResult."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bgbench import __version__
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.provenance import command_line
from bgbench.resume import run_key
from bgbench.training.checkpoint import save_checkpoint
from bgbench.training.data import TrainData, check_train_split, load_train_data
from bgbench.training.recipe import Recipe
from bgbench.training.result import TRAIN_SCHEMA, TrainResult


@dataclass(frozen=True)
class Swap:
    """Background-swap augmentation of a run (:class:`bgbench.augment.BackgroundSwap`).

    ``p``: swap probability per image; ``classes``: ``any`` (uniform over the bank, the
    background's class independent of the label; default) or ``other`` (never the foreground's own
    class); ``draws``: composites per training image with ``head_only`` (features computed
    once); ``scale`` (low, high) and ``translate`` (fraction of the side) move the foreground."""

    p: float = 1.0
    classes: str = "any"
    draws: int = 4
    scale: tuple[float, float] = (1.0, 1.0)
    translate: float = 0.0

    def __post_init__(self) -> None:
        from bgbench.augment import SWAP_CLASSES

        if not 0.0 < self.p <= 1.0:
            raise BgbenchError(f"--swap must be a probability in (0, 1], got {self.p}")
        if self.draws < 1:
            raise BgbenchError(f"--swap-draws must be at least 1, got {self.draws}")
        if self.classes not in SWAP_CLASSES:
            raise BgbenchError(f"--swap-classes must be one of {', '.join(SWAP_CLASSES)}, "
                               f"got {self.classes!r}")

    @classmethod
    def of(cls, value: Swap | float | None) -> Swap | None:
        """A Swap from a Swap, a probability (0 or None: no swap)."""
        if value is None or isinstance(value, Swap):
            return value
        if value == 0:
            return None
        return cls(p=float(value))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "scale": list(self.scale)}


@dataclass(frozen=True)
class EvalPlan:
    """How the trained model is evaluated: every variant of ``split`` (or the comma list ``variants``)
    of ``data`` (another built or downloaded tree, e.g. the official IN-9 of ``bgbench download in9``;
    None: the training tree), optionally ``--draws`` donor backgrounds per foreground and the challenge;
    ``results_dir`` / ``challenge_dir``: where their outputs go (default ``OUT/eval`` and
    ``OUT/challenge``). ``enabled=False`` (``--no-eval``): no evaluation at all."""

    split: str = "val"
    draws: int | None = None
    challenge: bool = False
    variants: str | None = None
    results_dir: str | Path | None = None
    challenge_dir: str | Path | None = None
    data: str | Path | None = None
    enabled: bool = True

    def tree(self, train_data: str | Path) -> Path:
        """The tree evaluated: ``data``, else the training tree."""
        return Path(self.data if self.data is not None else train_data)

    def check(self, train_data: str | Path, class_names: list[str]) -> None:
        """BgbenchError (before any output) when the tree has no such split or variants, or its class
        folders differ from the training classes."""
        if not self.enabled:
            return
        from bgbench.data import In9Tree

        root = self.tree(train_data)
        tree = In9Tree(root)
        try:
            names = tree.variants(self.split, self.variants)
        except BgbenchError as exc:
            if self.data is not None:
                raise
            raise BgbenchError(f"{exc}; to evaluate on another tree give --eval-data TREE "
                               "(or --no-eval)") from None
        classes = tree.shared_class_folders(names, self.split)
        if classes != list(class_names):
            raise BgbenchError(f"class folders of {names[0]}/{self.split} ({', '.join(classes)}) differ from "
                               f"the training classes ({', '.join(class_names)})", root)


def train(data: str | Path, model: Any = None, *, out: str | Path, variant: str = "original",
          head_only: bool = False, recipe: Recipe | None = None, swap: Swap | float | None = None,
          seed: int = 0, split: str = "train", evaluation: EvalPlan | None = None, log: str | None = None,
          cache: bool = True, cache_dir: str | Path | None = None, quiet: bool = False,
          **model_options: Any) -> TrainResult:
    """Train on the ``split`` of ``variant`` of ``data`` and evaluate (``evaluation``, default: every
    variant of val of ``data``) the result.

    ``model``: a spec string or :class:`ModelOptions` (ModelOptions fields may be given as keywords);
    its head is replaced by a fresh one per class folder. With ``pretrained=False`` and a
    ``timm:NAME`` (or ``torchvision:NAME``) spec the architecture starts from random weights
    (``--scratch``). ``precision`` is the autocast of every forward pass of the run, on the CPU and
    on a GPU alike: ``fp32`` (default, exact) or ``bf16`` for the training steps, any of
    fp32/bf16/fp16 for ``head_only``'s frozen-backbone features, and the same for the evaluation at
    the end; ``device`` and ``preprocess`` apply in every mode. ``head_only``: last-layer retraining
    on cached features of the frozen backbone. ``recipe``: see :mod:`bgbench.training.recipe` (None:
    the documented default; its batch size is per process). ``swap``: a :class:`Swap` or a
    probability. ``log``: ``tensorboard``, ``mlflow`` or ``wandb`` (:mod:`bgbench.training.tracking`).
    Under ``torchrun`` the run is data-parallel (:mod:`bgbench.training.distributed`) and only rank 0
    writes. Writes ``out/model.safetensors``, ``out/model.json``, ``out/train.json``, ``out/eval/``
    (and ``out/challenge/``); a killed full training resumes from its last finished epoch. Bad data
    or options are a one-line BgbenchError before any output.
    """
    from bgbench.training.distributed import init_from_env, shutdown
    from bgbench.training.network import training_options
    from bgbench.training.tracking import check_tracker

    options = training_options(model, head_only=head_only, **model_options)
    swap_cfg, plan = Swap.of(swap), evaluation or EvalPlan()
    rec = (recipe or Recipe()).resolved(head_only)
    check_train_split(data, variant, split)
    check_tracker(log)
    ctx = init_from_env(options.device)
    try:
        options = options.with_(device=ctx.device_name(options.device))
        train_data = _load(data, variant, split, swap_cfg is not None, cache, cache_dir, quiet, ctx)
        plan.check(data, train_data.class_names)
        run = _Run(Path(out), ctx, rec, seed, quiet, log)
        net = _network(options, train_data, rec, seed)
        parts = {"source": net.source, "arch": net.arch, "data": train_data.fingerprint,
                 "recipe": rec.to_json(), "seed": seed, "swap": swap_cfg.to_json() if swap_cfg else None,
                 "mode": "head-only" if head_only else "full", "variant": variant,
                 "global_batch": int(rec.batch_size) * ctx.world, "precision": options.precision}
        history = run.fit(net, train_data, parts, cache_dir)
        if not ctx.is_main:
            return TrainResult({**parts, "history": history, "rank": ctx.rank}, None)
        metrics, chal = _evaluate(data, net, run.out, plan, seed, cache, cache_dir, quiet) if plan.enabled \
            else (None, None)
        run.finish(metrics, chal)
        return _write(data, net, train_data, parts, history, run.out, metrics, chal, options)
    finally:
        shutdown(ctx)


def _load(data, variant: str, split: str, swap: bool, cache: bool, cache_dir, quiet: bool, ctx) -> TrainData:
    """The training data; under torchrun rank 0 decodes (and fills the cache) before the others read."""
    from bgbench.training.distributed import main_first

    with main_first(ctx):
        return load_train_data(data, variant, split, swap=swap, cache=cache, cache_dir=cache_dir,
                               quiet=quiet or not ctx.is_main)


class _Run:
    """The training part of a run: full or head-only fitting, the tracker, the timing and the
    distributed record (``parts`` gains ``train_s`` and ``distributed``)."""

    def __init__(self, out: Path, ctx, recipe: Recipe, seed: int, quiet: bool, log: str | None) -> None:
        self.out, self.ctx, self.recipe, self.seed, self.quiet, self.log = out, ctx, recipe, seed, quiet, log
        self.tracker, self.step = None, 0

    def fit(self, net, train_data: TrainData, parts: dict[str, Any], cache_dir):
        from bgbench.training.loop import track_epoch, train_full
        from bgbench.training.tracking import open_tracker

        if self.ctx.is_main:
            name = f"{parts['variant']}-{parts['mode']}-{net.arch or parts['source'].get('spec')}"
            config = {k: v for k, v in parts.items() if k != "data"}
            self.tracker = open_tracker(self.log, self.out, name, config)
        started = time.perf_counter()
        if parts["mode"] == "head-only":
            history = _fit_head(net, train_data, self.recipe, parts["swap"], self.seed, cache_dir,
                                self.quiet or not self.ctx.is_main, self.ctx)
            norm = None
            for entry in history:
                track_epoch(self.tracker, entry)
        else:
            history, norm = train_full(net, train_data, self.recipe, swap=parts["swap"], seed=self.seed,
                                       out=self.out, key=run_key(parts), precision=parts["precision"],
                                       quiet=self.quiet, ctx=self.ctx, tracker=self.tracker)
        parts["train_s"] = round(time.perf_counter() - started, 2)
        parts["distributed"] = self.ctx.to_json(int(self.recipe.batch_size), norm)
        self.step = len(history)
        return history

    def finish(self, metrics: dict[str, Any] | None, chal: dict[str, Any] | None) -> None:
        from bgbench.training.tracking import final_metrics

        if self.tracker is not None:
            self.tracker.finish(final_metrics(metrics, chal), self.step)


def _network(options: ModelOptions, data: TrainData, rec: Recipe, seed: int):
    from bgbench.devices import resolve_device
    from bgbench.training.network import make_network

    net = make_network(options, len(data.class_names), resolve_device(options.device), seed=seed)
    if rec.input_size is not None:
        net.classifier.preprocessing = replace(net.classifier.preprocessing, input_size=int(rec.input_size))
    return net


def _fit_head(net, data: TrainData, rec: Recipe, swap: dict[str, Any] | None, seed: int, cache_dir,
              quiet: bool, ctx) -> list[dict[str, Any]]:
    from bgbench.data import cache_root
    from bgbench.training.head import train_features, train_head

    feats, labels = train_features(net, data, swap=swap, seed=seed,
                                   cache_dir=cache_root(cache_dir) / "features", quiet=quiet, ctx=ctx)
    return train_head(net, feats, labels, rec, seed=seed, quiet=quiet)


def _evaluate(data, net, out: Path, plan: EvalPlan, seed: int, cache: bool, cache_dir,
              quiet: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Evaluate the trained classifier on every variant of ``plan.split`` of ``plan.tree(data)`` (and the
    challenge); the metrics record the tree (``data``: its resolved path and content fingerprint)."""
    from bgbench.config import CacheChoice
    from bgbench.eval import EvalConfig, evaluate
    from bgbench.models.common import sha256_state_dict

    clf = net.classifier
    clf.spec = f"ckpt:{out / 'model.safetensors'}"
    # the results record the trained weights (the adapter hashed them before training)
    clf.info = {**clf.info, "weights": str(out / "model.safetensors"),
                "params_sha256": sha256_state_dict(clf.module)}
    results_dir, tree = Path(plan.results_dir or out / "eval"), plan.tree(data)
    config = EvalConfig(variants=plan.variants, split=plan.split, cache=CacheChoice(cache, cache_dir),
                        draws=plan.draws, draw_seed=seed)
    ev = evaluate(tree, clf, config, out=results_dir, quiet=quiet)
    doc = ev.to_json(predictions=False)
    metrics = {k: doc[k] for k in ("accuracy", "accuracy_ci95", "n", "bg_gap", "bg_gap_ci95")}
    metrics["results_dir"] = str(results_dir)
    metrics["data"] = {"root": str(tree.resolve()), "split": plan.split, "fingerprint": ev.data_fingerprint}
    if ev.draws is not None:
        metrics["draws"] = {k: v for k, v in ev.draws.items() if k not in ("foregrounds", "variants")}
        metrics["draws"]["variants"] = {name: {k: v for k, v in entry.items() if k != "per_foreground"}
                                        for name, entry in ev.draws["variants"].items()}
    if not plan.challenge:
        return metrics, None
    from bgbench.challenge import run_challenge

    c = run_challenge(tree, clf, split=plan.split, out=plan.challenge_dir or out / "challenge", cache=cache,
                      cache_dir=cache_dir, gallery=False, quiet=quiet)
    return metrics, {"accuracy": c.accuracy, "ci95": c.accuracy_ci95, "n": c.n_foregrounds,
                     "data": str(tree.resolve())}


def _write(data, net, train_data: TrainData, parts: dict[str, Any], history: list[dict[str, Any]], out: Path,
           metrics: dict[str, Any] | None, chal: dict[str, Any] | None, options: ModelOptions) -> TrainResult:
    """Write the checkpoint with its sidecar, and train.json; the TrainResult."""
    common = {k: parts[k] for k in ("variant", "mode", "recipe", "seed", "swap")}
    record = {"arch": net.arch, "num_classes": len(train_data.class_names), "classes": train_data.class_names,
              "preprocessing": net.classifier.preprocessing.describe(), **common,
              "data_fingerprint": train_data.fingerprint, "source": net.source,
              "metrics": {"val": metrics, "challenge": chal}}
    weights = save_checkpoint(out, net.module, record)
    doc = {"schema": TRAIN_SCHEMA, "checkpoint": str(weights), **common, "arch": net.arch,
           "model": options.to_json(), "precision": parts["precision"], "n_train": len(train_data.labels),
           "classes": train_data.class_names, "history": history, "train_s": parts["train_s"],
           "eval": metrics, "eval_dir": metrics["results_dir"] if metrics else None, "challenge": chal,
           "eval_data": metrics["data"]["root"] if metrics else None, "distributed": parts["distributed"],
           "data": {"root": str(Path(data).resolve()), "fingerprint": train_data.fingerprint},
           "bgbench_version": __version__, "command": command_line()}
    result = TrainResult(doc)
    result.write(out)
    return result
