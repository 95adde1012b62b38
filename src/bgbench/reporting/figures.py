"""The report's figures (matplotlib, Agg backend): each drawer takes a :class:`FigureSpec`'s data
and returns a Figure drawn in :func:`bgbench.plotting.figure_style`; :func:`render` saves it as
PNG (modest dpi) and SVG. ``"image"`` specs embed an existing PNG (a challenge gallery, a saliency
figure), downscaled when large. Accuracies in the data are fractions; axes show percent."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bgbench import plotting as style
from bgbench.reporting.mosaic import backgrounds, variant_grid


@dataclass(frozen=True)
class Rendered:
    """A drawn figure: PNG bytes (for the HTML and the files folder) and SVG bytes (None for an
    embedded raster image)."""

    png: bytes
    svg: bytes | None
    width: int
    height: int
    #: what the HTML embeds (PNG, or JPEG for photographs) and its MIME type
    embed: bytes = b""
    mime: str = "image/png"


def _colour(data: dict[str, Any], name: str, i: int) -> str:
    """The model's colour from the report-wide ``palette`` (same model, same colour in every figure)."""
    return (data.get("palette") or {}).get(name) or style.colour(i)


def _err(values: list[dict[str, Any] | None]) -> tuple[np.ndarray, np.ndarray]:
    """(values, 2 x N asymmetric error bars) in percent; NaN where missing."""
    v = np.array([np.nan if e is None else e["value"] for e in values], dtype=float) * 100
    lo = (
        np.array([np.nan if e is None or e.get("low") is None else e["low"] for e in values], dtype=float)
        * 100
    )
    hi = (
        np.array([np.nan if e is None or e.get("high") is None else e["high"] for e in values], dtype=float)
        * 100
    )
    return v, np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0)


def _bars(ax: Any, groups: list[str], series: list[tuple[str, list[dict[str, Any] | None], str]]) -> None:
    """Grouped bars: one group per label in ``groups``, one bar per series (name, estimates, colour)."""
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (name, values, col) in enumerate(series):
        v, err = _err(values)
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            np.nan_to_num(v),
            width,
            yerr=err,
            color=col,
            label=name,
            error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"},
            edgecolor="white",
            linewidth=0.4,
        )
    ax.set_xticks(
        x, groups, rotation=20 if len(groups) > 5 else 0, ha="right" if len(groups) > 5 else "center"
    )


def accuracy_bars(plt: Any, data: dict[str, Any]) -> Any:
    variants, models = data["variants"], data["models"]
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH, 3.8))
    _bars(
        ax,
        variants,
        [
            (m["name"], [m["accuracy"].get(v) for v in variants], _colour(data, m["name"], i))
            for i, m in enumerate(models)
        ],
    )
    ax.axhline(100 / 9, color="#555555", linestyle=":", linewidth=1, label="chance (1/9)")
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(4, len(models) + 1), frameon=False)
    fig.tight_layout()
    return fig


def accuracy_heatmap(plt: Any, data: dict[str, Any]) -> Any:
    variants, models = data["variants"], data["models"]
    values = np.array(
        [
            [np.nan if m["accuracy"].get(v) is None else 100 * m["accuracy"][v]["value"] for v in variants]
            for m in models
        ]
    )
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH, 1.2 + style.ROW_HEIGHT * len(models)))
    _heatmap(fig, ax, values, aspect="auto", fontsize=8, fraction=0.03)
    ax.set_xticks(range(len(variants)), variants, rotation=20, ha="right")
    ax.set_yticks(range(len(models)), [m["name"] for m in models])
    fig.tight_layout()
    return fig


