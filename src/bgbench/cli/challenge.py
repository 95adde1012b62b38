"""``bgbench challenge DATA``: the adversarial-backgrounds challenge (parses options, calls
bgbench.challenge.run_challenge / merge_shards)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, cache_options, default_out, model_options
from bgbench.config import CacheChoice
from bgbench.options import ModelOptions


def _shard_folders(merge: list[Path], out: Path | None) -> list[Path]:
    """The folders ``--merge`` names (each entry a folder or a quoted glob); ``--out`` is required."""
    import glob

    from bgbench.errors import BgbenchError

    if out is None:
        raise BgbenchError("--merge needs --out (the folder for the merged result)")

    folders = [Path(p) for entry in merge
               for p in (sorted(glob.glob(str(entry))) if glob.has_magic(str(entry)) else [entry])]
    if not folders:
        raise BgbenchError(f"--merge {' '.join(map(str, merge))}: no shard folders match")
    return folders


def register(app: typer.Typer) -> None:
    @app.command("challenge")
    @common.output_options("challenge.json")
    @model_options
    @cache_options
    def challenge_command(
        data: Path = typer.Argument(..., help="Dataset root holding original/, only_bg_t/ and fg_mask/ "
                                              "(<variant>/<split>/<class>/...)."),
        full: bool = typer.Option(False, "--full",
                                  help="Evaluate every foreground x background pair (no early exit): "
                                       "matrix, most fooling backgrounds, gallery, target reachability."),
        strict: bool = typer.Option(False, "--strict",
                                    help="Also search exactly for the stricter reading (fooled to the "
                                         "background's own class); costs extra forward passes."),
        shard: str = typer.Option(None, "--shard", help="i/n: only foregrounds with index % n == i."),
        executor: str = common.executor_option("serial", ("serial", "ray"),
                                               "shards (the foregrounds split N ways)"),
        workers: int = common.workers_option("shards", "the cluster's GPUs, else 2",
                                             executors=("serial", "ray"), note=", which also makes N shards"),
        merge: list[Path] = typer.Option(None, "--merge",
                                         help="Merge finished shard folders into --out instead of running "
                                              "(repeat it, or give a quoted glob: --merge 'OUT/shard-*')."),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="Output folder (default: bgbench-results/challenge-<model>)."),
        split: str = common.split_option("val", "Split folder to search."),
        batch_size: int = common.batch_size_option(None, "Composites", "256 on GPU, 64 on CPU"),
        order: str = typer.Option("adaptive", "--order",
                                  help="adaptive (most fooling backgrounds first) or folder; never "
                                       "changes a decision, only which fooling background is found."),
        top_k: int = typer.Option(5, "--top-k", callback=bounded("--top-k", 1),
                                  help="Most fooling backgrounds listed per class (--full)."),
        *, model: ModelOptions, cache: CacheChoice, output: common.Output,
    ) -> None:
        """Adversarial backgrounds: is some background able to make the model misclassify each foreground?"""
        from bgbench.challenge import ChallengeConfig, merge_shards, run_challenge

        if merge:
            target = out
            result = merge_shards(data, _shard_folders(merge, out), out, top_k=top_k, quiet=output.quiet)
        else:
            config = ChallengeConfig(full=full, strict=strict, split=split, batch_size=batch_size,
                                     order=order, top_k=top_k, shard=shard, executor=executor,
                                     workers=workers, cache=cache)
            shard_part = "shard-" + shard.replace("/", "-of-") if shard else ""
            target = out if out is not None else default_out("challenge", model.spec, "full" if full else "",
                                                             shard_part)
            result = run_challenge(data, model, config, out=target, quiet=output.quiet)
        common.emit(result, output, wrote=[target / result.FILENAME, target / "challenge.csv"])
