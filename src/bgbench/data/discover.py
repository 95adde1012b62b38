"""What an IN-9 style tree holds: its splits, its variants, their class folders and files, and the
foreground key (``<class>/<stem>``) that pairs files across variants.

Folders are listed like torchvision's ImageFolder: class folders sorted by name and numbered from 0
(hidden ones skipped), files sorted by name inside each. Nothing here decodes a file.
"""

from __future__ import annotations

from pathlib import Path

from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_EXTENSIONS, IMAGE_VARIANTS, MASK_VARIANT, VARIANTS, variant_dir


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
    classes = class_folders(folder)
    if not classes:
        raise BgbenchError("holds no class folders (expected <class>/<image> files)", folder)
    items: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.is_file() and p.suffix.lower() in exts)
        items.extend((p, index) for p in files)
    return items


def class_folders(folder: str | Path) -> list[str]:
    """Sorted class folder names directly under ``folder`` (hidden folders skipped)."""
    return sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def foreground_key(path: str) -> str:
    """``<class>/<stem>`` of an image or mask path ``.../<class>/<stem>.<ext>``: what pairs an image
    with its mask, its only_bg_t background and its composites in the other variants."""
    parts = Path(path).parts
    return f"{parts[-2]}/{Path(parts[-1]).stem}"


def foreground_keys(paths: list[str]) -> list[str]:
    """:func:`foreground_key` of each path."""
    return [foreground_key(p) for p in paths]


def find_splits(root: str | Path, variants: tuple[str, ...] = VARIANTS) -> list[str]:
    """Sorted names of the split folders under any of ``variants`` (default: every known variant,
    image variants and ``fg_mask``)."""
    root = Path(root)
    return sorted({p.name for name in variants if (root / name).is_dir()
                   for p in (root / name).iterdir() if p.is_dir() and not p.name.startswith(".")})


def _no_variants_error(root: Path, split: str) -> BgbenchError:
    others = sorted({p.name for name in IMAGE_VARIANTS if (root / name).is_dir()
                     for p in (root / name).iterdir() if p.is_dir()} - {split})
    hint = f"; found split(s) {', '.join(others)} (pick one with --split)" if others else ""
    return BgbenchError(f"no variant folders found for split {split!r} (expected e.g. "
                        f"original/{split}/<class>/...; known variants: {', '.join(IMAGE_VARIANTS)})"
                        f"{hint}", root)


def find_variants(root: str | Path, split: str = "val", variants: list[str] | str | None = None) -> list[str]:
    """Image variants to read: those named (comma list or list; each must exist under ``root``),
    else every known image variant present, in table order. Raises ``BgbenchError`` otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise BgbenchError("data folder not found", root)
    present = [name for name in IMAGE_VARIANTS if variant_dir(root, name, split).is_dir()]
    if variants is None:
        if not present:
            raise _no_variants_error(root, split)
        return present
    names = [v.strip() for v in variants.split(",")] if isinstance(variants, str) else list(variants)
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise BgbenchError("--variants names no variant")
    for name in names:
        if name == MASK_VARIANT:
            raise BgbenchError("fg_mask holds masks, not images; it cannot be evaluated as a variant")
        if not variant_dir(root, name, split).is_dir():
            found = ", ".join(present) or "none"
            raise BgbenchError(f"variant {name!r} not found (no {name}/{split}/ folder; present: {found})",
                               root)
    return names


def shared_class_folders(root: str | Path, names: list[str], split: str) -> list[str]:
    """The class folders of ``names[0]``/``split``; BgbenchError when another variant differs."""
    root = Path(root)
    folders = class_folders(variant_dir(root, names[0], split))
    for name in names[1:]:
        if class_folders(variant_dir(root, name, split)) != folders:
            raise BgbenchError(f"class folders of {name}/{split} differ from those of {names[0]}/{split}",
                               root)
    return folders


def scored_class_folders(root: str | Path, names: list[str], split: str) -> tuple[list[str], dict[str, str]]:
    """The class folders to score ``names`` in, and {variant: why it is skipped}.

    A tree may hold only some classes, and a variant fewer than another (a build where no class had
    a donor of the next class leaves ``mixed_next`` without that class's folder): the classes are the
    sorted union of the variants' class folders, each variant scored on the folders it has. A variant
    without any class folder is skipped with its reason. BgbenchError when no variant has one.
    """
    root = Path(root)
    union: set[str] = set()
    skipped: dict[str, str] = {}
    for name in names:
        folders = class_folders(variant_dir(root, name, split))
        if not folders:
            skipped[name] = f"{name}/{split} holds no class folder (the build wrote no image for it)"
        union.update(folders)
    if not union:
        raise BgbenchError(f"no class folders in any of {', '.join(f'{n}/{split}' for n in names)}", root)
    return sorted(union), skipped
