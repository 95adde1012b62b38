"""The one reader of an IN-9 style tree: :class:`In9Tree`.

Every stage (eval, challenge, explain, training, the background swap) reads a tree through an
``In9Tree``: which splits and variants it holds (:mod:`bgbench.data.discover`), decoded images
(:mod:`bgbench.data.images`, cached as ``.npy`` and memory-mapped), aligned foreground masks
(:mod:`bgbench.data.masks`, cached the same way), the ``only_bg_t`` background bank, the
foregrounds (original + mask pairs), the donors the build's manifest records
(:mod:`bgbench.data.donors`) and content fingerprints. With caching on (the default) every array it
serves is a read-only memmap of a cache file, so nothing needs a whole split in memory: read rows
with :func:`bgbench.rowfile.read_rows` or :func:`batches`, and split work across processes with
:func:`shard`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field, replace
from pathlib import Path

import numpy as np

from bgbench.data import discover
from bgbench.data.discover import foreground_keys
from bgbench.data.donors import background_labels, donor_classes
from bgbench.data.images import VariantData, cache_root, load_variant
from bgbench.data.masks import MaskData, check_aligned, load_masks, mask_folder
from bgbench.errors import BgbenchError
from bgbench.layout import MASK_SUFFIX, MASK_VARIANT, VARIANTS, variant_dir
from bgbench.rowfile import read_rows

FOREGROUND_VARIANT = "original"
"""The variant whose images the masks cut the foregrounds from."""

BACKGROUND_VARIANT = "only_bg_t"
"""The variant of the background bank (the foregrounds' own backgrounds, objects removed)."""


@dataclass(frozen=True)
class Foregrounds:
    """Every foreground of a split: each ``fg_mask/<split>/<class>/<stem>.npy`` (sorted order) with its
    ``original/<split>/<class>/<stem>.*`` image.

    ``images`` uint8 (F, H, W, 3) RGB (the original variant's memmap itself when every original has a
    mask, as in a built or released tree); ``masks`` uint8 (F, H, W) 0/1; ``labels`` int64 (F,)
    indices into ``class_names`` (the class folders of ``original/<split>``); ``paths`` the images'
    and ``mask_paths`` the masks' paths relative to the root; ``keys`` their ``<class>/<stem>``;
    ``fingerprint`` the content fingerprint of ``original/<split>``; ``backgrounds`` uint8
    (F, H, W, 3) each foreground's own ``only_bg_t`` image when asked for (else None) and
    ``background_fingerprint`` its content fingerprint.
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    paths: list[str]
    mask_paths: list[str]
    keys: list[str]
    class_names: list[str]
    fingerprint: str
    backgrounds: np.ndarray | None = None
    background_fingerprint: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def shard(n: int, rank: int, world: int, *, strided: bool = False) -> np.ndarray:
    """int64 indices of part ``rank`` of ``world`` parts of ``range(n)``; the parts partition it.

    Contiguous by default (``np.array_split``'s parts: sizes differ by at most one, the first
    ``n % world`` one longer; what DDP gives each rank of a global batch); ``strided``: ``rank``,
    ``rank + world``, ... (what ``challenge --shard i/n`` runs). BgbenchError unless
    ``0 <= rank < world`` and ``n >= 0``.
    """
    if isinstance(world, bool) or world < 1 or not 0 <= rank < world or n < 0:
        raise BgbenchError(f"shard {rank} of {world} of {n} items: need world >= 1, 0 <= rank < world "
                           "and n >= 0")
    if strided:
        return np.arange(rank, n, world, dtype=np.int64)
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return np.arange(start, start + base + (1 if rank < extra else 0), dtype=np.int64)


def batches(array: np.ndarray, batch_size: int, index: np.ndarray | None = None) -> Iterator[
        tuple[np.ndarray, np.ndarray]]:
    """(row indices int64 (B,), rows ``array[indices]`` as an in-memory copy) ``batch_size`` rows at
    a time over ``index`` (default every row, in order); a memmap's rows are read with
    :func:`bgbench.rowfile.read_rows`, so only one batch is in memory at a time."""
    if batch_size < 1:
        raise BgbenchError(f"batch size must be at least 1, got {batch_size}")
    rows = np.arange(len(array), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
    for begin in range(0, rows.size, batch_size):
        part = rows[begin:begin + batch_size]
        yield part, read_rows(array, part)


@dataclass
class In9Tree:
    """An IN-9 style tree at ``root`` (``<root>/<variant>/<split>/<class>/<file>``, see
    :mod:`bgbench.layout`).

    ``cache``: decoded images and masks are written once under the cache folder (``cache_dir``, else
    ``$BGBENCH_CACHE``, else ``~/.cache/bgbench``) and served as read-only memmaps; the tree keeps
    what it served (per variant and split) and serves it again without a lookup. ``cache=False``
    decodes into memory on every call and keeps nothing. ``quiet``: no progress bars; ``workers``:
    decoding threads (see :func:`~bgbench.data.images.load_variant`).
    """

    root: Path
    _: KW_ONLY
    cache: bool = True
    cache_dir: str | Path | None = None
    quiet: bool = False
    workers: int | None = None
    _images: dict[tuple[str, str], VariantData] = field(default_factory=dict, init=False, repr=False)
    _masks: dict[str, MaskData] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # ------------------------------------------------------------------ what the tree holds
    def require(self) -> Path:
        """The root; BgbenchError naming it when it is not a folder."""
        if not self.root.is_dir():
            raise BgbenchError("data folder not found", self.root)
        return self.root

    def splits(self, variant: str | None = None) -> list[str]:
        """Sorted names of the splits ``variant`` (default: any known variant or ``fg_mask``) has a
        folder for."""
        return discover.find_splits(self.require(), VARIANTS if variant is None else (variant,))

    def variants(self, split: str = "val", wanted: list[str] | str | None = None) -> list[str]:
        """The image variants of ``split``: those ``wanted`` (comma list or list; each must exist),
        else every known one present, in table order (:func:`~bgbench.data.discover.find_variants`)."""
        return discover.find_variants(self.root, split, wanted)

    def folder(self, variant: str, split: str) -> Path:
        """``<root>/<variant>/<split>`` (whether or not it exists)."""
        return variant_dir(self.root, variant, split)

    def has(self, variant: str, split: str) -> bool:
        """True when ``<root>/<variant>/<split>`` is a folder."""
        return self.folder(variant, split).is_dir()

    def class_folders(self, variant: str, split: str) -> list[str]:
        """Sorted class folders of ``<variant>/<split>`` (empty when that folder does not exist)."""
        folder = self.folder(variant, split)
        return discover.class_folders(folder) if folder.is_dir() else []

    def shared_class_folders(self, names: list[str], split: str) -> list[str]:
        """The class folders of ``names[0]``; BgbenchError when another of ``names`` differs."""
        return discover.shared_class_folders(self.root, names, split)

    def scored_class_folders(self, names: list[str], split: str) -> tuple[list[str], dict[str, str]]:
        """The sorted union of the class folders of ``names`` and {variant: why it is skipped}
        (:func:`~bgbench.data.discover.scored_class_folders`)."""
        return discover.scored_class_folders(self.root, names, split)

    def files(self, variant: str, split: str) -> list[tuple[Path, int]]:
        """(path, class index) of every file of ``<variant>/<split>`` in ImageFolder order, without
        decoding (``.npy`` masks for ``fg_mask``, image files otherwise)."""
        extensions = frozenset({MASK_SUFFIX}) if variant == MASK_VARIANT else None
        return discover.list_image_folder(self.folder(variant, split), extensions)

    # ------------------------------------------------------------------ decoded arrays
    def images(self, variant: str, split: str) -> VariantData:
        """The decoded ``<variant>/<split>``: ``images`` uint8 (N, H, W, 3), ``labels`` int64 (N,),
        ``paths``, ``skipped``, ``fingerprint`` (:class:`~bgbench.data.images.VariantData`)."""
        found = self._images.get((variant, split))
        if found is None:
            found = load_variant(self.root, variant, split, cache=self.cache, cache_dir=self.cache_dir,
                                 workers=self.workers, quiet=self.quiet)
            if self.cache:
                self._images[(variant, split)] = found
        return found

    def fingerprint(self, variant: str, split: str) -> str:
        """Content fingerprint (hex SHA-256 of the relative paths, labels and file bytes) of
        ``<variant>/<split>``, as results files record it."""
        return self.images(variant, split).fingerprint

    @property
    def cache_folder(self) -> Path | None:
        """Where the cache files go (None with ``cache=False``)."""
        return cache_root(self.cache_dir) if self.cache else None

    def mask_folder(self, split: str, needed_by: str = "background swap") -> Path:
        """``<root>/fg_mask/<split>``; BgbenchError naming it and ``needed_by`` when it is missing."""
        return mask_folder(self.root, split, needed_by)

    def mask_data(self, split: str) -> MaskData:
        """Every mask of ``fg_mask/<split>`` in sorted order: ``masks`` uint8 (N, H, W) 0/1, ``labels``,
        ``paths`` (:class:`~bgbench.data.masks.MaskData`)."""
        found = self._masks.get(split)
        if found is None:
            found = load_masks(self.root, split, quiet=self.quiet, cache=self.cache, cache_dir=self.cache_dir)
            if self.cache:
                self._masks[split] = found
        return found

    def masks(self, split: str, paths: list[str] | None = None,
              needed_by: str = "background swap") -> np.ndarray:
        """uint8 (N, H, W) 0/1 masks aligned with the image ``paths`` (default: the files of
        ``original/<split>``), one per ``<class>/<stem>`` in the same order (a memmap when cached);
        BgbenchError naming ``fg_mask/<split>`` when they are missing or do not line up."""
        folder = self.mask_folder(split, needed_by)
        if paths is None:
            paths = [p.relative_to(self.root).as_posix() for p, _ in self.files(FOREGROUND_VARIANT, split)]
        found = self.mask_data(split)
        check_aligned(found.paths, paths, folder)
        return found.masks

    def backgrounds(self, split: str, keys: list[str] | None = None,
                    needed_by: str = "this command") -> VariantData:
        """The ``only_bg_t/<split>`` bank (:meth:`images`). With ``keys`` (foreground keys
        ``<class>/<stem>``) it must hold exactly one background per key, in that order: BgbenchError
        naming the folder otherwise."""
        bank = self.images(BACKGROUND_VARIANT, split)
        if keys is not None and foreground_keys(bank.paths) != list(keys):
            raise BgbenchError(f"does not hold one background (same class and stem) per foreground of "
                               f"{FOREGROUND_VARIANT}/{split}; {needed_by} needs both",
                               self.folder(BACKGROUND_VARIANT, split))
        return bank

    def foregrounds(self, split: str, *, backgrounds: bool = False,
                    needed_by: str = "this command") -> Foregrounds:
        """Every mask of ``fg_mask/<split>`` with its decoded ``original/<split>`` image (see
        :class:`Foregrounds`); with ``backgrounds`` also each one's ``only_bg_t`` image. BgbenchError
        naming the file when a mask has no readable image, a mask's shape differs from the images', or
        ``only_bg_t`` does not hold one background (same size) per foreground."""
        self.mask_folder(split, needed_by)
        originals = self.images(FOREGROUND_VARIANT, split)
        mask_data = self.mask_data(split)
        keys = foreground_keys(mask_data.paths)
        rows = self._image_rows(originals, mask_data, keys)
        if mask_data.masks.shape[1:] != originals.images.shape[1:3]:
            raise BgbenchError(f"mask has shape {tuple(mask_data.masks.shape[1:])}, but the images are "
                               f"{tuple(originals.images.shape[1:3])}", self.root / mask_data.paths[0])
        identity = rows.size == len(originals) and bool((rows == np.arange(rows.size)).all())
        fg = Foregrounds(
            images=originals.images if identity else read_rows(originals.images, rows), masks=mask_data.masks,
            labels=np.asarray(originals.labels)[rows], paths=[originals.paths[r] for r in rows],
            mask_paths=list(mask_data.paths), keys=keys, class_names=list(originals.class_names),
            fingerprint=originals.fingerprint)
        if not backgrounds:
            return fg
        bank = self.backgrounds(split, keys, needed_by)
        if bank.images.shape[1:] != originals.images.shape[1:]:
            raise BgbenchError(f"backgrounds are {tuple(bank.images.shape[1:3])} images, foregrounds "
                               f"{tuple(originals.images.shape[1:3])}",
                               self.folder(BACKGROUND_VARIANT, split))
        return replace(fg, backgrounds=bank.images, background_fingerprint=bank.fingerprint)

    def _image_rows(self, originals: VariantData, mask_data: MaskData, keys: list[str]) -> np.ndarray:
        """int64 (F,): the row of ``originals`` holding each mask's image; BgbenchError naming the mask
        when there is none, it could not be decoded, or two images share its key."""
        where: dict[str, int] = {}
        for i, key in enumerate(foreground_keys(originals.paths)):
            if key in where:
                raise BgbenchError(f"two images share the class and stem {key}", self.folder(
                    FOREGROUND_VARIANT, originals.split))
            where[key] = i
        bad = dict(zip(foreground_keys([p for p, _ in originals.skipped]),
                       [reason for _, reason in originals.skipped], strict=True))
        rows = np.empty(len(keys), dtype=np.int64)
        for f, key in enumerate(keys):
            if key in bad:
                raise BgbenchError(f"foreground image is unreadable ({bad[key]})",
                                   self.root / mask_data.paths[f])
            if key not in where:
                raise BgbenchError(f"mask has no image in {FOREGROUND_VARIANT}/{originals.split} (mask and "
                                   "image stems must match)", self.root / mask_data.paths[f])
            rows[f] = where[key]
        return rows

    # ------------------------------------------------------------------ the build's records
    def donors(self, split: str, variant: str) -> dict[tuple[str, str], str | None] | None:
        """``{(class folder, stem): donor's class folder or None}`` of ``variant``'s images of ``split``
        from the build's manifest; None for a tree without one (the released IN-9)."""
        return donor_classes(self.root, split, variant)

    def background_labels(self, split: str, variant: str, paths: list[str],
                          folders: list[str]) -> np.ndarray | None:
        """int64 (N,): the donor class (index into ``folders``) of each image path of ``variant``, -1
        where the manifest does not know it; None without a manifest."""
        return background_labels(self.root, split, variant, paths, folders)

