"""Foreground extraction: GrabCut from the boxes (the paper's method), the boxes themselves, or a
provided mask.

GrabCut follows the authors' generator: initialised from the box (outside = definite background,
inside = probable foreground), ``iterations`` rounds (5), foreground = definite + probable
foreground. A result under ``min_fraction`` (10%) of the box area is a failure and is retried, up
to ``max_tries`` (10) times; try ``t`` seeds OpenCV's RNG with :func:`derive_seed` of
``(seed, "grabcut", t)``, so the same image and seed always give the same mask.

Several boxes: ONE GrabCut whose initial mask marks every box as probable foreground and the rest
as definite background (``GC_INIT_WITH_MASK``). With one box this is exactly
``GC_INIT_WITH_RECT`` (OpenCV builds the same initial mask); with several it fits one background
model to the whole image instead of letting each box's rectangle call the other objects
"background". The failure test compares against the union of the boxes' pixels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from bgbench.variants import Box, boxes_mask

METHODS: tuple[str, ...] = ("grabcut", "box", "mask")


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (sha256 of their repr joined; never Python's hash())."""
    text = "\x1f".join(repr(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class SegmentResult:
    """Outcome of :func:`segment`.

    ``mask``: bool (H, W) foreground (None on failure); ``ok``; ``reason``: why it failed;
    ``tries``: GrabCut attempts made (0 for box/mask); ``seeds``: the RNG seed of each try;
    ``box_fraction``: foreground pixels / box-union pixels of the returned (or last) mask.
    """

    mask: np.ndarray | None
    method: str
    ok: bool
    reason: str | None = None
    tries: int = 0
    seeds: tuple[int, ...] = field(default_factory=tuple)
    box_fraction: float = 0.0


def grabcut_once(image: np.ndarray, boxes: Sequence[Box], *, seed: int, iterations: int = 5) -> np.ndarray:
    """One seeded GrabCut from the boxes. image uint8 (H, W, 3) RGB -> bool (H, W) foreground.

    Raises ``cv2.error`` when OpenCV cannot run (e.g. no background pixel left).
    """
    init = np.full(image.shape[:2], cv2.GC_BGD, dtype=np.uint8)
    init[boxes_mask(image.shape[:2], boxes)] = cv2.GC_PR_FGD
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(int(seed))
    bgr = np.ascontiguousarray(image[..., ::-1])
    cv2.grabCut(bgr, init, None, bgd_model, fgd_model, int(iterations), cv2.GC_INIT_WITH_MASK)
    return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)


def segment(image: np.ndarray, boxes: Sequence[Box], method: str = "grabcut", *, seed: int,
            iterations: int = 5, provided_mask: np.ndarray | None = None, min_fraction: float = 0.1,
            max_tries: int = 10) -> SegmentResult:
    """Foreground mask of ``image`` (uint8 (H, W, 3) RGB) by ``method``.

    - ``grabcut``: seeded GrabCut from ``boxes`` with retries (module docstring).
    - ``box``: the union of the boxes.
    - ``mask``: ``provided_mask`` (bool/0-1 (H, W)) as is; fails when it is missing.
    Fails (``ok=False`` with a reason) on an empty foreground; never raises for bad content.
    """
    if method not in METHODS:
        raise ValueError(f"unknown segmenter {method!r} (choose from {', '.join(METHODS)})")
    shape = image.shape[:2]
    in_boxes = boxes_mask(shape, boxes) if boxes else np.zeros(shape, dtype=bool)
    box_area = int(in_boxes.sum())

    def fraction(mask: np.ndarray) -> float:
        return float((mask & in_boxes).sum()) / box_area if box_area else 0.0

    if method == "mask":
        if provided_mask is None:
            return SegmentResult(None, method, False, "no provided mask")
        if provided_mask.shape != shape:
            return SegmentResult(None, method, False,
                                 f"mask size {provided_mask.shape[1]}x{provided_mask.shape[0]} does not "
                                 f"match image {shape[1]}x{shape[0]}")
        mask = provided_mask.astype(bool)
        if not mask.any():
            return SegmentResult(None, method, False, "empty foreground")
        return SegmentResult(mask, method, True, box_fraction=fraction(mask))
    if box_area == 0:
        return SegmentResult(None, method, False, "no box")
    if method == "box":
        return SegmentResult(in_boxes, method, True, box_fraction=1.0)

    seeds: list[int] = []
    last_fraction, error = 0.0, None
    for attempt in range(max_tries):
        try_seed = derive_seed(seed, "grabcut", attempt)
        seeds.append(try_seed)
        try:
            mask = grabcut_once(image, boxes, seed=try_seed, iterations=iterations)
        except cv2.error as exc:  # degenerate input: retrying cannot help
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else "opencv error"
            break
        last_fraction = fraction(mask)
        if last_fraction >= min_fraction and mask.any():
            return SegmentResult(mask, method, True, tries=attempt + 1, seeds=tuple(seeds),
                                 box_fraction=last_fraction)
    if error is not None:
        reason = f"grabcut failed: {error}"
    else:
        reason = (f"grabcut foreground under {min_fraction:.0%} of the box after {len(seeds)} tries "
                  f"(last try {last_fraction:.1%})")
    return SegmentResult(None, method, False, reason, tries=len(seeds), seeds=tuple(seeds),
                         box_fraction=last_fraction)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool (H, W) masks (1.0 when both are empty)."""
    a, b = a.astype(bool), b.astype(bool)
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 1.0
