"""The challenge's inputs, read from a built (or released) IN-9 tree.

Foregrounds: every ``fg_mask/<split>/<class>/<stem>.npy`` in sorted order (class order, then file
order), each paired with ``original/<split>/<class>/<stem>.JPEG``; label = class index.
Backgrounds: every image of ``only_bg_t/<split>`` in ImageFolder order (all classes, including
each foreground's own image). Everything is read through :class:`bgbench.data.In9Tree` (decoded
once, cached); :func:`to_device` moves the banks onto the device as uint8 tensors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bgbench.data import BACKGROUND_VARIANT, FOREGROUND_VARIANT, In9Tree
from bgbench.data.masks import update_digest
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_SUFFIX, MASK_VARIANT


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
    tree = In9Tree(root)
    tree.require()
    mask_dir = tree.folder(MASK_VARIANT, split)
    if not mask_dir.is_dir():
        raise BgbenchError(f"no {MASK_VARIANT}/{split} folder: the challenge needs the foreground masks "
                           f"(build the dataset with bgbench build, or use the released data)", tree.root)
    masks = tree.files(MASK_VARIANT, split)
    if not masks:
        raise BgbenchError("holds no .npy masks", mask_dir)
    if not tree.has(BACKGROUND_VARIANT, split):
        raise BgbenchError(f"no {BACKGROUND_VARIANT}/{split} folder (the challenge's backgrounds)", tree.root)
    bgs = tree.files(BACKGROUND_VARIANT, split)
    fg_classes = tree.class_folders(MASK_VARIANT, split)
    bg_classes = tree.class_folders(BACKGROUND_VARIANT, split)
    if fg_classes != bg_classes:
        raise BgbenchError(f"class folders differ from {BACKGROUND_VARIANT}/{split}'s "
                           f"({', '.join(fg_classes)} vs {', '.join(bg_classes)})", mask_dir)
    images = []
    image_dir = tree.folder(FOREGROUND_VARIANT, split)
    for mask_path, _ in masks:
        image = image_dir / mask_path.parent.name / (mask_path.stem + IMAGE_SUFFIX)
        if not image.is_file():
            raise BgbenchError(f"mask has no image {image.relative_to(tree.root).as_posix()} "
                               f"(mask and image stems must match)", mask_path)
        images.append(image.relative_to(tree.root).as_posix())
    return ChallengeFiles(
        root=str(root), split=split, fg_images=images,
        fg_masks=[p.relative_to(tree.root).as_posix() for p, _ in masks],
        fg_labels=np.array([label for _, label in masks], dtype=np.int64),
        bg_paths=[p.relative_to(tree.root).as_posix() for p, _ in bgs],
        bg_labels=np.array([label for _, label in bgs], dtype=np.int64), class_names=bg_classes)


def load_challenge_data(root: str | Path, split: str = "val", *, cache: bool = True,
                        cache_dir: str | Path | None = None, quiet: bool = False) -> ChallengeData:
    """Decode (once, cached) the foreground images, masks and background bank of ``root``
    (``quiet``: no progress bars)."""
    files = list_challenge_files(root, split)
    tree = In9Tree(root, cache=cache, cache_dir=cache_dir, quiet=quiet)
    fg = tree.foregrounds(split, needed_by="the challenge")
    if fg.mask_paths != files.fg_masks or fg.paths != files.fg_images:
        raise BgbenchError("mask list changed while reading", tree.folder(MASK_VARIANT, split))
    backgrounds = tree.backgrounds(split)
    if backgrounds.images.shape[1:] != fg.images.shape[1:]:
        raise BgbenchError(f"backgrounds are {tuple(backgrounds.images.shape[1:3])} images, foregrounds "
                           f"{tuple(fg.images.shape[1:3])}", tree.folder(BACKGROUND_VARIANT, split))
    digest = hashlib.sha256(b"bgbench-challenge-data-v1\n")
    digest.update(f"{fg.fingerprint}\n{backgrounds.fingerprint}\n".encode())
    for path in files.fg_masks:
        digest.update(path.encode() + b"\0")
    update_digest(digest, fg.masks)
    bg_labels = np.asarray(backgrounds.labels, dtype=np.int64)
    return ChallengeData(
        root=files.root, split=split, fg_images=files.fg_images, fg_masks=files.fg_masks,
        fg_labels=files.fg_labels, bg_paths=list(backgrounds.paths), bg_labels=bg_labels,
        class_names=files.class_names, fg_pixels=fg.images, masks=fg.masks,
        bg_pixels=backgrounds.images, fingerprint=digest.hexdigest(), skipped=list(backgrounds.skipped))


def to_device(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) array -> uint8 (N, 3, H, W) tensor on ``device`` (channels-last memory)."""
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8, copy=True))
    return tensor.to(device).permute(0, 3, 1, 2)


def masks_to_device(masks: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W) 0/1 masks -> uint8 (N, 1, H, W) tensor on ``device``."""
    return torch.from_numpy(np.array(masks, dtype=np.uint8, copy=True)).to(device).unsqueeze(1)

