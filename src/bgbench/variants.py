"""The IN-9 variants as pure functions on numpy arrays (no files, no models, no executors).

Conventions
- ``image``: uint8 (H, W, 3) RGB. ``mask``: bool (H, W), True = foreground.
- ``boxes``: sequence of ``(xmin, ymin, xmax, ymax)`` *inclusive* pixel corners (ImageNet XML
  convention) in the pixels of ``image``; several boxes are all foreground (their union).
- Sizes follow the released test data: ``Resize(resize, nearest)`` (shorter side to ``resize``,
  longer side ``int(resize * long / short)`` as torchvision) then ``CenterCrop(size)``. Nearest
  uses the pixel-centre rule ``src = floor((dst + 0.5) * in / out)``, bit-exact with PIL's NEAREST.
  :func:`resize_crop` applies the same row/column selection to images and masks, so masking
  commutes with it: ``resize_crop(only_fg(img, m)) == only_fg(resize_crop(img), resize_crop(m))``.

only_bg_t tiling rule (the authors' rule, extended to several boxes)
  Let U be the bounding rectangle of all boxes. Of the four strips beside U -- left
  ``[:, :x0]``, right ``[:, x1+1:]`` (both full height), top ``[:y0, :]``, bottom ``[y1+1:, :]``
  (both full width) -- take the larger side strip and the larger top/bottom strip, and of those two
  the one with more area (ties: left before right, top before bottom, side before top/bottom).
  Tile that strip from the image's top-left corner over the whole image
  (``tiled[y, x] = strip[y % h_s, x % w_s]``) and copy the tiled pixels into every box. The strip
  lies outside every box, so it holds background only; boxes wider or taller than the strip
  simply see the tile repeat. Pixels of U outside the boxes keep their own values. When no strip
  is left (U is the whole image) the variant does not exist and the image is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bgbench.composite import composite

Box = tuple[int, int, int, int]

PHASE1_VARIANTS: tuple[str, ...] = ("original", "only_bg_b", "only_bg_t", "no_fg", "only_fg")
"""Variants computed from one image alone (the mixed ones need a donor)."""
MIXED_VARIANTS: tuple[str, ...] = ("mixed_same", "mixed_rand", "mixed_next")


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class CropIndices:
    """Source row/column of every output pixel of Resize(resize, nearest) + CenterCrop(size).

    ``rows``: int64 (size,), ``cols``: int64 (size,), indices into the source image.
    ``resized_hw``: (height, width) after the resize, ``top``/``left``: crop offset in it.
    ``full_rows``/``full_cols``: indices of the whole resized image (before the crop).
    """

    rows: np.ndarray
    cols: np.ndarray
    full_rows: np.ndarray
    full_cols: np.ndarray
    resized_hw: tuple[int, int]
    top: int
    left: int
    size: int


def resized_shape(height: int, width: int, resize: int = 256) -> tuple[int, int]:
    """(H, W) after torchvision's ``Resize(resize)``: shorter side to ``resize``, aspect kept."""
    if height <= width:
        return resize, int(resize * width / height)
    return int(resize * height / width), resize


def _nearest(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each of ``n_out`` samples, bit-exact with PIL's NEAREST resize.

    PIL walks the source coordinate by repeated addition (``x = scale / 2; x += scale``) and
    truncates; we accumulate the same float64 sums in the same order, so even ties round alike.
    """
    scale = n_in / n_out
    steps = np.full(n_out, scale, dtype=np.float64)
    steps[0] = scale * 0.5
    return np.minimum(np.add.accumulate(steps).astype(np.int64), n_in - 1)


def crop_indices(height: int, width: int, resize: int = 256, size: int = 224) -> CropIndices:
    """Indices of Resize(resize, nearest) + CenterCrop(size) for an image of ``height x width``."""
    if resize < size:
        raise ValueError(f"resize ({resize}) must be at least the crop size ({size})")
    if height < 1 or width < 1:
        raise ValueError(f"empty image {height}x{width}")
    new_h, new_w = resized_shape(height, width, resize)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    full_rows, full_cols = _nearest(height, new_h), _nearest(width, new_w)
    return CropIndices(rows=full_rows[top:top + size], cols=full_cols[left:left + size],
                       full_rows=full_rows, full_cols=full_cols, resized_hw=(new_h, new_w),
                       top=top, left=left, size=size)


def resize_crop(array: np.ndarray, resize: int = 256, size: int = 224,
                indices: CropIndices | None = None) -> np.ndarray:
    """Resize(resize, nearest) + CenterCrop(size) of an (H, W) or (H, W, C) array of any dtype.

    Returns a new contiguous array of shape (size, size[, C]) and the same dtype.
    """
    if indices is None:
        indices = crop_indices(array.shape[0], array.shape[1], resize, size)
    return np.ascontiguousarray(array[indices.rows][:, indices.cols])


# --------------------------------------------------------------------------- boxes
def boxes_mask(shape: tuple[int, int], boxes: Sequence[Box]) -> np.ndarray:
    """bool (H, W): True inside any box (inclusive corners, clipped to the image)."""
    height, width = shape
    mask = np.zeros((height, width), dtype=bool)
    for xmin, ymin, xmax, ymax in boxes:
        x0, y0 = max(int(xmin), 0), max(int(ymin), 0)
        x1, y1 = min(int(xmax), width - 1), min(int(ymax), height - 1)
        if x1 >= x0 and y1 >= y0:
            mask[y0:y1 + 1, x0:x1 + 1] = True
    return mask


def union_box(boxes: Sequence[Box]) -> Box:
    """The bounding rectangle (inclusive corners) of all boxes."""
    if not boxes:
        raise ValueError("no boxes")
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def box_problem(box: Box, width: int, height: int) -> str | None:
    """Why ``box`` is unusable on a ``width x height`` image (None when it is fine)."""
    xmin, ymin, xmax, ymax = box
    if xmax < xmin or ymax < ymin:
        return "box of zero area"
    if xmin < 0 or ymin < 0 or xmax > width - 1 or ymax > height - 1:
        return "box outside the image"
    return None


@dataclass(frozen=True)
class BoxFractions:
    """Where the (union of the) boxes lands after Resize + CenterCrop.

    ``coverage``: share of the crop covered by box pixels, in [0, 1].
    ``inside``: share of the resized box pixels that fall inside the crop, in [0, 1].
    """

    coverage: float
    inside: float


def box_crop_fractions(boxes: Sequence[Box], height: int, width: int, resize: int = 256,
                       size: int = 224) -> BoxFractions:
    """Measure the boxes on the resized image with the same nearest rule as the pixels."""
    idx = crop_indices(height, width, resize, size)
    full = boxes_mask((height, width), boxes)
    resized = full[idx.full_rows][:, idx.full_cols]
    total = int(resized.sum())
    in_crop = int(resized[idx.top:idx.top + size, idx.left:idx.left + size].sum())
    return BoxFractions(coverage=in_crop / float(size * size), inside=in_crop / total if total else 0.0)


# --------------------------------------------------------------------------- background variants
def only_bg_b(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """The image with every box blacked out (0). uint8 (H, W, 3) -> uint8 (H, W, 3)."""
    out = image.copy()
    out[boxes_mask(image.shape[:2], boxes)] = 0
    return out


def background_strip(height: int, width: int, boxes: Sequence[Box]) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the strip the tiling rule picks (module docstring), None if none is left."""
    x0, y0, x1, y1 = union_box(boxes)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, width - 1), min(y1, height - 1)
    left, right = x0, width - 1 - x1  # widths of the side strips
    top, bottom = y0, height - 1 - y1  # heights of the top/bottom strips
    side = (slice(0, height), slice(0, x0)) if left >= right else (slice(0, height), slice(x1 + 1, width))
    side_area = max(left, right) * height
    band = (slice(0, y0), slice(0, width)) if top >= bottom else (slice(y1 + 1, height), slice(0, width))
    band_area = max(top, bottom) * width
    if side_area == 0 and band_area == 0:
        return None
    return side if side_area >= band_area else band


