"""Which sections a collection of results gets, in reading order (pure)."""

from __future__ import annotations

from typing import Any

from bgbench.plotting import colour
from bgbench.reporting.collect import Collection, document
from bgbench.reporting.rows import model_rows
from bgbench.reporting.sections import (
    Section,
    accuracy_section,
    bg_gap_section,
    challenge_section,
    dataset_section,
    progress_section,
    summary_section,
)
from bgbench.reporting.sections_groups import groups_section
from bgbench.reporting.sections_provenance import provenance_section
from bgbench.reporting.sections_runs import probe_section, saliency_section, training_section


def _docs(collection: Collection, kind: str) -> list[tuple[dict[str, Any], Any]]:
    return [
        (document(r), None if r.source_path is None else r.source_path.parent) for r in collection.of(kind)
    ]


def _builds(collection: Collection) -> list[dict[str, Any]]:
    """One document per build folder (a build read twice, e.g. through two evaluations, counts once)."""
    seen, docs = set(), []
    for result in collection.of("build"):
        doc = document(result)
        key = (str(doc.get("out")), doc.get("split"))
        if key not in seen:
            seen.add(key)
            docs.append(doc)
    return docs


def compose(collection: Collection, report_command: str | None, version: str) -> list[Section]:
    """The sections for ``collection``: key figures, dataset, accuracy, BG-Gap, groups, ImageNet progress,
    challenge, training, saliency, probes (each only when the results hold it), then provenance."""
    rows = model_rows(collection)
    challenges = [
        (collection.name(r), document(r), None if r.source_path is None else r.source_path.parent)
        for r in collection.of("challenge")
    ]
    trains = [(collection.name(r), document(r)) for r in collection.of("train")]
    sections = [
        summary_section(rows, len(collection.all)),
        dataset_section(_builds(collection)),
        accuracy_section(rows),
        bg_gap_section(rows),
        groups_section([(collection.name(r), document(r)) for r in collection.of("eval")]),
        progress_section(rows, [document(s) for s in collection.of("sweep")]),
        challenge_section(challenges),
        training_section(trains),
        saliency_section(_docs(collection, "saliency")),
        probe_section(_docs(collection, "probe")),
    ]
    entries = [(r.kind, collection.name(r), document(r), r.source_path) for r in collection.all]
    sections.append(provenance_section(entries, report_command, version))
    sections = [s for s in sections if s is not None]
    names = [r.name for r in rows] + [name for name, _, _ in challenges] + [name for name, _ in trains]
    palette = {name: colour(i) for i, name in enumerate(dict.fromkeys(names))}
    for section in sections:
        for spec in section.figures:
            spec.data["palette"] = palette
    return sections
