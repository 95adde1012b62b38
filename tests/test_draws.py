"""eval --draws: K seeded donors per foreground under the build's rules, the same compositing, and
intervals from a bootstrap over foregrounds."""

from __future__ import annotations

import json

import numpy as np

from bgbench.config import CacheChoice
from bgbench.donors import choose_donors
from bgbench.eval import EvalConfig, evaluate
from bgbench.eval.draws import row_means, summarize_draws
from tests_helpers_api import tiny_classifier


def test_further_draws_follow_the_build_rules_and_draw_zero_is_the_build():
    labels = [i % 3 for i in range(30)]
    ids = [f"c/{i}" for i in range(30)]
    base = choose_donors(ids, labels, 3, seed=4)
    assert choose_donors(ids, labels, 3, seed=4, draw=0) == base
    seen = {v: set() for v in base}
    for k in range(1, 6):
        d = choose_donors(ids, labels, 3, seed=4, draw=k)
        for i, y in enumerate(labels):
            assert labels[d["mixed_same"][i]] == y and d["mixed_same"][i] != i
            assert d["mixed_rand"][i] != i
            assert labels[d["mixed_next"][i]] == (y + 1) % 3
        for v in d:
            seen[v].add(tuple(d[v]))
    assert all(len(s) == 5 for s in seen.values())  # each draw is a new choice


def test_row_means_and_summary_over_foregrounds():
    m = np.array([[1, 0, np.nan], [np.nan, np.nan, np.nan], [1, 1, 1]], dtype=float)
    assert np.allclose(row_means(m)[[0, 2]], [0.5, 1.0]) and np.isnan(row_means(m)[1])
    rng = np.random.default_rng(0)
    correct = {
        v: rng.integers(0, 2, (40, 4)).astype(float) for v in ("mixed_same", "mixed_rand", "mixed_next")
    }
    block = summarize_draws(correct, 4, seed=0)
    same = block["variants"]["mixed_same"]
    assert same["n_composites"] == 160 and same["n_foregrounds"] == 40
    assert abs(same["value"] - correct["mixed_same"].mean()) < 1e-12
    assert same["ci95"][0] < same["value"] < same["ci95"][1]
    gap = block["bg_gap"]
    assert abs(gap["value"] - (correct["mixed_same"].mean() - correct["mixed_rand"].mean())) < 1e-12


def test_evaluate_with_draws_writes_the_block_and_reads_back(synth_built, tmp_path):
    import bgbench

    config = EvalConfig(variants="original,mixed_same,mixed_rand", draws=3, cache=CacheChoice(cache=False))
    result = evaluate(synth_built, tiny_classifier(), config, out=tmp_path / "ev", quiet=True)
    block = result.draws
    assert block["k"] == 3 and set(block["variants"]) == {"mixed_same", "mixed_rand", "mixed_next"}
    n = result.variants["original"].accuracy.n
    assert block["variants"]["mixed_rand"]["n_composites"] == 3 * n
    assert "donor draws" in str(result)
    doc = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert set(doc["draws"].pop("groups")) == {"mixed_same", "mixed_rand", "mixed_next"}
    assert doc["draws"] == json.loads(json.dumps(block))
    assert bgbench.load_results(tmp_path / "ev").draws == doc["draws"]
    again = evaluate(synth_built, tiny_classifier(),
                     EvalConfig(variants="original", draws=3, cache=CacheChoice(cache=False)), quiet=True)
    assert again.draws == block  # seeded: the same donors and the same composites
