"""``SynthResult``: what :func:`bgbench.synth.synthesize` returns and ``OUT/synth-<split>.json`` holds.

The document (schema ``bgbench.synth/1``, docs/results.md) is the split's options and summary
counts; the result :func:`synthesize` returns adds ``out`` and the run's own numbers (rendered,
reused, stale images, timings), which a result read back with :func:`bgbench.load_results` lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bgbench.errors import BgbenchError
from bgbench.results.base import DocumentResult, doc_value, parent_folder

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
    RUN_KEYS: ClassVar[tuple[str, ...]] = ("out", "stale_images", "rendered", "reused", "seconds",
                                           "cpu_seconds", "images_per_second", "images_per_cpu_second")

    def __init__(self, doc: dict[str, Any], path: Path | None = None) -> None:
        config = doc.get("config")
        if not isinstance(config, dict) or "split" not in config or not isinstance(doc.get("images"), int):
            raise BgbenchError("not a bgbench synth result (no 'config' with a split, or no 'images' count)",
                               path)
        out = doc.get("out") or parent_folder(path)
        super().__init__({"schema": SCHEMA, **doc, "out": out}, path)

    def filename(self) -> str:
        """``synth-<split>.json``."""
        return f"synth-{self.split}.json"

    # -- typed view -----------------------------------------------------------------------------
    out = doc_value("out", path=True, doc="The synthesized tree (the ``source`` of ``bgbench build``).")

    config = doc_value("config")

    split = doc_value("config.split", str)
    per_class = doc_value("config.per_class", int)
    bg_correlation = doc_value("config.bg_correlation", float,
                               doc="The requested probability that an image's habitat is its class's own.")

    images = doc_value("images", int)

    objects = doc_value("objects", int, 0)

    habitat_match_rate = doc_value("habitat_match_rate", float, 0.0,
                                   doc="The share of images whose habitat is their class's own (close to "
                                   "``bg_correlation``).")

    classes = doc_value("classes", default={})

    rendered = doc_value("rendered", default=None,
                         doc="Images rendered by this run (None when read back from the file).")

    reused = doc_value("reused", default=None,
                       doc="Images kept from an earlier run (None when read back from the file).")

    stale_images = doc_value("stale_images", default=None,
                             doc="Images under ``out/<split>`` not produced by this run (None when read "
                             "back).")

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
            lines.append(f"warning: {self.stale_images} images in {self.split}/ are not part of this run "
                         f"(left from an earlier run with more images or other options; not in "
                         f"synth-{self.split}.jsonl)")
        return lines

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[name, info.get("wnid", ""), info.get("object_family", ""), info.get("habitat", ""),
                 str(self.per_class)] for name, info in self.classes.items()]
        return ["class", "wnid", "object family", "habitat", "images"], rows
