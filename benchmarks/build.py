"""Benchmark of ``bgbench build`` on a synth set (one run, figures side by side).

Prints, for the GrabCut segmenter at default settings:
- images/s of the whole build with the process executor and 1 and 2 workers, and their ratio (the
  scaling figure; wall-clock, so it needs idle cores to mean anything: the load average is printed);
- the share of build time spent outside GrabCut itself: a serial in-process build against the
  GrabCut calls alone on the same images with the same seeds (both wall-clock and CPU time; CPU time
  is robust to other processes competing for the cores);
- GrabCut's IoU against the synth ground-truth masks (median, 10th percentile, mean);
- whether the three builds wrote identical bytes;
- phase 2's CPU cost per kept image (3 mixed images, JPEG encoding included): compositing from exact
  arrays (the build's way: sources decoded again, donor only_bg_t re-tiled) against compositing from
  the decoded phase-1 JPEGs (the former way, kept here only as the reference), interleaved per image.

    python benchmarks/build.py [--per-class 20] [--size 256] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BGBENCH_PROGRESS", "0")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def phase2_cpu_ms(out: Path, source: Path, repeats: int = 3) -> tuple[float, float, int]:
    """CPU ms per kept image of phase 2: (exact arrays, from decoded JPEGs, images timed)."""
    import numpy as np

    from bgbench.builder import read_manifest
    from bgbench.builder.mixing import MixSource, MixTask, mixed_arrays
    from bgbench.builder.writer import variant_path
    from bgbench.composite import composite
    from bgbench.jpeg import decode_jpeg, encode_jpeg
    from bgbench.sources import read_source

    kept = [r for r in read_manifest(out) if r["status"] == "kept"]
    by_id = {r["source_id"]: r for r in kept}
    paths = {s.source_id: s.image_path for s in read_source(source, split="val").samples}

    def file(variant: str, rec: dict) -> Path:
        return variant_path(out, variant, "val", rec["class"], rec["stem"])

    exact = from_jpeg = 0.0
    for _ in range(repeats):
        for rec in kept:
            donors = {v: by_id[d["source_id"]] for v, d in rec["donors"].items() if d}
            t0 = time.process_time()
            task = MixTask(rec, MixSource.of(paths[rec["source_id"]], rec),
                           {v: MixSource.of(paths[d["source_id"]], d) for v, d in donors.items()},
                           str(out), "val", 256, 224, 95)
            for image in mixed_arrays(task).values():
                encode_jpeg(image)
            t1 = time.process_time()
            foreground = decode_jpeg(file("original", rec))
            mask = np.load(file("fg_mask", rec)).astype(bool)
            for donor in donors.values():
                encode_jpeg(composite(foreground, decode_jpeg(file("only_bg_t", donor)), mask))
            t2 = time.process_time()
            exact, from_jpeg = exact + t1 - t0, from_jpeg + t2 - t1
    n = repeats * len(kept)
    return 1000 * exact / n, 1000 * from_jpeg / n, len(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import cv2

    from bgbench.builder import BuildConfig, BuildRun, build_dataset, read_manifest
    from bgbench.segment import segment
    from bgbench.sources import load_image, read_source
    from bgbench.synth import synthesize

    cv2.setNumThreads(1)  # as in the pool workers
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "synth"
        synthesize(source, per_class=args.per_class, split="val", seed=0, size=args.size, quiet=True)

        # serial, in this process: the reference for the overhead share
        wall0, cpu0 = time.perf_counter(), time.process_time()
        serial = build_dataset(source, work / "serial", BuildConfig(split="val",
                                                                    run=BuildRun("serial")), quiet=True)
        serial_wall, serial_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

        records = {r["source_id"]: r for r in read_manifest(work / "serial")}
        samples = [s for s in read_source(source, split="val").samples
                   if "grabcut_tries" in records[s.source_id]]
        images = [load_image(s.image_path) for s in samples]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for sample, image in zip(samples, images, strict=True):
            segment(image, sample.boxes, "grabcut", seed=records[sample.source_id]["seed"])
        grabcut_wall, grabcut_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        phase2_exact_ms, phase2_jpeg_ms, _ = phase2_cpu_ms(work / "serial", source)

        pooled: dict[int, tuple[float, float]] = {}
        for workers in (1, 2):
            wall0, cpu0 = time.perf_counter(), time.process_time() + _children_cpu()
            config = BuildConfig(split="val", run=BuildRun("process", workers))
            build_dataset(source, work / f"process-{workers}", config, quiet=True)
            pooled[workers] = (time.perf_counter() - wall0, time.process_time() + _children_cpu() - cpu0)
        reference = _tree(work / "serial")
        identical = all(_tree(work / f"process-{w}") == reference for w in (1, 2))

    n = serial.doc["summary"]["images"]
    iou = serial.doc["summary"]["mask_iou"] or {}
    figures = {
        "images": n, "kept": serial.doc["summary"]["kept"], "size": args.size, "cpu_cores": os.cpu_count(),
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "images_per_s_1_worker": round(n / pooled[1][0], 3),
        "images_per_s_2_workers": round(n / pooled[2][0], 3),
        "scaling_2_over_1": round(pooled[1][0] / pooled[2][0], 3),
        "cpu_s_per_image_1_worker": round(pooled[1][1] / n, 3),
        "cpu_s_per_image_2_workers": round(pooled[2][1] / n, 3),
        "serial_build_wall_s": round(serial_wall, 2), "serial_build_cpu_s": round(serial_cpu, 2),
        "grabcut_alone_wall_s": round(grabcut_wall, 2), "grabcut_alone_cpu_s": round(grabcut_cpu, 2),
        "share_outside_grabcut_wall": round(1 - grabcut_wall / serial_wall, 3),
        "share_outside_grabcut_cpu": round(1 - grabcut_cpu / serial_cpu, 3),
        "grabcut_iou_n": iou.get("n"), "grabcut_iou_median": iou.get("median"),
        "grabcut_iou_p10": iou.get("p10"), "grabcut_iou_mean": iou.get("mean"),
        "identical_outputs": identical,
        "phase2_cpu_ms_per_image_exact": round(phase2_exact_ms, 2),
        "phase2_cpu_ms_per_image_from_jpegs": round(phase2_jpeg_ms, 2),
    }
    print(f"bgbench build benchmark: {n} synth images ({args.size} px), GrabCut, {os.cpu_count()} cores, "
          f"load average {figures['load_average_before']} -> {figures['load_average_after']}")
    for w in (1, 2):
        print(f"  process executor, {w} worker{'s' if w > 1 else ' '}: {n / pooled[w][0]:7.3f} images/s "
              f"({pooled[w][0]:.1f} s wall, {pooled[w][1] / n:.3f} CPU s/image)")
    print(f"  scaling 2/1 workers: {figures['scaling_2_over_1']:.2f}x")
    print(f"  serial build {serial_wall:.1f} s wall / {serial_cpu:.1f} s CPU; GrabCut alone "
          f"{grabcut_wall:.1f} s wall / {grabcut_cpu:.1f} s CPU -> outside GrabCut: "
          f"{figures['share_outside_grabcut_wall']:.1%} "
          f"(wall), {figures['share_outside_grabcut_cpu']:.1%} (CPU)")
    print(f"  GrabCut IoU vs synth truth (n={iou.get('n')}): median {iou.get('median')}, "
          f"p10 {iou.get('p10')}, mean {iou.get('mean')}")
    print(f"  serial, 1-worker and 2-worker builds byte-identical: {identical}")
    print(f"  phase 2 CPU per kept image (3 mixed + JPEG): exact arrays {phase2_exact_ms:.2f} ms, "
          f"from decoded phase-1 JPEGs (former way) {phase2_jpeg_ms:.2f} ms "
          f"(x{phase2_exact_ms / phase2_jpeg_ms:.2f}; {phase2_exact_ms / 1000 / (pooled[1][1] / n):.1%} "
          "of a 1-worker build's CPU per image)")
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
