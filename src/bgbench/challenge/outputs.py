"""Challenge outputs: the resumable per-foreground log, the challenge.json summary, challenge.csv.

``OUT/challenge.log.jsonl``: first line a header ``{"type": "header", "fingerprint": ...,
"config": {...}}``; then one ``{"type": "foreground", ...}`` line per decided foreground, appended
(and fsynced) as soon as it is decided. A restart with the same configuration skips the decided
foregrounds; a different configuration is refused. A torn last line (a kill mid-write) is cut off.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import append_jsonl, atomic_write_text, read_jsonl
from bgbench.challenge.analysis import per_class
from bgbench.errors import BgbenchError
from bgbench.metrics import wilson_interval
from bgbench.resume import changed_keys, cut_torn_tail, run_key

LOG_NAME = "challenge.log.jsonl"
JSON_NAME = "challenge.json"
CSV_NAME = "challenge.csv"
RELEASED_READING = ("released: a foreground is fooled when some background, pasted behind it with its "
                    "mask, makes the (mapped) prediction differ from its class (any wrong class, "
                    "including outside the nine)")
STRICT_READING = ("fooled_to_background_class: some background makes the prediction equal to that "
                  "background's own class, which differs from the foreground's class")
CSV_FIELDS = ("index", "image", "class", "label", "fooled", "fooling_background", "predicted",
              "backgrounds_tried", "strict_fooled", "strict_background", "strict_predicted")


def open_log(out: str | Path, config: dict[str, Any]) -> tuple[Path, list[dict[str, Any]]]:
    """Start or resume ``OUT/challenge.log.jsonl`` for ``config`` (its header holds the run key,
    :func:`bgbench.resume.run_key`); returns (path, decided records).

    Raises BgbenchError when the log was written with a different configuration."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOG_NAME
    fingerprint = run_key(config)
    if path.exists() and path.stat().st_size > 0:
        cut_torn_tail(path)
        try:
            records = read_jsonl(path)
        except json.JSONDecodeError as exc:
            raise BgbenchError(f"log is corrupt ({exc}); delete it to start over", path) from exc
        if records:
            header = records[0]
            if header.get("type") != "header":
                raise BgbenchError("log has no header line; delete it to start over", path)
            if header.get("fingerprint") != fingerprint:
                differs = ", ".join(changed_keys(header.get("config", {}), config)) or "fingerprint"
                raise BgbenchError(f"was written by a run with a different configuration (differs in: "
                                   f"{differs}); use another --out or delete it", path)
            return path, [r for r in records[1:] if r.get("type") == "foreground"]
    append_jsonl(path, {"type": "header", "fingerprint": fingerprint, "config": config})
    return path, []


def foreground_record(outcome, files, class_names: list[str]) -> dict[str, Any]:
    """The log/JSON record of one :class:`~bgbench.challenge.search.Outcome` (paths resolved)."""
    label = int(files.fg_labels[outcome.index])

    def bg_path(index):
        return None if index is None else files.bg_paths[index]

    return {"type": "foreground", "index": outcome.index, "image": files.fg_images[outcome.index],
            "class": class_names[label], "label": label, "fooled": bool(outcome.fooled),
            "fooling_background": bg_path(outcome.fooling_background),
            "fooling_background_index": outcome.fooling_background, "predicted": outcome.predicted,
            "backgrounds_tried": outcome.backgrounds_tried, "strict_fooled": outcome.strict_fooled,
            "strict_background": bg_path(outcome.strict_background),
            "strict_background_index": outcome.strict_background,
            "strict_predicted": outcome.strict_predicted}


def summarize(records: list[dict[str, Any]], *, n_backgrounds: int, class_names: list[str],
              strict_exact: bool, bg_labels: np.ndarray | None = None) -> dict[str, Any]:
    """Headline numbers of a set of foreground records (sorted by index inside).

    The strict reading is exact when it was searched for (``strict_exact``); otherwise it is a lower
    bound: the foregrounds whose found fooling background also pushed them to its own class."""
    records = sorted(records, key=lambda r: r["index"])
    n = len(records)
    fooled = np.array([bool(r["fooled"]) for r in records], dtype=bool)
    labels = np.array([int(r["label"]) for r in records], dtype=np.int64)
    k = int(fooled.sum())
    lo, hi = wilson_interval(n - k, n)
    if strict_exact:
        strict = np.array([bool(r["strict_fooled"]) for r in records], dtype=bool)
    else:
        strict = np.array([
            bool(r["fooled"]) and bg_labels is not None and r.get("fooling_background_index") is not None
            and int(bg_labels[r["fooling_background_index"]]) == r["predicted"] for r in records], dtype=bool)
    ks = int(strict.sum())
    slo, shi = wilson_interval(n - ks, n)
    strict_block = {"name": "fooled_to_background_class", "definition": STRICT_READING, "exact": strict_exact,
                    "n_fooled" if strict_exact else "n_fooled_lower_bound": ks,
                    "challenge_accuracy" if strict_exact else "challenge_accuracy_upper_bound":
                        1 - ks / n if n else None,
                    "ci95": [slo, shi] if strict_exact else None}
    if not strict_exact:
        strict_block["note"] = "run with --strict (or --full) to search for it exactly"
    return {"challenge_accuracy": 1 - k / n if n else None, "challenge_accuracy_ci95": [lo, hi],
            "n_foregrounds": n, "n_fooled": k, "n_backgrounds": n_backgrounds,
            "vulnerable": f"{k}/{n} vulnerable", "reading": RELEASED_READING, "strict_reading": strict_block,
            "per_class": per_class(labels, fooled, class_names)}


def write_csv(out: str | Path, summary: dict[str, Any]) -> None:
    """Atomically write ``OUT/challenge.csv`` (one row per foreground of ``summary``, a challenge.json
    document)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in summary.get("foregrounds", []):
        writer.writerow({k: "" if record.get(k) is None else record.get(k) for k in CSV_FIELDS})
    atomic_write_text(Path(out) / CSV_NAME, buffer.getvalue())
