"""Gather the results a report covers and organize them by kind.

:func:`gather` turns the inputs (result files, output folders, :class:`~bgbench.results.Result`
objects) into results: a file is read with :func:`bgbench.load_results`; a folder is walked (its
sub-folders too) for every registered result file name, skipping dataset trees, caches and hidden
folders. Every problem (a path without
any result, a corrupt JSON) is a one-line :class:`~bgbench.errors.BgbenchError` naming the file,
raised before the report writes anything.

:func:`organize` files the results by kind (a :class:`Collection`), pulls in what they point to
(the per-model results folders of a sweep, a training run's evaluation, the build of an evaluated
tree) and gives every evaluation and challenge the name it is shown under.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from bgbench.errors import BgbenchError
from bgbench.layout import VARIANTS
from bgbench.results import Result, check_renamed, load_results, result_filenames

#: kinds that are not inputs of a report (a report's own document)
IGNORED_KINDS = frozenset({"report"})
#: folder names never searched: dataset trees, caches, resumable partial outputs
SKIP_DIRS = frozenset({*VARIANTS, "cache", "partial", "__pycache__"})


def document(result: Result) -> dict[str, Any]:
    """The result's JSON document, made once per result (an evaluation's without its per-image
    predictions, which no section needs)."""
    cached = result.__dict__.get("_report_doc")
    if cached is None:
        cached = result.to_json(predictions=False) if result.kind == "eval" else result.to_json()
        result.__dict__["_report_doc"] = cached
    return cached


def _walk(folder: Path) -> list[Path]:
    """Every result file under ``folder`` (sorted, dataset trees and hidden folders skipped)."""
    patterns = list(result_filenames().values())
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        check_renamed(Path(here))  # an earlier bgbench's results.json: say to rename it
        found.extend(
            Path(here) / name
            for name in sorted(files)
            if any(fnmatchcase(name, pattern) for pattern in patterns)
        )
    return found


def gather(inputs: list[str | Path | Result]) -> list[Result]:
    """The results of ``inputs`` (each read once, in input order, a report's own document left out)."""
    results: list[Result] = []
    seen: set[Path] = set()
    for item in inputs:
        if isinstance(item, Result):
            loaded = [item]
        else:
            path = Path(item).absolute()  # folders a document names (a build's out) become absolute
            if path.is_dir():
                files = _walk(path)
                if not files:
                    names = ", ".join(sorted(set(result_filenames().values())))
                    raise BgbenchError(
                        f"no bgbench result in this folder or below (looked for {names})", path
                    )
                loaded = [load_results(p) for p in files]
            else:
                loaded = [load_results(path)]
        for result in loaded:
            where = result.source_path.resolve() if result.source_path is not None else None
            if result.kind in IGNORED_KINDS or (where is not None and where in seen):
                continue
            if where is not None:
                seen.add(where)
            results.append(result)
    if not results:
        raise BgbenchError("nothing to report: no result among the inputs")
    return results


@dataclass
class Collection:
    """The results of one report by kind (documents, in gathering order) and the names shown.

    ``names`` maps ``id(result)`` of evaluations and challenges to their display name;
    ``imagenet_top1`` maps an evaluation's name to the published top-1 (%) a sweep gave it."""

    by_kind: dict[str, list[Result]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    imagenet_top1: dict[str, float] = field(default_factory=dict)
    #: sweep rows without a results folder on disk: (sweep, row)
    orphan_rows: list[tuple[Result, dict[str, Any]]] = field(default_factory=list)

    def of(self, kind: str) -> list[Result]:
        return self.by_kind.get(kind, [])

    def add(self, result: Result) -> None:
        self.by_kind.setdefault(result.kind, []).append(result)

    def name(self, result: Result) -> str:
        return self.names.get(id(result), _folder_name(result))

    @property
    def all(self) -> list[Result]:
        return [r for results in self.by_kind.values() for r in results]


def _folder(result: Result) -> Path | None:
    return None if result.source_path is None else result.source_path.resolve().parent


def _folder_name(result: Result) -> str:
    folder = _folder(result)
    if folder is None:
        doc = document(result)
        model = doc.get("model")
        return str(model.get("spec") if isinstance(model, dict) else model or result.kind)
    return folder.name


def _load_linked(collection: Collection, path: Path, loaded: dict[Path, Result]) -> Result | None:
    """The result at ``path`` (a folder or file), from ``loaded`` or read now; None when absent (a
    folder holding an earlier bgbench's ``results.json`` is a one-line error saying to rename it)."""
    if path.is_dir():
        check_renamed(path)
    try:
        key = path.resolve()
        for candidate in (key, key / "eval.json", key / "challenge.json", key / "build.json"):
            if candidate in loaded:
                return loaded[candidate]
        if not path.exists():
            return None
        result = load_results(path)
    except BgbenchError:
        return None
    loaded[result.source_path.resolve()] = result
    collection.add(result)
    return result


def organize(results: list[Result]) -> Collection:
    """File ``results`` by kind, follow their links, and name the evaluations and challenges."""
    collection = Collection()
    loaded: dict[Path, Result] = {}
    for result in results:
        collection.add(result)
        if result.source_path is not None:
            loaded[result.source_path.resolve()] = result
    _link_sweeps(collection, loaded)
    _link_trains(collection, loaded)
    _link_builds(collection, loaded)
    _name_evals(collection)
    _name_challenges(collection)
    _order(collection)
    return collection


def _order(collection: Collection) -> None:
    """Evaluations, challenges and training runs in the order a demo or sweep lists its models
    (the rest after them, in gathering order)."""
    listed = [row.get("model") for demo in collection.of("demo") for row in document(demo).get("models", [])]
    for sweep in collection.of("sweep"):
        listed += [row.get("name") for row in document(sweep).get("models", [])]
    rank = {name: i for i, name in enumerate(dict.fromkeys(listed))}
    for kind in ("eval", "challenge", "train"):
        if kind in collection.by_kind:
            collection.by_kind[kind].sort(key=lambda r: _rank(rank, collection.name(r)))


def _rank(rank: dict[str, int], name: str) -> tuple[int, int]:
    """Listed names first in their order; a suffixed twin (``name (restricted map)``) after them."""
    base = name.split(" (", 1)[0].split(" [", 1)[0]
    return (0 if name in rank else 1, rank.get(name, rank.get(base, len(rank))))


def _link_sweeps(collection: Collection, loaded: dict[Path, Result]) -> None:
    for sweep in collection.of("sweep"):
        base = _folder(sweep)
        for row in document(sweep).get("models", []):
            evaluation = (
                None
                if base is None
                else _load_linked(collection, base / row.get("results", row["name"]), loaded)
            )
            for relative in row.get("challenge") or []:
                if base is not None:
                    _load_linked(collection, base / relative, loaded)
            if evaluation is None:
                collection.orphan_rows.append((sweep, row))
                continue
            collection.names[id(evaluation)] = row["name"]
            if row.get("imagenet_top1") is not None:
                collection.imagenet_top1[row["name"]] = float(row["imagenet_top1"])


def _link_trains(collection: Collection, loaded: dict[Path, Result]) -> None:
    for run in collection.of("train"):
        eval_dir = document(run).get("eval_dir")
        evaluation = None if not eval_dir else _load_linked(collection, Path(eval_dir), loaded)
        if evaluation is not None and id(evaluation) not in collection.names and _folder(run) is not None:
            collection.names[id(evaluation)] = _folder(run).name


def _link_builds(collection: Collection, loaded: dict[Path, Result]) -> None:
    """The build.json of every evaluated or challenged tree (for the dataset section)."""
    for result in [*collection.of("eval"), *collection.of("challenge")]:
        root = (document(result).get("data") or {}).get("root")
        if root and (Path(root) / "build.json").is_file():
            _load_linked(collection, Path(root) / "build.json", loaded)


def _name_evals(collection: Collection) -> None:
    evals = collection.of("eval")
    for result in evals:
        collection.names.setdefault(id(result), _folder_name(result))
    by_name: dict[str, list[Result]] = {}
    for result in evals:
        by_name.setdefault(collection.names[id(result)], []).append(result)
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        for result in group:  # one model evaluated twice: tell the runs apart by map rule, else folder
            rule = document(result).get("map_rule")
            suffix = f" ({rule} map)" if rule and rule != "released" else ""
            collection.names[id(result)] = name + suffix
        if len({collection.names[id(r)] for r in group}) < len(group):
            for result in group:
                parent = _folder(result).parent.name if _folder(result) is not None else "?"
                collection.names[id(result)] = f"{name} [{parent}]"


def _name_challenges(collection: Collection) -> None:
    """A challenge in ``<model>/challenge/`` (a sweep's layout, shards one level deeper) is named
    after its model folder (the evaluation's name when one lies there), else after its own folder."""
    eval_names = {
        _folder(r): collection.names[id(r)] for r in collection.of("eval") if _folder(r) is not None
    }
    for result in collection.of("challenge"):
        folder = _folder(result)
        if folder is None:
            continue
        owner = folder
        if owner.name.startswith("shard-"):
            owner = owner.parent
        if owner.name == "challenge":
            owner = owner.parent
        name = eval_names.get(owner, owner.name)
        shard = document(result).get("shard")
        collection.names[id(result)] = name + (f" (shard {shard[0]}/{shard[1]})" if shard else "")
