"""``probe``: accuracy of any model bgbench loads on probe composites (position, scale, noise) ->
:class:`~bgbench.explain.result.ProbeResult`.

Composites come from :mod:`bgbench.explain.probes` (one compositing function for everything),
predictions from the shared predictor layer (:func:`bgbench.predict.predict_images`), so ONNX and
TFLite models work as well as torch ones. Accuracies get Wilson intervals; the center bias (centre
cell minus the mean of the other cells, per foreground) a bootstrap over foregrounds; RFS a bootstrap
over images within each class.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import ModelArg
from bgbench.errors import BgbenchError
from bgbench.explain import probes
from bgbench.explain.config import KINDS, ProbeConfig
from bgbench.explain.data import ExplainData, check_data, load_data, provenance, select_images
from bgbench.explain.result import ProbeResult, finish
from bgbench.explain.scores import mean_ci, rfs_interval
from bgbench.metrics import proportion
from bgbench.options import DEFAULT_MODEL
from bgbench.predict import make_predictor, predict_images
from bgbench.progress import progress

RFS_METHOD = (
    "Hard ImageNet (Moayeri et al. 2022): RFS = (a_bg - a_fg) / (2 min(m, 1 - m)), m = (a_fg + a_bg) "
    "/ 2, a_fg / a_bg the class-balanced accuracies with noise on the foreground / background only; "
    "interval: percentile bootstrap over images within each class (2000 resamples)"
)


def _composites(config: ProbeConfig, data: ExplainData, index: int) -> tuple[list[str], np.ndarray]:
    """(setting names, uint8 (S, H, W, 3) composites) of image ``index`` for ``config.kind``."""
    image, mask = data.images[index], data.masks[index]
    if config.kind == "position":
        return probes.position_composites(image, mask, data.backgrounds[index], config.grid)
    if config.kind == "scale":
        return probes.scale_composites(image, mask, data.backgrounds[index], config.factors)
    rng = np.random.default_rng([config.subset.seed, index])
    return probes.noise_composites(image, mask, config.sigmas, rng)


def probe_correct(
    predictor: Any,
    data: ExplainData,
    chosen: np.ndarray,
    config: ProbeConfig,
    quiet: bool = False,
) -> tuple[list[str], np.ndarray, list[int], list[list[str]]]:
    """(setting names, bool (F, S) correctness of each probed foreground in each setting, the F
    image indices probed, skipped [path, reason] pairs). Composites are made for a few foregrounds at
    a time (memory bounded by ``config.batch_size``)."""
    relabel = predictor.relabel()
    names: list[str] | None = None
    rows, used, skipped = [], [], []
    step = max(1, config.batch_size // 4)
    bar = progress(total=chosen.size, desc=f"probe {config.kind}", unit="fg", quiet=quiet)
    for lo in range(0, chosen.size, step):
        batch, kept = [], []
        for i in chosen[lo : lo + step].tolist():
            if not data.masks[i].any():
                skipped.append([data.paths[i], "empty foreground mask"])
                continue
            names, stack = _composites(config, data, i)
            batch.append(stack)
            kept.append(i)
        if batch:
            preds, _, _ = predict_images(predictor, np.concatenate(batch), config.batch_size, quiet=True)
            rows.extend(preds.reshape(len(kept), -1) == relabel[data.labels[kept]][:, None])
            used.extend(kept)
        bar.update(min(step, chosen.size - lo))
    bar.close()
    if names is None:
        raise BgbenchError("no foreground with a non-empty mask to probe")
    return names, np.array(rows, dtype=bool), used, skipped


def _cells(names: list[str], correct: np.ndarray) -> list[dict[str, Any]]:
    cells = []
    for j, name in enumerate(names):
        p = proportion(int(correct[:, j].sum()), int(correct.shape[0]))
        cells.append({"setting": name, "accuracy": p.value, "ci": [p.low, p.high], "correct": p.k, "n": p.n})
    return cells


def center_bias(names: list[str], correct: np.ndarray) -> dict[str, Any]:
    """Centre-cell accuracy minus the mean accuracy of the other grid cells, as the mean of that
    difference per foreground with a bootstrap interval over foregrounds."""
    grid = [j for j, n in enumerate(names) if n.startswith("r")]
    centre = names.index(probes.CENTRE)
    others = [j for j in grid if j != centre]
    per_fg = correct[:, centre].astype(float) - correct[:, others].mean(axis=1)
    est = mean_ci(per_fg, seed=4)
    return {
        "value": est.mean,
        "ci95": [est.low, est.high],
        "n": est.n,
        "method": "per foreground: centre correct (0/1) minus mean over the other cells; percentile "
        "bootstrap over foregrounds",
    }


def rfs_by_sigma(
    names: list[str], correct: np.ndarray, labels: np.ndarray, sigmas: list[float]
) -> list[dict]:
    """Hard ImageNet's RFS per noise strength (see
    :func:`bgbench.explain.scores.relative_foreground_sensitivity`)."""
    from bgbench.explain.scores import class_balanced_accuracy

    out = []
    for k, sigma in enumerate(sigmas):
        fg, bg = (
            correct[:, names.index(f"fg_noise={sigma:g}")],
            correct[:, names.index(f"bg_noise={sigma:g}")],
        )
        value, low, high = rfs_interval(fg, bg, labels, seed=5 + k)
        out.append(
            {
                "sigma": sigma,
                "value": value,
                "ci95": [low, high],
                "fg_noise_accuracy_balanced": class_balanced_accuracy(fg, labels),
                "bg_noise_accuracy_balanced": class_balanced_accuracy(bg, labels),
            }
        )
    return out


def probe(data: str | Path, model: ModelArg = DEFAULT_MODEL, config: ProbeConfig | None = None, *,
          out: str | Path | None = None, quiet: bool = False) -> ProbeResult:
    """Probe ``model`` with composites of ``config.kind`` (position, scale or noise) of
    ``original/<split>`` with its ``fg_mask`` (and ``only_bg_t`` for position and scale); writes
    ``probe.json``, ``probe.csv`` and figures into ``out`` when given.

    ``model``: a spec string, :class:`~bgbench.options.ModelOptions`, Classifier or
    :class:`~bgbench.predict.ReadyModel` (any model bgbench loads: ONNX and TFLite too).
    ``config``: a :class:`ProbeConfig`; required, as its ``kind`` has no default (``None`` is
    refused in one line): the kind's settings, the image subset, the split, the batch size and the
    cache."""
    from bgbench.explain.figures import probe_figures
    from bgbench.jsonable import jsonable

    if not isinstance(config, ProbeConfig):
        raise BgbenchError(f"probe needs a ProbeConfig (its kind: one of {', '.join(KINDS)}), "
                           f"got {type(config).__name__}")
    started = time.perf_counter()
    settings = config.settings()
    root = Path(data)
    backgrounds = config.kind != "noise"
    folders = check_data(root, config.split, "probe", backgrounds=backgrounds)
    predictor = make_predictor(model, folders)
    loaded = load_data(root, config.split, backgrounds=backgrounds, cache=config.cache, quiet=quiet,
                       command="probe")
    chosen = select_images(loaded.labels, config.subset)
    names, correct, used, skipped = probe_correct(predictor, loaded, chosen, config, quiet)
    doc = {
        "schema": ProbeResult.SCHEMA,
        "kind": config.kind,
        "model": model if isinstance(model, str) else predictor.spec,
        **_outcome(config.kind, names, correct, loaded, used, settings),
        "settings": settings,
        "map_rule": predictor.label_map.rule,
        "label_map": predictor.label_map.describe(),
        "model_info": jsonable(predictor.describe()),
        "skipped": skipped,
        "interval_method": "Wilson score interval per setting",
        **provenance(root, config.split, loaded, np.array(used), config.subset, str(predictor.device)),
        "total_s": time.perf_counter() - started,
        "figures": [],
    }
    return finish(ProbeResult, doc, out, lambda folder: probe_figures(folder, doc))


def _outcome(
    kind: str,
    names: list[str],
    correct: np.ndarray,
    data: ExplainData,
    used: list[int],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """``n``, ``cells``, per-image outcomes and the kind's summary (``center_bias`` or ``rfs``)."""
    outcome: dict[str, Any] = {
        "n": int(correct.shape[0]),
        "cells": _cells(names, correct),
        "images": [
            {
                "image": data.paths[i],
                "label": data.folders[int(data.labels[i])],
                "correct": correct[k].tolist(),
            }
            for k, i in enumerate(used)
        ],
    }
    if kind == "position":
        outcome["center_bias"] = center_bias(names, correct)
    if kind == "noise":
        outcome["rfs"] = rfs_by_sigma(names, correct, data.labels[used], settings["sigmas"])
        outcome["rfs_method"] = RFS_METHOD
    return outcome
