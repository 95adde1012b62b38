"""The paper's training findings on the synthetic benchmark, with `bgbench train`, on a CPU in minutes.

Renders train and val splits whose background habitat matches the class 90% of the time (a strong,
learnable shortcut), builds their variants from the true masks, and trains the same small network
(timm ``test_resnet`` from scratch, 64 px) four ways:

- on ``only_bg_t`` (backgrounds alone),
- on ``original`` (the shortcut is there to be learnt),
- on ``mixed_rand`` (backgrounds carry no class signal),
- on ``original`` with the background-swap augmentation (``--swap 1.0``, other classes' backgrounds).

Each model is evaluated on the val split of every variant, with ``--draws`` donor backgrounds per
foreground for the mixed variants (BG-Gap with a bootstrap interval over foregrounds). The checks:
(a) only_bg_t-trained is well above chance (1/9) on original; (b) original-trained has a clearly
positive BG-Gap; (c) mixed_rand-trained and augmented each have a BG-Gap at most a third of (b)'s.

    python benchmarks/train_synth.py [--out /tmp/bgbench-train-synth] [--epochs 15] [--draws 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

CHANCE = 1.0 / 9.0
RUNS = (
    ("only_bg_t", "only_bg_t", 0.0),
    ("original", "original", 0.0),
    ("mixed_rand", "mixed_rand", 0.0),
    ("original+swap", "original", 1.0),
)


def make_data(out: Path, per_class_train: int, per_class_val: int, size: int, seed: int) -> Path:
    """Synthesize and build (true masks) both splits into ``out/in9``; both stages resume."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.synth import synthesize

    for split, n in (("train", per_class_train), ("val", per_class_val)):
        synthesize(out / "scenes", per_class=n, split=split, seed=seed, size=size, quiet=True)
        build_dataset(out / "scenes", out / "in9", BuildConfig(split=split, segmenter="mask", seed=seed,
                                                               size=size - size // 8, resize=size,
                                                               run=BuildRun("process", 2)), quiet=True)
    return out / "in9"


def run(out: Path, epochs: int, draws: int, seed: int, input_size: int) -> list[dict[str, Any]]:
    """Train and evaluate the four models; one row per run."""
    from bgbench.eval import EvalConfig, evaluate
    from bgbench.options import ModelOptions
    from bgbench.training import Recipe, Swap, TrainConfig, train

    data = out / "in9"
    rows = []
    for name, variant, swap in RUNS:
        t0 = time.perf_counter()
        folder = out / "runs" / name.replace("+", "_")
        config = TrainConfig(variant=variant, swap=Swap.of(swap), seed=seed,
                             recipe=Recipe(epochs=epochs, input_size=input_size, lr=3e-3))
        result = train(data, ModelOptions("timm:test_resnet", pretrained=False, device="cpu"), config,
                       out=folder, quiet=True)
        ev = evaluate(
            data,
            ModelOptions.of(f"ckpt:{result.checkpoint}", device="cpu"),
            EvalConfig(draws=draws, draw_seed=seed),
            out=folder / "eval-draws",
            quiet=True,
        )
        block = ev.draws
        rows.append(
            {
                "run": name,
                "train_s": round(time.perf_counter() - t0, 1),
                "accuracy": {
                    v: [r.accuracy.value, r.accuracy.low, r.accuracy.high] for v, r in ev.variants.items()
                },
                "bg_gap_1": [ev.bg_gap.value, ev.bg_gap.low, ev.bg_gap.high],
                "draws": {v: [e["value"], *e["ci95"]] for v, e in block["variants"].items()},
                "bg_gap_draws": [block["bg_gap"]["value"], *block["bg_gap"]["ci95"]],
            }
        )
    return rows


def checks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["run"]: r for r in rows}
    a = by["only_bg_t"]["accuracy"]["original"]
    b = by["original"]["bg_gap_draws"]
    c = {k: by[k]["bg_gap_draws"] for k in ("mixed_rand", "original+swap")}
    return {
        "a_only_bg_t_on_original": a,
        "a_holds": a[1] > 2 * CHANCE,
        "b_original_bg_gap": b,
        "b_holds": b[1] > 0.05,
        "c_bg_gaps": c,
        "c_holds": all(v[0] <= b[0] / 3 for v in c.values()),
    }


def _cell(v: list[float]) -> str:
    return f"{100 * v[0]:5.1f} [{100 * v[1]:.0f},{100 * v[2]:.0f}]"


def _gap(v: list[float]) -> str:
    return f"{100 * v[0]:+.1f} [{100 * v[1]:+.0f},{100 * v[2]:+.0f}]"


def format_rows(rows: list[dict[str, Any]]) -> str:
    variants = list(rows[0]["accuracy"])
    head = ["run", *variants, "BG-Gap(1)", "BG-Gap(draws)", "train s"]
    lines = ["  ".join(head)]
    for r in rows:
        gap1, gapd = _gap(r["bg_gap_1"]), _gap(r["bg_gap_draws"])
        lines.append(
            "  ".join([r["run"], *[_cell(r["accuracy"][v]) for v in variants], gap1, gapd, str(r["train_s"])])
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-train-synth"))
    parser.add_argument("--per-class-train", type=int, default=60)
    parser.add_argument("--per-class-val", type=int, default=30)
    parser.add_argument("--size", type=int, default=96, help="scene size (variants are 7/8 of it)")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    make_data(args.out, args.per_class_train, args.per_class_val, args.size, args.seed)
    rows = run(args.out, args.epochs, args.draws, args.seed, args.input_size)
    result = {
        "rows": rows,
        "checks": checks(rows),
        "args": {k: str(v) for k, v in vars(args).items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "train_synth.json").write_text(json.dumps(result, indent=2))
    print(format_rows(rows))
    print(json.dumps(result["checks"], indent=1))
    print(f"total {result['seconds']} s; {args.out / 'train_synth.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