def _heatmap(
    fig: Any,
    ax: Any,
    values: np.ndarray,
    *,
    aspect: str = "equal",
    fontsize: int = 9,
    fraction: float = 0.046,
) -> None:
    """Accuracies in percent (NaN = not measured) as a 0-100 heat map, each cell annotated."""
    image = ax.imshow(values, cmap=style.HEATMAP, vmin=0, vmax=100, aspect=aspect)
    ax.grid(False)
    for (r, c), value in np.ndenumerate(values):
        if not np.isnan(value):
            ax.text(
                c,
                r,
                f"{value:.0f}",
                ha="center",
                va="center",
                fontsize=fontsize,
                color="black" if value > 55 else "white",
            )
    fig.colorbar(image, ax=ax, label="accuracy (%)", fraction=fraction, pad=0.03)


def _points(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    err: np.ndarray,
    col: str,
    label: str,
    marker: str = "o",
    horizontal: bool = False,
) -> None:
    """Markers with 95% whiskers (``err``: 2 x N, along x when ``horizontal``, else along y)."""
    whiskers = {"xerr": err} if horizontal else {"yerr": err}
    ax.errorbar(
        x,
        y,
        fmt=marker,
        color=col,
        label=label,
        capsize=2,
        markersize=5 if horizontal else 4,
        elinewidth=0.9,
        **whiskers,
    )


def _dot_rows(
    ax: Any, names: list[str], series: list[tuple[str, list[dict[str, Any] | None], str, str]]
) -> None:
    """Horizontal dot-and-whisker rows: one row per name, one marker per series (label, values,
    colour, marker)."""
    y = np.arange(len(names))
    offset = 0.18 if len(series) > 1 else 0.0
    for i, (label, values, col, marker) in enumerate(series):
        v, err = _err(values)
        keep = ~np.isnan(v)
        if keep.any():
            _points(
                ax,
                v[keep],
                y[keep] + (i - (len(series) - 1) / 2) * offset,
                err[:, keep],
                col,
                label,
                marker,
                horizontal=True,
            )
    ax.set_yticks(y, names)
    ax.invert_yaxis()


def accuracy_dots(plt: Any, data: dict[str, Any]) -> Any:
    """Many models on one or two variants: a dot per model and variant with its interval."""
    variants, models = data["variants"], data["models"]
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH * 0.75, 1.3 + style.ROW_HEIGHT * 1.4 * len(models)))
    series = [
        (v, [m["accuracy"].get(v) for m in models], style.variant_colour(v, i), "os"[i % 2])
        for i, v in enumerate(variants)
    ]
    _dot_rows(ax, [m["name"] for m in models], series)
    ax.axvline(100 / 9, color="#555555", linestyle=":", linewidth=1, label="chance (1/9)")
    ax.set_xlabel("accuracy (%)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, ncol=3)
    fig.tight_layout()
    return fig


def bg_gap(plt: Any, data: dict[str, Any]) -> Any:
    models = data["models"]
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH * 0.75, 1.3 + style.ROW_HEIGHT * 1.4 * len(models)))
    series = [("one donor background (Newcombe interval)", [m["gap"] for m in models], style.colour(0), "o")]
    if any(m["draws"] for m in models):
        series.append(
            ("over donor draws (bootstrap interval)", [m["draws"] for m in models], style.colour(1), "s")
        )
    _dot_rows(ax, [m["name"] for m in models], series)
    ax.axvline(0, color="#555555", linewidth=1)
    ax.set_xlabel("BG-Gap = acc(mixed_same) − acc(mixed_rand)  (points)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def _scatter_fit(
    ax: Any, x: np.ndarray, values: list[dict[str, Any] | None], col: str, label: str, marker: str = "o"
) -> None:
    """Points with 95% whiskers and a least-squares line (dashed) through them."""
    v, err = _err(values)
    keep = ~np.isnan(v)
    _points(ax, x[keep], v[keep], err[:, keep], col, label, marker)
    if keep.sum() >= 3 and np.ptp(x[keep]) > 0:
        slope, intercept = np.polyfit(x[keep], v[keep], 1)
        span = np.array([x[keep].min(), x[keep].max()])
        ax.plot(span, slope * span + intercept, "--", color=col, linewidth=1, alpha=0.8)


