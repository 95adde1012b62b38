"""An evaluation's tables, built from the eval.json document: the command line's (accuracy per
variant with its 95% interval and the BG-Gap; per-class accuracy; skipped files) and the CSV rows
of ``eval.csv``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_text
from bgbench.results.text import TextTable

CSV_FIELDS = ("variant", "n", "correct", "accuracy", "ci95_low", "ci95_high", "skipped", "images_per_s",
              "map_rule", "model")
#: skipped files listed by name on the terminal (the rest are counted)
SHOWN_SKIPPED = 20

__all__ = ["CSV_FIELDS", "accuracy_table", "eval_csv_rows", "per_class_table", "skipped_lines",
           "write_eval_csv"]


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def eval_csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per evaluated variant (fractions in [0, 1]) from an eval.json document."""
    rows = []
    timing = doc.get("timing", {}).get("variants", {})
    for variant, value in doc["accuracy"].items():
        low, high = doc["accuracy_ci95"][variant]
        rows.append({"variant": variant, "n": doc["n"][variant], "correct": doc["correct"][variant],
                     "accuracy": value, "ci95_low": low, "ci95_high": high,
                     "skipped": len(doc.get("skipped", {}).get(variant, [])),
                     "images_per_s": timing.get(variant, {}).get("images_per_s"),
                     "map_rule": doc.get("map_rule"), "model": doc.get("model")})
    return rows


def write_eval_csv(path: str | Path, doc: dict[str, Any]) -> None:
    """Write :func:`eval_csv_rows` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    for row in eval_csv_rows(doc):
        writer.writerow(row)
    atomic_write_text(path, buffer.getvalue())


def accuracy_table(doc: dict[str, Any]) -> TextTable:
    """Accuracy % per variant with its 95% interval, images, skipped files and images/s; the BG-Gap
    (points, paired interval) in a last section."""
    title = f"{doc['model']}  (map: {doc['map_rule']}, split: {doc['data']['split']})"
    timing = doc.get("timing", {}).get("variants", {})
    rows: list[list[str] | None] = []
    for variant, value in doc["accuracy"].items():
        low, high = doc["accuracy_ci95"][variant]
        speed = timing.get(variant, {}).get("images_per_s")
        n_skipped = len(doc.get("skipped", {}).get(variant, []))
        rows.append([variant, _pct(value), f"{_pct(low)}-{_pct(high)}", str(doc["n"][variant]),
                     str(n_skipped), "-" if speed is None else f"{speed:.0f}"])
    gap = doc.get("bg_gap") is not None
    if gap:
        low, high = doc["bg_gap_ci95"]
        rows += [None, ["BG-Gap", _pct(doc["bg_gap"]), f"{_pct(low)} to {_pct(high)}", "", "", ""]]
    return TextTable(["variant", "accuracy %", "95% CI", "n", "skipped", "img/s"], rows, title=title,
                     emphasis=gap)


def per_class_table(doc: dict[str, Any]) -> TextTable:
    """Accuracy % per class (rows) and variant (columns; ``-`` for a class without images there)."""
    variants = list(doc["per_class"])
    rows: list[list[str] | None] = []
    for cls in doc["class_names"]:
        entries = [doc["per_class"][variant][cls] for variant in variants]
        cells = [_pct(e["accuracy"]) if e["n"] else "-" for e in entries]
        rows.append([cls, str(entries[0]["n"]) if entries else "0", *cells])
    return TextTable(["class", "n", *variants], rows,
                     title="per-class accuracy % (n: images of the class in the first variant)",
                     justify="lr" + "f" * len(variants))


def skipped_lines(doc: dict[str, Any]) -> list[str]:
    """The unreadable images (the first :data:`SHOWN_SKIPPED` by name) and the variants not scored."""
    skipped = [(p, r) for items in doc.get("skipped", {}).values() for p, r in items]
    lines = []
    if skipped:
        lines.append(f"skipped {len(skipped)} unreadable image(s):")
        lines += [f"  {path}: {reason}" for path, reason in skipped[:SHOWN_SKIPPED]]
        if len(skipped) > SHOWN_SKIPPED:
            lines.append(f"  ... and {len(skipped) - SHOWN_SKIPPED} more (see eval.json)")
    not_scored = doc.get("skipped_variants") or {}
    lines += [f"{variant} not scored: {reason}" for variant, reason in not_scored.items()]
    return lines
