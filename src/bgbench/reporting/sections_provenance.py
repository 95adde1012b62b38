"""The provenance section: for every result the report read, where its numbers come from (the
file, the model and its weights hash, preprocessing, label rule, data fingerprint, bgbench version,
the command that wrote it and when). Pure: reads the documents only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bgbench.reporting.sections import Section, Table, Text, short_hash

NOT_RECORDED = "not recorded"
HEADER = [
    "result",
    "file",
    "model",
    "weights SHA-256",
    "preprocessing",
    "label rule",
    "data fingerprint",
    "bgbench",
    "command",
    "written",
]


def _preprocessing(info: dict[str, Any]) -> str:
    pre = info.get("preprocessing") or {}
    if not isinstance(pre, dict) or not pre:
        return str(pre or info.get("preprocess_mode") or "-")
    size = pre.get("input_size")
    parts = [str(pre.get("name", "?")), f"{size} px" if size else "", str(pre.get("interpolation") or "")]
    text = " ".join(p for p in parts if p)
    return text + (f"; {pre['resize_rule']}" if pre.get("resize_rule") else "")


def _weights(info: dict[str, Any]) -> str:
    for key, label in (("weights_sha256", ""), ("params_sha256", " (parameters)")):
        if info.get(key):
            return short_hash(info[key]) + label
    return "-"


def _label_rule(map_rule: Any, label_map: dict[str, Any]) -> str:
    if not label_map and not map_rule:
        return "-"
    rule = str(map_rule or label_map.get("rule") or "-")
    n_out, n_in = label_map.get("num_outputs"), label_map.get("num_targets")
    sizes = f", {n_out} → {n_in} classes" if n_out and n_in else ""
    return f"{rule} ({label_map.get('rule', '?')}{sizes})" if label_map else rule


def _eval_cells(doc: dict[str, Any]) -> list[str]:
    info = doc.get("model_info") or {}
    return [
        str(doc.get("model")),
        _weights(info),
        _preprocessing(info),
        _label_rule(doc.get("map_rule"), doc.get("label_map") or {}),
        short_hash((doc.get("data") or {}).get("fingerprint")),
        (doc.get("versions") or {}).get("bgbench", "-"),
        doc.get("command") or NOT_RECORDED,
        str(doc.get("created") or "-"),
    ]


def _challenge_cells(doc: dict[str, Any]) -> list[str]:
    info = doc.get("model") if isinstance(doc.get("model"), dict) else {}
    run = doc.get("run") or {}
    label_map = doc.get("label_map") or {}
    return [
        str(info.get("spec", doc.get("model"))),
        _weights(info),
        _preprocessing(info),
        _label_rule(label_map.get("rule"), label_map),
        short_hash((doc.get("data") or {}).get("fingerprint")),
        str(run.get("bgbench_version", "-")),
        run.get("command") or NOT_RECORDED,
        str(run.get("finished_utc") or "-"),
    ]


def _train_cells(doc: dict[str, Any]) -> list[str]:
    model = doc.get("model") or {}
    recipe = doc.get("recipe") or {}
    pre = f"{recipe.get('input_size', '?')} px, crops {recipe.get('crop_scale', '?')}"
    pre += f", flip {recipe.get('flip')}"
    what = f"{model.get('spec') or doc.get('arch')} → {Path(str(doc.get('checkpoint', '?'))).name}"
    return [
        what,
        f"seed {doc.get('seed')}",
        pre,
        f"{len(doc.get('classes') or [])} classes",
        short_hash((doc.get("data") or {}).get("fingerprint")),
        str(doc.get("bgbench_version", "-")),
        doc.get("command") or NOT_RECORDED,
        "-",
    ]


def _sweep_cells(doc: dict[str, Any]) -> list[str]:
    models = doc.get("models") or []
    rules = sorted({str(m.get("map_rule")) for m in models})
    return [
        f"{len(models)} models",
        "per model",
        "per model",
        ", ".join(rules) or "-",
        short_hash((doc.get("data") or {}).get("fingerprint")),
        (doc.get("versions") or {}).get("bgbench", "-"),
        doc.get("command") or NOT_RECORDED,
        str(doc.get("created") or "-"),
    ]


def _build_cells(doc: dict[str, Any]) -> list[str]:
    config = doc.get("config") or {}
    split_entry = (doc.get("splits") or {}).get(doc.get("split"), {})
    return [
        "-",
        "-",
        f"size {config.get('size')}, resize {config.get('resize')}",
        f"segmenter {config.get('segmenter')}, seed {config.get('seed')}",
        "config " + short_hash(split_entry.get("config_hash")),
        (doc.get("versions") or {}).get("bgbench", "-"),
        doc.get("command") or NOT_RECORDED,
        "-",
    ]


def _other_cells(doc: dict[str, Any]) -> list[str]:
    model = doc.get("model")
    if isinstance(model, dict):
        model = model.get("spec")
    versions = doc.get("versions") or {}
    return [
        str(model or "-"),
        "-",
        "-",
        str(doc.get("method") or doc.get("kind") or "-"),
        "-",
        str(versions.get("bgbench", doc.get("bgbench_version", "-"))),
        doc.get("command") or NOT_RECORDED,
        str(doc.get("created") or "-"),
    ]


CELLS = {
    "eval": _eval_cells,
    "challenge": _challenge_cells,
    "train": _train_cells,
    "sweep": _sweep_cells,
    "build": _build_cells,
}


def common_root(paths: list[Path]) -> Path | None:
    """The deepest folder holding every path (None without paths)."""
    if not paths:
        return None
    try:
        return Path(os.path.commonpath([str(p.parent) for p in paths]))
    except ValueError:
        return None


def provenance_section(
    entries: list[tuple[str, str, dict[str, Any], Path | None]], report_command: str | None, version: str
) -> Section:
    """``entries``: (kind, name, document, source file) of every result read."""
    root = common_root([p for _, _, _, p in entries if p is not None])
    body = []
    for kind, name, doc, path in entries:
        shown = "-" if path is None else (str(path.relative_to(root)) if root else str(path))
        body.append([f"{kind}: {name}", shown, *CELLS.get(kind, _other_cells)(doc)])
    intro = (
        f"Every number above comes from one of these files{f' (paths relative to {root})' if root else ''}. "
        f"This report was written by bgbench {version}"
        + (f" with `{report_command}`" if report_command else "")
        + ". Hashes are the first 12 hex "
        "digits of SHA-256; 'not recorded' marks a document written before bgbench recorded its command."
    )
    return Section("provenance", "Provenance", [Text(intro), Table(HEADER, body)])
