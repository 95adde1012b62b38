"""``evaluate``: a model on every variant of an IN-9 style tree -> :class:`EvalResult`.

Flow: an :class:`~bgbench.data.In9Tree` finds the variants, the prediction layer
(:mod:`bgbench.predict`) loads the model and fits the label map to the class folders, and per variant
:meth:`In9Tree.images <bgbench.data.In9Tree.images>` gives the decoded uint8 images (cached memmap)
that :func:`~bgbench.predict.predict_images` scores; each variant's predictions are saved as a partial
file (:mod:`bgbench.resume`, under :func:`resume_key`) so an interrupted run is cheap to finish.
Metrics come from :mod:`bgbench.metrics`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import ModelArg, config_of
from bgbench.data import In9Tree, foreground_keys
from bgbench.errors import BgbenchError
from bgbench.eval.config import EvalConfig
from bgbench.eval.result import EvalResult, VariantResult
from bgbench.jsonable import jsonable
from bgbench.metrics import Gap, bg_gap
from bgbench.options import DEFAULT_MODEL
from bgbench.predict import Predictor, make_predictor, predict_images
from bgbench.resume import load_partial, run_key, save_partial
from bgbench.variants import MIXED_VARIANTS

GAP_VARIANTS = ("mixed_same", "mixed_rand")


def evaluate(data: str | Path, model: ModelArg = DEFAULT_MODEL, config: EvalConfig | None = None, *,
             out: str | Path | None = None, quiet: bool = False) -> EvalResult:
    """Evaluate ``model`` on the variants of ``data``; returns an :class:`EvalResult`.

    ``model``: a spec string, a :class:`~bgbench.options.ModelOptions` (device, precision,
    preprocessing, weights, label map, ...), a ready :class:`~bgbench.models.base.Classifier` (its own
    loading options, the default label map) or a :class:`~bgbench.predict.ReadyModel` (a Classifier
    with its label options). ``config``: the :class:`EvalConfig` (None: the defaults; variants,
    split, batch size, cache, resume, ``--draws``, group size). ``out``: when given, ``eval.json``
    and ``eval.csv`` are written there, and each variant's predictions are saved in
    ``out/partial/<variant>.json`` as soon as it is done; with ``config.resume`` a rerun into the same
    ``out`` reuses them when the model (weights sha256, preprocessing, precision), label map, data
    fingerprint, split, batch size and device are all unchanged (models whose ``describe()`` has no
    ``weights_sha256`` are always run afresh). ``config.draws`` K: also score mixed_same/rand/next
    composited on the fly with K seeded donors per foreground (:mod:`bgbench.eval.draws`), into
    ``result.draws``. Group analysis (:mod:`bgbench.eval.groups`): each mixed variant of a tree with a
    build manifest gets ``groups`` (foreground x background class table), and with ``draws`` so do
    the composites (``result.draw_groups``). Raises ``BgbenchError`` for bad input before any model
    work where possible.
    """
    cfg = config_of(config, EvalConfig)
    started = time.perf_counter()
    tree = In9Tree(data, cache=cfg.cache.cache, cache_dir=cfg.cache.cache_dir, quiet=quiet)
    root = tree.root
    names = tree.variants(cfg.split, None if cfg.variants is None else list(cfg.variants))
    folders, skipped = tree.scored_class_folders(names, cfg.split)
    predictor = make_predictor(model, folders, data=root)
    results = {}
    for name in names:
        if name in skipped:
            continue
        try:
            results[name] = _evaluate_variant(predictor, tree, name, cfg, out)
        except DataError as exc:  # this variant's files: score the others, report why
            skipped[name] = str(exc)
    if not results:
        raise BgbenchError("no variant could be scored: " + "; ".join(f"{n}: {why}" for n, why in
                                                                      skipped.items()), root)
    _add_groups(results, predictor, tree, cfg.split, folders, cfg.group_min)
    clf = predictor.classifier
    draws_block, draw_tables = _draws(predictor, tree, cfg)
    result = EvalResult(
        model=model if isinstance(model, str) else predictor.spec, model_info=predictor.describe(),
        data_root=str(root.resolve()), split=cfg.split, class_names=predictor.class_names,
        label_map=predictor.label_map.describe(), map_rule=predictor.label_map.rule, variants=results,
        bg_gap=paired_bg_gap(results), device=str(clf.device),
        precision=str(getattr(clf, "precision", predictor.options.precision)), batch_size=cfg.batch_size,
        total_s=time.perf_counter() - started, draws=draws_block, draw_groups=draw_tables,
        skipped_variants={name: skipped[name] for name in names if name in skipped})
    if out is not None:
        result.write(out)
    return result


def _draws(predictor: Predictor, tree: In9Tree, cfg: EvalConfig) -> tuple[dict | None, dict | None]:
    """(draws block, group tables) of the ``--draws`` composites; (None, None) without draws."""
    if not cfg.draws:
        return None, None
    from bgbench.eval.draws import draw_groups, draw_predictions, summarize_draws

    outcome = draw_predictions(predictor, tree, cfg.split, cfg.draws, cfg.draw_seed, cfg.batch_size)
    return (summarize_draws(outcome.correct(), cfg.draws, cfg.draw_seed, outcome.keys),
            draw_groups(outcome, predictor.class_names, cfg.group_min))


def _evaluate_variant(predictor: Predictor, tree: In9Tree, name: str, cfg: EvalConfig,
                      out: str | Path | None) -> VariantResult:
    """Load (or resume) and score one variant (split, batch size and resume from ``cfg``)."""
    split, batch_size = cfg.split, cfg.batch_size
    t0 = time.perf_counter()
    try:
        vdata = tree.images(name, split)
    except BgbenchError as exc:  # paths relative to the tree, so the reason reads the same anywhere
        raise DataError(str(exc).replace(f"{tree.root}{os.sep}", "")) from None
    load_s = time.perf_counter() - t0
    key = None
    if out is not None and cfg.resume:
        key = resume_key(predictor.describe(), predictor.label_map.describe(), vdata.fingerprint, split,
                         batch_size, str(predictor.device))
    reused = _resumed(out, name, key, vdata.paths)
    if reused is not None:
        preds, top1, infer_s = reused
    else:
        preds, top1, infer_s = predict_images(predictor, vdata.images, batch_size, f"eval {name}", tree.quiet)
        if key is not None and out is not None:
            save_partial(out, name, key, {"paths": vdata.paths, "pred": preds.tolist(), "top1": top1.tolist(),
                                          "infer_s": infer_s})
    # the variant's own class folders (maybe fewer than the tree's) -> the scored folders' indices
    own = np.array([predictor.folders.index(f) for f in vdata.class_names], dtype=np.int64)
    labels = predictor.relabel()[own[vdata.labels]]
    return VariantResult.scored(name, vdata.paths, labels, preds, top1, len(predictor.class_names),
                                skipped=list(vdata.skipped), fingerprint=vdata.fingerprint, load_s=load_s,
                                infer_s=infer_s, cached=vdata.cached, resumed=reused is not None)


def resume_key(model_info: dict[str, Any], label_map: dict[str, Any], fingerprint: str, split: str,
               batch_size: int, device: str) -> str | None:
    """Run key (:func:`bgbench.resume.run_key`) of one variant's predictions: model identity with its
    weights hash, label map, data fingerprint, split, batch size, device. None when the model cannot
    be identified by its weights' hash (then nothing is reused: two random-weight models would
    describe themselves alike)."""
    if not model_info.get("weights_sha256"):
        return None
    return run_key({"model": jsonable(model_info), "label_map": label_map, "data": fingerprint,
                    "split": split, "batch_size": batch_size, "device": str(device)})


def _resumed(out: str | Path | None, variant: str, key: str | None,
             paths: list[str]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(preds int64 (N,), top1 int64 (N,), infer_s) an earlier run saved in ``out/partial/`` under the
    same key for the same image list, or None."""
    saved = load_partial(out, variant, key) if key is not None and out is not None else None
    if saved is None or saved.get("paths") != paths:
        return None
    return (np.asarray(saved["pred"], dtype=np.int64), np.asarray(saved["top1"], dtype=np.int64),
            float(saved["infer_s"]))


