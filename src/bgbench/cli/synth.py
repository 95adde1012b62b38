"""``bgbench synth OUT``: render the synthetic benchmark (parses options, calls bgbench.synth)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli.common import bounded


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth(
        out: Path = typer.Argument(..., help="Output folder (created; a re-run resumes)."),
        per_class: int = typer.Option(20, "--per-class", callback=bounded("--per-class", 1),
                                      help="Images per class (nine classes)."),
        split: str = typer.Option("train", "--split", help="train or val (different images)."),
        seed: int = typer.Option(0, "--seed", help="Seed; same options give byte-identical files."),
        bg_correlation: float = typer.Option(
            0.9, "--bg-correlation",
            help="Probability that an image's habitat is its class's own (else one of the other eight)."),
        size: int = typer.Option(256, "--size", callback=bounded("--size", 1),
                                 help="Shorter image side in pixels."),
        workers: int = typer.Option(1, "--workers", callback=bounded("--workers", 1),
                                    help="Render in this many processes (same output)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Render synthetic scenes with known foregrounds and a controlled background shortcut."""
        from bgbench.synth import synthesize

        summary = synthesize(out, per_class=per_class, split=split, seed=seed,
                             bg_correlation=bg_correlation, size=size, workers=workers, quiet=quiet)
        typer.echo(
            f"synth {split}: {summary['images']} images ({summary['rendered']} rendered, "
            f"{summary['reused']} reused), {summary['objects']} objects, "
            f"{summary['two_object_images']} two-object images, habitat match "
            f"{summary['habitat_match_rate']:.3f} (requested {bg_correlation:.3f}), "
            f"{summary['images_per_second']:.1f} images/s ({summary['images_per_cpu_second']:.1f} per "
            f"CPU-second) -> {out}/{split}, "
            f"{out}/masks/{split}, {out}/synth-{split}.jsonl")
        if summary["stale_images"]:
            typer.echo(f"warning: {summary['stale_images']} images in {out}/{split} are not part of this run "
                       f"(left from an earlier run with more images or other options; not in "
                       f"synth-{split}.jsonl)", err=True)
