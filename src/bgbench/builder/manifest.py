"""manifest.jsonl, build.json and the build's config check (pure record handling plus atomic writes).

``manifest.jsonl`` has one JSON line per source image of every built split (splits in ``train``,
``val`` order, images in source order): source path, label, class folder, boxes, status
(``kept``/``dropped``), drop reason, mask method and area, seeds, GrabCut tries, mask IoU against a
provided mask, and for kept images the donor of each mixed variant. ``build.json`` (schema
``bgbench.build/1``, docs/results.md) holds, per split, the configuration, its hash, and summary
counts; plus the library versions.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.atomic import atomic_write_json, atomic_write_text
from bgbench.builder.result import SCHEMA, BuildResult
from bgbench.builder.writer import STATE_DIR, state_dir
from bgbench.data.donors import MANIFEST
from bgbench.errors import BgbenchError
from bgbench.layout import SPLITS
from bgbench.resume import check_settings, run_key
from bgbench.sources.reasons import reason_category


def prepare_output(out: Path, split: str, config: dict[str, Any]) -> bool:
    """Create OUT for this split's build, or check that a previous build used the same arguments
    (``.bgbench-build/<split>/config.json`` holds their run key, :func:`bgbench.resume.run_key`).

    Returns True when resuming (this split was started before with the same arguments).

    Raises BgbenchError when OUT is a non-empty folder that is not a bgbench build, or when this split
    was built (or started) with different arguments.
    """
    if out.exists() and not out.is_dir():
        raise BgbenchError("output path exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()) and not (out / STATE_DIR).is_dir():
        raise BgbenchError("output folder is not empty and holds no bgbench build; choose a new folder", out)

    def refuse(changes: dict[str, tuple[Any, Any]]) -> BgbenchError:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        return BgbenchError(f"the {split} split was built with different arguments ({details}); "
                            "use the same arguments to resume, or a new output folder", out)

    return check_settings(state_dir(out, split) / "config.json", run_key(config), config, field="hash",
                          what="build state", refuse=refuse)


def iou_stats(values: list[float]) -> dict[str, float | int] | None:
    """n, mean, median and 10th percentile of IoUs (None without any)."""
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    return {"n": int(arr.size), "mean": round(float(arr.mean()), 4),
            "median": round(float(np.median(arr)), 4), "p10": round(float(np.percentile(arr, 10)), 4)}


def summarize(records: list[dict[str, Any]], class_folders: list[str]) -> dict[str, Any]:
    """Counts per class and per drop reason, mixed images written, and mask IoU statistics."""
    per_class = {name: {"kept": 0, "dropped": 0} for name in class_folders}
    reasons: Counter[str] = Counter()
    missing_donor: Counter[str] = Counter()
    self_donor = 0
    ious: list[float] = []
    for rec in records:
        row = per_class.setdefault(rec["class"], {"kept": 0, "dropped": 0})
        row[rec["status"]] += 1
        if rec["status"] == "dropped":
            reasons[reason_category(rec["reason"])] += 1
        else:
            for variant, donor in (rec.get("donors") or {}).items():
                if donor is None:
                    missing_donor[variant] += 1
                elif donor["source_id"] == rec["source_id"]:
                    self_donor += 1
            if rec.get("mask_iou") is not None:
                ious.append(rec["mask_iou"])
    kept = sum(row["kept"] for row in per_class.values())
    empty, gaps = class_gaps(records, class_folders)
    return {
        "images": len(records),
        "kept": kept,
        "dropped": len(records) - kept,
        "per_class": per_class,
        "drop_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "mixed_without_donor": dict(sorted(missing_donor.items())),
        "mixed_same_own_background": self_donor,
        "classes_without_images": empty,
        "variant_gaps": gaps,
        "mask_iou": iou_stats(ious),
    }


def class_gaps(records: list[dict[str, Any]], class_folders: list[str]) -> tuple[dict[str, str],
                                                                               dict[str, dict[str, str]]]:
    """Why a class has no image in a variant: ({class: reason} for classes with no kept image (no
    variant has their folder), {mixed variant: {class: reason}} for classes whose kept images all
    lack a donor in that variant (its folder is absent from that variant only)).

    E.g. a VOC build mapped to dog, bird and vehicle: ``08_fish`` has no kept image, and
    ``mixed_next`` has no ``02_vehicle`` folder because the next class, ``03_reptile``, has none.
    """
    kept: Counter[str] = Counter()
    with_donor: dict[str, Counter[str]] = {}
    for rec in records:
        if rec["status"] != "kept":
            continue
        kept[rec["class"]] += 1
        for variant, donor in (rec.get("donors") or {}).items():
            with_donor.setdefault(variant, Counter())[rec["class"]] += donor is not None
    empty = {name: "no image of this class was kept (see drop_reasons)" for name in class_folders
             if not kept[name]}
    gaps: dict[str, dict[str, str]] = {}
    for variant, counts in sorted(with_donor.items()):
        for index, name in enumerate(class_folders):
            if kept[name] and not counts[name]:
                gaps.setdefault(variant, {})[name] = _gap_reason(variant, class_folders, index, kept)
    return empty, gaps


def _gap_reason(variant: str, class_folders: list[str], index: int, kept: Counter[str]) -> str:
    if variant == "mixed_next":
        following = class_folders[(index + 1) % len(class_folders)]
        return f"no donor: the next class {following} has no kept image to give a background"
    if variant == "mixed_rand":
        return "no donor: no other kept image to give a background"
    return "no donor: no kept image to give a background"


def write_split_manifest(out: Path, split: str, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(rec, sort_keys=False) + "\n" for rec in records)
    atomic_write_text(state_dir(out, split) / MANIFEST, text)


def write_outputs(out: Path, split: str, records: list[dict[str, Any]], config: dict[str, Any],
                  summary: dict[str, Any]) -> dict[str, Any]:
    """Write this split's manifest, then OUT/manifest.jsonl (all built splits) and OUT/build.json."""
    write_split_manifest(out, split, records)
    split_entry = {"config": config, "config_hash": run_key(config), "summary": summary}
    state = state_dir(out, split) / "summary.json"
    atomic_write_json(state, split_entry)
    entries: dict[str, Any] = {}
    manifest_text = ""
    for name in SPLITS:
        part = state_dir(out, name) / MANIFEST
        summary_file = state_dir(out, name) / "summary.json"
        if part.exists() and summary_file.exists():
            manifest_text += part.read_text(encoding="utf-8")
            entries[name] = json.loads(summary_file.read_text(encoding="utf-8"))
    atomic_write_text(out / MANIFEST, manifest_text)
    build = {"schema": SCHEMA, "format": "bgbench-build/1", "versions": versions(), "splits": entries}
    BuildResult({**build, "split": split}).write(out)
    return build


def versions() -> dict[str, str]:
    """Versions of what shapes the output bytes."""
    import cv2
    import PIL

    import bgbench

    return {"bgbench": bgbench.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


def read_manifest(out: str | Path) -> list[dict[str, Any]]:
    """Records of OUT/manifest.jsonl."""
    path = Path(out) / MANIFEST
    if not path.exists():
        raise BgbenchError("no manifest.jsonl (not a finished bgbench build)", Path(out))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
