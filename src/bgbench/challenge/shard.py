"""Shards: ``--shard i/n`` runs (foregrounds with index % n == i), their merge, and the Ray executor.

Each shard writes a normal output folder (``challenge.json`` marked with its shard, the log or
the matrix). :func:`merge_shards` checks that the shards share one configuration and cover every
foreground exactly once, then writes one ``challenge.json`` (and, for ``--full``, the merged
matrix, per-background rates and gallery) as if the run had been unsharded.
:func:`run_ray` runs n shards as Ray tasks (``ray.init()`` locally unless ``RAY_ADDRESS`` or an
already initialised Ray says otherwise), one GPU each when the cluster has GPUs, else one CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_save_npy
from bgbench.challenge.data import ChallengeFiles, list_challenge_files
from bgbench.challenge.full import new_matrix
from bgbench.challenge.results import JSON_NAME
from bgbench.errors import BgbenchError


def _read_shard(folder: Path) -> dict[str, Any]:
    path = folder / JSON_NAME
    if not path.is_file():
        raise BgbenchError(f"no {JSON_NAME} here (did this shard finish?)", folder)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BgbenchError(f"cannot parse ({exc})", path) from exc


def _files_without_skipped(data: str | Path, split: str, skipped: list) -> ChallengeFiles:
    files = list_challenge_files(data, split)
    drop = {s[0] for s in skipped}
    if drop:
        keep = [i for i, p in enumerate(files.bg_paths) if p not in drop]
        files.bg_paths = [files.bg_paths[i] for i in keep]
        files.bg_labels = files.bg_labels[keep]
    return files


def merge_shards(data: str | Path, shard_dirs: list[str | Path], out: str | Path, *, top_k: int = 5,
                 gallery: bool = True, quiet: bool = True) -> dict[str, Any]:
    """Merge finished shard folders of one configuration into ``out``; returns challenge.json content.

    Raises BgbenchError when a shard is missing or unfinished, configurations differ, or the
    shards do not cover every foreground exactly once."""
    from bgbench.challenge.run import MATRIX_NAME, finalize

    if not shard_dirs:
        raise BgbenchError("no shard folders given to merge")
    parts = [(Path(d), _read_shard(Path(d))) for d in sorted(shard_dirs, key=str)]
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
    files = _files_without_skipped(data, base["split"], first["data"].get("skipped_backgrounds", []))
    records = [dict(r, type="foreground") for _, part in parts for r in part["foregrounds"]]
    if sorted(r["index"] for r in records) != list(range(len(files.fg_labels))):
        raise BgbenchError(f"shards hold {len(records)} foregrounds, the data has {len(files.fg_labels)}")
    for r in records:
        if files.fg_images[r["index"]] != r["image"]:
            raise BgbenchError(f"shard results name {r['image']} as foreground {r['index']}, but the data "
                               f"has {files.fg_images[r['index']]} there (wrong DATA folder?)", data)
    config = dict(base, shard=None)
    matrix = None
    if base["mode"] == "full":
        matrix = new_matrix(len(files.fg_labels), len(files.bg_labels), len(files.class_names))
        for folder, part in parts:
            m = np.load(folder / MATRIX_NAME, allow_pickle=False)
            i = part["config"]["shard"][0]
            matrix[i::n] = m[i::n]
        atomic_save_npy(Path(out) / MATRIX_NAME, matrix)
    passes: dict[str, Any] = {}
    for key in ("used", "wasted_in_batch", "batches", "oracle_minimum"):
        values = [part["forward_passes"].get(key) for _, part in parts]
        passes[key] = sum(values) if all(v is not None for v in values) else None
    if passes.get("used") and passes.get("oracle_minimum"):
        passes["ratio_to_oracle"] = passes["used"] / passes["oracle_minimum"]
    run_info = {"executor": "merge", "shards": [str(f) for f, _ in parts],
                "shard_runs": [part["run"] for _, part in parts]}

    def image_of(b: int) -> np.ndarray:
        from bgbench.dataset import load_variant

        if not hasattr(image_of, "bank"):
            image_of.bank = load_variant(data, "only_bg_t", base["split"]).images  # type: ignore[attr-defined]
        return np.asarray(image_of.bank[b])  # type: ignore[attr-defined]

    Path(out).mkdir(parents=True, exist_ok=True)
    summary = finalize(out, records, files, config, first["model"], passes, run_info, matrix=matrix,
                       n_expected=len(files.fg_labels), top_k=top_k, gallery=gallery, image_of=image_of,
                       quiet=quiet)
    return summary


def _shard_task(data: str, model: Any, i: int, n: int, folder: str, options: dict[str, Any]) -> str:
    """One Ray task: run shard i/n serially into ``folder``."""
    import torch

    from bgbench.challenge.run import run_challenge

    cpus = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if cpus > 0:
        torch.set_num_threads(cpus)
    run_challenge(data, model, shard=(i, n), executor="serial", **dict(options, out=folder, quiet=True))
    return folder


def run_ray(data: str | Path, model: Any, *, workers: int | None = None, out: str | Path,
            **options: Any) -> dict[str, Any]:
    """Run ``workers`` shards as Ray tasks into ``out/shard-i-of-n`` and merge them into ``out``.

    ``workers`` defaults to the cluster's GPU count, else 2. Each task asks for one GPU when the
    cluster has any (the model then runs on it), else for one CPU."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is an optional extra
        raise BgbenchError("--executor ray needs Ray (pip install 'bgbench[ray]')") from exc
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({} if address else {"num_cpus": max(1, workers or 2)}))
    gpus = int(ray.cluster_resources().get("GPU", 0))
    n = workers or (gpus if gpus else 2)
    if n < 1:
        raise BgbenchError(f"--workers must be at least 1, got {n}")
    out = Path(out)
    folders = [str(out / f"shard-{i}-of-{n}") for i in range(n)]
    task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1)(_shard_task)
    options = {k: v for k, v in options.items() if k not in ("gallery", "top_k")}
    refs = [task.remote(str(data), model, i, n, folders[i], options) for i in range(n)]
    ray.get(refs)
    return merge_shards(data, folders, out, quiet=options.get("quiet", False))
