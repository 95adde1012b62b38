"""The images saliency and the probes read: ``original`` with its ``fg_mask`` (and ``only_bg_t``).

:func:`check_data` runs before any model is loaded or file written, so a tree without masks fails
with one line naming the folder; :func:`load_data` reads the foregrounds (images with their masks)
through :class:`bgbench.data.In9Tree`; :func:`select_images` picks a subset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import CacheChoice, ImageSubset
from bgbench.data import BACKGROUND_VARIANT, FOREGROUND_VARIANT, In9Tree
from bgbench.layout import MASK_VARIANT


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
    tree = In9Tree(root)
    names = [FOREGROUND_VARIANT, BACKGROUND_VARIANT] if backgrounds else [FOREGROUND_VARIANT]
    tree.variants(split, names)
    tree.mask_folder(split, needed_by=command)
    return tree.shared_class_folders(names, split)


def load_data(
    root: str | Path,
    split: str,
    *,
    backgrounds: bool = False,
    cache: CacheChoice = CacheChoice(),
    quiet: bool = False,
    command: str = "this command",
) -> ExplainData:
    """The foregrounds of ``split`` (each ``fg_mask`` with its decoded ``original`` image, and with
    ``backgrounds`` its own ``only_bg_t``: :meth:`bgbench.data.In9Tree.foregrounds`), decoded
    through ``cache``; a BgbenchError naming the folder (and ``command``) when masks or backgrounds
    do not match the images one to one."""
    tree = In9Tree(root, cache=cache.cache, cache_dir=cache.cache_dir, quiet=quiet)
    fg = tree.foregrounds(split, backgrounds=backgrounds, needed_by=command)
    return ExplainData(
        images=fg.images,
        masks=fg.masks,
        labels=np.asarray(fg.labels),
        paths=list(fg.paths),
        folders=list(fg.class_names),
        fingerprint=fg.fingerprint,
        backgrounds=fg.backgrounds,
    )


def select_images(labels: np.ndarray, subset: ImageSubset = ImageSubset()) -> np.ndarray:
    """int64 indices (sorted) of the images to use: all; the first ``subset.per_class`` of each class
    (in dataset order); or ``subset.images`` drawn without replacement with
    ``numpy.random.default_rng(subset.seed)``. ``images`` and ``per_class`` together: ``per_class``
    first, then at most ``images`` of those (the subset's fields are checked when it is made)."""
    labels = np.asarray(labels)
    chosen = np.arange(labels.size)
    if subset.per_class is not None:
        chosen = np.concatenate([np.flatnonzero(labels == c)[: subset.per_class] for c in np.unique(labels)])
        chosen.sort()
    if subset.images is not None and subset.images < chosen.size:
        chosen = np.sort(np.random.default_rng(subset.seed).choice(chosen, size=subset.images, replace=False))
    return chosen.astype(np.int64)


def provenance(
    root: Path, split: str, data: ExplainData, chosen: np.ndarray, subset: ImageSubset, device: str
) -> dict[str, Any]:
    """The fields saliency.json and probe.json share: what data (root, split, fingerprint, which
    images: ``chosen`` drawn by ``subset``), on which device, with which versions, when."""
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
            "selection": asdict(subset),
        },
        "device": device,
        "versions": versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
