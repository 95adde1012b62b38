"""``run_challenge``: data on disk + a model -> decisions, outputs in ``OUT`` (the public API).

Flow: list and decode the foreground/background banks once (cached), move them to the model's
device as uint8, build the mapped predictor (classifier + label map), then either the batched
early-exit search (:mod:`bgbench.challenge.search`, resumable through ``OUT/challenge.log.jsonl``)
or the full matrix (:mod:`bgbench.challenge.full`, resumable through ``OUT/challenge_matrix.npy``),
and finally :func:`finalize` writes ``challenge.json``, ``challenge.csv`` (and for ``--full`` the
per-background rates and ``gallery.png``).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bgbench import __version__
from bgbench.atomic import append_jsonl, atomic_save_npy, atomic_write_json
from bgbench.challenge.analysis import matrix_analysis, matrix_decisions
from bgbench.challenge.data import (
    ChallengeData,
    ChallengeFiles,
    list_challenge_files,
    load_challenge_data,
    masks_to_device,
    to_device,
)
from bgbench.challenge.full import fill_matrix, new_matrix, not_done_value
from bgbench.challenge.results import (
    JSON_NAME,
    config_fingerprint,
    foreground_record,
    open_log,
    summarize,
    write_outputs,
)
from bgbench.challenge.search import ORDERS, Outcome, oracle_minimum, search_backgrounds
from bgbench.errors import BgbenchError
from bgbench.progress import progress

DEFAULT_MODEL = "efficientnet_lite0"
SCHEMA = "bgbench.challenge/1"
MATRIX_NAME = "challenge_matrix.npy"
MATRIX_META = "challenge_matrix.json"
BACKGROUNDS_CSV = "backgrounds.csv"
GALLERY_NAME = "gallery.png"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/n"`` or (i, n) with 0 <= i < n -> (i, n); None stays None."""
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(part) for part in shard.split("/"))
        except ValueError as exc:
            raise BgbenchError(f"--shard must look like i/n (e.g. 0/4), got {shard!r}") from exc
    else:
        i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise BgbenchError(f"--shard {i}/{n}: need 0 <= i < n")
    return int(i), int(n)


def shard_indices(n_foregrounds: int, shard: tuple[int, int] | None) -> list[int]:
    """Foregrounds of shard (i, n): indices f with f % n == i (all when shard is None)."""
    if shard is None:
        return list(range(n_foregrounds))
    i, n = shard
    return list(range(i, n_foregrounds, n))


def model_identity(describe: dict[str, Any]) -> dict[str, Any]:
    """What decides the predictions (describe() without where it ran)."""
    return {k: v for k, v in describe.items() if k not in ("device",)}


