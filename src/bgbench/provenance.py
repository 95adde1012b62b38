"""The command line that produced a result: recorded as ``command`` in the result documents.

The ``bgbench`` CLI stores its own command line in the environment (``BGBENCH_COMMAND``) before it
calls the library, so results written by it, by its worker processes or by Ray tasks started from
it all name the same ``bgbench ...`` command. A library call from Python records the process's
command line instead (``python script.py --flag``); both are plain strings for a reader, never
parsed back.
"""

from __future__ import annotations

import os
import shlex
import sys

ENV_COMMAND = "BGBENCH_COMMAND"


def set_cli_command(argv: list[str]) -> None:
    """Record ``bgbench ARGV...`` as the command of everything this process (and its children) writes."""
    os.environ[ENV_COMMAND] = shlex.join(["bgbench", *argv])


def command_line() -> str | None:
    """The ``bgbench ...`` command that is running, else ``python <sys.argv>``; None when unknown."""
    recorded = os.environ.get(ENV_COMMAND)
    if recorded:
        return recorded
    argv = [a for a in sys.argv if a]
    return shlex.join(["python", *argv]) if argv else None
