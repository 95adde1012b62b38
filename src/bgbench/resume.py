"""Resuming, one way for every command (build, eval, challenge, train, sweep, synth).

A run is identified by its **key**: the hex SHA-256 of the canonical JSON (sorted keys, anything
not JSON-able as its ``str``) of the settings that decide its outputs (:func:`run_key`). What a
killed run leaves to resume from lies in its output folder, every file written atomically
(:mod:`bgbench.atomic`: a reader sees the old file or the new one, never half of one):

- **state files**, JSON objects naming the key a folder's work was done under (:func:`read_state`,
  :func:`write_state`, :func:`check_settings`): build's ``.bgbench-build/<split>/config.json``, the
  challenge matrix's ``challenge_matrix.json``, train's ``state/key.json``, the sweep's
  ``sweep-key.json`` (:func:`keep_or_clear`: a folder of another key is cleared);
- **partial files** ``OUT/partial/<name>.json`` (:func:`save_partial`, :func:`load_partial`): one
  finished piece with its key (eval's per-variant predictions);
- a **partial folder** started afresh for each run with its settings (:func:`start_partial_folder`;
  synth's ``.synth-<split>.partial/`` of checkpointed chunks), removed when the run finishes;
- **append-only logs** (``challenge.log.jsonl``, whose header line holds the key): a kill during an
  append leaves at most one torn last line (:func:`cut_torn_tail`);
- **done markers**: a file written after everything it vouches for (build's per-image records), so
  a finished piece is one whose marker exists (:func:`finished`).

Temporary files a kill leaves behind (``.<name>.tmp-<pid>-...``) are removed with
:func:`remove_temp_files`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_json
from bgbench.errors import BgbenchError
from bgbench.textio import read_json

PARTIAL_DIR = "partial"
#: the temporary files of :func:`bgbench.atomic.atomic_open` (``.<name>.tmp-<pid>-<random>``)
TEMP_NAME = re.compile(r"^\..+\.tmp-\d+-")

__all__ = ["PARTIAL_DIR", "canonical_json", "changed_keys", "check_settings", "cut_torn_tail", "finished",
           "keep_or_clear", "load_partial", "partial_path", "read_state", "remove_temp_files", "run_key",
           "save_partial", "start_partial_folder", "write_state"]


def canonical_json(settings: Any) -> str:
    """``settings`` as canonical JSON: keys sorted, no indentation, ASCII, anything not JSON-able as
    its ``str`` (a Path, a dtype)."""
    return json.dumps(settings, sort_keys=True, default=str)


def run_key(settings: Any) -> str:
    """The run key: hex SHA-256 (64 characters) of :func:`canonical_json` of ``settings``."""
    return hashlib.sha256(canonical_json(settings).encode("utf-8")).hexdigest()


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys (sorted) whose values differ between two settings dicts (compared as canonical JSON)."""
    return sorted(k for k in set(old) | set(new) if canonical_json(old.get(k)) != canonical_json(new.get(k)))


# ----------------------------------------------------------------------------- state files
def read_state(path: str | Path, what: str | None = None) -> dict[str, Any] | None:
    """The JSON object at ``path`` (read with :func:`bgbench.textio.read_json`); None when it is
    absent. A damaged file (not UTF-8, not JSON, not an object) is None too, or with ``what`` (e.g.
    ``"build state"``) a one-line BgbenchError naming the file and saying to delete it."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        found = read_json(path, what or "state file")
    except BgbenchError as exc:
        if what is None:
            return None
        reason = str(exc).removeprefix(f"{path}: ")
        raise BgbenchError(f"{reason}; delete it to start over", path) from None
    if not isinstance(found, dict):
        if what is None:
            return None
        raise BgbenchError(f"{what} is not a JSON object; delete it to start over", path)
    return found


def write_state(path: str | Path, record: dict[str, Any]) -> None:
    """Write a state file (a JSON object, indented) atomically."""
    atomic_write_json(path, record)


def check_settings(path: str | Path, key: str, settings: dict[str, Any], *, field: str = "key",
                   what: str = "run state", extra: dict[str, Any] | None = None,
                   refuse: Callable[[dict[str, tuple[Any, Any]]], BgbenchError] | None = None) -> bool:
    """Start or resume under ``key``: True when the state file ``path`` records it (resume); False
    when there is none, after writing ``{field: key, "config": settings, **extra}`` (a fresh start).

    A file recording another key raises ``refuse({setting: (old, new)})`` for the settings that
    differ (default: a BgbenchError naming the file and those settings); a damaged one a BgbenchError
    naming it (``what``: how to call it)."""
    state = read_state(path, what)
    if state is None:
        write_state(path, {field: key, "config": settings, **(extra or {})})
        return False
    if state.get(field) != key:
        old = state.get("config") if isinstance(state.get("config"), dict) else {}
        changes = {k: (old.get(k), settings.get(k)) for k in changed_keys(old, settings)}
        if refuse is not None:
            raise refuse(changes)
        differs = ", ".join(changes) or "its key"
        raise BgbenchError(f"was written by a run with different settings (differs in: {differs}); use "
                           "another output folder or delete it", path)
    return True


def keep_or_clear(folder: str | Path, key: str | None, name: str) -> bool:
    """True when ``folder/name`` records ``key`` (the folder's outputs are this run's); otherwise the
    folder is removed (outputs of another run) and, with a key, recreated holding ``name`` =
    ``{"key": key}``; False."""
    folder = Path(folder)
    stored = (read_state(folder / name) or {}).get("key")
    if key is not None and stored == key:
        return True
    if folder.exists():
        shutil.rmtree(folder)
    if key is not None:
        write_state(folder / name, {"key": key})
    return False


# ----------------------------------------------------------------------------- partial files
def partial_path(out: str | Path, name: str) -> Path:
    """``out/partial/<name>.json``."""
    return Path(out) / PARTIAL_DIR / f"{name}.json"


def save_partial(out: str | Path, name: str, key: str, payload: dict[str, Any]) -> None:
    """Write one finished piece atomically to ``out/partial/<name>.json`` as ``{"key": key, **payload}``
    (compact JSON)."""
    atomic_write_json(partial_path(out, name), {"key": key, **payload}, indent=None)


def load_partial(out: str | Path, name: str, key: str) -> dict[str, Any] | None:
    """The payload :func:`save_partial` saved under ``name`` with the same ``key`` (with its ``key``
    field), or None (absent, damaged, or another run's)."""
    saved = read_state(partial_path(out, name))
    return saved if saved is not None and saved.get("key") == key else None


def start_partial_folder(folder: str | Path, settings: dict[str, Any], name: str = "config.json") -> Path:
    """A fresh partial folder for this run: any older one removed (read it first), ``settings``
    written to ``folder/name``; returns the folder."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    write_state(folder / name, settings)
    return folder


# ----------------------------------------------------------------------------- logs, markers, temporaries
def cut_torn_tail(path: str | Path) -> None:
    """Drop a partial last line left in an append-only log by a kill during an append (fsynced), so
    later appends stay parseable."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)
            handle.flush()
            os.fsync(handle.fileno())


def finished(path: str | Path) -> bool:
    """Whether ``path`` is a file of at least one byte (a done marker, or an output written whole)."""
    try:
        return Path(path).stat().st_size > 0
    except OSError:
        return False


def remove_temp_files(out: str | Path) -> int:
    """Delete the temporary files a killed run left under ``out`` (``.<name>.tmp-<pid>-...``); returns
    how many."""
    removed = 0
    for folder, _dirs, files in os.walk(out):
        for name in files:
            if TEMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
    return removed
