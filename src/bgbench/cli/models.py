"""``bgbench models``: list the model zoo (the registry's models and spec forms, the real-data models,
user entries)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(
        pattern: str = typer.Argument(None, metavar="PATTERN",
                                      help="Only entries whose name or spec matches this shell-style "
                                           "pattern, e.g. 'efficientnet*' or 'tflite:*'."),
        zoo: Path = typer.Option(None, "--zoo", help="User zoo TOML file (default ~/.config/bgbench/zoo.toml "
                                                     "when it exists)."),
        realdata: Path = typer.Option(None, "--realdata",
                                      help="Real-data folder holding models/ (default $BGBENCH_REALDATA)."),
        as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON instead of a table."),
        out: Path = typer.Option(None, "--out", help="Also write the entries as JSON to this file."),
        toml: Path = typer.Option(None, "--toml",
                                  help="Also write the runnable entries (built-ins, the real-data models "
                                       "found, user entries) as a `bgbench sweep` models file."),
    ) -> None:
        """List every registered model and spec form, the real-data models and the user zoo, with input
        size, preprocessing, output space and published top-1."""
        from bgbench.atomic import atomic_write_json
        from bgbench.models.zoo import format_table, load_zoo, matching

        entries = matching(load_zoo(zoo, realdata=realdata), pattern)
        records = [e.to_dict() for e in entries]
        if out is not None:
            atomic_write_json(out, records)
        if toml is not None:
            from bgbench.sweeps.config import write_zoo_toml

            write_zoo_toml(toml, entries)
        if as_json:
            typer.echo(json.dumps(records, indent=2))
        else:
            typer.echo(format_table(entries))
