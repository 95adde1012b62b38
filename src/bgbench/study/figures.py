"""The study's figures (PNG, :mod:`bgbench.plotting`'s set-up): top-1 scatter and checks (a), (b), (d)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_bytes
from bgbench.plotting import figure_bytes, pyplot
from bgbench.study.checks import CHANCE, PAPER_ONLY_BG_T


def _errbar(entry: dict[str, Any]) -> tuple[float, float, float]:
    v, (lo, hi) = entry["value"], entry["ci95"]
    return 100 * v, 100 * (v - lo), 100 * (hi - v)


def plot_scatter(rows: list[dict[str, Any]], checks_c: dict[str, Any], path: Path) -> None:
    """Published top-1 vs mixed_rand accuracy and vs BG-Gap (one point per model, 95% bars)."""
    plt = pyplot()
    have = [r for r in rows if r["published_top1"] is not None and "mixed_rand" in r["accuracy"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    colours = {"builtin": "tab:red", "tflite": "tab:blue", "onnx": "tab:green"}
    panels = ((axes[0], "mixed_rand", "mixed_rand accuracy (%)"), (axes[1], "bg_gap", "BG-Gap (points)"))
    for ax, key, label in panels:
        for r in have:
            e = r["accuracy"]["mixed_rand"] if key == "mixed_rand" else r["bg_gap"]
            if not e:
                continue
            y, lo, hi = _errbar(e)
            ax.errorbar(r["published_top1"], y, yerr=[[lo], [hi]], fmt="o", color=colours.get(r["kind"], "k"),
                        capsize=3, alpha=0.8)
            ax.annotate(r["model"], (r["published_top1"], y), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        est = checks_c.get(key)
        title = label.split(" (")[0]
        if est:
            ci = "" if est["ci95"][0] is None else f" [{est['ci95'][0]:+.2f}, {est['ci95'][1]:+.2f}]"
            title += f": Spearman {est['value']:+.2f}{ci}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("published ImageNet top-1 (%)")
        ax.set_ylabel(label)
        if key == "bg_gap":
            ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
    for kind, colour in colours.items():
        axes[0].plot([], [], "o", color=colour, label=kind)
    axes[0].legend(fontsize=8)
    fig.suptitle("Real photos: better ImageNet models vs background reliance (95% intervals)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    png = figure_bytes(fig, "png", dpi=120)
    pyplot().close(fig)
    atomic_write_bytes(path, png)


def _finish_model_rows(fig: Any, ax: Any, per: list[dict[str, Any]], xlabel: str,
                       title: tuple[str, int, int], path: Path) -> None:
    """One row per model (top down), the x label, the title (text, pad, legend columns), a legend above
    the axes and the figure saved to ``path``."""
    text, pad, columns = title
    ax.set_yticks(range(len(per)), [m["model"] for m in per], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(text, fontsize=10, pad=pad)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=columns, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_check_a(checks_a: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    per = checks_a["per_model"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(per) + 1.8))
    lo_paper, hi_paper = PAPER_ONLY_BG_T
    ax.axvspan(100 * lo_paper, 100 * hi_paper, color="orange", alpha=0.15, label="paper Table 2 (released)")
    ax.axvline(100 * CHANCE, color="k", ls="--", lw=1, label="chance 1/9")
    for i, m in enumerate(per):
        for rule, dy, colour in (("released", -0.15, "tab:blue"), ("restricted", 0.15, "tab:purple")):
            if rule in m:
                x, lo, hi = _errbar(m[rule])
                ax.errorbar(x, i + dy, xerr=[[lo], [hi]], fmt="o", color=colour, capsize=2, ms=4,
                            label=rule if i == 0 else None)
    _finish_model_rows(fig, ax, per, "only_bg_t accuracy (%), 95% Wilson intervals",
                       ("(a) background only: above chance?", 24, 4), path)


def plot_check_b(checks_b: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    per = checks_b["per_model"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(per) + 1.8))
    ax.axvline(0, color="k", lw=1)
    mean = checks_b.get("mean_bootstrap_over_foregrounds") or checks_b.get("mean_over_models_t")
    if mean:
        ax.axvspan(100 * mean["ci95"][0], 100 * mean["ci95"][1], color="tab:red", alpha=0.12,
                   label="mean over models, 95%")
        ax.axvline(100 * mean["value"], color="tab:red", lw=1)
    for i, m in enumerate(per):
        x, lo, hi = _errbar(m)
        ax.errorbar(x, i, xerr=[[lo], [hi]], fmt="o", color="tab:blue", capsize=2, ms=4)
    _finish_model_rows(fig, ax, per, "BG-Gap = mixed_same - mixed_rand (points), paired 95% intervals",
                       ("(b) BG-Gap > 0 for most models?", 18, 1), path)


def plot_check_d(checks_d: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    per = checks_d["per_model"]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.25
    for j, (key, colour) in enumerate((("original", "tab:green"), ("mixed_rand", "tab:orange"),
                                       ("challenge", "tab:red"))):
        for i, m in enumerate(per):
            if m.get(key):
                y, lo, hi = _errbar(m[key])
                ax.bar(i + (j - 1) * width, y, width, color=colour, yerr=[[lo], [hi]], capsize=3,
                       label=key if i == 0 else None)
    ax.set_xticks(range(len(per)), [m["model"] for m in per], fontsize=8)
    ax.set_xlim(-0.5 - 1.5 * width, len(per) - 0.5 + 1.5 * width)
    ax.set_ylabel("accuracy (%), 95% intervals")
    ax.set_ylim(0, 100)
    ax.set_title("(d) challenge accuracy vs original accuracy", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
