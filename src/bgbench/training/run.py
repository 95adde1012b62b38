"""``train``: data + a model (or an architecture) -> a checkpoint, its evaluation, a TrainResult."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.training.checkpoint import save_checkpoint
from bgbench.training.data import TrainData, check_train_split, load_train_data
from bgbench.training.recipe import Recipe
from bgbench.training.result import TRAIN_SCHEMA, TrainResult


def _swap_config(
    p: float, classes: str, draws: int, scale: tuple[float, float], translate: float
) -> dict[str, Any] | None:
    if not 0.0 <= p <= 1.0:
        raise BgbenchError(f"--swap must be a probability in [0, 1], got {p}")
    if draws < 1:
        raise BgbenchError(f"--swap-draws must be at least 1, got {draws}")
    if p == 0.0:
        return None
    from bgbench.augment import SWAP_CLASSES

    if classes not in SWAP_CLASSES:
        raise BgbenchError(f"--swap-classes must be one of {', '.join(SWAP_CLASSES)}, got {classes!r}")
    return {"p": p, "classes": classes, "draws": draws, "scale": list(scale), "translate": translate}


def run_key(parts: dict[str, Any]) -> str:
    """Hex SHA-256 of what decides a run's weights (resume only into the same run)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def train(
    data: str | Path,
    model: Any = None,
    *,
    out: str | Path,
    variant: str = "original",
    arch: str | None = None,
    head_only: bool = False,
    recipe: Recipe | None = None,
    swap: float = 0.0,
    swap_classes: str = "other",
    swap_draws: int = 4,
    swap_scale: tuple[float, float] = (1.0, 1.0),
    swap_translate: float = 0.0,
    seed: int = 0,
    split: str = "train",
    eval_split: str = "val",
    challenge: bool = False,
    amp: bool = True,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
    **model_options: Any,
) -> TrainResult:
    """Train on the ``split`` of ``variant`` of ``data`` and evaluate on ``eval_split`` of every variant.

    ``model``: a spec string or :class:`ModelOptions` (its head is replaced by a fresh one per class
    folder), or None with ``arch`` (a timm architecture from scratch). ``head_only``: last-layer
    retraining on cached features of the frozen backbone. ``recipe``: see
    :mod:`bgbench.training.recipe` (None: the documented default). ``swap`` p > 0: background-swap
    augmentation (``swap_classes`` "other" never draws the foreground's own class; ``swap_draws``
    composites per image with ``head_only``; ``swap_scale``/``swap_translate`` move the foreground).
    ``amp``: bf16 autocast on a GPU. Writes ``out/model.safetensors``, ``out/model.json``,
    ``out/train.json``, ``out/eval/`` (and ``out/challenge/``); a killed full training resumes
    from its last finished epoch. Bad data is a one-line BgbenchError before any output.
    """
    if (model is None) == (arch is None) and not (model is None and arch is None):
        raise BgbenchError("give a model to fine-tune or --arch NAME to train from scratch, not both")
    swap_cfg = _swap_config(swap, swap_classes, swap_draws, swap_scale, swap_translate)
    rec = (recipe or Recipe()).resolved(head_only)
    check_train_split(data, variant, split)
    options = None if arch is not None else ModelOptions.of(model, **model_options)
    train_data = load_train_data(
        data, variant, split, swap=swap_cfg is not None, cache=cache, cache_dir=cache_dir, quiet=quiet
    )
    started = time.perf_counter()
    out = Path(out)
    net = _network(options, arch, train_data, rec, seed)
    parts = {
        "source": net.source,
        "arch": net.arch,
        "data": train_data.fingerprint,
        "recipe": rec.to_json(),
        "seed": seed,
        "swap": swap_cfg,
        "mode": "head-only" if head_only else "full",
        "variant": variant,
    }
    history = _fit(
        net, train_data, rec, swap_cfg, seed, out, run_key(parts), head_only, amp, options, cache_dir, quiet
    )
    train_s = time.perf_counter() - started
    return _finish(
        data,
        net,
        train_data,
        parts,
        history,
        out,
        eval_split,
        challenge,
        cache,
        cache_dir,
        quiet,
        train_s,
        options,
    )


