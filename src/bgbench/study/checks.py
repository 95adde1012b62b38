"""The paper's four checks on the study's rows (pure: dicts in, dicts out) and their text.

(a) only_bg_t accuracy against chance (1/9), released and restricted rule, per model and pooled;
(b) BG-Gap > 0 for most models, and the mean BG-Gap with an interval;
(c) Spearman rank correlation of published ImageNet top-1 with mixed_rand accuracy and with BG-Gap
    across the models, with a bootstrap interval over models (the sweep's trend);
(d) challenge accuracy against original accuracy per model challenged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CHANCE = 1.0 / 9.0
PAPER_ONLY_BG_T = (0.119, 0.178)  # Table 2, ImageNet-pretrained models, released rule


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
