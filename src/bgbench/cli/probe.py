"""``bgbench probe DATA``: accuracy with the foreground moved, rescaled or with noise on the
foreground or background only (parses options into ModelOptions and a ProbeConfig, calls
bgbench.explain.probe)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import (
    CacheChoice,
    ImageSubset,
    bounded,
    cache_options,
    default_out,
    emit,
    model_options,
    subset_options,
)
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions


def _floats(text: str | None, what: str) -> dict[str, tuple[float, ...]]:
    """``{what: (floats...)}`` from a comma list (empty when not given)."""
    if text is None:
        return {}
    try:
        return {what: tuple(float(x) for x in text.split(",") if x.strip())}
    except ValueError as exc:
        raise BgbenchError(f"--{what} must be a comma list of numbers, got {text!r}") from exc


def register(app: typer.Typer) -> None:
    @app.command("probe")
    @common.output_options("probe.json")
    @model_options
    @cache_options
    @subset_options
    def probe_command(
        data: Path = typer.Argument(..., help="Built tree with original, only_bg_t and fg_mask."),
        kind: str = typer.Option(..., "--kind", help="position (a grid of places), scale or noise."),
        out: Path = typer.Option(None, "--out", "-o", help="Folder for probe.json, probe.csv and the figure "
                                 "(default: bgbench-results/probe-<model>-<kind>)."),
        split: str = common.split_option("val", "Split folder to read."),
        grid: int = typer.Option(3, "--grid", callback=bounded("--grid", 2),
                                 help="position: cells per side."),
        factors: str = typer.Option(None, "--factors", help="scale: comma list (default 0.5 to 1.5)."),
        sigmas: str = typer.Option(None, "--sigmas", help="noise: comma list of std on the [0, 1] scale "
                                   "(default 0.125,0.25,0.5,0.75)."),
        batch_size: int = common.batch_size_option(64, "Composites"),
        *, model: ModelOptions, cache: CacheChoice, subset: ImageSubset, output: common.Output,
    ) -> None:
        """Accuracy per probe setting (Wilson intervals), center bias (position) or RFS (noise)."""
        from bgbench.explain import ProbeConfig, probe

        config = ProbeConfig(kind, split=split, batch_size=batch_size, grid=grid, subset=subset, cache=cache,
                             **_floats(factors, "factors"), **_floats(sigmas, "sigmas"))
        target = out if out is not None else default_out("probe", model.spec, kind)
        result = probe(data, model, config, out=target, quiet=output.quiet)
        emit(result, output,
             wrote=[target / result.FILENAME, "probe.csv", f"{len(result.figures)} figure files"])
