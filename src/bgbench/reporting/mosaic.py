"""Figures made of photographs (one matplotlib axes showing one mosaic, which draws fast even with
81 tiles): a dataset's images in every variant, and the most fooling backgrounds per model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

THUMB = 96  # side (px) of one tile
GAP = 4  # white pixels between tiles
DPI = 100


def thumb(path: str | Path, mask: bool = False) -> np.ndarray | None:
    """An image (or a .npy mask) as uint8 (THUMB, THUMB, 3), letterboxed on white; None when unreadable."""
    from PIL import Image

    try:
        if mask:
            array = np.asarray(np.load(path, allow_pickle=False), dtype=float)
            image = Image.fromarray(((array > 0.5) * 255).astype(np.uint8)).convert("RGB")
        else:
            with Image.open(path) as handle:
                image = handle.convert("RGB")
    except (OSError, ValueError):
        return None
    image.thumbnail((THUMB, THUMB))
    tile = Image.new("RGB", (THUMB, THUMB), "white")
    tile.paste(image, ((THUMB - image.width) // 2, (THUMB - image.height) // 2))
    return np.asarray(tile)


def _mosaic(tiles: list[list[np.ndarray | None]]) -> np.ndarray:
    """Rows of tiles as one uint8 (H, W, 3) image (a missing tile is light grey)."""
    n_rows, n_cols = len(tiles), max(len(r) for r in tiles)
    step = THUMB + GAP
    out = np.full((n_rows * step - GAP, n_cols * step - GAP, 3), 255, dtype=np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            out[r * step : r * step + THUMB, c * step : c * step + THUMB] = 230 if tile is None else tile
    return out


def _draw(
    plt: Any,
    tiles: list[list[np.ndarray | None]],
    col_labels: list[str],
    row_labels: list[str],
    cell_labels: list[list[str]] | None = None,
    label_room: float = 0.9,
) -> Any:
    """One axes showing the mosaic, column labels on top, row labels on the left, captions under tiles."""
    image = _mosaic(tiles)
    height, width = image.shape[:2]
    caption_px = 26 if cell_labels else 0
    if cell_labels:  # room for a caption line under every row
        step = THUMB + GAP
        spaced = np.full((height + caption_px * len(tiles), width, 3), 255, dtype=np.uint8)
        for r in range(len(tiles)):
            spaced[r * (step + caption_px) : r * (step + caption_px) + THUMB] = image[
                r * step : r * step + THUMB
            ]
        image, height = spaced, spaced.shape[0]
    top = 22 if col_labels else 0
    fig = plt.figure(figsize=(width / DPI + label_room, (height + top) / DPI + 0.1))
    ax = fig.add_axes(
        (
            label_room / (width / DPI + label_room),
            0,
            width / DPI / (width / DPI + label_room),
            height / (height + top + 10),
        )
    )
    ax.imshow(image, interpolation="nearest")
    ax.axis("off")
    row_step = THUMB + GAP + caption_px
    for c, label in enumerate(col_labels):
        ax.text(c * (THUMB + GAP) + THUMB / 2, -6, label, ha="center", va="bottom", fontsize=8)
    for r, label in enumerate(row_labels):
        ax.text(-8, r * row_step + THUMB / 2, label, ha="right", va="center", fontsize=8)
    for r, labels in enumerate(cell_labels or []):
        for c, label in enumerate(labels):
            ax.text(
                c * (THUMB + GAP) + THUMB / 2,
                r * row_step + THUMB + 4,
                label,
                ha="center",
                va="top",
                fontsize=7,
            )
    return fig


def variant_grid(plt: Any, data: dict[str, Any]) -> Any:
    """One image per class (rows) in every variant (columns) of the build at ``data["root"]``."""
    from bgbench.data import In9Tree
    from bgbench.layout import MASK_SUFFIX, MASK_VARIANT, VARIANTS

    tree, split = In9Tree(data["root"]), data.get("split") or "val"
    root, original = tree.root, tree.folder("original", split)
    classes = tree.class_folders("original", split)
    tiles = []
    for cls in classes:
        first = sorted(p for p in (original / cls).iterdir() if p.is_file())[:1]
        row = []
        for variant in VARIANTS:
            mask = variant == MASK_VARIANT
            name = (first[0].stem + MASK_SUFFIX if mask else first[0].name) if first else None
            row.append(None if name is None else thumb(root / variant / split / cls / name, mask=mask))
        tiles.append(row)
    if not tiles:
        tiles = [[None] * len(VARIANTS)]
    return _draw(plt, tiles, list(VARIANTS), [c.split("_", 1)[-1] for c in classes])


def backgrounds(plt: Any, data: dict[str, Any]) -> Any:
    """Per model (rows) its most fooling backgrounds, each captioned."""
    models = data["models"]
    tiles = [[thumb(item["path"]) for item in m["items"]] for m in models]
    captions = [[item["caption"] for item in m["items"]] for m in models]
    return _draw(plt, tiles, [], [m["name"] for m in models], captions, label_room=1.8)
