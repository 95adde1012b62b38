"""The paper's findings on real photos with real ImageNet models (Xiao et al., ICLR 2021, Table 2).

Steps (every one resumes: run the same command again after an interruption):

1. build the IN-9 variants from the real ImageNet photos that have boxes
   (``<realdata>/imagenet-samples`` with its ``xml/`` tree; GrabCut, default build settings, split val)
   into ``OUT/data`` (photos without a box are dropped with that reason, and counted);
2. call the library sweep (``bgbench.sweep``, what ``bgbench sweep`` runs) on every real model (10
   TFLite, 2 ONNX from ``<realdata>/models``) and the three built-ins (``efficientnet_lite0/1/2``):
   every variant under the released map rule into ``OUT/results/<model>/results.json`` with the
   adversarial-backgrounds challenge of the built-ins (fp32) in ``OUT/results/<model>/challenge/``,
   then only_bg_t under the restricted rule (argmax over the 370 IN-9 classes) into
   ``OUT/restricted/<model>/results.json``; each sweep writes its own sweep.{json,csv,md} and
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

    python benchmarks/realdata_study.py [--out /tmp/bgbench-realdata] [--models a,b] [--quick]
        [--skip-challenge] [--device auto] [--workers 2] [--realdata DIR]

``--quick``: three models (one TFLite, one ONNX, one built-in), three photos per class, challenge for
the built-in only, default output ``/tmp/bgbench-realdata-quick`` (a smoke run of every step).
Progress bars go to stderr (off with ``BGBENCH_PROGRESS=0``); the table and checks go to stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.layout import IMAGE_VARIANTS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = Path(os.environ.get("BGBENCH_REALDATA", REPO.parent / "shared" / "realdata"))
DEFAULT_OUT = Path("/tmp/bgbench-realdata")
QUICK_OUT = Path("/tmp/bgbench-realdata-quick")
QUICK_MODELS = ("mobilenet_v1_0.25_224_quant", "mobilenetv2_12_int8", "efficientnet_lite0")
QUICK_PER_CLASS = 3
BUILTINS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
CHANCE = 1.0 / 9.0
TREND_SEED = 3  # the bootstrap seed of check (c), the library sweep's trend
PAPER_ONLY_BG_T = (0.119, 0.178)  # Table 2, ImageNet-pretrained models, released rule
VARIANTS = IMAGE_VARIANTS


@dataclass(frozen=True)
class StudyModel:
    """One model of the study: its table name, spec for create_classifier, kind and published top-1 (%)."""

    name: str
    spec: str
    kind: str  # builtin | tflite | onnx
    published_top1: float | None
    approximate: bool = False


# ----------------------------------------------------------------------------- models
def study_models(realdata: Path) -> list[StudyModel]:
    """The 12 real-data models (zoo order, by published top-1 within the zoo table) and the 3 built-ins."""
    from bgbench.models.zoo import builtin_entries, realdata_entries

    out = []
    for e in realdata_entries(realdata):
        kind = e.spec.split(":", 1)[0]
        out.append(StudyModel(e.name, e.spec, kind, e.published_top1, "(approximate)" in e.notes))
    for e in builtin_entries():
        out.append(StudyModel(e.name, e.spec, "builtin", e.published_top1))
    return out


def select_models(all_models: list[StudyModel], names: list[str] | None) -> list[StudyModel]:
    """The models named (in the order given); a name the study does not know is a BgbenchError."""
    from bgbench.errors import BgbenchError

    if not names:
        return list(all_models)
    by_name = {m.name: m for m in all_models}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise BgbenchError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in dict.fromkeys(names)]


# ----------------------------------------------------------------------------- pipeline steps
def build_step(realdata: Path, data: Path, *, per_class: int | None, workers: int, segmenter: str,
               quiet: bool) -> dict[str, Any]:
    """Build (or resume) the variants of the photos with boxes into ``data``; returns the split summary."""
    from bgbench.build import build_dataset
    from bgbench.errors import BgbenchError

    source = realdata / "imagenet-samples"
    if not (source / "xml").is_dir():
        raise BgbenchError("no xml/ tree of boxes (expected imagenet-samples/xml/<class>/<stem>.xml)", source)
    executor = "serial" if workers <= 1 else "process"
    result = build_dataset(source, data, split="val", per_class=per_class, segmenter=segmenter,
                           executor=executor, workers=workers, quiet=quiet)
    return result["summary"]


def sweep_step(data: Path, models: list[StudyModel], out: Path, *, challenge_models: list[str],
               shard: str | None, device: str, n_boot: int, report_only: bool,
               quiet: bool) -> tuple[Any, Any]:
    """The library sweep twice: every variant under the released rule (and the challenge of
    ``challenge_models``) into ``OUT/results``; only_bg_t under the restricted rule into
    ``OUT/restricted``. ``report_only``: run nothing, collect what the folders hold. Returns the two
    :class:`bgbench.SweepResult`."""
    from bgbench.sweeps import collect, sweep, sweep_models

    released = sweep_models([{"name": m.name, "spec": m.spec, "imagenet_top1": m.published_top1,
                              "challenge": m.name in challenge_models} for m in models])
    restricted = sweep_models([{"name": m.name, "spec": m.spec, "imagenet_top1": m.published_top1}
                               for m in models])
    where = {"released": out / "results", "restricted": out / "restricted"}
    if report_only:
        return (collect(released, where["released"], n_boot=n_boot, seed=TREND_SEED),
                collect(restricted, where["restricted"], n_boot=n_boot, seed=TREND_SEED))
    common = {"device": device, "precision": "fp32", "cache_dir": out / "cache", "n_boot": n_boot,
              "seed": TREND_SEED, "quiet": quiet}
    first = sweep(released, data, out=where["released"], challenge_shard=shard, map_rule="released", **common)
    second = sweep(restricted, data, out=where["restricted"], variants=["only_bg_t"], map_rule="restricted",
                   **common)
    return first, second


def _entry(row: dict[str, Any], variant: str) -> dict[str, Any] | None:
    """``{"value", "ci95", "k", "n"}`` of a sweep row's accuracy on ``variant`` (None if absent)."""
    from bgbench.sweeps.table import variant_entry

    entry = variant_entry(variant)(row)
    return None if entry is None else {**entry, "k": row["correct"][variant]}


