"""Benchmark of ``bgbench build`` on a synth set (one run, figures side by side).

Prints, for the GrabCut segmenter at default settings:
- images/s of the whole build with the process executor and 1 and 2 workers, and their ratio (the
  scaling figure; wall-clock, so it needs idle cores to mean anything: the load average is printed);
- the share of build time spent outside GrabCut itself: a serial in-process build against the
  GrabCut calls alone on the same images with the same seeds (both wall-clock and CPU time; CPU time
  is robust to other processes competing for the cores);
- GrabCut's IoU against the synth ground-truth masks (median, 10th percentile, mean);
- whether the three builds wrote identical bytes.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import cv2

    from bgbench.build import build_dataset, read_manifest
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
        serial = build_dataset(source, work / "serial", split="val", executor="serial", quiet=True)
        serial_wall, serial_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

        records = {r["source_id"]: r for r in read_manifest(work / "serial")}
        samples = [s for s in read_source(source, split="val").samples
                   if "grabcut_tries" in records[s.source_id]]
        images = [load_image(s.image_path) for s in samples]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for sample, image in zip(samples, images, strict=True):
            segment(image, sample.boxes, "grabcut", seed=records[sample.source_id]["seed"])
        grabcut_wall, grabcut_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

        pooled: dict[int, tuple[float, float]] = {}
        for workers in (1, 2):
            wall0, cpu0 = time.perf_counter(), time.process_time() + _children_cpu()
            build_dataset(source, work / f"process-{workers}", split="val", executor="process",
                          workers=workers, quiet=True)
            pooled[workers] = (time.perf_counter() - wall0, time.process_time() + _children_cpu() - cpu0)
        reference = _tree(work / "serial")
        identical = all(_tree(work / f"process-{w}") == reference for w in (1, 2))

    n = serial["summary"]["images"]
    iou = serial["summary"]["mask_iou"] or {}
    figures = {
        "images": n, "kept": serial["summary"]["kept"], "size": args.size, "cpu_cores": os.cpu_count(),
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
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
