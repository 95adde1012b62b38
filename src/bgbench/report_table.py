"""Human tables (rich) and CSV rows for evaluation results, both built from the results.json dict."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_text

CSV_FIELDS = ("variant", "n", "correct", "accuracy", "ci95_low", "ci95_high", "skipped", "images_per_s",
              "map_rule", "model")

__all__ = ["CSV_FIELDS", "eval_csv_rows", "eval_tables", "print_eval", "write_eval_csv"]


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def eval_csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per evaluated variant (fractions in [0, 1]) from a results.json document."""
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


def eval_tables(doc: dict[str, Any]) -> list[Any]:
    """rich Tables: accuracy per variant with 95% interval and BG-Gap; per-class accuracy."""
    from rich.table import Table

    title = f"{doc['model']}  (map: {doc['map_rule']}, split: {doc['data']['split']})"
    main = Table(title=title, title_justify="left")
    for column, justify in (("variant", "left"), ("accuracy %", "right"), ("95% CI", "right"),
                            ("n", "right"), ("skipped", "right"), ("img/s", "right")):
        main.add_column(column, justify=justify)
    timing = doc.get("timing", {}).get("variants", {})
    for variant, value in doc["accuracy"].items():
        low, high = doc["accuracy_ci95"][variant]
        speed = timing.get(variant, {}).get("images_per_s")
        n_skipped = len(doc.get("skipped", {}).get(variant, []))
        main.add_row(variant, _pct(value), f"{_pct(low)}-{_pct(high)}", str(doc["n"][variant]),
                     str(n_skipped), "-" if speed is None else f"{speed:.0f}")
    if doc.get("bg_gap") is not None:
        low, high = doc["bg_gap_ci95"]
        main.add_section()
        main.add_row("BG-Gap", _pct(doc["bg_gap"]), f"{_pct(low)} to {_pct(high)}", "", "",
                     "", style="bold")
    per_class = Table(title="per-class accuracy % (n: images of the class in the first variant)",
                      title_justify="left")
    per_class.add_column("class")
    per_class.add_column("n", justify="right")
    variants = list(doc["per_class"])
    for variant in variants:
        per_class.add_column(variant, justify="right", overflow="fold")
    for cls in doc["class_names"]:
        entries = [doc["per_class"][variant][cls] for variant in variants]
        cells = [_pct(e["accuracy"]) if e["n"] else "-" for e in entries]
        per_class.add_row(cls, str(entries[0]["n"]) if entries else "0", *cells)
    return [main, per_class]


def print_eval(doc: dict[str, Any], console: Any = None) -> None:
    """Print :func:`eval_tables` (and the skipped files and variants, if any) to ``console`` (stdout by
    default)."""
    from rich.console import Console

    console = console or Console()
    for table in eval_tables(doc):
        console.print(table)
    skipped = [(v, p, r) for v, items in doc.get("skipped", {}).items() for p, r in items]
    if skipped:
        console.print(f"skipped {len(skipped)} unreadable image(s):")
        for _, path, reason in skipped[:20]:
            console.print(f"  {path}: {reason}", markup=False)
        if len(skipped) > 20:
            console.print(f"  ... and {len(skipped) - 20} more (see results.json)")
    for variant, reason in (doc.get("skipped_variants") or {}).items():
        console.print(f"{variant} not scored: {reason}", markup=False)
