"""``bgbench challenge DATA``: the adversarial-backgrounds challenge (parses options, calls
bgbench.challenge.run_challenge / merge_shards)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

DEFAULT_OUT_ROOT = Path("bgbench-results")


def default_out(model: str, full: bool, shard: str | None) -> Path:
    """``bgbench-results/challenge-<model>[-full][-shard-i-of-n]``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name if "/" in model else model).strip("_")
    name = f"challenge-{slug or 'model'}" + ("-full" if full else "")
    if shard:
        name += "-shard-" + shard.replace("/", "-of-")
    return DEFAULT_OUT_ROOT / name


def register(app: typer.Typer) -> None:
    @app.command("challenge")
    def challenge_command(
        data: Path = typer.Argument(..., help="Dataset root holding original/, only_bg_t/ and fg_mask/ "
                                              "(<variant>/<split>/<class>/...)."),
        model: str = typer.Option("efficientnet_lite0", "--model", "-m",
                                  help="Model spec: built-in name, timm:NAME, torchvision:NAME, hf:REPO, "
                                       "onnx:FILE, tflite:FILE, torchscript:FILE, ckpt:FILE, python:MOD:FN."),
        full: bool = typer.Option(False, "--full",
                                  help="Evaluate every foreground x background pair (no early exit): "
                                       "matrix, most fooling backgrounds, gallery, target reachability."),
        strict: bool = typer.Option(False, "--strict",
                                    help="Also search exactly for the stricter reading (fooled to the "
                                         "background's own class); costs extra forward passes."),
        shard: str = typer.Option(None, "--shard", help="i/n: only foregrounds with index % n == i."),
        executor: str = typer.Option("serial", "--executor", help="serial, or ray (n shards as Ray tasks)."),
        workers: int = typer.Option(None, "--workers",
                                    help="Shards for --executor ray (default: GPUs in the cluster, else 2)."),
        merge: list[Path] = typer.Option(None, "--merge",
                                         help="Merge finished shard folders into --out instead of running "
                                              "(repeat it, or give a quoted glob: --merge 'OUT/shard-*')."),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="Output folder (default: bgbench-results/challenge-<model>)."),
        map_rule: str = typer.Option("released", "--map",
                                     help="1000-class outputs -> classes: released (top-1, outside the "
                                          "nine = wrong), restricted, sum."),
        class_map: Path = typer.Option(None, "--class-map",
                                       help='JSON {"output index": class index} for custom class sets.'),
        split: str = typer.Option("val", "--split", help="Split folder."),
        batch_size: int = typer.Option(None, "--batch-size", "-b",
                                       help="Composites per forward pass (default 256 on GPU, 64 on CPU)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        precision: str = typer.Option("fp32", "--precision",
                                      help="fp32 (exact, default), bf16 or fp16 (autocast)."),
        order: str = typer.Option("adaptive", "--order",
                                  help="adaptive (most fooling backgrounds first) or folder; never "
                                       "changes a decision, only which fooling background is found."),
        preprocess: str = typer.Option("native", "--preprocess",
                                       help="native (the model's own) or released (the released script's)."),
        weights: Path = typer.Option(None, "--weights", help="Local weights file."),
        arch: str = typer.Option(None, "--arch", help="Architecture (timm name) for ckpt: specs."),
        num_classes: int = typer.Option(None, "--num-classes", help="Output classes for ckpt: specs."),
        trust_pickle: bool = typer.Option(False, "--trust-pickle",
                                          help="Allow checkpoints that need pickle (only files you trust)."),
        int8: str = typer.Option("reference", "--int8",
                                 help="Quantized ONNX graphs: reference (the operators' exact arithmetic, "
                                      "the same on every CPU) or native (onnxruntime's own kernels)."),
        top_k: int = typer.Option(5, "--top-k", help="Most fooling backgrounds listed per class (--full)."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Decode images in memory; no cache files."),
        cache_dir: Path = typer.Option(None, "--cache-dir", help="Decoded-image cache folder."),
        as_json: bool = typer.Option(False, "--json", help="Print challenge.json instead of tables."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Adversarial backgrounds: is some background able to make the model misclassify each foreground?"""
        import json
        import sys

        from bgbench.challenge import merge_shards, run_challenge
        from bgbench.challenge.results import print_summary
        from bgbench.errors import BgbenchError

        if merge:
            if out is None:
                raise BgbenchError("--merge needs --out (the folder for the merged result)")
            import glob

            folders = [Path(p) for entry in merge
                       for p in (sorted(glob.glob(str(entry))) if glob.has_magic(str(entry)) else [entry])]
            if not folders:
                raise BgbenchError(f"--merge {' '.join(map(str, merge))}: no shard folders match")
            target = out
            summary = merge_shards(data, folders, out, top_k=top_k, quiet=quiet)
        else:
            target = out if out is not None else default_out(model, full, shard)
            summary = run_challenge(data, model, out=target, full=full, strict=strict, shard=shard,
                                    executor=executor, workers=workers, split=split, map_rule=map_rule,
                                    class_map=class_map, batch_size=batch_size, device=device,
                                    precision=precision, preprocess=preprocess, weights=weights, arch=arch,
                                    num_classes=num_classes, trust_pickle=trust_pickle, order=order,
                                    top_k=top_k, cache=not no_cache, cache_dir=cache_dir, int8=int8,
                                    quiet=quiet)
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            print_summary(summary)
        print(f"wrote {target / 'challenge.json'} and {target / 'challenge.csv'}", file=sys.stderr)
