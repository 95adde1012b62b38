"""``build_dataset``: sources -> samples -> segment -> variants -> writer, in two resumable phases.

Phase 1 (per image, any executor): validate, decode, filter, segment, compute original, only_bg_b,
only_bg_t, no_fg, only_fg and fg_mask at 224 px, write them, then write the image's record (its
done-marker). Phase 2 (per kept image, :mod:`bgbench.builder.mixing`): choose donors from the kept
set with the seed (:mod:`bgbench.donors`) and composite the image's foreground, by its fg_mask, over
each donor's only_bg_t, from exact arrays (sources decoded again, the lossless fg_mask .npy), so
mixed files are JPEG-compressed once and keep the resized foreground's pixels exactly.

Balanced builds (``per_class`` N): phase 1 runs in rounds, each class's next ranked candidates
replacing the ones the filters dropped, until every class has N kept images or runs out of candidates
(reported as ``shortfall``); see :func:`_select_and_process`.

Resume: records of finished images are reused, finished mixed files are kept; since every output is
a deterministic function of the arguments, a resumed build ends byte-identical to an uninterrupted
one, whatever the executor.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.builder.config import BuildConfig
from bgbench.builder.manifest import prepare_output, summarize, write_outputs
from bgbench.builder.mixing import MixSource, MixTask, missing_variants, mix_image
from bgbench.builder.result import BuildResult
from bgbench.builder.writer import (
    read_record,
    variant_path,
    write_record,
    write_variant,
)
from bgbench.config import config_of
from bgbench.donors import choose_donors
from bgbench.errors import BgbenchError
from bgbench.executors import Executor, check_executor, open_executor
from bgbench.layout import MASK_VARIANT, folder_index
from bgbench.resume import finished, remove_temp_files
from bgbench.segment import derive_seed, mask_iou, segment
from bgbench.sources.reasons import NO_ANNOTATION, SIZE_MISMATCH, UNREADABLE_IMAGE
from bgbench.sources.samples import Box, Sample
from bgbench.variants import (
    MIXED_VARIANTS,
    PHASE1_VARIANTS,
    box_crop_fractions,
    box_problem,
    resize_crop,
    single_image_variants,
)

IN9L_NOTE = ("IN-9L: original of every readable image of the classes, boxed or not, without the box "
             "filters; the box variants, fg_mask and mixed images only for the boxed subset")

# drop-reason categories of the build itself (beside the readers' ones from bgbench.sources.reasons)
SEVERAL_BOXES = "several boxes"
BOX_TOO_LARGE = "box covers too much of the crop"
BOX_OUTSIDE_CROP = "box mostly outside the centre crop"
NO_STRIP = "no background strip outside the boxes"
SEGMENTATION_FAILED = "segmentation failed"
EMPTY_AFTER_CROP = "foreground empty after the centre crop"
INTERNAL_ERROR = "internal error"
UNLABELLED = "unlabelled"  # the class folder of a sample whose label is outside the class list

PHASE1_OUTPUTS: tuple[str, ...] = (*PHASE1_VARIANTS, MASK_VARIANT)


@dataclass(frozen=True)
class _Context:
    """What a worker needs besides the sample (small, picklable)."""

    out: str
    config: BuildConfig
    source_root: str | None
    has_masks: bool


@dataclass(frozen=True)
class _Phase1Task:
    sample: Sample
    class_folder: str
    context: _Context


def class_folder_names(class_names: list[str]) -> list[str]:
    """Released-style folder per class: kept when already ``NN_name`` (of letters, digits, ``._-``),
    else ``NN_<name>`` with every other run of characters (``/``, spaces, newlines...) made ``_``:
    a class name from a dataset never becomes a path."""
    folders = []
    for index, name in enumerate(class_names):
        if folder_index(name) is not None and re.fullmatch(r"[A-Za-z0-9._-]+", name):
            folders.append(name)
        else:
            safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "class"
            folders.append(f"{index:02d}_{safe}")
    return folders


# ----------------------------------------------------------------------------- phase 1
def _image_seed(config: BuildConfig, sample: Sample) -> int:
    return derive_seed(config.seed, sample.source_id)


def _relative_source(path: Path, root: str | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def _base_record(task: _Phase1Task) -> dict[str, Any]:
    sample, config = task.sample, task.context.config
    return {
        "split": config.split,
        "source": _relative_source(sample.image_path, task.context.source_root),
        "source_id": sample.source_id,
        "stem": sample.stem,
        "label": sample.label,
        "class": task.class_folder,
        "boxes": [list(map(int, b)) for b in sample.boxes],
        "status": "dropped",
        "reason": None,
        "seed": _image_seed(config, sample),
        "mask_method": config.segmenter,
    }


def _strip_path(exc: Exception) -> str:
    """The message of ``exc`` without a leading ``<path>: `` (BgbenchError), on one line."""
    text = " ".join(str(exc).split())
    path = getattr(exc, "path", None)
    if path is not None and text.startswith(f"{path}: "):
        text = text[len(f"{path}: "):]
    return text


def _error_reason(exc: BgbenchError, path: Path) -> str:
    text = _strip_path(exc)
    return f"{UNREADABLE_IMAGE}: {text}" if exc.path == path else text


def process_image(task: _Phase1Task) -> dict[str, Any]:
    """Phase 1 for one source image: write its variants and its record; never raises for bad input."""
    record = _base_record(task)
    all_images = task.context.config.all_images
    if all_images:
        record["boxed"] = False
    try:
        reason = _process_image(task, record)
        if all_images:
            record["boxed"] = reason is None
            if reason is not None and task.class_folder != UNLABELLED:
                reason = _original_only(task, record, reason)
    except BgbenchError as exc:
        reason = _error_reason(exc, task.sample.image_path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):  # the output, not the image
            raise BgbenchError(f"cannot write the build output: {exc.strerror}", exc.filename) from None
        reason = f"{INTERNAL_ERROR}: {type(exc).__name__}: {' '.join(str(exc).split())}"
    except Exception as exc:  # one bad image never stops the build
        reason = f"{INTERNAL_ERROR}: {type(exc).__name__}: {' '.join(str(exc).split())}"
    if reason is None:
        record["status"] = "kept"
    else:
        record["reason"] = " ".join(reason.split())
        # an error while writing (e.g. a crash between two variants) must not leave part of a dropped
        # image's outputs behind
        with contextlib.suppress(BgbenchError):  # an unsafe path was never written: nothing to remove
            for name in PHASE1_OUTPUTS:
                Path(variant_path(task.context.out, name, task.context.config.split, task.class_folder,
                                  task.sample.stem)).unlink(missing_ok=True)
    write_record(task.context.out, task.context.config.split, record)
    return record


def _original_only(task: _Phase1Task, record: dict[str, Any], box_reason: str) -> None:
    """IN-9L (``all_images``): write only ``original`` of an image whose box variants cannot be made
    (``box_reason`` says why; recorded); returns None (the image is kept). BgbenchError (dropped)
    when the image itself cannot be decoded."""
    from bgbench.sources import load_image

    config, out = task.context.config, task.context.out
    for name in PHASE1_OUTPUTS:  # anything a failed box path wrote
        variant_path(out, name, config.split, task.class_folder, task.sample.stem).unlink(missing_ok=True)
    image = load_image(task.sample.image_path)
    record["image_size"] = [int(image.shape[1]), int(image.shape[0])]
    record["box_reason"] = " ".join(box_reason.split())
    record["mask_method"] = None
    write_variant(out, "original", config.split, task.class_folder, task.sample.stem,
                  resize_crop(image, config.resize, config.size), config.jpeg_quality)
    return None


def _process_image(task: _Phase1Task, record: dict[str, Any]) -> str | None:
    """Fill ``record``; return the drop reason or None when the image was kept and written."""
    from bgbench.sources import load_image

    sample, config = task.sample, task.context.config
    boxes = [tuple(int(v) for v in b) for b in sample.boxes]
    reason = _annotation_reason(sample, boxes, config)
    if reason is not None:
        return reason
    image = load_image(sample.image_path)
    reason = _geometry_reason(sample, boxes, image.shape[:2], config, record)
    if reason is not None:
        return reason
    mask, reason = _segment(task, image, boxes, record)
    if mask is None:
        return reason
    return _write_phase1(task, image, boxes, mask, record)


def _annotation_reason(sample: Sample, boxes: list[Box], config: BuildConfig) -> str | None:
    """Drop reason known before decoding: the reader's problem, no box, or several with ``single_box``."""
    if sample.problem:
        return sample.problem
    if not boxes:
        return NO_ANNOTATION
    if config.single_box and len(boxes) > 1:
        return f"{SEVERAL_BOXES}: {len(boxes)} boxes (single-box filter)"
    return None


