"""Probe composites: a foreground moved, rescaled, or a noisy foreground / background. Pure functions
on uint8 arrays; every composite is made by :func:`bgbench.composite.composite`, the function the
build, the challenge and the augmentation use.

Shapes: ``image`` and ``background`` uint8 (H, W, 3); ``mask`` 0/1 (H, W) with at least one pixel set.
The background is the image's own ``only_bg_t`` (the object's box refilled with tiled background).

- position: the foreground's bounding box is moved by whole pixels so that its centre lands on the
  centre of each cell of a ``grid`` x ``grid`` grid, shifted back inside the frame where it would
  leave it; every foreground pixel is copied unchanged.
- scale: the box is resized by a factor about its centre (image antialiased with OpenCV's area
  filter when shrinking and bilinear when enlarging, mask nearest-neighbour so it stays 0/1), parts
  that leave the frame are cut; factor 1.0 is the image itself, pixel for pixel.
- noise: Gaussian noise of standard deviation sigma (on the [0, 1] scale, clipped to [0, 1], rounded
  to uint8) added only inside the mask (``fg_noise``) or only outside it (``bg_noise``), one noise
  field per image shared by both and by every sigma, as in Hard ImageNet's evaluation.
"""

from __future__ import annotations

import numpy as np

from bgbench.composite import composite
from bgbench.explain.config import DEFAULT_FACTORS, DEFAULT_SIGMAS

CENTRE = "r1c1"


def foreground_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the mask's set pixels, bottom/right exclusive; ValueError when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask has no foreground pixel")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _place(
    image: np.ndarray, mask: np.ndarray, crop: np.ndarray, crop_mask: np.ndarray, top: int, left: int
) -> tuple[np.ndarray, np.ndarray]:
    """``crop`` / ``crop_mask`` written into zero canvases shaped like ``image`` / ``mask`` with their
    top-left corner at (top, left); what falls outside the frame is cut."""
    height, width = mask.shape
    out, out_mask = np.zeros_like(image), np.zeros_like(mask)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + crop_mask.shape[0]), min(width, left + crop_mask.shape[1])
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = crop[y0 - top : y1 - top, x0 - left : x1 - left]
        out_mask[y0:y1, x0:x1] = crop_mask[y0 - top : y1 - top, x0 - left : x1 - left]
    return out, out_mask


def cell_shifts(mask: np.ndarray, grid: int = 3) -> list[tuple[str, int, int]]:
    """(``r<i>c<j>``, dy, dx) per grid cell, row by row: the whole-pixel shift that puts the
    foreground box's centre on the cell's centre, reduced where the box would leave the frame."""
    top, bottom, left, right = foreground_box(mask)
    height, width = mask.shape
    box_h, box_w = bottom - top, right - left
    shifts = []
    for r in range(grid):
        for c in range(grid):
            new_top = int(round((r + 0.5) * height / grid - box_h / 2))
            new_left = int(round((c + 0.5) * width / grid - box_w / 2))
            new_top, new_left = min(max(new_top, 0), height - box_h), min(max(new_left, 0), width - box_w)
            shifts.append((f"r{r}c{c}", new_top - top, new_left - left))
    return shifts


def move_foreground(image: np.ndarray, mask: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask) with the foreground box shifted by (dy, dx) whole pixels (outside the moved
    mask the image is zero; composite it onto a background)."""
    top, bottom, left, right = foreground_box(mask)
    return _place(
        image, mask, image[top:bottom, left:right], mask[top:bottom, left:right], top + dy, left + dx
    )


def position_composites(
    image: np.ndarray, mask: np.ndarray, background: np.ndarray, grid: int = 3
) -> tuple[list[str], np.ndarray]:
    """(names, uint8 (grid * grid + 1, H, W, 3)): the foreground pasted at the centre of each cell
    (``r<i>c<j>``, row by row), then ``in_place`` (where it was, the reference)."""
    names, out = [], []
    for name, dy, dx in cell_shifts(mask, grid):
        moved, moved_mask = move_foreground(image, mask, dy, dx)
        names.append(name)
        out.append(composite(moved, background, moved_mask))
    names.append("in_place")
    out.append(composite(image, background, mask))
    return names, np.stack(out)


def rescale_foreground(image: np.ndarray, mask: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask) with the foreground box resized by ``factor`` about its centre (see the module
    docstring); factor 1.0 returns the inputs unchanged."""
    import cv2

    if factor <= 0:
        raise ValueError(f"scale factor must be positive, got {factor}")
    if factor == 1.0:
        return image, mask
    top, bottom, left, right = foreground_box(mask)
    new_h, new_w = max(1, int(round((bottom - top) * factor))), max(1, int(round((right - left) * factor)))
    filt = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(np.ascontiguousarray(image[top:bottom, left:right]), (new_w, new_h), interpolation=filt)
    crop_mask = cv2.resize(
        np.ascontiguousarray(mask[top:bottom, left:right]).astype(np.uint8),
        (new_w, new_h),
        interpolation=cv2.INTER_NEAREST,
    )
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    return _place(
        image,
        mask.astype(np.uint8),
        crop,
        crop_mask,
        int(round(centre_y - new_h / 2)),
        int(round(centre_x - new_w / 2)),
    )


def scale_composites(
    image: np.ndarray, mask: np.ndarray, background: np.ndarray, factors: tuple[float, ...] = DEFAULT_FACTORS
) -> tuple[list[str], np.ndarray]:
    """(``scale=<f>`` names, uint8 (len(factors), H, W, 3)): the rescaled foreground on the background."""
    out = []
    for factor in factors:
        scaled, scaled_mask = rescale_foreground(image, mask, factor)
        out.append(composite(scaled, background, scaled_mask))
    return [f"scale={f:g}" for f in factors], np.stack(out)


def noise_composites(
    image: np.ndarray,
    mask: np.ndarray,
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS,
    rng: np.random.Generator | None = None,
) -> tuple[list[str], np.ndarray]:
    """(names, uint8 (1 + 2 * len(sigmas), H, W, 3)): ``clean`` (the image), then per sigma
    ``fg_noise=<s>`` and ``bg_noise=<s>``."""
    rng = np.random.default_rng(0) if rng is None else rng
    noise = rng.standard_normal(image.shape).astype(np.float32)
    clean = image.astype(np.float32) / 255.0
    names, out = ["clean"], [image]
    for sigma in sigmas:
        noisy = np.clip(np.rint(np.clip(clean + sigma * noise, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)
        names += [f"fg_noise={sigma:g}", f"bg_noise={sigma:g}"]
        out += [composite(noisy, image, mask), composite(image, noisy, mask)]
    return names, np.stack(out)
