"""The typed result of an evaluation: :class:`EvalResult` (``eval.json`` and ``eval.csv``, schema
bgbench.eval/1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bgbench.eval.groups import GroupTable
from bgbench.jsonable import jsonable, versions
from bgbench.metrics import Gap, Proportion, accuracy, confusion_matrix, per_class_accuracy
from bgbench.provenance import command_line
from bgbench.results.base import Result, pct, pct_ci
from bgbench.results.text import Block

RESULTS_SCHEMA = "bgbench.eval/1"


@dataclass(repr=False)
class VariantResult:
    """Outcome on one variant. Arrays are aligned with ``paths`` (relative to the data root):
    ``labels`` int64 (N,), ``preds`` int64 (N,) mapped predictions in [-1, num_classes),
    ``top1`` int64 (N,) raw argmax over the model's outputs. A mixed variant of a built tree also has
    ``backgrounds`` int64 (N,), its background donor's class in [-1, num_classes) (-1: unknown),
    and ``groups``, its foreground x background table (:class:`~bgbench.eval.groups.GroupTable`)."""

    variant: str
    paths: list[str]
    labels: np.ndarray
    preds: np.ndarray
    top1: np.ndarray
    accuracy: Proportion
    per_class: list[Proportion]
    confusion: np.ndarray
    skipped: list[tuple[str, str]]
    fingerprint: str
    load_s: float
    infer_s: float
    cached: bool
    resumed: bool = False
    backgrounds: np.ndarray | None = None
    groups: GroupTable | None = None

    def __repr__(self) -> str:
        a = self.accuracy
        return f"<VariantResult {self.variant}: {pct_ci(a.value, [a.low, a.high])}, n={len(self.paths)}>"

    @property
    def correct(self) -> np.ndarray:
        return self.preds == self.labels

    @property
    def images_per_s(self) -> float:
        return len(self.paths) / self.infer_s if self.infer_s > 0 else float("nan")

    @classmethod
    def scored(cls, variant: str, paths: list[str], labels: np.ndarray, preds: np.ndarray, top1: np.ndarray,
               num_classes: int, **info: Any) -> VariantResult:
        """A VariantResult with accuracy, per-class accuracy and confusion computed from the arrays."""
        return cls(variant=variant, paths=paths, labels=labels, preds=preds, top1=top1,
                   accuracy=accuracy(labels, preds), per_class=per_class_accuracy(labels, preds, num_classes),
                   confusion=confusion_matrix(labels, preds, num_classes), **info)


@dataclass(repr=False)
class EvalResult(Result):
    """Everything one evaluation produced; :meth:`to_json` is the ``eval.json`` document."""

    SCHEMA: ClassVar[str] = RESULTS_SCHEMA
    FILENAME: ClassVar[str] = "eval.json"
    #: the per-variant table written beside it
    CSV_NAME: ClassVar[str] = "eval.csv"

    model: str
    model_info: dict[str, Any]
    data_root: str
    split: str
    class_names: list[str]
    label_map: dict[str, Any]
    map_rule: str
    variants: dict[str, VariantResult]
    bg_gap: Gap | None
    device: str
    precision: str
    batch_size: int
    total_s: float
    #: the ``--draws`` block (see :func:`bgbench.eval.draws.summarize_draws`), None without it
    draws: dict[str, Any] | None = None
    #: {variant: why it was not scored} for variants present in the tree but not scored (e.g. a
    #: mixed_next with no class folder because no class had a donor), in table order
    skipped_variants: dict[str, str] = field(default_factory=dict)
    #: per mixed variant, the group table of the ``--draws`` composites (None without draws)
    draw_groups: dict[str, GroupTable] | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    versions: dict[str, str] = field(default_factory=versions)
    #: the command line that produced it (:func:`bgbench.provenance.command_line`)
    command: str | None = field(default_factory=command_line)

    @property
    def data_fingerprint(self) -> str:
        """SHA-256 over the evaluated variants' content fingerprints (see :mod:`bgbench.data.images`)."""
        digest = hashlib.sha256(f"bgbench-data\0{self.split}\n".encode())
        for name in sorted(self.variants):
            digest.update(f"{name}\0{self.variants[name].fingerprint}\n".encode())
        return digest.hexdigest()

    @property
    def accuracy(self) -> dict[str, float]:
        """Variant -> accuracy in [0, 1] (NaN for an empty variant)."""
        return {name: r.accuracy.value for name, r in self.variants.items()}

    def to_json(self, predictions: bool = True) -> dict[str, Any]:
        v = self.variants
        gap = self.bg_gap
        doc: dict[str, Any] = {
            "schema": RESULTS_SCHEMA,
            "model": self.model,
            "accuracy": {name: r.accuracy.value for name, r in v.items()},
            "accuracy_ci95": {name: [r.accuracy.low, r.accuracy.high] for name, r in v.items()},
            "bg_gap": None if gap is None else gap.value,
            "bg_gap_ci95": None if gap is None else [gap.low, gap.high],
            "bg_gap_method": None if gap is None else gap.method,
            "n": {name: len(r.paths) for name, r in v.items()},
            "correct": {name: r.accuracy.k for name, r in v.items()},
            "skipped": {name: [list(s) for s in r.skipped] for name, r in v.items()},
            "map_rule": self.map_rule,
            "label_map": self.label_map,
            "class_names": self.class_names,
            "per_class": {name: dict(zip(self.class_names, (p.to_json() for p in r.per_class), strict=True))
                          for name, r in v.items()},
            "confusion": {name: r.confusion.tolist() for name, r in v.items()},
            "model_info": jsonable(self.model_info),
            "data": {"root": self.data_root, "split": self.split, "fingerprint": self.data_fingerprint,
                     "variants": {name: r.fingerprint for name, r in v.items()}},
            "versions": self.versions,
            "device": self.device,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "timing": {"total_s": self.total_s, "variants": {name: _timing(r) for name, r in v.items()}},
            "created": self.created,
            "command": self.command,
        }
        groups = {name: r.groups.to_json() for name, r in v.items() if r.groups is not None}
        if groups:
            doc["groups"] = groups
        if self.draws is not None:
            doc["draws"] = dict(self.draws)
            if self.draw_groups is not None:
                doc["draws"]["groups"] = {name: t.to_json() for name, t in self.draw_groups.items()}
        if self.skipped_variants:
            doc["skipped_variants"] = dict(self.skipped_variants)
        if predictions:
            doc["predictions"] = {name: _predictions(r) for name, r in v.items()}
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any], path: Path | None = None) -> EvalResult:
        """Rebuild from an ``eval.json`` document (its ``predictions`` are needed for the arrays)."""
        from bgbench.errors import BgbenchError

        if "predictions" not in doc:
            raise BgbenchError("eval result has no 'predictions' (written with predictions=False); "
                               "cannot rebuild the per-image arrays", path)
        from bgbench.textio import require

        for key, kind in (("predictions", dict), ("accuracy", dict), ("data", dict), ("class_names", list),
                          ("map_rule", str)):
            require(doc, key, kind, path)
        gap = None
        if doc.get("bg_gap") is not None:
            gap = Gap(doc["bg_gap"], *doc["bg_gap_ci95"], method=doc.get("bg_gap_method") or "")
        variants = {name: _variant_from_json(doc, name) for name in doc["accuracy"]}
        timing = doc.get("timing", {})
        draws = doc.get("draws")
        tables = None
        if draws is not None and "groups" in draws:
            tables = {name: GroupTable.from_json(t, list(doc["class_names"]))
                      for name, t in draws["groups"].items()}
            draws = {k: val for k, val in draws.items() if k != "groups"}
        return cls(model=doc["model"], model_info=doc.get("model_info", {}), data_root=doc["data"]["root"],
                   split=doc["data"]["split"], class_names=list(doc["class_names"]),
                   label_map=doc.get("label_map", {}), map_rule=doc["map_rule"], variants=variants,
                   bg_gap=gap, device=doc.get("device", ""), precision=doc.get("precision", ""),
                   batch_size=int(doc.get("batch_size", 0)), total_s=float(timing.get("total_s", 0.0)),
                   draws=draws, draw_groups=tables, skipped_variants=dict(doc.get("skipped_variants") or {}),
                   created=doc.get("created", ""), versions=doc.get("versions", {}),
                   command=doc.get("command"))

    def summary_lines(self) -> list[str]:
        gap = self.bg_gap
        lines = [f"eval {self.model} on {self.data_root} ({self.split}, map {self.map_rule}): "
                 f"{len(self.variants)} variant(s)"]
        for name, r in self.variants.items():
            lines.append(f"  {name:<11} {pct_ci(r.accuracy.value, [r.accuracy.low, r.accuracy.high]):>18}"
                         f"  n={len(r.paths)}")
        if gap is not None:
            lines.append(f"  BG-Gap      {100 * gap.value:+.1f} points [{100 * gap.low:+.1f}, "
                         f"{100 * gap.high:+.1f}] ({gap.method})")
        for name, why in self.skipped_variants.items():
            lines.append(f"  {name:<11} not scored: {why}")
        lines.extend(self.group_lines(only="mixed_rand"))
        if self.draws is not None:
            lines.extend(draw_lines(self.draws))
            lines.extend(self.group_lines(draws=True, only="mixed_rand"))
        return lines

    def group_lines(self, draws: bool = False, only: str | None = None) -> list[str]:
        """One line per group table (worst group, errors to the background's class): of the built
        mixed variants, or (``draws``) of the composites; ``only``: just that variant's."""
        if draws:
            tables = dict(self.draw_groups or {})
        else:
            tables = {name: r.groups for name, r in self.variants.items() if r.groups is not None}
        indent = "    " if draws else "  "
        return [f"{indent}groups {name:<11} {table.summary()}" for name, table in tables.items()
                if only is None or name == only]

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[name, pct(r.accuracy.value), f"{pct(r.accuracy.low, 0)}-{pct(r.accuracy.high, 0)}",
                 str(len(r.paths))] for name, r in self.variants.items()]
        if self.bg_gap is not None:
            g = self.bg_gap
            rows.append(["BG-Gap", f"{100 * g.value:+.1f} pts", f"{100 * g.low:+.1f}..{100 * g.high:+.1f}",
                         ""])
        return ["variant", "accuracy", "95% CI", "n"], rows

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per variant (see :func:`bgbench.eval.table.eval_csv_rows`)."""
        from bgbench.eval.table import eval_csv_rows

        return eval_csv_rows(self.to_json(predictions=False))

    def write_companions(self, out: Path) -> None:
        """``eval.csv`` beside eval.json: one row per variant."""
        from bgbench.eval.table import write_eval_csv

        write_eval_csv(out / self.CSV_NAME, self.to_json(predictions=False))

    def terminal(self) -> list[Block]:
        """The command line's view: accuracy per variant (95% interval, n, skipped, images/s) and the
        BG-Gap; per-class accuracy; skipped files and variants; the group lines of the mixed
        variants; with ``--draws`` the composites' accuracy, BG-Gap and groups."""
        from bgbench.eval.table import accuracy_table, per_class_table, skipped_lines

        doc = self.to_json(predictions=False)
        blocks: list[Block] = [accuracy_table(doc), per_class_table(doc), *skipped_lines(doc)]
        blocks += [line.strip() for line in self.group_lines()]
        if self.draws is not None:
            extra = draw_lines(self.draws) + self.group_lines(draws=True)
            blocks += [line.strip() if i == 0 else line for i, line in enumerate(extra)]
        return blocks

    def _document(self) -> dict[str, Any]:
        return self.to_json()