def progress(plt: Any, data: dict[str, Any]) -> Any:
    models = sorted(data["models"], key=lambda m: m["top1"])
    x = np.array([m["top1"] for m in models], dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 3.8))
    for i, variant in enumerate(data["variants"]):
        _scatter_fit(
            left, x, [m["accuracy"].get(variant) for m in models], style.variant_colour(variant, i), variant
        )
    left.set_xlabel("published ImageNet top-1 (%)")
    left.set_ylabel("IN-9 accuracy (%)")
    left.legend(frameon=False)
    left.set_title(data.get("left_title", ""), fontsize=10)
    _scatter_fit(right, x, [m["gap"] for m in models], style.colour(3), "BG-Gap")
    right.axhline(0, color="#555555", linewidth=1)
    right.set_xlabel("published ImageNet top-1 (%)")
    right.set_ylabel("BG-Gap (points)")
    right.set_title(data.get("right_title", ""), fontsize=10)
    fig.tight_layout()
    return fig


def per_class_fooled(plt: Any, data: dict[str, Any]) -> Any:
    classes, models = data["classes"], data["models"]
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH, 3.6))
    labels = [c.split("_", 1)[-1] for c in classes]
    _bars(
        ax,
        labels,
        [
            (m["name"], [m["rates"].get(c) for c in classes], _colour(data, m["name"], i))
            for i, m in enumerate(models)
        ],
    )
    ax.set_ylim(0, 105)
    ax.set_ylabel("foregrounds fooled (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(4, len(models)), frameon=False)
    fig.tight_layout()
    return fig


def training_curves(plt: Any, data: dict[str, Any]) -> Any:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 3.4))
    for i, run in enumerate(data["runs"]):
        epochs = [h["epoch"] for h in run["history"]]
        kw = {
            "color": _colour(data, run["name"], i),
            "linestyle": style.line_style(i),
            "marker": "o",
            "markersize": 3,
            "label": run["name"],
        }
        loss_ax.plot(epochs, [h.get("loss") for h in run["history"]], **kw)
        acc_ax.plot(
            epochs,
            [
                100 * h["train_accuracy"] if h.get("train_accuracy") is not None else np.nan
                for h in run["history"]
            ],
            **kw,
        )
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("training accuracy (%)")
    acc_ax.set_ylim(0, 102)
    acc_ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def saliency_focus(plt: Any, data: dict[str, Any]) -> Any:
    models = data["models"]
    fig, ax = plt.subplots(figsize=(style.FULL_WIDTH * 0.7, 1.2 + style.ROW_HEIGHT * 1.4 * len(models)))
    values = [
        {
            "value": m["value"] / 100,
            "low": None if m["low"] is None else m["low"] / 100,
            "high": None if m["high"] is None else m["high"] / 100,
        }
        for m in models
    ]
    _dot_rows(ax, [m["name"] for m in models], [("foreground focus", values, style.colour(2), "o")])
    ax.set_xlabel("foreground focus")
    fig.tight_layout()
    return fig


def probe(plt: Any, data: dict[str, Any]) -> Any:
    if data["layout"] == "grid":
        values = np.array([[np.nan if v is None else 100 * v for v in row] for row in data["values"]])
        fig, ax = plt.subplots(figsize=(1.2 + 0.9 * values.shape[1], 0.8 + 0.8 * values.shape[0]))
        _heatmap(fig, ax, values)
        ax.set_xticks(range(values.shape[1]), [f"col {c}" for c in range(values.shape[1])])
        ax.set_yticks(range(values.shape[0]), [f"row {r}" for r in range(values.shape[0])])
    else:
        points = data["points"]
        fig, ax = plt.subplots(figsize=(style.FULL_WIDTH * 0.6, 3.2))
        v, err = _err(points)
        ax.errorbar([p["x"] for p in points], v, yerr=err, fmt="o-", color=style.colour(0), capsize=2)
        ax.set_xlabel(data.get("xlabel") or "setting")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 102)
    ax.set_title(data.get("title", ""))
    fig.tight_layout()
    return fig


