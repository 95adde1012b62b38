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

from bgbench.errors import BgbenchError
from bgbench.explain import probes
from bgbench.explain.data import ExplainData, check_data, load_data, provenance, select_images
from bgbench.explain.result import ProbeResult, finish
from bgbench.explain.scores import mean_ci, rfs_interval
from bgbench.metrics import proportion
from bgbench.options import DEFAULT_MODEL
from bgbench.progress import progress

KINDS: tuple[str, ...] = ("position", "scale", "noise")
RFS_METHOD = (
    "Hard ImageNet (Moayeri et al. 2022): RFS = (a_bg - a_fg) / (2 min(m, 1 - m)), m = (a_fg + a_bg) "
    "/ 2, a_fg / a_bg the class-balanced accuracies with noise on the foreground / background only; "
    "interval: percentile bootstrap over images within each class (2000 resamples)"
)


def _composites(
    kind: str, data: ExplainData, index: int, settings: dict[str, Any]
) -> tuple[list[str], np.ndarray]:
    image, mask = data.images[index], data.masks[index]
    if kind == "position":
        return probes.position_composites(image, mask, data.backgrounds[index], settings["grid"])
    if kind == "scale":
        return probes.scale_composites(image, mask, data.backgrounds[index], tuple(settings["factors"]))
    rng = np.random.default_rng([settings["seed"], index])
    return probes.noise_composites(image, mask, tuple(settings["sigmas"]), rng)


def probe_correct(
    predictor: Any,
    data: ExplainData,
    chosen: np.ndarray,
    kind: str,
    settings: dict[str, Any],
    batch_size: int,
    quiet: bool = False,
) -> tuple[list[str], np.ndarray, list[int], list[list[str]]]:
    """(setting names, bool (F, S) correctness of each probed foreground in each setting, the F
    image indices probed, skipped [path, reason] pairs). Composites are made for a few foregrounds at
    a time (memory bounded by the batch size)."""
    from bgbench.predict import predict_images

    relabel = predictor.relabel()
    names: list[str] | None = None
    rows, used, skipped = [], [], []
    step = max(1, batch_size // 4)
    bar = progress(total=chosen.size, desc=f"probe {kind}", unit="fg", quiet=quiet)
    for lo in range(0, chosen.size, step):
        batch, kept = [], []
        for i in chosen[lo : lo + step].tolist():
            if not data.masks[i].any():
                skipped.append([data.paths[i], "empty foreground mask"])
                continue
            names, stack = _composites(kind, data, i, settings)
            batch.append(stack)
            kept.append(i)
        if batch:
            preds, _, _ = predict_images(predictor, np.concatenate(batch), batch_size, quiet=True)
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


def _settings(kind: str, grid: int, factors: tuple[float, ...], sigmas: tuple[float, ...], seed: int) -> dict:
    if kind not in KINDS:
        raise BgbenchError(f"unknown probe kind {kind!r} (expected one of {', '.join(KINDS)})")
    if kind == "position":
        if grid < 2:
            raise BgbenchError(f"--grid must be at least 2, got {grid}")
        return {"grid": grid, "background": "the image's own only_bg_t"}
    if kind == "scale":
        if not factors or min(factors) <= 0:
            raise BgbenchError("scale factors must be positive")
        return {
            "factors": [float(f) for f in factors],
            "background": "the image's own only_bg_t",
            "about": "the foreground box's centre; parts leaving the frame are cut",
        }
    if not sigmas or min(sigmas) <= 0:
        raise BgbenchError("noise strengths must be positive")
    return {
        "sigmas": [float(s) for s in sigmas],
        "seed": seed,
        "noise": "Gaussian, std sigma on the [0, 1] scale, clipped, one field per image",
    }


def probe(data: str | Path, model: Any = DEFAULT_MODEL, *, kind: str, split: str = "val",
          out: str | Path | None = None, batch_size: int = 64, grid: int = 3,
          factors: tuple[float, ...] = probes.DEFAULT_FACTORS,
          sigmas: tuple[float, ...] = probes.DEFAULT_SIGMAS,
          seed: int = 0, images: int | None = None, per_class: int | None = None, cache: bool = True,
          cache_dir: str | Path | None = None, quiet: bool = False, **model_options: Any) -> ProbeResult:
    """Probe ``model`` with composites of ``kind`` (position, scale or noise) of ``original/<split>``
    with its ``fg_mask`` (and ``only_bg_t`` for position and scale); writes ``probe.json``,
    ``probe.csv`` and figures into ``out`` when given. ``grid``: cells per side (position);
    ``factors``: scale factors; ``sigmas``: noise strengths; ``images`` / ``per_class``: a subset
    as in :func:`bgbench.saliency`; ``model`` / ``model_options`` as in :func:`bgbench.evaluate`."""
    from bgbench.explain.figures import probe_figures
    from bgbench.jsonable import jsonable
    from bgbench.predict import make_predictor

    started = time.perf_counter()
    settings = _settings(kind, grid, tuple(factors), tuple(sigmas), seed)
    root = Path(data)
    folders = check_data(root, split, "probe", backgrounds=kind != "noise")
    predictor = make_predictor(model, folders, **model_options)
    loaded = load_data(root, split, backgrounds=kind != "noise", cache=cache, cache_dir=cache_dir,
                       quiet=quiet, command="probe")
    chosen = select_images(loaded.labels, images, per_class, seed)
    names, correct, used, skipped = probe_correct(
        predictor, loaded, chosen, kind, settings, batch_size, quiet
    )
    doc = {
        "schema": ProbeResult.SCHEMA,
        "kind": kind,
        "model": model if isinstance(model, str) else predictor.spec,
        **_outcome(kind, names, correct, loaded, used, settings),
        "settings": settings,
        "map_rule": predictor.label_map.rule,
        "label_map": predictor.label_map.describe(),
        "model_info": jsonable(predictor.describe()),
        "skipped": skipped,
        "interval_method": "Wilson score interval per setting",
        **provenance(
            root,
            split,
            loaded,
            np.array(used),
            {"images": images, "per_class": per_class, "seed": seed},
            str(predictor.device),
        ),
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
