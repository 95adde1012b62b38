"""Decode one image variant of an IN-9 style tree into a uint8 array, once, and cache it.

Stages read images through :meth:`bgbench.data.In9Tree.images`, which calls
``load_variant(root, variant, split)``: it reads ``<root>/<variant>/<split>/<class>/<image>`` in
torchvision ImageFolder order (class folders sorted, files sorted) and returns a
:class:`VariantData` whose ``images`` is a uint8 array of shape (N, H, W, 3), RGB, values 0-255.
All images of a variant must share one size (224 x 224 in the released data); a tree that mixes
sizes is an error, not something to resize silently.

Cache. Decoding JPEGs dominates evaluation time, so the decoded array is stored once as a ``.npy``
file under ``$BGBENCH_CACHE`` (default ``~/.cache/bgbench``) and memory-mapped on later loads.
The cache entry is found by a *stat key*: SHA-256 over the relative paths, byte sizes, mtimes,
ctimes (ns), devices and inodes of the variant's files, so a lookup costs one ``stat`` per file and
any added, removed, renamed or rewritten file misses the cache (also one rewritten in place with
its size and mtime put back, as ``cp -p`` does: the ctime cannot be put back). Each entry also
stores the *content fingerprint*:
SHA-256 over every file's relative path and the SHA-256 of its bytes (computed while decoding).
The content fingerprint does not depend on mtimes or on where the tree lives, so two copies of the
same data give the same value; it is what results files record as the data fingerprint.
Entries are written atomically (temporary file + rename; ``meta.json`` last), so a crash leaves
either no entry or a complete one.

Unreadable images (corrupt, truncated, not an image, or a symbolic link leading outside the root:
such a file is never opened) are skipped, counted and listed in
``VariantData.skipped`` as (relative path, reason); they never shift the labels of the others.
A missing variant folder, a class folder without images, or a variant without any readable image
raise :class:`~bgbench.errors.BgbenchError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bgbench.atomic import atomic_write_json
from bgbench.containment import Containment, is_inside
from bgbench.data.discover import class_folders, list_image_folder
from bgbench.errors import BgbenchError
from bgbench.hashing import sha256_bytes
from bgbench.layout import MASK_VARIANT, variant_dir
from bgbench.progress import progress
from bgbench.rowfile import RowWriter, open_rows, read_rows

CACHE_FORMAT = 2
"""Bumped whenever the cache entry layout or the decoding changes (old entries are then ignored)."""

PARALLEL_MIN_IMAGES = 64
"""Below this many images decoding runs in the calling thread."""

COPY_CHUNK = 256
"""Rows copied at a time when a cache file is rewritten (bounded memory)."""

__all__ = ["VariantData", "cache_root", "decode_image", "load_variant", "variant_fingerprint"]


@dataclass
class VariantData:
    """One variant of one split, in ImageFolder order.

    ``images``: uint8 (N, H, W, 3) RGB (a read-only memmap when cached); ``labels``: int64 (N,)
    class indices into ``class_names``; ``paths``: POSIX paths relative to ``root``, aligned with
    ``images``; ``skipped``: (relative path, reason) for files that could not be decoded;
    ``fingerprint``: the content fingerprint (hex SHA-256, see module docstring).
    """

    images: np.ndarray
    labels: np.ndarray
    paths: list[str]
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fingerprint: str = ""
    variant: str = ""
    split: str = ""
    root: str = ""
    cached: bool = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$BGBENCH_CACHE``, else ``~/.cache/bgbench``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("BGBENCH_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bgbench"


def list_variant(root: Path, variant: str, split: str,
                 extensions: frozenset[str] | None = None) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, class index) of each file of ``<root>/<variant>/<split>`` in ImageFolder order, and the
    class folder names; BgbenchError for a missing folder or a class folder without such files
    (``extensions``: as :func:`~bgbench.data.discover.list_image_folder`)."""
    folder = variant_dir(root, variant, split)
    if not folder.is_dir():
        if not (root / variant).is_dir():
            raise BgbenchError(
                f"variant folder {variant}/ not found (expected {variant}/{split}/<class>/...)", root)
        raise BgbenchError(f"split folder not found in variant {variant!r}", folder)
    items = list_image_folder(folder, extensions)
    names = class_folders(folder)
    present = {label for _, label in items}
    for index, name in enumerate(names):
        if index not in present:
            kind = "mask (.npy)" if extensions else "image"
            raise BgbenchError(f"class folder holds no {kind} files", folder / name)
    return items, names