def _outcomes(path: Path) -> dict[str, dict[str, bool]]:
    """Variant -> foreground key (``<class>/<stem>``) -> correct, from a model's results.json."""
    from bgbench.data import foreground_key
    from bgbench.results import load_results

    result = load_results(path)
    return {name: {foreground_key(p): bool(c) for p, c in zip(v.paths, v.correct, strict=True)}
            for name, v in result.variants.items()}


def _challenge(row: dict[str, Any], folder: Path) -> tuple[dict[str, Any] | None, dict[str, bool]]:
    """The row's challenge entry (with shard and bank sizes) and its per-foreground outcomes."""
    from bgbench.data import foreground_key
    from bgbench.sweeps import challenge_outcome

    found = challenge_outcome(folder) if row.get("challenge_accuracy") is not None else None
    if found is None:
        return None, {}
    entry = {"value": row["challenge_accuracy"], "ci95": row["challenge_ci95"], "k": found.n - found.fooled,
             "n": found.n, "n_backgrounds": found.n_backgrounds,
             "n_foregrounds_total": found.n_foregrounds_total, "shard": found.shard}
    return entry, {foreground_key(r["image"]): not r["fooled"] for r in found.records}


def study_rows(models: list[StudyModel], released: Any, restricted: Any, out: Path) -> list[dict[str, Any]]:
    """One row per model with results: accuracies (Wilson intervals), BG-Gap, restricted only_bg_t,
    challenge, from the two sweeps; plus per-foreground outcomes (``_outcomes``) for the pooled checks."""
    rows = []
    for m in models:
        if m.name not in released.names:
            continue
        r = released.row(m.name)
        row: dict[str, Any] = {"model": m.name, "kind": m.kind, "spec": m.spec,
                               "published_top1": m.published_top1,
                               "published_top1_approximate": m.approximate, "map_rule": r["map_rule"],
                               "accuracy": {v: _entry(r, v) for v in VARIANTS if v in r["accuracy"]},
                               "_outcomes": _outcomes(out / "results" / r["results"])}
        row["bg_gap"] = None if r.get("bg_gap") is None else {
            "value": r["bg_gap"], "ci95": r["bg_gap_ci95"], "method": r["bg_gap_method"]}
        row["only_bg_t_restricted"] = None
        if m.name in restricted.names:
            rr = restricted.row(m.name)
            row["only_bg_t_restricted"] = _entry(rr, "only_bg_t")
            outcomes = _outcomes(out / "restricted" / rr["results"])
            row["_outcomes"]["only_bg_t_restricted"] = outcomes["only_bg_t"]
        row["challenge"], outcomes = _challenge(r, out / "results" / m.name / "challenge")
        if outcomes:
            row["_outcomes"]["challenge"] = outcomes
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the table
def table_columns(rows: list[dict[str, Any]]) -> list[Any]:
    """The study table's columns (:class:`bgbench.sweeps.table.Column`), only those some row has."""
    from bgbench.sweeps.table import SHORT, Column

    def top1(r: dict[str, Any]) -> str:
        return "-" if r["published_top1"] is None else (
            f"{r['published_top1']:.1f}" + ("~" if r["published_top1_approximate"] else ""))

    cols = [Column("model", "model", lambda r: r["model"], interval=False, left=True),
            Column("kind", "kind", lambda r: r["kind"], interval=False, left=True),
            Column("spec", "", lambda r: r["spec"], interval=False),
            Column("published_top1", "top-1", lambda r: r["published_top1"], interval=False, show=top1)]
    for v in VARIANTS:
        if any(v in r["accuracy"] for r in rows):
            cols.append(Column(v, SHORT[v], lambda r, v=v: r["accuracy"].get(v)))
        if v == "only_bg_t" and any(r["only_bg_t_restricted"] for r in rows):
            cols.append(Column("only_bg_t_restricted", "bg_t/370", lambda r: r["only_bg_t_restricted"]))
    if any(r["bg_gap"] for r in rows):
        cols.append(Column("bg_gap", "BG-Gap", lambda r: r["bg_gap"], signed=True))
    if any(r["challenge"] for r in rows):
        cols.append(Column("challenge", "challenge", lambda r: r["challenge"]))
    return cols


