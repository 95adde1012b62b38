"""``bgbench sweep MODELS DATA``: every model of a models file on every variant, one table
(parses options, calls :func:`bgbench.sweep`)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import (
    CacheChoice,
    bounded,
    cache_options,
    default_out,
    inject_options,
    model_option_specs,
)
from bgbench.options import ModelOptions

#: every model option but the spec (the models file names the models), shared by all models: the
#: command receives them as the fields of one ModelOptions (its spec unused)
shared_model_options = inject_options([s for s in model_option_specs() if s.name != "spec"], "model",
                                      lambda values: ModelOptions.of(None, **values))


def register(app: typer.Typer) -> None:
    @app.command("sweep", no_args_is_help=True)
    @common.output_options("sweep.json")
    @shared_model_options
    @cache_options
    def sweep_command(
        models: Path = typer.Argument(..., help="Models TOML file: [[model]] tables with spec (required), "
                                                "name, imagenet_top1, challenge, notes and any model "
                                                "option (map_rule, preprocess, weights, ...)."),
        data: Path = typer.Argument(..., help="Dataset root holding <variant>/<split>/<class>/<image>."),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="Folder for sweep.json/.csv/.md and one folder per model "
                                      "(default: bgbench-results/sweep-<models file>)."),
        challenge: bool = typer.Option(False, "--challenge",
                                       help="Also run the adversarial-backgrounds challenge per model."),
        challenge_shard: str = typer.Option(None, "--challenge-shard", metavar="I/N",
                                            help="Challenge only foregrounds with index % N == I (a 1-in-N "
                                                 "subsample; complete shards are pooled)."),
        executor: str = common.executor_option("serial", ("serial", "ray"),
                                               "models (one task each, with a GPU when the cluster has any)"),
        workers: int = common.workers_option("models", "all cores", executors=("serial", "ray")),
        variants: str = typer.Option(None, "--variants",
                                     help="Comma list of variants (default: all present)."),
        split: str = common.split_option("val", "Split folder to evaluate."),
        batch_size: int = common.batch_size_option(64, "Images"),
        n_boot: int = typer.Option(10000, "--n-boot", callback=bounded("--n-boot", 1),
                                   help="Bootstrap resamples of the trend's intervals."),
        *, model: ModelOptions, cache: CacheChoice, output: common.Output,
    ) -> None:
        """Evaluate every model of MODELS on DATA (and challenge it): one combined table with the
        ImageNet top-1 trend; finished models are resumed, changed ones re-run."""
        from bgbench.sweeps import SweepConfig, sweep

        config = SweepConfig(challenge=challenge, challenge_shard=challenge_shard, executor=executor,
                             workers=workers, variants=variants, split=split, batch_size=batch_size,
                             cache=cache, n_boot=n_boot, options=model)
        target = out if out is not None else default_out("sweep", models.stem, owner=str(models.absolute()))
        result = sweep(models, data, config, out=target, quiet=output.quiet)
        common.emit(result, output, wrote=[target / result.FILENAME, "sweep.csv", "sweep.md"])
