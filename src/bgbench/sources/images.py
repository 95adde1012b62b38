"""Robust image decoding: any file a dataset may hold -> uint8 (H, W, 3) RGB, or a one-line error.

Decisions (documented in docs/sources.md):

- EXIF orientation is NOT applied: ImageNet/VOC/COCO boxes are in the stored pixel orientation, so the
  pixels must stay as stored for the boxes to line up.
- Colour modes: L, 1, P, CMYK, YCbCr, LAB, HSV are converted to RGB with Pillow. Images with an alpha
  channel (RGBA, LA, PA, P with transparency) are composited on black (``rgb * alpha / 255``, rounded):
  transparent pixels have no defined colour and black is the IN-9 convention for "removed".
- 16-bit greyscale (``I;16*``, and ``I`` holding 16-bit values) is scaled to 8 bits by
  ``round(v * 255 / 65535)``, never clipped. 16-bit RGB PNGs are reduced to their high byte by Pillow.
  32-bit float (``F``) is taken as [0, 1] when its maximum is at most 1, else as [0, 255], then clipped.
- ICC profiles are not applied (stored values are used, as torchvision's loader does).
- Truncated files are errors: Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False (this module
  refuses to decode while it is True, since a silently grey-filled image would poison a benchmark).
- Decompression bombs: files declaring more than ``MAX_PIXELS`` pixels are refused before decoding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from bgbench.errors import BgbenchError

MAX_PIXELS = 89_478_485
"""Largest image (width x height) decoded; Pillow's own decompression-bomb warning threshold."""

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels. Raises BgbenchError."""
    path = Path(path)
    _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return int(im.width), int(im.height)
    except Image.DecompressionBombError as err:
        raise BgbenchError(f"image too large (possible decompression bomb): {err}", path) from None
    except UnidentifiedImageError:
        raise BgbenchError("not an image file (unrecognised format)", path) from None
    except (OSError, ValueError, SyntaxError) as err:
        raise BgbenchError(f"corrupt image data ({_short(err)})", path) from None


def load_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` to a C-contiguous uint8 array of shape (H, W, 3), RGB, values 0..255.

    Raises ``BgbenchError("<path>: <reason>")`` (one line) for a missing, empty, unreadable,
    non-image, corrupt, truncated or oversized file. The reason starts with one of: ``file not found``,
    ``not a file``, ``empty file``, ``cannot read file``, ``not an image file``, ``image too large``,
    ``truncated image file``, ``corrupt image data``, ``zero-size image``.
    """
    path = Path(path)
    _check_file(path)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise BgbenchError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process; bgbench refuses to decode "
            "because truncated images would be silently grey-filled (set it back to False)",
            path,
        )
    try:
        with warnings.catch_warnings():
            # our own checks below decide; Pillow's warnings (bombs, corrupt EXIF/TIFF tags) are noise
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                if width <= 0 or height <= 0:
                    raise BgbenchError(f"zero-size image ({width}x{height})", path)
                if width * height > max_pixels:
                    raise BgbenchError(
                        f"image too large ({width}x{height} = {width * height} pixels > {max_pixels}; "
                        "possible decompression bomb)",
                        path,
                    )
                im.load()
                return to_rgb_array(im)
    except BgbenchError:
        raise
    except Image.DecompressionBombError as err:
        raise BgbenchError(f"image too large (possible decompression bomb): {_short(err)}", path) from None
    except UnidentifiedImageError:
        raise BgbenchError("not an image file (unrecognised format)", path) from None
    except PermissionError as err:
        raise BgbenchError(f"cannot read file ({_short(err)})", path) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as err:
        text = str(err)
        if "truncated" in text.lower():
            raise BgbenchError(f"truncated image file ({_short(err)})", path) from None
        raise BgbenchError(f"corrupt image data ({_short(err)})", path) from None


def to_rgb_array(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image in any mode -> uint8 (H, W, 3) RGB (rules in the module docstring)."""
    mode = im.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if mode.startswith("I;16") or mode == "I":
        grey = _sixteen_to_eight(np.asarray(im))
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        scale = 255.0 if values.size and np.nanmax(values) <= 1.0 else 1.0
        grey = np.clip(np.nan_to_num(values * scale), 0, 255).round().astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    elif mode == "L" and "transparency" in im.info:
        im = im.convert("LA")
        mode = "LA"
    if mode in _ALPHA_MODES:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4]
        rgb = (rgba[:, :, :3] * alpha + 127) // 255
        return np.ascontiguousarray(rgb.astype(np.uint8))
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _sixteen_to_eight(values: np.ndarray) -> np.ndarray:
    """uint16-range integers (0..65535) -> uint8 by ``round(v * 255 / 65535)``; out-of-range clipped."""
    wide = np.clip(values.astype(np.int64), 0, 65535)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BgbenchError("file not found", path)
    if not path.is_file():
        raise BgbenchError("not a file", path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise BgbenchError(f"cannot read file ({_short(err)})", path) from None
    if size == 0:
        raise BgbenchError("empty file (0 bytes)", path)


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."
