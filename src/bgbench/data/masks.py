"""Foreground masks of an IN-9 style tree: ``fg_mask/<split>/<class>/<stem>.npy``, checked, aligned
with an image variant's paths and (when caching) memory-mapped from a cache file.

Stages read masks through :meth:`bgbench.data.In9Tree.masks` and
:meth:`~bgbench.data.In9Tree.foregrounds`.
:func:`load_masks` reads every mask of a split in sorted (ImageFolder) order; with ``cache=True`` they
are written once, one at a time, to ``<cache>/masks/<stat key>/masks.npy`` (the stat key as for the
images, :func:`bgbench.data.images.variant_fingerprint`) and returned as a read-only memmap, so a
large split (45k masks at 224 px are 2.3 GB) is never held in memory. :func:`check_aligned` checks
that they pair one to one with image paths by ``<class>/<stem>``.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_write_json
from bgbench.data.discover import foreground_keys
from bgbench.data.images import CACHE_FORMAT, cache_root, list_variant, variant_fingerprint
from bgbench.errors import BgbenchError
from bgbench.layout import MASK_SUFFIX, MASK_VARIANT, variant_dir
from bgbench.progress import progress
from bgbench.rowfile import RowWriter, open_rows, read_rows

HASH_CHUNK = 256
"""Rows hashed at a time by :func:`update_digest` (bounded memory)."""

__all__ = ["MaskData", "check_aligned", "load_masks", "mask_folder", "update_digest"]


@dataclass
class MaskData:
    """Foreground masks ``fg_mask/<split>/<class>/<stem>.npy`` in sorted order.

    ``masks``: uint8 (N, H, W) with values 0/1; ``labels``: int64 (N,); ``paths``: POSIX paths
    relative to the root; ``class_names``: the sorted class folders.
    """

    masks: np.ndarray
    labels: np.ndarray
    paths: list[str]
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])




def _as_binary_mask(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] in (1, 3) and (arr == arr[:, :, :1]).all():
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise BgbenchError(f"mask has shape {arr.shape}, expected (H, W)", path)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.number):
        raise BgbenchError(f"mask has dtype {arr.dtype}, expected numbers 0/1", path)
    if not np.isin(arr, (0, 1)).all():
        raise BgbenchError("mask holds values other than 0 and 1", path)
    return arr.astype(np.uint8)


def load_masks(root: str | Path, split: str = "val", *, quiet: bool = False, cache: bool = False,
               cache_dir: str | Path | None = None) -> MaskData:
    """Read every ``<root>/fg_mask/<split>/<class>/<stem>.npy`` in sorted (ImageFolder) order.

    Each file must hold a 0/1 (or bool) array of shape (H, W) (an (H, W, 1|3) array with equal
    channels is accepted), all of one shape. Loaded with ``allow_pickle=False``. Returns uint8
    masks (N, H, W). Any bad file raises ``BgbenchError`` naming it.
    ``cache=True``: the masks are written once, one at a time, to a ``.npy`` under the cache folder
    (keyed like the images' cache on the files' paths, sizes and mtimes) and returned as a read-only
    memmap, so a large split (45k masks at 224 px are 2.3 GB) is never held in memory.
    """
    root = Path(root)
    files, names = list_variant(root, MASK_VARIANT, split, frozenset({MASK_SUFFIX}))
    labels = np.array([label for _, label in files], dtype=np.int64)
    paths = [p.relative_to(root).as_posix() for p, _ in files]
    if cache:
        entry = cache_root(cache_dir) / "masks" / variant_fingerprint(files, root)
        masks = _cached_masks(entry, paths)
        if masks is None:
            masks = _masks_to_cache(files, entry, paths, split, quiet)
    else:
        masks = _masks_in_memory(files, split, quiet)
    return MaskData(masks=masks, labels=labels, paths=paths, class_names=names)


def _read_mask(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise BgbenchError(f"cannot read mask ({str(exc).splitlines()[0] if str(exc) else exc!r})",
                           path) from exc
    return _as_binary_mask(np.asarray(arr), path)


def _masks_in_memory(files: list[tuple[Path, int]], split: str, quiet: bool) -> np.ndarray:
    masks: np.ndarray | None = None
    for i, (path, _) in enumerate(progress(files, desc=f"masks {split}", unit="mask", quiet=quiet)):
        mask = _read_mask(path)
        if masks is None:
            masks = np.empty((len(files), *mask.shape), dtype=np.uint8)
        elif mask.shape != masks.shape[1:]:
            raise BgbenchError(f"mask has shape {mask.shape}, but the first mask has {masks.shape[1:]}", path)
        masks[i] = mask
    assert masks is not None  # _list_variant guarantees at least one file
    return masks


def _cached_masks(entry: Path, paths: list[str]) -> np.ndarray | None:
    """The memmap of a complete masks cache entry for ``paths``, or None."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("format") != CACHE_FORMAT or meta.get("paths") != paths:
            return None
        masks = open_rows(entry / "masks.npy")
    except (OSError, ValueError):
        return None
    return masks if list(masks.shape) == meta["shape"] and masks.dtype == np.uint8 else None


