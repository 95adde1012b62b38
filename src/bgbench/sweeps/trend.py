"""The sweep's trend: do better ImageNet models lean on backgrounds less?

Spearman's rank correlation of the published ImageNet top-1 (``imagenet_top1``) with each variant's
accuracy and with the BG-Gap, across the models that have a top-1 (and the value), with a percentile
bootstrap over models (:func:`bgbench.stats.spearman_bootstrap`). The paper (Xiao et al., 2021)
finds a higher mixed_rand accuracy and a smaller BG-Gap for better models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TARGET_BG_GAP = "bg_gap"


def _value(row: dict[str, Any], target: str) -> float | None:
    if target == TARGET_BG_GAP:
        return row.get("bg_gap")
    return (row.get("accuracy") or {}).get(target)


def trend(rows: list[dict[str, Any]], targets: list[str], *, n_boot: int = 10000,
          seed: int = 0) -> dict[str, Any]:
    """``{"against": "imagenet_top1", "models": [...], "left_out": [...], "n_boot", "seed",
    "spearman": {target: Estimate JSON}}`` for ``targets`` (variant names and ``"bg_gap"``); a
    target with fewer than two models is left out of ``spearman``."""
    from bgbench.stats import spearman_bootstrap

    have = [r for r in rows if r.get("imagenet_top1") is not None]
    out: dict[str, Any] = {"against": "imagenet_top1", "models": [r["name"] for r in have],
                           "left_out": [r["name"] for r in rows if r.get("imagenet_top1") is None],
                           "n_boot": n_boot, "seed": seed, "spearman": {}}
    x = np.array([r["imagenet_top1"] for r in have], dtype=np.float64)
    for target in targets:
        ys = [_value(r, target) for r in have]
        keep = [i for i, y in enumerate(ys) if y is not None]
        if len(keep) < 2:
            continue
        est = spearman_bootstrap(x[keep], np.array([ys[i] for i in keep], dtype=np.float64), n_boot=n_boot,
                                 seed=seed)
        out["spearman"][target] = est.to_json()
    return out


def _rho(est: dict[str, Any]) -> str:
    lo, hi = est["ci95"]
    value = "undefined" if est["value"] is None else f"{est['value']:+.2f}"
    return value + (" (no interval)" if lo is None or hi is None else f" [{lo:+.2f}, {hi:+.2f}]")


def trend_summary(doc: dict[str, Any]) -> str | None:
    """One line: Spearman of imagenet_top1 with mixed_rand accuracy and with BG-Gap (None without)."""
    rhos = doc.get("spearman") or {}
    parts = [f"{label} {_rho(rhos[key])}" for key, label in (("mixed_rand", "mixed_rand"),
                                                             (TARGET_BG_GAP, "BG-Gap")) if key in rhos]
    if not parts:
        return None
    return f"  trend over {len(doc['models'])} models, Spearman with imagenet_top1: " + "; ".join(parts)


def trend_lines(doc: dict[str, Any]) -> list[str]:
    """The trend as short text lines (rho [95% interval], models)."""
    rhos = doc.get("spearman") or {}
    if not rhos:
        return ["trend: no model has an imagenet_top1 (add it to the models file)"] if not doc.get("models") \
            else ["trend: too few models with an imagenet_top1 for a rank correlation"]
    lines = [f"trend: Spearman rho of imagenet_top1 vs ... across {len(doc['models'])} models "
             f"(95% bootstrap over models)"]
    lines += [f"  {target:<11} {_rho(est)}" for target, est in rhos.items()]
    return lines
