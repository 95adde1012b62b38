"""Whether a path stays inside a folder once symbolic links are followed (the one check every reader
of someone else's files shares: dataset sources, IN-9 trees, archives' targets on disk)."""

from __future__ import annotations

import os
from pathlib import Path


def is_inside(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` lies inside ``folder`` (or is it) once every symbolic link of both is followed.

    Lexical ``..`` and links anywhere on the way count: ``folder/a/../../x`` and ``folder/link`` with
    ``link -> /dev/zero`` are both outside. A path that does not exist is judged by what exists of it.
    """
    real = os.path.realpath(path)
    base = os.path.realpath(folder)
    try:
        return os.path.commonpath([real, base]) == base
    except ValueError:  # different drives (Windows)
        return False
