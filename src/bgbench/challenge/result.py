"""The typed result of a challenge run: :class:`ChallengeResult` (``challenge.json``,
schema bgbench.challenge/1; the fields are listed in docs/results.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, pct, pct_ci

SCHEMA = "bgbench.challenge/1"


class ChallengeResult(DocumentResult):
    """A challenge.json document with typed access to the headline numbers.

    ``accuracy``: share of foregrounds no background fools, in [0, 1] (None for no foreground);
    ``n_foregrounds`` / ``n_fooled`` / ``n_backgrounds``; ``complete``: every foreground of the run
    (or shard) decided; ``mode``: ``search`` or ``full``."""

    SCHEMA: ClassVar[str] = SCHEMA
    FILENAME: ClassVar[str] = "challenge.json"

    @property
    def accuracy(self) -> float | None:
        return self.doc.get("challenge_accuracy")

    @property
    def accuracy_ci95(self) -> list[float] | None:
        return self.doc.get("challenge_accuracy_ci95")

    @property
    def n_foregrounds(self) -> int:
        return int(self.doc.get("n_foregrounds", 0))

    @property
    def n_fooled(self) -> int:
        return int(self.doc.get("n_fooled", 0))

    @property
    def n_backgrounds(self) -> int:
        return int(self.doc.get("n_backgrounds", 0))

    @property
    def complete(self) -> bool:
        return bool(self.doc.get("complete"))

    @property
    def mode(self) -> str:
        return str(self.doc.get("mode", "search"))

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