def draw_lines(block: dict[str, Any]) -> list[str]:
    """Summary lines of a ``--draws`` block."""
    lines = [f"  with {block['k']} donor draws per foreground ({block['method']}):"]
    for name, entry in block["variants"].items():
        lines.append(f"    {name:<11} {pct_ci(entry['value'], entry['ci95']):>18}  "
                     f"{entry['n_composites']} composites")
    gap = block["bg_gap"]
    if gap["value"] is not None:
        lo, hi = gap["ci95"]
        lines.append(f"    BG-Gap      {100 * gap['value']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]")
    return lines


def _timing(r: VariantResult) -> dict[str, Any]:
    return {"load_s": r.load_s, "infer_s": r.infer_s, "images_per_s": r.images_per_s, "cache_hit": r.cached,
            "resumed": r.resumed}


def _predictions(r: VariantResult) -> dict[str, Any]:
    out = {"path": r.paths, "label": r.labels.tolist(), "pred": r.preds.tolist(), "top1": r.top1.tolist()}
    if r.backgrounds is not None:
        out["background"] = r.backgrounds.tolist()
    return out


def _variant_from_json(doc: dict[str, Any], name: str) -> VariantResult:
    pred = doc["predictions"][name]
    timing = doc.get("timing", {}).get("variants", {}).get(name, {})
    groups = (doc.get("groups") or {}).get(name)
    background = pred.get("background")
    return VariantResult.scored(
        name, list(pred["path"]), np.asarray(pred["label"], dtype=np.int64),
        np.asarray(pred["pred"], dtype=np.int64), np.asarray(pred["top1"], dtype=np.int64),
        len(doc["class_names"]), skipped=[tuple(s) for s in doc.get("skipped", {}).get(name, [])],
        fingerprint=doc["data"].get("variants", {}).get(name, ""), load_s=float(timing.get("load_s", 0.0)),
        infer_s=float(timing.get("infer_s", 0.0)), cached=bool(timing.get("cache_hit", False)),
        resumed=bool(timing.get("resumed", False)),
        backgrounds=None if background is None else np.asarray(background, dtype=np.int64),
        groups=None if groups is None else GroupTable.from_json(groups, list(doc["class_names"])))
