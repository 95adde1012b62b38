"""``bgbench demo``: parse options, call :func:`bgbench.demo.run_demo`, print the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bgbench.cli import common
from bgbench.cli.common import bounded, emit


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @common.output_options("demo.json")
    def demo(
        out: Path = typer.Argument(Path("bgbench-demo"), help="Folder for everything the demo makes."),
        device: str = typer.Option("auto", help="auto, cpu or cuda."),
        quick: bool = typer.Option(False, "--quick",
                                   help="The whole chain on fewer, smaller images (about half a minute "
                                        "of work on a 2-core CPU; the default run under 3 minutes)."),
        per_class_train: int = _count("per_class_train", "Synthetic training images per class"),
        per_class_val: int = _count("per_class_val", "Synthetic validation images per class"),
        draws: int = _count("draws", "Donor backgrounds per foreground for the BG-Gap interval"),
        epochs: int = _count("epochs", "Training epochs for each small CNN"),
        seed: int = typer.Option(0, help="Seed of every random choice."),
        model: str = typer.Option(None, "--model", "-m",
                                  help="Pretrained model evaluated beside the trained CNNs "
                                       "(default efficientnet_lite0; --quick: none; 'none' to skip)."),
        *, output: common.Output,
    ) -> None:
        """Synthesize scenes with a background shortcut, build the IN-9 variants, train small CNNs on
        original, on original with background-swap augmentation, on mixed_rand and on only_bg_t,
        evaluate them (and a real pretrained ImageNet model) with per-group tables, run the challenge,
        compare their saliency, and write OUT/report.html (minutes on a CPU)."""
        from dataclasses import replace

        from rich.console import Console

        from bgbench.demo import PLANS, run_demo

        console = Console(stderr=output.json)  # the stages' lines: stdout holds only the JSON with --json
        given = {"per_class_train": per_class_train, "per_class_val": per_class_val, "draws": draws,
                 "epochs": epochs, "pretrained": model}
        overrides = {k: v for k, v in given.items() if v is not None}
        if model is not None and model.lower() == "none":
            overrides["pretrained"] = None
        plan = replace(PLANS["quick" if quick else "default"], **overrides)
        result = run_demo(out, plan, device=device, seed=seed, quiet=output.quiet, log=console.print)
        emit(result, output)



def _defaults(field: str) -> str:
    """``default N; --quick M`` for a DemoPlan field, read from the plans themselves."""
    from bgbench.demo import PLANS

    return f"default {getattr(PLANS['default'], field)}; --quick {getattr(PLANS['quick'], field)}"


def _count(field: str, what: str) -> Any:
    """The option overriding the whole-number DemoPlan ``field`` (at least 1; help: ``what`` and the
    plans' values)."""
    flag = "--" + field.replace("_", "-")
    return typer.Option(None, flag, callback=bounded(flag, 1), help=f"{what} ({_defaults(field)}).")
