"""The report's sections as plain data: pure functions from the collected documents to
:class:`Section` objects (text, :class:`Table`, :class:`FigureSpec`, in reading order).

Nothing here draws or writes: a :class:`FigureSpec` names the drawing function of
:mod:`bgbench.reporting.figures` and the data it needs; :mod:`bgbench.reporting.render` turns sections
into HTML and Markdown. A section is left out when the results hold nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgbench.layout import IMAGE_VARIANTS
from bgbench.reporting.rows import Estimate, ModelRow
from bgbench.results.base import pct

#: a per-model bar chart turns into a heat map past this many models
MAX_BAR_MODELS = 8
#: most fooling backgrounds shown per challenged model
TOP_BACKGROUNDS = 6
BG_GAP_DEFINITION = "BG-Gap = accuracy(mixed_same) − accuracy(mixed_rand), in points"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    type: str = "table"


@dataclass
class FigureSpec:
    """A figure to draw: ``draw`` names a function of :data:`bgbench.reporting.figures.DRAWERS`
    (``"image"`` embeds the PNG file ``data["path"]``); ``name`` is its file stem in report_files."""

    name: str
    draw: str
    data: dict[str, Any]
    caption: str
    type: str = "figure"


@dataclass
class Text:
    text: str
    type: str = "text"


@dataclass
class Section:
    id: str
    title: str
    items: list[Table | FigureSpec | Text] = field(default_factory=list)

    @property
    def figures(self) -> list[FigureSpec]:
        return [i for i in self.items if isinstance(i, FigureSpec)]


# ----------------------------------------------------------------------------- formatting
def pct_est(e: Estimate | None) -> str:
    """``85.2% [80–89]`` (interval in whole percent), ``-`` when not measured."""
    if e is None:
        return "-"
    if e.low is None or e.high is None:
        return pct(e.value)
    return f"{pct(e.value)} [{100 * e.low:.0f}–{100 * e.high:.0f}]"


def points_est(e: Estimate | None) -> str:
    """A difference of fractions in points: ``+7.3 [+2.0, +12.4]``."""
    if e is None:
        return "-"
    text = f"{100 * e.value:+.1f}"
    if e.low is not None and e.high is not None:
        text += f" [{100 * e.low:+.1f}, {100 * e.high:+.1f}]"
    return text


def _plain(e: Estimate | None) -> dict[str, Any] | None:
    return None if e is None else {"value": e.value, "low": e.low, "high": e.high}


def short_hash(value: Any) -> str:
    return "-" if not value else str(value)[:12]


# ----------------------------------------------------------------------------- models
def summary_section(rows: list[ModelRow], n_results: int) -> Section | None:
    """Key figures: one line per model that has one (original, mixed_rand, BG-Gap, challenge, and the
    published ImageNet top-1 when a sweep gave it); evaluations of other variants only are left to the
    accuracy section."""
    shown = [
        r for r in rows if "original" in r.accuracy or "mixed_rand" in r.accuracy or r.bg_gap or r.challenge
    ]
    if not shown:
        return None
    has_top1 = any(r.imagenet_top1 is not None for r in shown)
    has_draws = any(r.draws_gap for r in shown)
    has_challenge = any(r.challenge for r in shown)
    header = ["model", *["ImageNet top-1"] * has_top1, "original", "mixed_rand", "BG-Gap (points)"]
    header += ["BG-Gap over donor draws"] * has_draws + ["challenge accuracy"] * has_challenge
    body = []
    for r in shown:
        top1 = "-" if r.imagenet_top1 is None else f"{r.imagenet_top1:.1f}%"
        line = [
            r.name,
            *[top1] * has_top1,
            pct_est(r.accuracy.get("original")),
            pct_est(r.accuracy.get("mixed_rand")),
            points_est(r.bg_gap),
        ]
        line += [points_est(r.draws_gap)] * has_draws + [pct_est(r.challenge)] * has_challenge
        body.append(line)
    others = len(rows) - len(shown)
    intro = (
        f"{len(shown)} model(s) from {n_results} result file(s)"
        + (f" ({others} more evaluation(s) of other variants in the accuracy section)" if others else "")
        + ". Accuracy is top-1 on the nine classes with a 95% interval in brackets; "
        + f"{BG_GAP_DEFINITION}; challenge accuracy is the share of foregrounds that no background fools."
    )
    return Section("summary", "Key figures", [Text(intro), Table(header, body)])


def _accuracy_items(rows: list[ModelRow], suffix: str, note: str) -> list[Any]:
    """Table and figure of one group of rows (one map rule)."""
    variants = [v for v in IMAGE_VARIANTS if any(v in r.accuracy for r in rows)]
    body = [
        [
            r.name,
            *[pct_est(r.accuracy.get(v)) for v in variants],
            str(max((e.n or 0 for e in r.accuracy.values()), default=0)),
        ]
        for r in rows
    ]
    table = Table(
        ["model", *variants, "n"], body, f"accuracy [95% Wilson interval]{note}; n: images per variant"
    )
    data = {
        "variants": variants,
        "models": [
            {"name": r.name, "accuracy": {v: _plain(r.accuracy.get(v)) for v in variants}} for r in rows
        ],
    }
    if len(rows) <= MAX_BAR_MODELS:
        draw, what = "accuracy_bars", "one bar per model (whiskers: 95% intervals)"
    elif len(variants) <= 2:
        draw, what = "accuracy_dots", f"{len(rows)} models (whiskers: 95% intervals)"
    else:
        draw, what = "accuracy_heatmap", f"{len(rows)} models; numbers in percent"
    figure = FigureSpec(f"accuracy{suffix}", draw, data, f"Accuracy on each variant{note}, {what}.")
    return [figure, table]


#: label-map rules whose accuracies do not compare with the released rule's (an argmax over a subset
#: of a 1000-class model's outputs, or summed probabilities): shown apart
SEPARATE_RULES = ("restricted", "sum")


def accuracy_section(rows: list[ModelRow]) -> Section | None:
    """Accuracy per model and variant (Wilson 95% intervals) and its figure; evaluations under the
    restricted or sum map rule form groups of their own (their numbers do not compare with the
    released rule's, or with a 9-output model's direct predictions, which share the first group)."""
    rows = [r for r in rows if r.accuracy]
    if not rows:
        return None
    groups: dict[str, list[ModelRow]] = {}
    for r in rows:
        groups.setdefault(r.map_rule if r.map_rule in SEPARATE_RULES else "", []).append(r)
    order = sorted(groups, key=lambda rule: rule != "")
    items: list[Any] = []
    for rule in order:
        note = f", {rule} map rule" if rule else ""
        items += _accuracy_items(groups[rule], f"_{rule}" if rule else "", note)
    return Section("accuracy", "Accuracy per variant", items)


def bg_gap_section(rows: list[ModelRow]) -> Section | None:
    """BG-Gap per model with its interval (one donor, and over ``--draws`` donors when present)."""
    rows = [r for r in rows if r.bg_gap is not None or r.draws_gap is not None]
    if not rows:
        return None
    has_draws = any(r.draws_gap for r in rows)
    header = ["model", "mixed_same", "mixed_rand", "BG-Gap (points)", "interval"]
    header += ["BG-Gap over donor draws", "draws"] * has_draws
    body = []
    for r in rows:
        line = [
            r.name,
            pct_est(r.accuracy.get("mixed_same")),
            pct_est(r.accuracy.get("mixed_rand")),
            points_est(r.bg_gap),
            r.bg_gap.note if r.bg_gap else "-",
        ]
        if has_draws:
            line += [points_est(r.draws_gap), r.draws_gap.note if r.draws_gap else "-"]
        body.append(line)
    data = {"models": [{"name": r.name, "gap": _plain(r.bg_gap), "draws": _plain(r.draws_gap)} for r in rows]}
    caption = (
        "BG-Gap per model with its 95% interval (one donor background per foreground: Newcombe "
        "interval" + ("; over several donor draws: bootstrap over foregrounds" if has_draws else "") + ")."
    )
    text = Text(
        f"{BG_GAP_DEFINITION}. A positive gap means the model is right more often when the "
        "background matches the object's class: it uses the background."
    )
    return Section(
        "bg-gap", "BG-Gap", [text, FigureSpec("bg_gap", "bg_gap", data, caption), Table(header, body)]
    )


def progress_section(rows: list[ModelRow], sweeps: list[dict[str, Any]]) -> Section | None:
    """ImageNet top-1 against accuracy and BG-Gap (models with a published top-1, from a sweep)."""
    have = [r for r in rows if r.imagenet_top1 is not None and ("original" in r.accuracy or r.bg_gap)]
    if len(have) < 2:
        return None
    shown = [v for v in ("original", "mixed_same", "mixed_rand") if any(v in r.accuracy for r in have)]
    data = {
        "variants": shown,
        "models": [
            {
                "name": r.name,
                "top1": r.imagenet_top1,
                "accuracy": {v: _plain(r.accuracy.get(v)) for v in shown},
                "gap": _plain(r.bg_gap),
            }
            for r in have
        ],
    }
    items: list[Any] = [
        Text(
            f"{len(have)} models with a published ImageNet top-1. The paper (Xiao et al., "
            "2021) finds that better ImageNet models gain more on mixed_rand than on "
            "original, so their BG-Gap shrinks."
        )
    ]
    items.append(
        FigureSpec(
            "progress",
            "progress",
            data,
            "Published ImageNet top-1 against accuracy per variant (left) and BG-Gap (right); "
            "whiskers: 95% intervals.",
        )
    )

    def richness(doc: dict[str, Any]) -> tuple[int, int]:
        t = doc.get("trend") or {}
        return len(t.get("spearman") or {}), len(t.get("models") or [])

    trend = max(sweeps, key=richness, default={}).get("trend")
    rhos = (trend or {}).get("spearman") or {}
    for key, target in (("left_title", "mixed_rand"), ("right_title", "bg_gap")):
        if rhos.get(target, {}).get("value") is not None:
            label = "mixed_rand" if target == "mixed_rand" else "BG-Gap"
            data[key] = f"Spearman ρ (top-1, {label}) = {_rho(rhos[target])}"
    if rhos:
        body = [
            [target.replace("bg_gap", "BG-Gap"), _rho(est), str(est.get("n", "-"))]
            for target, est in rhos.items()
        ]
        items.append(
            Table(
                ["ImageNet top-1 vs", "Spearman rho [95% interval]", "models"],
                body,
                "rank correlation across models (percentile bootstrap over models, from the sweep)",
            )
        )
    return Section("progress", "ImageNet progress", items)


def _rho(est: dict[str, Any]) -> str:
    """``+0.90 [+0.62, +0.99]`` (no interval when the bootstrap gave none)."""
    if est.get("value") is None:
        return "-"
    ci = est.get("ci95") or [None, None]
    return f"{est['value']:+.2f}" + ("" if ci[0] is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")


# ----------------------------------------------------------------------------- dataset
def dataset_section(builds: list[dict[str, Any]]) -> Section | None:
    """Counts, drop reasons and one image per class in every variant, per build (``builds``: the
    BuildResult documents, with ``out`` and ``split``)."""
    if not builds:
        return None
    items: list[Any] = []
    for doc in builds:
        summary, config = doc.get("summary") or {}, doc.get("config") or {}
        items.append(
            Text(
                f"Build {doc.get('out')} (split {doc.get('split')}): {summary.get('kept', 0)} images "
                f"kept of {summary.get('images', '?')}, {summary.get('dropped', 0)} dropped; "
                f"segmenter {config.get('segmenter')}, source {config.get('source')} "
                f"({config.get('source_format')}), seed {config.get('seed')}."
            )
        )
        per_class = summary.get("per_class") or {}
        if per_class:
            header = ["images", *[cls.split("_", 1)[-1] for cls in per_class]]
            body = [
                [what, *[str(c.get(what, 0)) for c in per_class.values()]] for what in ("kept", "dropped")
            ]
            items.append(Table(header, body, "images per class"))
        reasons = summary.get("drop_reasons") or {}
        if reasons:
            items.append(
                Table(
                    ["drop reason", "images"],
                    [[k, str(v)] for k, v in reasons.items()],
                    "why images were left out",
                )
            )
        iou = summary.get("mask_iou")
        if isinstance(iou, dict) and iou.get("mean") is not None:
            items.append(
                Text(
                    f"Segmentation against the provided masks: mean IoU {iou['mean']:.3f}, median "
                    f"{iou.get('median', float('nan')):.3f} over {iou.get('n')} images."
                )
            )
        if doc.get("out"):
            stem = "dataset" if len(builds) == 1 else f"dataset_{len(items)}"
            items.append(
                FigureSpec(
                    stem,
                    "variant_grid",
                    {"root": str(doc["out"]), "split": doc.get("split")},
                    "One image per class (rows) in every variant (columns); fg_mask is the foreground mask.",
                )
            )
    return Section("dataset", "Dataset", items)


# ----------------------------------------------------------------------------- challenge
def challenge_section(challenges: list[tuple[str, dict[str, Any], Path | None]]) -> Section | None:
    """Challenge accuracy, per-class fooled rate and the most fooling backgrounds; ``challenges``:
    (name, challenge.json document, its folder)."""
    if not challenges:
        return None
    body = []
    for name, doc, _ in challenges:
        strict = doc.get("strict_reading") or {}
        strict_text = str(strict.get("n_fooled")) if strict.get("exact") else "-"
        body.append(
            [
                name,
                pct_est(Estimate.of(doc.get("challenge_accuracy"), doc.get("challenge_accuracy_ci95"))),
                f"{doc.get('n_fooled', 0)}/{doc.get('n_foregrounds', 0)}",
                str(doc.get("n_backgrounds", "-")),
                doc.get("mode", "search") + ("" if doc.get("complete", True) else " (incomplete)"),
                strict_text,
            ]
        )
    items: list[Any] = [
        Text(
            "A foreground is fooled when some background of only_bg_t, pasted behind it with its mask, makes "
            "the prediction wrong; challenge accuracy is the share never fooled (95% Wilson interval)."
        ),
        Table(
            ["model", "challenge accuracy", "fooled", "backgrounds", "mode", "fooled to the bg's class"], body
        ),
    ]
    classes = [c["class"] for c in challenges[0][1].get("per_class", [])]
    if classes:
        items += _per_class_items(challenges, classes)
    items += _background_items(challenges)
    return Section("challenge", "Adversarial backgrounds challenge", items)


def _per_class_items(
    challenges: list[tuple[str, dict[str, Any], Path | None]], classes: list[str]
) -> list[Any]:
    rates = {name: {c["class"]: c for c in doc.get("per_class", [])} for name, doc, _ in challenges}
    body = [
        [
            cls,
            *[
                pct_est(
                    Estimate.of(
                        rates[name].get(cls, {}).get("fooled_rate"),
                        rates[name].get(cls, {}).get("fooled_rate_ci95"),
                    )
                )
                for name, _, _ in challenges
            ],
        ]
        for cls in classes
    ]
    data = {
        "classes": classes,
        "models": [
            {
                "name": name,
                "rates": {
                    cls: _plain(
                        Estimate.of(
                            rates[name].get(cls, {}).get("fooled_rate"),
                            rates[name].get(cls, {}).get("fooled_rate_ci95"),
                        )
                    )
                    for cls in classes
                },
            }
            for name, _, _ in challenges
        ],
    }
    return [
        FigureSpec(
            "challenge_per_class",
            "per_class_fooled",
            data,
            "Share of each class's foregrounds that some background fools (whiskers: 95% intervals).",
        ),
        Table(["class", *[name for name, _, _ in challenges]], body, "fooled rate per class"),
    ]


def _background_items(challenges: list[tuple[str, dict[str, Any], Path | None]]) -> list[Any]:
    """The released gallery PNG when a challenge drew one, else the backgrounds that fooled most."""
    items: list[Any] = []
    picked = []
    for name, doc, folder in challenges:
        gallery = doc.get("gallery")
        if gallery and folder is not None and (folder / gallery).is_file():
            items.append(
                FigureSpec(
                    f"gallery_{_slug(name)}",
                    "image",
                    {"path": str(folder / gallery)},
                    f"{name}: the most fooling backgrounds per class (the challenge's gallery).",
                )
            )
            continue
        top = most_fooling(doc)
        if top:
            picked.append({"name": name, "items": top})
    if picked:
        items.append(
            FigureSpec(
                "challenge_backgrounds",
                "backgrounds",
                {"models": picked},
                "Backgrounds that fooled the most foregrounds, per model (search mode: each "
                "fooled foreground counts for the first background found to fool it; "
                "--full measures every pair).",
            )
        )
    return items


def most_fooling(doc: dict[str, Any], k: int = TOP_BACKGROUNDS) -> list[dict[str, Any]]:
    """The ``k`` backgrounds that fooled most: from ``top_backgrounds`` (``--full``) by fooling
    rate, else by how many foregrounds each was the fooling background of. Paths are absolute."""
    root = Path((doc.get("data") or {}).get("root") or ".")
    if doc.get("top_backgrounds"):
        flat = [
            (b["fool_rate"], group["class"], b["background"])
            for group in doc["top_backgrounds"]
            for b in group.get("backgrounds", [])
        ]
        flat.sort(key=lambda t: (-t[0], t[2]))
        return [
            {"path": str(root / path), "caption": f"{_class_of(path)}: fools {rate:.0%}"}
            for rate, _, path in flat[:k]
        ]
    counts: dict[str, int] = {}
    for fg in doc.get("foregrounds", []):
        if fg.get("fooled") and fg.get("fooling_background"):
            counts[fg["fooling_background"]] = counts.get(fg["fooling_background"], 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [{"path": str(root / path), "caption": f"{_class_of(path)}: fooled {n}"} for path, n in ranked]


def _class_of(path: str) -> str:
    """``only_bg_t/val/01_bird/x.JPEG`` -> ``bird``."""
    parts = Path(path).parts
    folder = parts[-2] if len(parts) >= 2 else ""
    return folder.split("_", 1)[1] if "_" in folder else folder


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60]
