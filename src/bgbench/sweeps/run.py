"""``sweep``: every model of a models file on every variant (and the challenge) -> one table.

Per model (:func:`run_model`, a module-level task so the executors can ship it to other processes
or Ray workers): load it once, :func:`bgbench.evaluate` into ``OUT/<name>/`` (results.json), and,
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

from bgbench.errors import BgbenchError
from bgbench.options import ModelOptions
from bgbench.sweeps.config import SweepModel, sweep_models
from bgbench.sweeps.gather import CHALLENGE_DIR, collect, complete_challenge, shard_folder
from bgbench.sweeps.result import SweepResult

KEY_FILE = "sweep-key.json"


@dataclass(frozen=True)
class SweepSettings:
    """What every model of a sweep shares besides its options (see :func:`sweep`)."""

    variants: tuple[str, ...] | None = None
    split: str = "val"
    batch_size: int = 64
    cache: bool = True
    cache_dir: str | None = None
    challenge_shard: tuple[int, int] | None = None
    quiet: bool = False


@dataclass(frozen=True)
class ModelTask:
    """One model's work: ``data`` root, the model, its full options, ``folder`` (``OUT/<name>``),
    whether to challenge it, and the shared settings. Picklable (it travels to workers)."""

    data: str
    model: SweepModel
    options: ModelOptions
    folder: str
    challenge: bool
    settings: SweepSettings


def run_model(task: ModelTask) -> dict[str, Any]:
    """Evaluate (resuming) and, when asked, challenge one model; returns what ran:
    ``{"name", "eval_s", "resumed", "challenge_s", "challenge_resumed"}``."""
    from bgbench.eval import evaluate
    from bgbench.predict import load_model

    s = task.settings
    t0 = time.perf_counter()
    clf, opts = load_model(task.options)
    labels = {"map_rule": opts.map_rule, "class_map": opts.class_map}
    result = evaluate(task.data, clf, variants=list(s.variants) if s.variants else None, split=s.split,
                      batch_size=s.batch_size, out=task.folder, cache=s.cache, cache_dir=s.cache_dir,
                      resume=True, quiet=s.quiet, **labels)
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
    from bgbench.config import CacheChoice
    from bgbench.eval.run import resume_key
    from bgbench.predict import ReadyModel
    from bgbench.resume import keep_or_clear

    s = task.settings
    folder = Path(task.folder) / CHALLENGE_DIR
    key = resume_key(result.model_info, result.label_map, result.data_fingerprint, s.split, s.batch_size,
                     result.device)
    valid = keep_or_clear(folder, key, KEY_FILE)  # another model's, label map's or dataset's: cleared
    target = folder if s.challenge_shard is None else shard_folder(folder, s.challenge_shard)
    done = valid and (_done(target) or _done(folder))
    if not done:
        config = ChallengeConfig(split=s.split, shard=s.challenge_shard,
                                 cache=CacheChoice(s.cache, s.cache_dir))
        run_challenge(task.data, ReadyModel(clf, **labels), config, out=target, quiet=s.quiet)
    if s.challenge_shard is not None and not _done(folder):
        n = s.challenge_shard[1]
        shards = [shard_folder(folder, (i, n)) for i in range(n)]
        if all(_done(f) for f in shards):
            merge_shards(task.data, shards, folder, gallery=False, quiet=True)
    return done


def _done(folder: Path) -> bool:
    return complete_challenge(folder) is not None


def _check_inputs(data: Path, models: list[SweepModel], settings: SweepSettings, challenge_any: bool) -> None:
    """BgbenchError for a missing model file or a bad data folder (or variant list) before any
    model work."""
    from bgbench.data import In9Tree

    for m in models:
        missing = [f for f in m.files() if not f.is_file()]
        if missing:
            raise BgbenchError(f"model {m.name!r} ({m.spec}): file not found", missing[0])
    In9Tree(data).variants(settings.split, list(settings.variants) if settings.variants else None)
    if challenge_any:
        from bgbench.challenge.data import list_challenge_files

        list_challenge_files(data, settings.split)


def sweep(models: Any, data: str | Path, *, out: str | Path, challenge: bool = False,
          challenge_shard: str | tuple[int, int] | None = None, executor: str = "serial",
          workers: int | None = None, variants: list[str] | str | None = None, split: str = "val",
          batch_size: int = 64, cache: bool = True, cache_dir: str | Path | None = None, n_boot: int = 10000,
          seed: int = 0, quiet: bool = False, **model_options: Any) -> SweepResult:
    """Evaluate every model of ``models`` on every variant of ``data`` (and challenge it), resuming
    finished work; returns the :class:`SweepResult`, also written to ``out`` (sweep.json, sweep.csv,
    sweep.md beside the models' folders ``out/<name>/``).

    ``models``: a models TOML file (:mod:`bgbench.sweeps.config`) or a list of dicts / ModelOptions /
    spec strings. ``model_options``: ModelOptions fields every model shares (``device``,
    ``precision``, ``map_rule``, ...); a model's own fields win. ``challenge``: run the challenge
    for every model (a model's ``challenge = true/false`` wins); ``challenge_shard`` ``"i/n"``: only
    the foregrounds with index % n == i (a 1-in-n subsample; the table pools the complete shards).
    ``executor``: ``serial`` or ``ray`` (each model a Ray task with one GPU when the cluster has
    GPUs); ``workers``: how many models run at once (Ray workers: the CPUs of a local Ray; default
    all cores). ``n_boot``/``seed``: the trend's bootstrap.
    Raises BgbenchError for bad input before any model work.
    """
    from bgbench.challenge.shard import parse_shard
    from bgbench.executors import check_executor, open_executor

    if executor not in ("serial", "ray"):
        raise BgbenchError(f"unknown --executor {executor!r} (expected serial or ray)")
    n_workers = check_executor(executor, workers)
    if batch_size < 1:
        raise BgbenchError(f"batch size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    entries = sweep_models(models)
    base = ModelOptions.of(None, **model_options)
    names = variants.split(",") if isinstance(variants, str) else variants
    settings = SweepSettings(variants=tuple(v.strip() for v in names if v.strip()) if names else None,
                             split=split, batch_size=batch_size, cache=cache,
                             cache_dir=None if cache_dir is None else str(cache_dir),
                             challenge_shard=parse_shard(challenge_shard), quiet=quiet)
    wanted = [challenge if m.challenge is None else m.challenge for m in entries]
    root, out = Path(data).resolve(), Path(out).resolve()
    _check_inputs(root, entries, settings, any(wanted))
    tasks = [ModelTask(str(root), m, m.options(base), str(out / m.name), want, settings)
             for m, want in zip(entries, wanted, strict=True)]
    with open_executor(executor, n_workers, quiet=quiet, gpu_tasks=True) as pool:
        runs = pool.map(run_model, tasks, desc="models", unit="model")
    result = collect(entries, out, challenge=challenge, n_boot=n_boot, seed=seed, runs=runs)
    result.doc["timing"] = {"total_s": round(time.perf_counter() - started, 3), "executor": executor}
    result.write(out)
    return result


__all__ = ["ModelTask", "SweepSettings", "run_model", "sweep"]
