"""``BuildResult``: what :func:`bgbench.builder.build_dataset` returns and ``OUT/build.json`` holds.

``build.json`` (schema ``bgbench.build/1``, docs/results.md) covers every split built into OUT; a
:class:`BuildResult` is one split of it: the one just built, or, read back by
:func:`bgbench.load_results`, ``val`` when OUT has it (else its only split); :meth:`BuildResult.for_split`
picks another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.errors import BgbenchError
from bgbench.layout import SPLITS
from bgbench.results.base import DocumentResult, doc_value, parent_folder
from bgbench.results.text import Block, TextTable

SCHEMA = "bgbench.build/1"
#: keys a BuildResult adds to build.json's content: this split's entry, where OUT is, what the run did
SPLIT_KEYS = ("out", "split", "summary", "config", "written")
#: how many drop reasons the one-line summary names
SHOWN_REASONS = 3


def _check_splits(doc: dict[str, Any], path: Path | None) -> dict[str, Any]:
    splits = doc.get("splits")
    if (not isinstance(splits, dict) or not splits
            or not all(isinstance(e, dict) and isinstance(e.get("summary"), dict) and "config" in e
                       for e in splits.values())):
        raise BgbenchError("not a bgbench build result (no 'splits' with a config and a summary)", path)
    return splits


def _default_split(splits: dict[str, Any]) -> str:
    """``val`` when built (the benchmark's test split), else the last built split."""
    known = [name for name in SPLITS if name in splits]
    return known[-1] if known else list(splits)[-1]


def _reasons_text(reasons: dict[str, int]) -> str:
    shown = [f"{reason} {count}" for reason, count in list(reasons.items())[:SHOWN_REASONS]]
    if len(reasons) > SHOWN_REASONS:
        shown.append(f"{len(reasons) - SHOWN_REASONS} more reasons")
    return ", ".join(shown)


class BuildResult(DocumentResult):
    """One split of a build.

    The document is ``build.json``'s content (``schema``, ``format``, ``versions``, ``splits``: {split:
    {``config``, ``config_hash``, ``summary``}}) plus this split's ``out`` (str), ``split``,
    ``summary`` and ``config`` (copies of ``splits[split]``), and ``written`` ({``phase1``: images
    segmented this run, ``mixed``: mixed-variant images written this run}; only on the result
    :func:`build_dataset` returns, absent when read back from build.json).
    """

    SCHEMA: ClassVar[str] = SCHEMA
    FILENAME: ClassVar[str] = "build.json"
    RUN_KEYS: ClassVar[tuple[str, ...]] = SPLIT_KEYS

    def __init__(self, doc: dict[str, Any], path: Path | None = None) -> None:
        splits = _check_splits(doc, path)
        split = doc.get("split", _default_split(splits))
        if split not in splits:
            raise BgbenchError(f"split {split!r} is not in this build (built: {', '.join(splits)})", path)
        out = doc.get("out") or parent_folder(path)
        entry = splits[split]
        super().__init__({"schema": SCHEMA, **doc, "out": out, "split": split, "summary": entry["summary"],
                          "config": entry["config"]}, path)

    @classmethod
    def of_run(cls, build_json: dict[str, Any], out: str | Path, split: str,
               written: dict[str, int]) -> BuildResult:
        """The result of a finished :func:`build_dataset` run (``build_json``: what it wrote)."""
        return cls({**build_json, "out": str(out), "split": split, "written": written})

    def for_split(self, split: str) -> BuildResult:
        """The same build seen from another built split (``written`` is dropped: not this run's)."""
        base = {k: v for k, v in self.doc.items() if k not in SPLIT_KEYS}
        return BuildResult({**base, "out": self.doc["out"], "split": split}, self.source_path)

    # -- typed view -----------------------------------------------------------------------------
    out = doc_value("out", path=True,
                    doc="The build's output folder (None for a document read from elsewhere without one).")

    split = doc_value("split")

    @property
    def splits(self) -> list[str]:
        """Every split built into OUT (build.json order)."""
        return list(self.doc["splits"])

    config = doc_value("config",
                       doc="The output-defining options of this split "
                           "(:class:`bgbench.builder.BuildConfig` as a dict).")

    _counts = doc_value("summary")

    @property
    def images(self) -> int:
        return int(self._counts.get("images", self.kept + self.dropped))

    kept = doc_value("summary.kept", int)

    dropped = doc_value("summary.dropped", int)

    @property
    def per_class(self) -> dict[str, dict[str, int]]:
        """{class folder: {"kept": int, "dropped": int}}."""
        return self._counts.get("per_class", {})

    @property
    def drop_reasons(self) -> dict[str, int]:
        """{reason category: images dropped for it}, most frequent first."""
        return self._counts.get("drop_reasons", {})

    @property
    def per_class_target(self) -> int | None:
        """N of a balanced build (``per_class``), else None."""
        return self._counts.get("per_class_target")

    @property
    def shortfall(self) -> dict[str, int]:
        """{class folder: kept images missing} of a balanced build's classes that ran out."""
        return self._counts.get("shortfall") or {}

    written = doc_value("written", default=None)

    versions = doc_value("versions", default={})

    # -- views ----------------------------------------------------------------------------------
    def summary_lines(self) -> list[str]:
        head = f"build {self.out}: split {self.split}, {self.kept} kept of {self.images}"
        if self.dropped:
            head += f" ({self.dropped} dropped: {_reasons_text(self.drop_reasons)})"
        config = self.config
        lines = [head, f"segmenter {config.get('segmenter')}, source {config.get('source')} "
                       f"({config.get('source_format')}), seed {config.get('seed')}"]
        target = self.per_class_target
        if target is not None and self.shortfall:
            lines.append(f"SHORTFALL: {len(self.shortfall)} class(es) below {target} kept: "
                         + ", ".join(f"{name} ({n} missing)" for name, n in self.shortfall.items()))
        elif target is not None:
            lines.append(f"balanced: {target} kept images in every class")
        lines += gap_lines(self._counts)
        if self.written is not None:
            lines.append(f"this run: {self.written.get('phase1', 0)} images segmented, "
                         f"{self.written.get('mixed', 0)} mixed images written")
        others = [s for s in self.splits if s != self.split]
        if others:
            lines.append("also built: " + ", ".join(
                f"{s} ({self.doc['splits'][s]['summary'].get('kept')} kept)" for s in others))
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[name, str(row.get("kept", 0)), str(row.get("dropped", 0))]
                for name, row in self.per_class.items()]
        rows.append([f"total ({self.split})", str(self.kept), str(self.dropped)])
        return ["class", "kept", "dropped"], rows

    def terminal(self) -> list[Block]:
        """The command line's view: kept and dropped per class with the split's total, then the drop
        reasons, a balanced build's shortfall, mixed images without a donor, variants missing a
        class, refused entries, the IN-9L counts and the mask IoU against provided masks."""
        header, rows = self.table()
        table = TextTable(header, [*rows[:-1], None, rows[-1]])
        return [table, *detail_lines(self._counts)]


