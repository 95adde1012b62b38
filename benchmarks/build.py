"""Benchmark of ``bgbench build`` on a synth set (one run, figures side by side).

Prints: images/s of the whole build (GrabCut segmenter, process executor) with 1 and 2 workers and
their ratio (the scaling figure); the time of the GrabCut calls alone on the same images (one
process, one OpenCV thread) against the 1-worker build, i.e. the share of build time spent outside
GrabCut (decode, filters, variants, JPEG encoding, mixing, writes, process start-up); and GrabCut's
IoU against the synth ground-truth masks at the default settings (median, 10th percentile).

    python benchmarks/build.py [--per-class 20] [--size 256] [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BGBENCH_PROGRESS", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import cv2

    from bgbench.build import build_dataset, read_manifest
    from bgbench.segment import segment
    from bgbench.sources import load_image, read_source
    from bgbench.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        source = work / "synth"
        synthesize(source, per_class=args.per_class, split="val", seed=0, size=args.size, quiet=True)

        timings: dict[int, float] = {}
        results = {}
        for workers in (1, 2):
            out = work / f"built-{workers}"
            start = time.perf_counter()
            results[workers] = build_dataset(source, out, split="val", executor="process", workers=workers,
                                             quiet=True)
            timings[workers] = time.perf_counter() - start
        n_images = results[1]["summary"]["images"]

        # GrabCut alone on the same images, with the seeds the build used (one process, one thread)
        cv2.setNumThreads(1)
        records = {r["source_id"]: r for r in read_manifest(work / "built-1")}
        samples = [s for s in read_source(source, split="val").samples
                   if "grabcut_tries" in records[s.source_id]]
        images = [load_image(s.image_path) for s in samples]
        start = time.perf_counter()
        for sample, image in zip(samples, images, strict=True):
            segment(image, sample.boxes, "grabcut", seed=records[sample.source_id]["seed"])
        grabcut_s = time.perf_counter() - start

    iou = results[1]["summary"]["mask_iou"] or {}
    figures = {
        "images": n_images,
        "kept": results[1]["summary"]["kept"],
        "size": args.size,
        "cpu_cores": os.cpu_count(),
        "build_1_worker_s": round(timings[1], 2),
        "build_2_workers_s": round(timings[2], 2),
        "images_per_s_1_worker": round(n_images / timings[1], 2),
        "images_per_s_2_workers": round(n_images / timings[2], 2),
        "scaling_2_over_1": round(timings[1] / timings[2], 3),
        "grabcut_alone_s": round(grabcut_s, 2),
        "share_outside_grabcut": round(1.0 - grabcut_s / timings[1], 3),
        "grabcut_iou_median": iou.get("median"),
        "grabcut_iou_p10": iou.get("p10"),
        "grabcut_iou_mean": iou.get("mean"),
    }
    print(f"bgbench build benchmark: {n_images} synth images ({args.size} px), GrabCut, process executor")
    print(f"  1 worker : {figures['images_per_s_1_worker']:7.2f} images/s ({timings[1]:.1f} s)")
    print(f"  2 workers: {figures['images_per_s_2_workers']:7.2f} images/s ({timings[2]:.1f} s)")
    print(f"  scaling 2/1 workers: {figures['scaling_2_over_1']:.2f}x")
    print(f"  GrabCut calls alone: {grabcut_s:.1f} s -> share of 1-worker build time outside GrabCut: "
          f"{figures['share_outside_grabcut']:.1%}")
    print(f"  GrabCut IoU vs synth truth (n={iou.get('n')}): median {iou.get('median')}, "
          f"p10 {iou.get('p10')}, mean {iou.get('mean')}")
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
