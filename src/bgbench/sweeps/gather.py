"""A sweep's rows, gathered from each model's own result files.

``OUT/<name>/eval.json`` (read with :func:`bgbench.load_results`) gives the accuracies and the
BG-Gap; ``OUT/<name>/challenge/`` the challenge: its complete all-foreground ``challenge.json``, else
the union of its complete shards (``shard-<i>-of-<n>/``) of one n, a 1-in-n subsample per shard
(:func:`challenge_outcome`). Numbers are fractions in [0, 1]; intervals are 95% ``[low, high]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bgbench.jsonable import jsonable, versions
from bgbench.layout import IMAGE_VARIANTS
from bgbench.provenance import command_line
from bgbench.results import check_renamed, load_results
from bgbench.sweeps.config import SweepModel, sweep_models
from bgbench.sweeps.result import SweepResult
from bgbench.sweeps.trend import TARGET_BG_GAP, trend

CHALLENGE_DIR = "challenge"
#: each model's evaluation in ``OUT/<name>/`` (:attr:`bgbench.eval.EvalResult.FILENAME`)
RESULTS_NAME = "eval.json"


def shard_folder(challenge: Path, shard: tuple[int, int]) -> Path:
    """``<challenge>/shard-<i>-of-<n>`` (the naming of :mod:`bgbench.challenge.run`)."""
    return challenge / f"shard-{shard[0]}-of-{shard[1]}"


@dataclass
class ChallengeOutcome:
    """The challenge of one model: per-foreground ``records`` (challenge.json's ``foregrounds``),
    ``n_backgrounds``, ``n_foregrounds_total`` (all foregrounds of the data), ``shard`` (None for
    the all-foreground run, else e.g. ``"0,2/4"``) and the ``files`` read."""

    records: list[dict[str, Any]]
    n_backgrounds: int | None
    n_foregrounds_total: int | None
    shard: str | None
    files: list[Path] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def fooled(self) -> int:
        return sum(bool(r["fooled"]) for r in self.records)


def complete_challenge(folder: Path) -> Any:
    """The :class:`~bgbench.challenge.ChallengeResult` of ``folder/challenge.json`` when that run
    (or shard) decided every foreground, else None."""
    path = folder / "challenge.json"
    if not path.is_file():
        return None
    result = load_results(path)
    return result if result.doc.get("complete") else None


def challenge_outcome(folder: str | Path) -> ChallengeOutcome | None:
    """The complete all-foreground run in ``folder`` if there is one, else the union of the complete
    shards ``shard-*/`` of the n whose shards cover the most foregrounds; None when nothing is
    complete (incomplete runs are ignored)."""
    folder = Path(folder)
    full = complete_challenge(folder)
    if full is not None:
        return _outcome([full], None)
    by_n: dict[int, list[tuple[int, Any]]] = {}
    for path in sorted(folder.glob("shard-*/challenge.json")):
        done = complete_challenge(path.parent)
        if done is not None and done.doc.get("shard"):
            i, n = done.doc["shard"]
            by_n.setdefault(int(n), []).append((int(i), done))
    if not by_n:
        return None
    n, docs = max(by_n.items(), key=lambda item: sum(len(d.doc["foregrounds"]) for _, d in item[1]))
    docs.sort(key=lambda item: item[0])
    return _outcome([d for _, d in docs], ",".join(str(i) for i, _ in docs) + f"/{n}")


def _outcome(docs: list[Any], shard: str | None) -> ChallengeOutcome:
    data = docs[0].doc.get("data", {})
    return ChallengeOutcome(records=[r for d in docs for r in d.doc["foregrounds"]],
                            n_backgrounds=data.get("n_backgrounds"),
                            n_foregrounds_total=data.get("n_foregrounds_total"), shard=shard,
                            files=[d.source_path for d in docs])


def _num(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def eval_fields(result: Any) -> dict[str, Any]:
    """The accuracy fields of a model's row from its :class:`~bgbench.eval.EvalResult`."""
    v, gap = result.variants, result.bg_gap
    return {"map_rule": result.map_rule,
            "accuracy": {name: _num(r.accuracy.value) for name, r in v.items()},
            "accuracy_ci95": {name: [r.accuracy.low, r.accuracy.high] for name, r in v.items()},
            "n": {name: len(r.paths) for name, r in v.items()},
            "correct": {name: r.accuracy.k for name, r in v.items()},
            "bg_gap": None if gap is None else gap.value,
            "bg_gap_ci95": None if gap is None else [gap.low, gap.high],
            "bg_gap_method": None if gap is None else gap.method,
            "weights_sha256": result.model_info.get("weights_sha256")}


def challenge_fields(outcome: ChallengeOutcome | None, out: Path) -> dict[str, Any]:
    """The challenge fields of a row (None values when no complete challenge was found)."""
    from bgbench.metrics import proportion

    if outcome is None or outcome.n == 0:
        return {"challenge_accuracy": None, "challenge_ci95": None, "challenge_n": 0, "challenge_shard": None,
                "challenge_backgrounds": None, "challenge": []}
    p = proportion(outcome.n - outcome.fooled, outcome.n)
    return {"challenge_accuracy": p.value, "challenge_ci95": [p.low, p.high], "challenge_n": outcome.n,
            "challenge_fooled": outcome.fooled, "challenge_shard": outcome.shard,
            "challenge_backgrounds": outcome.n_backgrounds,
            "challenge_foregrounds_total": outcome.n_foregrounds_total,
            "challenge": [f.relative_to(out).as_posix() for f in outcome.files]}


def model_row(model: SweepModel, out: str | Path, challenge: bool) -> tuple[dict[str, Any], Any]:
    """(row of sweep.json, the model's EvalResult) for ``model`` whose results are in ``out/<name>/``;
    ``challenge``: add the challenge fields."""
    out = Path(out)
    result = load_results(out / model.name / RESULTS_NAME)
    row: dict[str, Any] = {"name": model.name, "spec": model.spec, "imagenet_top1": model.imagenet_top1}
    if model.notes:
        row["notes"] = model.notes
    row["options"] = jsonable(model.overrides)
    row.update(eval_fields(result))
    if challenge:
        row.update(challenge_fields(challenge_outcome(out / model.name / CHALLENGE_DIR), out))
    row["results"] = model.name  # the model's results folder, relative to OUT
    return row, result


def collect(models: Any, out: str | Path, *, challenge: bool = False, n_boot: int = 10000, seed: int = 0,
            runs: list[dict[str, Any]] | None = None) -> SweepResult:
    """The :class:`SweepResult` of the results already in ``out`` (models without an eval.json
    are left out, so a running sweep can be tabulated; one with only an earlier bgbench's
    ``results.json`` is a one-line error saying to rename it). ``models``: as for :func:`bgbench.sweep`;
    ``challenge``: the default of the models' ``challenge`` flag; ``runs``: what each model's task
    reported (its row's ``timing``). Runs nothing and writes nothing."""
    models, out = sweep_models(models), Path(out)
    rows, data = [], {}
    for i, m in enumerate(models):
        if not (out / m.name / RESULTS_NAME).is_file():
            check_renamed(out / m.name)
            continue
        row, result = model_row(m, out, challenge if m.challenge is None else m.challenge)
        if runs is not None:
            row["timing"] = {k: v for k, v in runs[i].items() if k != "name"}
        rows.append(row)
        data = data or {"root": result.data_root, "split": result.split,
                        "fingerprint": result.data_fingerprint}
    evaluated = [v for v in IMAGE_VARIANTS if any(v in r["accuracy"] for r in rows)]
    doc = {"schema": SweepResult.SCHEMA, "models": rows, "variants": evaluated, "data": data,
           "trend": trend(rows, [*evaluated, TARGET_BG_GAP], n_boot=n_boot, seed=seed),
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "versions": versions(),
           "command": command_line()}
    return SweepResult(doc)
