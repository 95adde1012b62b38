"""``bgbench build SOURCE OUT``: parse options, call :func:`bgbench.builder.build_dataset`, print it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, emit, executor_option, per_class_option, workers_option


def _config(preset: str | None, executor: str, workers: int | None, chosen: dict[str, Any]):
    """The BuildConfig of the command line: ``preset``'s settings (or the defaults) with every option
    given (``chosen``, None: not given) on top, run by ``executor`` with ``workers``."""
    from dataclasses import replace

    from bgbench.builder import BuildConfig, BuildRun

    base = BuildConfig.preset(preset) if preset is not None else BuildConfig()
    given = {k: v for k, v in chosen.items() if v is not None}
    return replace(base, run=BuildRun(executor, workers), **given)


def register(app: typer.Typer) -> None:
    @app.command("build")
    @common.output_options("build.json")
    def build(
        source: Path = typer.Argument(..., help="Source dataset (ImageNet tree, VOC, COCO, folder, synth)."),
        out: Path = typer.Argument(..., help="Output folder (released IN-9 layout; a re-run resumes)."),
        source_format: str = typer.Option("imagenet", "--source-format", help="imagenet|voc|coco|folder."),
        segmenter: str = typer.Option(None, "--segmenter", help="grabcut (default) | box | mask."),
        split: str = common.split_option(None, "val (default) | train (the in9l preset's)."),
        per_class: int = per_class_option("the first N of each class, in its ranked order (seeded), that "
                                          "pass the filters: a balanced build"),
        workers: int = workers_option("images", "all cores"),
        executor: str = executor_option("process", ("serial", "process", "ray"), "images"),
        seed: int = typer.Option(0, "--seed", help="Seed of GrabCut and donor choice."),
        grabcut_iters: int = typer.Option(None, "--grabcut-iters", callback=bounded("--grabcut-iters", 1),
                                          help="GrabCut iterations (5)."),
        grabcut_tries: int = typer.Option(None, "--grabcut-tries", callback=bounded("--grabcut-tries", 1),
                                          help="GrabCut attempts (10)."),
        max_box_fraction: float = typer.Option(
            None, "--max-box-fraction", callback=bounded("--max-box-fraction", 0, 1, low_open=True),
                help="Drop images whose box covers more of the crop (0.9)."),
        min_box_inside: float = typer.Option(
            None, "--min-box-inside", callback=bounded("--min-box-inside", 0, 1),
                help="Drop images with less of the resized box inside the crop (0.5)."),
        size: int = typer.Option(None, "--size", callback=bounded("--size", 8),
                                 help="Output side in pixels (224)."),
        resize: int = typer.Option(None, "--resize", callback=bounded("--resize", 8),
                                   help="Shorter side before the centre crop (256)."),
        single_box: bool = typer.Option(
            None, "--single-box/--any-boxes", help="Paper filter: exactly one box."),
        preset: str = typer.Option(
            None, "--preset", help="released: the authors' settings; in9l: the IN-9L training set (every "
            "image of the classes, boxed or not, in original; box variants for the boxed ones; "
            "--split train)."),
        masks: Path = typer.Option(None, "--masks", help="Folder of provided masks."),
        class_map: Path = typer.Option(None, "--class-map", help="JSON {dataset class: benchmark class}."),
        jpeg_quality: int = typer.Option(None, "--jpeg-quality", callback=bounded("--jpeg-quality", 1, 100),
                                         help="JPEG quality of the outputs (95)."),
        *, output: common.Output,
    ) -> None:
        """Build original, only_bg_b/t, no_fg, only_fg, mixed_same/rand/next and fg_mask from SOURCE."""
        from bgbench.builder import build_dataset

        config = _config(preset, executor, workers, {
            "source_format": source_format, "segmenter": segmenter, "split": split, "per_class": per_class,
            "seed": seed, "grabcut_iters": grabcut_iters, "grabcut_tries": grabcut_tries,
            "max_box_fraction": max_box_fraction, "min_box_inside": min_box_inside, "size": size,
            "resize": resize, "single_box": single_box, "masks": masks, "class_map": class_map,
            "jpeg_quality": jpeg_quality})
        result = build_dataset(source, out, config, quiet=output.quiet)
        emit(result, output, wrote=[result.out / result.FILENAME, "manifest.jsonl"])

