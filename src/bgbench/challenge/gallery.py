"""A PNG gallery of the most fooling backgrounds per class, fooling rates in the captions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_write_bytes


def write_gallery(path: str | Path, top_backgrounds: list[dict[str, Any]],
                  image_of: Callable[[int], np.ndarray], title: str = "") -> Path:
    """Render one row per class (``top_backgrounds`` as from
    :func:`bgbench.challenge.analysis.matrix_analysis`), one column per background, each captioned
    with the share of other-class foregrounds it fools; ``image_of(background index)`` returns uint8
    (H, W, 3). Written atomically to ``path`` (PNG)."""
    from bgbench.plotting import figure_bytes, pyplot

    plt = pyplot()

    rows = [g for g in top_backgrounds if g["backgrounds"]]
    n_rows = max(1, len(rows))
    n_cols = max((len(g["backgrounds"]) for g in rows), default=1)
    width, height = max(4.0, 2.0 * n_cols), 2.6 * n_rows + 0.6
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, group in enumerate(rows):
        for c, item in enumerate(group["backgrounds"]):
            ax = axes[r][c]
            ax.imshow(image_of(item["background_index"]))
            ax.set_title(f"{group['class']}: fools {item['fool_rate']:.0%}\n"
                         f"pushes to own class {item['push_rate']:.0%}", fontsize=7)
    fig.suptitle(title or "most fooling backgrounds", fontsize=9, y=1 - 0.08 / height, va="top")
    fig.text(0.5, 1 - 0.32 / height, "fools: share of other-class foregrounds misclassified", ha="center",
             va="top", fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / height))
    png = figure_bytes(fig, "png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, png)
    return Path(path)
