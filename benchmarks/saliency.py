"""How long saliency takes on a CPU: SmoothGrad (16 noisy copies) on 50 real-photo images with the
built-in ``efficientnet_lite0`` (224 px), through ``bgbench.saliency`` as the CLI runs it.

    python benchmarks/saliency.py [--data /tmp/bgbench-realdata/data] [--images 50] [--samples 16]
        [--batch-size 16] [--out /tmp/bgbench-saliency-timing]

Prints the wall time of the attribution loop (model loaded, images decoded: both timed apart), the
images per second and the torch thread count. The data is any built tree with original/val and
fg_mask/val (by default the real photos' build of benchmarks/realdata_study.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bgbench-realdata/data"))
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-saliency-timing"))
    args = parser.parse_args()

    import torch

    import bgbench

    t0 = time.perf_counter()
    config = bgbench.SaliencyConfig(method="smoothgrad", samples=args.samples, batch_size=args.batch_size,
                                    subset=bgbench.ImageSubset(images=args.images))
    result = bgbench.saliency(args.data, bgbench.ModelOptions.of(args.model, device="cpu"), config,
                              out=args.out, quiet=True)
    total = time.perf_counter() - t0
    m = result.models[0]
    print(f"{args.model}: smoothgrad ({args.samples} samples) on {m['n']} images of {args.data}")
    print(f"  attribution loop {m['seconds']:.1f} s ({m['images_per_s']:.2f} images/s); whole call "
          f"{total:.1f} s (with model load, decoding, statistics, figures); "
          f"torch threads {torch.get_num_threads()}")
    lo, hi = m["focus_ci"]
    print(f"  foreground focus {m['foreground_focus']:.2f} [{lo:.2f}, {hi:.2f}] (a by-product, 50 images)")


if __name__ == "__main__":
    main()
