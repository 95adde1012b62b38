"""``bgbench demo``: parse options, call :func:`bgbench.demo.run_demo`, print the summary table."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Argument(Path("bgbench-demo"), help="Folder for everything the demo makes."),
        device: str = typer.Option("auto", help="auto, cpu or cuda."),
        quick: bool = typer.Option(False, "--quick",
                                   help="The whole chain on fewer, smaller images (about half a minute "
                                        "of work on a 2-core CPU; the default run under 3 minutes)."),
        per_class_train: int = typer.Option(None, help="Synthetic training images per class "
                                                       f"({_defaults('per_class_train')})."),
        per_class_val: int = typer.Option(None, help="Synthetic validation images per class "
                                                     f"({_defaults('per_class_val')})."),
        draws: int = typer.Option(None, help="Donor backgrounds per foreground for the BG-Gap interval "
                                             f"({_defaults('draws')})."),
        epochs: int = typer.Option(None, help=f"Training epochs for each small CNN ({_defaults('epochs')})."),
        seed: int = typer.Option(0, help="Seed of every random choice."),
        model: str = typer.Option(None, "--model", "-m",
                                  help="Pretrained model evaluated beside the trained CNNs "
                                       "(default efficientnet_lite0; --quick: none; 'none' to skip)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Synthesize scenes with a background shortcut, build the IN-9 variants, train small CNNs on
        original, on original with background-swap augmentation, on mixed_rand and on only_bg_t,
        evaluate them (and a real pretrained ImageNet model) with per-group tables, run the challenge,
        compare their saliency, and write OUT/report.html (minutes on a CPU)."""
        from rich.console import Console

        from bgbench.demo import run_demo

        console = Console()
        given = {"per_class_train": per_class_train, "per_class_val": per_class_val, "draws": draws,
                 "epochs": epochs, "pretrained": model}
        overrides = {k: v for k, v in given.items() if v is not None}
        if model is not None and model.lower() == "none":
            overrides["pretrained"] = None
        summary = run_demo(out, plan="quick" if quick else "default", device=device, seed=seed,
                           quiet=quiet, log=lambda line: console.print(line),
                           **overrides)
        _print_summary(console, summary)


def _print_summary(console, summary) -> None:
    """The demo's table (accuracy per variant per model, BG-Gap, challenge) and where things are."""
    from rich.table import Table

    from bgbench.demo import SUMMARY_VARIANTS

    draws = summary["plan"]["draws"]
    rows = summary["models"]
    table = Table(title="bgbench demo: accuracy on the val variants (synthetic scenes)")
    table.add_column("variant")
    for row in rows:
        table.add_column(row["model"].replace("_", " "), justify="right")
    for variant in SUMMARY_VARIANTS:
        table.add_row(variant, *[_pct(row.get(variant)) for row in rows])
    table.add_row("BG-Gap", *[_pct(row["bg_gap"]) for row in rows])
    table.add_row(f"BG-Gap, {draws} draws", *[_gap(row) for row in rows])
    table.add_row("challenge accuracy", *[_pct(row["challenge_accuracy"]) for row in rows])
    console.print(table)
    if any(row["model"].startswith("pretrained_") for row in rows):
        console.print("The pretrained column is a real ImageNet model under the released 1000 -> 9 "
                      "mapping: synthetic objects are not ImageNet objects, so expect it far below the "
                      "trained CNNs here; `bgbench eval` on real photos gives its real figures.")
    iou = summary.get("grabcut_iou")
    if isinstance(iou, dict) and iou.get("median") is not None:
        console.print(f"GrabCut IoU against the true masks (val): median {iou['median']:.3f}")
    where = Path(summary["out"])
    console.print(f"Done in {summary['seconds']:.0f} s. Summary: {where / 'demo.json'} and demo.csv; "
                  "per-model results.json under results/, challenge.json under challenge/.")
    console.print(f"Report: {where / 'report.html'}", soft_wrap=True)


def _defaults(field: str) -> str:
    """``default N; --quick M`` for a DemoPlan field, read from the plans themselves."""
    from bgbench.demo import PLANS

    return f"default {getattr(PLANS['default'], field)}; --quick {getattr(PLANS['quick'], field)}"


def _gap(row: dict) -> str:
    value, ci = row.get("bg_gap_draws"), row.get("bg_gap_draws_ci95")
    if value is None:
        return "-"
    return f"{100 * value:+.1f} [{100 * ci[0]:+.0f},{100 * ci[1]:+.0f}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
