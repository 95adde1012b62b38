"""``saliency``: attribution maps of one or more torch models on ``original`` and how much of each
lies on the foreground -> :class:`~bgbench.explain.result.SaliencyResult`.

Flow: the data is checked (``original`` and ``fg_mask`` of the split) and every model loaded through
the shared predictor layer before anything is written; images are decoded by the shared loader;
per model and batch the images are resized to the model's grid (its own preprocessing), Captum
attributes the true class's differentiable IN-9 score (:mod:`bgbench.explain.attribution`), the
model's actual prediction comes from the predictor, and :mod:`bgbench.explain.scores` turns maps and
identically resized masks into shares, focus and bootstrap intervals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import ModelArg, config_of
from bgbench.explain.attribution import (
    ClassScores,
    attribute,
    class_scores,
    find_layer,
    layer_name,
    masks_to_model_grid,
    model_grid_size,
    require_torch,
    seeded,
    to_model_grid,
)
from bgbench.explain.config import SaliencyConfig
from bgbench.explain.data import ExplainData, check_data, load_data, provenance, select_images
from bgbench.explain.result import SaliencyResult, finish
from bgbench.explain.scores import foreground_focus, foreground_share, mask_area, mean_ci, paired_difference
from bgbench.options import DEFAULT_MODEL, short_name
from bgbench.predict import make_predictor
from bgbench.progress import progress


@dataclass
class ModelMaps:
    """One model's outcome on the chosen images: float64 (N,) ``share`` / ``area`` / ``focus``,
    int64 (N,) ``predicted`` (folder index, -1 = outside the classes), and for the figure rows the
    model-grid ``images`` uint8 (S, S, 3), ``masks`` and ``maps`` float (S, S)."""

    share: np.ndarray
    area: np.ndarray
    focus: np.ndarray
    predicted: np.ndarray
    seconds: float
    layer: str | None = None
    figure: dict[str, list[np.ndarray]] = field(default_factory=dict)


def figure_rows(labels: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` positions into ``labels`` for the figure, one class after another (the first
    image of each class, then the second, ...), in dataset order within the result."""
    order: list[int] = []
    by_class = [list(np.flatnonzero(labels == k)) for k in np.unique(labels)]
    while len(order) < min(count, labels.size):
        for members in by_class:
            if members and len(order) < count:
                order.append(int(members.pop(0)))
    return np.array(sorted(order), dtype=np.int64)


