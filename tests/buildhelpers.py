"""Checks of built trees shared by test_build.py and test_build_sources.py (test helper).

The expected arrays are computed here from the *source files*, with PIL for Resize + CenterCrop and
numpy for compositing, never from the build's own outputs (apart from the lossless fg_mask .npy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bgbench.jpeg import decode_jpeg, encode_jpeg
from bgbench.sources import load_image
from bgbench.variants import only_bg_t

MIXED = ("mixed_same", "mixed_rand", "mixed_next")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def file_of(out: Path, variant: str, rec: dict) -> Path:
    suffix = ".npy" if variant == "fg_mask" else ".JPEG"
    return out / variant / rec["split"] / rec["class"] / f"{rec['stem']}{suffix}"


def resize_crop_pil(array: np.ndarray, resize: int = 256, size: int = 224) -> np.ndarray:
    """torchvision's Resize(resize, NEAREST) + CenterCrop(size), done with PIL (independent of bgbench)."""
    height, width = array.shape[:2]
    if height <= width:
        new_h, new_w = resize, int(resize * width / height)
    else:
        new_h, new_w = int(resize * height / width), resize
    resized = np.asarray(Image.fromarray(array).resize((new_w, new_h), Image.NEAREST))
    top, left = int(round((new_h - size) / 2)), int(round((new_w - size) / 2))
    return resized[top:top + size, left:left + size]


def expected_mixed(out: Path, rec: dict, image_path: Path, donor: dict, donor_path: Path) -> np.ndarray:
    """``composite(resized original, donor's resized only_bg_t, fg_mask)`` from the source files:
    uint8 (224, 224, 3), the exact array the mixed JPEG should encode."""
    foreground = resize_crop_pil(load_image(image_path))
    tiled = only_bg_t(load_image(donor_path), [tuple(b) for b in donor["boxes"]])
    assert tiled is not None
    background = resize_crop_pil(tiled)
    mask = np.load(file_of(out, "fg_mask", rec)).astype(bool)
    return np.where(mask[..., None], foreground, background)


def check_mixed_files(out: Path, rec: dict, image_path: Path, donors: dict[str, tuple[dict, Path]],
                      quality: int = 95) -> None:
    """Every mixed file of ``rec`` is the JPEG of the exact composite computed from the source files.

    Decoded, it lies within JPEG noise of that array; and since encoding is deterministic, its bytes
    equal ``encode_jpeg(expected)``: one compression only. (The tolerance alone cannot tell one
    compression from two at quality 95 -- mean error about 0.96 vs 1.01 on synth scenes -- the byte
    equality can.) ``donors``: {variant: (donor record, donor source path)}.
    """
    mask = np.load(file_of(out, "fg_mask", rec)).astype(bool)
    for variant, (donor, donor_path) in donors.items():
        expected = expected_mixed(out, rec, image_path, donor, donor_path)
        path = file_of(out, variant, rec)
        diff = np.abs(decode_jpeg(path).astype(int) - expected.astype(int))
        assert diff.mean() < 2.5 and np.percentile(diff, 99) <= 12, (variant, diff.mean())
        if mask.any():
            assert diff[mask].mean() < 3.0, (variant, diff[mask].mean())  # the foreground too
        assert path.read_bytes() == encode_jpeg(expected, quality), (variant, rec["stem"])
