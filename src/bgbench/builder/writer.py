"""Files of a build: the released layout, per-image done-markers, variant files (JPEG: bgbench.jpeg).

Layout under OUT (released IN-9 layout, so the authors' evaluation code reads it unchanged)::

    <variant>/<split>/<NN_class>/<stem>.JPEG   224x224 RGB JPEG (quality 95, 4:4:4, baseline)
    fg_mask/<split>/<NN_class>/<stem>.npy      uint8 0/1 (224, 224)
    manifest.jsonl, build.json
    .bgbench-build/<split>/config.json          the arguments that define the output
    .bgbench-build/<split>/records/<kk>/<key>.json   one record per source image (its done-marker)

Every file is written atomically; a record is written after all the image's files, so its presence
means the image is finished (a done marker, :mod:`bgbench.resume`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_save_npy, atomic_write_bytes, atomic_write_json
from bgbench.errors import BgbenchError
from bgbench.jpeg import encode_jpeg
from bgbench.layout import MASK_VARIANT, image_path
from bgbench.resume import read_state

STATE_DIR = ".bgbench-build"


def variant_path(out: str | Path, variant: str, split: str, class_folder: str, stem: str) -> Path:
    """``<out>/<variant>/<split>/<class_folder>/<stem>.<JPEG|npy>``; BgbenchError unless every part is
    one plain name, so no file is ever written (or removed) outside OUT whatever a dataset names."""
    for part in (variant, split, class_folder, stem):
        if (not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part
                or os.path.isabs(part)):
            raise BgbenchError(f"refusing to write outside the output folder (path part {part!r})", out)
    return image_path(out, variant, split, class_folder, stem)


def write_variant(out: str | Path, variant: str, split: str, class_folder: str, stem: str,
                  array: np.ndarray, quality: int = 95) -> Path:
    """Write one variant file atomically: JPEG for images, .npy (uint8 0/1) for ``fg_mask``.

    Not fsynced (one fsync per file would cost more than everything but GrabCut): the rename keeps it
    atomic, and the image's record (fsynced, written last) is what a resumed build trusts.
    """
    path = variant_path(out, variant, split, class_folder, stem)
    if variant == MASK_VARIANT:
        atomic_save_npy(path, np.ascontiguousarray(array, dtype=np.uint8), fsync=False)
    else:
        atomic_write_bytes(path, encode_jpeg(array, quality), fsync=False)
    return path


def state_dir(out: str | Path, split: str) -> Path:
    return Path(out) / STATE_DIR / split


def record_key(source_id: str) -> str:
    return hashlib.sha256(source_id.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def record_path(out: str | Path, split: str, source_id: str) -> Path:
    key = record_key(source_id)
    return state_dir(out, split) / "records" / key[:2] / f"{key}.json"


def write_record(out: str | Path, split: str, record: dict[str, Any]) -> None:
    atomic_write_json(record_path(out, split, record["source_id"]), record, indent=None)


def read_record(out: str | Path, split: str, source_id: str) -> dict[str, Any] | None:
    """The finished record of an image, or None (absent or unreadable: redo the image)."""
    return read_state(record_path(out, split, source_id))
