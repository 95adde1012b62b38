"""What every reader returns (:class:`SourceSet`) and the helpers readers share.

Shared rules: samples are sorted by (label, source_id); stems are unique within a class (a repeated
stem gets ``__2``, ``__3``... in sorted order); a balanced subset (``per_class``) ranks each class's
usable samples by a seeded hash of their ``source_id`` so the choice of one file does not depend on
which other files exist.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import bgbench.sources.reasons as reasons
from bgbench.classes import IN9_CLASSES, IN9_FOLDERS
from bgbench.containment import Containment
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_EXTENSIONS
from bgbench.sources.masks import PngMask
from bgbench.sources.paths import outside_problem, stem_problem
from bgbench.sources.samples import Box, Sample
from bgbench.textio import read_json


@dataclass
class SourceSet:
    """The samples of one source split, ready for the build.

    ``class_names[label]`` names each sample's class (IN-9 folder names ``00_dog``.. for ImageNet);
    ``samples`` are in deterministic order (class, then source-relative path); ``has_masks`` says
    whether any sample carries a provided mask. ``skipped`` counts files that never became samples
    (e.g. images of ImageNet classes outside IN-9), by reason; samples the build must drop carry
    their reason in ``Sample.problem`` instead. ``refused`` lists (entry, reason) for dataset entries
    refused before their class could be known (a VOC split-list id such as ``../../x``): they are
    counted in ``skipped`` too and listed by name in the summary.
    """

    class_names: list[str]
    samples: list[Sample]
    has_masks: bool
    format: str = "imagenet"
    root: Path | None = None
    split: str = "val"
    skipped: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_samples(cls, samples: list[Sample], class_names: list[str], fmt: str, root: Path, split: str,
                     skipped: dict[str, int], options: dict[str, Any],
                     mask_roots: list[Path] | None = None) -> SourceSet:
        """What a reader returns: ``samples`` put in order with unique, safe stems, and images outside
        ``root`` (masks outside ``mask_roots`` and ``root``) dropped (:func:`finalize`); ``has_masks``
        set when any of them carries a provided mask."""
        if mask_roots is not None:
            mask_roots = [*mask_roots, root]
        ordered = finalize(samples, None if root is None else [root], mask_roots)
        return cls(class_names=class_names, samples=ordered,
                   has_masks=any(s.mask_ref is not None for s in ordered), format=fmt, root=root,
                   split=split, skipped=skipped, options=options)

    @property
    def problems_count(self) -> int:
        """Number of samples already known to be unusable (``problem`` set)."""
        return sum(1 for s in self.samples if s.problem)

    def problem_counts(self) -> dict[str, int]:
        """Reader-detected drop reasons by category (see :mod:`bgbench.sources.reasons`), sorted."""
        counts = Counter(reasons.reason_category(s.problem) for s in self.samples if s.problem)
        return dict(sorted(counts.items()))

    def class_counts(self) -> dict[str, int]:
        """Samples per class name (all samples, usable or not)."""
        counts = Counter(s.label for s in self.samples)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: format, root, split, counts per class, problems and skipped files."""
        return {
            "format": self.format,
            "root": None if self.root is None else str(self.root),
            "split": self.split,
            "classes": list(self.class_names),
            "samples": len(self.samples),
            "usable": len(self.samples) - self.problems_count,
            "per_class": self.class_counts(),
            "has_masks": self.has_masks,
            "problems": self.problem_counts(),
            "skipped": dict(sorted(self.skipped.items())),
            "refused": [list(item) for item in self.refused],
            "options": dict(self.options),
        }


def check_boxes(boxes: tuple[Box, ...] | list[Box], size: tuple[int, int] | None) -> str | None:
    """Drop reason for invalid boxes, or None.

    A box (xmin, ymin, xmax, ymax) of inclusive corners is empty when ``xmax <= xmin`` or
    ``ymax <= ymin`` (a box one pixel wide has no interior to segment); it is outside the image when a
    corner is negative or, with ``size = (width, height)``, when ``xmax >= width`` or ``ymax >= height``.
    """
    for box in boxes:
        xmin, ymin, xmax, ymax = box
        if xmax <= xmin or ymax <= ymin:
            return reasons.reason(reasons.EMPTY_BOX, f"box {list(box)}")
    for box in boxes:
        xmin, ymin, xmax, ymax = box
        if min(box) < 0 or (size is not None and (xmax >= size[0] or ymax >= size[1])):
            where = "" if size is None else f" in a {size[0]}x{size[1]} image"
            return reasons.reason(reasons.BOX_OUTSIDE, f"box {list(box)}{where}")
    return None


