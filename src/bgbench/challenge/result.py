"""The typed result of a challenge run: :class:`ChallengeResult` (``challenge.json``,
schema bgbench.challenge/1; the fields are listed in docs/results.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, doc_value, pct, pct_ci

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
