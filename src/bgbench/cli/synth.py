"""``bgbench synth OUT``: render the synthetic benchmark (parses options, calls bgbench.synth)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, emit, per_class_option, workers_option


def register(app: typer.Typer) -> None:
    @app.command("synth")
    @common.output_options("synth-<split>.json")
    def synth(
        out: Path = typer.Argument(..., help="Output folder (created; a re-run resumes)."),
        per_class: int = per_class_option("N rendered for each of the nine classes", 20, "20"),
        split: str = common.split_option("train", "train or val (different images)."),
        seed: int = typer.Option(0, "--seed", help="Seed; same options give byte-identical files."),
        bg_correlation: float = typer.Option(
            0.9, "--bg-correlation",
            help="Probability that an image's habitat is its class's own (else one of the other eight)."),
        size: int = typer.Option(256, "--size", callback=bounded("--size", 1),
                                 help="Shorter image side in pixels."),
        workers: int = workers_option("images", "1, rendering in this process; the output is the same", 1,
                                      executors=None),
        *, output: common.Output,
    ) -> None:
        """Render synthetic scenes with known foregrounds and a controlled background shortcut."""
        from bgbench.synth import synthesize

        result = synthesize(out, per_class=per_class, split=split, seed=seed, bg_correlation=bg_correlation,
                            size=size, workers=workers, quiet=output.quiet)
        emit(result, output, wrote=[out / split, out / "masks" / split, out / f"synth-{split}.jsonl",
                                     out / result.filename()])
