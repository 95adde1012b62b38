"""What a result shows on a terminal: lines and tables, printed (or rendered to text) one way.

A result's :meth:`~bgbench.results.base.Result.terminal` gives a list of *blocks*: a ``str`` is printed
as it is (never wrapped; it may hold several lines), a :class:`TextTable` is drawn as a box table (rich)
fitted to the width. :func:`print_blocks` writes them to a console (the command line's stdout, with
colour on a terminal); :func:`render_blocks` returns the same text as a string (no colour), which is
what ``result.summary(tables=True)`` gives.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Union

#: default width of rendered text (a console that is not a terminal is this wide)
DEFAULT_WIDTH = 80


@dataclass(frozen=True)
class TextTable:
    """A table of strings: ``header`` cells, ``rows`` (each as many cells as the header; None draws a
    rule between sections), an optional ``title`` above it.

    ``justify``: one letter per column, ``l`` left, ``r`` right, ``f`` right and folding a cell too
    wide for its column onto more lines (instead of cutting it with an ellipsis); default: the first
    column left, the others right. ``emphasis``: the last row is bold (on a colour terminal)."""

    header: list[str]
    rows: list[list[str] | None]
    title: str = ""
    justify: str = ""
    emphasis: bool = False

    def __post_init__(self) -> None:
        width = len(self.header)
        bad = [row for row in self.rows if row is not None and len(row) != width]
        if bad or (self.justify and len(self.justify) != width):
            raise ValueError(f"table {self.title!r}: every row (and justify) needs {width} cells")

    def column_justify(self, index: int) -> str:
        """``l``, ``r`` or ``f`` of column ``index``."""
        if self.justify:
            return self.justify[index]
        return "l" if index == 0 else "r"

    def lines(self) -> list[list[str]]:
        """The data rows without the section rules."""
        return [row for row in self.rows if row is not None]


Block = Union[str, TextTable]  # noqa: UP007 (a runtime alias on Python 3.10)


def rich_table(table: TextTable) -> Any:
    """The :class:`TextTable` as a ``rich.table.Table`` (every text taken literally, never as markup)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(table.title, style="table.title") if table.title else None, title_justify="left")
    for index, name in enumerate(table.header):
        how = table.column_justify(index)
        out.add_column(Text(name), justify="left" if how == "l" else "right",
                       overflow="fold" if how == "f" else "ellipsis")
    last = len(table.rows) - 1
    for index, row in enumerate(table.rows):
        if row is None:
            out.add_section()
        else:
            out.add_row(*map(Text, row), style="bold" if table.emphasis and index == last else None)
    return out


def print_blocks(blocks: list[Block], console: Any) -> None:
    """Print ``blocks`` on a ``rich.console.Console``: strings as they are, tables drawn."""
    for block in blocks:
        if isinstance(block, TextTable):
            console.print(rich_table(block))
        else:
            console.print(block, markup=False, highlight=False, soft_wrap=True)


def render_blocks(blocks: list[Block], width: int | None = None) -> str:
    """``blocks`` as plain text (tables fitted to ``width`` columns, default :data:`DEFAULT_WIDTH`)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width or DEFAULT_WIDTH, color_system=None, force_terminal=False,
                      highlight=False)
    print_blocks(blocks, console)
    return buffer.getvalue().rstrip("\n")
