"""``bgbench saliency DATA``: attribution maps and their foreground focus for one or more torch models
(parses options into ModelOptions and a SaliencyConfig, calls bgbench.explain.saliency)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import OptionSpec, bounded
from bgbench.options import ModelOptions

ATTRIBUTION_SPECS = [
    OptionSpec("method", ("--method",), str, "saliency, smoothgrad, ig or gradcam.", "smoothgrad"),
    OptionSpec("batch_size", ("--batch-size", "-b"), int, "Images (noisy copies, IG steps) per pass.", 16,
               low=1),
    OptionSpec("samples", ("--samples",), int, "SmoothGrad: noisy copies per image.", 16, low=1),
    OptionSpec("stdev", ("--stdev",), float, "SmoothGrad: noise std on the [0, 1] scale.", 0.15, low=0),
    OptionSpec("steps", ("--steps",), int, "Integrated gradients: integration steps.", 32, low=1),
    OptionSpec("layer", ("--layer",), str, "Grad-CAM layer, a dotted module name (default: last Conv2d)."),
]


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    @common.output_options("saliency.json")
    @common.multi_model_options
    @common.cache_options
    @common.subset_options
    @common.inject_options(ATTRIBUTION_SPECS, "attribution", dict)
    def saliency_command(
        data: Path = typer.Argument(..., help="Built tree with original/<split> and fg_mask/<split>."),
        out: Path = typer.Option(None, "--out", "-o", help="Folder for saliency.json, saliency.csv and the "
                                 "figures (default: bgbench-results/saliency-<model>-<method>)."),
        split: str = common.split_option("val", "Split folder to read."),
        figure_images: int = typer.Option(6, "--figure-images", callback=bounded("--figure-images", 0),
                                          help="Rows of the overlay grid."),
        *, models: list[ModelOptions], cache: common.CacheChoice, subset: common.ImageSubset,
        attribution: dict, output: common.Output,
    ) -> None:
        """Attribution maps (Captum) on original images; share of attribution inside fg_mask and
        foreground focus (share / mask area) per model, with bootstrap intervals."""
        from bgbench.explain import SaliencyConfig, saliency

        config = SaliencyConfig(**attribution, subset=subset, split=split, figure_images=figure_images,
                                cache=cache)
        target = out if out is not None else common.default_out("saliency", models[0].spec, config.method)
        result = saliency(data, models, config, out=target, quiet=output.quiet)
        common.emit(result, output, wrote=[target / result.FILENAME, "saliency.csv",
                                            f"{len(result.figures)} figure files"])
