"""``bgbench eval DATA``: evaluate a classifier on every variant (parses options, calls bgbench.evaluate)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

DEFAULT_OUT_ROOT = Path("bgbench-results")


def default_out(model: str) -> Path:
    """``bgbench-results/eval-<model spec made file-name safe>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name if "/" in model else model).strip("_")
    return DEFAULT_OUT_ROOT / f"eval-{slug or 'model'}"


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        data: Path = typer.Argument(..., help="Dataset root holding <variant>/<split>/<class>/<image>."),
        model: str = typer.Option("efficientnet_lite0", "--model", "-m",
                                  help="Model spec: built-in name, timm:NAME, torchvision:NAME, hf:REPO, "
                                       "onnx:FILE, tflite:FILE, torchscript:FILE, ckpt:FILE, python:MOD:FN."),
        variants: str = typer.Option(None, "--variants",
                                     help="Comma list of variants (default: all present)."),
        map_rule: str = typer.Option("released", "--map",
                                     help="1000-class outputs -> classes: released (top-1, outside the "
                                          "nine = wrong), restricted (top-1 over the nine's classes), sum."),
        class_map: Path = typer.Option(None, "--class-map",
                                       help='JSON {"output index": class index} for custom class sets.'),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="Folder for results.json and results.csv "
                                      "(default: bgbench-results/eval-<model>)."),
        split: str = typer.Option("val", "--split", help="Split folder to evaluate."),
        batch_size: int = typer.Option(64, "--batch-size", "-b", help="Images per forward pass."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (autocast)."),
        preprocess: str = typer.Option("native", "--preprocess",
                                       help="native (the model's own) or released (the released script's)."),
        weights: Path = typer.Option(None, "--weights",
                                     help="Local weights file (state dict or safetensors)."),
        arch: str = typer.Option(None, "--arch", help="Architecture (timm name) for ckpt: specs."),
        num_classes: int = typer.Option(None, "--num-classes", help="Output classes for ckpt: specs."),
        trust_pickle: bool = typer.Option(False, "--trust-pickle",
                                          help="Allow checkpoints that need pickle (only files you trust)."),
        int8: str = typer.Option("reference", "--int8",
                                 help="Quantized ONNX graphs: reference (the operators' exact arithmetic, "
                                      "the same on every CPU) or native (onnxruntime's own kernels)."),
        as_json: bool = typer.Option(False, "--json", help="Print results.json to stdout instead of tables."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Decode images in memory; no cache files."),
        cache_dir: Path = typer.Option(None, "--cache-dir",
                                       help="Decoded-image cache ($BGBENCH_CACHE or ~/.cache/bgbench)."),
        no_resume: bool = typer.Option(False, "--no-resume",
                                       help="Recompute every variant (default: reuse OUT/partial/ of an "
                                            "interrupted run with the same model, weights and data)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Evaluate a classifier on every variant: accuracy with 95% intervals, BG-Gap, per-class."""
        import json
        import sys

        from bgbench.evaluate import evaluate
        from bgbench.report_table import print_eval

        target = out if out is not None else default_out(model)
        result = evaluate(data, model, variants=variants, split=split, map_rule=map_rule, class_map=class_map,
                          batch_size=batch_size, device=device, precision=precision, preprocess=preprocess,
                          weights=weights, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle,
                          out=target, cache=not no_cache, cache_dir=cache_dir, resume=not no_resume,
                          int8=int8, quiet=quiet)
        doc = result.to_json()
        if as_json:
            typer.echo(json.dumps(doc, indent=2))
        else:
            print_eval(doc)
        print(f"wrote {target / 'results.json'} and {target / 'results.csv'}", file=sys.stderr)
