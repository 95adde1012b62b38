"""The ``python -m bgbench`` / ``python -m bgbench.cli`` / ``bgbench`` entry: a Ctrl-C even while the
command line is still importing is one line and exit status 130 (this module imports nothing heavy).

Some libraries imported on the way guard optional imports with a bare ``except:``, which swallows the
``KeyboardInterrupt`` a Ctrl-C raises; the run would then go on as if nothing happened. The handler
installed here therefore also records the interrupt, and :func:`run` stops on the record.
"""

from __future__ import annotations

import os
import signal
import sys

_interrupted = False


def _on_sigint(signum: int, frame: object) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def _stop() -> None:
    """One line, exit 130, straight away: nothing has been written yet, and a normal interpreter exit
    after a swallowed KeyboardInterrupt may end by re-raising SIGINT (status -2) instead."""
    print("interrupted; rerun to resume", file=sys.stderr, flush=True)
    os._exit(130)


def run() -> None:
    """Import the command line, run it and exit with its status (130 after a Ctrl-C)."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        from bgbench.cli import main
    except KeyboardInterrupt:  # Ctrl-C while the command line is still importing
        _stop()
    if _interrupted:  # a Ctrl-C whose KeyboardInterrupt something on the way swallowed
        _stop()
    status = main()
    if _interrupted:
        _forget_unhandled_interrupt()
    sys.exit(status)


def _forget_unhandled_interrupt() -> None:
    """Let ``sys.exit(130)`` end ``python -m bgbench`` with status 130 after a handled Ctrl-C.

    CPython (3.11 to 3.13 at least) marks a KeyboardInterrupt that passes through code run by
    ``exec`` of a string as unhandled, even when something above catches it; dataclasses and
    pydantic exec strings while their modules import, so a Ctrl-C then leaves the mark. At exit,
    ``python -m`` honours the mark by killing itself with SIGINT (status -2, not 130). Running any
    string clears the mark."""
    exec("None")
