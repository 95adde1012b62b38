"""The working-size copy of a run's training arrays, written once to a cache file and shared.

``shrink_to_cache(data, side, cache)`` resizes the images, masks and background bank of a
:class:`~bgbench.training.data.TrainData` to ``side`` x ``side`` in chunks (never more than ``chunk``
source rows in memory) and writes them to ``<cache>/train/<key>/{images,masks,bank}.npy``, keyed on the
data's content fingerprint and ``side``. Every later run, and every process of a distributed run,
maps the same files read-only; batches read their rows with :func:`bgbench.rowfile.read_rows`, so a
process's memory does not grow with the split (measured in docs/train.md, "Memory and throughput").
Entries are written to temporary files and renamed, ``meta.json`` last: concurrent writers of one
entry each produce the same bytes and the last rename wins.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import numpy as np

from bgbench.atomic import atomic_write_json
from bgbench.rowfile import RowWriter, open_rows, read_rows

STORE_FORMAT = 1
"""Bumped when the resize or the entry layout changes (old entries are then ignored)."""

ARRAYS = ("images", "masks", "bank")


def entry_key(fingerprint: str, side: int) -> str:
    """Hex SHA-256 naming the cache entry of ``fingerprint``'s data shrunk to ``side``."""
    return hashlib.sha256(f"bgbench-train-store-v{STORE_FORMAT}\0{fingerprint}\0{side}".encode()).hexdigest()


def shrink_rows(block: np.ndarray, side: int, is_mask: bool) -> np.ndarray:
    """uint8 rows (k, H, W, 3) (or (k, H, W) 0/1 masks) resized to (k, side, side[, 3]) uint8:
    antialiased bilinear for images; masks area-averaged, then >= 0.5 is foreground."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(block, dtype=np.float32))
    x = x[:, None] if is_mask else x.permute(0, 3, 1, 2)
    small = F.interpolate(x, size=(side, side), mode="area" if is_mask else "bilinear",
                          **({} if is_mask else {"align_corners": False, "antialias": True}))
    small = (small >= 0.5)[:, 0] if is_mask else small.round().clamp(0, 255).permute(0, 2, 3, 1)
    return small.to(torch.uint8).numpy()


def _write_shrunk(source: np.ndarray, path: Path, side: int, is_mask: bool, chunk: int) -> None:
    """Stream ``source`` through :func:`shrink_rows` into the ``.npy`` at ``path`` (atomically)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    try:
        shape = (len(source), side, side) if is_mask else (len(source), side, side, 3)
        with RowWriter(tmp, shape) as out:
            for begin in range(0, len(source), chunk):
                rows = read_rows(source, slice(begin, begin + chunk))
                out.write(begin, shrink_rows(rows, side, is_mask))
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def _open_entry(entry: Path, present: dict[str, bool], side: int) -> dict[str, np.ndarray] | None:
    """The read-only memmaps of a complete entry holding the ``present`` arrays, or None."""
    from bgbench.errors import BgbenchError
    from bgbench.textio import read_json

    try:
        meta = read_json(entry / "meta.json")
        arrays = {name: open_rows(entry / f"{name}.npy") for name, there in present.items() if there}
    except (BgbenchError, OSError, ValueError):  # absent, half-written or damaged: write it again
        return None
    shapes = meta.get("shapes") if isinstance(meta, dict) else None
    if not isinstance(shapes, dict) or meta.get("format") != STORE_FORMAT or meta.get("side") != side:
        return None
    if any(list(a.shape) != shapes.get(name) or a.dtype != np.uint8 for name, a in arrays.items()):
        return None
    return arrays


def shrink_to_cache(data, side: int, cache: str | Path, *, chunk: int = 256):
    """``data`` (a TrainData) with images, masks and bank replaced by read-only memmaps of their
    ``side`` x ``side`` copies in the cache folder ``cache`` (written on the first call, in chunks of
    ``chunk`` rows). Same dtypes, value ranges and row order as :func:`shrink_rows` of the whole arrays."""
    present = {"images": True, "masks": data.masks is not None, "bank": data.bank is not None}
    entry = Path(cache) / "train" / entry_key(data.fingerprint, side)
    arrays = _open_entry(entry, present, side)
    if arrays is None:
        entry.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            if present[name]:
                _write_shrunk(getattr(data, name), entry / f"{name}.npy", side, name == "masks", chunk)
        arrays = {name: open_rows(entry / f"{name}.npy") for name in ARRAYS if present[name]}
        atomic_write_json(entry / "meta.json", {"format": STORE_FORMAT, "side": side,
                                                "fingerprint": data.fingerprint,
                                                "shapes": {k: list(a.shape) for k, a in arrays.items()}})
    return replace(data, **arrays)
