"""The images saliency and the probes read: ``original`` with its ``fg_mask`` (and ``only_bg_t``).

:func:`check_data` runs before any model is loaded or file written, so a tree without masks fails
with one line naming the folder; :func:`load_data` decodes the images (the shared cached loader) and
aligns the masks; :func:`select_images` picks a subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.errors import BgbenchError
from bgbench.eval.discover import find_variants, shared_class_folders
from bgbench.layout import MASK_VARIANT, variant_dir

BACKGROUND_VARIANT = "only_bg_t"


@dataclass
class ExplainData:
    """``images`` uint8 (N, H, W, 3) of ``original``; ``masks`` uint8 (N, H, W) 0/1; ``labels`` int64
    (N,) folder indices into ``folders``; ``paths`` relative to the root; ``backgrounds`` uint8
    (N, H, W, 3) of each image's own ``only_bg_t`` (None when not asked for)."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    paths: list[str]
    folders: list[str]
    fingerprint: str
    backgrounds: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def check_data(root: str | Path, split: str, command: str, backgrounds: bool = False) -> list[str]:
    """The class folders of ``original/<split>``; a one-line BgbenchError naming the folder when
    ``original``, ``fg_mask`` (or, with ``backgrounds``, ``only_bg_t``) is missing for ``split``."""
    root = Path(root)
    names = ["original", BACKGROUND_VARIANT] if backgrounds else ["original"]
    from bgbench.augment import mask_folder

    find_variants(root, split, names)
    mask_folder(root, split, needed_by=command)
    return shared_class_folders(root, names, split)


def load_data(
    root: str | Path,
    split: str,
    *,
    backgrounds: bool = False,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
) -> ExplainData:
    """Decode ``original/<split>`` (and ``only_bg_t``) and align ``fg_mask/<split>`` with it; a
    BgbenchError naming the folder when masks or backgrounds do not match the images one to one."""
    from bgbench.augment import aligned_masks
    from bgbench.dataset import load_variant
    from bgbench.eval.draws import foreground_keys

    root = Path(root)
    original = load_variant(root, "original", split, cache=cache, cache_dir=cache_dir, quiet=quiet)
    masks = aligned_masks(root, split, original.paths, quiet=quiet)
    if masks.shape[1:] != original.images.shape[1:3]:
        raise BgbenchError(
            f"masks are {masks.shape[1:]} but the images {original.images.shape[1:3]}",
            variant_dir(root, MASK_VARIANT, split),
        )
    bank = None
    if backgrounds:
        bg = load_variant(root, BACKGROUND_VARIANT, split, cache=cache, cache_dir=cache_dir, quiet=quiet)
        if (
            foreground_keys(bg.paths) != foreground_keys(original.paths)
            or bg.images.shape != original.images.shape
        ):
            raise BgbenchError(
                f"{BACKGROUND_VARIANT}/{split} does not hold one background (same class, stem "
                "and size) per original image",
                variant_dir(root, BACKGROUND_VARIANT, split),
            )
        bank = bg.images
    return ExplainData(
        images=original.images,
        masks=masks,
        labels=np.asarray(original.labels),
        paths=list(original.paths),
        folders=list(original.class_names),
        fingerprint=original.fingerprint,
        backgrounds=bank,
    )


def select_images(
    labels: np.ndarray, images: int | None = None, per_class: int | None = None, seed: int = 0
) -> np.ndarray:
    """int64 indices (sorted) of the images to use: all; the first ``per_class`` of each class (in
    dataset order); or ``images`` drawn without replacement with ``numpy.random.default_rng(seed)``.
    ``images`` and ``per_class`` together: ``per_class`` first, then at most ``images`` of those."""
    labels = np.asarray(labels)
    chosen = np.arange(labels.size)
    if per_class is not None:
        if per_class < 1:
            raise BgbenchError(f"--per-class must be at least 1, got {per_class}")
        chosen = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)])
        chosen.sort()
    if images is not None:
        if images < 1:
            raise BgbenchError(f"--images must be at least 1, got {images}")
        if images < chosen.size:
            chosen = np.sort(np.random.default_rng(seed).choice(chosen, size=images, replace=False))
    return chosen.astype(np.int64)


def provenance(
    root: Path, split: str, data: ExplainData, chosen: np.ndarray, selection: dict[str, Any], device: str
) -> dict[str, Any]:
    """The fields saliency.json and probe.json share: what data (root, split, fingerprint, which
    images), on which device, with which versions, when."""
    from bgbench.jsonable import versions

    return {
        "data": {
            "root": str(Path(root).resolve()),
            "split": split,
            "variant": "original",
            "masks": MASK_VARIANT,
            "fingerprint": data.fingerprint,
            "n_images": int(chosen.size),
            "n_available": len(data),
            "selection": selection,
        },
        "device": device,
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
