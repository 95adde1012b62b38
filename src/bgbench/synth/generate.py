"""``synthesize``: render a whole split of the synthetic benchmark into an ImageNet-style tree.

Layout under ``out`` (``stem = <wnid>_<NNNNNN>``, NNNNNN = 0-based index within the class)::

    <split>/<wnid>/<stem>.JPEG       RGB image, shorter side = size
    <split>/<wnid>/<stem>.xml        ILSVRC-style annotation, one <object> per foreground object
    masks/<split>/<wnid>/<stem>.png  instance mask, mode "L": 0 background, k = k-th XML object
    synth-<split>.jsonl              one record per image (class, habitat, boxes, paths)
    synth-<split>.json               the options and summary counts of the split (bgbench.synth/1)

The job is resumable: finished records are checkpointed in chunks under ``.synth-<split>.partial/``
(a partial folder, :mod:`bgbench.resume`); a re-run with the same options skips images whose three
files exist and whose record is known, and the final jsonl is written atomically at the end (the
partial folder is then removed).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgbench.atomic import atomic_write_text, read_jsonl
from bgbench.classes import IN9_CLASSES, IN9_WNIDS
from bgbench.errors import BgbenchError
from bgbench.progress import progress
from bgbench.resume import read_state, start_partial_folder
from bgbench.synth.habitats import HABITATS
from bgbench.synth.objects import OBJECT_FAMILIES
from bgbench.synth.result import SCHEMA, SynthResult
from bgbench.synth.scene import SPLIT_CODES, render_scene, scene_rng
from bgbench.synth.writer import sample_paths, write_scene

FORMAT_VERSION = 1
MIN_SIZE, MAX_SIZE = 16, 4096
CHECKPOINT_EVERY = 64


def sample_stem(label: int, index: int) -> str:
    """File stem of image ``index`` of class ``label``: ``<wnid>_<NNNNNN>``."""
    return f"{IN9_WNIDS[label]}_{index:06d}"


def _validate(out: Path, per_class: int, split: str, seed: int, bg_correlation: float, size: int) -> None:
    if out.exists() and not out.is_dir():
        raise BgbenchError("output exists and is not a folder", out)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise BgbenchError(f"per_class must be a positive integer, got {per_class!r}")
    if split not in SPLIT_CODES:
        raise BgbenchError(f"split must be one of {', '.join(SPLIT_CODES)}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BgbenchError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= float(bg_correlation) <= 1.0:
        raise BgbenchError(f"bg_correlation must be in [0, 1], got {bg_correlation!r}")
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise BgbenchError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")


def _config(per_class: int, split: str, seed: int, bg_correlation: float, size: int) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "per_class": per_class, "split": split, "seed": seed,
            "bg_correlation": float(bg_correlation), "size": size}


def _partial_dir(out: Path, split: str) -> Path:
    return out / f".synth-{split}.partial"


def _known_records(out: Path, split: str, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records of an earlier run with the same options (finished or interrupted), keyed by stem.

    ``per_class`` may differ: growing a finished split renders only the new images.
    """
    same = {k: v for k, v in config.items() if k != "per_class"}
    known: dict[str, dict[str, Any]] = {}
    summary = out / f"synth-{split}.json"
    if summary.exists():
        old = (read_state(summary) or {}).get("config", {})
        if {k: v for k, v in old.items() if k != "per_class"} == same:
            known.update({r["stem"]: r for r in read_jsonl(out / f"synth-{split}.jsonl") if "stem" in r})
    partial = _partial_dir(out, split)
    old = read_state(partial / "config.json")
    if old is not None and {k: v for k, v in old.items() if k != "per_class"} == same:
        for chunk in sorted(partial.glob("chunk-*.jsonl")):
            known.update({r["stem"]: r for r in read_jsonl(chunk) if "stem" in r})
    return known


