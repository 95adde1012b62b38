"""``bgbench demo`` end to end on a tiny configuration, and the small trainer behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bgbench.cli import main
from bgbench.smallcnn import small_cnn, to_float_images, train_classifier


def test_trainer_learns_a_colour_rule_deterministically() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    images = np.zeros((60, 32, 32, 3), dtype=np.uint8)
    for i, y in enumerate(labels):  # class = which channel is bright, plus noise
        images[i] = rng.integers(0, 60, (32, 32, 3))
        images[i, :, :, y] += 150
    clf_a, report = train_classifier(images, labels, num_classes=3, input_size=32, epochs=6, batch_size=16)
    clf_b, _ = train_classifier(images, labels, num_classes=3, input_size=32, epochs=6, batch_size=16)
    x = to_float_images(images, 32)
    preds = clf_a(x).argmax(1).numpy()
    assert (preds == labels).mean() >= 0.9
    assert report.epochs == 6 and report.train_accuracy >= 0.8  # the last epoch's running accuracy
    assert np.array_equal(clf_a(x).numpy(), clf_b(x).numpy())  # same seed, same weights


def test_small_cnn_output_shape() -> None:
    import torch

    assert small_cnn(9)(torch.zeros(2, 3, 48, 48)).shape == (2, 9)


@pytest.mark.slow
def test_demo_quick_runs_end_to_end_and_shows_the_background_shortcut(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--quick", "--device", "cpu", "--quiet"]) == 0
    summary = json.loads((out / "demo.json").read_text())
    assert summary["plan"]["size"] == 128 and set(summary["stages"]) >= {"data", "train"}
    rows = {row["model"]: row for row in summary["models"]}
    assert set(rows) == {"trained_on_original", "trained_with_swap"}  # --quick: no pretrained model
    for name in rows:
        results = json.loads((out / "results" / name / "results.json").read_text())
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
    out = tmp_path / "demo"
    summary = run_demo(out, plan="quick", device="cpu", quiet=True, log=lambda *_: None, per_class_train=8,
                       per_class_val=4, size=64, epochs=2, draws=1, models=("trained_on_only_bg_t",),
                       saliency_per_class=0)
    row = summary.rows[0]
    assert row["model"] == "trained_on_only_bg_t" and row["challenge_accuracy"] is None
    assert not (out / "challenge").exists()
    train = json.loads((out / "models" / "trained_on_only_bg_t" / "train.json").read_text())
    assert train["variant"] == "only_bg_t"
    results = json.loads((out / "results" / "trained_on_only_bg_t" / "results.json").read_text())
    assert set(results["groups"]) == {"mixed_same", "mixed_rand", "mixed_next"}
    assert (out / "report_files" / "groups_trained_on_only_bg_t.png").is_file()

