"""``bgbench.report(results, out)``: read, compose, draw, render, write (in that order, so that a
bad input fails before anything is written)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from bgbench.atomic import atomic_write_bytes, atomic_write_text
from bgbench.errors import BgbenchError
from bgbench.jsonable import versions
from bgbench.progress import progress
from bgbench.provenance import command_line
from bgbench.reporting.collect import Collection, gather, organize
from bgbench.reporting.compose import compose
from bgbench.reporting.figures import Rendered, render
from bgbench.reporting.render import render_html, render_markdown
from bgbench.reporting.result import REPORT_SCHEMA, ReportResult, files_folder
from bgbench.reporting.sections import Section, Text
from bgbench.results import Result
from bgbench.results.base import SHAPE_ERRORS, shape_problem

DEFAULT_TITLE = "bgbench report"


def _draw(sections: list[Section], quiet: bool) -> dict[str, Rendered]:
    """Every figure of ``sections``; one that cannot be drawn (an unreadable embedded image) is
    replaced by a line saying so."""
    drawn: dict[str, Rendered] = {}
    specs = [(section, spec) for section in sections for spec in section.figures]
    for section, spec in progress(specs, desc="report figures", unit="fig", quiet=quiet):
        try:
            drawn[spec.name] = render(spec.draw, spec.data)
        except (OSError, ValueError) as exc:
            at = section.items.index(spec)
            section.items[at] = Text(f"(figure {spec.name} could not be drawn: {exc})")
    return drawn


def _kinds_line(collection: Collection) -> str:
    counts = [f"{len(v)} {k}" for k, v in collection.by_kind.items()]
    return ", ".join(counts)


def _composed(results: list[Result], command: str, version: str,
              quiet: bool) -> tuple[Collection, list[Section], dict[str, Rendered]]:
    """The collection, sections and figures of ``results``. A result whose document has the wrong
    shape (a missing key, a string where a number belongs) is a one-line BgbenchError naming its file:
    when composing all of them fails, each is composed alone to find the one to blame."""
    try:
        collection = organize(results)
        sections = compose(collection, command, version)
        return collection, sections, _draw(sections, quiet)
    except SHAPE_ERRORS as exc:
        problem = shape_problem(exc)
    for result in results:
        try:
            single = compose(organize([result]), command, version)
            render_html(single, _draw(single, True), {"title": "", "version": version, "subtitle": "",
                                                      "footer": ""})
        except SHAPE_ERRORS as exc:
            raise BgbenchError(f"not a valid {result.kind} result ({shape_problem(exc)})",
                               result.source_path) from None
    raise BgbenchError(f"the results cannot be reported together ({problem})")


def report(
    results: list[str | Path | Result] | str | Path | Result,
    out: str | Path = "report.html",
    *,
    title: str | None = None,
    command: str | None = None,
    quiet: bool = False,
) -> ReportResult:
    """Write one self-contained HTML report of ``results`` (result files, output folders, searched
    recursively, or Result objects) to ``out``, with ``out``'s Markdown twin (``report.md``) and
    its figures as PNG and SVG in ``report_files/`` beside it; returns the :class:`ReportResult`.

    ``command``: the command line recorded as the report's own provenance (default: this
    process's). A bad input raises a one-line BgbenchError naming the file before anything is written."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise BgbenchError(
            "the report file must end in .html (report.md and report_files/ go beside it)", out
        )
    inputs = list(results) if isinstance(results, list | tuple) else [results]
    command = command or command_line()
    version = versions().get("bgbench", "?")
    collection, sections, figures = _composed(gather(inputs), command, version, quiet)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    context = {
        "title": title or DEFAULT_TITLE,
        "version": version,
        "subtitle": f"{len(collection.all)} results ({_kinds_line(collection)}) · written {created} "
        f"by bgbench {version}",
        "footer": f"bgbench {version} · {created}" + (f" · `{command}`" if command else ""),
    }
    files = files_folder(out)
    page = render_html(sections, figures, context)
    markdown = render_markdown(sections, figures, files.name, context)
    names = _write_figures(files, figures)
    atomic_write_text(out.with_suffix(".md"), markdown)
    doc = {
        "schema": REPORT_SCHEMA,
        "html": str(out),
        "markdown": str(out.with_suffix(".md")),
        "files": str(files),
        "title": context["title"],
        "sections": [s.id for s in sections],
        "figures": names,
        "inputs": [
            {"kind": r.kind, "path": None if r.source_path is None else str(r.source_path)}
            for r in collection.all
        ],
        "html_bytes": len(page.encode("utf-8")),
        "command": command,
        "created": created,
        "versions": versions(),
    }
    result = ReportResult(doc)
    result.write(files)
    atomic_write_text(out, page)
    return result


def _stale_figures(folder: Path) -> list[str]:
    """The figure files an earlier report listed in ``folder`` (so that a rerun removes the ones it no
    longer draws; nothing else in the folder is touched)."""
    try:
        old = json.loads((folder / ReportResult.FILENAME).read_text())
    except (OSError, ValueError, RecursionError):
        return []
    figures = old.get("figures") if isinstance(old, dict) else None
    if not isinstance(figures, list):
        return []
    return [n for n in figures if isinstance(n, str) and "/" not in n and "\\" not in n]


def _write_figures(folder: Path, figures: dict[str, Rendered]) -> list[str]:
    """Write each figure as ``<name>.png`` (and ``<name>.svg``) into ``folder``; the file names."""
    stale = _stale_figures(folder)
    names = []
    for name, figure in figures.items():
        atomic_write_bytes(folder / f"{name}.png", figure.png, fsync=False)
        names.append(f"{name}.png")
        if figure.svg is not None:
            atomic_write_bytes(folder / f"{name}.svg", figure.svg, fsync=False)
            names.append(f"{name}.svg")
    for name in set(stale) - set(names):
        (folder / name).unlink(missing_ok=True)
    return names
