"""``bgbench eval DATA``: evaluate a classifier on every variant (parses options, calls bgbench.evaluate)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, cache_options, default_out, model_options
from bgbench.config import CacheChoice
from bgbench.options import ModelOptions


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @common.output_options("eval.json")
    @model_options
    @cache_options
    def eval_command(
        data: Path = typer.Argument(..., help="Dataset root holding <variant>/<split>/<class>/<image>."),
        variants: str = typer.Option(None, "--variants",
                                     help="Comma list of variants (default: all present)."),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="Folder for eval.json and eval.csv "
                                      "(default: bgbench-results/eval-<model>)."),
        split: str = common.split_option("val", "Split folder to evaluate."),
        batch_size: int = common.batch_size_option(64, "Images"),
        no_resume: bool = typer.Option(False, "--no-resume",
                                       help="Recompute every variant (default: reuse OUT/partial/ of an "
                                            "interrupted run with the same model, weights and data)."),
        draws: int = typer.Option(None, "--draws", callback=bounded("--draws", 1, None),
                                  help="Also composite mixed_same/rand/next on the fly with K seeded donor "
                                       "backgrounds per foreground (accuracy over all composites, "
                                       "intervals by a bootstrap over foregrounds)."),
        draw_seed: int = typer.Option(0, "--draw-seed", help="Seed of the --draws donors."),
        group_min: int = typer.Option(10, "--group-min", callback=bounded("--group-min", 1),
                                      help="Least images of a foreground x background group for it to count "
                                           "as the worst group (group analysis of the mixed variants)."),
        *, model: ModelOptions, cache: CacheChoice, output: common.Output,
    ) -> None:
        """Evaluate a classifier on every variant: accuracy with 95% intervals, BG-Gap, per-class."""
        from bgbench.eval import EvalConfig, evaluate

        config = EvalConfig(variants=variants, split=split, batch_size=batch_size, cache=cache,
                            resume=not no_resume, draws=draws, draw_seed=draw_seed, group_min=group_min)
        target = out if out is not None else default_out("eval", model.spec)
        result = evaluate(data, model, config, out=target, quiet=output.quiet)
        common.emit(result, output, wrote=[target / result.FILENAME, target / result.CSV_NAME])