def _add_groups(results: dict[str, VariantResult], predictor: Predictor, tree: In9Tree, split: str,
                folders: list[str], group_min: int) -> None:
    """Set ``backgrounds`` and ``groups`` of each evaluated mixed variant whose donors the build's
    manifest records (a tree without a manifest, e.g. the released IN-9, gets none)."""
    from bgbench.eval.groups import group_table

    relabel = predictor.relabel()
    for name in MIXED_VARIANTS:
        r = results.get(name)
        bg = None if r is None else tree.background_labels(split, name, r.paths, folders)
        if r is None or bg is None:
            continue
        r.backgrounds = np.where(bg >= 0, relabel[np.maximum(bg, 0)], -1)
        r.groups = group_table(r.labels, r.backgrounds, r.preds, len(predictor.class_names),
                               min_count=group_min, class_names=predictor.class_names)


class DataError(BgbenchError):
    """A variant's files cannot be scored (raised around :meth:`bgbench.data.In9Tree.images` only)."""


def paired_bg_gap(results: dict[str, VariantResult]) -> Gap | None:
    """BG-Gap = acc(mixed_same) - acc(mixed_rand), paired by foreground (None without both)."""
    if not all(v in results for v in GAP_VARIANTS):
        return None
    same, rand = results["mixed_same"], results["mixed_rand"]
    return bg_gap(foreground_keys(same.paths), same.correct, foreground_keys(rand.paths), rand.correct)