def _geometry_reason(sample: Sample, boxes: list[Box], shape: tuple[int, int], config: BuildConfig,
                     record: dict[str, Any]) -> str | None:
    """Drop reason from the image size (H, W) ``shape`` and the boxes' place in the centre crop.

    Records ``image_size``, ``box_coverage`` and ``box_inside`` on the way.
    """
    height, width = shape
    record["image_size"] = [width, height]
    if sample.annotation_size is not None and tuple(sample.annotation_size) != (width, height):
        ann_w, ann_h = sample.annotation_size
        return f"{SIZE_MISMATCH}: annotation says {ann_w}x{ann_h}, image is {width}x{height}"
    for box in boxes:
        problem = box_problem(box, width, height)
        if problem is not None:
            return f"{problem}: box {list(box)} in a {width}x{height} image"
    fractions = box_crop_fractions(boxes, height, width, config.resize, config.size)
    record["box_coverage"] = round(fractions.coverage, 6)
    record["box_inside"] = round(fractions.inside, 6)
    if fractions.coverage > config.max_box_fraction:
        return f"{BOX_TOO_LARGE}: {fractions.coverage:.1%} > {config.max_box_fraction:.0%}"
    if fractions.inside < config.min_box_inside:
        return f"{BOX_OUTSIDE_CROP}: {fractions.inside:.1%} inside < {config.min_box_inside:.0%}"
    return None


