"""``bgbench demo`` end to end on a tiny configuration, and the small CNN it trains."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bgbench.cli import main
from bgbench.smallcnn import small_cnn


def test_small_cnn_output_shape() -> None:
    import torch

    assert small_cnn(9)(torch.zeros(2, 3, 48, 48)).shape == (2, 9)


def test_demo_plan_refuses_unknown_models_and_variants() -> None:
    from bgbench.demo import PLANS, DemoPlan
    from bgbench.errors import BgbenchError

    with pytest.raises(BgbenchError, match="unknown demo model"):
        DemoPlan(models=("trained_on_everything",))
    with pytest.raises(BgbenchError, match="mixed_purple"):
        DemoPlan(pretrained_variants=("original", "mixed_purple"))
    # the default scores its pretrained model on what its accuracy and BG-Gap need
    assert {"original", "mixed_same", "mixed_rand"} <= set(PLANS["default"].pretrained_variants)


@pytest.mark.slow
def test_demo_quick_runs_end_to_end_and_shows_the_background_shortcut(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--quick", "--device", "cpu", "--quiet"]) == 0
    summary = json.loads((out / "demo.json").read_text())
    assert summary["plan"]["size"] == 128 and summary["plan"]["input_size"] == 48
    # --quick has no pretrained model, so five steps, each timed (wall and CPU seconds)
    assert list(summary["stages"]) == ["synth", "build", "train", "saliency", "report"]
    assert set(summary["stages_cpu"]) == set(summary["stages"])
    rows = {row["model"]: row for row in summary["models"]}
    assert set(rows) == {"trained_on_original", "trained_with_swap"}  # --quick: no pretrained model
    for name in rows:
        results = json.loads((out / "results" / name / "eval.json").read_text())
        assert set(results["accuracy"]) >= {"original", "only_bg_t", "mixed_same", "mixed_rand", "mixed_next"}
        challenge = json.loads((out / "challenge" / name / "challenge.json").read_text())
        assert challenge["n_foregrounds"] == results["n"]["original"]
    shortcut, swap = rows["trained_on_original"], rows["trained_with_swap"]
    # The planted shortcut: backgrounds alone carry the class for the model trained on originals ...
    assert shortcut["only_bg_t"] > 0.5
    # ... its BG-Gap is clearly larger than the augmented model's (intervals apart) and adversarial
    # backgrounds fool it more often
    assert shortcut["bg_gap_draws_ci95"][0] > swap["bg_gap_draws_ci95"][1]
    assert shortcut["challenge_accuracy"] < swap["challenge_accuracy"]
    assert swap["only_bg_t"] < shortcut["only_bg_t"] - 0.2
    assert (out / "models" / "trained_with_swap" / "model.safetensors").is_file()
    assert (out / "demo.csv").read_text().startswith("model,original,")
    # the demo ends in its report: one page with both models' results and the training curves
    page = (out / "report.html").read_text()
    assert summary["report"] == str(out / "report.html") and "report" in summary["stages"]
    for needle in ("trained_on_original", "trained_with_swap", 'id="challenge"', 'id="training"',
                   'id="groups"'):
        assert needle in page
    assert {"groups_trained_on_original.png", "groups_trained_with_swap.png"} <= {
        p.name for p in (out / "report_files").iterdir()}


@pytest.mark.slow
def test_demo_trains_an_only_bg_t_model_without_a_challenge(tmp_path: Path) -> None:
    from bgbench.demo import PLANS, run_demo

    assert "trained_on_only_bg_t" in PLANS["default"].models
    out, lines = tmp_path / "demo", []
    plan = replace(PLANS["quick"], per_class_train=8, per_class_val=4, size=64, epochs=2, draws=1,
                   models=("trained_on_only_bg_t",), saliency_per_class=0)
    summary = run_demo(out, plan, device="cpu", quiet=True, log=lines.append)
    # no saliency (it needs the original and swap models) and no pretrained model: four steps
    assert [line[:5] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert list(summary.doc["stages"]) == ["synth", "build", "train", "report"]
    row = summary.rows[0]
    assert row["model"] == "trained_on_only_bg_t" and row["challenge_accuracy"] is None
    assert not (out / "challenge").exists()
    train = json.loads((out / "models" / "trained_on_only_bg_t" / "train.json").read_text())
    assert train["variant"] == "only_bg_t"
    results = json.loads((out / "results" / "trained_on_only_bg_t" / "eval.json").read_text())
    assert set(results["groups"]) == {"mixed_same", "mixed_rand", "mixed_next"}
    assert (out / "report_files" / "groups_trained_on_only_bg_t.png").is_file()

