"""The base of every typed result: a versioned JSON document, its file, a short summary, its tables.

Every entry point (build, eval, challenge, train, saliency, probe, sweep, synth, report, download,
demo) returns a subclass of :class:`Result`, and every subclass keeps one contract:

- ``to_json()``: the result's JSON document, whose ``schema`` field is ``SCHEMA``
  (``bgbench.<kind>/<major>``; docs/results.md documents each). ``from_json`` reads it back
  (:func:`bgbench.load_results` picks the class by the schema).
- ``write(out) -> Path``: the document written atomically as ``out/<filename()>`` (``FILENAME``; a
  result whose file name varies, synth's ``synth-<split>.json``, names it), with the files that go
  beside it (a CSV, a Markdown table); returns the document's path. The file holds ``to_json()``
  without the ``RUN_KEYS`` (what only the returned result knows: its output folder, what this run
  did), so ``load_results(result.write(out))`` reads the same document back.
- ``summary() -> str``: a few readable lines (``str(result)``); ``summary(tables=True)``: what the
  command line prints, the result's tables and the lines around them (:meth:`terminal`).
- ``result._repr_html_()`` a small table for notebooks. Fields are read through the subclass's typed
  properties, or the document itself (``result.to_json()``; ``result.doc`` of a document result).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bgbench.errors import BgbenchError
from bgbench.results.text import Block, render_blocks

#: what reading a document of the wrong shape raises (a missing key, a string where a number belongs, ...)
SHAPE_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, AttributeError, IndexError,
                                             OverflowError, ZeroDivisionError, RecursionError)


class Result:
    """Base class; subclasses set ``SCHEMA`` and ``FILENAME`` and implement :meth:`to_json`,
    :meth:`from_json` and :meth:`summary_lines` (and :meth:`table` for a richer notebook view,
    :meth:`terminal` for the command line's, :meth:`write_companions` for files beside the document)."""

    SCHEMA: ClassVar[str] = ""
    FILENAME: ClassVar[str] = ""
    #: keys of ``to_json()`` that the written file leaves out (what only the returned result knows)
    RUN_KEYS: ClassVar[tuple[str, ...]] = ()
    #: where the document was read from (set by :func:`bgbench.load_results`), else None
    source_path: Path | None = None

    # -- to implement ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON document (what the command writes), with ``schema`` = ``SCHEMA``."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, doc: dict[str, Any], path: Path | None = None) -> Result:
        """Rebuild the result from its document (``path``: the file it came from, for messages)."""
        raise NotImplementedError

    def summary_lines(self) -> list[str]:
        """A few short lines a person reads first (no arrays, no matrices)."""
        raise NotImplementedError

    def table(self) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of strings for the notebook view; default: the summary as one column."""
        return [type(self).__name__], [[line] for line in self.summary_lines()]

    # -- shared ---------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``eval``, ``challenge``, ``build``, ... (the schema without prefix and version)."""
        return schema_kind(self.SCHEMA)

    def filename(self) -> str:
        """The document's file name in an output folder (``FILENAME``)."""
        return self.FILENAME

    def file_document(self) -> dict[str, Any]:
        """The document as its file holds it: ``to_json()`` without the ``RUN_KEYS``."""
        doc = self.to_json()
        return {k: v for k, v in doc.items() if k not in self.RUN_KEYS} if self.RUN_KEYS else doc

    def write(self, out: str | Path) -> Path:
        """Write the document atomically to ``out/<filename()>`` (``out`` is created), then the files
        that go beside it (:meth:`write_companions`); returns the document's path, which becomes
        ``source_path``."""
        from bgbench.atomic import atomic_write_json

        out = Path(out)
        path = out / self.filename()
        atomic_write_json(path, self.file_document())
        self.write_companions(out)
        self.source_path = path
        return path

    def write_companions(self, out: Path) -> None:
        """Write the files that go beside the document in ``out`` (atomically); default: none."""

    def terminal(self) -> list[Block]:
        """What the command line prints, in order: lines (``str``) and tables (:class:`TextTable`);
        default: the summary lines."""
        return list(self.summary_lines())

    def summary(self, tables: bool = False, width: int | None = None) -> str:
        """The summary lines (``str(result)``); with ``tables`` the command line's view
        (:meth:`terminal`: tables fitted to ``width`` columns, default 80) as plain text."""
        if tables:
            return render_blocks(self.terminal(), width)
        return "\n".join(self.summary_lines())

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        lines = self.summary_lines()
        return f"<{type(self).__name__}: {lines[0] if lines else self.SCHEMA}>"

    def _repr_html_(self) -> str:
        header, rows = self.table()
        caption = html.escape(self.summary_lines()[0]) if self.summary_lines() else ""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                       for row in rows)
        return (f"<table><caption style='text-align:left'>{caption}</caption><thead><tr>{head}</tr>"
                f"</thead><tbody>{body}</tbody></table>")