def _segment(task: _Phase1Task, image: np.ndarray, boxes: list[Box],
             record: dict[str, Any]) -> tuple[np.ndarray | None, str | None]:
    """The foreground mask of uint8 (H, W, 3) ``image`` (bool (H, W)) and None, or None and the drop
    reason. Records the GrabCut tries and seeds, the mask's box fraction and its IoU against a
    provided mask."""
    from bgbench.sources import load_mask

    sample, config = task.sample, task.context.config
    provided = None
    if config.segmenter == "mask" or task.context.has_masks:
        try:
            provided = load_mask(sample, image.shape[:2])
        except Exception as exc:
            if config.segmenter == "mask":
                return None, _strip_path(exc) or f"{SEGMENTATION_FAILED}: unreadable mask"
            provided = None
    result = segment(image, boxes, config.segmenter, seed=record["seed"], iterations=config.grabcut_iters,
                     provided_mask=provided, min_fraction=config.min_mask_fraction,
                     max_tries=config.grabcut_tries)
    if config.segmenter == "grabcut":
        record["grabcut_tries"] = result.tries
        record["grabcut_seeds"] = list(result.seeds)
    if not result.ok:
        return None, f"{SEGMENTATION_FAILED}: {result.reason}"
    assert result.mask is not None
    record["mask_box_fraction"] = round(result.box_fraction, 6)
    if provided is not None and config.segmenter != "mask":
        record["mask_iou"] = round(mask_iou(result.mask, provided), 6)
    return result.mask, None


def _write_phase1(task: _Phase1Task, image: np.ndarray, boxes: list[Box], mask: np.ndarray,
                  record: dict[str, Any]) -> str | None:
    """Compute and write the phase-1 variants and fg_mask; the drop reason when the crop leaves no
    background strip or no foreground, else None. Records ``mask_fraction``."""
    config = task.context.config
    variants = single_image_variants(image, boxes, mask, config.resize, config.size)
    if variants is None:
        return NO_STRIP
    crop_mask = variants[MASK_VARIANT]
    record["mask_fraction"] = round(float(crop_mask.mean()), 6)
    if not crop_mask.any():
        return EMPTY_AFTER_CROP
    for name in PHASE1_OUTPUTS:
        write_variant(task.context.out, name, config.split, task.class_folder, task.sample.stem,
                      variants[name], config.jpeg_quality)
    return None


def _finished(record: dict[str, Any] | None, out: str, split: str) -> bool:
    """A stored record counts as finished when, for a kept image, all its phase-1 files exist."""
    if record is None:
        return False
    if record.get("status") != "kept":
        return not str(record.get("reason") or "").startswith(INTERNAL_ERROR)  # retry unexpected errors
    outputs = PHASE1_OUTPUTS if record.get("boxed", True) else ("original",)
    return all(finished(variant_path(out, v, split, record["class"], record["stem"])) for v in outputs)


