"""Figures of saliency and the probes (matplotlib, Agg): each written as PNG and SVG.

Colours are colour-blind safe (:mod:`bgbench.plotting`, bgbench's one style): maps use ``inferno``
(perceptually uniform, readable in grey), the mask outline and the curves the Okabe-Ito palette, and
curves also differ by marker and line style.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_write_bytes
from bgbench.options import short_name
from bgbench.plotting import LINE_STYLES, MAP_CMAP, MARKERS, colour, pyplot, save_figure

#: the foreground mask's outline (sky blue of the Okabe-Ito palette)
MASK_COLOUR = "#56B4E9"


def _normalised(attribution: np.ndarray) -> np.ndarray:
    """A map scaled to [0, 1] by its 99th percentile (so one hot pixel does not flatten the rest)."""
    top = float(np.quantile(attribution, 0.99))
    return np.clip(attribution / top, 0.0, 1.0) if top > 0 else np.zeros_like(attribution)


def _grey(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0


def saliency_grid(
    stem: str | Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    row_labels: list[str],
    panels: list[dict[str, Any]],
    title: str,
    dpi: int = 80,
) -> list[Path]:
    """One row per image: the image with its mask outlined, then one overlay per model.

    ``images`` uint8 (H, W, 3) and ``masks`` (H, W) per row; ``panels`` one per model, each with
    ``label`` (column title), ``images`` / ``masks`` / ``maps`` (per row, on the model's grid) and
    ``captions`` (per row)."""
    plt = pyplot()
    rows, cols = len(images), 1 + len(panels)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.1 * cols, 2.2 * rows + 0.6), squeeze=False, layout="constrained"
    )
    for r in range(rows):
        ax = axes[r][0]
        ax.imshow(images[r])
        ax.contour(masks[r], levels=[0.5], colors=MASK_COLOUR, linewidths=1.2)
        ax.set_title(("image, fg_mask outlined\n" if r == 0 else "") + row_labels[r], fontsize=8)
        for c, panel in enumerate(panels, start=1):
            ax = axes[r][c]
            ax.imshow(_grey(panel["images"][r]), cmap="gray", vmin=0, vmax=1)
            ax.imshow(_normalised(panel["maps"][r]), cmap=MAP_CMAP, alpha=0.6, vmin=0, vmax=1)
            ax.contour(panel["masks"][r], levels=[0.5], colors=MASK_COLOUR, linewidths=0.9)
            head = f"{panel['label']}\n" if r == 0 else ""
            ax.set_title(head + panel["captions"][r], fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem, dpi=dpi)


def focus_plot(stem: str | Path, models: list[dict[str, Any]], title: str) -> list[Path]:
    """Per model, each image's foreground focus (dots) and the mean with its 95% interval (bar);
    ``models``: dicts with ``label``, ``values`` (float (N,), NaN skipped), ``mean``, ``ci``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(models), 3.4))
    rng = np.random.default_rng(0)
    for i, m in enumerate(models):
        values = np.asarray(m["values"], dtype=float)
        values = values[~np.isnan(values)]
        series_colour = colour(i)
        ax.scatter(
            i + rng.uniform(-0.18, 0.18, values.size), values, s=8, alpha=0.45, color=series_colour,
            linewidths=0,
        )
        lo, hi = m["ci"]
        if m["mean"] is not None and lo is not None:
            ax.errorbar(
                [i + 0.3],
                [m["mean"]],
                yerr=[[m["mean"] - lo], [hi - m["mean"]]],
                fmt=MARKERS[i % len(MARKERS)],
                color="black",
                capsize=4,
                markersize=6,
            )
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(models)), [m["label"] for m in models], fontsize=8)
    ax.set_ylabel("foreground focus (share / mask area)", fontsize=9)
    ax.set_title(title, fontsize=9)
    ax.text(
        0.01, 0.99, "dotted: 1.0 = no preference", transform=ax.transAxes, fontsize=7, va="top", color="0.3"
    )
    fig.tight_layout()
    return save_figure(fig, stem)


def position_heatmap(
    stem: str | Path, accuracy: np.ndarray, ci: np.ndarray, title: str, subtitle: str = ""
) -> list[Path]:
    """A grid x grid heatmap of accuracy per cell (``accuracy`` (g, g), ``ci`` (g, g, 2); fractions),
    each cell labelled with its percentage and interval."""
    plt = pyplot()
    g = accuracy.shape[0]
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    image = ax.imshow(accuracy, cmap="cividis", vmin=0.0, vmax=1.0)
    for r in range(g):
        for c in range(g):
            text_colour = "black" if accuracy[r, c] > 0.6 else "white"
            ax.text(
                c,
                r,
                f"{100 * accuracy[r, c]:.0f}%\n[{100 * ci[r, c, 0]:.0f}, {100 * ci[r, c, 1]:.0f}]",
                ha="center",
                va="center",
                fontsize=9,
                color=text_colour,
            )
    ax.set_xticks(range(g), [f"col {c}" for c in range(g)], fontsize=8)
    ax.set_yticks(range(g), [f"row {r}" for r in range(g)], fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="accuracy")
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, stem)


