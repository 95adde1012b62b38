"""Sections -> one self-contained HTML page and a Markdown file (Jinja2 templates in
``bgbench/reporting/templates``).

In the HTML every figure is an inline ``data:image/png;base64`` URI, the style sheet is inline and
there is no script, so the page reads the same offline, from a mail attachment or an archive. The
Markdown refers to the figures as files (``<files>/<name>.png`` and ``.svg``) written beside it.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from bgbench.reporting.figures import Rendered
from bgbench.reporting.sections import Section

INLINE_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> Markup:
    """Escape ``text`` for HTML, with `backticked` spans as <code>."""
    return Markup(INLINE_CODE.sub(lambda m: f"<code>{m[1]}</code>", html.escape(str(text), quote=False)))


def _md_cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _data_uri(figure: Rendered) -> str:
    return f"data:{figure.mime};base64," + base64.b64encode(figure.embed or figure.png).decode("ascii")


def environment() -> Environment:
    """The Jinja2 environment (HTML templates autoescaped, Markdown ones not)."""
    env = Environment(
        loader=PackageLoader("bgbench.reporting", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = _inline
    env.filters["md_cell"] = _md_cell
    env.filters["data_uri"] = _data_uri
    return env


def render_html(sections: list[Section], figures: dict[str, Rendered], context: dict[str, Any]) -> str:
    """The HTML page; ``figures`` maps a FigureSpec name to its drawing."""
    return environment().get_template("report.html.j2").render(sections=sections, figures=figures, **context)


def render_markdown(
    sections: list[Section], figures: dict[str, Rendered], files_dir: str, context: dict[str, Any]
) -> str:
    """The Markdown file; figures are linked as ``files_dir/<name>.png`` (and ``.svg``)."""
    return (
        environment()
        .get_template("report.md.j2")
        .render(sections=sections, figures=figures, files_dir=files_dir, **context)
    )
