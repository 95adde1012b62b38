"""Foreground x background group analysis: the pure table, the build's manifest, --draws, eval.json,
the CLI line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import bgbench
from bgbench.config import CacheChoice
from bgbench.data import In9Tree
from bgbench.data.donors import background_labels
from bgbench.donors import choose_donors
from bgbench.errors import BgbenchError
from bgbench.eval import EvalConfig, evaluate
from bgbench.eval.draws import draw_groups, draw_predictions
from bgbench.eval.groups import GroupTable, group_table
from bgbench.predict import make_predictor
from bgbench.stats import bootstrap_ratio_over_clusters
from tests_helpers_api import tiny_classifier

MIXED = ("mixed_same", "mixed_rand", "mixed_next")


def _by_hand(fg, bg, preds, c):
    counts, correct, to_bg = (np.zeros((c, c), dtype=np.int64) for _ in range(3))
    for f, b, p in zip(fg, bg, preds, strict=True):
        if b < 0:
            continue
        counts[f, b] += 1
        correct[f, b] += p == f
        to_bg[f, b] += (p == b) and b != f
    return counts, correct, to_bg


def _random_case(seed: int, n: int = 400, c: int = 4):
    rng = np.random.default_rng(seed)
    fg = rng.integers(0, c, n)
    bg = rng.integers(-1, c, n)
    # predictions lean towards the background so the pull is visible, with some -1 (outside the classes)
    other = np.where(rng.random(n) < 0.6, fg, rng.integers(-1, c, n))
    preds = np.where(rng.random(n) < 0.3, np.maximum(bg, 0), other)
    return fg, bg, preds, c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_equals_loops_and_worst_is_the_minimum_over_eligible_groups(seed):
    fg, bg, preds, c = _random_case(seed)
    table = group_table(fg, bg, preds, c, min_count=25)
    counts, correct, to_bg = _by_hand(fg, bg, preds, c)
    assert (table.counts == counts).all() and (table.correct == correct).all()
    assert (table.to_background == to_bg).all() and table.n_unknown == int((bg < 0).sum())
    accs = [correct[f, b] / counts[f, b] for f in range(c) for b in range(c) if counts[f, b] >= 25]
    w = table.worst
    assert w is not None and counts[w.fg, w.bg] >= 25 and w.value == min(accs)
    assert w.low <= w.value <= w.high and w.method == "wilson"
    errors = counts.sum() - correct.sum()
    assert table.error_to_background_share == pytest.approx(to_bg.sum() / errors)
    off_in_class = sum(int(((fg == f) & (bg == b) & (preds != f) & (preds >= 0)).sum())
                       for f in range(c) for b in range(c) if f != b)
    assert table.error_to_background_chance == pytest.approx(off_in_class / (c - 1) / errors)
    for stat in table.pull_by_background:
        b = stat.bg
        others = [f for f in range(c) if f != b]
        assert stat.n == counts[others, b].sum() and stat.k == to_bg[others, b].sum()
    pull = table.pull
    assert np.isnan(np.diag(pull)).all() and pull[0, 1] == pytest.approx(to_bg[0, 1] / counts[0, 1])
    again = GroupTable.from_json(json.loads(json.dumps(table.to_json())), table.class_names)
    assert again.to_json() == table.to_json()


def test_no_eligible_group_and_bad_input():
    table = group_table([0, 1], [1, 0], [1, 1], 2, min_count=2)
    assert table.worst is None and "no group with at least 2" in table.summary()
    assert table.to_background.tolist() == [[0, 1], [0, 0]] and table.error_to_background_share == 1.0
    with pytest.raises(ValueError):
        group_table([0, 2], [0, 0], [0, 0], 2)
    with pytest.raises(ValueError):
        group_table([0, 1], [0], [0, 0], 2)


def test_clustered_units_get_a_foreground_bootstrap_no_narrower_than_wilson_over_foregrounds():
    # 20 foregrounds x 5 composites in one group, foreground i right on all or none of its composites
    hits = np.repeat(np.arange(20) % 4 != 0, 5)
    units = np.repeat(np.arange(20), 5)
    fg = np.zeros(100, dtype=np.int64)
    clustered = group_table(fg, fg, np.where(hits, 0, 1), 2, units=units, min_count=10)
    flat = group_table(fg, fg, np.where(hits, 0, 1), 2, min_count=10)
    assert clustered.worst.value == flat.worst.value == 0.75
    assert "bootstrap over foregrounds" in clustered.worst.method
    assert clustered.worst.high - clustered.worst.low > flat.worst.high - flat.worst.low
    allright = group_table(fg, fg, fg, 2, units=units, min_count=10).worst
    assert allright.value == 1.0 and allright.low < 0.9  # not collapsed to [1, 1]
    est = bootstrap_ratio_over_clusters([1, 2, 0], [2, 2, 1])
    assert est.value == pytest.approx(0.6) and est.low <= 0.6 <= est.high


def _manifest_bg(root: Path, variant: str, paths: list[str], class_names: list[str]) -> list[int]:
    donors = {}
    for line in (root / "manifest.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["status"] == "kept":
            donor = rec["donors"][variant]
            donors[(rec["class"], rec["stem"])] = None if donor is None else donor["class"]
    out = []
    for p in paths:
        donor = donors[(Path(p).parent.name, Path(p).stem)]
        out.append(-1 if donor is None else class_names.index(donor))
    return out


def test_eval_groups_recomputed_by_hand_from_predictions_and_manifest(synth_built, tmp_path):
    config = EvalConfig(variants="original,mixed_same,mixed_rand,mixed_next", group_min=2,
                        cache=CacheChoice(cache=False))
    result = evaluate(synth_built, tiny_classifier(), config, out=tmp_path / "ev", quiet=True)
    doc = json.loads((tmp_path / "ev" / "eval.json").read_text())
    names = doc["class_names"]
    assert set(doc["groups"]) == set(MIXED) and "original" not in doc["groups"]
    for variant in MIXED:
        pred = doc["predictions"][variant]
        bg = _manifest_bg(synth_built, variant, pred["path"], names)
        assert pred["background"] == bg
        counts, correct, to_bg = _by_hand(pred["label"], bg, pred["pred"], len(names))
        entry = doc["groups"][variant]
        assert entry["counts"] == counts.tolist() and entry["correct"] == correct.tolist()
        assert entry["to_background"] == to_bg.tolist() and entry["unit"] == "image"
        eligible = [correct[f, b] / counts[f, b] for f in range(9) for b in range(9) if counts[f, b] >= 2]
        assert entry["worst"]["value"] == pytest.approx(min(eligible))
    same = doc["groups"]["mixed_same"]
    assert np.count_nonzero(np.array(same["counts"]) - np.diag(np.diag(same["counts"]))) == 0
    loaded = bgbench.load_results(tmp_path / "ev")
    assert loaded.variants["mixed_rand"].groups.to_json() == result.variants["mixed_rand"].groups.to_json()
    assert any("worst group" in line for line in loaded.summary_lines())


def test_draw_groups_recomputed_by_hand_from_the_donor_rules(synth_built):
    clf = tiny_classifier()
    config = EvalConfig(variants="original", draws=2, draw_seed=5, group_min=2,
                        cache=CacheChoice(cache=False))
    result = evaluate(synth_built, clf, config, quiet=True)
    predictor = make_predictor(clf, result.class_names)
    outcome = draw_predictions(predictor, In9Tree(synth_built, cache=False, quiet=True), "val", 2, 5, 64)
    labels = outcome.labels
    assert outcome.correct()["mixed_rand"].shape == (len(labels), 2)
    for variant in MIXED:
        fg, bg, preds = [], [], []
        for k in range(2):
            donors = choose_donors(outcome.keys, labels.tolist(), 9, 5, draw=k)[variant]
            for i, d in enumerate(donors):
                fg.append(labels[i])
                bg.append(-1 if d is None else labels[d])
                preds.append(outcome.preds[variant][i, k])
        counts, correct, to_bg = _by_hand(fg, bg, preds, 9)
        table = result.draw_groups[variant]
        assert (table.counts == counts).all() and (table.correct == correct).all()
        assert (table.to_background == to_bg).all() and table.unit == "foreground"
        assert table.counts.sum() == result.draws["variants"][variant]["n_composites"]
    rebuilt = draw_groups(outcome, result.class_names, 2)
    assert rebuilt["mixed_rand"].to_json() == result.draw_groups["mixed_rand"].to_json()


def test_a_tree_without_manifest_has_groups_only_through_draws(synth_built, tmp_path, capsys):
    from bgbench.cli import main

    tree = tmp_path / "released"
    skip = shutil.ignore_patterns("manifest.jsonl", "build.json", ".bgbench*")
    shutil.copytree(synth_built, tree, ignore=skip)
    assert background_labels(tree, "val", "mixed_rand", ["mixed_rand/val/00_dog/x.JPEG"], ["00_dog"]) is None
    out = tmp_path / "ev"
    rc = main(["eval", str(tree), "--variants", "mixed_rand", "--model",
               "python:tests_helpers_api:tiny_classifier", "--draws", "2", "--group-min", "2",
               "--out", str(out), "--no-cache", "-q"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "groups mixed_rand" in printed and "worst group" in printed
    doc = json.loads((out / "eval.json").read_text())
    assert "groups" not in doc and "background" not in doc["predictions"]["mixed_rand"]
    assert set(doc["draws"]["groups"]) == set(MIXED)
    loaded = bgbench.load_results(out)
    assert "groups" not in loaded.draws and set(loaded.draw_groups) == set(MIXED)


def test_a_broken_manifest_line_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "manifest.jsonl").write_text('{"split": "val", "class": "00_dog", "stem": "a"}\n[1, 2]\n')
    with pytest.raises(BgbenchError, match="manifest line 2"):
        background_labels(tmp_path, "val", "mixed_rand", [], ["00_dog"])
    (tmp_path / "manifest.jsonl").write_text('{"split": "val", "class": "00_dog", "stem": "a", '
                                             '"status": "kept", "donors": {"mixed_rand": {"stem": "b"}}}\n')
    with pytest.raises(BgbenchError, match="donors.mixed_rand has no class"):
        background_labels(tmp_path, "val", "mixed_rand", [], ["00_dog"])


def test_report_shows_a_heat_map_per_model_and_the_worst_groups(synth_built, tmp_path):
    from bgbench.reporting import report
    from bgbench.reporting.sections_groups import chosen_table, groups_section

    for name, draws in (("built_only", None), ("with_draws", 2)):
        evaluate(synth_built, tiny_classifier(),
                 EvalConfig(variants="mixed_rand", draws=draws, group_min=2, cache=CacheChoice(cache=False)),
                 out=tmp_path / name, quiet=True)
    docs = {n: json.loads((tmp_path / n / "eval.json").read_text()) for n in ("built_only", "with_draws")}
    assert chosen_table(docs["built_only"])[0] == "mixed_rand (built)"
    label, table = chosen_table(docs["with_draws"])
    assert label == "mixed_rand, 2 draws" and table == docs["with_draws"]["draws"]["groups"]["mixed_rand"]
    section = groups_section(list(docs.items()))
    worst = table["worst"]
    row = next(r for r in section.items[-1].rows if r[0] == "with_draws")
    assert row[2] == f"{worst['foreground'].split('_', 1)[1]} on {worst['background'].split('_', 1)[1]}"
    assert row[4] == f"{worst['k']}/{worst['n']}"
    assert groups_section([("plain", {"accuracy": {}})]) is None
    report([tmp_path / "built_only", tmp_path / "with_draws"], tmp_path / "rep" / "report.html", quiet=True)
    files = {p.name for p in (tmp_path / "rep" / "report_files").iterdir()}
    assert {"groups_built_only.png", "groups_with_draws.png"} <= files
    assert "Foreground x background groups" in (tmp_path / "rep" / "report.md").read_text()
