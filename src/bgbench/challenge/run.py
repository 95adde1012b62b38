"""``run_challenge``: the executors above the challenge's work.

``serial`` runs :func:`~bgbench.challenge.serial.run_serial` here; ``ray`` runs n shards as tasks of
:func:`bgbench.executors.open_executor` (one GPU each when the cluster has GPUs, else one CPU) into
``OUT/shard-i-of-n`` and merges them into ``OUT`` with :func:`~bgbench.challenge.shard.merge_shards`.
The Ray cluster is the one ``$RAY_ADDRESS`` names, an already initialised one, else a local one.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from bgbench.challenge.result import ChallengeResult
from bgbench.challenge.serial import ChallengeSettings, run_serial
from bgbench.challenge.shard import merge_shards, parse_shard
from bgbench.errors import BgbenchError
from bgbench.executors import check_executor, open_executor
from bgbench.options import DEFAULT_MODEL, ModelOptions

CHALLENGE_EXECUTORS = ("serial", "ray")


def run_challenge(data: str | Path, model: Any = DEFAULT_MODEL, *, out: str | Path | None = None,
                  full: bool = False, strict: bool = False, shard: str | tuple[int, int] | None = None,
                  executor: str = "serial", workers: int | None = None, split: str = "val",
                  batch_size: int | None = None, order: str = "adaptive", top_k: int = 5,
                  gallery: bool = True, cache: bool = True, cache_dir: str | Path | None = None,
                  checkpoint_seconds: float = 60.0, quiet: bool = False,
                  **model_options: Any) -> ChallengeResult:
    """Run the adversarial-backgrounds challenge of ``model`` on the tree ``data``; returns the
    result (its document is challenge.json, also written to ``out`` when given).

    ``model``/``model_options``: as for :func:`bgbench.evaluate` (a spec, ModelOptions or a
    Classifier; ModelOptions fields as keywords). ``full``: evaluate every (foreground, background)
    pair; ``strict``: search exactly for the stricter reading too; ``shard`` ("i/n"): only
    foregrounds with index % n == i; ``workers``: how many shards run at once, so with
    ``executor`` "ray" the number of shards (default: the cluster's GPUs, else 2), run as Ray tasks
    and merged into ``out``. ``batch_size`` defaults to 256 on a GPU, 64 on
    the CPU. ``order``: "adaptive" (most fooling backgrounds first) or "folder".
    Raises BgbenchError for bad input before any model work.
    """
    if executor not in CHALLENGE_EXECUTORS:
        raise BgbenchError(f"unknown --executor {executor!r} (expected serial or ray)")
    settings = ChallengeSettings(full=full, strict=strict, split=split, batch_size=batch_size, order=order,
                                 top_k=top_k, gallery=gallery, cache=cache, cache_dir=cache_dir,
                                 checkpoint_seconds=checkpoint_seconds, quiet=quiet)
    shard_t = parse_shard(shard)
    if executor == "serial":
        check_executor("serial", workers)  # --workers N with serial would be ignored: refused
        return run_serial(data, model, settings, out=out, shard=shard_t, **model_options)
    if shard_t is not None:
        raise BgbenchError("--shard and --executor ray exclude each other (ray makes the shards)")
    if out is None:
        raise BgbenchError("--executor ray needs --out (shards write there before the merge)")
    if isinstance(model, (str, ModelOptions)):  # options travel; each task loads the model itself
        model, model_options = ModelOptions.of(model, **model_options), {}
    return run_sharded(data, model, settings, out=out, workers=workers, **model_options)


def _shard_task(task: tuple[str, Any, dict[str, Any], ChallengeSettings, int, int, str]) -> str:
    """One task: run shard i/n serially into ``folder`` (a module-level function, for Ray)."""
    import torch

    data, model, model_options, settings, i, n, folder = task
    cpus = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if cpus > 0:
        torch.set_num_threads(cpus)
    run_serial(data, model, settings, out=folder, shard=(i, n), **model_options)
    return folder


def run_sharded(data: str | Path, model: Any, settings: ChallengeSettings, *, out: str | Path,
                workers: int | None = None, kind: str = "ray", **model_options: Any) -> ChallengeResult:
    """Run n shards (``workers``; default the cluster's GPUs, else 2) as tasks of the ``kind``
    executor into ``out/shard-i-of-n``, then merge them into ``out``. ``model``: ModelOptions (each
    task loads the model) or a ready Classifier (pickled to the tasks)."""
    if workers is not None and workers < 1:
        raise BgbenchError(f"--workers must be at least 1, got {workers}")
    check_executor(kind, workers or 1)
    shard_settings = replace(settings, gallery=False, quiet=True)
    with open_executor(kind, workers or 2, quiet=settings.quiet, gpu_tasks=True) as pool:
        n = workers or getattr(pool, "cluster_gpus", 0) or 2
        folders = [str(Path(out) / f"shard-{i}-of-{n}") for i in range(n)]
        tasks = [(str(data), model, model_options, shard_settings, i, n, folders[i]) for i in range(n)]
        pool.map(_shard_task, tasks, desc="challenge shards")
    return merge_shards(data, folders, out, top_k=settings.top_k, gallery=settings.gallery,
                        quiet=settings.quiet)