class DocumentResult(Result):
    """A result that *is* its JSON document (build, challenge, synth, download, sweep): ``doc`` holds
    it, typed properties on the subclass read from it."""

    def __init__(self, doc: dict[str, Any], path: Path | None = None) -> None:
        self.doc = doc
        self.source_path = path

    def to_json(self) -> dict[str, Any]:
        return self.doc

    @classmethod
    def from_json(cls, doc: dict[str, Any], path: Path | None = None) -> DocumentResult:
        return cls(doc, path)

    def path_field(self, key: str) -> Path | None:
        """The document's ``key`` (a path string) as a Path; None when absent or null."""
        value = self.doc.get(key)
        return None if value is None else Path(value)


def parent_folder(path: str | Path | None) -> str | None:
    """The folder holding a document's file (where its command wrote); None without a file."""
    return None if path is None else str(Path(path).parent)


def schema_kind(schema: str) -> str:
    """``bgbench.eval/1`` -> ``eval``."""
    return schema.split("/", 1)[0].removeprefix("bgbench.")


def schema_major(schema: str) -> int | None:
    """``bgbench.eval/1`` -> 1 (None when the schema has no version)."""
    _, sep, version = schema.partition("/")
    try:
        return int(version.split(".", 1)[0]) if sep else None
    except ValueError:
        return None


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as ``85.2%`` (``-`` for None/NaN)."""
    if value is None or value != value:
        return "-"
    return f"{100 * value:.{digits}f}%"


def pct_ci(value: float | None, ci: list[float] | tuple[float, float] | None) -> str:
    """``85.2% [80-89]`` (interval in whole percent)."""
    if value is None or value != value:
        return "-"
    if not ci or ci[0] is None:
        return pct(value)
    return f"{pct(value)} [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"


_MISSING = object()


def doc_value(key: str, cast: Any = None, default: Any = _MISSING, *, path: bool = False,
              doc: str = "") -> Any:
    """A read-only attribute of a :class:`DocumentResult` reading ``self.doc[key]`` (a dotted key
    such as ``summary.kept`` reads nested objects): ``cast`` applied to the value (``int``,
    ``bool``, ...), ``default`` when the key is absent (without a default a missing key is a
    KeyError), or with ``path`` the value as a ``Path`` (None when unset)."""
    *parents, last = key.split(".")

    def read(self: DocumentResult) -> Any:
        if path:
            return self.path_field(key)
        node = self.doc
        for part in parents:
            node = node.get(part, {}) if default is not _MISSING else node[part]
        value = node.get(last, default) if default is not _MISSING else node[last]
        return cast(value) if cast is not None and value is not None else value

    return property(read, doc=doc or f"The document's ``{key}`` field.")


def shape_problem(exc: BaseException) -> str:
    """A short phrase for an exception raised by reading a document of the wrong shape."""
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}" if exc.args else "a missing key"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


@contextmanager
def reading(what: str, path: str | Path | None) -> Iterator[None]:
    """Turn :data:`SHAPE_ERRORS` raised inside the block into one BgbenchError naming ``path``:
    ``<path>: not a valid <what> (missing key 'accuracy')``. BgbenchErrors pass through unchanged."""
    try:
        yield
    except BgbenchError:
        raise
    except SHAPE_ERRORS as exc:
        raise BgbenchError(f"not a valid {what} ({shape_problem(exc)})", path) from None
