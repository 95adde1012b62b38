"""The report's one look: a colour-blind-safe palette (Okabe and Ito), font sizes, figure sizes, dpi.

Every figure of :mod:`bgbench.report.figures` is drawn inside :func:`figure_style`, takes its colours
from :func:`colour` / :data:`VARIANT_COLOURS`, and is saved at :data:`PNG_DPI` (modest, so the
self-contained HTML stays small) and as SVG.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
#: sequential colour map for heat maps (readable in grey and by colour-blind readers)
HEATMAP = "cividis"
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


@contextmanager
def figure_style() -> Iterator[Any]:
    """matplotlib (Agg backend) with the report's rc settings; yields ``pyplot``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from cycler import cycler

    rc = {**RC, "axes.prop_cycle": cycler(color=list(OKABE_ITO))}
    with plt.rc_context(rc):
        yield plt
