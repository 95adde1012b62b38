"""Atomic file writes: write to a temporary file in the target folder, fsync, then rename.

A reader (or a resumed job) therefore sees either the old file or the complete new one, never a
partial file. Temporary files are named ``.<name>.tmp-<pid>-<random>`` and removed on failure.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on clean exit fsync it and rename it onto ``path``.

    ``fsync=False`` skips the fsync: still atomic for readers and after a killed process (the rename
    is), but not durable across a power loss; for bulk outputs a later marker vouches for.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    with atomic_open(path, "wb", fsync=fsync) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def atomic_save_npy(path: str | Path, array: np.ndarray, *, fsync: bool = True) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue(), fsync=fsync)


def atomic_write_with(path: str | Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Call ``writer(handle)`` on a temporary binary file, then rename it onto ``path``."""
    with atomic_open(path, "wb") as handle:
        writer(handle)


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync. A crash can leave at most one truncated last line, which
    :func:`read_jsonl` ignores, so append-only logs stay resumable."""
    append_jsonl_many(path, [record])


def append_jsonl_many(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Append one JSON line per record with one write and one fsync (nothing for no records); a
    crash leaves the lines before a truncated last one, as :func:`append_jsonl` does."""
    if not records:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in records))
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a truncated (unparseable) final line is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) - 1:
                break  # torn last write of an interrupted run
            raise
    return records