def table_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the per-foreground outcomes (what table.json holds)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]

# ----------------------------------------------------------------------------- the four checks
def _aligned(rows: list[dict[str, Any]], outcome: str) -> tuple[list[dict[str, Any]], np.ndarray] | None:
    """Rows having ``outcome`` and the (rows, foregrounds) 0/1 matrix over the keys all share."""
    have = [r for r in rows if outcome in r["_outcomes"]]
    if not have:
        return None
    keys = sorted(set.intersection(*(set(r["_outcomes"][outcome]) for r in have)))
    if not keys:
        return None
    return have, np.array([[r["_outcomes"][outcome][k] for k in keys] for r in have], dtype=np.float64)


def _verdict_vs(entry: dict[str, Any], ref: float) -> str:
    low, high = entry["ci95"]
    if low > ref:
        return "above"
    if high < ref:
        return "below"
    return "not distinguishable"


def check_a(rows: list[dict[str, Any]], n_boot: int) -> dict[str, Any]:
    """only_bg_t accuracy against chance under both map rules, per model and pooled over models."""
    from bgbench.stats import bootstrap_mean_over_items

    out: dict[str, Any] = {"chance": CHANCE, "paper_range_released": list(PAPER_ONLY_BG_T), "per_model": [],
                           "pooled": {}}
    for r in rows:
        rec = {"model": r["model"]}
        for rule, entry in (("released", r["accuracy"].get("only_bg_t")),
                            ("restricted", r["only_bg_t_restricted"])):
            if entry:
                rec[rule] = {"value": entry["value"], "ci95": entry["ci95"], "n": entry["n"],
                             "vs_chance": _verdict_vs(entry, CHANCE)}
        out["per_model"].append(rec)
    for rule, outcome in (("released", "only_bg_t"), ("restricted", "only_bg_t_restricted")):
        aligned = _aligned(rows, outcome)
        if aligned is None:
            continue
        have, matrix = aligned
        est = bootstrap_mean_over_items(matrix, n_boot=n_boot, seed=1)
        verdicts = [m[rule]["vs_chance"] for m in out["per_model"] if rule in m]
        out["pooled"][rule] = {**est.to_json(), "models": len(have), "images": int(matrix.shape[1]),
                               "vs_chance": _verdict_vs({"ci95": [est.low, est.high]}, CHANCE),
                               "models_above_chance": verdicts.count("above"),
                               "models_below_chance": verdicts.count("below"),
                               "in_paper_range": PAPER_ONLY_BG_T[0] <= est.value <= PAPER_ONLY_BG_T[1]}
    return out


