"""The study's rows: one per model from the two sweeps (accuracy with Wilson intervals, BG-Gap,
restricted only_bg_t, challenge) with per-foreground outcomes, and the table's columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bgbench.layout import IMAGE_VARIANTS
from bgbench.study.models import StudyModel

VARIANTS = IMAGE_VARIANTS


def _entry(row: dict[str, Any], variant: str) -> dict[str, Any] | None:
    """``{"value", "ci95", "k", "n"}`` of a sweep row's accuracy on ``variant`` (None if absent)."""
    from bgbench.sweeps.table import variant_entry

    entry = variant_entry(variant)(row)
    return None if entry is None else {**entry, "k": row["correct"][variant]}


def _outcomes(path: Path) -> dict[str, dict[str, bool]]:
    """Variant -> foreground key (``<class>/<stem>``) -> correct, from a model's eval.json."""
    from bgbench.data import foreground_key
    from bgbench.results import load_results

    result = load_results(path)
    return {name: {foreground_key(p): bool(c) for p, c in zip(v.paths, v.correct, strict=True)}
            for name, v in result.variants.items()}


def _challenge(row: dict[str, Any], folder: Path) -> tuple[dict[str, Any] | None, dict[str, bool]]:
    """The row's challenge entry (with shard and bank sizes) and its per-foreground outcomes."""
    from bgbench.data import foreground_key
    from bgbench.sweeps import challenge_outcome

    found = challenge_outcome(folder) if row.get("challenge_accuracy") is not None else None
    if found is None:
        return None, {}
    entry = {"value": row["challenge_accuracy"], "ci95": row["challenge_ci95"], "k": found.n - found.fooled,
             "n": found.n, "n_backgrounds": found.n_backgrounds,
             "n_foregrounds_total": found.n_foregrounds_total, "shard": found.shard}
    return entry, {foreground_key(r["image"]): not r["fooled"] for r in found.records}


def study_rows(models: list[StudyModel], released: Any, restricted: Any, out: Path) -> list[dict[str, Any]]:
    """One row per model with results: accuracies (Wilson intervals), BG-Gap, restricted only_bg_t,
    challenge, from the two sweeps; plus per-foreground outcomes (``_outcomes``) for the pooled checks."""
    rows = []
    for m in models:
        if m.name not in released.names:
            continue
        r = released.row(m.name)
        row: dict[str, Any] = {"model": m.name, "kind": m.kind, "spec": m.spec,
                               "published_top1": m.published_top1,
                               "published_top1_approximate": m.approximate, "map_rule": r["map_rule"],
                               "accuracy": {v: _entry(r, v) for v in VARIANTS if v in r["accuracy"]},
                               "_outcomes": _outcomes(out / "results" / r["results"])}
        row["bg_gap"] = None if r.get("bg_gap") is None else {
            "value": r["bg_gap"], "ci95": r["bg_gap_ci95"], "method": r["bg_gap_method"]}
        row["only_bg_t_restricted"] = None
        if m.name in restricted.names:
            rr = restricted.row(m.name)
            row["only_bg_t_restricted"] = _entry(rr, "only_bg_t")
            outcomes = _outcomes(out / "restricted" / rr["results"])
            row["_outcomes"]["only_bg_t_restricted"] = outcomes["only_bg_t"]
        row["challenge"], outcomes = _challenge(r, out / "results" / m.name / "challenge")
        if outcomes:
            row["_outcomes"]["challenge"] = outcomes
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the table
def table_columns(rows: list[dict[str, Any]]) -> list[Any]:
    """The study table's columns (:class:`bgbench.sweeps.table.Column`), only those some row has."""
    from bgbench.sweeps.table import SHORT, Column

    def top1(r: dict[str, Any]) -> str:
        return "-" if r["published_top1"] is None else (
            f"{r['published_top1']:.1f}" + ("~" if r["published_top1_approximate"] else ""))

    cols = [Column("model", "model", lambda r: r["model"], interval=False, left=True),
            Column("kind", "kind", lambda r: r["kind"], interval=False, left=True),
            Column("spec", "", lambda r: r["spec"], interval=False),
            Column("published_top1", "top-1", lambda r: r["published_top1"], interval=False, show=top1)]
    for v in VARIANTS:
        if any(v in r["accuracy"] for r in rows):
            cols.append(Column(v, SHORT[v], lambda r, v=v: r["accuracy"].get(v)))
        if v == "only_bg_t" and any(r["only_bg_t_restricted"] for r in rows):
            cols.append(Column("only_bg_t_restricted", "bg_t/370", lambda r: r["only_bg_t_restricted"]))
    if any(r["bg_gap"] for r in rows):
        cols.append(Column("bg_gap", "BG-Gap", lambda r: r["bg_gap"], signed=True))
    if any(r["challenge"] for r in rows):
        cols.append(Column("challenge", "challenge", lambda r: r["challenge"]))
    return cols


def table_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the per-foreground outcomes (what table.json holds)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
