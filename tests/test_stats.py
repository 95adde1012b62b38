"""bgbench.stats: ranks, Spearman, t quantiles and intervals, checked against definitions and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bgbench.stats import (
    bootstrap_mean_over_items,
    mean_interval,
    rankdata,
    spearman,
    spearman_bootstrap,
    t_quantile,
)


def test_rankdata_averages_ties():
    assert rankdata([10, 30, 20, 20]).tolist() == [1.0, 4.0, 2.5, 2.5]
    assert rankdata([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]
    assert rankdata([]).tolist() == []


def test_spearman_monotone_and_reversed():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(x, x ** 3) == pytest.approx(1.0)
    assert spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    assert math.isnan(spearman(x, np.ones(5)))  # constant side: undefined


def test_spearman_no_ties_matches_textbook_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20), rng.normal(size=20)
    d = rankdata(x) - rankdata(y)
    n = 20
    assert spearman(x, y) == pytest.approx(1 - 6 * float(d @ d) / (n * (n * n - 1)))


def test_spearman_with_ties_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5, size=30).astype(float)
    y = x + rng.integers(0, 3, size=30)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_bootstrap_interval_contains_value_and_is_reproducible():
    rng = np.random.default_rng(3)
    x = rng.normal(size=15)
    y = x + rng.normal(scale=0.5, size=15)
    est = spearman_bootstrap(x, y, n_boot=2000, seed=7)
    assert est.low <= est.value <= est.high
    assert 0.3 < est.value < 1.0 and est.low < est.high <= 1.0
    assert est.n == 15 and 0 < est.n_boot_used <= 2000
    assert spearman_bootstrap(x, y, n_boot=2000, seed=7) == est
    # more noise: a wider interval
    y_noisy = x + rng.normal(scale=3.0, size=15)
    noisy = spearman_bootstrap(x, y_noisy, n_boot=2000, seed=7)
    assert noisy.high - noisy.low > est.high - est.low


def test_spearman_bootstrap_too_few_pairs_has_no_interval():
    est = spearman_bootstrap([1.0, 2.0], [2.0, 1.0])
    assert est.value == pytest.approx(-1.0) and math.isnan(est.low) and math.isnan(est.high)


@pytest.mark.parametrize("p,df,expected", [
    (0.975, 1, 12.706204736174698),   # Cauchy: tan(pi * (p - 1/2))
    (0.975, 2, 4.302652729749464),    # closed form for df = 2
    (0.95, 2, 2.919985580355516),
    (0.025, 2, -4.302652729749464),
])
def test_t_quantile_closed_forms(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-6)


def test_t_quantile_matches_scipy_and_tends_to_normal():
    stats = pytest.importorskip("scipy.stats")
    for df in (3, 7, 14, 30, 200):
        for p in (0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-6)
    assert t_quantile(0.975, 1e6) == pytest.approx(1.959964, rel=1e-5)


def test_mean_interval_t_by_hand():
    values = [0.1, 0.2, 0.3, 0.4]
    est = mean_interval(values)
    half = t_quantile(0.975, 3) * np.std(values, ddof=1) / 2.0
    assert est.value == pytest.approx(0.25)
    assert (est.low, est.high) == pytest.approx((0.25 - half, 0.25 + half))
    single = mean_interval([0.5])
    assert single.value == 0.5 and math.isnan(single.low)


def test_mean_interval_bootstrap_close_to_t_for_normal_data():
    rng = np.random.default_rng(4)
    values = rng.normal(loc=2.0, size=400)
    t_est = mean_interval(values, method="t")
    b_est = mean_interval(values, method="bootstrap", n_boot=4000, seed=1)
    assert b_est.low == pytest.approx(t_est.low, abs=0.03)
    assert b_est.high == pytest.approx(t_est.high, abs=0.03)
    with pytest.raises(ValueError, match="unknown method"):
        mean_interval(values, method="jackknife")


def test_bootstrap_mean_over_items_resamples_columns_jointly():
    # two models, identical per-image outcomes: the pooled interval equals one model's interval
    row = (np.arange(100) % 4 == 0).astype(float)
    both = bootstrap_mean_over_items(np.stack([row, row]), n_boot=3000, seed=5)
    one = bootstrap_mean_over_items(row[None, :], n_boot=3000, seed=5)
    assert both.value == pytest.approx(0.25)
    assert (both.low, both.high) == pytest.approx((one.low, one.high))
    assert both.low < 0.25 < both.high and both.n == 100
    # two models with opposite outcomes on every image: the mean is exactly 0.5, no spread
    anti = bootstrap_mean_over_items(np.stack([row, 1 - row]), n_boot=500, seed=5)
    assert anti.value == anti.low == anti.high == pytest.approx(0.5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        spearman([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="2-d"):
        bootstrap_mean_over_items(np.zeros(5))
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0, 2.0], confidence=1.5)
