"""Sections for training runs, saliency and probes (pure, like :mod:`bgbench.reporting.sections`).

Saliency and probe documents are read by their documented fields (``bgbench.saliency/1``:
``method``, ``models`` [{``model``, ``foreground_share``, ``mask_area``, ``foreground_focus``,
``focus_ci``, ``n``}], ``figures``; ``bgbench.probe/1``: ``kind`` position|scale|noise, ``model``,
``n``, ``cells`` [{``setting``, ``accuracy``, ``ci``}], ``center_bias``, ``rfs``, ``figures``), so
they work whether or not this bgbench registers those kinds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bgbench.options import short_name
from bgbench.reporting.rows import Estimate
from bgbench.reporting.sections import FigureSpec, Section, Table, Text, _slug, pct_est
from bgbench.results.base import pct

POSITION = re.compile(r"r(\d+)c(\d+)$")
SETTING = re.compile(r"^[^=]+=\s*(-?[\d.]+(?:e-?\d+)?)$")


def training_section(runs: list[tuple[str, dict[str, Any]]]) -> Section | None:
    """What each training run did and its curves; ``runs``: (name, train.json document)."""
    if not runs:
        return None
    body = []
    for name, doc in runs:
        history = doc.get("history") or []
        last = history[-1] if history else {}
        swap = doc.get("swap")
        spec = (doc.get("model") or {}).get("spec") or doc.get("arch") or "-"
        body.append(
            [
                name,
                spec,
                doc.get("mode", "-"),
                doc.get("variant", "-"),
                "-" if not swap else f"p={swap.get('p')} ({swap.get('classes', 'any')})",
                str(doc.get("n_train", "-")),
                str(len(history)),
                "-" if "loss" not in last else f"{last['loss']:.3f}",
                pct(last.get("train_accuracy")),
                f"{doc.get('train_s', 0):.0f} s",
            ]
        )
    header = [
        "run",
        "model",
        "mode",
        "variant",
        "background swap",
        "images",
        "epochs",
        "final loss",
        "train accuracy",
        "time",
    ]
    data = {"runs": [{"name": name, "history": doc.get("history") or []} for name, doc in runs]}
    items: list[Any] = [Table(header, body)]
    if any(doc.get("history") for _, doc in runs):
        items.insert(
            0,
            FigureSpec("training", "training_curves", data, "Training loss and training accuracy per epoch."),
        )
    return Section("training", "Training runs", items)


def _figure_files(doc: dict[str, Any], folder: Path | None, prefix: str, what: str) -> list[FigureSpec]:
    """The PNG figures a saliency/probe document lists beside itself (missing ones are skipped)."""
    specs = []
    for name in doc.get("figures") or []:
        path = None if folder is None else folder / str(name)
        if path is not None and path.suffix.lower() == ".png" and path.is_file():
            specs.append(
                FigureSpec(
                    f"{prefix}_{_slug(path.stem)}", "image", {"path": str(path)}, f"{what}: {path.name}"
                )
            )
    return specs


def saliency_section(docs: list[tuple[dict[str, Any], Path | None]]) -> Section | None:
    """Where the models look: foreground share of the attribution, per model."""
    if not docs:
        return None
    items: list[Any] = [
        Text(
            "Foreground share: the part of a model's attribution that falls on the foreground mask; "
            "mask area: the part of the image the mask covers; foreground focus (with its 95% interval) "
            "as the saliency result defines it. The attribution method is named under each table."
        )
    ]
    for i, (doc, folder) in enumerate(docs):
        body, plotted = [], []
        for m in doc.get("models", []):
            focus = Estimate.of(m.get("foreground_focus"), m.get("focus_ci"), m.get("n"))
            body.append(
                [
                    str(m.get("model")),
                    pct(m.get("foreground_share")),
                    pct(m.get("mask_area")),
                    "-"
                    if focus is None
                    else f"{focus.value:.3f}"
                    + ("" if focus.low is None else f" [{focus.low:.3f}, {focus.high:.3f}]"),
                    str(m.get("n", "-")),
                ]
            )
            if focus is not None:
                plotted.append(
                    {"name": short_name(str(m.get("model"))), "value": focus.value, "low": focus.low,
                     "high": focus.high}
                )
        items.append(
            Table(
                ["model", "foreground share", "mask area", "foreground focus [95% CI]", "images"],
                body,
                f"method: {doc.get('method', '?')}",
            )
        )
        if plotted:
            items.append(
                FigureSpec(
                    f"saliency_focus_{i}",
                    "saliency_focus",
                    {"models": plotted},
                    f"Foreground focus per model ({doc.get('method', '?')}); whiskers: 95% intervals.",
                )
            )
        items += _figure_files(doc, folder, f"saliency{i}_file", "saliency figure")
    return Section("saliency", "Saliency", items)


def probe_cells(doc: dict[str, Any]) -> dict[str, Any]:
    """Figure data of a probe: a grid of accuracies for ``position`` (settings ``r<i>c<j>``), else a
    curve over the numeric setting (``scale=0.75``, ``bg_noise=0.1``)."""
    cells = doc.get("cells") or []
    if doc.get("kind") == "position":
        grid = {}
        for c in cells:
            match = POSITION.match(str(c.get("setting", "")))
            if match:
                grid[(int(match[1]), int(match[2]))] = c.get("accuracy")
        if grid:
            n_rows = max(r for r, _ in grid) + 1
            n_cols = max(c for _, c in grid) + 1
            return {
                "layout": "grid",
                "values": [[grid.get((r, c)) for c in range(n_cols)] for r in range(n_rows)],
            }
    points = []
    for c in cells:
        match = SETTING.match(str(c.get("setting", "")))
        ci = c.get("ci") or [None, None]
        if match and c.get("accuracy") is not None:
            points.append({"x": float(match[1]), "value": c["accuracy"], "low": ci[0], "high": ci[1]})
    label = str(cells[0].get("setting", "")).split("=", 1)[0] if cells else doc.get("kind", "setting")
    return {"layout": "curve", "points": sorted(points, key=lambda p: p["x"]), "xlabel": label}


def probe_section(docs: list[tuple[dict[str, Any], Path | None]]) -> Section | None:
    """Accuracy as the foreground moves, shrinks or its background gets noisy, per probe run."""
    if not docs:
        return None
    items: list[Any] = []
    for i, (doc, folder) in enumerate(docs):
        kind, model = doc.get("kind", "?"), doc.get("model", "?")
        body = [
            [str(c.get("setting")), pct_est(Estimate.of(c.get("accuracy"), c.get("ci")))]
            for c in doc.get("cells", [])
        ]
        extra = [
            f"{key.replace('_', ' ')} {_number(doc[key])}"
            for key in ("center_bias", "rfs")
            if doc.get(key) is not None
        ]
        items.append(
            Text(
                f"{kind} probe of {model} over {doc.get('n', '?')} images"
                + (f" ({'; '.join(extra)})" if extra else "")
                + "."
            )
        )
        data = probe_cells(doc)
        if data.get("values") or data.get("points"):
            data["title"] = f"{model}: {kind} probe"
            items.append(
                FigureSpec(
                    f"probe_{i}_{_slug(str(kind))}",
                    "probe",
                    data,
                    f"{model}, {kind} probe: accuracy per setting.",
                )
            )
        items.append(Table(["setting", "accuracy [95% CI]"], body))
        items += _figure_files(doc, folder, f"probe{i}_file", f"{kind} probe figure")
    return Section("probe", "Probes", items)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_number(v)}" for k, v in value.items())
    return str(value)