def variant_fingerprint(files: list[tuple[Path, int]], root: Path) -> str:
    """Stat key of a file list: SHA-256 over relative path, size, mtime, ctime (ns), device and inode
    of each file. The ctime changes with every write or ``utime`` call and cannot be set back, so a
    file rewritten in place with its old size and mtime restored (``cp -p``, ``rsync -t``, ``tar x``)
    still misses the cache."""
    digest = hashlib.sha256(f"bgbench-stat-v{CACHE_FORMAT}\n".encode())
    for path, label in files:
        stat = path.stat()
        rel = path.relative_to(root).as_posix()
        digest.update(f"{rel}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\0"
                      f"{stat.st_dev}\0{stat.st_ino}\n".encode())
    return digest.hexdigest()


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes to uint8 (H, W, 3) RGB. Raises ``ValueError`` with a short, stable reason
    (no object addresses: results files must not change from run to run)."""
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.asarray(img, dtype=np.float64)
                top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
                grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
                return np.repeat(grey[:, :, None], 3, axis=2)
            if img.mode != "RGB":
                img = img.convert("RGBA").convert("RGB") if img.mode == "P" else img.convert("RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except UnidentifiedImageError as exc:
        raise ValueError("cannot decode image (not an image file: unrecognised format)") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        reason = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", reason)  # e.g. "<_io.BytesIO object at 0x..>"
        raise ValueError(f"cannot decode image ({reason})") from exc


def _probe_size(files: list[tuple[Path, int]], root: Path) -> tuple[int, int] | None:
    """(H, W) of the first file inside ``root`` PIL can open (header only), or None when none opens."""
    for path, _ in files:
        if not is_inside(path, root):
            continue
        try:
            with Image.open(path) as img:
                width, height = img.size
            return height, width
        except (OSError, SyntaxError, ValueError):
            continue
    return None


OUTSIDE_TREE = "file outside the dataset folder (a symbolic link leads out of it)"
"""Skip reason of an image file that resolves outside the tree's root."""


def _decode_into(out: np.ndarray | RowWriter, index: int, path: Path, shape: tuple[int, int],
                 root: Containment) -> tuple[str, str | None]:
    """Decode ``path`` into ``out[index]``; returns (sha256 of the bytes, error reason or None).

    A file that resolves outside the tree's ``root`` (through a symbolic link) is not read."""
    if not root.inside(path):
        return "outside", OUTSIDE_TREE
    try:
        data = path.read_bytes()
    except OSError as exc:
        return "unreadable", f"cannot read file ({exc.strerror or exc})"
    sha = sha256_bytes(data)
    try:
        arr = decode_image(data)
    except ValueError as exc:
        return sha, str(exc)
    if arr.shape[:2] != shape:
        return sha, f"size:{arr.shape[1]}x{arr.shape[0]}"
    out[index] = arr
    return sha, None


def _decode_all(files: list[tuple[Path, int]], root: Path, out: np.ndarray | RowWriter,
                shape: tuple[int, int], workers: int | None, desc: str,
                quiet: bool = False) -> tuple[list[str], list[str | None]]:
    """Decode every file into ``out``; returns per-file byte hashes and error reasons."""
    n = len(files)
    hashes: list[str] = [""] * n
    errors: list[str | None] = [None] * n
    if workers is None:
        workers = min(8, os.cpu_count() or 1) if n >= PARALLEL_MIN_IMAGES else 1
    inside = Containment([root])
    bar = progress(total=n, desc=desc, unit="img", quiet=quiet)
    try:
        if workers <= 1:
            for i, (path, _) in enumerate(files):
                hashes[i], errors[i] = _decode_into(out, i, path, shape, inside)
                bar.update(1)
        else:  # Pillow releases the GIL while decoding, so threads scale without pickling arrays
            with ThreadPoolExecutor(max_workers=workers) as pool:
                chunk = 64
                for start in range(0, n, chunk * workers):
                    stop = min(n, start + chunk * workers)
                    futures = {i: pool.submit(_decode_into, out, i, files[i][0], shape, inside)
                               for i in range(start, stop)}
                    for i, future in futures.items():
                        hashes[i], errors[i] = future.result()
                        bar.update(1)
    finally:
        bar.close()
    return hashes, errors


