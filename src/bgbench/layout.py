"""The on-disk layout of an IN-9 style dataset (the released one, and what ``bgbench build`` writes).

``<root>/<variant>/<split>/<NN_class>/<stem>.JPEG`` for image variants and
``<root>/fg_mask/<split>/<NN_class>/<stem>.npy`` for foreground masks. Folders are read like
torchvision's ImageFolder: class folders sorted, files sorted, no shuffling.
"""

from __future__ import annotations

import re
from pathlib import Path

from bgbench.errors import BgbenchError

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


def list_image_folder(folder: str | Path, extensions: frozenset[str] | None = None) -> list[tuple[Path, int]]:
    """(path, class index) pairs of an ImageFolder-style tree, in ImageFolder order.

    Class folders are sorted by name and numbered from 0; files inside each are sorted by name.
    ``extensions`` (lower-case, with dot) defaults to image files; pass ``{".npy"}`` for masks.
    Raises ``BgbenchError`` when the folder is missing or holds no class folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BgbenchError("folder not found", folder)
    exts = IMAGE_EXTENSIONS if extensions is None else extensions
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise BgbenchError("holds no class folders (expected <class>/<image> files)", folder)
    items: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.is_file() and p.suffix.lower() in exts)
        items.extend((p, index) for p in files)
    return items


def class_folders(folder: str | Path) -> list[str]:
    """Sorted class folder names directly under ``folder``."""
    return sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
