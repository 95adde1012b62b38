"""``bgbench report RESULTS... -o report.html``: one self-contained HTML page (and report.md with
its figures in report_files/) from any bgbench outputs (parses options, calls :func:`bgbench.report`)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgbench.cli import common
from bgbench.cli.common import emit


def register(app: typer.Typer) -> None:
    @app.command("report", no_args_is_help=True)
    @common.output_options("<name>_files/report.json")
    def report_command(
        results: list[Path] = typer.Argument(
            ...,
            help="Output folders (searched with their sub-folders) or result files of any bgbench command.",
        ),
        out: Path = typer.Option(
            Path("report.html"),
            "--out",
            "-o",
            help="The HTML file to write; report.md and report_files/ go beside it.",
        ),
        title: str = typer.Option(None, "--title", help="Title of the report (default: bgbench report)."),
        *, output: common.Output,
    ) -> None:
        """Write one self-contained HTML report (figures inline, no network, no script) of RESULTS, with a
        Markdown twin for papers and issues; sections follow what the results hold."""
        from bgbench.reporting import report

        result = report(list(results), out, title=title, quiet=output.quiet)
        emit(result, output)
