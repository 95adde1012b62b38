"""Run the real-data study: build, the two sweeps, the table, the four checks, figures, report.

Every step resumes: the build and the library sweep skip what is done.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bgbench.study.checks import check_a, check_b, check_c, check_d, format_checks
from bgbench.study.figures import plot_check_a, plot_check_b, plot_check_d, plot_scatter
from bgbench.study.models import StudyModel, select_models, study_models
from bgbench.study.rows import study_rows, table_columns, table_records

TREND_SEED = 3  # the bootstrap seed of check (c), the library sweep's trend


def build_step(realdata: Path, data: Path, *, per_class: int | None, workers: int, segmenter: str,
               quiet: bool) -> dict[str, Any]:
    """Build (or resume) the variants of the photos with boxes into ``data``; returns the split summary."""
    from bgbench.builder import BuildConfig, BuildRun, build_dataset
    from bgbench.errors import BgbenchError

    source = realdata / "imagenet-samples"
    if not (source / "xml").is_dir():
        raise BgbenchError("no xml/ tree of boxes (expected imagenet-samples/xml/<class>/<stem>.xml)", source)
    executor = "serial" if workers <= 1 else "process"
    config = BuildConfig(split="val", per_class=per_class, segmenter=segmenter,
                         run=BuildRun(executor, workers))
    result = build_dataset(source, data, config, quiet=quiet)
    return result.doc["summary"]


def sweep_step(data: Path, models: list[StudyModel], out: Path, *, challenge_models: list[str],
               shard: str | None, device: str, n_boot: int, report_only: bool,
               quiet: bool) -> tuple[Any, Any]:
    """The library sweep twice: every variant under the released rule (and the challenge of
    ``challenge_models``) into ``OUT/results``; only_bg_t under the restricted rule into
    ``OUT/restricted``. ``report_only``: run nothing, collect what the folders hold. Returns the two
    :class:`bgbench.SweepResult`."""
    from dataclasses import replace

    from bgbench.config import CacheChoice
    from bgbench.options import ModelOptions
    from bgbench.sweeps import SweepConfig, collect, sweep, sweep_models

    released = sweep_models([{"name": m.name, "spec": m.spec, "imagenet_top1": m.published_top1,
                              "challenge": m.name in challenge_models} for m in models])
    restricted = sweep_models([{"name": m.name, "spec": m.spec, "imagenet_top1": m.published_top1}
                               for m in models])
    where = {"released": out / "results", "restricted": out / "restricted"}
    if report_only:
        return (collect(released, where["released"], n_boot=n_boot, seed=TREND_SEED),
                collect(restricted, where["restricted"], n_boot=n_boot, seed=TREND_SEED))
    common = SweepConfig(cache=CacheChoice(cache_dir=out / "cache"), n_boot=n_boot, seed=TREND_SEED)
    options = ModelOptions.of(None, device=device, precision="fp32")
    first = sweep(released, data, replace(common, challenge_shard=shard,
                                          options=options.with_(map_rule="released")),
                  out=where["released"], quiet=quiet)
    second = sweep(restricted, data, replace(common, variants=("only_bg_t",),
                                             options=options.with_(map_rule="restricted")),
                   out=where["restricted"], quiet=quiet)
    return first, second


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


def run_study(out: Path, *, realdata: Path, models: list[str] | None = None,
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
