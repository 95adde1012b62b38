"""The one exception type users see: a one-line message naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class BgbenchError(Exception):
    """A user-facing error. ``str(err)`` is one line; the CLI prints it and exits with status 2."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        message = " ".join(str(message).split())  # always one line
        if path is not None:
            message = f"{path}: {message}"
        super().__init__(message)
        self.path = None if path is None else Path(path)
