"""Deterministic JPEG encoding and decoding shared by the build and ``bgbench synth``.

:func:`encode_jpeg` writes baseline JPEGs with no optimisation pass, no progressive scan and no
metadata, so the same array, quality and chroma subsampling always give the same bytes. The build
writes its variants at quality 95 with full-resolution chroma (``"4:4:4"``, the defaults); synth
writes its source photos at quality 90 with ``"4:2:0"`` chroma, as a camera would.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["SUBSAMPLINGS", "decode_jpeg", "encode_jpeg"]

SUBSAMPLINGS: tuple[str, ...] = ("4:4:4", "4:2:0")
"""Chroma subsampling modes used by bgbench (full-resolution chroma; chroma halved both ways)."""


def encode_jpeg(image: np.ndarray, quality: int = 95, *, subsampling: str = "4:4:4") -> bytes:
    """uint8 (H, W, 3) RGB -> baseline JPEG bytes at ``quality`` (1..100) with ``subsampling`` chroma."""
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {subsampling!r}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), "RGB").save(
        buffer, "JPEG", quality=int(quality), subsampling=subsampling, optimize=False, progressive=False)
    return buffer.getvalue()


def decode_jpeg(path: str | Path) -> np.ndarray:
    """A JPEG file -> uint8 (H, W, 3) RGB."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
