"""``train``: data + a model (pretrained, or from scratch) -> a checkpoint, its evaluation, a TrainResult."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bgbench import __version__
from bgbench.config import ModelArg, config_of
from bgbench.options import ModelOptions
from bgbench.provenance import command_line
from bgbench.resume import run_key
from bgbench.training.checkpoint import save_checkpoint
from bgbench.training.config import EvalPlan, Swap, TrainConfig
from bgbench.training.data import TrainData, check_train_split, load_train_data
from bgbench.training.recipe import Recipe
from bgbench.training.result import TRAIN_SCHEMA, TrainResult

__all__ = ["EvalPlan", "Swap", "TrainConfig", "train"]  # EvalPlan and Swap: their old home


def train(data: str | Path, model: ModelArg = None, config: TrainConfig | None = None, *, out: str | Path,
          quiet: bool = False) -> TrainResult:
    """Train on the ``config.split`` of ``config.variant`` of ``data`` and evaluate the result
    (``config.evaluation``, default: every variant of val of ``data``).

    ``model``: a spec string or :class:`ModelOptions` (None: the default model); its head is replaced
    by a fresh one per class folder. With ``pretrained=False`` and a ``timm:NAME`` (or
    ``torchvision:NAME``) spec the architecture starts from random weights (``--scratch``).
    ``precision`` is the autocast of every forward pass of the run, on the CPU and on a GPU alike:
    ``fp32`` (default, exact) or ``bf16`` for the training steps, any of fp32/bf16/fp16 for
    ``head_only``'s frozen-backbone features, and the same for the evaluation at the end; ``device``
    and ``preprocess`` apply in every mode. ``config``: the run's settings (:class:`TrainConfig`; None:
    the defaults): variant, ``head_only`` (last-layer retraining on cached features of the frozen
    backbone), recipe (:mod:`bgbench.training.recipe`; its batch size is per process), swap, seed,
    split, evaluation, log (:mod:`bgbench.training.tracking`) and cache.
    Under ``torchrun`` the run is data-parallel (:mod:`bgbench.training.distributed`) and only rank 0
    writes. Writes ``out/model.safetensors``, ``out/model.json``, ``out/train.json``, ``out/eval/``
    (and ``out/challenge/``); a killed full training resumes from its last finished epoch. Bad data
    or options are a one-line BgbenchError before any output.
    """
    from bgbench.training.distributed import init_from_env, shutdown
    from bgbench.training.network import training_options
    from bgbench.training.tracking import check_tracker

    cfg = config_of(config, TrainConfig)
    options = training_options(model, head_only=cfg.head_only)
    rec = cfg.recipe.resolved(cfg.head_only)
    check_train_split(data, cfg.variant, cfg.split)
    check_tracker(cfg.log)
    ctx = init_from_env(options.device)
    try:
        options = options.with_(device=ctx.device_name(options.device))
        train_data = _load(data, cfg, quiet, ctx)
        cfg.evaluation.check(data, train_data.class_names)
        run = _Run(Path(out), ctx, rec, cfg.seed, quiet, cfg.log)
        net = _network(options, train_data, rec, cfg.seed)
        parts = {"source": net.source, "arch": net.arch, "data": train_data.fingerprint,
                 "recipe": rec.to_json(), "seed": cfg.seed, "swap": cfg.swap.to_json() if cfg.swap else None,
                 "mode": "head-only" if cfg.head_only else "full", "variant": cfg.variant,
                 "global_batch": int(rec.batch_size) * ctx.world, "precision": options.precision}
        history = run.fit(net, train_data, parts, cfg.cache.cache_dir)
        if not ctx.is_main:
            return TrainResult({**parts, "history": history, "rank": ctx.rank}, None)
        metrics, chal = _evaluate(data, net, run.out, cfg, quiet) if cfg.evaluation.enabled else (None, None)
        run.finish(metrics, chal)
        return _write(data, net, train_data, parts, history, run.out, metrics, chal, options)
    finally:
        shutdown(ctx)


def _load(data, cfg: TrainConfig, quiet: bool, ctx) -> TrainData:
    """The training data; under torchrun rank 0 decodes (and fills the cache) before the others read."""
    from bgbench.training.distributed import main_first

    with main_first(ctx):
        return load_train_data(data, cfg.variant, cfg.split, swap=cfg.swap is not None, cache=cfg.cache.cache,
                               cache_dir=cfg.cache.cache_dir, quiet=quiet or not ctx.is_main)


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


def _evaluate(data, net, out: Path, cfg: TrainConfig,
              quiet: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Evaluate the trained classifier as ``cfg.evaluation`` (``plan``) says: every variant of
    ``plan.split`` of ``plan.tree(data)`` (and the challenge); the metrics record the tree (``data``: its
    resolved path and content fingerprint)."""
    from bgbench.eval import EvalConfig, evaluate
    from bgbench.models.common import sha256_state_dict

    plan = cfg.evaluation

    clf = net.classifier
    clf.spec = f"ckpt:{out / 'model.safetensors'}"
    # the results record the trained weights (the adapter hashed them before training)
    clf.info = {**clf.info, "weights": str(out / "model.safetensors"),
                "params_sha256": sha256_state_dict(clf.module)}
    results_dir, tree = Path(plan.results_dir or out / "eval"), plan.tree(data)
    config = EvalConfig(variants=plan.variants, split=plan.split, cache=cfg.cache, draws=plan.draws,
                        draw_seed=cfg.seed)
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
    from bgbench.challenge import ChallengeConfig, run_challenge

    settings = ChallengeConfig(split=plan.split, gallery=False, cache=cfg.cache)
    c = run_challenge(tree, clf, settings, out=plan.challenge_dir or out / "challenge", quiet=quiet)
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
