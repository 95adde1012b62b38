"""The settings of a build: :class:`BuildConfig` (what defines the output bytes) with its
:class:`BuildRun` (how fast: executor and workers, which change no byte), and the :data:`PRESETS`.

``build_dataset(source, out, config, *, quiet)`` (:func:`bgbench.builder.build_dataset`) takes the
source apart from the config. The resume key and ``build.json``'s ``config`` are
:meth:`BuildConfig.to_json` of the resolved source: every output-defining field, never ``run`` (a
build resumed with another executor or worker count continues, and ends byte-identical). This
module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bgbench.config import check_numbers, number
from bgbench.errors import BgbenchError
from bgbench.layout import SPLITS

PRESETS: dict[str, dict[str, Any]] = {
    # the authors' generator: one box per image, GrabCut, 90% crop coverage, Resize 256 + crop 224
    "released": {"single_box": True, "segmenter": "grabcut", "max_box_fraction": 0.9, "min_box_inside": 0.5,
                 "resize": 256, "size": 224, "grabcut_iters": 5},
    # IN-9L, the training set: original of every image of the nine classes, boxed or not, no box
    # filters; the variants that need a box (and the mixed ones) for the boxed subset
    "in9l": {"all_images": True, "split": "train", "max_box_fraction": 1.0, "min_box_inside": 0.0},
}


@dataclass(frozen=True)
class BuildRun:
    """How a build runs, not what it writes: ``executor`` (``process``, the default: local worker
    processes; ``serial``; ``ray``) and ``workers`` (how many images run at once, >= 1; None: all
    cores, serial: 1). Checked when made (:func:`bgbench.executors.check_executor`: an unknown
    executor, ``workers < 1``, ``workers > 1`` with ``serial``, or ``ray`` without Ray)."""

    executor: str = "process"
    workers: int | None = number(None, low=1)

    def __post_init__(self) -> None:
        from bgbench.executors import check_executor

        check_numbers(self)
        check_executor(self.executor, self.workers)


@dataclass(frozen=True)
class BuildConfig:
    """Everything that defines a build's output bytes, plus ``run`` (:class:`BuildRun`: executor and
    workers, which do not).

    - ``source_format``: ``imagenet``, ``voc``, ``coco`` or ``folder`` (or ``synth``); ``split``:
      ``val`` or ``train``; ``masks`` / ``class_map``: a folder of provided masks / a JSON {dataset
      class: benchmark class} file (resolved against the working directory when the build starts).
    - ``segmenter``: ``grabcut``, ``box`` or ``mask`` (provided masks); ``grabcut_iters`` (>= 1)
      GrabCut iterations, ``grabcut_tries`` (>= 1) attempts, ``min_mask_fraction`` the smallest mask,
      as a fraction of the box, GrabCut may return.
    - ``per_class`` N (>= 1; None: every image): a balanced build, N *kept* images per class;
      ``seed``: seeds GrabCut, the per-class ranking and the donors of the mixed variants.
    - filters: ``max_box_fraction`` in (0, 1] (drop an image whose box covers more of the crop),
      ``min_box_inside`` in [0, 1] (drop one with less of the box inside the crop), ``single_box``
      (exactly one box, the paper's filter).
    - geometry: ``resize`` (shorter side before the centre crop, px) >= ``size`` (output side, px)
      >= 8; ``jpeg_quality`` in 1..100.
    - ``all_images``: IN-9L, every readable image of the classes kept with its ``original``, boxed or
      not; box variants, fg_mask and mixed images for the boxed ones.

    :meth:`preset` gives the ``released`` or ``in9l`` settings (change fields with
    ``dataclasses.replace``).
    """

    source_format: str = "imagenet"
    split: str = "val"
    segmenter: str = "grabcut"
    per_class: int | None = number(None, low=1)
    seed: int = number(0)
    grabcut_iters: int = number(5, low=1)
    grabcut_tries: int = number(10, low=1)
    min_mask_fraction: float = number(0.1, low=0, high=1, whole=False)
    max_box_fraction: float = number(0.9, low=0, high=1, whole=False, low_open=True)
    min_box_inside: float = number(0.5, low=0, high=1, whole=False)
    size: int = number(224, low=8)
    resize: int = number(256, low=8)
    single_box: bool = False
    masks: str | Path | None = None
    class_map: str | Path | None = None
    jpeg_quality: int = number(95, low=1, high=100)
    all_images: bool = False
    run: BuildRun = field(default_factory=BuildRun)

    def __post_init__(self) -> None:
        from bgbench.segment import METHODS

        if self.split not in SPLITS:
            raise BgbenchError(f"unknown split {self.split!r} (choose from {', '.join(SPLITS)})")
        if self.segmenter not in METHODS:
            raise BgbenchError(f"unknown segmenter {self.segmenter!r} (choose from {', '.join(METHODS)})")
        check_numbers(self)
        if self.resize < self.size:
            raise BgbenchError(f"need size <= resize, got size {self.size}, resize {self.resize}")
        if not isinstance(self.run, BuildRun):
            raise BgbenchError(f"BuildConfig.run must be a BuildRun, got {type(self.run).__name__}")

    @classmethod
    def preset(cls, name: str) -> BuildConfig:
        """The settings of preset ``name``: ``released`` (the authors' generator) or ``in9l`` (the
        IN-9L training set); the other fields keep their defaults."""
        if name not in PRESETS:
            raise BgbenchError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
        return cls(**PRESETS[name])

    def resolved(self) -> BuildConfig:
        """This config with ``masks`` and ``class_map`` as absolute path strings (what the key records)."""
        paths = {k: str(Path(getattr(self, k)).resolve()) for k in ("masks", "class_map")
                 if getattr(self, k) is not None}
        return replace(self, **paths) if paths else self

    def to_json(self, source: str | Path | None = None) -> dict[str, Any]:
        """The output-defining options, as ``build.json`` records them and the resume key compares:
        ``source`` first (when given), then every field in order except ``run``; ``all_images`` only when
        set, so the configuration (and its hash) of every other build stays what it was before the
        option existed."""
        values: dict[str, Any] = {} if source is None else {"source": str(source)}
        values.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "run"})
        values = {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}
        if not self.all_images:
            del values["all_images"]
        return values


__all__ = ["PRESETS", "BuildConfig", "BuildRun"]
