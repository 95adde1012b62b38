"""The ``bgbench`` command line: each subcommand parses its options and calls the library.

Subcommands live in sibling modules, each exposing ``register(app)``. Library errors
(:class:`~bgbench.errors.BgbenchError`) and file-system errors that escape the library (an output
folder that cannot be created, a full disk) are printed as one line naming the file and exit with
status 2.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from bgbench import __version__
from bgbench.errors import BgbenchError

COMMAND_MODULES = ("synth", "build", "eval", "challenge", "train", "saliency", "probe", "sweep", "report",
                   "download", "models", "demo")

app = typer.Typer(
    name="bgbench",
    help="Measure and reduce how much image classifiers rely on image backgrounds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bgbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Measure and reduce how much image classifiers rely on image backgrounds."""


for _name in COMMAND_MODULES:
    try:
        _module = import_module(f"bgbench.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command whose module has not landed yet
        if _exc.name != f"bgbench.cli.{_name}":
            raise
        continue
    _module.register(app)


def _name_arguments_in_capitals(typer_app: typer.Typer) -> None:
    """Usage lines say ``DATA``, as the docs do, not typer's ``{data}``: arguments without a metavar get
    their name in capitals."""
    import inspect

    from typer.models import ArgumentInfo

    for info in typer_app.registered_commands:
        for name, parameter in inspect.signature(info.callback).parameters.items():
            if isinstance(parameter.default, ArgumentInfo) and parameter.default.metavar is None:
                parameter.default.metavar = name.upper()


_name_arguments_in_capitals(app)


def os_error_line(exc: OSError) -> str:
    """``<file>: <reason>`` for an OSError (both paths of a rename/link when it has two)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    from bgbench.provenance import set_cli_command

    set_cli_command(sys.argv[1:] if argv is None else list(argv))
    try:
        app(args=argv, prog_name="bgbench", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except BgbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. OUT under a read-only or missing mount: no traceback, name the path
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