def clamp_edge_boxes(boxes: list[Box], size: tuple[int, int] | None) -> list[Box]:
    """Pull a corner lying exactly one pixel past the far edge (``xmax == width``) back inside.

    Real ImageNet XMLs often write the image width/height as xmax/ymax (an exclusive corner); that
    one-pixel slack is tolerated. Anything further out is left for :func:`check_boxes` to reject.
    """
    if size is None:
        return list(boxes)
    width, height = size
    out = []
    for xmin, ymin, xmax, ymax in boxes:
        out.append((xmin, ymin, width - 1 if xmax == width else xmax, height - 1 if ymax == height else ymax))
    return out


def box_area(box: Box) -> int:
    """Pixel count of an inclusive-corner box (0 for empty boxes)."""
    return max(0, box[2] - box[0] + 1) * max(0, box[3] - box[1] + 1)


def finalize(samples: list[Sample], image_roots: list[Path] | None = None,
             mask_roots: list[Path] | None = None) -> list[Sample]:
    """Sort by (label, source_id), refuse unsafe entries and make stems unique within each class.

    A stem that cannot name an output file (:func:`bgbench.sources.paths.stem_problem`) is replaced
    by ``_unsafe_<hash of source_id>`` and the sample dropped with that reason; with ``image_roots``,
    an image (and with ``mask_roots``, a PNG mask) that resolves outside those folders is dropped
    (:func:`~bgbench.sources.paths.outside_problem`). Stems are compared case-insensitively (two
    files ``Dog.jpg`` and ``dog.jpg`` must not land on one file of a case-insensitive disk): the first
    sample keeps its stem, a repeat becomes ``stem__2``, ``stem__3``, ..., skipping taken names.
    """
    images = Containment(image_roots) if image_roots else None
    masks = Containment(mask_roots) if mask_roots is not None else None
    ordered = [_refuse_unsafe(s, images, masks)
               for s in sorted(samples, key=lambda s: (s.label, s.source_id))]
    stems: dict[int, set[str]] = {}
    for s in ordered:
        stems.setdefault(s.label, set()).add(s.stem.casefold())
    used: dict[int, set[str]] = {label: set() for label in stems}
    out = []
    for s in ordered:
        taken = used[s.label]
        if s.stem.casefold() not in taken:
            taken.add(s.stem.casefold())
            out.append(s)
            continue
        k = 2
        while f"{s.stem}__{k}".casefold() in taken or f"{s.stem}__{k}".casefold() in stems[s.label]:
            k += 1
        taken.add(f"{s.stem}__{k}".casefold())
        out.append(replace(s, stem=f"{s.stem}__{k}"))
    return out


