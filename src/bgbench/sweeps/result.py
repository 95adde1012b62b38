"""The typed result of a sweep: :class:`SweepResult` (``sweep.json``, schema bgbench.sweep/1).

The document (docs/results.md)::

    {"schema": "bgbench.sweep/1",
     "models": [{"name", "spec", "imagenet_top1", "options", "map_rule",
                 "accuracy": {variant: fraction}, "accuracy_ci95": {variant: [low, high]},
                 "n": {variant: images}, "correct": {variant: k}, "bg_gap", "bg_gap_ci95",
                 "weights_sha256", ["challenge_accuracy", "challenge_ci95", "challenge_n",
                 "challenge_shard", "challenge_backgrounds", "challenge": [relative paths]],
                 "results": "<name>" (its results folder, relative), "timing": {...}}, ...],
     "variants": [...], "data": {"root", "split", "fingerprint"},
     "trend": {"against": "imagenet_top1", "models", "left_out", "n_boot", "seed",
               "spearman": {target: {"value", "ci95", "method", "n", "n_boot_used"}}},
     "challenge": bool, "created", "versions"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, doc_value, pct
from bgbench.results.text import Block
from bgbench.sweeps.table import LEGEND, cells, format_csv, format_markdown, format_text, sweep_columns
from bgbench.sweeps.trend import trend_lines, trend_summary

SCHEMA = "bgbench.sweep/1"
FILES = {"json": "sweep.json", "csv": "sweep.csv", "md": "sweep.md"}


class SweepResult(DocumentResult):
    """A sweep.json document: ``models`` (one row per model, in the models file's order), ``trend``,
    ``data``; :meth:`text_table`, :meth:`markdown` and :meth:`csv` render the combined table."""

    SCHEMA: ClassVar[str] = SCHEMA
    FILENAME: ClassVar[str] = FILES["json"]

    models = doc_value("models", list, [], doc="One row per model, in the models file's order.")
    trend = doc_value("trend", dict, {}, doc="Spearman of imagenet_top1 against each variant and BG-Gap.")
    data = doc_value("data", dict, {}, doc="The evaluated tree: root, split, fingerprint.")

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.models]

    def row(self, name: str) -> dict[str, Any]:
        """The row of the model called ``name`` (KeyError when the sweep has none)."""
        for m in self.models:
            if m["name"] == name:
                return m
        raise KeyError(name)

    def text_table(self) -> str:
        return format_text(self.models, sweep_columns(self.models))

    def markdown(self) -> str:
        """sweep.md: the table, its legend and the trend."""
        data = self.data
        lines = ["# bgbench sweep", "",
                 f"{len(self.models)} model(s) on `{data.get('root')}` (split {data.get('split')}, data "
                 f"fingerprint {str(data.get('fingerprint'))[:12]}).", "",
                 format_markdown(self.models, sweep_columns(self.models)), "", LEGEND, ""]
        lines += [f"    {line}" for line in trend_lines(self.trend)]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        return format_csv(self.models, sweep_columns(self.models))

    def summary_lines(self) -> list[str]:
        data = self.data
        lines = [f"sweep of {len(self.models)} model(s) on {data.get('root')} ({data.get('split')})"]
        for m in self.models:
            acc = m.get("accuracy") or {}
            parts = [f"{v} {pct(acc[v])}" for v in ("original", "mixed_rand") if v in acc]
            if m.get("bg_gap") is not None:
                parts.append(f"BG-Gap {100 * m['bg_gap']:+.1f}")
            if m.get("challenge_accuracy") is not None:
                parts.append(f"challenge {pct(m['challenge_accuracy'])}")
            lines.append(f"  {m['name']:<24} " + "  ".join(parts))
        summary = trend_summary(self.trend)
        return lines + ([summary] if summary else [])

    def table(self) -> tuple[list[str], list[list[str]]]:
        columns = sweep_columns(self.models)
        return [c.header for c in columns if c.header], [cells(m, columns) for m in self.models]

    def write_companions(self, out: Path) -> None:
        """sweep.csv and sweep.md beside sweep.json."""
        from bgbench.atomic import atomic_write_text

        atomic_write_text(out / FILES["csv"], self.csv())
        atomic_write_text(out / FILES["md"], self.markdown())

    def terminal(self) -> list[Block]:
        """The command line's view: the combined table, its legend and the ImageNet top-1 trend."""
        return [self.text_table(), "", LEGEND, "", *trend_lines(self.trend)]