def group_heatmap(plt: Any, data: dict[str, Any]) -> Any:
    """Accuracy per foreground x background group (a group-table document plus ``class_names``):
    cells annotated with accuracy and count, hatched below ``min_count``, the worst group outlined."""
    from matplotlib.patches import Rectangle

    counts = np.array(data["counts"], dtype=float)
    correct = np.array(data["correct"], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, 100 * correct / np.maximum(counts, 1), np.nan)
    labels = [c.split("_", 1)[-1] for c in data["class_names"]]
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    image = ax.imshow(values, cmap=style.HEATMAP, vmin=0, vmax=100)
    ax.grid(False)
    for (r, c), value in np.ndenumerate(values):
        if np.isnan(value):
            continue
        colour = "black" if value > 55 else "white"
        ax.text(c, r - 0.12, f"{value:.0f}", ha="center", va="center", fontsize=8, color=colour)
        ax.text(c, r + 0.28, f"n={int(counts[r, c])}", ha="center", va="center", fontsize=5.5, color=colour)
        if counts[r, c] < data["min_count"]:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="//", linewidth=0,
                                   edgecolor="#bbbbbb"))
    worst = data.get("worst")
    if worst:
        r, c = data["class_names"].index(worst["foreground"]), data["class_names"].index(worst["background"])
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, linewidth=2.2,
                               edgecolor=style.colour(3)))
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("background class (donor)")
    ax.set_ylabel("foreground class (label)")
    ax.set_title(f"{data['name']}: {data['label']}", fontsize=10)
    fig.colorbar(image, ax=ax, label="accuracy (%)", fraction=0.046, pad=0.03)
    fig.tight_layout()
    return fig


DRAWERS = {
    f.__name__: f
    for f in (
        accuracy_bars,
        group_heatmap,
        accuracy_dots,
        accuracy_heatmap,
        bg_gap,
        progress,
        per_class_fooled,
        variant_grid,
        backgrounds,
        training_curves,
        saliency_focus,
        probe,
    )
}


#: drawers whose figures are photographs: the HTML embeds them as JPEG (far smaller than PNG)
PHOTO_DRAWERS = frozenset({"variant_grid", "backgrounds", "image"})
JPEG_QUALITY = 85


def _as_jpeg(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as handle:
        image = handle.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def embed_png(path: str | Path, max_px: int = style.MAX_EMBED_PX) -> Rendered:
    """An existing image as PNG bytes, downscaled so its longer side is at most ``max_px``."""
    from PIL import Image

    with Image.open(path) as handle:
        image = handle.convert("RGBA" if handle.mode in ("RGBA", "LA", "P") else "RGB")
    image.thumbnail((max_px, max_px))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return Rendered(buffer.getvalue(), None, image.width, image.height)


def _draw(draw: str, data: dict[str, Any]) -> Rendered:
    if draw == "image":
        return embed_png(data["path"])
    with style.figure_style() as plt:
        fig = DRAWERS[draw](plt, data)
        png, svg = style.figure_bytes(fig, "png", pad=0.08), style.figure_bytes(fig, "svg", pad=0.08)
        plt.close(fig)
    width, height = _png_size(png)
    return Rendered(png, svg, width, height)


def render(draw: str, data: dict[str, Any]) -> Rendered:
    """Draw the figure ``draw`` (a :data:`DRAWERS` name, or ``"image"``) from ``data``; photographs
    are embedded as JPEG, plots as PNG."""
    drawn = _draw(draw, data)
    if draw in PHOTO_DRAWERS:
        return replace(drawn, embed=_as_jpeg(drawn.png), mime="image/jpeg")
    return replace(drawn, embed=drawn.png, mime="image/png")


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