def _masks_to_cache(files: list[tuple[Path, int]], entry: Path, paths: list[str], split: str,
                    quiet: bool) -> np.ndarray:
    """Check and write every mask into ``entry/masks.npy`` (atomically, ``meta.json`` last)."""
    entry.mkdir(parents=True, exist_ok=True)
    first = _read_mask(files[0][0])
    fd, tmp = tempfile.mkstemp(prefix=".masks.npy.tmp-", dir=entry)
    os.close(fd)
    try:
        with RowWriter(tmp, (len(files), *first.shape)) as out:
            for i, (path, _) in enumerate(progress(files, desc=f"masks {split}", unit="mask", quiet=quiet)):
                mask = first if i == 0 else _read_mask(path)
                if mask.shape != first.shape:
                    raise BgbenchError(f"mask has shape {mask.shape}, but the first mask has {first.shape}",
                                       path)
                out[i] = mask
        os.replace(tmp, entry / "masks.npy")
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    atomic_write_json(entry / "meta.json", {"format": CACHE_FORMAT, "shape": [len(files), *first.shape],
                                            "paths": paths})
    return open_rows(entry / "masks.npy")


def mask_folder(root: str | Path, split: str, needed_by: str = "background swap") -> Path:
    """``root/fg_mask/<split>``; BgbenchError naming it (and ``needed_by``, what needs the masks)
    when it does not exist."""
    folder = variant_dir(Path(root), MASK_VARIANT, split)
    if not folder.is_dir():
        raise BgbenchError(f"no foreground masks: {needed_by} needs fg_mask/{split} beside the images "
                           "(a tree built by bgbench build has both)", folder)
    return folder


def check_aligned(mask_paths: list[str], paths: list[str], folder: Path) -> None:
    """BgbenchError naming the mask ``folder`` unless ``mask_paths`` hold one mask per image path of
    ``paths`` (same ``<class>/<stem>``, same order)."""
    have, want = foreground_keys(mask_paths), foreground_keys(paths)
    if have != want:
        first = next((f"{w} vs {h}" for w, h in zip(want, have, strict=False) if w != h),
                     f"{len(want)} images, {len(have)} masks")
        raise BgbenchError(f"does not hold one mask per image (same class and stem, same order; "
                           f"first difference: {first})", folder)


def update_digest(digest: Any, array: np.ndarray, chunk: int = HASH_CHUNK) -> None:
    """Feed the bytes of the whole C-ordered ``array`` (e.g. uint8 (N, H, W) masks, a memmap) into
    ``digest`` (a ``hashlib`` object), ``chunk`` rows at a time: the same digest as feeding
    ``array.tobytes()``, in bounded memory."""
    for begin in range(0, len(array), chunk):
        digest.update(np.ascontiguousarray(read_rows(array, slice(begin, begin + chunk))).tobytes())
