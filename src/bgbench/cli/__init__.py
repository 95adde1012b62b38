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
    import_module(f"bgbench.cli.{_name}").register(app)


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
    code = _run(argv)
    from bgbench.cli.common import release_unused_claims

    release_unused_claims()  # a command refused after choosing its default folder leaves none behind
    return code


def _run(argv: list[str] | None) -> int:
    """Run the command line; every way it can end as an exit status (errors printed as one line)."""
    try:
        app(args=argv, prog_name="bgbench", standalone_mode=True)
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
        if code == INTERRUPTED and _from_interrupt(exc):  # typer turns Ctrl-C into a silent exit 130
            return interrupted()
        return code
    except BgbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. OUT under a read-only or missing mount: no traceback, name the path
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted()
    return 0


INTERRUPTED = 130
"""The exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


def _from_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a KeyboardInterrupt (somewhere in its chain)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def interrupted() -> int:
    """Say in one line that the run was interrupted (every command resumes) and return 130.

    A second Ctrl-C from here on is ignored, so that nothing prints a traceback while the process
    winds down."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("interrupted; rerun to resume", file=sys.stderr)
    return INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
