"""Explain on real photos: where ``efficientnet_lite0`` looks and what moves it.

On the IN-9 variants built from the real ImageNet photos (``benchmarks/realdata_study.py`` writes
them to ``/tmp/bgbench-realdata/data``; val split, GrabCut masks), this runs

- ``bgbench.saliency`` with SmoothGrad (16 samples) and Grad-CAM on every image: foreground focus
  with a bootstrap interval;
- ``bgbench.probe`` position (3x3 grid), scale (0.5 to 1.5) and noise (sigma 0.125 to 0.75, RFS);

prints the figures, writes every result under OUT, and with ``--figures`` (docs/figures) small PNGs
(:func:`doc_figures`) and a summary JSON.

    python benchmarks/explain_realdata.py [--data /tmp/bgbench-realdata/data]
        [--out /tmp/bgbench-explain-realdata] [--figures docs/figures] [--model efficientnet_lite0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def run(data: Path, out: Path, model: str) -> dict:
    import bgbench

    summary: dict = {"model": model, "data": str(data), "saliency": {}, "probe": {}}
    cpu = bgbench.ModelOptions.of(model, device="cpu")
    for method in ("smoothgrad", "gradcam"):
        res = bgbench.saliency(data, cpu, bgbench.SaliencyConfig(method=method, figure_images=6),
                               out=out / f"saliency-{method}", quiet=True)
        m = res.models[0]
        keys = ("foreground_focus", "focus_ci", "foreground_share", "mask_area", "n", "n_undefined",
                "accuracy", "seconds")
        summary["saliency"][method] = {k: m[k] for k in keys}
    for kind in ("position", "scale", "noise"):
        res = bgbench.probe(data, cpu, bgbench.ProbeConfig(kind), out=out / f"probe-{kind}", quiet=True)
        doc = res.to_json()
        entry = {"n": doc["n"], "cells": {c["setting"]: [c["accuracy"], *c["ci"]] for c in doc["cells"]}}
        if kind == "position":
            entry["center_bias"] = doc["center_bias"]
        if kind == "noise":
            entry["rfs"] = doc["rfs"]
        summary["probe"][kind] = entry
    return summary


def report(summary: dict) -> None:
    for method, m in summary["saliency"].items():
        lo, hi = m["focus_ci"]
        print(f"saliency {method:<10} focus {m['foreground_focus']:.3f} [{lo:.3f}, {hi:.3f}]  share "
              f"{100 * m['foreground_share']:.1f}% on {100 * m['mask_area']:.1f}% of pixels  n={m['n']} "
              f"(undefined {m['n_undefined']})  accuracy {100 * m['accuracy']:.1f}%  {m['seconds']:.0f} s")
    for kind, entry in summary["probe"].items():
        cells = ", ".join(f"{name} {100 * a:.1f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
                          for name, (a, lo, hi) in entry["cells"].items())
        print(f"probe {kind} (n={entry['n']}): {cells}")
        if "center_bias" in entry:
            cb = entry["center_bias"]
            print(f"  center bias {100 * cb['value']:+.1f} points [{100 * cb['ci95'][0]:+.1f}, "
                  f"{100 * cb['ci95'][1]:+.1f}]")
        for r in entry.get("rfs", []):
            print(f"  RFS sigma {r['sigma']:g}: {r['value']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}] "
                  f"(class-balanced acc fg-noise {100 * r['fg_noise_accuracy_balanced']:.1f}%, "
                  f"bg-noise {100 * r['bg_noise_accuracy_balanced']:.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bgbench-realdata/data"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-explain-realdata"))
    parser.add_argument("--figures", type=Path, default=None, help="Copy small PNGs and the summary here.")
    parser.add_argument("--model", default="efficientnet_lite0")
    args = parser.parse_args()
    summary = run(args.data, args.out, args.model)
    report(summary)
    (args.out / "explain_realdata.json").write_text(json.dumps(summary, indent=2))
    if args.figures is not None:
        doc_figures(args.data, args.out, args.figures, args.model)
        (args.figures / "explain_realdata.json").write_text(json.dumps(summary, indent=2) + "\n")


def doc_figures(data: Path, out: Path, folder: Path, model: str) -> None:
    """Small PNGs for docs/explain.md (256 colours): the probe figures of the full runs, and overlay
    grids of the first image of four classes (a separate quick call per method: a six-row grid of
    maps is too large a PNG for a page; the images are those the full run's grid starts with)."""
    import bgbench
    from bgbench.explain.figures import small_png

    folder.mkdir(parents=True, exist_ok=True)
    for method in ("smoothgrad", "gradcam"):
        config = bgbench.SaliencyConfig(method=method, subset=bgbench.ImageSubset(per_class=1),
                                        figure_images=4)
        bgbench.saliency(data, bgbench.ModelOptions.of(model, device="cpu"), config,
                         out=out / f"doc-grid-{method}", quiet=True)
        small_png(out / f"doc-grid-{method}" / "saliency_grid.png", folder / f"explain_lite0_{method}.png",
                  colours=128)
    for kind in ("position", "scale", "noise"):
        small_png(out / f"probe-{kind}" / f"probe_{kind}.png", folder / f"explain_lite0_{kind}.png")
    for name in sorted(folder.glob("explain_lite0_*.png")):
        print(f"  {name}: {name.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