def run_challenge(data: str | Path, model: Any = DEFAULT_MODEL, *, out: str | Path | None = None,
                  full: bool = False, strict: bool = False, shard: str | tuple[int, int] | None = None,
                  executor: str = "serial", workers: int | None = None, split: str = "val",
                  map_rule: str = "released", class_map: str | Path | None = None,
                  batch_size: int | None = None,
                  device: str = "auto", precision: str = "fp32", preprocess: str = "native",
                  weights: str | Path | None = None, arch: str | None = None, num_classes: int | None = None,
                  trust_pickle: bool = False, order: str = "adaptive", top_k: int = 5, gallery: bool = True,
                  cache: bool = True, cache_dir: str | Path | None = None, checkpoint_seconds: float = 60.0,
                  int8: str = "reference", quiet: bool = False) -> dict[str, Any]:
    """Run the adversarial-backgrounds challenge of ``model`` on the tree ``data``; returns the
    challenge.json content (also written to ``out`` when given).

    ``full``: evaluate every (foreground, background) pair; ``strict``: search exactly for the
    stricter reading too; ``shard`` ("i/n"): only foregrounds with index % n == i; ``executor``
    "ray": ``workers`` shards as Ray tasks, merged into ``out``. ``batch_size`` defaults to 256 on
    a GPU, 64 on the CPU. ``order``: "adaptive" (most fooling backgrounds first) or "folder".
    Raises BgbenchError for bad input before any model work.
    """
    if executor not in ("serial", "ray"):
        raise BgbenchError(f"unknown --executor {executor!r} (expected serial or ray)")
    if order not in ORDERS:
        raise BgbenchError(f"unknown order {order!r} (expected {' or '.join(ORDERS)})")
    if batch_size is not None and batch_size < 1:
        raise BgbenchError(f"batch size must be at least 1, got {batch_size}")
    shard_t = parse_shard(shard)
    options = dict(out=out, full=full, strict=strict, split=split, map_rule=map_rule, class_map=class_map,
                   batch_size=batch_size, device=device, precision=precision, preprocess=preprocess,
                   weights=weights, arch=arch, num_classes=num_classes, trust_pickle=trust_pickle,
                   int8=int8, order=order,
                   top_k=top_k, gallery=gallery, cache=cache, cache_dir=cache_dir,
                   checkpoint_seconds=checkpoint_seconds, quiet=quiet)
    if executor == "ray":
        if shard_t is not None:
            raise BgbenchError("--shard and --executor ray exclude each other (ray makes the shards)")
        if out is None:
            raise BgbenchError("--executor ray needs --out (shards write there before the merge)")
        from bgbench.challenge.shard import run_ray

        return run_ray(data, model, workers=workers, **options)

    started = time.perf_counter()
    list_challenge_files(data, split)  # fail fast on layout problems before loading a model
    loaded = load_challenge_data(data, split, cache=cache, cache_dir=cache_dir, quiet=quiet)
    load_s = time.perf_counter() - started
    import torch

    from bgbench.evaluate import make_classifier, select_label_map, target_classes

    clf = make_classifier(model, device=device, precision=precision, weights=weights, arch=arch,
                          num_classes=num_classes, trust_pickle=trust_pickle, preprocess=preprocess,
                          int8=int8)
    # the label map works in the full class space (a class folder may be missing, see target_classes);
    # predictions come back to folder indices, a class with no folder to -1 (always wrong)
    targets = target_classes(int(clf.num_outputs), list(loaded.class_names), class_map)
    label_map = select_label_map(int(clf.num_outputs), targets, map_rule, class_map)
    dev = clf.device
    to_folder = torch.full((len(targets) + 1,), -1, dtype=torch.long, device=dev)  # [-1] -> -1
    for i, folder in enumerate(loaded.class_names):
        to_folder[targets.index(folder)] = i
    if batch_size is None:
        batch_size = 256 if dev.type == "cuda" else 64

    def predict(x):
        return to_folder[label_map.predict(clf(x))]

    describe = clf.describe()
    config = {"schema": SCHEMA, "mode": "full" if full else "search", "strict": bool(strict or full),
              "model": model_identity(describe), "label_map": label_map.describe(),
              "precision": str(describe.get("precision", precision)),
              "data_fingerprint": loaded.fingerprint, "split": split,
              "shard": list(shard_t) if shard_t else None}
    indices = shard_indices(len(loaded.fg_labels), shard_t)
    fg_t = to_device(loaded.fg_pixels, dev)
    masks_t = masks_to_device(loaded.masks, dev)
    bg_t = to_device(loaded.bg_pixels, dev)
    setup_s = time.perf_counter() - started
    t0 = time.perf_counter()
    if full:
        records, matrix, passes = _run_full(predict, loaded, fg_t, masks_t, bg_t, indices, config, out,
                                            batch_size, checkpoint_seconds, quiet)
        extra_passes = {"used": passes, "wasted_in_batch": 0, "batches": None}
    else:
        matrix = None
        records, extra_passes = _run_search(predict, loaded, fg_t, masks_t, bg_t, indices, config, out,
                                            batch_size, order, strict, quiet)
    search_s = time.perf_counter() - t0
    run_info = {"batch_size": batch_size, "order": order if not full else "folder", "device": str(dev),
                "executor": "serial", "bgbench_version": __version__,
                "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "timing": {"load_s": round(load_s, 3), "setup_s": round(setup_s, 3),
                           "search_s": round(search_s, 3),
                           "composites_per_s": round(extra_passes["used"] / max(search_s, 1e-9), 2)}}
    return finalize(out, records, loaded, config, describe, extra_passes, run_info, matrix=matrix,
                    n_expected=len(indices), top_k=top_k, gallery=gallery and shard_t is None,
                    image_of=lambda b: np.asarray(loaded.bg_pixels[b]), quiet=quiet)


