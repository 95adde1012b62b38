"""Does the foreground focus tell a background-reliant model from a background-robust one?

On the synthetic benchmark of ``benchmarks/train_synth.py`` (backgrounds predict the class 90% of
the time), the model trained on ``original`` learnt the background shortcut (BG-Gap about +79
points) and the one trained with the background swap did not (about -3). This script measures, on
every val image of ``original``, the foreground focus (share of |attribution| inside fg_mask divided
by the mask's share of the image; 1 = no preference) of both models with ``bgbench.saliency``, for
SmoothGrad, plain saliency and Grad-CAM, and says whether the two 95% intervals (bootstrap over
images) overlap, and whether the paired per-image difference excludes 0.

    python benchmarks/explain_synth.py [--root /tmp/bgbench-train-synth] [--out /tmp/bgbench-explain-synth]
        [--methods smoothgrad,saliency,gradcam] [--summary docs/figures/explain_synth.json]

``--summary`` also writes small SmoothGrad figures beside the summary (:func:`doc_figures`).

Needs ``ROOT/in9`` (val) and ``ROOT/runs/{original,original_swap}/model.safetensors`` (written by
train_synth.py). Prints one line per method and model, and writes the summary JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RUNS = ("original", "original_swap")


def measure(root: Path, out: Path, method: str) -> dict:
    import bgbench

    models = [bgbench.ModelOptions.of(f"ckpt:{root / 'runs' / run / 'model.safetensors'}", device="cpu")
              for run in RUNS]
    t0 = time.perf_counter()
    result = bgbench.saliency(root / "in9", models, bgbench.SaliencyConfig(method=method, batch_size=64),
                              out=out / method, quiet=True)
    doc = result.to_json()
    rows = {run: {k: m[k] for k in ("foreground_focus", "focus_ci", "foreground_share", "mask_area", "n",
                                     "n_undefined", "accuracy")}
            for run, m in zip(RUNS, doc["models"], strict=True)}
    a, b = (rows[r]["focus_ci"] for r in RUNS)
    comparison = doc["comparison"][0]
    return {"method": method, "models": rows, "intervals_overlap": not (a[1] < b[0] or b[1] < a[0]),
            "paired_difference_swap_minus_original": comparison["difference"],
            "paired_difference_ci95": comparison["ci95"], "seconds": time.perf_counter() - t0,
            "output": str(out / method)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/bgbench-train-synth"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-explain-synth"))
    parser.add_argument("--methods", default="smoothgrad,saliency,gradcam")
    parser.add_argument("--summary", type=Path, default=None, help="Also write the summary JSON here.")
    args = parser.parse_args()
    summary = []
    for method in args.methods.split(","):
        entry = measure(args.root, args.out, method)
        summary.append(entry)
        for run, row in entry["models"].items():
            lo, hi = row["focus_ci"]
            print(f"{method:<10} {run:<14} focus {row['foreground_focus']:.3f} [{lo:.3f}, {hi:.3f}]  "
                  f"share {100 * row['foreground_share']:.1f}% on {100 * row['mask_area']:.1f}% of pixels  "
                  f"n={row['n']} (undefined {row['n_undefined']})  accuracy {100 * row['accuracy']:.1f}%")
        lo, hi = entry["paired_difference_ci95"]
        print(f"{method:<10} swap - original: {entry['paired_difference_swap_minus_original']:+.3f} "
              f"[{lo:+.3f}, {hi:+.3f}] (paired); intervals "
              f"{'overlap' if entry['intervals_overlap'] else 'do not overlap'}; {entry['seconds']:.0f} s")
    text = json.dumps(summary, indent=2)
    (args.out / "explain_synth.json").write_text(text)
    if args.summary is not None:
        args.summary.write_text(text + "\n")
        doc_figures(args.root, args.out, args.summary.parent)


def doc_figures(root: Path, out: Path, folder: Path) -> None:
    """Small SmoothGrad figures for docs/explain.md: the focus plot of the full run, and an overlay grid
    of the first image of four classes (a separate quick call: a six-row grid of noisy maps is too
    large a PNG for a page; the images are those the full run's grid starts with)."""
    import bgbench
    from bgbench.explain.figures import small_png

    models = [bgbench.ModelOptions.of(f"ckpt:{root / 'runs' / run / 'model.safetensors'}", device="cpu")
              for run in RUNS]
    config = bgbench.SaliencyConfig(method="smoothgrad", subset=bgbench.ImageSubset(per_class=1),
                                    figure_images=4)
    bgbench.saliency(root / "in9", models, config, out=out / "doc-grid", quiet=True)
    small_png(out / "doc-grid" / "saliency_grid.png", folder / "explain_synth_saliency_grid.png", colours=128)
    small_png(out / "smoothgrad" / "saliency_focus.png", folder / "explain_synth_saliency_focus.png")


if __name__ == "__main__":
    main()