def _network(options: ModelOptions | None, arch: str | None, data: TrainData, rec: Recipe, seed: int):
    from bgbench.devices import resolve_device
    from bgbench.training.network import make_network

    device = resolve_device(options.device if options is not None else "auto")
    net = make_network(options, arch, len(data.class_names), device, seed=seed)
    if rec.input_size is not None:
        net.classifier.preprocessing = replace(net.classifier.preprocessing, input_size=int(rec.input_size))
    return net


def _fit(
    net,
    data: TrainData,
    rec: Recipe,
    swap_cfg,
    seed: int,
    out: Path,
    key: str,
    head_only: bool,
    amp: bool,
    options: ModelOptions | None,
    cache_dir,
    quiet: bool,
) -> list[dict[str, Any]]:
    if head_only:
        from bgbench.dataset import cache_root
        from bgbench.training.head import train_features, train_head

        feats, labels = train_features(
            net, data, swap=swap_cfg, seed=seed, cache_dir=cache_root(cache_dir) / "features", quiet=quiet
        )
        return train_head(net, feats, labels, rec, seed=seed, quiet=quiet)
    from bgbench.training.loop import train_full

    precision = "bf16" if amp else "fp32"
    if options is not None and options.precision != "fp32":
        precision = options.precision
    return train_full(
        net, data, rec, swap=swap_cfg, seed=seed, out=out, key=key, precision=precision, quiet=quiet
    )


def _finish(
    data,
    net,
    train_data: TrainData,
    parts: dict[str, Any],
    history: list[dict[str, Any]],
    out: Path,
    eval_split: str,
    challenge: bool,
    cache: bool,
    cache_dir,
    quiet: bool,
    train_s: float,
    options: ModelOptions | None,
) -> TrainResult:
    """Evaluate (and challenge), then write the checkpoint, its sidecar and train.json."""
    from bgbench.atomic import atomic_write_json
    from bgbench.eval import evaluate

    clf = net.classifier
    clf.spec = f"ckpt:{out / 'model.safetensors'}"
    ev = evaluate(
        data, clf, split=eval_split, out=out / "eval", cache=cache, cache_dir=cache_dir, quiet=quiet
    )
    doc_ev = ev.to_json(predictions=False)
    metrics = {
        "accuracy": doc_ev["accuracy"],
        "accuracy_ci95": doc_ev["accuracy_ci95"],
        "n": doc_ev["n"],
        "bg_gap": doc_ev["bg_gap"],
        "bg_gap_ci95": doc_ev["bg_gap_ci95"],
    }
    chal = None
    if challenge:
        from bgbench.challenge import run_challenge

        c = run_challenge(
            data, clf, split=eval_split, out=out / "challenge", cache=cache, cache_dir=cache_dir, quiet=quiet
        )
        chal = {"accuracy": c.accuracy, "ci95": c.accuracy_ci95, "n": c.n_foregrounds}
    record = {
        "arch": net.arch,
        "num_classes": len(train_data.class_names),
        "classes": train_data.class_names,
        "preprocessing": clf.preprocessing.describe(),
        "variant": parts["variant"],
        "mode": parts["mode"],
        "recipe": parts["recipe"],
        "seed": parts["seed"],
        "swap": parts["swap"],
        "data_fingerprint": train_data.fingerprint,
        "source": net.source,
        "metrics": {"val": metrics, "challenge": chal},
    }
    weights = save_checkpoint(out, net.module, record)
    doc = {
        "schema": TRAIN_SCHEMA,
        "checkpoint": str(weights),
        "mode": parts["mode"],
        "variant": parts["variant"],
        "arch": net.arch,
        "model": options.to_json() if options is not None else None,
        "recipe": parts["recipe"],
        "seed": parts["seed"],
        "swap": parts["swap"],
        "n_train": len(train_data.labels),
        "classes": train_data.class_names,
        "history": history,
        "train_s": round(train_s, 2),
        "eval": metrics,
        "eval_dir": "eval",
        "challenge": chal,
        "data": {"root": str(Path(data).resolve()), "fingerprint": train_data.fingerprint},
    }
    atomic_write_json(out / "train.json", doc)
    return TrainResult(doc, out / "train.json")
