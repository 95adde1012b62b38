"""``sweep``: every model of a models file on every variant (and the challenge) -> one table.

Per model (:func:`run_model`, a module-level task so the executors can ship it to other processes
or Ray workers): load it once, :func:`bgbench.evaluate` into ``OUT/<name>/`` (eval.json), and,
when asked, :func:`bgbench.run_challenge` into ``OUT/<name>/challenge/`` (or one shard of it).

Resuming is the library's own: evaluate saves each variant's predictions under its resume key
(:func:`bgbench.eval.run.resume_key`: model identity with the weights' sha256, label map, data
fingerprint, split, batch size, device) and reuses them only when the key matches, so a finished
model runs no inference again while a changed model file or dataset is evaluated afresh. The
challenge folder records the same key (``sweep-key.json``, :func:`bgbench.resume.keep_or_clear`); a
folder written under another key is cleared and run again, one with the same key resumes from the
challenge's own log. At the end the rows are gathered from the files (:mod:`bgbench.sweeps.gather`),
whatever ran them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgbench.config import config_of
from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.sweeps.config import SweepConfig, SweepModel, sweep_models
from bgbench.sweeps.gather import CHALLENGE_DIR, collect, complete_challenge, shard_folder
from bgbench.sweeps.result import SweepResult

KEY_FILE = "sweep-key.json"


@dataclass(frozen=True)
class ModelTask:
    """One model's work: ``data`` root, the model, its full options, ``folder`` (``OUT/<name>``),
    whether to challenge it, the sweep's :class:`SweepConfig` and ``quiet``. Picklable (it travels
    to workers)."""

    data: str
    model: SweepModel
    options: ModelOptions
    folder: str
    challenge: bool
    config: SweepConfig
    quiet: bool = False


def run_model(task: ModelTask) -> dict[str, Any]:
    """Evaluate (resuming) and, when asked, challenge one model; returns what ran:
    ``{"name", "eval_s", "resumed", "challenge_s", "challenge_resumed"}``."""
    from bgbench.eval import evaluate
    from bgbench.predict import ReadyModel, load_model

    t0 = time.perf_counter()
    clf, opts = load_model(task.options)
    labels = {"map_rule": opts.map_rule, "class_map": opts.class_map}
    ready = ReadyModel(clf, map_rule=opts.map_rule, class_map=opts.class_map)
    result = evaluate(task.data, ready, task.config.eval_config(), out=task.folder, quiet=task.quiet)
    done = {"name": task.model.name, "eval_s": round(time.perf_counter() - t0, 3),
            "resumed": all(v.resumed for v in result.variants.values())}
    if task.challenge:
        t0 = time.perf_counter()
        done["challenge_resumed"] = _challenge(task, clf, labels, result)
        done["challenge_s"] = round(time.perf_counter() - t0, 3)
    return done


def _challenge(task: ModelTask, clf: Any, labels: dict[str, Any], result: Any) -> bool:
    """Run (or resume) the challenge of one model into ``folder/challenge`` (one shard of it with
    ``challenge_shard``; all shards of n complete -> merged into the folder). Returns True when a
    complete earlier run was reused."""
    from bgbench.challenge import ChallengeConfig, merge_shards, run_challenge
    from bgbench.eval.run import resume_key
    from bgbench.predict import ReadyModel
    from bgbench.resume import keep_or_clear

    s = task.config
    folder = Path(task.folder) / CHALLENGE_DIR
    key = resume_key(result.model_info, result.label_map, result.data_fingerprint, s.split, s.batch_size,
                     result.device)
    valid = keep_or_clear(folder, key, KEY_FILE)  # another model's, label map's or dataset's: cleared
    target = folder if s.challenge_shard is None else shard_folder(folder, s.challenge_shard)
    done = valid and (_done(target) or _done(folder))
    if not done:
        config = ChallengeConfig(split=s.split, shard=s.challenge_shard, cache=s.cache)
        run_challenge(task.data, ReadyModel(clf, **labels), config, out=target, quiet=task.quiet)
    if s.challenge_shard is not None and not _done(folder):
        n = s.challenge_shard[1]
        shards = [shard_folder(folder, (i, n)) for i in range(n)]
        if all(_done(f) for f in shards):
            merge_shards(task.data, shards, folder, gallery=False, quiet=True)
    return done


def _done(folder: Path) -> bool:
    return complete_challenge(folder) is not None


def _check_inputs(data: Path, models: list[SweepModel], config: SweepConfig, challenge_any: bool) -> None:
    """BgbenchError for a missing model file or a bad data folder (or variant list) before any
    model work."""
    from bgbench.data import In9Tree

    for m in models:
        missing = [f for f in m.files() if not f.is_file()]
        if missing:
            raise BgbenchError(f"model {m.name!r} ({m.spec}): file not found", missing[0])
    In9Tree(data).variants(config.split, None if config.variants is None else list(config.variants))
    if challenge_any:
        from bgbench.challenge.data import list_challenge_files

        list_challenge_files(data, config.split)


def sweep(models: Any, data: str | Path, config: SweepConfig | None = None, *, out: str | Path,
          quiet: bool = False) -> SweepResult:
    """Evaluate every model of ``models`` on every variant of ``data`` (and challenge it), resuming
    finished work; returns the :class:`SweepResult`, also written to ``out`` (sweep.json, sweep.csv,
    sweep.md beside the models' folders ``out/<name>/``, each with the model's eval.json).

    ``models``: a models TOML file (:mod:`bgbench.sweeps.config`) or a list of dicts / ModelOptions /
    spec strings. ``config``: the :class:`SweepConfig` (None: the defaults): whether to challenge
    (a model's ``challenge = true/false`` wins) and which shard, the executor and its workers, the
    evaluation's variants, split, batch size and cache, the trend's bootstrap, and ``options``, the
    ModelOptions fields every model shares (a model's own fields win).
    Raises BgbenchError for bad input before any model work.
    """
    from bgbench.executors import check_executor, open_executor

    cfg = config_of(config, SweepConfig)
    n_workers = check_executor(cfg.executor, cfg.workers)
    started = time.perf_counter()
    entries = sweep_models(models)
    wanted = [cfg.challenge if m.challenge is None else m.challenge for m in entries]
    root, out = Path(data).resolve(), Path(out).resolve()
    _check_inputs(root, entries, cfg, any(wanted))
    tasks = [ModelTask(str(root), m, m.options(cfg.options), str(out / m.name), want, cfg, quiet)
             for m, want in zip(entries, wanted, strict=True)]
    with open_executor(cfg.executor, n_workers, quiet=quiet, gpu_tasks=True) as pool:
        runs = pool.map(run_model, tasks, desc="models", unit="model")
    result = collect(entries, out, challenge=cfg.challenge, n_boot=cfg.n_boot, seed=cfg.seed, runs=runs)
    result.doc["timing"] = {"total_s": round(time.perf_counter() - started, 3), "executor": cfg.executor}
    result.write(out)
    return result


__all__ = ["ModelTask", "run_model", "sweep"]