def _summarise(records: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    n = len(records)
    matches = sum(r["habitat"] == r["label"] for r in records)
    n_objects = [len(r["objects"]) for r in records]
    fractions = [o["area"] / (r["size"][0] * r["size"][1]) for r in records for o in r["objects"]]
    return {
        "schema": SCHEMA,
        "config": config,
        "images": n,
        "objects": sum(n_objects),
        "two_object_images": sum(k == 2 for k in n_objects),
        "habitat_match_rate": matches / n if n else 0.0,
        "mean_object_area_fraction": sum(fractions) / len(fractions) if fractions else 0.0,
        "classes": {IN9_CLASSES[i]: {"wnid": IN9_WNIDS[i], "object_family": OBJECT_FAMILIES[i],
                                     "habitat": HABITATS[i]} for i in range(len(IN9_CLASSES))},
    }


def render_and_write(out: Path, split: str, seed: int, bg_correlation: float, size: int, label: int,
                     index: int) -> dict[str, Any]:
    """Render image ``index`` of class ``label``, write its three files, return its jsonl record."""
    wnid, stem = IN9_WNIDS[label], sample_stem(label, index)
    rng = scene_rng(seed, split, label, index)
    scene = render_scene(label, rng, size=size, bg_correlation=bg_correlation)
    record = write_scene(out, split, wnid, stem, scene)
    return {**record, "class": IN9_CLASSES[label], "habitat_name": HABITATS[scene.habitat]}


def _ready(item: Future[dict[str, Any]] | dict[str, Any]) -> bool:
    return isinstance(item, dict) or item.done()


def _cpu_time() -> float:
    """CPU seconds of this process and its finished child processes (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class _Tally:
    """Records in job order, and how many of them were rendered now or reused from an earlier run."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rendered: int = 0
    reused: int = 0

    def add(self, item: Future[dict[str, Any]] | dict[str, Any]) -> None:
        """Append a reused record (a dict) or the result of a render (waits for it)."""
        if isinstance(item, dict):
            self.records.append(item)
            self.reused += 1
        else:
            self.records.append(item.result())
            self.rendered += 1


def _executor(workers: int) -> Executor:
    """workers == 1: two threads in one process (numpy, Pillow encoding and fsync release the GIL, so
    file writes overlap rendering); workers > 1: a process pool."""
    if workers == 1:
        return ThreadPoolExecutor(2)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _render_all(out: Path, split: str, render: Callable[..., dict[str, Any]], per_class: int,
                known: dict[str, dict[str, Any]], workers: int, quiet: bool, partial: Path) -> _Tally:
    """Every image of the split: reused when its record is known and its three files exist, else
    ``render(label, index)``. Results are consumed in job order, so the output never depends on
    timing or on the number of workers; every CHECKPOINT_EVERY records go to ``partial``."""
    jobs = [(label, index) for label in range(len(IN9_WNIDS)) for index in range(per_class)]
    tally = _Tally()
    in_flight = 4 * max(1, workers)
    with _executor(workers) as executor, progress(total=len(jobs), desc=f"synth {split}", quiet=quiet) as bar:
        pending: deque[Future[dict[str, Any]] | dict[str, Any]] = deque()

        def consume_first() -> None:
            tally.add(pending.popleft())
            bar.update(1)
            if len(tally.records) % CHECKPOINT_EVERY == 0:
                _checkpoint(partial, tally.records)

        for label, index in jobs:
            wnid, stem = IN9_WNIDS[label], sample_stem(label, index)
            record = known.get(stem)
            if record is not None and all(p.exists() for p in sample_paths(out, split, wnid, stem).values()):
                pending.append(record)
            else:
                pending.append(executor.submit(render, label, index))
            while len(pending) >= in_flight or (pending and _ready(pending[0])):
                consume_first()
        while pending:
            consume_first()
    return tally


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BgbenchError(f"workers must be a positive integer, got {workers!r}")


def _finish(out: Path, split: str, records: list[dict[str, Any]], config: dict[str, Any],
            partial: Path) -> dict[str, Any]:
    """Write the split's jsonl and summary JSON, drop the checkpoints; returns the summary."""
    atomic_write_text(out / f"synth-{split}.jsonl", "".join(_dumps(r) + "\n" for r in records))
    summary = _summarise(records, config)
    SynthResult(summary).write(out)
    shutil.rmtree(partial)
    return summary


def _stale_images(out: Path, split: str, records: list[dict[str, Any]]) -> int:
    """Images in ``out/<split>`` that none of ``records`` names (left by an earlier, larger run)."""
    expected = {r["image"] for r in records}
    return sum(1 for p in (out / split).glob("*/*.JPEG") if p.relative_to(out).as_posix() not in expected)


def synthesize(out: str | Path, *, per_class: int = 20, split: str = "train", seed: int = 0,
               bg_correlation: float = 0.9, size: int = 256, workers: int = 1,
               quiet: bool = False) -> SynthResult:
    """Render ``per_class`` scenes for each of the nine classes into ``out`` (layout in the module doc).

    Image ``i`` of class ``c`` is a pure function of ``(seed, split, c, i, bg_correlation, size)``: the
    same arguments give byte-identical files. Its habitat is class ``c``'s own with probability
    ``bg_correlation`` and one of the other eight (uniformly) otherwise. Returns a
    :class:`~bgbench.synth.result.SynthResult` (read like the former dict: the content of
    ``synth-<split>.json`` plus ``rendered``, ``reused``, ``stale_images`` (images in
    ``out/<split>`` that this run did not produce, left from an earlier run with more images or other
    options), ``seconds``,
    ``cpu_seconds``,
    ``images_per_second`` (wall clock) and ``images_per_cpu_second`` (CPU time of all threads: the
    per-core rate, meaningful on a busy machine)). ``workers > 1`` renders in that many processes
    (same bytes, only faster). Raises :class:`BgbenchError` for bad options
    before writing anything.
    """
    out = Path(out)
    _validate(out, per_class, split, seed, bg_correlation, size)
    _check_workers(workers)
    config = _config(per_class, split, seed, bg_correlation, size)
    out.mkdir(parents=True, exist_ok=True)
    known = _known_records(out, split, config)
    partial = start_partial_folder(_partial_dir(out, split), config)  # the old one was read above
    start, cpu_start = time.perf_counter(), _cpu_time()
    render = functools.partial(render_and_write, out, split, seed, bg_correlation, size)
    tally = _render_all(out, split, render, per_class, known, workers, quiet, partial)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_time() - cpu_start
    summary = _finish(out, split, tally.records, config, partial)
    rendered = tally.rendered
    return SynthResult({
        **summary, "out": str(out), "stale_images": _stale_images(out, split, tally.records),
        "rendered": rendered, "reused": tally.reused, "seconds": seconds, "cpu_seconds": cpu_seconds,
        "images_per_second": rendered / seconds if seconds > 0 and rendered else 0.0,
        "images_per_cpu_second": rendered / cpu_seconds if cpu_seconds > 0 and rendered else 0.0})


def _checkpoint(partial: Path, records: list[dict[str, Any]]) -> None:
    """Save the last CHECKPOINT_EVERY records as one chunk file (one fsync per chunk, not per image)."""
    number = len(records) // CHECKPOINT_EVERY - 1
    chunk = records[-CHECKPOINT_EVERY:]
    atomic_write_text(partial / f"chunk-{number:06d}.jsonl", "".join(_dumps(r) + "\n" for r in chunk))


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)