def _content_fingerprint(rels: list[str], labels: list[int], hashes: list[str]) -> str:
    digest = hashlib.sha256(b"bgbench-content-v1\n")
    for rel, label, sha in zip(rels, labels, hashes, strict=True):
        digest.update(f"{rel}\0{label}\0{sha}\n".encode())
    return digest.hexdigest()


def _size_error(files: list[tuple[Path, int]], errors: list[str | None], shape: tuple[int, int],
                folder: Path) -> BgbenchError | None:
    odd = [(files[i][0], e) for i, e in enumerate(errors) if e is not None and e.startswith("size:")]
    if not odd:
        return None
    path, reason = odd[0]
    return BgbenchError(
        f"{len(odd)} image(s) differ in size from the first image's {shape[1]}x{shape[0]} "
        f"(e.g. {path.name} is {reason[5:]}); all images of a variant must share one size", folder)


def _read_cache(entry: Path) -> dict | None:
    """Metadata of a complete cache entry, or None (absent, from another format, or damaged)."""
    meta_path = entry / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != CACHE_FORMAT:
            return None
        images = np.load(entry / "images.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    if list(images.shape) != meta["shape"] or images.dtype != np.uint8:
        return None
    meta["images"] = images
    return meta


def _write_cache(entry: Path, images_tmp: Path, keep: np.ndarray, meta: dict) -> np.ndarray:
    """Move the decoded rows ``keep`` of the temporary array into the cache entry atomically."""
    entry.mkdir(parents=True, exist_ok=True)
    if keep.all():
        os.replace(images_tmp, entry / "images.npy")
    else:  # compact: copy the readable rows into a fresh file in chunks, then drop the temporary one
        fd, tmp = tempfile.mkstemp(prefix=".images.npy.tmp-", dir=entry)
        os.close(fd)
        try:
            full = open_rows(images_tmp)
            rows = np.flatnonzero(keep)
            with RowWriter(tmp, (rows.size, *full.shape[1:])) as dense:
                for start in range(0, rows.size, COPY_CHUNK):
                    dense.write(start, read_rows(full, rows[start:start + COPY_CHUNK]))
            del full
            os.replace(tmp, entry / "images.npy")
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            with suppress(FileNotFoundError):
                os.unlink(images_tmp)
    atomic_write_json(entry / "meta.json", meta)
    return np.load(entry / "images.npy", mmap_mode="r", allow_pickle=False)


@dataclass(frozen=True)
class _Listing:
    """The image files of one variant split in ImageFolder order: ``files`` (path, label), ``rels``
    their POSIX paths relative to ``root``, ``labels`` int64 (N,), ``names`` the class folders."""

    root: Path
    variant: str
    split: str
    folder: Path
    files: list[tuple[Path, int]]
    names: list[str]
    rels: list[str]
    labels: np.ndarray

    def data(self, images: np.ndarray, keep: np.ndarray, skipped: list[tuple[str, str]], fingerprint: str,
             cached: bool) -> VariantData:
        """The :class:`VariantData` of decoded ``images``: the rows of the files where bool ``keep``."""
        paths = [r for r, k in zip(self.rels, keep, strict=True) if k]
        return VariantData(images=images, labels=self.labels[keep], paths=paths, class_names=self.names,
                           skipped=skipped, fingerprint=fingerprint, variant=self.variant, split=self.split,
                           root=str(self.root), cached=cached)


def _list_images(root: Path, variant: str, split: str) -> _Listing:
    if variant == MASK_VARIANT:
        raise BgbenchError("fg_mask holds masks, not images (use In9Tree.masks)", root / variant)
    files, names = list_variant(root, variant, split)
    return _Listing(root=root, variant=variant, split=split, folder=variant_dir(root, variant, split),
                    files=files, names=names, rels=[path.relative_to(root).as_posix() for path, _ in files],
                    labels=np.array([label for _, label in files], dtype=np.int64))


def _check_decoded(listing: _Listing, hashes: list[str], errors: list[str | None],
                   shape: tuple[int, int]) -> tuple[np.ndarray, list[tuple[str, str]], str]:
    """After decoding: bool ``keep`` (N,), the skipped (relative path, reason) and the content
    fingerprint; BgbenchError when sizes differ or nothing could be decoded."""
    if (exc := _size_error(listing.files, errors, shape, listing.folder)) is not None:
        raise exc
    keep = np.array([e is None for e in errors], dtype=bool)
    if not keep.any():
        raise BgbenchError(f"none of the {len(listing.files)} images could be decoded", listing.folder)
    skipped = [(listing.rels[i], e) for i, e in enumerate(errors) if e is not None]
    return keep, skipped, _content_fingerprint(listing.rels, listing.labels.tolist(), hashes)


def _decode_to_cache(listing: _Listing, shape: tuple[int, int], entry: Path, workers: int | None,
                     quiet: bool) -> VariantData:
    """Decode into a temporary memmap inside the cache ``entry``, then store the entry atomically."""
    n = len(listing.files)
    entry.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".images-full.npy.tmp-", dir=entry)
    os.close(fd)
    images_tmp = Path(tmp_name)
    try:
        with RowWriter(images_tmp, (n, *shape, 3)) as out:  # pwrite: the decoded pixels stay out of the RSS
            hashes, errors = _decode_all(listing.files, listing.root, out, shape, workers, _desc(listing),
                                         quiet)
        keep, skipped, fingerprint = _check_decoded(listing, hashes, errors, shape)
        meta = {"format": CACHE_FORMAT, "root": str(listing.root.resolve()), "variant": listing.variant,
                "split": listing.split, "shape": [int(keep.sum()), *shape, 3], "paths_all": listing.rels,
                "keep": keep.tolist(), "skipped": skipped, "fingerprint": fingerprint,
                "class_names": listing.names}
        images = _write_cache(entry, images_tmp, keep, meta)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(images_tmp)
    return listing.data(images, keep, skipped, fingerprint, cached=False)


