"""The report's group-analysis section: per model a foreground x background heat map of one mixed
variant's group accuracies, and a table of the worst groups and hardest-pulling backgrounds across
models (pure: documents in, :class:`~bgbench.reporting.sections.Section` out).

Each model shows one table, the most informative it has: mixed_rand over its ``--draws`` composites
(every foreground on K backgrounds), else the built mixed_rand (one background per foreground,
known from the build's manifest), else mixed_next / mixed_same the same way.
"""

from __future__ import annotations

from typing import Any

from bgbench.reporting.sections import FigureSpec, Section, Table, Text, _slug
from bgbench.results.base import pct, pct_ci

#: which group table a model shows, in order of preference: (where, variant)
PREFERENCE = (("draws", "mixed_rand"), ("built", "mixed_rand"), ("draws", "mixed_next"),
              ("built", "mixed_next"), ("draws", "mixed_same"), ("built", "mixed_same"))


def chosen_table(doc: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(label, group-table document) a model shows, or None when its results hold no group table."""
    built = doc.get("groups") or {}
    draws = doc.get("draws") or {}
    for where, variant in PREFERENCE:
        table = (draws.get("groups") or {}).get(variant) if where == "draws" else built.get(variant)
        if table:
            label = f"{variant}, {draws.get('k')} draws" if where == "draws" else f"{variant} (built)"
            return label, table
    return None


def _short(name: str) -> str:
    return name.split("_", 1)[-1]


def _hardest_pull(table: dict[str, Any]) -> dict[str, Any] | None:
    """The background class that pulls the largest share of other-class foregrounds to its own class
    (among those backing at least ``min_count`` of them)."""
    eligible = [p for p in table.get("pull_by_background", []) if p["n"] >= table["min_count"] and p["value"]]
    return max(eligible, key=lambda p: (p["value"], p["n"]), default=None)


def _worst_row(name: str, label: str, table: dict[str, Any]) -> list[str]:
    worst, pull = table.get("worst"), _hardest_pull(table)
    share, chance = table.get("error_to_background_share"), table.get("error_to_background_chance")
    return [
        name,
        label,
        "-" if worst is None else f"{_short(worst['foreground'])} on {_short(worst['background'])}",
        "-" if worst is None else pct_ci(worst["value"], worst["ci95"]),
        "-" if worst is None else f"{worst['k']}/{worst['n']}",
        "-" if share is None or not chance else f"{pct(share, 0)} (even {pct(chance, 0)})",
        "-" if pull is None else f"{_short(pull['background'])} {pct_ci(pull['value'], pull['ci95'])}",
    ]


def groups_section(evals: list[tuple[str, dict[str, Any]]]) -> Section | None:
    """Heat map per model and the worst groups across models; None when no evaluation has groups."""
    shown = [(name, *chosen) for name, doc in evals if (chosen := chosen_table(doc)) is not None]
    if not shown:
        return None
    items: list[Any] = [
        Text(
            "Every mixed image pairs a foreground class (its label) with a background class (its donor's). "
            "Grouping the images by that pair shows which backgrounds pull which objects away. The worst "
            "group is the lowest accuracy among groups with enough images (at least the table's minimum "
            "count); its interval is Wilson's for one background per foreground, and a bootstrap over "
            "foregrounds for donor draws. Choosing the minimum of many groups biases it downwards."
        )
    ]
    for name, label, table in shown:
        data = {"name": name, "label": label, "class_names": _classes(evals, name), **table}
        caption = (
            f"{name}: accuracy per group on {label} (rows: foreground class, columns: background class; "
            f"hatched: fewer than {table['min_count']} images; outlined: the worst group)."
        )
        items.append(FigureSpec(f"groups_{_slug(name)}", "group_heatmap", data, caption))
    header = ["model", "table", "worst group", "accuracy", "k/n", "errors to bg class", "hardest pull"]
    items.append(
        Table(
            header,
            [_worst_row(name, label, table) for name, label, table in shown],
            "Worst group per model; errors to bg class: share of errors that predict the background's "
            "class (even: if errors spread evenly over the other classes); hardest pull: the background "
            "class whose other-class foregrounds are most often predicted as it.",
        )
    )
    return Section("groups", "Foreground x background groups", items)


def _classes(evals: list[tuple[str, dict[str, Any]]], name: str) -> list[str]:
    return next(list(doc.get("class_names") or []) for n, doc in evals if n == name)
