"""The ``python -m bgbench`` / ``python -m bgbench.cli`` entry: a Ctrl-C even while the command line is
still importing is one line and exit status 130 (this module imports nothing heavy itself)."""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command line, run it and exit with its status."""
    try:
        from bgbench.cli import main
    except KeyboardInterrupt:  # Ctrl-C while the command line is still importing
        print("interrupted; rerun to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
