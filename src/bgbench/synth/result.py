"""``SynthResult``: what :func:`bgbench.synth.synthesize` returns and ``OUT/synth-<split>.json`` holds.

The document (schema ``bgbench.synth/1``, docs/results.md) is the split's options and summary
counts; the result :func:`synthesize` returns adds ``out`` and the run's own numbers (rendered,
reused, stale images, timings), which a result read back with :func:`bgbench.load_results` lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.errors import BgbenchError
from bgbench.results.base import DocumentResult, parent_folder

SCHEMA = "bgbench.synth/1"


class SynthResult(DocumentResult):
    """One synthesized split.

    Document: ``schema``; ``config`` {format, per_class, split, seed, bg_correlation, size};
    ``images``, ``objects``, ``two_object_images`` (int); ``habitat_match_rate``,
    ``mean_object_area_fraction`` (fractions in [0, 1]); ``classes`` {class: {wnid, object_family,
    habitat}}; ``out`` (str, the tree's folder). From :func:`synthesize` also ``rendered``,
    ``reused``, ``stale_images`` (int), ``seconds``, ``cpu_seconds``, ``images_per_second``,
    ``images_per_cpu_second`` (float).
    """

    SCHEMA: ClassVar[str] = SCHEMA
    FILENAME: ClassVar[str] = "synth-*.json"

    def __init__(self, doc: dict[str, Any], path: Path | None = None) -> None:
        config = doc.get("config")
        if not isinstance(config, dict) or "split" not in config or not isinstance(doc.get("images"), int):
            raise BgbenchError("not a bgbench synth result (no 'config' with a split, or no 'images' count)",
                               path)
        out = doc.get("out") or parent_folder(path)
        super().__init__({"schema": SCHEMA, **doc, "out": out}, path)

    # -- typed view -----------------------------------------------------------------------------
    @property
    def out(self) -> Path | None:
        """The synthesized tree (the ``source`` of ``bgbench build``)."""
        return self.path_field("out")

    @property
    def config(self) -> dict[str, Any]:
        return self.doc["config"]

    @property
    def split(self) -> str:
        return self.config["split"]

    @property
    def per_class(self) -> int:
        return int(self.config["per_class"])

    @property
    def bg_correlation(self) -> float:
        """The requested probability that an image's habitat is its class's own."""
        return float(self.config["bg_correlation"])

    @property
    def images(self) -> int:
        return int(self.doc["images"])

    @property
    def objects(self) -> int:
        return int(self.doc.get("objects", 0))

    @property
    def habitat_match_rate(self) -> float:
        """The share of images whose habitat is their class's own (close to ``bg_correlation``)."""
        return float(self.doc.get("habitat_match_rate", 0.0))

    @property
    def classes(self) -> dict[str, dict[str, str]]:
        return self.doc.get("classes", {})

    @property
    def rendered(self) -> int | None:
        """Images rendered by this run (None when read back from the file)."""
        return self.doc.get("rendered")

    @property
    def reused(self) -> int | None:
        """Images kept from an earlier run (None when read back from the file)."""
        return self.doc.get("reused")

    @property
    def stale_images(self) -> int | None:
        """Images under ``out/<split>`` not produced by this run (None when read back)."""
        return self.doc.get("stale_images")

    # -- views ----------------------------------------------------------------------------------
    def summary_lines(self) -> list[str]:
        config = self.config
        lines = [f"synth {self.split} {self.out}: {self.images} images ({self.per_class} per class), "
                 f"{self.objects} objects, {self.doc.get('two_object_images', 0)} two-object images",
                 f"habitat match {self.habitat_match_rate:.3f} (requested {self.bg_correlation:.3f}), "
                 f"seed {config.get('seed')}, size {config.get('size')}"]
        if self.rendered is not None:
            lines.append(f"this run: {self.rendered} rendered, {self.reused} reused, "
                         f"{self.doc.get('images_per_second', 0.0):.1f} images/s")
        if self.stale_images:
            lines.append(f"warning: {self.stale_images} images in {self.split}/ are not part of this run")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[name, info.get("wnid", ""), info.get("object_family", ""), info.get("habitat", ""),
                 str(self.per_class)] for name, info in self.classes.items()]
        return ["class", "wnid", "object family", "habitat", "images"], rows