def curves(
    stem: str | Path,
    x: list[float],
    series: list[dict[str, Any]],
    xlabel: str,
    title: str,
    reference: float | None = None,
    reference_label: str = "",
) -> list[Path]:
    """Accuracy against ``x`` per series (dicts with ``label``, ``accuracy``, ``low``, ``high``:
    fractions per x), with interval bands; ``reference``: a horizontal dashed line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for i, s in enumerate(series):
        series_colour = colour(i)
        ax.fill_between(x, s["low"], s["high"], color=series_colour, alpha=0.18, linewidth=0)
        ax.plot(
            x, s["accuracy"], marker=MARKERS[i % len(MARKERS)], linestyle=LINE_STYLES[i % len(LINE_STYLES)],
            color=series_colour, label=s["label"]
        )
    if reference is not None:
        ax.axhline(reference, color="0.3", linestyle="--", linewidth=1, label=reference_label)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("accuracy (95% Wilson band)", fontsize=9)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save_figure(fig, stem)


def _cell(doc: dict[str, Any], setting: str) -> dict[str, Any]:
    return next(c for c in doc["cells"] if c["setting"] == setting)


def _series(doc: dict[str, Any], settings: list[str], label: str) -> dict[str, Any]:
    cells = [_cell(doc, s) for s in settings]
    return {
        "label": label,
        "accuracy": [c["accuracy"] for c in cells],
        "low": [c["ci"][0] for c in cells],
        "high": [c["ci"][1] for c in cells],
    }


def probe_figures(out: Path, doc: dict[str, Any]) -> list[str]:
    """The figure of a probe document (probe.json's fields): the position heatmap, the scale curve,
    or the noise curves; returns the file names written into ``out``."""
    head = f"{short_name(doc['model'], 40)}, n = {doc['n']}"
    if doc["kind"] == "position":
        g = doc["settings"]["grid"]
        acc = np.array([[_cell(doc, f"r{r}c{c}")["accuracy"] for c in range(g)] for r in range(g)])
        ci = np.array([[_cell(doc, f"r{r}c{c}")["ci"] for c in range(g)] for r in range(g)])
        cb = doc["center_bias"]
        sub = (
            f"center bias {100 * cb['value']:+.1f} pts "
            f"[{100 * cb['ci95'][0]:+.1f}, {100 * cb['ci95'][1]:+.1f}]"
            if cb["ci95"][0] is not None
            else ""
        )
        sub += f"; in place {100 * _cell(doc, 'in_place')['accuracy']:.0f}%"
        paths = position_heatmap(out / "probe_position", acc, ci, f"foreground position: {head}", sub)
    elif doc["kind"] == "scale":
        factors = doc["settings"]["factors"]
        series = [
            _series(doc, [f"scale={f:g}" for f in factors], "foreground rescaled on its own background")
        ]
        paths = curves(
            out / "probe_scale", factors, series, "scale factor of the foreground", f"scale: {head}"
        )
    else:
        sigmas = doc["settings"]["sigmas"]
        rfs = ", ".join(f"{r['value']:+.2f}" for r in doc["rfs"])
        series = [
            _series(doc, [f"fg_noise={s:g}" for s in sigmas], "noise on the foreground"),
            _series(doc, [f"bg_noise={s:g}" for s in sigmas], "noise on the background"),
        ]
        paths = curves(
            out / "probe_noise",
            sigmas,
            series,
            "noise sigma (on the [0, 1] scale)",
            f"noise: {head}\nRFS per sigma: {rfs}",
            reference=_cell(doc, "clean")["accuracy"],
            reference_label="clean",
        )
    return [p.name for p in paths]


def small_png(source: str | Path, target: str | Path, width: int = 900, colours: int = 256) -> int:
    """Write ``source`` (a PNG) to ``target`` at most ``width`` pixels across with a ``colours``
    palette (for documentation pages: a fraction of the size); returns the new file's size in bytes."""
    from PIL import Image

    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    buffer = io.BytesIO()
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buffer, format="png", optimize=True)
    atomic_write_bytes(target, buffer.getvalue())
    return len(buffer.getvalue())
