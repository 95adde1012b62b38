"""Benchmark: bgbench's challenge search against the released loop, side by side in one process.

Builds a small synthetic IN-9 set with bgbench's own APIs (``synthesize`` + ``build_dataset``), then
on the same data, model and device prints:

1. forward passes (composites evaluated) used by the search / the oracle minimum (1 per fooled
   foreground, every background per robust one), and the reference loop's count;
2. the search's composites/s / the model's raw images/s at the same batch size (how much of the
   hardware the search keeps busy: compositing, bookkeeping, partial batches cost the difference);
3. wall-time speed-up over the reference loop (released algorithm: re-decode every background for
   every foreground, batch 32, stop at the first batch with a wrong prediction);
4. decisions that differ between fp32 and bf16 autocast.

Decisions are checked to be identical to the reference loop's (the script fails otherwise).

    python benchmarks/challenge.py --per-class 6 --model efficientnet_lite0 --device cpu
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("BGBENCH_PROGRESS", "0")


def build_set(work: Path, per_class: int, size: int) -> Path:
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    built = work / "built"
    if (built / "fg_mask").is_dir():
        return built
    synthesize(work / "synth", per_class=per_class, split="val", seed=0, size=size, quiet=True)
    build_dataset(work / "synth", built, BuildConfig(split="val", segmenter="mask",
                                                     run=BuildRun("serial")), quiet=True)
    return built


def raw_throughput(clf, batch_size: int, size: int, repeats: int) -> float:
    """Images/s of the bare classifier on a ready batch of [0, 1] images at ``batch_size``."""
    import torch

    x = torch.rand(batch_size, 3, size, size, generator=torch.Generator().manual_seed(0)).to(clf.device)
    clf(x)  # warm-up
    if clf.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = clf(x)
    out.cpu()
    return batch_size * repeats / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6, help="synthetic images per class (val)")
    parser.add_argument("--size", type=int, default=256, help="synthetic image size before the 224 crop")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--map", default="released", help="label map rule: released, restricted or sum")
    parser.add_argument("--batch-size", type=int, default=None, help="search batch (default 64 CPU, 256 GPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--work", type=Path, default=None, help="keep the built set here (default: temp)")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 comparison")
    parser.add_argument("--repeats", type=int, default=3,
                        help="warm search runs and raw-model measurements (best of)")
    args = parser.parse_args()

    import torch

    from bgbench.challenge import ChallengeConfig, run_challenge
    from bgbench.challenge.reference import reference_loop_files
    from bgbench.config import CacheChoice
    from bgbench.models import create_classifier
    from bgbench.predict import ReadyModel, select_label_map

    if args.threads:
        torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="bgbench-challenge-bench-"))
    os.environ.setdefault("BGBENCH_CACHE", str(work / "cache"))
    t0 = time.perf_counter()
    data = build_set(work, args.per_class, args.size)
    print(f"data: {data} (built in {time.perf_counter() - t0:.1f} s)")

    clf = create_classifier(args.model, device=args.device, precision="fp32")
    batch_size = args.batch_size or (256 if clf.device.type == "cuda" else 64)
    from bgbench.challenge.data import list_challenge_files

    files = list_challenge_files(data)
    label_map = select_label_map(int(clf.num_outputs), files.class_names, args.map)

    def predict(x):
        return label_map.predict(clf(x))

    print(f"model {args.model} on {clf.device}, {len(files.fg_labels)} foregrounds x {len(files.bg_labels)} "
          f"backgrounds, map {args.map}, search batch {batch_size}, torch threads {torch.get_num_threads()}")

    import shutil

    shutil.rmtree(work / "ours", ignore_errors=True)
    cold_cache = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=work))
    t0 = time.perf_counter()  # cold: decode every image into a fresh cache first
    model, config = ReadyModel(clf, map_rule=args.map), ChallengeConfig(batch_size=batch_size)
    cold = replace(config, cache=CacheChoice(cache_dir=cold_cache))
    ours = run_challenge(data, model, cold, out=work / "ours", quiet=True)
    ours_cold = time.perf_counter() - t0
    shutil.rmtree(cold_cache)
    shutil.rmtree(work / "ours")
    # warm runs interleaved with raw-model measurements; best of each (the machine may be shared)
    walls, searches, raws, raw_fills = [], [], [], []
    fill = max(1, round(ours.doc["forward_passes"]["used"] / ours.doc["forward_passes"]["batches"]))
    for _ in range(args.repeats):
        shutil.rmtree(work / "ours", ignore_errors=True)
        t0 = time.perf_counter()
        ours = run_challenge(data, model, config, out=work / "ours", quiet=True)
        walls.append(time.perf_counter() - t0)
        searches.append(ours.doc["run"]["timing"]["search_s"])
        raws.append(raw_throughput(clf, batch_size, 224, repeats=max(2, 256 // batch_size)))
        raw_fills.append(raw_throughput(clf, fill, 224, repeats=max(2, 256 // fill)))
    ours_wall = min(walls)

    t0 = time.perf_counter()
    ref = reference_loop_files(predict, data, device=clf.device)
    ref_wall = time.perf_counter() - t0

    same = [r["fooled"] for r in ref] == [r["fooled"] for r in ours.doc["foregrounds"]]
    passes = ours.doc["forward_passes"]
    ref_passes = sum(r["backgrounds_tried"] for r in ref)
    ours_rate = passes["used"] / min(searches)
    raw_rate, raw_fill = max(raws), max(raw_fills)

    print(f"\n{ours.doc['vulnerable']} (challenge accuracy {ours.doc['challenge_accuracy']:.3f}); "
          f"decisions identical to the reference loop: {same}")
    print(f"forward passes: search {passes['used']} / oracle minimum {passes['oracle_minimum']} = "
          f"{passes['used'] / passes['oracle_minimum']:.3f}  (reference loop {ref_passes}, "
          f"{ref_passes / passes['oracle_minimum']:.2f}x oracle; "
          f"wasted in batch {passes['wasted_in_batch']})")
    print(f"throughput: search {ours_rate:.1f} composites/s / raw model {raw_rate:.1f} images/s at batch "
          f"{batch_size} = {ours_rate / raw_rate:.3f}  (search batches hold "
          f"{passes['used'] / passes['batches']:.1f} composites on average; best of {args.repeats})")
    print(f"throughput at the search's mean batch fill: search {ours_rate:.1f} / raw model {raw_fill:.1f} "
          f"images/s at batch {fill} = {ours_rate / raw_fill:.3f}")
    print(f"wall time: reference loop {ref_wall:.1f} s, search {ours_wall:.1f} s (cached banks; "
          f"{ours_cold:.1f} s with a cold decode cache; best of {args.repeats}) -> speed-up "
          f"{ref_wall / ours_wall:.1f}x ({ref_wall / ours_cold:.1f}x cold)")
    if not args.no_bf16:
        clf16 = create_classifier(args.model, device=args.device, precision="bf16")
        t0 = time.perf_counter()
        bf16 = run_challenge(data, ReadyModel(clf16, map_rule=args.map), config, quiet=True)
        pairs = zip(ours.doc["foregrounds"], bf16.doc["foregrounds"], strict=True)
        changed = sum(a["fooled"] != b["fooled"] for a, b in pairs)
        print(f"bf16: {changed} of {len(ref)} decisions differ from fp32 ({bf16.doc['vulnerable']}, "
              f"{time.perf_counter() - t0:.1f} s)")
    if not same:
        raise SystemExit("decisions differ from the reference loop")


if __name__ == "__main__":
    main()
