"""The training data of one variant: images, labels, and (for the background swap) masks and bank."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bgbench.errors import BgbenchError
from bgbench.rowfile import read_rows

CHUNK = 256
"""Rows resized or hashed at a time (bounded memory)."""


@dataclass
class TrainData:
    """``images`` uint8 (N, H, W, 3) (a memmap when cached), ``labels`` int64 (N,) in
    [0, len(class_names)); ``masks`` uint8 (N, H, W) 0/1 and ``bank`` uint8 (M, H, W, 3) with
    ``bank_labels`` int64 (M,) when the background swap is on (else None); ``fingerprint``: the
    variant's content fingerprint (with the masks' and bank's when used); ``cache``: the folder where
    :func:`shrink_train_data` writes the working-size copy (None: it is made in memory)."""

    images: np.ndarray
    labels: np.ndarray
    paths: list[str]
    class_names: list[str]
    fingerprint: str
    masks: np.ndarray | None = None
    bank: np.ndarray | None = None
    bank_labels: np.ndarray | None = None
    cache: str | None = None


def check_train_split(root: str | Path, variant: str, split: str) -> Path:
    """``root/<variant>/<split>``; a one-line BgbenchError naming what is missing otherwise."""
    from bgbench.data import In9Tree

    tree = In9Tree(root)
    tree.require()
    folder = tree.folder(variant, split)
    if not folder.is_dir():
        present = tree.splits(variant)
        hint = f" (splits of {variant}: {', '.join(present)})" if present else ""
        raise BgbenchError(
            f"no {split} split of {variant} to train on{hint}; build one with "
            f"bgbench build SOURCE {tree.root} --split {split}",
            folder,
        )
    folders = tree.class_folders(variant, split)
    if len(folders) < 2:
        raise BgbenchError(
            f"only {len(folders)} class folder(s): training a classifier needs at least two", folder
        )
    return folder


def load_train_data(
    root: str | Path,
    variant: str,
    split: str = "train",
    *,
    swap: bool = False,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    quiet: bool = False,
) -> TrainData:
    """Decode the ``split`` of ``variant`` (and with ``swap`` the aligned fg_mask and the only_bg_t
    bank of the same split). Everything is checked before any output is written. With ``cache`` the
    images, masks and bank are read-only memmaps of cache files (nothing of the split is held in
    memory) and ``cache`` names the folder for the working-size copy (:func:`shrink_train_data`)."""
    import hashlib

    from bgbench.data import In9Tree
    from bgbench.data.masks import update_digest

    tree = In9Tree(root, cache=cache, cache_dir=cache_dir, quiet=quiet)
    check_train_split(root, variant, split)
    if swap:
        tree.mask_folder(split)
        check_train_split(root, "only_bg_t", split)
    data = tree.images(variant, split)
    folder = tree.cache_folder
    out = TrainData(
        images=data.images,
        labels=data.labels,
        paths=list(data.paths),
        class_names=list(data.class_names),
        fingerprint=data.fingerprint,
        cache=None if folder is None else str(folder),
    )
    if swap:
        out.masks = tree.masks(split, data.paths)
        bank = tree.backgrounds(split)
        out.bank, out.bank_labels = bank.images, bank.labels
        digest = hashlib.sha256(f"{data.fingerprint}\0{bank.fingerprint}\0".encode())
        update_digest(digest, out.masks, CHUNK)  # the bytes of the whole array, a chunk at a time
        out.fingerprint = digest.hexdigest()
    return out


def shrink_train_data(data: TrainData, side: int, chunk: int = CHUNK) -> TrainData:
    """``data`` with images, masks and bank resized once to ``side`` x ``side`` when they are larger
    (antialiased bilinear for images; masks area-averaged, then >= 0.5 is foreground), so the swap and
    the crops of every epoch run at the size the crops need instead of the stored one. With
    ``data.cache`` set the copy is written once, ``chunk`` rows at a time, to a cache file shared by
    later runs and other processes, and mapped read-only (:func:`bgbench.training.store.shrink_to_cache`);
    without it the copy is made in memory. Same dtypes and value ranges; ``data`` itself is returned
    when nothing is larger."""
    from dataclasses import replace

    from bgbench.training.store import shrink_rows, shrink_to_cache

    if data.images.shape[1] <= side and data.images.shape[2] <= side:
        return data
    if data.cache is not None:
        return shrink_to_cache(data, side, data.cache, chunk=chunk)

    def resize(array: np.ndarray, is_mask: bool) -> np.ndarray:
        parts = [shrink_rows(read_rows(array, slice(begin, begin + chunk)), side, is_mask)
                 for begin in range(0, len(array), chunk)]
        shape = (0, side, side) if is_mask else (0, side, side, 3)
        return np.concatenate(parts) if parts else np.zeros(shape, np.uint8)

    return replace(
        data,
        images=resize(data.images, False),
        masks=None if data.masks is None else resize(data.masks, True),
        bank=None if data.bank is None else resize(data.bank, False),
    )


def batch_tensor(images: np.ndarray, index: np.ndarray, device) -> object:
    """uint8 (B, 3, H, W) tensor on ``device`` of ``images[index]`` (uint8 (N, H, W, 3)); rows of a
    cache file's memmap are read with :func:`bgbench.rowfile.read_rows`."""
    import torch

    block = read_rows(images, index)
    return torch.from_numpy(block).to(device).permute(0, 3, 1, 2)
