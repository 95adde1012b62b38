"""``bgbench saliency DATA``: attribution maps and their foreground focus for one or more torch models
(parses options, calls bgbench.explain.saliency)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli.common import CacheChoice, cache_options, default_out, multi_model_options, quiet_option
from bgbench.options import ModelOptions


def register(app: typer.Typer) -> None:
    @app.command("saliency")
    @multi_model_options
    @cache_options
    def saliency_command(
        data: Path = typer.Argument(..., help="Built tree with original/<split> and fg_mask/<split>."),
        method: str = typer.Option("smoothgrad", "--method", help="saliency, smoothgrad, ig or gradcam."),
        images: int = typer.Option(None, "--images", help="Use N images drawn at random (--seed)."),
        per_class: int = typer.Option(None, "--per-class", help="Use the first N images of each class."),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="Folder for saliency.json, saliency.csv and the "
            "figures (default: bgbench-results/saliency-<model>).",
        ),
        split: str = typer.Option("val", "--split", help="Split folder to read."),
        batch_size: int = typer.Option(
            16, "--batch-size", "-b", help="Images (or noisy copies, IG steps) per forward pass."
        ),
        samples: int = typer.Option(16, "--samples", help="SmoothGrad: noisy copies per image."),
        stdev: float = typer.Option(0.15, "--stdev", help="SmoothGrad: noise std on the [0, 1] scale."),
        steps: int = typer.Option(32, "--steps", help="Integrated gradients: integration steps."),
        layer: str = typer.Option(
            None, "--layer", help="Grad-CAM layer (dotted module name; default: the last Conv2d)."
        ),
        figure_images: int = typer.Option(6, "--figure-images", help="Rows of the overlay grid."),
        seed: int = typer.Option(0, "--seed", help="Seed of --images."),
        quiet: bool = quiet_option(),
        models: list[ModelOptions] = None,
        cache: CacheChoice = None,
    ) -> None:
        """Attribution maps (Captum) on original images; share of attribution inside fg_mask and
        foreground focus (share / mask area) per model, with bootstrap intervals."""
        import sys

        from bgbench.explain import saliency

        target = out if out is not None else default_out("saliency", models[0].spec, method)
        result = saliency(
            data,
            models,
            method=method,
            images=images,
            per_class=per_class,
            split=split,
            out=target,
            batch_size=batch_size,
            samples=samples,
            stdev=stdev,
            steps=steps,
            layer=layer,
            seed=seed,
            figure_images=figure_images,
            cache=cache.cache,
            cache_dir=cache.cache_dir,
            quiet=quiet,
        )
        typer.echo(result.summary())
        print(
            f"wrote {target / 'saliency.json'}, saliency.csv and {len(result.figures)} figure files",
            file=sys.stderr,
        )