def tile_fill(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray | None:
    """The picked background strip tiled from the top-left corner over the whole image.

    uint8 (H, W, 3) -> uint8 (H, W, 3), or None when no strip is left.
    """
    height, width = image.shape[:2]
    strip = background_strip(height, width, boxes)
    if strip is None:
        return None
    tile = image[strip]
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    return np.tile(tile, reps)[:height, :width]


def only_bg_t(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray | None:
    """only_bg_b with every box filled from :func:`tile_fill`; None when no background strip is left."""
    tiled = tile_fill(image, boxes)
    if tiled is None:
        return None
    inside = boxes_mask(image.shape[:2], boxes)
    out = image.copy()
    out[inside] = tiled[inside]
    return out


def resized_only_bg_t(image: np.ndarray, boxes: Sequence[Box], resize: int = 256, size: int = 224,
                      indices: CropIndices | None = None) -> np.ndarray | None:
    """only_bg_t at the output size: ``resize_crop(only_bg_t(image, boxes))``, uint8 (size, size, 3).

    Tiled at the source resolution, then resized and cropped (the written only_bg_t and the background
    of every mixed image that uses this image as donor). None when no background strip is left.
    """
    bg_t = only_bg_t(image, boxes)
    if bg_t is None:
        return None
    return resize_crop(bg_t, resize, size, indices=indices)


# --------------------------------------------------------------------------- foreground variants
def only_fg(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Foreground kept, everything else 0. image uint8 (H, W, 3), mask bool/0-1 (H, W)."""
    return np.where(mask.astype(bool)[..., None], image, np.uint8(0)).astype(image.dtype)


def no_fg(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Foreground blacked out (0), background kept. image uint8 (H, W, 3), mask bool/0-1 (H, W)."""
    return np.where(mask.astype(bool)[..., None], np.uint8(0), image).astype(image.dtype)


def mixed(foreground: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """This foreground (by its mask, never by "pixel == 0") over a donor's only_bg_t.

    All three are the same size (already resized/cropped): uint8 (S, S, 3), mask (S, S) 0/1.
    """
    return composite(foreground, background, mask.astype(bool))


# --------------------------------------------------------------------------- all phase-1 variants
def single_image_variants(image: np.ndarray, boxes: Sequence[Box], mask: np.ndarray,
                          resize: int = 256, size: int = 224) -> dict[str, np.ndarray] | None:
    """original, only_bg_b, only_bg_t, no_fg, only_fg (uint8 (size, size, 3)) and ``fg_mask``
    (uint8 (size, size), 0/1), computed at the source resolution, then resized and cropped.

    Returns None when only_bg_t does not exist (no background strip outside the boxes).
    """
    idx = crop_indices(image.shape[0], image.shape[1], resize, size)
    bg_t = resized_only_bg_t(image, boxes, indices=idx)
    if bg_t is None:
        return None
    crop_image = resize_crop(image, indices=idx)
    crop_mask = resize_crop(mask.astype(bool), indices=idx)
    return {
        "original": crop_image,
        "only_bg_b": resize_crop(only_bg_b(image, boxes), indices=idx),
        "only_bg_t": bg_t,
        "no_fg": no_fg(crop_image, crop_mask),
        "only_fg": only_fg(crop_image, crop_mask),
        "fg_mask": crop_mask.astype(np.uint8),
    }
