"""bgbench's one plotting style: matplotlib set-up, a colour-blind-safe palette, sizes, saving.

Every figure bgbench draws (the report's, saliency and the probes', the challenge's gallery, the
real-data study's) is drawn inside :func:`figure_style` (the Agg backend and :data:`RC`), takes its
colours from :func:`colour` / :data:`VARIANT_COLOURS` (Okabe and Ito's palette; series also differ by
:func:`line_style` and :data:`MARKERS`), heat maps :data:`HEATMAP`, attribution maps
:data:`MAP_CMAP`, and is saved by :func:`figure_bytes` / :func:`save_figure` without dates or
versions in the files, so a rerun writes the same bytes. PNGs default to :data:`PNG_DPI` (modest, so
the self-contained HTML stays small).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_bytes

#: Okabe & Ito's eight colours, ordered so that the first ones contrast best on white
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#000000",
    "#F0E442",
)
#: line styles that tell series apart once the eight colours repeat
LINE_STYLES: tuple[str, ...] = ("-", "--", ":", "-.")
#: one fixed colour per variant, the same in every figure
VARIANT_COLOURS: dict[str, str] = {
    "original": "#000000",
    "only_bg_b": "#999999",
    "only_bg_t": "#CC79A7",
    "no_fg": "#D55E00",
    "only_fg": "#009E73",
    "mixed_same": "#0072B2",
    "mixed_rand": "#E69F00",
    "mixed_next": "#56B4E9",
}
#: marker shapes that tell series apart in print
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")
#: sequential colour map for heat maps (readable in grey and by colour-blind readers)
HEATMAP = "cividis"
#: colour map of attribution (saliency) maps: perceptually uniform, readable in grey
MAP_CMAP = "inferno"
PNG_DPI = 100
#: width of a full-width figure (inches) and the height of one row of a per-model figure
FULL_WIDTH = 9.0
ROW_HEIGHT = 0.32
#: longest side (pixels) of an image embedded in the HTML (larger ones are downscaled)
MAX_EMBED_PX = 1400

RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",
    "svg.hashsalt": "bgbench",
    "axes.prop_cycle": None,  # set in figure_style (needs matplotlib's cycler)
}


def colour(i: int) -> str:
    """The i-th series colour (cycles through :data:`OKABE_ITO`)."""
    return OKABE_ITO[i % len(OKABE_ITO)]


def line_style(i: int) -> str:
    """The i-th series line style: changes each time the colours wrap around."""
    return LINE_STYLES[(i // len(OKABE_ITO)) % len(LINE_STYLES)]


def variant_colour(variant: str, i: int = 0) -> str:
    return VARIANT_COLOURS.get(variant, colour(i))


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def figure_style() -> Iterator[Any]:
    """matplotlib (Agg backend) with bgbench's rc settings; yields ``pyplot``."""
    plt = pyplot()
    from cycler import cycler

    rc = {**RC, "axes.prop_cycle": cycler(color=list(OKABE_ITO))}
    with plt.rc_context(rc):
        yield plt


def figure_bytes(fig: Any, fmt: str = "png", dpi: int = PNG_DPI, pad: float = 0.05) -> bytes:
    """``fig`` saved as ``fmt`` (png or svg), tight, with no date or software version in the file."""
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=pad, metadata=metadata)
    return buffer.getvalue()


def save_figure(fig: Any, stem: str | Path, dpi: int = PNG_DPI) -> list[Path]:
    """Write ``fig`` to ``<stem>.png`` and ``<stem>.svg`` atomically and close it; both paths."""
    paths = []
    for fmt in ("png", "svg"):
        path = Path(f"{stem}.{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt, dpi))
        paths.append(path)
    pyplot().close(fig)
    return paths