# ----------------------------------------------------------------------------- phase 2
def _donor_ref(record: dict[str, Any]) -> dict[str, Any]:
    return {"source_id": record["source_id"], "source": record["source"], "stem": record["stem"],
            "label": record["label"], "class": record["class"]}


# ----------------------------------------------------------------------------- orchestration
def _select_and_process(pool: Executor, samples: list[Sample], config: BuildConfig, folders: list[str],
                        context: _Context) -> tuple[list[dict[str, Any]], int]:
    """Phase 1 over the images this build uses; returns their records (source order) and the count run.

    Without ``per_class``: every sample. With ``per_class`` N (balanced): each class's usable samples
    ranked by :func:`bgbench.sources.rank_per_class`; the first N of each class are processed, then
    each class still short of N kept images takes its next ``N - kept`` candidates, round after round,
    until it has N kept images or no candidate left. Which images are processed depends only on the
    ranking and the (deterministic) filter outcomes, so resumed, serial, pooled and Ray builds process
    the same images. Every processed image, kept or dropped, gets a record (a manifest line).
    """
    out, split = context.out, config.split
    stored: dict[str, dict[str, Any]] = {}
    run = 0

    def process(batch: list[Sample], desc: str) -> None:
        nonlocal run
        todo = []
        for s in batch:
            record = read_record(out, split, s.source_id)
            if _finished(record, out, split):
                assert record is not None
                stored[s.source_id] = record
            else:
                todo.append(_Phase1Task(s, folders[s.label] if 0 <= s.label < len(folders) else UNLABELLED,
                                        context))
        for rec in pool.map(process_image, todo, desc=desc):
            stored[rec["source_id"]] = rec
        run += len(todo)

    if config.per_class is None:
        process(samples, "segment")
    else:
        ranked = _ranked(samples, config)
        taken = dict.fromkeys(ranked, 0)
        kept = dict.fromkeys(ranked, 0)
        desc = "segment"
        while True:
            batch = []
            for label, candidates in ranked.items():
                start = taken[label]
                batch += candidates[start:start + config.per_class - kept[label]]
                taken[label] = min(len(candidates), start + config.per_class - kept[label])
            if not batch:
                break
            process(batch, desc)
            for s in batch:
                kept[s.label] += stored[s.source_id]["status"] == "kept"
            desc = "top-up"
    return [stored[s.source_id] for s in samples if s.source_id in stored], run


def _ranked(samples: list[Sample], config: BuildConfig) -> dict[int, list[Sample]]:
    """Balanced-build candidates of each class, best first (:func:`bgbench.sources.rank_per_class`);
    with ``all_images`` the samples without a usable box are candidates too."""
    from bgbench.sources import rank_per_class

    if not config.all_images:
        return rank_per_class(samples, config.seed)
    by_id = {s.source_id: s for s in samples}
    cleared = [replace(s, problem=None) for s in samples]
    return {label: [by_id[s.source_id] for s in ranked]
            for label, ranked in rank_per_class(cleared, config.seed).items()}


def shortfall(records: list[dict[str, Any]], folders: list[str], per_class: int | None) -> dict[str, int]:
    """{class folder: missing kept images} of the classes a balanced build could not fill (all their
    usable candidates were tried); empty when every class reached ``per_class`` or without it."""
    if per_class is None:
        return {}
    kept = Counter(r["class"] for r in records if r["status"] == "kept")
    return {name: per_class - kept[name] for name in folders if kept[name] < per_class}


def _mix_tasks(records: list[dict[str, Any]], samples: list[Sample], config: BuildConfig, n_classes: int,
               out_path: Path) -> list[MixTask]:
    """Phase 2's tasks: the donors of every kept image with box variants (all kept ones except in an
    IN-9L build: the mixed variants need a foreground and an only_bg_t), recorded in its record."""
    kept = [r for r in records if r["status"] == "kept" and r.get("boxed", True)]
    donors = choose_donors([r["source_id"] for r in kept], [r["label"] for r in kept], n_classes, config.seed)
    paths = {s.source_id: s.image_path for s in samples}
    sources = [MixSource.of(paths[r["source_id"]], r) for r in kept]
    tasks = []
    for i, rec in enumerate(kept):
        rec["donors"] = {v: None if donors[v][i] is None else _donor_ref(kept[donors[v][i]])
                         for v in MIXED_VARIANTS}
        tasks.append(MixTask(
            rec, sources[i],
            {v: None if donors[v][i] is None else sources[donors[v][i]] for v in MIXED_VARIANTS},
            str(out_path), config.split, config.resize, config.size, config.jpeg_quality))
    return tasks


