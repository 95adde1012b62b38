"""One challenge run in this process: data on disk + a model -> decisions, outputs in ``OUT``.

Flow: list and decode the foreground/background banks once (cached), move them to the model's
device as uint8, build the predictor (:func:`bgbench.predict.make_predictor`: classifier + label
map, predictions as folder indices), then either the batched early-exit search
(:mod:`bgbench.challenge.search`, resumable through ``OUT/challenge.log.jsonl``) or the full matrix
(:mod:`bgbench.challenge.full`, resumable through ``OUT/challenge_matrix.npy``), and finally
:func:`~bgbench.challenge.finalize.finalize` writes the outputs. :func:`run_serial` runs one shard
(or everything); :func:`bgbench.challenge.run_challenge` puts executors above it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bgbench import __version__
from bgbench.atomic import append_jsonl_many, atomic_save_npy
from bgbench.challenge.config import ChallengeConfig
from bgbench.challenge.data import (
    ChallengeData,
    list_challenge_files,
    load_challenge_data,
    masks_to_device,
    to_device,
)
from bgbench.challenge.finalize import MATRIX_META, MATRIX_NAME, finalize, matrix_records
from bgbench.challenge.full import fill_matrix, new_matrix, not_done_value
from bgbench.challenge.outputs import foreground_record, open_log
from bgbench.challenge.result import SCHEMA, ChallengeResult
from bgbench.challenge.search import Outcome, oracle_minimum, search_backgrounds
from bgbench.challenge.shard import shard_indices
from bgbench.config import ModelArg, config_of
from bgbench.errors import BgbenchError
from bgbench.options import DEFAULT_MODEL
from bgbench.predict import make_predictor
from bgbench.progress import progress
from bgbench.provenance import command_line
from bgbench.resume import check_settings, run_key


def model_identity(describe: dict[str, Any]) -> dict[str, Any]:
    """What decides the predictions (describe() without where it ran)."""
    return {k: v for k, v in describe.items() if k not in ("device",)}


def run_serial(data: str | Path, model: ModelArg = DEFAULT_MODEL, config: ChallengeConfig | None = None, *,
               out: str | Path | None = None, quiet: bool = False) -> ChallengeResult:
    """Run the challenge (or the shard ``config.shard`` of it) in this process, whatever
    ``config.executor`` says; returns the result, also written to ``out`` when given. ``model``: a
    spec, ModelOptions, Classifier or ReadyModel (as for :func:`bgbench.evaluate`); ``quiet``: no
    progress bars."""
    s = config_of(config, ChallengeConfig)
    shard_t = s.shard
    started = time.perf_counter()
    list_challenge_files(data, s.split)  # fail fast on layout problems before loading a model
    loaded = load_challenge_data(data, s.split, cache=s.cache.cache, cache_dir=s.cache.cache_dir, quiet=quiet)
    load_s = time.perf_counter() - started
    predictor = make_predictor(model, list(loaded.class_names))
    dev = predictor.device
    batch_size = s.batch_size or (256 if dev.type == "cuda" else 64)
    describe = predictor.describe()
    record = {"schema": SCHEMA, "mode": "full" if s.full else "search", "strict": bool(s.strict or s.full),
              "model": model_identity(describe), "label_map": predictor.label_map.describe(),
              "precision": str(describe.get("precision", predictor.options.precision)),
              "data_fingerprint": loaded.fingerprint, "split": s.split,
              "shard": list(shard_t) if shard_t else None}
    indices = shard_indices(len(loaded.fg_labels), shard_t)
    banks = (to_device(loaded.fg_pixels, dev), masks_to_device(loaded.masks, dev),
             to_device(loaded.bg_pixels, dev))
    setup_s = time.perf_counter() - started
    t0 = time.perf_counter()
    if s.full:
        records, matrix, used = _run_full(predictor.predict_folders, loaded, banks, indices, record, out,
                                          batch_size, s, quiet)
        passes = {"used": used, "wasted_in_batch": 0, "batches": None}
    else:
        matrix = None
        records, passes = _run_search(predictor.predict_folders, loaded, banks, indices, record, out,
                                      batch_size, s, quiet)
    search_s = time.perf_counter() - t0
    run_info = {"batch_size": batch_size, "order": s.order if not s.full else "folder", "device": str(dev),
                "executor": "serial", "bgbench_version": __version__, "command": command_line(),
                "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "timing": {"load_s": round(load_s, 3), "setup_s": round(setup_s, 3),
                           "search_s": round(search_s, 3),
                           "composites_per_s": round(passes["used"] / max(search_s, 1e-9), 2)}}
    return finalize(out, records, loaded, record, describe, passes, run_info, matrix=matrix,
                    n_expected=len(indices), top_k=s.top_k, gallery=s.gallery and shard_t is None,
                    image_of=lambda b: np.asarray(loaded.bg_pixels[b]), quiet=quiet)


def _run_search(predict, loaded: ChallengeData, banks: tuple, indices: list[int], config: dict, out,
                batch_size: int, s: ChallengeConfig, quiet: bool) -> tuple[list[dict], dict]:
    """The early-exit search over ``indices``, resuming from (and appending to) the log in ``out``."""
    fg_t, masks_t, bg_t = banks
    n_bg = len(loaded.bg_labels)
    decided: list[dict] = []
    log_path = None
    if out is not None:
        log_path, decided = open_log(out, config)
    wanted = set(indices)
    decided = [r for r in decided if r["index"] in wanted]
    done = {r["index"] for r in decided}
    counts = np.zeros(n_bg, dtype=np.int64)
    for r in decided:
        if r.get("fooling_background_index") is not None:
            counts[r["fooling_background_index"]] += 1
    todo = [i for i in indices if i not in done]
    new: list[dict] = []
    bar = progress(total=len(indices), desc="challenge", unit="fg", quiet=quiet, initial=len(done))

    def on_decided(outcomes: list[Outcome]) -> None:
        records = [foreground_record(outcome, loaded, loaded.class_names) for outcome in outcomes]
        if log_path is not None:  # one fsync per batch's decisions
            append_jsonl_many(log_path, records)
        new.extend(records)
        bar.update(len(outcomes))

    try:
        stats = search_backgrounds(predict, fg_t, masks_t, loaded.fg_labels, bg_t, loaded.bg_labels,
                                   batch_size=batch_size, order=s.order, strict=s.strict, indices=todo,
                                   initial_counts=counts, on_decided=on_decided)
    finally:
        bar.close()
    oracle = oracle_minimum(stats.outcomes.values(), n_bg)
    passes = {"used": stats.forward_passes, "oracle_minimum": oracle,
              "ratio_to_oracle": stats.forward_passes / oracle if oracle else None,
              "wasted_in_batch": stats.wasted, "batches": stats.batches,
              "foregrounds_this_run": len(stats.outcomes), "foregrounds_resumed": len(decided),
              "note": "counts cover the foregrounds decided in this run (resumed ones excluded)"}
    return decided + new, passes


def _open_matrix(out, config: dict, matrix: np.ndarray):
    """The matrix to fill (resumed from ``out`` when a run of the same configuration saved one) and
    the checkpoint function that saves it (None without ``out``)."""
    if out is None:
        return matrix, None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path, matrix_path = out / MATRIX_META, out / MATRIX_NAME

    def refuse(_changes: dict) -> BgbenchError:
        return BgbenchError("was written by a run with a different configuration; use another --out or "
                            "delete it", meta_path)

    resumed = check_settings(meta_path, run_key(config), config, field="fingerprint", what="matrix record",
                             extra={"not_done_value": not_done_value(matrix.dtype)}, refuse=refuse)
    if resumed and matrix_path.exists():
        saved = np.load(matrix_path, allow_pickle=False)
        if saved.shape != matrix.shape or saved.dtype != matrix.dtype:
            raise BgbenchError(f"matrix has shape {saved.shape} {saved.dtype}, expected "
                               f"{matrix.shape} {matrix.dtype}; delete it to start over", matrix_path)
        matrix = np.array(saved)

    def checkpoint(m: np.ndarray) -> None:
        atomic_save_npy(matrix_path, m)

    return matrix, checkpoint


def _run_full(predict, loaded: ChallengeData, banks: tuple, indices: list[int], config: dict, out,
              batch_size: int, s: ChallengeConfig, quiet: bool) -> tuple[list[dict], np.ndarray, int]:
    """Fill the rows ``indices`` of the (foreground x background) prediction matrix."""
    fg_t, masks_t, bg_t = banks
    n_fg, n_bg = len(loaded.fg_labels), len(loaded.bg_labels)
    matrix, checkpoint = _open_matrix(out, config, new_matrix(n_fg, n_bg, len(loaded.class_names)))
    missing = not_done_value(matrix.dtype)
    pending = int((matrix[indices] == missing).sum())
    bar = progress(total=pending, desc="challenge --full", unit="img", quiet=quiet)
    try:
        passes = fill_matrix(predict, fg_t, masks_t, bg_t, matrix, indices, batch_size=batch_size,
                             checkpoint=checkpoint, checkpoint_seconds=s.checkpoint_seconds,
                             on_batch=bar.update)
    finally:
        bar.close()
    return matrix_records(matrix, loaded, indices), matrix, passes