def _refuse_unsafe(sample: Sample, images: Containment | None, masks: Containment | None) -> Sample:
    """``sample`` with a safe stem, dropped (``problem`` set) when its stem, image or mask is unsafe.

    A file outside the dataset is the reason that wins over whatever the reader found (a link to a
    private photo must be reported as such, not as a missing annotation)."""
    problem = stem_problem(sample.stem)
    if problem is not None:
        digest = hashlib.sha256(sample.source_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return replace(sample, stem=f"_unsafe_{digest}", problem=problem)
    if images is not None:
        problem = outside_problem(sample.image_path, images)
    if problem is None and masks is not None and isinstance(sample.mask_ref, PngMask):
        problem = outside_problem(sample.mask_ref.path, masks)
    return sample if problem is None else replace(sample, problem=problem)


def sample_rank(source_id: str, seed: int = 0) -> str:
    """A sample's rank in a balanced selection: ``sha256(f"{seed}:{source_id}")`` (hex; lower first)."""
    return hashlib.sha256(f"{seed}:{source_id}".encode("utf-8", "surrogateescape")).hexdigest()


def rank_per_class(samples: list[Sample], seed: int = 0) -> dict[int, list[Sample]]:
    """Each class's usable samples (``problem`` unset), best-ranked first (see :func:`sample_rank`).

    The order is deterministic for a seed and stable when unrelated files are added. A balanced build
    takes candidates from the front of each list: first ``per_class`` of them, then the next ones to
    replace those the build drops (see ``bgbench.builder``). Keys: the labels that have usable samples.
    """
    by_class: dict[int, list[tuple[str, int]]] = {}
    for index, s in enumerate(samples):
        if s.problem:
            continue
        by_class.setdefault(s.label, []).append((sample_rank(s.source_id, seed), index))
    return {label: [samples[index] for _, index in sorted(ranked)]
            for label, ranked in sorted(by_class.items())}


def select_per_class(samples: list[Sample], per_class: int | None, seed: int = 0) -> list[Sample]:
    """Balanced subset: the ``per_class`` best-ranked usable samples (``problem`` unset) of each class.

    Ranks as :func:`rank_per_class`; order is preserved. This picks source images, before any pixel
    check: ``bgbench.builder`` tops up each class from the next candidates instead, so that the build
    ends with ``per_class`` *kept* images per class. ``None`` keeps every sample (problems included,
    so their drop reasons are recorded).
    """
    if per_class is None:
        return list(samples)
    if per_class < 0:
        raise ValueError(f"per_class must be >= 0, got {per_class}")
    chosen = {s.source_id for ranked in rank_per_class(samples, seed).values() for s in ranked[:per_class]}
    return [s for s in samples if s.source_id in chosen]


class DirIndex:
    """Cached directory listings: ``has(folder, name)`` costs one ``os.listdir`` per folder."""

    def __init__(self) -> None:
        self._names: dict[Path, frozenset[str]] = {}

    def names(self, folder: Path) -> frozenset[str]:
        names = self._names.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._names[folder] = names
        return names

    def find(self, folder: Path, name: str) -> Path | None:
        """``folder / name`` when it exists (per the cached listing), else None."""
        return folder / name if name in self.names(folder) else None


def posix_rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes."""
    return path.relative_to(root).as_posix()


def load_class_map(class_map: str | Path | dict[str, str] | None) -> dict[str, str] | None:
    """A user class mapping {dataset class: benchmark class}: a dict, or a JSON file holding one.

    Raises BgbenchError (naming the file) for a missing or unreadable file or a non-string mapping.
    """
    if class_map is None:
        return None
    if isinstance(class_map, dict):
        mapping = class_map
        where: str | Path = "class_map"
    else:
        path = Path(class_map)
        where = path
        if not path.is_file():
            raise BgbenchError(
                "class map file not found (expected JSON {dataset class: benchmark class})", path
            )
        mapping = read_json(path, "class map JSON")
    if not isinstance(mapping, dict) or not mapping:
        raise BgbenchError(
            "class map must be a non-empty JSON object {dataset class: benchmark class}", where
        )
    for key, value in mapping.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise BgbenchError(f"class map entry {key!r}: {value!r} is not a pair of class names", where)
    return {str(k): str(v).strip() for k, v in mapping.items()}


def _benchmark_classes(targets: set[str]) -> tuple[list[str], dict[str, int]]:
    """Class names and name -> label for benchmark class names.

    When every name is an IN-9 class (``dog`` or ``00_dog``), the classes are the nine IN-9 folders
    (so the samples line up with IN-9 labels); otherwise they are the sorted distinct names.
    """
    index = {}
    if targets and all(n in IN9_CLASSES or n in IN9_FOLDERS for n in targets):
        for n in targets:
            index[n] = IN9_CLASSES.index(n) if n in IN9_CLASSES else IN9_FOLDERS.index(n)
        return list(IN9_FOLDERS), index
    ordered = sorted(targets)
    return ordered, {n: i for i, n in enumerate(ordered)}


def mapped_classes(mapping: dict[str, str]) -> tuple[list[str], dict[str, int]]:
    """Class names and {dataset class: label} for a user class map {dataset class: benchmark class}.

    The classes are the nine IN-9 folders when every benchmark class is an IN-9 class (``dog`` or
    ``00_dog``), otherwise the sorted distinct benchmark classes.
    """
    class_names, target_index = _benchmark_classes(set(mapping.values()))
    return class_names, {src: target_index[dst] for src, dst in mapping.items()}


def largest_box_label(items: list[tuple[int, Box]]) -> int:
    """Label of the largest box among (label, box) pairs; ties go to the smaller label."""
    return min(items, key=lambda item: (-box_area(item[1]), item[0]))[0]


def count(counts: dict[str, int], key: str, n: int = 1) -> None:
    """``counts[key] += n`` (for ``SourceSet.skipped``)."""
    counts[key] = counts.get(key, 0) + n


def is_image_name(name: str) -> bool:
    """True for a non-hidden file name with an image extension (``bgbench.layout.IMAGE_EXTENSIONS``)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder: Path) -> list[Path]:
    """Image entries directly in ``folder`` (by extension; hidden files skipped), sorted by name.

    Every entry but a folder is listed, symbolic links and special files (FIFOs, devices) included,
    so that each becomes a sample dropped with its reason (a link leading outside the dataset, ``not
    a file``) instead of vanishing; none of them is opened here."""
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if is_image_name(e.name) and not e.is_dir(follow_symlinks=False)]
    return [folder / name for name in sorted(names)]
