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

from bgbench.challenge.config import ChallengeConfig
from bgbench.challenge.result import ChallengeResult
from bgbench.challenge.serial import run_serial
from bgbench.challenge.shard import merge_shards
from bgbench.config import ModelArg, config_of
from bgbench.errors import BgbenchError
from bgbench.executors import check_executor, open_executor
from bgbench.options import DEFAULT_MODEL, ModelOptions
from bgbench.predict import ReadyModel


def run_challenge(data: str | Path, model: ModelArg = DEFAULT_MODEL, config: ChallengeConfig | None = None,
                  *, out: str | Path | None = None, quiet: bool = False) -> ChallengeResult:
    """Run the adversarial-backgrounds challenge of ``model`` on the tree ``data``; returns the
    result (its document is challenge.json, also written to ``out`` when given).

    ``model``: a spec, :class:`~bgbench.options.ModelOptions`, ready Classifier or
    :class:`~bgbench.predict.ReadyModel` (as for :func:`bgbench.evaluate`). ``config``: a
    :class:`~bgbench.challenge.config.ChallengeConfig` (None: the defaults: early-exit search of
    every foreground of ``val``, serially); with ``executor="ray"`` its ``workers`` shards run as Ray
    tasks into ``out/shard-i-of-n`` and are merged into ``out`` (which is then required).
    ``quiet``: no progress bars. Raises BgbenchError for bad input before any model work.
    """
    c = config_of(config, ChallengeConfig)
    if c.executor == "serial":
        return run_serial(data, model, c, out=out, quiet=quiet)
    if out is None:
        raise BgbenchError("--executor ray needs --out (shards write there before the merge)")
    return run_sharded(data, model, c, out=out, quiet=quiet)


def _shard_task(task: tuple[str, ModelArg, ChallengeConfig, str]) -> str:
    """One task: run one shard (``config.shard``) serially into ``folder`` (module-level, for Ray).

    ``model`` is a ModelOptions (the task loads the model itself) or a ReadyModel (pickled)."""
    import torch

    data, model, config, folder = task
    cpus = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if cpus > 0:
        torch.set_num_threads(cpus)
    run_serial(data, model, config, out=folder, quiet=True)
    return folder


def _portable(model: ModelArg) -> ModelOptions | ReadyModel:
    """What a task carries: a spec becomes ModelOptions, a bare Classifier a ReadyModel."""
    if model is None or isinstance(model, str):
        return ModelOptions.of(model)
    if isinstance(model, (ModelOptions, ReadyModel)):
        return model
    from bgbench.models.base import Classifier

    if isinstance(model, Classifier):
        return ReadyModel(model)
    raise BgbenchError(f"model must be a spec string, ModelOptions, a Classifier or a ReadyModel, "
                       f"got {type(model).__name__}")


def run_sharded(data: str | Path, model: ModelArg, config: ChallengeConfig, *, out: str | Path,
                quiet: bool = False) -> ChallengeResult:
    """Run n shards (``config.workers``; default the cluster's GPUs, else 2) as tasks of the
    ``config.executor`` ("ray") into ``out/shard-i-of-n``, then merge them into ``out``. ``model``: a
    spec or ModelOptions (each task loads the model) or a ready Classifier / ReadyModel (pickled to
    the tasks)."""
    if config.executor != "ray":
        raise BgbenchError(f"run_sharded runs shards on --executor ray, not {config.executor!r}")
    check_executor(config.executor, config.workers or 1)  # Ray importable
    task_model = _portable(model)
    workers = config.workers
    with open_executor(config.executor, workers or 2, quiet=quiet, gpu_tasks=True) as pool:
        n = workers or getattr(pool, "cluster_gpus", 0) or 2
        folders = [str(Path(out) / f"shard-{i}-of-{n}") for i in range(n)]
        tasks = [(str(data), task_model, replace(config, executor="serial", workers=None, shard=(i, n),
                                                 gallery=False), folders[i]) for i in range(n)]
        pool.map(_shard_task, tasks, desc="challenge shards")
    return merge_shards(data, folders, out, top_k=config.top_k, gallery=config.gallery, quiet=quiet)
