"""The on-disk layout of an IN-9 style dataset (the released one, and what ``bgbench build`` writes).

``<root>/<variant>/<split>/<NN_class>/<stem>.JPEG`` for image variants and
``<root>/fg_mask/<split>/<NN_class>/<stem>.npy`` for foreground masks. Folders are read like
torchvision's ImageFolder: class folders sorted, files sorted, no shuffling.

Names and path arithmetic only: the one reader of a tree is :mod:`bgbench.data` (listing, decoding,
masks, donors), the one writer the build (:mod:`bgbench.builder.writer`).
"""

from __future__ import annotations

import re
from pathlib import Path

IMAGE_VARIANTS: tuple[str, ...] = (
    "original", "only_bg_b", "only_bg_t", "no_fg", "only_fg", "mixed_same", "mixed_rand", "mixed_next",
)
"""The eight image variants, in the order tables list them."""

MASK_VARIANT = "fg_mask"
VARIANTS: tuple[str, ...] = (*IMAGE_VARIANTS, MASK_VARIANT)
SPLITS: tuple[str, ...] = ("train", "val")
IMAGE_SUFFIX = ".JPEG"
MASK_SUFFIX = ".npy"
IMAGE_EXTENSIONS = frozenset({".jpeg", ".jpg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff"})


CLASS_FOLDER = re.compile(r"(\d{2,})_.+")
"""A released-layout class folder, ``NN_name``: ``NN`` is the class index."""


def folder_index(name: str) -> int | None:
    """The class index ``NN`` of a folder named ``NN_name``, None for any other name."""
    match = CLASS_FOLDER.fullmatch(name)
    return int(match.group(1)) if match else None


def variant_dir(root: str | Path, variant: str, split: str) -> Path:
    """``<root>/<variant>/<split>``."""
    return Path(root) / variant / split


def image_path(root: str | Path, variant: str, split: str, class_folder: str, stem: str) -> Path:
    suffix = MASK_SUFFIX if variant == MASK_VARIANT else IMAGE_SUFFIX
    return variant_dir(root, variant, split) / class_folder / f"{stem}{suffix}"
