"""Shards: ``--shard i/n`` runs (foregrounds with index % n == i) and their merge.

Each shard writes a normal output folder (``challenge.json`` marked with its shard, the log or
the matrix). :func:`merge_shards` checks that the shards share one configuration and cover every
foreground exactly once, then writes one ``challenge.json`` (and, for ``--full``, the merged
matrix, per-background rates and gallery) as if the run had been unsharded. Running shards on a
cluster is the executors' job (:mod:`bgbench.challenge.run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_save_npy
from bgbench.challenge.config import parse_shard as parse_shard  # re-exported (sweeps use it here)
from bgbench.challenge.data import ChallengeFiles, list_challenge_files
from bgbench.challenge.finalize import MATRIX_NAME, finalize
from bgbench.challenge.full import new_matrix
from bgbench.challenge.outputs import JSON_NAME
from bgbench.challenge.result import ChallengeResult
from bgbench.data import In9Tree
from bgbench.data import shard as data_shard
from bgbench.errors import BgbenchError
from bgbench.results.base import reading
from bgbench.textio import read_json, require


def shard_indices(n_foregrounds: int, shard: tuple[int, int] | None) -> list[int]:
    """Foregrounds of shard (i, n): indices f with f % n == i (all when shard is None)."""
    if shard is None:
        return list(range(n_foregrounds))
    i, n = shard
    return data_shard(n_foregrounds, i, n, strided=True).tolist()


def _read_shard(folder: Path) -> dict[str, Any]:
    """The shard's ``challenge.json``, checked for every field the merge reads (one-line errors)."""
    path = folder / JSON_NAME
    if not path.is_file():
        raise BgbenchError(f"no {JSON_NAME} here (did this shard finish?)", folder)
    doc = read_json(path, "shard result")
    config = require(doc, "config", dict, path)
    for key, kind in (("data", dict), ("foregrounds", list), ("forward_passes", dict), ("model", (dict, str)),
                      ("run", dict)):
        require(doc, key, kind, path)
    shard = config.get("shard")
    if shard is not None and not (isinstance(shard, list) and len(shard) == 2
                                  and all(type(v) is int for v in shard)):
        raise BgbenchError(f"config.shard should be [i, n] or null, not {shard!r:.40}", path)
    require(config, "split", str, path, "config")
    require(config, "mode", str, path, "config")
    for i, record in enumerate(doc["foregrounds"]):
        require(record, "index", int, path, f"foregrounds[{i}]")
        require(record, "image", str, path, f"foregrounds[{i}]")
        require(record, "label", int, path, f"foregrounds[{i}]")
        require(record, "fooled", bool, path, f"foregrounds[{i}]")
    skipped = doc["data"].get("skipped_backgrounds", [])
    if not isinstance(skipped, list) or not all(isinstance(s, list) and s for s in skipped):
        raise BgbenchError("data.skipped_backgrounds should be a list of [path, reason]", path)
    return doc


def _files_without_skipped(data: str | Path, split: str, skipped: list) -> ChallengeFiles:
    files = list_challenge_files(data, split)
    drop = {s[0] for s in skipped}
    if drop:
        keep = [i for i, p in enumerate(files.bg_paths) if p not in drop]
        files.bg_paths = [files.bg_paths[i] for i in keep]
        files.bg_labels = files.bg_labels[keep]
    return files


def _check_shards(parts: list[tuple[Path, dict[str, Any]]]) -> tuple[dict[str, Any], int]:
    """The shared configuration (without ``shard``) and n; BgbenchError unless the shards are one
    finished configuration covering 0..n-1 exactly once."""
    first_dir, first = parts[0]
    base = {k: v for k, v in first["config"].items() if k != "shard"}
    sizes = set()
    for folder, part in parts:
        if {k: v for k, v in part["config"].items() if k != "shard"} != base:
            raise BgbenchError(f"shard was run with a different configuration than {first_dir}", folder)
        if not part.get("complete"):
            raise BgbenchError("shard is unfinished (run it again to resume, then merge)", folder)
        if part["config"]["shard"] is None:
            raise BgbenchError("not a shard (run with --shard i/n)", folder)
        sizes.add(part["config"]["shard"][1])
    if len(sizes) != 1:
        raise BgbenchError(f"shards split the foregrounds in different ways (n = {sorted(sizes)})")
    (n,) = sizes
    seen = sorted(part["config"]["shard"][0] for _, part in parts)
    if seen != list(range(n)):
        missing = sorted(set(range(n)) - set(seen))
        raise BgbenchError(f"shards do not cover 0..{n - 1} exactly once (have {seen}; missing {missing})")
    return base, n


