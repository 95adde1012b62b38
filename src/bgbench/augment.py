"""Background-swap augmentation: mixed_rand on the fly, batched on the device.

With probability ``p`` each training image's foreground (its ``fg_mask``) is pasted onto a
background drawn from a bank (typically ``only_bg_t`` of the train split) with the one compositing
function of the build and the challenge (:func:`bgbench.composite.composite_torch`). With
``swap_classes="any"`` (the default) the background is drawn uniformly from the whole bank, so its
class is independent of the label, as in mixed_rand; with ``"other"`` a foreground never receives a
background of its own class. Beware that "never" is itself information: a model trained that way
can learn that a background's class is *not* the label, and then fails on backgrounds of the right
class (measured on the synthetic benchmark: docs/train.md). Optionally the foreground is rescaled and moved
first (the ForAug idea: objects at other sizes and places), with nearest-neighbour sampling so every
pasted pixel is one of the foreground's own pixels.

Plain PyTorch use::

    swap = BackgroundSwap(bank_images, bank_labels, p=0.5)
    for images, masks, labels in loader:          # uint8 or float (N, 3, H, W), (N, 1, H, W), (N,)
        images = swap(images.to(dev), masks.to(dev), labels.to(dev))
        loss = criterion(model(normalise(images)), labels)

:func:`load_swap_data` reads the images, masks and bank of a built tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bgbench.composite import composite_torch
from bgbench.errors import BgbenchError

SWAP_CLASSES = ("any", "other")


class BackgroundSwap(torch.nn.Module):
    """Paste foregrounds onto backgrounds from a bank, with probability ``p`` per image.

    ``backgrounds``: the bank, a tensor uint8 or float in [0, 1] (M, 3, H, W), or a uint8 numpy array
    (M, H, W, 3) such as a memmap of a cache file; each batch reads, converts and (bilinear, when the
    sizes differ) resizes only the bank images it draws, on the batch's device, so the bank is never
    copied whole; ``background_labels``: int64
    (M,) class of each bank image. ``swap_classes``: ``any`` (uniform over the bank; default) or ``other``
    (uniform over the bank images of other classes). ``scale``: (low, high) factor range of the
    foreground's size (1, 1 = unchanged); ``translate``: the largest shift as a fraction of the image
    side (0 = in place). ``generator``: a ``torch.Generator`` for reproducible draws (on the batch's
    device).
    """

    def __init__(self, backgrounds: torch.Tensor | np.ndarray,
                 background_labels: torch.Tensor | np.ndarray, *,
                 p: float = 0.5, swap_classes: str = "any", scale: tuple[float, float] = (1.0, 1.0),
                 translate: float = 0.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise BgbenchError(f"swap probability must be in [0, 1], got {p}")
        if swap_classes not in SWAP_CLASSES:
            raise BgbenchError(f"--swap-classes must be one of {', '.join(SWAP_CLASSES)}, "
                               f"got {swap_classes!r}")
        if not 0 < scale[0] <= scale[1]:
            raise BgbenchError(f"scale range must satisfy 0 < low <= high, got {scale}")
        if not 0.0 <= translate <= 1.0:
            raise BgbenchError(f"translate must be in [0, 1], got {translate}")
        channels = backgrounds.shape[3] if isinstance(backgrounds, np.ndarray) else backgrounds.shape[1]
        if backgrounds.ndim != 4 or channels != 3 or len(backgrounds) == 0:
            raise BgbenchError(f"background bank must be a non-empty (M, 3, H, W) tensor or (M, H, W, 3) "
                               f"uint8 array, got {tuple(backgrounds.shape)}")
        self.bank = backgrounds
        self.bank_labels = torch.as_tensor(np.asarray(background_labels), dtype=torch.long)
        if self.bank_labels.shape != (len(backgrounds),):
            raise BgbenchError("background_labels must have one label per bank image")
        self.p, self.swap_classes, self.scale, self.translate = p, swap_classes, scale, translate
        self.generator = generator

    def backgrounds(self, index: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The bank images ``index`` (int64 (K,)) as float [0, 1] (K, 3, H, W) on the batch's device
        and size (bilinear, antialiased, when the bank's size differs). Only these K rows are read and
        converted: a numpy bank (e.g. a memmap) through :func:`bgbench.rowfile.read_rows`."""
        if isinstance(self.bank, np.ndarray):
            from bgbench.rowfile import read_rows

            rows = torch.from_numpy(read_rows(self.bank, index.cpu().numpy())).permute(0, 3, 1, 2)
        else:
            rows = self.bank[index.to(self.bank.device)]
        rows = rows.to(images.device)
        rows = rows.float().div(255.0) if rows.dtype == torch.uint8 else rows.float()
        if tuple(rows.shape[2:]) != tuple(images.shape[2:]):
            rows = F.interpolate(rows, size=tuple(images.shape[2:]), mode="bilinear", align_corners=False,
                                 antialias=True).clamp(0.0, 1.0)
        return rows

    def _rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) draws from the generator (on its own device, CPU by default)."""
        device = self.generator.device if self.generator is not None else torch.device("cpu")
        return torch.rand(shape, generator=self.generator, device=device)

    def draw(self, labels: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(swap, index): bool (N,) which images get a new background, int64 (N,) the bank index
        each would get (uniform over the allowed bank images; -1 where none is allowed). The draws
        come from the generator's device, so a seed gives the same draws on a CPU and a GPU."""
        n = labels.shape[0]
        bank_labels = self.bank_labels.to(device)
        swap = (self._rand(n) < self.p).to(device)
        scores = self._rand(n, len(bank_labels)).to(device)
        if self.swap_classes == "other":
            scores = scores.masked_fill(bank_labels[None, :] == labels[:, None], -1.0)
        best, index = scores.max(dim=1)
        index = torch.where(best >= 0, index, torch.full_like(index, -1))
        return swap & (index >= 0), index

    def _move(self, fg: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rescale by a factor in ``scale`` and shift by up to ``translate`` (nearest sampling)."""
        n, device = fg.shape[0], fg.device
        low, high = self.scale
        s = (low + (high - low) * self._rand(n)).to(device)
        t = ((self._rand(n, 2) * 2 - 1) * (2 * self.translate)).to(device)
        theta = torch.zeros((n, 2, 3), device=device)
        theta[:, 0, 0] = 1.0 / s
        theta[:, 1, 1] = 1.0 / s
        theta[:, :, 2] = -t / s[:, None]
        grid = F.affine_grid(theta, list(fg.shape), align_corners=False)
        moved = F.grid_sample(fg, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        moved_mask = F.grid_sample(mask, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        return moved, moved_mask

    def forward(self, images: torch.Tensor, masks: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``images`` uint8 or float [0, 1] (N, 3, H, W); ``masks`` (N, 1, H, W) or (N, H, W), 0/1
        (bool or numeric); ``labels`` int64 (N,). Returns the batch with swapped backgrounds, same
        dtype and shape; images not drawn for a swap are returned unchanged."""
        if masks.ndim == 3:
            masks = masks[:, None]
        if images.ndim != 4 or masks.shape[0] != images.shape[0] or masks.shape[2:] != images.shape[2:]:
            raise BgbenchError(f"images {tuple(images.shape)} and masks {tuple(masks.shape)} do not match")
        swap, index = self.draw(labels.to(images.device), images.device)
        if not bool(swap.any()):
            return images
        rows = swap.nonzero().squeeze(1)  # only these images are converted, composited and written
        fg = images[rows].float().div_(255.0) if images.dtype == torch.uint8 else images[rows].float()
        fg_mask = masks[rows.to(masks.device)].to(images.device).float()
        if self.scale != (1.0, 1.0) or self.translate > 0:
            fg, fg_mask = self._move(fg, fg_mask)
        mixed = composite_torch(fg, self.backgrounds(index[rows], images), fg_mask)
        out = images.clone()
        if images.dtype == torch.uint8:
            out[rows] = mixed.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
        else:
            out[rows] = mixed.to(images.dtype)
        return out


@dataclass
class SwapData:
    """Training images with their masks and a background bank, as read from a built tree.

    ``images`` uint8 (N, H, W, 3), ``masks`` uint8 (N, H, W) 0/1, ``labels`` int64 (N,);
    ``bank`` uint8 (M, H, W, 3) and ``bank_labels`` int64 (M,) (only_bg_t of the same split)."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    bank: np.ndarray
    bank_labels: np.ndarray
    class_names: list[str]


def load_swap_data(root: str | Path, split: str = "train", *, cache: bool = True,
                   cache_dir: str | Path | None = None, quiet: bool = False) -> SwapData:
    """Read ``original``, ``fg_mask`` and ``only_bg_t`` of ``split`` through
    :class:`bgbench.data.In9Tree` (with ``cache``: read-only memmaps of the cache files under
    ``cache_dir``, default ``$BGBENCH_CACHE``; read batches with :func:`bgbench.rowfile.read_rows`);
    BgbenchError (naming the folder) when the masks are missing or do not line up with the images."""
    from bgbench.data import In9Tree

    tree = In9Tree(root, cache=cache, cache_dir=cache_dir, quiet=quiet)
    tree.mask_folder(split)  # fail before decoding anything
    original = tree.images("original", split)
    masks = tree.masks(split, original.paths)
    bank = tree.backgrounds(split)
    return SwapData(images=original.images, masks=masks, labels=original.labels, bank=bank.images,
                    bank_labels=bank.labels, class_names=list(original.class_names))
