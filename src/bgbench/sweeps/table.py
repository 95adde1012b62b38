"""The sweep's table as text, markdown and CSV, from rows of sweep.json.

A table is a list of :class:`Column`: plain columns (model, spec, top-1) and interval columns
(accuracy per variant, BG-Gap, challenge), each reading an entry ``{"value", "ci95", "n"}``
(fractions in [0, 1]) from a row. Cells show percent with the 95% interval rounded to whole
points, ``85.2 [80,89]``; the BG-Gap is signed, ``+8.4 [3,14]``. The CSV has fractions with
``<key>_ci95_low``, ``<key>_ci95_high`` and ``<key>_n`` beside each interval column. Scripts add
their own columns (e.g. the real-data study's restricted-rule only_bg_t) with :class:`Column`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bgbench.layout import IMAGE_VARIANTS

SHORT: dict[str, str] = {"original": "orig", "only_bg_b": "bg_b", "only_bg_t": "bg_t", "no_fg": "no_fg",
                         "only_fg": "only_fg", "mixed_same": "m_same", "mixed_rand": "m_rand",
                         "mixed_next": "m_next"}
LEGEND = ("Accuracy in % with [95% Wilson interval]; BG-Gap = m_same - m_rand in points with its paired "
          "Newcombe interval; challenge = share of foregrounds that no only_bg_t background fools; "
          "top-1 = published ImageNet top-1.")


@dataclass(frozen=True)
class Column:
    """One table column. ``key``: CSV field name; ``header``: text/markdown header (empty: CSV only);
    ``get``: row -> entry dict (``interval``) or a plain value (the CSV's); ``signed``: show a sign
    (differences); ``show``: row -> the displayed text of a plain column (default ``str`` of its
    value, ``-`` for None); ``left``: left-aligned."""

    key: str
    header: str
    get: Callable[[dict[str, Any]], Any]
    interval: bool = True
    signed: bool = False
    show: Callable[[dict[str, Any]], str] | None = None
    left: bool = False


def variant_entry(variant: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """Row -> ``{"value", "ci95", "n"}`` of the accuracy on ``variant`` (None when not evaluated)."""
    def get(row: dict[str, Any]) -> dict[str, Any] | None:
        if variant not in (row.get("accuracy") or {}):
            return None
        return {"value": row["accuracy"][variant], "ci95": row["accuracy_ci95"][variant],
                "n": row["n"][variant]}
    return get


def bg_gap_entry(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("bg_gap") is None:
        return None
    return {"value": row["bg_gap"], "ci95": row["bg_gap_ci95"], "n": (row.get("n") or {}).get("mixed_same")}


def challenge_entry(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("challenge_accuracy") is None:
        return None
    return {"value": row["challenge_accuracy"], "ci95": row["challenge_ci95"], "n": row.get("challenge_n")}


def top1_text(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def identity_columns() -> list[Column]:
    """model, spec (CSV only), imagenet_top1."""
    return [Column("model", "model", lambda r: r["name"], interval=False, left=True),
            Column("spec", "", lambda r: r["spec"], interval=False),
            Column("imagenet_top1", "top-1", lambda r: r.get("imagenet_top1"), interval=False,
                   show=lambda r: top1_text(r.get("imagenet_top1")))]


def result_columns(rows: list[dict[str, Any]]) -> list[Column]:
    """Accuracy per variant (those some row has, in table order), BG-Gap and challenge when present."""
    cols = [Column(v, SHORT.get(v, v), variant_entry(v)) for v in IMAGE_VARIANTS
            if any(v in (r.get("accuracy") or {}) for r in rows)]
    if any(bg_gap_entry(r) for r in rows):
        cols.append(Column("bg_gap", "BG-Gap", bg_gap_entry, signed=True))
    if any(challenge_entry(r) for r in rows):
        cols.append(Column("challenge", "challenge", challenge_entry))
    return cols


def sweep_columns(rows: list[dict[str, Any]]) -> list[Column]:
    """The sweep's own table: identity columns, then the result columns."""
    return identity_columns() + result_columns(rows)


def _whole(x: float) -> str:
    text = f"{100 * x:.0f}"
    return "0" if text == "-0" else text


def cell(entry: dict[str, Any] | None, signed: bool = False) -> str:
    """``85.2 [80,89]`` (``+8.4 [3,14]`` when ``signed``); ``-`` for a missing entry."""
    if not entry or entry.get("value") is None:
        return "-"
    value = f"{100 * entry['value']:+.1f}" if signed else f"{100 * entry['value']:.1f}"
    ci = entry.get("ci95")
    if not ci or ci[0] is None:
        return value
    return f"{value} [{_whole(ci[0])},{_whole(ci[1])}]"


def cells(row: dict[str, Any], columns: list[Column]) -> list[str]:
    """The displayed cells of ``row`` (columns with a header only)."""
    out = []
    for col in columns:
        if not col.header:
            continue
        value = col.get(row)
        if col.interval:
            out.append(cell(value, col.signed))
        else:
            out.append(col.show(row) if col.show else ("-" if value is None else str(value)))
    return out


def format_text(rows: list[dict[str, Any]], columns: list[Column]) -> str:
    """A fixed-width table (header, dashes, one line per row)."""
    shown = [c for c in columns if c.header]
    lines = [[c.header for c in shown]] + [cells(r, columns) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(shown))]
    out = []
    for j, line in enumerate(lines):
        out.append("  ".join(text.ljust(w) if c.left else text.rjust(w)
                             for text, w, c in zip(line, widths, shown, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def format_markdown(rows: list[dict[str, Any]], columns: list[Column]) -> str:
    """A markdown table (left-aligned plain columns, right-aligned numbers)."""
    shown = [c for c in columns if c.header]
    lines = ["| " + " | ".join(c.header for c in shown) + " |",
             "| " + " | ".join("---" if c.left else "---:" for c in shown) + " |"]
    lines += ["| " + " | ".join(cells(r, columns)) + " |" for r in rows]
    return "\n".join(lines)


def format_csv(rows: list[dict[str, Any]], columns: list[Column]) -> str:
    """One CSV line per row: plain values as they are, interval columns as value, ci95_low,
    ci95_high, n (fractions in [0, 1], 6 decimals; empty when missing)."""
    header: list[str] = []
    for col in columns:
        header += [col.key] if not col.interval else [col.key, f"{col.key}_ci95_low", f"{col.key}_ci95_high",
                                                     f"{col.key}_n"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        line: list[Any] = []
        for col in columns:
            value = col.get(row)
            if not col.interval:
                line.append("" if value is None else value)
            elif not value or value.get("value") is None:
                line += ["", "", "", ""]
            else:
                low, high = value["ci95"] or (None, None)
                line += [f"{value['value']:.6f}", "" if low is None else f"{low:.6f}",
                         "" if high is None else f"{high:.6f}", "" if value.get("n") is None else value["n"]]
        writer.writerow(line)
    return buffer.getvalue()