def check_b(rows: list[dict[str, Any]], n_boot: int) -> dict[str, Any]:
    """Share of models with BG-Gap > 0 (and with its interval above 0); mean BG-Gap with intervals."""
    from bgbench.stats import bootstrap_mean_over_items, mean_interval

    gaps = [r for r in rows if r["bg_gap"]]
    out: dict[str, Any] = {"per_model": [{"model": r["model"], **r["bg_gap"]} for r in gaps]}
    if not gaps:
        return out
    values = np.array([r["bg_gap"]["value"] for r in gaps])
    out["models"] = len(gaps)
    out["positive"] = int((values > 0).sum())
    out["share_positive"] = float((values > 0).mean())
    out["interval_above_zero"] = sum(1 for r in gaps if r["bg_gap"]["ci95"][0] > 0)
    out["interval_below_zero"] = sum(1 for r in gaps if r["bg_gap"]["ci95"][1] < 0)
    out["mean_over_models_t"] = mean_interval(values, method="t").to_json()
    same, rand = _aligned(gaps, "mixed_same"), _aligned(gaps, "mixed_rand")
    if same is not None and rand is not None and same[1].shape == rand[1].shape:
        # per-foreground difference (mixed_same right) - (mixed_rand right), images resampled jointly
        est = bootstrap_mean_over_items(same[1] - rand[1], n_boot=n_boot, seed=2)
        out["mean_bootstrap_over_foregrounds"] = {**est.to_json(), "images": int(same[1].shape[1])}
    out["most_models_positive"] = out["share_positive"] > 0.5
    return out


def check_c(trend: dict[str, Any]) -> dict[str, Any]:
    """Spearman's rho of published top-1 vs mixed_rand accuracy, vs BG-Gap (and vs original and
    only_bg_t), over models: the library sweep's trend (``sweep.json`` of the released rule)."""
    rhos = trend.get("spearman") or {}
    out: dict[str, Any] = {"models": list(trend.get("models", [])),
                           "left_out_no_published_top1": list(trend.get("left_out", []))}
    out.update({name: rhos[name] for name in ("mixed_rand", "bg_gap", "original", "only_bg_t")
                if name in rhos})
    rand = out.get("mixed_rand", {}).get("value")
    gap = out.get("bg_gap", {}).get("value")
    out["paper_direction"] = {  # the paper: better models reach higher mixed_rand and smaller BG-Gap
        "mixed_rand_rises_with_top1": None if rand is None else rand > 0,
        "bg_gap_falls_with_top1": None if gap is None else gap < 0}
    return out


