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


class Containment:
    """:func:`is_inside` for many files against the same ``folders``, at about one ``lstat`` per file.

    The real path of each file's folder is resolved once and remembered (for the life of this object
    only, so build one per read of a dataset); a file that is itself a symbolic link is resolved in
    full. Answers exactly as :func:`is_inside` for every path.
    """

    def __init__(self, folders: list[Path] | list[str]) -> None:
        self.names = [Path(folder).name for folder in folders]  # as given, for messages
        self.bases = [os.path.realpath(folder) for folder in folders]
        self._folders: dict[str, str] = {}

    def _real(self, path: str | Path) -> str:
        parent, name = os.path.split(os.fspath(path))
        if name in ("", ".", ".."):
            return os.path.realpath(path)
        real_parent = self._folders.get(parent)
        if real_parent is None:
            real_parent = self._folders[parent] = os.path.realpath(parent or ".")
        candidate = os.path.join(real_parent, name)
        return os.path.realpath(candidate) if os.path.islink(candidate) else candidate

    def inside(self, path: str | Path) -> bool:
        """Whether ``path`` resolves inside one of the folders."""
        real = self._real(path)
        for base in self.bases:
            try:
                if os.path.commonpath([real, base]) == base:
                    return True
            except ValueError:
                continue
        return False