def _check_records(records: list[dict], files: ChallengeFiles, data: str | Path) -> None:
    if sorted(r["index"] for r in records) != list(range(len(files.fg_labels))):
        raise BgbenchError(f"shards hold {len(records)} foregrounds, the data has {len(files.fg_labels)}")
    for r in records:
        if files.fg_images[r["index"]] != r["image"]:
            raise BgbenchError(f"shard results name {r['image']} as foreground {r['index']}, but the data "
                               f"has {files.fg_images[r['index']]} there (wrong DATA folder?)", data)


def _merged_matrix(parts: list[tuple[Path, dict[str, Any]]], files: ChallengeFiles, n: int) -> np.ndarray:
    matrix = new_matrix(len(files.fg_labels), len(files.bg_labels), len(files.class_names))
    for folder, part in parts:
        try:
            m = np.load(folder / MATRIX_NAME, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise BgbenchError(f"cannot read the shard's matrix ({exc})", folder / MATRIX_NAME) from None
        if m.shape != matrix.shape:
            raise BgbenchError(f"the shard's matrix has shape {m.shape}, the data needs {matrix.shape}",
                               folder / MATRIX_NAME)
        i = part["config"]["shard"][0]
        matrix[i::n] = m[i::n]
    return matrix


def _merged_passes(parts: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    passes: dict[str, Any] = {}
    for key in ("used", "wasted_in_batch", "batches", "oracle_minimum"):
        values = [part["forward_passes"].get(key) for _, part in parts]
        passes[key] = sum(values) if all(v is not None for v in values) else None
    if passes.get("used") and passes.get("oracle_minimum"):
        passes["ratio_to_oracle"] = passes["used"] / passes["oracle_minimum"]
    return passes


def merge_shards(data: str | Path, shard_dirs: list[str | Path], out: str | Path, *, top_k: int = 5,
                 gallery: bool = True, quiet: bool = True) -> ChallengeResult:
    """Merge finished shard folders of one configuration into ``out``; returns the merged result.

    Raises BgbenchError when a shard is missing or unfinished, configurations differ, or the
    shards do not cover every foreground exactly once."""
    if not shard_dirs:
        raise BgbenchError("no shard folders given to merge")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise BgbenchError(f"top_k must be a whole number of at least 1, got {top_k!r}")
    parts = [(Path(d), _read_shard(Path(d))) for d in sorted(shard_dirs, key=str)]
    base, n = _check_shards(parts)
    first = parts[0][1]
    files = _files_without_skipped(data, base["split"], first["data"].get("skipped_backgrounds", []))
    records = [dict(r, type="foreground") for _, part in parts for r in part["foregrounds"]]
    _check_records(records, files, data)
    matrix = None
    if base["mode"] == "full":
        matrix = _merged_matrix(parts, files, n)
        atomic_save_npy(Path(out) / MATRIX_NAME, matrix)
    run_info = {"executor": "merge", "shards": [str(f) for f, _ in parts],
                "shard_runs": [part["run"] for _, part in parts]}

    tree = In9Tree(data)

    def image_of(b: int) -> np.ndarray:
        return np.asarray(tree.backgrounds(base["split"]).images[b])  # decoded once, on first use

    Path(out).mkdir(parents=True, exist_ok=True)
    with reading("set of challenge shards", parts[0][0].parent):
        return finalize(out, records, files, dict(base, shard=None), first["model"], _merged_passes(parts),
                        run_info, matrix=matrix, n_expected=len(files.fg_labels), top_k=top_k,
                        gallery=gallery, image_of=image_of, quiet=quiet)