def _decode_in_memory(listing: _Listing, shape: tuple[int, int], workers: int | None,
                      quiet: bool) -> VariantData:
    out = np.empty((len(listing.files), *shape, 3), dtype=np.uint8)
    hashes, errors = _decode_all(listing.files, listing.root, out, shape, workers, _desc(listing), quiet)
    keep, skipped, fingerprint = _check_decoded(listing, hashes, errors, shape)
    images = out if keep.all() else out[keep]
    return listing.data(images, keep, skipped, fingerprint, cached=False)


def _desc(listing: _Listing) -> str:
    return f"decode {listing.variant}/{listing.split}"


def load_variant(root: str | Path, variant: str, split: str = "val", *, cache: bool = True,
                 cache_dir: str | Path | None = None, workers: int | None = None,
                 quiet: bool = False) -> VariantData:
    """Decode ``<root>/<variant>/<split>`` into a :class:`VariantData` (see module docstring).

    ``cache=False`` decodes into memory and touches no cache. ``workers`` threads decode (default:
    up to 8 when there are at least 64 images). Raises ``BgbenchError`` for a missing folder, a
    class folder without images, mixed image sizes, or no readable image at all.
    """
    listing = _list_images(Path(root), variant, split)
    entry = cache_root(cache_dir) / "datasets" / variant_fingerprint(listing.files, listing.root)
    if cache:
        meta = _read_cache(entry)
        if meta is not None and meta["paths_all"] == listing.rels:
            return listing.data(meta["images"], np.array(meta["keep"], dtype=bool),
                                [tuple(s) for s in meta["skipped"]], meta["fingerprint"], cached=True)
    shape = _probe_size(listing.files, listing.root)
    if shape is None:
        raise BgbenchError(f"none of the {len(listing.files)} files could be opened as an image",
                           listing.folder)
    if cache:
        return _decode_to_cache(listing, shape, entry, workers, quiet)
    return _decode_in_memory(listing, shape, workers, quiet)
