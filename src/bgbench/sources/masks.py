"""Provided foreground masks: PNG files, VOC SegmentationObject instances, COCO polygons and RLE.

Pure numpy/OpenCV; no pycocotools. Conventions:

- A mask is a bool array of shape (H, W), True = foreground.
- PNG masks: with ``values=None`` every nonzero pixel is foreground (for RGB(A) PNGs: any nonzero
  colour channel); with ``values`` given, pixels whose stored value (palette index for mode "P") is
  in ``values`` are foreground (VOC SegmentationObject: value k = k-th object of the XML, 255 = void
  border, never foreground).
- COCO polygons ``[x1, y1, x2, y2, ...]`` are in continuous pixel coordinates (pixel (i, j) covers
  [j, j+1) x [i, i+1)); a pixel is foreground when its centre lies inside the polygon, so an
  axis-aligned rectangle with integer corners (x0, y0)-(x1, y1) covers exactly (x1-x0)*(y1-y0) pixels,
  as COCO's ``area`` counts.
- COCO RLE: ``{"size": [h, w], "counts": [...]}`` (uncompressed: run lengths alternating 0s and 1s,
  starting with 0s, column-major) or ``counts`` as COCO's compressed string (decoded here).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

import bgbench.sources.reasons as reasons
from bgbench.sources.images import MAX_PIXELS
from bgbench.sources.samples import Box


class MaskError(ValueError):
    """A provided mask cannot be used; ``str(err)`` is a full one-line drop reason."""


@dataclass(frozen=True)
class PngMask:
    """A mask stored as an image file; ``values`` selects foreground pixel values (None = nonzero)."""

    path: Path
    values: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CocoMask:
    """The union of COCO segmentations (polygon lists and/or RLE dicts) of an image of ``size`` (h, w)."""

    segmentations: tuple[Any, ...]
    size: tuple[int, int]


def decode_mask_ref(ref: Any, shape: tuple[int, int]) -> np.ndarray:
    """Decode a ``Sample.mask_ref`` to a bool (H, W) mask for an image of ``shape`` = (H, W).

    Raises :class:`MaskError` (reason categories ``unreadable mask`` or ``mask size differs from image
    size``) for an unreadable file, an undecodable segmentation or a size other than ``shape``.
    """
    height, width = int(shape[0]), int(shape[1])
    if isinstance(ref, (str, Path)):
        ref = PngMask(Path(ref))
    if isinstance(ref, PngMask):
        mask = read_png_mask(ref.path, ref.values)
    elif isinstance(ref, CocoMask):
        if tuple(ref.size) != (height, width):
            raise MaskError(
                reasons.reason(
                    reasons.MASK_SIZE_MISMATCH,
                    f"annotation says {ref.size[1]}x{ref.size[0]}, image is {width}x{height}",
                )
            )
        mask = coco_segmentations_to_mask(ref.segmentations, height, width)
    else:
        raise MaskError(
            reasons.reason(reasons.UNREADABLE_MASK, f"unsupported mask reference {type(ref).__name__}")
        )
    if mask.shape != (height, width):
        raise MaskError(
            reasons.reason(
                reasons.MASK_SIZE_MISMATCH,
                f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {width}x{height}",
            )
        )
    return mask


def read_png_mask(path: str | Path, values: tuple[int, ...] | None = None) -> np.ndarray:
    """Read a mask image as bool (H, W) (rules in the module docstring). Raises :class:`MaskError`."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO would block, a device never end
        raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path.name}: not a regular file"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path.name}: mask too large "
                                               f"({im.width}x{im.height}; possible decompression bomb)"))
            im.load()
            if im.mode == "1":
                array = np.asarray(im, dtype=bool).astype(np.uint8)
            elif im.mode in ("P", "L") or im.mode.startswith("I"):
                array = np.asarray(im)
            else:
                array = np.asarray(im.convert("RGBA" if "A" in im.mode else "RGB"))
    except FileNotFoundError:
        raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path}: file not found")) from None
    except UnidentifiedImageError:
        raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path}: not an image file")) from None
    except Image.DecompressionBombError:
        raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path.name}: mask too large "
                                       "(possible decompression bomb)")) from None
    except (OSError, ValueError, SyntaxError) as err:
        raise MaskError(reasons.reason(reasons.UNREADABLE_MASK, f"{path}: {err}")) from None
    if array.ndim == 3:
        if values is not None:
            raise MaskError(
                reasons.reason(
                    reasons.UNREADABLE_MASK, f"{path}: colour PNG where an index mask was expected"
                )
            )
        return np.ascontiguousarray(array[:, :, :3].any(axis=2))
    if values is None:
        return np.ascontiguousarray(array != 0)
    return np.ascontiguousarray(np.isin(array, np.asarray(values)))


def coco_segmentations_to_mask(segmentations: Any, height: int, width: int) -> np.ndarray:
    """Union of COCO segmentations: each a polygon list, an RLE dict, or a list of RLE dicts."""
    mask = np.zeros((height, width), dtype=bool)
    for seg in segmentations:
        if isinstance(seg, dict):
            mask |= rle_to_mask(seg, height, width)
        elif isinstance(seg, (list, tuple)) and seg and isinstance(seg[0], dict):
            for part in seg:
                mask |= rle_to_mask(part, height, width)
        elif isinstance(seg, (list, tuple)):
            mask |= polygons_to_mask(seg, height, width)
        else:
            raise MaskError(
                reasons.reason(reasons.UNREADABLE_MASK, f"unknown COCO segmentation {type(seg).__name__}")
            )
    return mask