def _run_search(predict, loaded: ChallengeData, fg_t, masks_t, bg_t, indices: list[int], config: dict,
                out, batch_size: int, order: str, strict: bool, quiet: bool) -> tuple[list[dict], dict]:
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
        for outcome in outcomes:
            record = foreground_record(outcome, loaded, loaded.class_names)
            if log_path is not None:
                append_jsonl(log_path, record)
            new.append(record)
        bar.update(len(outcomes))

    try:
        stats = search_backgrounds(predict, fg_t, masks_t, loaded.fg_labels, bg_t, loaded.bg_labels,
                                   batch_size=batch_size, order=order, strict=strict, indices=todo,
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


def _run_full(predict, loaded: ChallengeData, fg_t, masks_t, bg_t, indices: list[int], config: dict, out,
              batch_size: int, checkpoint_seconds: float, quiet: bool) -> tuple[list[dict], np.ndarray, int]:
    n_fg, n_bg = len(loaded.fg_labels), len(loaded.bg_labels)
    matrix = new_matrix(n_fg, n_bg, len(loaded.class_names))
    checkpoint = None
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        meta_path, matrix_path = out / MATRIX_META, out / MATRIX_NAME
        fingerprint = config_fingerprint(config)
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") != fingerprint:
                raise BgbenchError("was written by a run with a different configuration; use another --out "
                                   "or delete it", meta_path)
            if matrix_path.exists():
                saved = np.load(matrix_path, allow_pickle=False)
                if saved.shape != matrix.shape or saved.dtype != matrix.dtype:
                    raise BgbenchError(f"matrix has shape {saved.shape} {saved.dtype}, expected "
                                       f"{matrix.shape} {matrix.dtype}; delete it to start over", matrix_path)
                matrix = np.array(saved)
        else:
            atomic_write_json(meta_path, {"fingerprint": fingerprint, "config": config,
                                          "not_done_value": not_done_value(matrix.dtype)})

        def checkpoint(m: np.ndarray) -> None:
            atomic_save_npy(matrix_path, m)

    missing = not_done_value(matrix.dtype)
    pending = int((matrix[indices] == missing).sum())
    bar = progress(total=pending, desc="challenge --full", unit="img", quiet=quiet)
    try:
        passes = fill_matrix(predict, fg_t, masks_t, bg_t, matrix, indices, batch_size=batch_size,
                             checkpoint=checkpoint, checkpoint_seconds=checkpoint_seconds,
                             on_batch=bar.update)
    finally:
        bar.close()
    return matrix_records(matrix, loaded, indices), matrix, passes


def matrix_records(matrix: np.ndarray, files: ChallengeFiles, indices: list[int]) -> list[dict]:
    """Per-foreground records from finished matrix rows (fooling background: first in folder order)."""
    rows = np.asarray(indices, dtype=np.int64)
    dec = matrix_decisions(matrix[rows].astype(np.int64), files.fg_labels[rows], files.bg_labels)
    records = []
    for j, f in enumerate(rows.tolist()):
        first, sfirst = int(dec["first"][j]), int(dec["strict_first"][j])
        outcome = Outcome(f, bool(dec["fooled"][j]), first if first >= 0 else None,
                          int(matrix[f, first]) if first >= 0 else None, matrix.shape[1],
                          bool(dec["strict"][j]), sfirst if sfirst >= 0 else None,
                          int(matrix[f, sfirst]) if sfirst >= 0 else None)
        records.append(foreground_record(outcome, files, files.class_names))
    return records


def finalize(out, records: list[dict], files: ChallengeFiles, config: dict, describe: dict, passes: dict,
             run_info: dict, *, matrix: np.ndarray | None = None, n_expected: int, top_k: int = 5,
             gallery: bool = True, image_of=None, quiet: bool = False) -> dict[str, Any]:
    """Summary + analysis -> ``challenge.json``/``.csv`` (and ``backgrounds.csv``, ``gallery.png``
    for the full matrix) in ``out`` when given; returns the challenge.json content."""
    records = sorted(records, key=lambda r: r["index"])
    n_bg = len(files.bg_labels)
    summary: dict[str, Any] = {"schema": SCHEMA}
    summary.update(summarize(records, n_backgrounds=n_bg, class_names=files.class_names,
                             strict_exact=bool(config["strict"]), bg_labels=files.bg_labels))
    oracle = oracle_minimum((Outcome.from_record(r) for r in records), n_bg)
    summary["forward_passes"] = {**passes, "oracle_minimum_all": oracle}
    if "oracle_minimum" not in passes:
        summary["forward_passes"]["oracle_minimum"] = oracle
        used = passes.get("used") or 0
        summary["forward_passes"]["ratio_to_oracle"] = used / oracle if oracle else None
    summary["complete"] = len(records) == n_expected
    summary["mode"] = config["mode"]
    summary["model"] = describe
    summary["label_map"] = config["label_map"]
    summary["precision"] = config["precision"]
    summary["shard"] = config["shard"]
    summary["data"] = {"root": files.root, "split": files.split, "fingerprint": config["data_fingerprint"],
                       "n_foregrounds_total": len(files.fg_labels), "n_backgrounds": n_bg,
                       "class_names": files.class_names,
                       "skipped_backgrounds": [list(s) for s in (getattr(files, "skipped", None) or [])]}
    summary["config"] = config
    summary["config_fingerprint"] = config_fingerprint(config)
    summary["run"] = run_info
    if matrix is not None:
        rows = np.asarray([r["index"] for r in records], dtype=np.int64)
        analysis = matrix_analysis(matrix[rows].astype(np.int64), files.fg_labels[rows], files.bg_labels,
                                   files.class_names, files.bg_paths, top_k=top_k)
        summary["top_backgrounds"] = analysis["top_backgrounds"]
        summary["reachability"] = analysis["reachability"]
        summary["matrix"] = {"file": MATRIX_NAME, "shape": list(matrix.shape), "dtype": str(matrix.dtype),
                             "value": "mapped prediction; -1 = outside the classes; "
                                      f"{not_done_value(matrix.dtype)} = not evaluated (other shard)"}
        if out is not None:
            _write_background_csv(Path(out) / BACKGROUNDS_CSV, files, analysis)
    summary["foregrounds"] = [{k: v for k, v in r.items() if k != "type"} for r in records]
    if out is not None:
        write_outputs(out, summary)  # the results first: a failing gallery never loses them
        if matrix is not None and gallery and image_of is not None:
            _draw_gallery(Path(out), summary, analysis["top_backgrounds"], image_of,
                          title=f"most fooling backgrounds ({describe.get('spec', '')})")
    return summary


def _draw_gallery(out: Path, summary: dict[str, Any], top_backgrounds: list[dict], image_of,
                  title: str) -> None:
    """Draw ``OUT/gallery.png`` after the results are written; on any failure print a one-line
    warning to stderr and record it as ``gallery_error`` (the results stay as written)."""
    import sys

    try:
        from bgbench.challenge.gallery import write_gallery

        write_gallery(out / GALLERY_NAME, top_backgrounds, image_of, title=title)
    except Exception as exc:  # a picture must never cost the computed results
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        summary["gallery"] = None
        summary["gallery_error"] = reason
        print(f"warning: gallery not drawn ({reason}); the results are in {out / JSON_NAME}",
              file=sys.stderr)
    else:
        summary["gallery"] = GALLERY_NAME
    atomic_write_json(out / JSON_NAME, summary)


def _write_background_csv(path: Path, files: ChallengeFiles, analysis: dict) -> None:
    import csv
    import io

    from bgbench.atomic import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "background", "class", "fool_rate_other_class", "push_rate_other_class"])
    for b, path_b in enumerate(files.bg_paths):
        writer.writerow([b, path_b, files.class_names[files.bg_labels[b]],
                         f"{analysis['background_fool_rate'][b]:.6f}",
                         f"{analysis['background_push_rate'][b]:.6f}"])
    atomic_write_text(path, buffer.getvalue())
