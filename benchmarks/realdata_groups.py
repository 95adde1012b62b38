"""Foreground x background groups on the real photos: which background classes pull which objects away.

Input: a tree built from the real photos (``benchmarks/realdata_study.py`` step 1 writes one to
``OUT/data``; any build works). For each model: ``bgbench.evaluate`` on mixed_rand with ``--draws``
donors per foreground (default 8) and the group analysis (``bgbench.eval.groups``), into
``OUT/<model>/eval.json``; then one Markdown summary (``OUT/groups.md``, also printed): per model
the mixed_rand group table over the composites (accuracy % and n per foreground x background class),
the worst group with its interval, the share of errors that predict the background's class, and the
background classes that pull hardest; and ``bgbench report`` of OUT (a heat map per model).

    python benchmarks/realdata_groups.py DATA [--out /tmp/bgbench-groups] [--models a,b,c]
        [--draws 8] [--group-min 20] [--realdata DIR] [--device cpu]

Models are names as in ``bgbench models`` (built-ins, or the real-data TFLite/ONNX files).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bgbench.results.base import pct_ci

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))
DEFAULT_MODELS = ("efficientnet_lite0", "mobilenet_v2_1.0_224_quant", "mobilenet_v1_0.25_128_quant")


def model_specs(names: list[str], realdata: Path) -> dict[str, str]:
    """{name: spec} from the model registry (``bgbench models``); unknown names are an error."""
    from bgbench.errors import BgbenchError
    from bgbench.models.zoo import builtin_entries, realdata_entries

    entries = {e.name: e for e in [*realdata_entries(realdata), *builtin_entries()]}
    missing = [n for n in names if n not in entries or not entries[n].available]
    if missing:
        raise BgbenchError(f"model(s) not available: {', '.join(missing)}")
    return {n: entries[n].spec for n in names}


def table_markdown(table, title: str) -> list[str]:
    """The group table as Markdown: accuracy % (n) per foreground row x background column."""
    names = [c.split("_", 1)[-1] for c in table.class_names]
    lines = [f"{title}", "", "| fg \\ bg | " + " | ".join(names) + " |",
             "| --- | " + " | ".join("---:" for _ in names) + " |"]
    acc = table.accuracy
    for f, name in enumerate(names):
        cells = ["-" if table.counts[f, b] == 0 else f"{100 * acc[f, b]:.0f} ({table.counts[f, b]})"
                 for b in range(len(names))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def summary_markdown(name: str, table, min_count: int) -> list[str]:
    """Worst group, errors to the background's class, and the three hardest-pulling backgrounds."""
    lines = [f"- {name}: {table.summary()}"]
    pulls = sorted((p for p in table.pull_by_background if p.n >= min_count),
                   key=lambda p: -p.value)[:3]
    if pulls:
        text = "; ".join(f"{table.class_names[p.bg].split('_', 1)[-1]} {pct_ci(p.value, [p.low, p.high])} "
                         f"({p.k}/{p.n})" for p in pulls)
        lines.append(f"  - hardest-pulling backgrounds (share of other-class foregrounds predicted as "
                     f"the background's class): {text}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bgbench-groups"))
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--group-min", type=int, default=20)
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    from bgbench.eval import EvalConfig, evaluate
    from bgbench.options import ModelOptions
    from bgbench.reporting import report

    specs = model_specs([m.strip() for m in args.models.split(",") if m.strip()], args.realdata)
    doc = [f"# Groups of mixed_rand on {args.data} ({args.draws} draws, groups of at least "
           f"{args.group_min} composites eligible as the worst)", ""]
    tables = []
    for name, spec in specs.items():
        config = EvalConfig(variants=("mixed_rand",), draws=args.draws, group_min=args.group_min)
        result = evaluate(args.data, ModelOptions.of(spec, device=args.device), config, out=args.out / name,
                          quiet=args.quiet)
        built = result.variants["mixed_rand"]
        doc += summary_markdown(f"**{name}**, {args.draws} draws", result.draw_groups["mixed_rand"],
                                args.group_min)
        if built.groups is not None:
            doc.append(f"  - built mixed_rand (one donor each): {built.groups.summary()}")
        tables += ["", *table_markdown(result.draw_groups["mixed_rand"],
                                       f"{name}: accuracy % (composites) per group, mixed_rand, "
                                       f"{args.draws} draws"), ""]
    text = "\n".join(doc + tables) + "\n"
    from bgbench.atomic import atomic_write_text

    atomic_write_text(args.out / "groups.md", text)
    print(text)
    report([args.out], args.out / "report.html", title="groups on the real photos", quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
