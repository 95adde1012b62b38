"""The end of every challenge run (serial, shard, merge): summary + analysis -> the output files.

:func:`finalize` turns the per-foreground records into the challenge.json document (with the matrix
analysis for ``--full``), writes ``challenge.json`` / ``challenge.csv`` (and ``backgrounds.csv``,
``gallery.png``) and returns a :class:`~bgbench.challenge.result.ChallengeResult`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bgbench.challenge.analysis import matrix_analysis, matrix_decisions
from bgbench.challenge.data import ChallengeFiles
from bgbench.challenge.full import not_done_value
from bgbench.challenge.outputs import (
    JSON_NAME,
    foreground_record,
    summarize,
)
from bgbench.challenge.result import SCHEMA, ChallengeResult
from bgbench.challenge.search import Outcome, oracle_minimum
from bgbench.resume import run_key

MATRIX_NAME = "challenge_matrix.npy"
MATRIX_META = "challenge_matrix.json"
BACKGROUNDS_CSV = "backgrounds.csv"
GALLERY_NAME = "gallery.png"


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
             gallery: bool = True, image_of=None, quiet: bool = False) -> ChallengeResult:
    """Summary + analysis -> ``challenge.json``/``.csv`` (and ``backgrounds.csv``, ``gallery.png``
    for the full matrix) in ``out`` when given; returns the result (its document is challenge.json)."""
    records = sorted(records, key=lambda r: r["index"])
    summary = _summary(records, files, config, describe, passes, run_info, n_expected)
    analysis = None
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
    result = ChallengeResult(summary)
    if out is not None:
        result.write(out)  # the results first: a failing gallery never loses them
        if analysis is not None and gallery and image_of is not None:
            _draw_gallery(Path(out), summary, analysis["top_backgrounds"], image_of,
                          title=f"most fooling backgrounds ({describe.get('spec', '')})")
            result.write(out)  # with the gallery's name (or why it is missing)
    return result


def _summary(records: list[dict], files: ChallengeFiles, config: dict, describe: dict, passes: dict,
             run_info: dict, n_expected: int) -> dict[str, Any]:
    """The challenge.json document without the matrix analysis and the per-foreground records."""
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
    summary["config_fingerprint"] = run_key(config)
    summary["run"] = run_info
    return summary


def _draw_gallery(out: Path, summary: dict[str, Any], top_backgrounds: list[dict], image_of,
                  title: str) -> None:
    """Draw ``OUT/gallery.png`` after the results are written and record it in ``summary``
    (``gallery``); on any failure print a one-line warning to stderr and record it as
    ``gallery_error`` (the results stay as written)."""
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
