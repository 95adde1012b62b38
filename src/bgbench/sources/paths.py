"""Containment of names that come from a dataset: no entry may read or write outside its folder.

A dataset made by someone else supplies names: VOC split-list ids, COCO ``file_name`` values, class
folder and image file names (which become output stems), and symbolic links. Each such name is
checked here, in one place, and a bad one becomes a drop reason (never an exception), so the entry
is dropped and reported like any other bad entry:

- :func:`name_problem`: the name itself is unsafe (empty, absolute, holds ``..``, a control
  character such as a newline or NUL, not UTF-8, a component over 255 bytes or a whole name over
  :data:`MAX_PATH_BYTES`, or, where a single name is expected, a folder separator);
- :func:`outside_problem`: the file, after following every symbolic link, lies outside the folder
  it must come from (a link to ``/dev/zero``, to ``~/.ssh``, or a COCO ``file_name`` of
  ``../../x.jpg`` all end here);
- :func:`stem_problem`: a stem cannot be used as an output file name (as :func:`name_problem`, plus
  no leading dot and at most :data:`MAX_STEM_BYTES` bytes).
"""

from __future__ import annotations

import re
from pathlib import Path

import bgbench.sources.reasons as reasons
from bgbench.containment import Containment

MAX_COMPONENT_BYTES = 255
"""Longest file or folder name most file systems accept (bytes, UTF-8)."""

MAX_PATH_BYTES = 1024
"""Longest nested dataset-supplied name (bytes): far below the 4096-byte limit of a whole path."""

MAX_STEM_BYTES = 200
"""Longest output stem (bytes, UTF-8): leaves room for ``__N``, the suffix and atomic temp names."""

_DRIVE = re.compile(r"^[A-Za-z]:")


def _shown(name: str) -> str:
    """``name`` quoted on one line (control characters escaped), cut to 80 characters."""
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


def name_problem(name: str, *, nested: bool = False) -> str | None:
    """Drop reason (category ``unsafe name``) for a dataset-supplied relative name, or None.

    ``nested=True`` allows ``/``-separated sub-folders (a COCO ``file_name`` such as
    ``2017/a.jpg``); otherwise the name must be a single component.
    """
    if not name or not name.strip():
        return reasons.reason(reasons.UNSAFE_NAME, "empty name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in a file name (os.listdir's surrogates)
        return reasons.reason(reasons.UNSAFE_NAME, f"name is not valid UTF-8: {_shown(name)}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return reasons.reason(reasons.UNSAFE_NAME, f"control character (newline, NUL...) in {_shown(name)}")
    raw = name.replace("\\", "/")
    if raw.startswith("/") or _DRIVE.match(raw):
        return reasons.reason(reasons.UNSAFE_NAME, f"absolute path {_shown(name)}")
    parts = raw.split("/")
    if ".." in parts:
        return reasons.reason(reasons.UNSAFE_NAME, f"'..' in {_shown(name)}")
    if not nested and len(parts) > 1:
        return reasons.reason(reasons.UNSAFE_NAME, f"folder separator in {_shown(name)}")
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES for part in parts):
        return reasons.reason(reasons.UNSAFE_NAME, f"name longer than {MAX_COMPONENT_BYTES} bytes: "
                                                   f"{_shown(name)}")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        return reasons.reason(reasons.UNSAFE_NAME, f"path longer than {MAX_PATH_BYTES} bytes: {_shown(name)}")
    return None


def stem_problem(stem: str) -> str | None:
    """Drop reason (``unsafe name``) when ``stem`` cannot name an output file, else None."""
    problem = name_problem(stem)
    if problem is not None:
        return problem
    if stem.startswith("."):
        return reasons.reason(reasons.UNSAFE_NAME, f"hidden name {_shown(stem)} (starts with a dot)")
    if len(stem.encode("utf-8", "surrogateescape")) > MAX_STEM_BYTES:
        return reasons.reason(reasons.UNSAFE_NAME, f"name longer than {MAX_STEM_BYTES} bytes: {_shown(stem)}")
    return None


def outside_problem(path: str | Path, folders: Path | list[Path] | Containment) -> str | None:
    """Drop reason (``file outside the dataset folder``) when ``path`` resolves outside every one of
    ``folders`` (or of a :class:`~bgbench.containment.Containment`, faster for many files), else None.
    The reason names the entry, not where the link leads (stable text)."""
    check = folders if isinstance(folders, Containment) else Containment(
        [folders] if isinstance(folders, Path) else list(folders))
    if check.inside(path):
        return None
    name = Path(path).name
    shown = ", ".join(_shown(Path(base).name) for base in check.names)
    return reasons.reason(reasons.OUTSIDE_SOURCE, f"{_shown(name)} leads outside {shown} "
                                                  "(a symbolic link or a path with '..')")


def contained(folder: Path, name: str, *, nested: bool = False) -> tuple[Path, str | None]:
    """``(folder / name, drop reason or None)`` for a dataset-supplied ``name`` that must stay in ``folder``.

    The reason comes from :func:`name_problem` first (so an unsafe name is never even looked up),
    then :func:`outside_problem`. The path returned with a reason must not be opened.
    """
    problem = name_problem(name, nested=nested)
    if problem is not None:
        return folder / "_refused_", problem
    path = folder / name
    return path, outside_problem(path, folder)
