"""Typed results of ``bgbench saliency`` (:class:`SaliencyResult`, ``saliency.json``, schema
bgbench.saliency/1) and ``bgbench probe`` (:class:`ProbeResult`, ``probe.json``, bgbench.probe/1);
both also write a CSV beside the JSON (docs/results.md lists every field)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, doc_value, pct, pct_ci

SALIENCY_SCHEMA = "bgbench.saliency/1"
PROBE_SCHEMA = "bgbench.probe/1"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(ci: list | None, digits: int = 2) -> str:
    if not ci or ci[0] is None:
        return ""
    return f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """Write a CSV (``header``, then ``rows``) atomically."""
    from bgbench.atomic import atomic_write_text

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def finish(cls: type, doc: dict[str, Any], out: str | Path | None, draw: Callable[[Path], list[str]]) -> Any:
    """``cls(doc)``; with ``out``, first ``doc["figures"] = draw(out)`` (the file names it wrote),
    then the result's JSON and CSV written there."""
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        doc["figures"] = draw(out)
    result = cls(doc)
    if out is not None:
        result.write(out)
    return result


class SaliencyResult(DocumentResult):
    """A saliency.json document: ``method`` and its ``attribution`` parameters; per model (``models``)
    the mean ``foreground_share``, ``mask_area`` and ``foreground_focus`` with ``focus_ci`` (95%
    bootstrap over images), ``n`` and per-image values (``images``); ``comparison`` (two models or
    more: each model's focus minus the first's, paired by image); ``figures``."""

    SCHEMA: ClassVar[str] = SALIENCY_SCHEMA
    FILENAME: ClassVar[str] = "saliency.json"

    method = doc_value("method", str)
    figures = doc_value("figures", list, [])

    @property
    def models(self) -> list[dict[str, Any]]:
        return list(self.doc["models"])

    def focus(self, index: int = 0) -> float | None:
        """Mean foreground focus of the ``index``-th model."""
        return self.models[index]["foreground_focus"]

    def summary_lines(self) -> list[str]:
        d = self.doc
        lines = [
            f"saliency ({d['method']}) on {d['data']['n_images']} {d['data']['variant']} images; "
            "focus = foreground share / mask area (1 = no preference)"
        ]
        for m in self.models:
            lines.append(
                f"  {m['model']}: focus {_num(m['foreground_focus'], 2)}{_interval(m['focus_ci'])}, "
                f"share {pct(m['foreground_share'])} of attribution on {pct(m['mask_area'])} of pixels "
                f"(n={m['n']}, accuracy {pct(m.get('accuracy'))})"
            )
        for c in d.get("comparison", []):
            lines.append(
                f"  focus {c['model']} - {c['reference']}: {_num(c['difference'], 2)}{_interval(c['ci95'])}"
            )
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [
            [
                m["model"],
                _num(m["foreground_focus"], 2) + _interval(m["focus_ci"]),
                pct(m["foreground_share"]),
                pct(m["mask_area"]),
                str(m["n"]),
            ]
            for m in self.models
        ]
        return ["model", "foreground focus [95% CI]", "foreground share", "mask area", "n"], rows

    def write_companions(self, out: Path) -> None:
        """``saliency.csv`` beside saliency.json: one row per model and image."""
        header = [
            "model",
            "image",
            "label",
            "predicted",
            "correct",
            "foreground_share",
            "mask_area",
            "foreground_focus",
        ]
        rows = [[m["model"], *[img[k] for k in header[1:]]] for m in self.models for img in m["images"]]
        _write_csv(out / "saliency.csv", header, rows)


class ProbeResult(DocumentResult):
    """A probe.json document: ``kind`` (position, scale or noise), ``model``, ``n`` foregrounds,
    ``cells`` (per setting: ``accuracy`` with its Wilson ``ci``), ``center_bias`` (position) or
    ``rfs`` (noise, per sigma), per-image outcomes (``images``), provenance and ``figures``."""

    SCHEMA: ClassVar[str] = PROBE_SCHEMA
    FILENAME: ClassVar[str] = "probe.json"

    probe_kind = doc_value("kind", str)
    model = doc_value("model", str)
    n = doc_value("n", int)
    figures = doc_value("figures", list, [])
    center_bias = doc_value("center_bias", default=None)
    rfs = doc_value("rfs", default=None)

    @property
    def cells(self) -> list[dict[str, Any]]:
        return list(self.doc["cells"])

    def accuracy(self, setting: str) -> float:
        """Accuracy of one setting (``r1c1``, ``scale=0.5``, ``bg_noise=0.25``, ...)."""
        return next(c["accuracy"] for c in self.cells if c["setting"] == setting)

    def summary_lines(self) -> list[str]:
        d = self.doc
        lines = [f"probe {d['kind']} of {d['model']} on {d['n']} foregrounds"]
        lines.append("  " + ", ".join(f"{c['setting']} {pct(c['accuracy'], 0)}" for c in self.cells))
        cb = d.get("center_bias")
        if cb:
            lines.append(
                f"  center bias {100 * cb['value']:+.1f} points"
                + (
                    ""
                    if cb["ci95"][0] is None
                    else f" [{100 * cb['ci95'][0]:+.1f}, {100 * cb['ci95'][1]:+.1f}]"
                )
            )
        for r in d.get("rfs") or []:
            lines.append(f"  RFS at sigma {r['sigma']:g}: {r['value']:+.2f}{_interval(r['ci95'])}")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [
            [c["setting"], pct_ci(c["accuracy"], c["ci"]), f"{c['correct']}/{c['n']}"] for c in self.cells
        ]
        return ["setting", "accuracy [95% CI]", "correct"], rows

    def write_companions(self, out: Path) -> None:
        """``probe.csv`` beside probe.json: one row per setting."""
        rows = [
            [
                self.doc["kind"],
                self.doc["model"],
                c["setting"],
                c["accuracy"],
                c["ci"][0],
                c["ci"][1],
                c["correct"],
                c["n"],
            ]
            for c in self.cells
        ]
        header = ["kind", "model", "setting", "accuracy", "ci_low", "ci_high", "correct", "n"]
        _write_csv(out / "probe.csv", header, rows)
