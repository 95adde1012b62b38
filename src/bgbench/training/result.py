"""The typed result of a training run: :class:`TrainResult` (``train.json``, schema bgbench.train/1)."""

from __future__ import annotations

from typing import Any, ClassVar

from bgbench.results.base import DocumentResult, pct, pct_ci

TRAIN_SCHEMA = "bgbench.train/1"


class TrainResult(DocumentResult):
    """A train.json document: ``checkpoint`` (path of model.safetensors), ``mode`` (full or
    head-only), ``variant``, ``history`` (per epoch: loss, train_accuracy, images_per_s),
    ``eval`` (accuracy per val variant, BG-Gap; the eval.json lies in ``eval_dir``; None with
    ``--no-eval``), ``eval_data`` (the tree evaluated), ``distributed`` (world size, global batch) and
    ``challenge`` (accuracy) when run."""

    SCHEMA: ClassVar[str] = TRAIN_SCHEMA
    FILENAME: ClassVar[str] = "train.json"

    @property
    def checkpoint(self) -> str:
        return str(self.doc["checkpoint"])

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.doc.get("history", []))

    @property
    def accuracy(self) -> dict[str, float]:
        return dict((self.doc.get("eval") or {}).get("accuracy", {}))

    @property
    def bg_gap(self) -> float | None:
        return (self.doc.get("eval") or {}).get("bg_gap")

    def summary_lines(self) -> list[str]:
        d = self.doc
        swap = d.get("swap")
        spec = (d.get("model") or {}).get("spec") or d.get("arch")
        how = f"{d['mode']} on {d['variant']}" + (f" + swap p={swap['p']}" if swap else "")
        last = self.history[-1] if self.history else {}
        lines = [
            f"train {spec} ({how}): "
            f"{len(self.history)} epoch(s), final loss {last.get('loss', float('nan')):.3f}",
            f"  checkpoint {self.checkpoint}",
        ]
        ev = d.get("eval") or {}
        if d.get("eval_data") and d.get("eval_data") != (d.get("data") or {}).get("root"):
            lines.append(f"  evaluated on {d['eval_data']} ({ev.get('data', {}).get('split', 'val')})")
        elif not ev:
            lines.append("  not evaluated (--no-eval)")
        for name, value in ev.get("accuracy", {}).items():
            lines.append(f"  {name:<11} {pct_ci(value, ev.get('accuracy_ci95', {}).get(name))}")
        if ev.get("bg_gap") is not None:
            lo, hi = ev.get("bg_gap_ci95") or (None, None)
            lines.append(
                f"  BG-Gap      {100 * ev['bg_gap']:+.1f} points"
                + ("" if lo is None else f" [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            )
        if d.get("challenge"):
            lines.append(f"  challenge   {pct(d['challenge'].get('accuracy'))}")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [
            [
                str(h["epoch"]),
                f"{h['loss']:.4f}",
                pct(h.get("train_accuracy")),
                f"{h.get('images_per_s', 0):.0f}",
            ]
            for h in self.history
        ]
        return ["epoch", "loss", "train accuracy", "images/s"], rows
