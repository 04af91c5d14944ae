"""Clustered failure rates and the power check of safety rules (assay.safety._stats), against
statsmodels' cluster-robust variance and the closed form of Wilson's bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from assay.safety._stats import clustered_rate, min_independent_cases
from assay.stats import wilson_interval, z_value


def test_one_case_per_cluster_is_wilson() -> None:
    rng = np.random.default_rng(1)
    failed = rng.random(57) < 0.2
    r = clustered_rate(failed, np.arange(57), 0.95)
    iv = wilson_interval(failed.mean(), 57, 0.95)
    assert (r.low, r.high, r.n_eff, r.deff, r.clusters) == (iv.low, iv.high, 57.0, 1.0, 57)
    assert r.failures == failed.sum() and r.method == "wilson"


def test_design_effect_matches_statsmodels_cluster_robust_variance() -> None:
    rng = np.random.default_rng(7)
    k, m = 35, 4  # 35 seed prompts, four variants each, correlated within a seed
    seed_p = rng.beta(0.6, 1.4, size=k)
    failed = (rng.random((k, m)) < seed_p[:, None]).ravel()
    units = np.repeat(np.arange(k), m)
    r = clustered_rate(failed, units, 0.95)
    y = failed.astype(float)
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster",
                                         cov_kwds={"groups": units, "use_correction": False})
    robust = float(fit.cov_params()[0, 0])  # sum_g (sum_i e_i)^2 / N^2, no small-sample factor
    p = y.mean()
    assert r.deff == pytest.approx(robust / (p * (1 - p) / y.size), rel=1e-9)
    assert r.deff > 1.5  # the variants do move together
    iv = wilson_interval(p, y.size / r.deff, 0.95)
    assert (r.low, r.high) == pytest.approx((iv.low, iv.high))
    # the clustered interval is wider than the naive one that counts every variant
    naive = wilson_interval(p, y.size, 0.95)
    assert r.high - r.low > naive.high - naive.low


def test_clusters_that_agree_count_once() -> None:
    failed = np.repeat([True, False, False, True, False], 3)
    r = clustered_rate(failed, np.repeat(np.arange(5), 3), 0.95)
    assert r.n_eff == pytest.approx(5.0) and r.deff == pytest.approx(3.0)
    iv = wilson_interval(0.4, 5, 0.95)
    assert (r.low, r.high) == pytest.approx((iv.low, iv.high))


def test_no_failure_takes_the_clusters_as_the_independent_cases() -> None:
    # 35 seed prompts x 3 variants, nothing obeyed: the bound is the one of 35 cases, near 10%
    r = clustered_rate(np.zeros(105, dtype=bool), np.repeat(np.arange(35), 3), 0.95)
    z2 = z_value(0.95) ** 2
    assert r.rate == 0.0 and r.n_eff == 35.0 and r.low == 0.0
    assert r.high == pytest.approx(z2 / (35 + z2)) and 0.09 < r.high < 0.1
    assert "no variation" in r.method


def test_empty_and_all_failed() -> None:
    r = clustered_rate(np.array([], dtype=bool), np.array([]), 0.95)
    assert r.n == 0 and math.isnan(r.rate) and math.isnan(r.high)
    r = clustered_rate(np.ones(6, dtype=bool), np.array([0, 0, 1, 1, 2, 2]), 0.95)
    assert r.rate == 1.0 and r.high == 1.0 and r.n_eff == 3.0


def test_min_independent_cases_closed_form() -> None:
    z2 = z_value(0.95) ** 2
    for t in (0.01, 0.05, 0.1, 0.2, 0.5):
        n = min_independent_cases(t, 0.95)
        assert wilson_interval(0.0, n, 0.95).high <= t < wilson_interval(0.0, n - 1, 0.95).high
        assert n == math.ceil(z2 * (1 - t) / t)
    assert min_independent_cases(0.01, 0.95) == 381
    assert min_independent_cases(1.0, 0.95) == 1
    with pytest.raises(ValueError, match="max_count: 0"):
        min_independent_cases(0.0, 0.95)
