"""The typed result of a challenge run: :class:`ChallengeResult` (``challenge.json`` and
``challenge.csv``, schema bgbench.challenge/1; the fields are listed in docs/results.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, doc_value, pct, pct_ci
from bgbench.results.text import Block, TextTable

SCHEMA = "bgbench.challenge/1"


class ChallengeResult(DocumentResult):
    """A challenge.json document with typed access to the headline numbers.

    ``accuracy``: share of foregrounds no background fools, in [0, 1] (None for no foreground);
    ``n_foregrounds`` / ``n_fooled`` / ``n_backgrounds``; ``complete``: every foreground of the run
    (or shard) decided; ``mode``: ``search`` or ``full``."""

    SCHEMA: ClassVar[str] = SCHEMA
    FILENAME: ClassVar[str] = "challenge.json"

    accuracy = doc_value("challenge_accuracy", default=None)

    accuracy_ci95 = doc_value("challenge_accuracy_ci95", default=None)

    n_foregrounds = doc_value("n_foregrounds", int, 0)

    n_fooled = doc_value("n_fooled", int, 0)

    n_backgrounds = doc_value("n_backgrounds", int, 0)

    complete = doc_value("complete", bool, None)

    mode = doc_value("mode", str, "search")

    @property
    def model(self) -> str:
        model = self.doc.get("model") or {}
        return str(model.get("spec", "?")) if isinstance(model, dict) else str(model)

    @property
    def per_class(self) -> list[dict[str, Any]]:
        return list(self.doc.get("per_class", []))

    def summary_lines(self) -> list[str]:
        shard = self.doc.get("shard")
        where = f", shard {shard[0]}/{shard[1]}" if shard else ""
        lines = [f"challenge {self.model} ({self.mode}{where}): {self.n_fooled}/{self.n_foregrounds} "
                 f"foregrounds fooled by one of {self.n_backgrounds} backgrounds"
                 + ("" if self.complete else " (incomplete)"),
                 f"  challenge accuracy {pct_ci(self.accuracy, self.accuracy_ci95)}"]
        strict = self.doc.get("strict_reading") or {}
        if strict.get("exact"):
            lines.append(f"  strict reading (fooled to the background's class): "
                         f"{strict.get('n_fooled')} fooled")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[row["class"], str(row["n"]), str(row["n_fooled"]), pct(row.get("fooled_rate"))]
                for row in self.per_class if row.get("n")]
        rows.append(["all", str(self.n_foregrounds), str(self.n_fooled),
                     pct(None if self.accuracy is None else 1 - self.accuracy)])
        return ["class", "n", "fooled", "fooled rate"], rows

    def write_companions(self, out: Path) -> None:
        """``challenge.csv`` beside challenge.json: one row per foreground."""
        from bgbench.challenge.outputs import write_csv

        write_csv(out, self.doc)

    def terminal(self) -> list[Block]:
        """The command line's view: the released script's ``N/total vulnerable`` line, the challenge
        accuracy with its interval, the strict reading, fooled per class, the forward passes against
        the oracle minimum, and (``--full``) the most fooling backgrounds."""
        d = self.doc
        blocks: list[Block] = [d["vulnerable"]]
        if self.accuracy is not None:
            lo, hi = d["challenge_accuracy_ci95"]
            blocks.append(f"challenge accuracy {self.accuracy:.1%} (95% CI {lo:.1%}-{hi:.1%}), "
                          "released reading")
        strict, n = d["strict_reading"], self.n_foregrounds
        blocks.append(f"strict reading (fooled to the background's class): {strict['n_fooled']}/{n} fooled"
                      if strict["exact"] else f"strict reading (fooled to the background's class): at least "
                      f"{strict['n_fooled_lower_bound']}/{n} (use --strict for exact)")
        rows: list[list[str] | None] = [
            [row["class"], str(row["n"]), str(row["n_fooled"]), f"{row['fooled_rate']:.1%}",
             f"{row['fooled_rate_ci95'][0]:.1%}-{row['fooled_rate_ci95'][1]:.1%}"]
            for row in self.per_class if row["n"]]
        blocks.append(TextTable(["class", "n", "fooled", "rate", "95% CI"], rows, title="fooled per class"))
        passes = d.get("forward_passes")
        if passes and passes.get("oracle_minimum"):
            blocks.append(f"forward passes {passes['used']} vs oracle minimum {passes['oracle_minimum']} "
                          f"({passes['ratio_to_oracle']:.2f}x)")
        top = d.get("top_backgrounds")
        if top:
            rows = [[group["class"], item["background"], f"{item['fool_rate']:.1%}"]
                    for group in top for item in group["backgrounds"][:3]]
            title = "most fooling backgrounds (share of other-class foregrounds fooled)"
            blocks.append(TextTable(["class", "background", "fools"], rows, justify="llr", title=title))
        return blocks
