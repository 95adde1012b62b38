"""Compositing a foreground onto a background: the one function behind mixed_* variants, the
challenge and background-swap augmentation.

``out = bg * (1 - m) + fg * m`` where ``m`` is the foreground mask in [0, 1]. With a 0/1 mask
this copies foreground pixels exactly and background pixels exactly.
"""

from __future__ import annotations

import numpy as np


def composite(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Paste ``foreground`` over ``background`` where ``mask`` is set.

    foreground, background: uint8 (H, W, 3). mask: bool or 0/1 numeric (H, W), or float in [0, 1]
    for soft edges. Returns uint8 (H, W, 3); with a binary mask, pixels are copied exactly.
    """
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {foreground.shape} and background {background.shape} differ in shape")
    if mask.shape != foreground.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {foreground.shape[:2]}")
    if mask.dtype == bool or np.issubdtype(mask.dtype, np.integer):
        return np.where(mask.astype(bool)[..., None], foreground, background)
    m = np.clip(mask.astype(np.float32), 0.0, 1.0)[..., None]
    out = background.astype(np.float32) * (1.0 - m) + foreground.astype(np.float32) * m
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def composite_torch(foreground, background, mask):
    """Torch twin of :func:`composite` on float tensors in [0, 1]: ``bg * (1 - m) + fg * m``.

    foreground: (N or 1, 3, H, W); background: (N or 1, 3, H, W); mask: broadcastable to them,
    e.g. (N or 1, 1, H, W) with values in [0, 1]. Exactly the released challenge's arithmetic.
    """
    return background * (1 - mask) + foreground * mask