def detail_lines(summary: dict[str, Any]) -> list[str]:
    """The lines under a build's per-class table (``summary``: a split's summary in build.json)."""
    lines = []
    if summary.get("drop_reasons"):
        lines.append("drop reasons:")
        lines += [f"  {count:>6}  {reason}" for reason, count in summary["drop_reasons"].items()]
    target = summary.get("per_class_target")
    short = summary.get("shortfall") or {}
    if target is not None and short:
        detail = ", ".join(f"{name} kept {target - n} ({n} missing)" for name, n in short.items())
        lines.append(f"SHORTFALL: {len(short)} class(es) ran out of usable images before reaching {target} "
                     f"kept: {detail}")
    elif target is not None:
        lines.append(f"balanced: {target} kept images in every class")
    if summary.get("mixed_without_donor"):
        lines.append("mixed images without a donor: " + ", ".join(
            f"{v} {n}" for v, n in summary["mixed_without_donor"].items()))
    if summary.get("mixed_same_own_background"):
        lines.append(f"mixed_same on the image's own background (only kept image of its class): "
                     f"{summary['mixed_same_own_background']}")
    lines += gap_lines(summary)
    if "original_only" in summary:
        why = ", ".join(f"{reason} {n}" for reason, n in summary["original_only_reasons"].items())
        lines.append(f"IN-9L: {summary['boxed']} kept with box variants, {summary['original_only']} in "
                     f"original only" + (f" ({why})" if why else ""))
    iou = summary.get("mask_iou")
    if iou:
        lines.append(f"mask IoU vs provided masks (n={iou['n']}): mean {iou['mean']:.3f}, "
                     f"median {iou['median']:.3f}, p10 {iou['p10']:.3f}")
    return lines


def gap_lines(summary: dict[str, Any]) -> list[str]:
    """Summary lines for what a build could not give: mixed variants missing a class (and why), and
    dataset entries refused as unsafe (first three named)."""
    lines = []
    for variant, gaps in (summary.get("variant_gaps") or {}).items():
        detail = "; ".join(f"{name} ({why})" for name, why in gaps.items())
        lines.append(f"{variant} has no image of {detail}")
    refused = (summary.get("source") or {}).get("refused") or []
    if refused:
        lines.append(f"refused {len(refused)} unsafe dataset entr{'y' if len(refused) == 1 else 'ies'}: "
                     + "; ".join(f"{name!r} ({why})" for name, why in refused[:3])
                     + (" ..." if len(refused) > 3 else ""))
    return lines
