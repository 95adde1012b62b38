"""Full-size photos -> model-ready [0,1] tensors, the way ImageNet classifiers are evaluated.

Dataset variant images are already 224-px centre crops; untouched photos (e.g. the real-data
samples) first need the usual shorter-side resize and centre crop, which :func:`load_photo` does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bgbench.errors import BgbenchError

_PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                "nearest": Image.Resampling.NEAREST}


def center_crop_photo(image: Image.Image, size: int, crop_fraction: float = 0.875,
                      interpolation: str = "bilinear") -> Image.Image:
    """Resize the shorter side to ``floor(size / crop_fraction)`` and take the central ``size`` x ``size``."""
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    if interpolation not in _PIL_FILTERS:
        raise ValueError(f"interpolation must be one of {sorted(_PIL_FILTERS)}")
    short = max(size, math.floor(size / crop_fraction))
    w, h = image.size
    scale = short / min(w, h)
    new_w, new_h = max(short, round(w * scale)), max(short, round(h * scale))
    if w <= h:
        new_w = short
    else:
        new_h = short
    resized = image.resize((new_w, new_h), _PIL_FILTERS[interpolation])
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return resized.crop((left, top, left + size, top + size))


def load_photo(path: str | Path, size: int, crop_fraction: float = 0.875,
               interpolation: str = "bilinear") -> torch.Tensor:
    """Read an RGB photo, resize its shorter side to ``size / crop_fraction``, centre-crop ``size``.

    Returns float32 (3, size, size) in [0, 1]. Greyscale/CMYK/palette images are converted to RGB.
    """
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise BgbenchError(f"cannot read image ({exc})", path) from exc
    crop = center_crop_photo(rgb, size, crop_fraction, interpolation)
    array = np.asarray(crop, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
