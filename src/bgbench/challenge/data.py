"""The challenge's inputs, read from a built (or released) IN-9 tree.

Foregrounds: every ``fg_mask/<split>/<class>/<stem>.npy`` in sorted order (class order, then file
order), each paired with ``original/<split>/<class>/<stem>.JPEG``; label = class index.
Backgrounds: every image of ``only_bg_t/<split>`` in ImageFolder order (all classes, including
each foreground's own image). Images are decoded once through :func:`bgbench.dataset.load_variant`
(cached); :func:`to_device` moves the banks onto the device as uint8 tensors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_SUFFIX, MASK_SUFFIX, MASK_VARIANT, list_image_folder, variant_dir

FOREGROUND_VARIANT = "original"
BACKGROUND_VARIANT = "only_bg_t"


@dataclass
class ChallengeFiles:
    """Just the file lists (no decoding): what merging shards and reporting need.

    ``fg_images``/``fg_masks``: paths relative to the root, aligned; ``fg_labels`` int64 (F,);
    ``bg_paths`` relative paths, ``bg_labels`` int64 (N,); ``class_names`` sorted class folders.
    """

    root: str
    split: str
    fg_images: list[str]
    fg_masks: list[str]
    fg_labels: np.ndarray
    bg_paths: list[str]
    bg_labels: np.ndarray
    class_names: list[str]


@dataclass
class ChallengeData(ChallengeFiles):
    """Decoded banks. fg_pixels uint8 (F, H, W, 3); masks uint8 (F, H, W) 0/1; bg_pixels uint8
    (N, H, W, 3); ``fingerprint`` hex SHA-256 of the content of all three; ``skipped`` unreadable
    backgrounds (relative path, reason), left out as the released loop could not read them either."""

    fg_pixels: np.ndarray = None  # type: ignore[assignment]
    masks: np.ndarray = None  # type: ignore[assignment]
    bg_pixels: np.ndarray = None  # type: ignore[assignment]
    fingerprint: str = ""
    skipped: list[tuple[str, str]] | None = None


def list_challenge_files(root: str | Path, split: str = "val") -> ChallengeFiles:
    """List foregrounds and backgrounds without decoding; raises BgbenchError for a missing folder,
    a mask without its image, or class folders that differ between fg_mask and only_bg_t."""
    root = Path(root)
    if not root.is_dir():
        raise BgbenchError("data folder not found", root)
    mask_dir = variant_dir(root, MASK_VARIANT, split)
    if not mask_dir.is_dir():
        raise BgbenchError(f"no {MASK_VARIANT}/{split} folder: the challenge needs the foreground masks "
                           f"(build the dataset with bgbench build, or use the released data)", root)
    masks = list_image_folder(mask_dir, frozenset({MASK_SUFFIX}))
    if not masks:
        raise BgbenchError("holds no .npy masks", mask_dir)
    bg_dir = variant_dir(root, BACKGROUND_VARIANT, split)
    if not bg_dir.is_dir():
        raise BgbenchError(f"no {BACKGROUND_VARIANT}/{split} folder (the challenge's backgrounds)", root)
    bgs = list_image_folder(bg_dir)
    fg_classes = sorted(p.name for p in mask_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    bg_classes = sorted(p.name for p in bg_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if fg_classes != bg_classes:
        raise BgbenchError(f"class folders differ from {BACKGROUND_VARIANT}/{split}'s "
                           f"({', '.join(fg_classes)} vs {', '.join(bg_classes)})", mask_dir)
    images = []
    for mask_path, _ in masks:
        image = variant_dir(root, FOREGROUND_VARIANT, split) / mask_path.parent.name
        image = image / (mask_path.stem + IMAGE_SUFFIX)
        if not image.is_file():
            raise BgbenchError(f"mask has no image {image.relative_to(root).as_posix()} "
                               f"(mask and image stems must match)", mask_path)
        images.append(image.relative_to(root).as_posix())
    return ChallengeFiles(
        root=str(root), split=split, fg_images=images,
        fg_masks=[p.relative_to(root).as_posix() for p, _ in masks],
        fg_labels=np.array([label for _, label in masks], dtype=np.int64),
        bg_paths=[p.relative_to(root).as_posix() for p, _ in bgs],
        bg_labels=np.array([label for _, label in bgs], dtype=np.int64), class_names=bg_classes)


def load_challenge_data(root: str | Path, split: str = "val", *, cache: bool = True,
                        cache_dir: str | Path | None = None, quiet: bool = False) -> ChallengeData:
    """Decode (once, cached) the foreground images, masks and background bank of ``root``
    (``quiet``: no progress bars)."""
    from bgbench.dataset import load_masks, load_variant

    files = list_challenge_files(root, split)
    root = Path(root)
    mask_data = load_masks(root, split, quiet=quiet)
    if list(mask_data.paths) != files.fg_masks:
        raise BgbenchError("mask list changed while reading", variant_dir(root, MASK_VARIANT, split))
    originals = load_variant(root, FOREGROUND_VARIANT, split, cache=cache, cache_dir=cache_dir,
                             quiet=quiet)
    where = {path: i for i, path in enumerate(originals.paths)}
    bad = {path: reason for path, reason in originals.skipped}
    rows = []
    for image in files.fg_images:
        if image in bad:
            raise BgbenchError(f"foreground image is unreadable ({bad[image]})", root / image)
        if image not in where:
            raise BgbenchError("foreground image was not loaded with the original variant", root / image)
        rows.append(where[image])
    fg_pixels = np.ascontiguousarray(originals.images[np.asarray(rows, dtype=np.int64)])
    if mask_data.masks.shape[1:] != fg_pixels.shape[1:3]:
        first = files.fg_masks[0]
        raise BgbenchError(f"mask has shape {tuple(mask_data.masks.shape[1:])}, but the images are "
                           f"{tuple(fg_pixels.shape[1:3])}", root / first)
    backgrounds = load_variant(root, BACKGROUND_VARIANT, split, cache=cache, cache_dir=cache_dir,
                               quiet=quiet)
    if backgrounds.images.shape[1:] != fg_pixels.shape[1:]:
        raise BgbenchError(f"backgrounds are {tuple(backgrounds.images.shape[1:3])} images, foregrounds "
                           f"{tuple(fg_pixels.shape[1:3])}", variant_dir(root, BACKGROUND_VARIANT, split))
    digest = hashlib.sha256(b"bgbench-challenge-data-v1\n")
    digest.update(f"{originals.fingerprint}\n{backgrounds.fingerprint}\n".encode())
    for path in files.fg_masks:
        digest.update(path.encode() + b"\0")
    digest.update(np.ascontiguousarray(mask_data.masks).tobytes())
    bg_labels = np.asarray(backgrounds.labels, dtype=np.int64)
    return ChallengeData(
        root=files.root, split=split, fg_images=files.fg_images, fg_masks=files.fg_masks,
        fg_labels=files.fg_labels, bg_paths=list(backgrounds.paths), bg_labels=bg_labels,
        class_names=files.class_names, fg_pixels=fg_pixels, masks=np.asarray(mask_data.masks, dtype=np.uint8),
        bg_pixels=backgrounds.images, fingerprint=digest.hexdigest(), skipped=list(backgrounds.skipped))


def to_device(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) array -> uint8 (N, 3, H, W) tensor on ``device`` (channels-last memory)."""
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8, copy=True))
    return tensor.to(device).permute(0, 3, 1, 2)


def masks_to_device(masks: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W) 0/1 masks -> uint8 (N, 1, H, W) tensor on ``device``."""
    return torch.from_numpy(np.array(masks, dtype=np.uint8, copy=True)).to(device).unsqueeze(1)

