"""Per-variant resume files of an evaluation (``OUT/partial/<variant>.json``).

A variant's predictions are saved as soon as it is done, under a key over everything that decides
them (model identity with its weights hash, label map, data fingerprint, split, batch size, device);
a rerun into the same OUT reuses them only when the key and the image list match.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.jsonable import jsonable

PARTIAL_DIR = "partial"


def resume_key(model_info: dict[str, Any], label_map: dict[str, Any], fingerprint: str, split: str,
               batch_size: int, device: str) -> str | None:
    """Key of one variant's predictions, or None when the model cannot be identified by its weights'
    hash (then nothing is reused: two random-weight models would describe themselves alike)."""
    if not model_info.get("weights_sha256"):
        return None
    blob = json.dumps({"model": jsonable(model_info), "label_map": label_map, "data": fingerprint,
                       "split": split, "batch_size": batch_size, "device": str(device)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_partial(out: str | Path, variant: str, key: str,
                 paths: list[str]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(preds, top1, infer_s) a previous run with the same key saved in ``out/partial/``, or None."""
    path = Path(out) / PARTIAL_DIR / f"{variant}.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if saved.get("key") != key or saved.get("paths") != paths:
        return None
    return (np.asarray(saved["pred"], dtype=np.int64), np.asarray(saved["top1"], dtype=np.int64),
            float(saved["infer_s"]))


def save_partial(out: str | Path, variant: str, key: str, paths: list[str], preds: np.ndarray,
                 top1: np.ndarray, infer_s: float) -> None:
    """Write one variant's predictions atomically to ``out/partial/<variant>.json``."""
    from bgbench.atomic import atomic_write_json

    atomic_write_json(Path(out) / PARTIAL_DIR / f"{variant}.json",
                      {"key": key, "paths": paths, "pred": preds.tolist(), "top1": top1.tolist(),
                       "infer_s": infer_s}, indent=None)
