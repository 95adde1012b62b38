"""bgbench.study (what benchmarks/realdata_study.py runs) on a small subset of the real photos: one
photo per class, a real TFLite model and the built-in efficientnet_lite0, no challenge. Checks the
table files, the checks' logic on real outputs, and that a second run resumes without re-evaluating."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import bgbench.study as study

MODELS = ["mobilenet_v1_0.25_128_quant", "efficientnet_lite0"]


@pytest.mark.realdata
@pytest.mark.slow
def test_study_core_on_one_photo_per_class(realdata, tmp_path):
    out = tmp_path / "study"
    # box segmenter keeps the test fast; the GrabCut build itself is tested in test_build.py
    res = study.run_study(out, realdata=realdata, models=MODELS, per_class=1, skip_challenge=True,
                          device="cpu", workers=1, segmenter="box", n_boot=500, quiet=True)
    assert res["evaluated_now"] == MODELS and res["challenged_now"] == []
    files = {k: Path(v) for k, v in res["files"].items()}
    assert "check_d" not in files  # no challenge, no figure (d)
    assert files["report"] == out / "report.html" and (out / "report.md").is_file()
    report_html = files["report"].read_text()
    assert 'id="progress"' in report_html and "mobilenet_v1_0.25_128_quant" in report_html
    for key in ("scatter", "check_a", "check_b"):
        assert files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", key

    # the table: one row per model, published top-1 from the zoo, every variant with its interval
    with open(files["table_csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == MODELS
    assert [float(r["published_top1"]) for r in rows] == [39.5, 75.1]
    doc = json.loads(files["table_json"].read_text())
    n = doc["data_summary"]["kept"]
    build = json.loads((out / "data" / "build.json").read_text())
    shortfall = sum((build["splits"]["val"]["summary"]["shortfall"] or {}).values())
    assert n == 9 - shortfall >= 5  # one kept photo per class: the build tops up past dropped ones
    for r, row in zip(rows, doc["rows"], strict=True):
        for variant in study.VARIANTS:
            acc = row["accuracy"][variant]
            assert acc["n"] == n and acc["ci95"][0] <= acc["value"] <= acc["ci95"][1]
            assert float(r[variant]) == pytest.approx(acc["value"], abs=1e-6)
        gap = row["bg_gap"]
        assert gap["value"] == pytest.approx(row["accuracy"]["mixed_same"]["value"]
                                             - row["accuracy"]["mixed_rand"]["value"])
    lite0 = doc["rows"][1]
    assert lite0["accuracy"]["original"]["value"] >= 0.5  # a real model on real photos: far above 1/9

    # (a): restricting the argmax to the 370 IN-9 classes can only turn wrong answers right
    checks = json.loads(files["checks_json"].read_text())
    for row, m in zip(doc["rows"], checks["a"]["per_model"], strict=True):
        assert m["released"]["value"] == row["accuracy"]["only_bg_t"]["value"]
        assert m["restricted"]["value"] >= m["released"]["value"]
        assert m["released"]["vs_chance"] in ("above", "below", "not distinguishable")
    pooled = checks["a"]["pooled"]["released"]
    assert pooled["models"] == 2 and pooled["images"] == n
    assert pooled["value"] == pytest.approx(sum(m["released"]["value"] for m in checks["a"]["per_model"]) / 2)
    # (b) and (c) over the two models
    assert checks["b"]["models"] == 2 and 0 <= checks["b"]["positive"] <= 2
    assert checks["c"]["models"] == MODELS and -1 <= checks["c"]["mixed_rand"]["value"] <= 1
    assert checks["d"]["per_model"] == []
    assert "WIDE" in res["note"] and "(a)" in res["checks"] and "(d)" in res["checks"]

    # a second run resumes: nothing is evaluated again, the same table comes out
    again = study.run_study(out, realdata=realdata, models=MODELS, per_class=1, skip_challenge=True,
                            device="cpu", workers=1, segmenter="box", n_boot=500, quiet=True)
    assert again["evaluated_now"] == [] and again["table"] == res["table"]


def test_unknown_model_name_is_one_line_error(tmp_path):
    from bgbench.errors import BgbenchError

    models = [study.StudyModel("a", "tflite:/x/a.tflite", "tflite", 50.0)]
    with pytest.raises(BgbenchError, match="unknown model.*nope.*known: a"):
        study.select_models(models, ["nope"])
    assert study.select_models(models, None) == models


def test_challenge_shards_are_merged(tmp_path):
    """Complete shards of one n are pooled (the n covering most foregrounds wins); a complete
    all-foreground run takes precedence; incomplete runs are ignored (the study reads them through
    the library's bgbench.sweeps.challenge_outcome)."""
    from bgbench.sweeps import challenge_outcome

    def write(folder, shard, fooled, complete=True):
        records = [{"index": i, "image": f"original/val/00_dog/img{i}.JPEG", "fooled": f}
                   for i, f in fooled.items()]
        doc = {"schema": "bgbench.challenge/1", "complete": complete, "shard": shard,
               "n_foregrounds": len(records),
               "n_fooled": sum(fooled.values()), "foregrounds": records,
               "data": {"n_backgrounds": 12, "n_foregrounds_total": 12}}
        (tmp_path / "m" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "m" / folder / "challenge.json").write_text(json.dumps(doc))

    assert challenge_outcome(tmp_path / "m") is None
    write("shard-0of4", [0, 4], {0: True, 4: False, 8: True})
    write("shard-2of4", [2, 4], {2: True, 6: True, 10: False})
    write("shard-1of8", [1, 8], {1: False, 9: False})
    write("shard-3of4", [3, 4], {3: False}, complete=False)
    merged = challenge_outcome(tmp_path / "m")
    assert merged.shard == "0,2/4" and len(merged.records) == 6
    assert sorted(r["index"] for r in merged.records) == [0, 2, 4, 6, 8, 10]
    write(".", None, {i: i % 3 == 0 for i in range(12)})
    full = challenge_outcome(tmp_path / "m")
    assert full.shard is None and len(full.records) == 12 and full.n_backgrounds == 12
