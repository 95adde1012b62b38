"""The paper's findings on real photos with real ImageNet models (Xiao et al., ICLR 2021, Table 2).

Steps (every one resumes: run the same command again after an interruption):

1. build the IN-9 variants from the real ImageNet photos that have boxes
   (``<realdata>/imagenet-samples`` with its ``xml/`` tree; GrabCut, default build settings, split val)
   into ``OUT/data`` (photos without a box are dropped with that reason, and counted);
2. call the library sweep (``bgbench.sweep``, what ``bgbench sweep`` runs) on every real model (10
   TFLite, 2 ONNX from ``<realdata>/models``) and the three built-ins (``efficientnet_lite0/1/2``):
   every variant under the released map rule into ``OUT/results/<model>/eval.json`` with the
   adversarial-backgrounds challenge of the built-ins (fp32) in ``OUT/results/<model>/challenge/``,
   then only_bg_t under the restricted rule (argmax over the 370 IN-9 classes) into
   ``OUT/restricted/<model>/eval.json``; each sweep writes its own sweep.{json,csv,md} and
   resumes by the library's resume key (finished models run no inference again);
3. print ONE table (published top-1, accuracy per variant with Wilson 95% intervals, BG-Gap with its
   paired Newcombe interval, challenge accuracy) and write it as ``OUT/study/table.{txt,csv,json}``
   with ``OUT/study/scatter_top1.png``;
4. the paper's four checks, each with its figure (``OUT/study/checks.{txt,json}``, ``check_*.png``):
   (a) only_bg_t accuracy vs chance (1/9), released and restricted rule, per model and pooled;
   (b) BG-Gap > 0 for most models, and the mean BG-Gap with an interval;
   (c) Spearman rank correlation of published ImageNet top-1 with mixed_rand accuracy and with BG-Gap
       across the models, with a bootstrap interval over models (the sweep's trend);
   (d) challenge accuracy against original accuracy per built-in;
5. ``bgbench report`` of the build, both sweeps and the challenges: ``OUT/report.html`` (one
   self-contained page) with ``OUT/report.md`` and its figures in ``OUT/report_files/``.

The work is the library module :mod:`bgbench.study` (``bgbench.study.run_study``); this script parses
the options and prints.

    python benchmarks/realdata_study.py [--out /tmp/bgbench-realdata] [--models a,b] [--quick]
        [--skip-challenge] [--device auto] [--workers 2] [--realdata DIR]

``--quick``: three models (one TFLite, one ONNX, one built-in), three photos per class, challenge for
the built-in only, default output ``/tmp/bgbench-realdata-quick`` (a smoke run of every step).
Progress bars go to stderr (off with ``BGBENCH_PROGRESS=0``); the table and checks go to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bgbench.study import run_study

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))
DEFAULT_OUT = Path("/tmp/bgbench-realdata")
QUICK_OUT = Path("/tmp/bgbench-realdata-quick")
QUICK_MODELS = ("mobilenet_v1_0.25_224_quant", "mobilenetv2_12_int8", "efficientnet_lite0")
QUICK_PER_CLASS = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {DEFAULT_OUT}, "
                        f"--quick: {QUICK_OUT})")
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA, help="the real-data folder")
    parser.add_argument("--models", default=None, help="comma-separated model names (default: all 15)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {', '.join(QUICK_MODELS)}; {QUICK_PER_CLASS} photos per class")
    parser.add_argument("--per-class", type=int, default=None, help="photos per class (default: all)")
    parser.add_argument("--skip-challenge", action="store_true", help="no challenge step")
    parser.add_argument("--challenge-models", default=None,
                        help="comma-separated models to challenge (default: the built-ins selected)")
    parser.add_argument("--challenge-shard", default=None, metavar="I/N",
                        help="challenge only foregrounds with index %% N == I (a 1-in-N subsample; "
                             "default: all)")
    parser.add_argument("--report-only", action="store_true",
                        help="compute nothing: tabulate what OUT already holds (e.g. during a long run)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--workers", type=int, default=2, help="build worker processes (1 = serial)")
    parser.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from bgbench.errors import BgbenchError

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    per_class = args.per_class
    if args.quick:
        models = models or list(QUICK_MODELS)
        per_class = per_class or QUICK_PER_CLASS
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    started = time.perf_counter()
    try:
        res = run_study(out, realdata=args.realdata, models=models, per_class=per_class,
                        skip_challenge=args.skip_challenge, device=args.device, workers=args.workers,
                        challenge_models=([m.strip() for m in args.challenge_models.split(",") if m.strip()]
                                          if args.challenge_models else None),
                        challenge_shard=args.challenge_shard, n_boot=args.n_boot,
                        report_only=args.report_only, quiet=args.quiet)
    except BgbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"bgbench real-data study -> {out}")
    print(res["note"])
    print()
    print(res["table"])
    print()
    print(res["legend"])
    print()
    print(res["checks"])
    print()
    t = res["timing"]
    print(f"evaluated now: {', '.join(res['evaluated_now']) or 'none (all resumed)'}; challenge now: "
          f"{', '.join(res['challenged_now']) or 'none'}; build {t['build_s']:.0f} s, "
          f"eval {t['eval_s']:.0f} s, challenge {t['challenge_s']:.0f} s, "
          f"total {time.perf_counter() - started:.0f} s")
    study = [Path(p).name for key, p in res["files"].items() if key != "report"]
    print("files: " + ", ".join(study) + f" in {out / 'study'}")
    print(f"report: {res['files']['report']} (report.md and report_files/ beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