def _batch_maps(
    predictor: Any,
    scorer: ClassScores,
    images: np.ndarray,
    labels: np.ndarray,
    config: SaliencyConfig,
    layer: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(maps float32 (B, S, S), predicted folder indices int64 (B,), model-grid images uint8) of one batch."""
    import torch

    x01 = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    grid = to_model_grid(predictor.classifier, x01)
    target = torch.as_tensor(predictor.relabel()[labels], device=grid.device)
    maps = attribute(scorer, grid, target, config, layer)
    with torch.inference_mode():
        predicted = predictor.predict_folders(x01.to(predictor.device)).cpu().numpy()
    shown = (grid.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return maps, predicted, shown


def attribute_model(predictor: Any, data: ExplainData, chosen: np.ndarray, config: SaliencyConfig,
                    figure_at: np.ndarray, quiet: bool = False) -> ModelMaps:
    """Attribute every chosen image for one model (batches of ``config.batch_size``, torch's generator
    seeded with ``config.seed``); ``figure_at``: positions in ``chosen`` whose maps are kept."""
    clf = require_torch(predictor.classifier)
    scorer = class_scores(predictor)
    layer = find_layer(scorer.network, config.layer) if config.method == "gradcam" else None
    n = chosen.size
    share, area, predicted = np.full(n, np.nan), np.zeros(n), np.full(n, -1, dtype=np.int64)
    figure: dict[str, list[np.ndarray]] = {"images": [], "masks": [], "maps": []}
    wanted = set(figure_at.tolist())
    bar = progress(total=n, desc=f"{config.method} {short_name(predictor.spec)}", unit="img", quiet=quiet)
    start = time.perf_counter()
    with seeded(clf.device, config.seed):
        for lo in range(0, n, config.batch_size):
            rows = chosen[lo : lo + config.batch_size]
            at = slice(lo, lo + rows.size)
            maps, predicted[at], shown = _batch_maps(predictor, scorer, data.images[rows], data.labels[rows],
                                                     config, layer)
            grid_masks = masks_to_model_grid(clf, data.masks[rows])
            share[at], area[at] = foreground_share(maps, grid_masks), mask_area(grid_masks)
            for j in (j for j in range(rows.size) if lo + j in wanted):
                figure["images"].append(shown[j])
                figure["masks"].append(grid_masks[j])
                figure["maps"].append(maps[j])
            bar.update(rows.size)
    bar.close()
    return ModelMaps(share=share, area=area, focus=foreground_focus(share, area), predicted=predicted,
                     seconds=time.perf_counter() - start, figure=figure,
                     layer=None if layer is None else layer_name(scorer.network, layer))


def _model_entry(predictor: Any, result: ModelMaps, data: ExplainData, chosen: np.ndarray) -> dict[str, Any]:
    """The ``models[i]`` record of saliency.json."""
    from bgbench.jsonable import jsonable

    labels = data.labels[chosen]
    correct = result.predicted == labels
    focus, share, area = mean_ci(result.focus, seed=1), mean_ci(result.share, seed=2), mean_ci(result.area)
    rule, direct = predictor.label_map.rule, predictor.label_map.table is None
    images = [
        {
            "image": data.paths[i],
            "label": data.folders[int(labels[k])],
            "predicted": data.folders[int(result.predicted[k])] if result.predicted[k] >= 0 else None,
            "correct": bool(correct[k]),
            "foreground_share": _finite(result.share[k]),
            "mask_area": float(result.area[k]),
            "foreground_focus": _finite(result.focus[k]),
        }
        for k, i in enumerate(chosen)
    ]
    return {
        "model": predictor.spec,
        "foreground_share": share.mean,
        "foreground_share_ci": [share.low, share.high],
        "mask_area": area.mean,
        "foreground_focus": focus.mean,
        "focus_ci": [focus.low, focus.high],
        "n": focus.n,
        "n_undefined": focus.n_undefined,
        "accuracy": float(correct.mean()) if correct.size else None,
        "target": "true class",
        "score": ClassScores.describe(rule, direct),
        "map_rule": rule,
        "label_map": predictor.label_map.describe(),
        "model_info": jsonable(predictor.describe()),
        "grid": list(model_grid_size(predictor.classifier, data.images.shape[1:3])),
        "mask_transform": "the model's own resize (interpolation of its preprocessing), values in [0, 1]",
        "layer": result.layer,
        "seconds": result.seconds,
        "images_per_s": chosen.size / result.seconds if result.seconds > 0 else None,
        "images": images,
    }


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _comparison(entries: list[dict[str, Any]], results: list[ModelMaps]) -> list[dict[str, Any]]:
    """Each later model's focus minus the first's, paired by image, with a bootstrap interval."""
    out = []
    for entry, result in zip(entries[1:], results[1:], strict=True):
        diff = paired_difference(results[0].focus, result.focus, seed=3)
        out.append(
            {
                "model": entry["model"],
                "reference": entries[0]["model"],
                "difference": diff.mean,
                "ci95": [diff.low, diff.high],
                "n": diff.n,
                "separated": None if diff.low is None else bool(diff.low > 0 or diff.high < 0),
                "method": "mean of per-image focus differences, percentile bootstrap over images",
            }
        )
    return out


def _figures(
    out: Path,
    entries: list[dict[str, Any]],
    results: list[ModelMaps],
    data: ExplainData,
    chosen: np.ndarray,
    figure_at: np.ndarray,
    method: str,
) -> list[str]:
    from bgbench.explain.figures import focus_plot, saliency_grid

    rows = chosen[figure_at]
    labels = [f"{Path(data.paths[i]).parent.name}/{Path(data.paths[i]).stem}"[:28] for i in rows]
    panels = []
    for entry, result in zip(entries, results, strict=True):
        captions = [
            f"share {_pct(result.share[k])}, focus {_fixed(result.focus[k])}"
            + ("" if result.predicted[k] == data.labels[chosen[k]] else " (wrong)")
            for k in figure_at
        ]
        panels.append({"label": short_name(entry["model"]), "captions": captions, **result.figure})
    paths = saliency_grid(
        out / "saliency_grid",
        [data.images[i] for i in rows],
        [data.masks[i] for i in rows],
        labels,
        panels,
        f"{method}: attribution of the true class (outline: fg_mask)",
    )
    paths += focus_plot(
        out / "saliency_focus",
        [
            {
                "label": short_name(e["model"]),
                "values": r.focus,
                "mean": e["foreground_focus"],
                "ci": e["focus_ci"],
            }
            for e, r in zip(entries, results, strict=True)
        ],
        f"{method}: foreground focus per image, mean and 95% CI",
    )
    return [p.name for p in paths]


def _fixed(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.2f}"


def _pct(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{100 * value:.0f}%"


def saliency(data: str | Path, model: ModelArg | list[ModelArg] = DEFAULT_MODEL,
             config: SaliencyConfig | None = None, *, out: str | Path | None = None,
             quiet: bool = False) -> SaliencyResult:
    """Attribution maps of ``model`` on ``original/<split>`` and their foreground share / focus;
    writes ``saliency.json``, ``saliency.csv`` and the figures into ``out`` when given.

    ``model``: one model or a list of them (compared side by side, each against the first), each a
    spec string, :class:`~bgbench.options.ModelOptions`, torch Classifier or
    :class:`~bgbench.predict.ReadyModel`. ``config``: a :class:`SaliencyConfig` (None: its
    defaults, SmoothGrad on every image of ``val``): the method and its parameters, the image
    subset, the split, the figure rows and the cache. Raises ``BgbenchError`` for a tree without
    ``fg_mask`` or a model without gradients before anything is written."""
    config = config_of(config, SaliencyConfig)
    root = Path(data)
    folders = check_data(root, config.split, "saliency")
    specs = list(model) if isinstance(model, (list, tuple)) else [model]
    predictors = [make_predictor(m, folders) for m in specs]
    for p in predictors:
        require_torch(p.classifier)
    loaded = load_data(root, config.split, cache=config.cache, quiet=quiet, command="saliency")
    chosen = select_images(loaded.labels, config.subset)
    figure_at = figure_rows(loaded.labels[chosen], config.figure_images)
    results = [attribute_model(p, loaded, chosen, config, figure_at, quiet) for p in predictors]
    entries = [_model_entry(p, r, loaded, chosen) for p, r in zip(predictors, results, strict=True)]
    doc: dict[str, Any] = {
        "schema": SaliencyResult.SCHEMA,
        "method": config.method,
        "attribution": config.attribution_json(),
        "models": entries,
        "comparison": _comparison(entries, results),
        "interval_method": "percentile bootstrap over images (10000 resamples)",
        "precision": "fp32",
        **provenance(root, config.split, loaded, chosen, config.subset, str(predictors[0].device)),
        "figures": [],
    }
    return finish(
        SaliencyResult,
        doc,
        out,
        lambda folder: _figures(folder, entries, results, loaded, chosen, figure_at, config.method),
    )
