"""One row per evaluated model, joined from the documents that mention it.

A row's numbers come from an evaluation's ``eval.json`` (or, when a sweep names a model whose
results folder is gone, from the sweep's row, which holds the same fields), the sweep's published
ImageNet top-1, and the challenge run under the same name. Values are fractions in [0, 1]; an
interval is ``(low, high)``; ``None`` means not measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bgbench.layout import IMAGE_VARIANTS
from bgbench.reporting.collect import document


@dataclass(frozen=True)
class Estimate:
    """A measured fraction with its 95% interval (``low``/``high`` None without one) and its count."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    note: str = ""

    @classmethod
    def of(cls, value: Any, ci: Any = None, n: Any = None, note: str = "") -> Estimate | None:
        if value is None or value != value:
            return None
        low, high = (ci or (None, None))[:2] if ci else (None, None)
        return cls(float(value), low, high, None if n is None else int(n), note)


@dataclass
class ModelRow:
    """What the report shows for one evaluated model (fields: see the module docstring)."""

    name: str
    spec: str
    map_rule: str | None
    accuracy: dict[str, Estimate]
    bg_gap: Estimate | None = None
    draws_gap: Estimate | None = None
    imagenet_top1: float | None = None
    challenge: Estimate | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        return [v for v in IMAGE_VARIANTS if v in self.accuracy]


def row_from_metrics(name: str, spec: str, doc: dict[str, Any], source: str = "") -> ModelRow:
    """A row from any document with eval.json's metric fields (``accuracy``, ``accuracy_ci95``,
    ``n``, ``bg_gap``, ``bg_gap_ci95``, ``bg_gap_method``, optional ``draws``)."""
    ci, n = doc.get("accuracy_ci95") or {}, doc.get("n") or {}
    accuracy = {
        v: Estimate.of(doc["accuracy"][v], ci.get(v), n.get(v))
        for v in IMAGE_VARIANTS
        if v in (doc.get("accuracy") or {})
    }
    accuracy = {v: e for v, e in accuracy.items() if e is not None}
    gap = Estimate.of(doc.get("bg_gap"), doc.get("bg_gap_ci95"), note=doc.get("bg_gap_method") or "")
    draws = doc.get("draws") or {}
    draws_gap = None
    if draws.get("bg_gap"):
        block = draws["bg_gap"]
        draws_gap = Estimate.of(
            block.get("value"),
            block.get("ci95"),
            block.get("n_foregrounds"),
            note=f"{draws.get('k')} donors per foreground",
        )
    return ModelRow(
        name=name,
        spec=spec,
        map_rule=doc.get("map_rule"),
        accuracy=accuracy,
        bg_gap=gap,
        draws_gap=draws_gap,
        source=source,
    )


def challenge_estimate(doc: dict[str, Any]) -> Estimate | None:
    """The challenge accuracy of a challenge.json document."""
    return Estimate.of(
        doc.get("challenge_accuracy"),
        doc.get("challenge_accuracy_ci95"),
        doc.get("n_foregrounds"),
        note=f"{doc.get('n_fooled', '?')} fooled",
    )


def model_rows(collection: Any) -> list[ModelRow]:
    """One row per evaluation of ``collection`` (a :class:`bgbench.reporting.collect.Collection`), then
    per sweep row without a results folder; each with its ImageNet top-1 and challenge when known."""
    rows = []
    for result in collection.of("eval"):
        doc = document(result)
        row = row_from_metrics(
            collection.name(result), str(doc.get("model")), doc, str(result.source_path or "")
        )
        row.info = {"model_info": doc.get("model_info") or {}, "label_map": doc.get("label_map") or {}}
        rows.append(row)
    for sweep, doc in collection.orphan_rows:
        rows.append(row_from_metrics(doc["name"], str(doc.get("spec")), doc, str(sweep.source_path or "")))
        rows[-1].imagenet_top1 = doc.get("imagenet_top1")
        if doc.get("challenge_accuracy") is not None:
            rows[-1].challenge = Estimate.of(
                doc["challenge_accuracy"], doc.get("challenge_ci95"), doc.get("challenge_n")
            )
    challenges = {collection.name(c): challenge_estimate(document(c)) for c in collection.of("challenge")}
    for row in rows:
        row.imagenet_top1 = collection.imagenet_top1.get(row.name, row.imagenet_top1)
        row.challenge = challenges.get(row.name) or row.challenge
    return rows