def polygons_to_mask(polygons: Any, height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (a list of flat ``[x1, y1, x2, y2, ...]`` lists) to bool (H, W).

    Pixel (i, j) is foreground when its centre (j + 0.5, i + 0.5) is inside a polygon (even-odd
    rule per polygon, union over polygons); a scanline fill, exact up to float rounding.
    """
    spans = np.zeros((height, width + 1), dtype=np.int32)
    centres_y = np.arange(height, dtype=np.float64) + 0.5
    for poly in polygons:
        try:
            coords = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        except (ValueError, TypeError):
            raise MaskError(
                reasons.reason(reasons.UNREADABLE_MASK, "COCO polygon is not a flat list of x, y numbers")
            ) from None
        if len(coords) < 3 or not np.isfinite(coords).all():
            continue  # a degenerate polygon covers no pixel centre
        x0, y0 = coords[:, 0], coords[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        yc = centres_y[:, None]  # (H, 1) against (E,) edges
        crosses = ((y0 <= yc) & (yc < y1)) | ((y1 <= yc) & (yc < y0))
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
        xs = np.where(crosses, xs, np.inf)
        xs.sort(axis=1)
        n_cross = crosses.sum(axis=1)
        for k in range(0, int(n_cross.max(initial=0)) - 1, 2):
            rows = np.flatnonzero(n_cross >= k + 2)
            # pixels j with a <= j + 0.5 < b: j from ceil(a - 0.5) to ceil(b - 0.5) - 1
            start = np.clip(np.ceil(xs[rows, k] - 0.5), 0, width).astype(np.int64)
            stop = np.clip(np.ceil(xs[rows, k + 1] - 0.5), 0, width).astype(np.int64)
            keep = stop > start
            np.add.at(spans, (rows[keep], start[keep]), 1)
            np.add.at(spans, (rows[keep], stop[keep]), -1)
    return np.cumsum(spans, axis=1)[:, :width] > 0


def decode_rle_string(text: str) -> list[int]:
    """COCO's compressed RLE string -> run lengths.

    Each count is a variable-length integer in 5-bit groups, least significant first, each group
    stored as ``chr(48 + group)`` with bit 0x20 meaning "more groups follow" and, in the last group,
    bit 0x10 the sign. From the fourth count on, the stored value is the difference to the count two
    places before (``counts[i] = stored + counts[i - 2]`` for ``i > 2``).
    """
    counts: list[int] = []
    pos = 0
    n = len(text)
    while pos < n:
        value = 0
        shift = 0
        while True:
            if pos >= n:
                raise MaskError(
                    reasons.reason(reasons.UNREADABLE_MASK, "compressed RLE string ends mid-number")
                )
            c = ord(text[pos]) - 48
            if c < 0 or c > 63:
                raise MaskError(
                    reasons.reason(reasons.UNREADABLE_MASK, f"bad character {text[pos]!r} in compressed RLE")
                )
            value |= (c & 0x1F) << shift
            more = c & 0x20
            pos += 1
            shift += 5
            if not more:
                if c & 0x10:
                    value -= 1 << shift
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode_rle_string(counts: list[int]) -> str:
    """Inverse of :func:`decode_rle_string` (run lengths -> COCO compressed string)."""
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        while True:
            c = x & 0x1F
            x >>= 5
            more = not ((x == 0 and not (c & 0x10)) or (x == -1 and (c & 0x10)))
            if more:
                c |= 0x20
            out.append(chr(c + 48))
            if not more:
                break
    return "".join(out)


def rle_to_mask(rle: dict[str, Any], height: int | None = None, width: int | None = None) -> np.ndarray:
    """Decode a COCO RLE dict (compressed string or uncompressed list ``counts``) to bool (H, W)."""
    try:
        h, w = (int(v) for v in rle["size"])
        counts_field = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise MaskError(
            reasons.reason(reasons.UNREADABLE_MASK, "COCO RLE needs 'size' [h, w] and 'counts'")
        ) from None
    if height is not None and width is not None and (h, w) != (height, width):
        raise MaskError(
            reasons.reason(reasons.MASK_SIZE_MISMATCH, f"RLE size is {w}x{h}, image is {width}x{height}")
        )
    if isinstance(counts_field, bytes):
        counts_field = counts_field.decode("ascii")
    counts = (
        decode_rle_string(counts_field) if isinstance(counts_field, str) else [int(c) for c in counts_field]
    )
    total = h * w
    if any(c < 0 for c in counts) or sum(counts) != total:
        raise MaskError(
            reasons.reason(
                reasons.UNREADABLE_MASK, f"RLE run lengths sum to {sum(counts)}, expected {h}x{w} = {total}"
            )
        )
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return np.ascontiguousarray(flat.reshape(w, h).T)


def mask_to_rle_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO run lengths (column-major, starting with background) of a bool (H, W) mask."""
    flat = np.asarray(mask, dtype=bool).T.reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return [int(r) for r in runs]


def mask_boxes(mask: np.ndarray, *, min_fraction: float = 0.01) -> list[Box]:
    """Tight inclusive boxes of the mask's 8-connected components, largest first.

    Components with fewer than ``min_fraction`` of the mask's foreground pixels (specks) are ignored;
    an empty mask gives no box. Boxes are (xmin, ymin, xmax, ymax) inclusive pixel corners.
    """
    binary = np.asarray(mask, dtype=np.uint8)
    total = int(binary.sum())
    if total == 0:
        return []
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    found = []
    for k in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area >= min_fraction * total:
            found.append((area, (x, y, x + w - 1, y + h - 1)))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [box for _, box in found]