def in9l_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What an IN-9L (``all_images``) build adds to the summary: the note saying what the split holds,
    the kept images with box variants (``boxed``) and with ``original`` only, and why (by category)."""
    from bgbench.sources.reasons import reason_category

    kept = [r for r in records if r["status"] == "kept"]
    unboxed = Counter(reason_category(r.get("box_reason")) for r in kept if not r.get("boxed"))
    return {"training_set": IN9L_NOTE, "boxed": sum(1 for r in kept if r.get("boxed")),
            "original_only": sum(unboxed.values()),
            "original_only_reasons": dict(sorted(unboxed.items(), key=lambda kv: (-kv[1], kv[0])))}


def build_dataset(source: str | Path, out: str | Path, config: BuildConfig | None = None, *,
                  quiet: bool = False) -> BuildResult:
    """Build the IN-9 variants of one split of SOURCE into OUT; returns the split's summary.

    ``config``: a :class:`BuildConfig` (None: the defaults; ``BuildConfig.preset("released")`` the
    authors' settings, ``BuildConfig.preset("in9l")`` the IN-9L training set): source_format, split,
    segmenter (grabcut|box|mask), per_class, seed, grabcut_iters, grabcut_tries, min_mask_fraction,
    max_box_fraction, min_box_inside, size, resize, single_box, masks, class_map, jpeg_quality,
    all_images, all output-defining, and ``run`` (:class:`BuildRun`: ``executor`` process (the
    default: local worker processes), serial or ray, and ``workers``, how many images run at once,
    default all cores), which only changes the speed and is not part of the resume key. With
    ``all_images`` every readable image of the classes is kept with its ``original``, boxed or not; the
    box variants, fg_mask and mixed images are made for the images that pass the box checks (records
    say ``boxed`` true/false and, when false, ``box_reason``). ``per_class`` N makes a balanced build:
    N *kept* images per class, dropped candidates replaced by the class's next ranked ones (a class
    that runs out is reported in the summary's ``shortfall``).
    Raises BgbenchError before anything is written for a wrong source, bad options (executor and
    workers included), or an OUT built with other arguments.
    Returns a :class:`~bgbench.builder.result.BuildResult` (its document ``result.doc`` holds
    ``summary``, ``config``, ``out`` (str) and ``written``; ``print(result)`` is a short summary).
    """
    from bgbench.sources import read_source

    config = config_of(config, BuildConfig, "BuildConfig.preset(NAME) for a preset").resolved()
    source_path = str(Path(source).resolve())
    workers = check_executor(config.run.executor, config.run.workers)
    source_set = read_source(source_path, fmt=config.source_format, split=config.split, masks=config.masks,
                             class_map=config.class_map, seed=config.seed)
    source_set.options["per_class"] = config.per_class
    if config.segmenter == "mask" and not source_set.has_masks:
        raise BgbenchError("--segmenter mask needs provided masks, and this source has none "
                           "(give --masks DIR or use grabcut/box)", source_path)
    samples = list(source_set.samples)
    folders = class_folder_names(list(source_set.class_names))
    out_path = Path(out).resolve()
    config_dict = config.to_json(source_path)
    if prepare_output(out_path, config.split, config_dict):
        remove_temp_files(out_path)  # left by a killed run

    root = getattr(source_set, "root", None)
    context = _Context(out=str(out_path), config=config, source_root=None if root is None else str(root),
                       has_masks=bool(source_set.has_masks))
    with open_executor(config.run.executor, workers, quiet=quiet) as pool:
        records, phase1_run = _select_and_process(pool, samples, config, folders, context)

        mix_tasks = _mix_tasks(records, samples, config, len(folders), out_path)
        pending = [t for t in mix_tasks if missing_variants(t)]
        pool.map(mix_image, pending, desc="mix")

    summary = summarize(records, folders)
    summary["per_class_target"] = config.per_class
    summary["shortfall"] = shortfall(records, folders, config.per_class)
    summary["source"] = source_set.summary() if hasattr(source_set, "summary") else {}
    if config.all_images:
        summary.update(in9l_summary(records))
    build = write_outputs(out_path, config.split, records, config_dict, summary)
    return BuildResult.of_run(build, out_path, config.split, {"phase1": phase1_run, "mixed": len(pending)})