def check_d(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Challenge accuracy vs original accuracy per model with a challenge (paired by foreground)."""
    from bgbench.metrics import newcombe_paired

    out = []
    for r in rows:
        if not r["challenge"] or "original" not in r["accuracy"]:
            continue
        orig, chal = r["_outcomes"]["original"], r["_outcomes"]["challenge"]
        keys = sorted(set(orig) & set(chal))
        gap = newcombe_paired(np.array([orig[k] for k in keys]), np.array([chal[k] for k in keys]))
        out.append({"model": r["model"], "original": r["accuracy"]["original"],
                    "mixed_rand": r["accuracy"].get("mixed_rand"), "challenge": r["challenge"],
                    "difference": gap.to_json(),
                    "ratio": (r["challenge"]["value"] / r["accuracy"]["original"]["value"]
                              if r["accuracy"]["original"]["value"] else None),
                    "far_below": gap.low > 0.2})
    return {"per_model": out, "far_below_rule": "original - challenge, 95% interval above 20 points"}


# ----------------------------------------------------------------------------- text and figures
def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def _ci(entry: dict[str, Any]) -> str:
    return f"{_pct(entry['value'])}% [{_pct(entry['ci95'][0])}, {_pct(entry['ci95'][1])}]"


def _pts(est: dict[str, Any]) -> str:
    """Signed value in points with its interval."""
    lo, hi = est["ci95"]
    return f"{100 * est['value']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points"


def _rho(est: dict[str, Any]) -> str:
    lo, hi = est["ci95"]
    if lo is None:
        return f"rho = {est['value']:+.2f} (no interval: too few models)"
    return f"rho = {est['value']:+.2f} [{lo:+.2f}, {hi:+.2f}] ({est['n']} models)"


def format_checks(checks: dict[str, Any]) -> str:
    """The four checks as text (percent and points; [a, b] = 95% interval)."""
    a, b, c, d = checks["a"], checks["b"], checks["c"], checks["d"]
    lines = ["(a) only_bg_t accuracy vs chance (1/9 = 11.1%); paper's Table 2 (released rule): 11.9-17.8%"]
    for m in a["per_model"]:
        parts = [f"{rule} {_ci(m[rule])} {m[rule]['vs_chance']}" for rule in ("released", "restricted")
                 if rule in m]
        lines.append(f"    {m['model']:<32} " + "; ".join(parts))
    for rule, p in a["pooled"].items():
        lines.append(f"    pooled ({rule}, mean of {p['models']} models, bootstrap over {p['images']} "
                     f"images): {_ci(p)} -> {p['vs_chance']} chance; "
                     f"{p['models_above_chance']}/{p['models']} models above chance, "
                     f"{p['models_below_chance']} below"
                     + ("; inside the paper's range" if rule == "released" and p["in_paper_range"] else ""))
    lines.append("(b) BG-Gap = acc(mixed_same) - acc(mixed_rand) > 0 for most models?")
    if b.get("models"):
        lines.append(f"    {b['positive']}/{b['models']} models have BG-Gap > 0 (share "
                     f"{100 * b['share_positive']:.0f}%); {b['interval_above_zero']} with the whole 95% "
                     f"interval above 0, {b['interval_below_zero']} below 0 -> "
                     + ("yes" if b["most_models_positive"] else "no"))
        lines.append(f"    mean BG-Gap over models: {_pts(b['mean_over_models_t'])} (t interval over models)")
        if "mean_bootstrap_over_foregrounds" in b:
            e = b["mean_bootstrap_over_foregrounds"]
            lines.append(f"    mean BG-Gap, bootstrap over {e['images']} foregrounds: {_pts(e)}")
    lines.append("(c) published ImageNet top-1 vs the variants, Spearman across models "
                 "(bootstrap over models; the paper: better models rely on backgrounds less)")
    for name, label in (("mixed_rand", "mixed_rand accuracy"), ("bg_gap", "BG-Gap"),
                        ("original", "original accuracy"), ("only_bg_t", "only_bg_t accuracy")):
        if name in c:
            lines.append(f"    top-1 vs {label:<20} {_rho(c[name])}")
    if c["left_out_no_published_top1"]:
        lines.append(f"    left out (no published top-1): {', '.join(c['left_out_no_published_top1'])}")
    pd = c["paper_direction"]
    lines.append(f"    paper's direction: mixed_rand rises with top-1: {pd['mixed_rand_rises_with_top1']}; "
                 f"BG-Gap falls with top-1: {pd['bg_gap_falls_with_top1']}")
    lines.append("(d) challenge accuracy (no background of only_bg_t fools the model) vs original accuracy")
    if not d["per_model"]:
        lines.append("    (no challenge results)")
    for m in d["per_model"]:
        ch = m["challenge"]
        subset = ""
        if ch.get("shard"):
            subset = (f" ({ch['n']} of {ch['n_foregrounds_total']} foregrounds: shard {ch['shard']})"
                      if ch["n"] < (ch.get("n_foregrounds_total") or 0) else
                      f" (all {ch['n']} foregrounds, in shards {ch['shard']})")
        lines.append(f"    {m['model']:<20} original {_ci(m['original'])}; challenge {_ci(ch)}{subset} "
                     f"over {ch['n_backgrounds']} backgrounds; original - challenge "
                     f"{_pts(m['difference'])} -> " + ("far below" if m["far_below"] else "not far below"))
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _errbar(entry: dict[str, Any]) -> tuple[float, float, float]:
    v, (lo, hi) = entry["value"], entry["ci95"]
    return 100 * v, 100 * (v - lo), 100 * (hi - v)


def plot_scatter(rows: list[dict[str, Any]], checks_c: dict[str, Any], path: Path) -> None:
    """Published top-1 vs mixed_rand accuracy and vs BG-Gap (one point per model, 95% bars)."""
    plt = _plt()
    have = [r for r in rows if r["published_top1"] is not None and "mixed_rand" in r["accuracy"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    colours = {"builtin": "tab:red", "tflite": "tab:blue", "onnx": "tab:green"}
    panels = ((axes[0], "mixed_rand", "mixed_rand accuracy (%)"), (axes[1], "bg_gap", "BG-Gap (points)"))
    for ax, key, label in panels:
        for r in have:
            e = r["accuracy"]["mixed_rand"] if key == "mixed_rand" else r["bg_gap"]
            if not e:
                continue
            y, lo, hi = _errbar(e)
            ax.errorbar(r["published_top1"], y, yerr=[[lo], [hi]], fmt="o", color=colours.get(r["kind"], "k"),
                        capsize=3, alpha=0.8)
            ax.annotate(r["model"], (r["published_top1"], y), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        est = checks_c.get(key)
        title = label.split(" (")[0]
        if est:
            ci = "" if est["ci95"][0] is None else f" [{est['ci95'][0]:+.2f}, {est['ci95'][1]:+.2f}]"
            title += f": Spearman {est['value']:+.2f}{ci}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("published ImageNet top-1 (%)")
        ax.set_ylabel(label)
        if key == "bg_gap":
            ax.axhline(0, color="grey", lw=0.8)
        ax.grid(alpha=0.3)
    for kind, colour in colours.items():
        axes[0].plot([], [], "o", color=colour, label=kind)
    axes[0].legend(fontsize=8)
    fig.suptitle("Real photos: better ImageNet models vs background reliance (95% intervals)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    from bgbench.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    _plt().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_check_a(checks_a: dict[str, Any], path: Path) -> None:
    plt = _plt()
    per = checks_a["per_model"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(per) + 1.8))
    lo_paper, hi_paper = PAPER_ONLY_BG_T
    ax.axvspan(100 * lo_paper, 100 * hi_paper, color="orange", alpha=0.15, label="paper Table 2 (released)")
    ax.axvline(100 * CHANCE, color="k", ls="--", lw=1, label="chance 1/9")
    for i, m in enumerate(per):
        for rule, dy, colour in (("released", -0.15, "tab:blue"), ("restricted", 0.15, "tab:purple")):
            if rule in m:
                x, lo, hi = _errbar(m[rule])
                ax.errorbar(x, i + dy, xerr=[[lo], [hi]], fmt="o", color=colour, capsize=2, ms=4,
                            label=rule if i == 0 else None)
    ax.set_yticks(range(len(per)), [m["model"] for m in per], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("only_bg_t accuracy (%), 95% Wilson intervals")
    ax.set_title("(a) background only: above chance?", fontsize=10, pad=24)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_check_b(checks_b: dict[str, Any], path: Path) -> None:
    plt = _plt()
    per = checks_b["per_model"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(per) + 1.8))
    ax.axvline(0, color="k", lw=1)
    mean = checks_b.get("mean_bootstrap_over_foregrounds") or checks_b.get("mean_over_models_t")
    if mean:
        ax.axvspan(100 * mean["ci95"][0], 100 * mean["ci95"][1], color="tab:red", alpha=0.12,
                   label="mean over models, 95%")
        ax.axvline(100 * mean["value"], color="tab:red", lw=1)
    for i, m in enumerate(per):
        x, lo, hi = _errbar(m)
        ax.errorbar(x, i, xerr=[[lo], [hi]], fmt="o", color="tab:blue", capsize=2, ms=4)
    ax.set_yticks(range(len(per)), [m["model"] for m in per], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("BG-Gap = mixed_same - mixed_rand (points), paired 95% intervals")
    ax.set_title("(b) BG-Gap > 0 for most models?", fontsize=10, pad=18)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_check_d(checks_d: dict[str, Any], path: Path) -> None:
    plt = _plt()
    per = checks_d["per_model"]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.25
    for j, (key, colour) in enumerate((("original", "tab:green"), ("mixed_rand", "tab:orange"),
                                       ("challenge", "tab:red"))):
        for i, m in enumerate(per):
            if m.get(key):
                y, lo, hi = _errbar(m[key])
                ax.bar(i + (j - 1) * width, y, width, color=colour, yerr=[[lo], [hi]], capsize=3,
                       label=key if i == 0 else None)
    ax.set_xticks(range(len(per)), [m["model"] for m in per], fontsize=8)
    ax.set_xlim(-0.5 - 1.5 * width, len(per) - 0.5 + 1.5 * width)
    ax.set_ylabel("accuracy (%), 95% intervals")
    ax.set_ylim(0, 100)
    ax.set_title("(d) challenge accuracy vs original accuracy", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


# ----------------------------------------------------------------------------- the study
def data_note(summary: dict[str, Any], n_eval: int | None) -> str:
    kept, dropped = summary.get("kept"), summary.get("dropped")
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted((summary.get("drop_reasons") or {}).items()))
    half = ""
    if n_eval:
        from bgbench.metrics import wilson_interval

        lo, hi = wilson_interval(round(0.8 * n_eval), n_eval)
        half = (f" With n = {n_eval} images per variant a 95% interval at 80% accuracy spans "
                f"{100 * lo:.0f}-{100 * hi:.0f}%: the intervals are WIDE, and differences of a few points "
                "between models are noise.")
    return (f"Data: {kept} photos kept of {kept + dropped} read ({dropped} dropped: {reasons})." + half)


LEGEND = ("Accuracy in % with [95% Wilson interval]; bg_t/370 = only_bg_t with the argmax restricted to the "
          "370 IN-9 classes (all other columns: released rule, classes outside the nine count as wrong); "
          "BG-Gap = m_same - m_rand in points with its paired Newcombe interval; challenge = share of "
          "foregrounds no only_bg_t background fools; top-1 = published ImageNet top-1 (~ approximate).")


def _what_ran(released: Any, restricted: Any) -> tuple[list[str], list[str], float, float]:
    """(models evaluated now, models challenged now, eval seconds, challenge seconds) of the sweeps."""
    evaluated, challenged, eval_s, challenge_s = [], [], 0.0, 0.0
    for row in released.models:
        t = row.get("timing") or {}
        again = (restricted.row(row["name"]).get("timing") or {}) if row["name"] in restricted.names else {}
        if t.get("resumed") is False or again.get("resumed") is False:
            evaluated.append(row["name"])
        if t.get("challenge_resumed") is False:
            challenged.append(row["name"])
        eval_s += t.get("eval_s", 0.0) + again.get("eval_s", 0.0)
        challenge_s += t.get("challenge_s", 0.0)
    return evaluated, challenged, eval_s, challenge_s


def _write_study(study: Path, note: str, summary: dict[str, Any], rows: list[dict[str, Any]],
                 checks: dict[str, Any]) -> dict[str, Path]:
    """table.{txt,csv,json}, checks.{txt,json} and the figures into ``study``; returns the paths."""
    from bgbench.atomic import atomic_write_json, atomic_write_text
    from bgbench.sweeps.table import format_csv, format_text

    files = {"table_txt": study / "table.txt", "table_csv": study / "table.csv",
             "table_json": study / "table.json", "checks_txt": study / "checks.txt",
             "checks_json": study / "checks.json",
             "scatter": study / "scatter_top1.png", "check_a": study / "check_a_only_bg_t.png",
             "check_b": study / "check_b_bg_gap.png", "check_d": study / "check_d_challenge.png"}
    columns = table_columns(rows)
    table = format_text(rows, columns)
    atomic_write_text(files["table_txt"], "\n".join([note, "", table, "", LEGEND]) + "\n")
    atomic_write_text(files["table_csv"], format_csv(rows, columns))
    atomic_write_json(files["table_json"], {"note": note, "legend": LEGEND, "data_summary": summary,
                                            "rows": table_records(rows)})
    atomic_write_text(files["checks_txt"], format_checks(checks) + "\n")
    atomic_write_json(files["checks_json"], {"note": note, **checks})
    plot_scatter(rows, checks["c"], files["scatter"])
    plot_check_a(checks["a"], files["check_a"])
    plot_check_b(checks["b"], files["check_b"])
    if checks["d"]["per_model"]:
        plot_check_d(checks["d"], files["check_d"])
    else:
        files.pop("check_d")
    return files


def write_report(out: Path, *, quiet: bool) -> Path:
    """``OUT/report.html`` (``bgbench report``, with report.md and report_files/ beside it) of the build,
    both sweeps and the challenges under them."""
    import bgbench

    inputs = [p for p in (out / "data", out / "results", out / "restricted") if p.is_dir()]
    bgbench.report(inputs, out / "report.html", title="bgbench real-data study", quiet=quiet)
    return out / "report.html"


def _build_summary(realdata: Path, data: Path, *, per_class: int | None, workers: int, segmenter: str,
                   report_only: bool, quiet: bool) -> dict[str, Any]:
    from bgbench.errors import BgbenchError

    if not report_only:
        return build_step(realdata, data, per_class=per_class, workers=workers, segmenter=segmenter,
                          quiet=quiet)
    build_json = data / "build.json"
    if not build_json.is_file():
        raise BgbenchError("nothing built yet (no data/build.json); run without --report-only", data.parent)
    return json.loads(build_json.read_text())["splits"]["val"]["summary"]


def run_study(out: Path, *, realdata: Path = DEFAULT_REALDATA, models: list[str] | None = None,
              per_class: int | None = None, skip_challenge: bool = False,
              challenge_models: list[str] | None = None, challenge_shard: str | None = None,
              device: str = "auto", workers: int = 2, segmenter: str = "grabcut", n_boot: int = 10000,
              report_only: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Run (or resume) every step into ``out``; returns ``{"table": str, "checks": str, "rows": [...],
    "checks_json": {...}, "files": {...}}``. ``challenge_models`` defaults to the built-ins selected;
    ``challenge_shard`` "i/n" runs the challenge on a 1-in-n subsample of the foregrounds.
    ``report_only``: compute nothing, tabulate the results already in ``out`` (partial runs)."""
    from bgbench.errors import BgbenchError
    from bgbench.sweeps.table import format_text

    if not (realdata / "imagenet-samples").is_dir():
        raise BgbenchError("real data not found (expected imagenet-samples/ and models/; set "
                           "BGBENCH_REALDATA or --realdata)", realdata)
    out = Path(out)
    chosen = select_models(study_models(realdata), models)
    missing = [m.spec for m in chosen if m.kind != "builtin" and not Path(m.spec.split(":", 1)[1]).is_file()]
    if missing:
        raise BgbenchError(f"model file(s) not found: {', '.join(missing)}")
    wanted = challenge_models if challenge_models is not None else [m.name for m in chosen
                                                                     if m.kind == "builtin"]
    wanted = [] if skip_challenge or not wanted else [m.name for m in select_models(chosen, wanted)]
    t0 = time.perf_counter()
    summary = _build_summary(realdata, out / "data", per_class=per_class, workers=workers,
                             segmenter=segmenter, report_only=report_only, quiet=quiet)
    build_s = 0.0 if report_only else time.perf_counter() - t0
    released, restricted = sweep_step(out / "data", chosen, out, challenge_models=wanted,
                                      shard=challenge_shard, device=device, n_boot=n_boot,
                                      report_only=report_only, quiet=quiet)
    evaluated, challenged, eval_s, challenge_s = _what_ran(released, restricted)
    rows = study_rows(chosen, released, restricted, out)
    checks = {"a": check_a(rows, n_boot), "b": check_b(rows, n_boot), "c": check_c(released.trend),
              "d": check_d(rows)}
    n_eval = max((r["accuracy"]["original"]["n"] for r in rows if "original" in r["accuracy"]), default=None)
    note = data_note(summary, n_eval)
    files = _write_study(out / "study", note, summary, rows, checks)
    files["report"] = write_report(out, quiet=quiet)
    return {"note": note, "table": format_text(rows, table_columns(rows)), "legend": LEGEND,
            "checks": format_checks(checks), "rows": table_records(rows), "checks_json": checks,
            "files": {k: str(v) for k, v in files.items()}, "evaluated_now": evaluated,
            "challenged_now": challenged,
            "timing": {"build_s": build_s, "eval_s": eval_s, "challenge_s": challenge_s}}


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
