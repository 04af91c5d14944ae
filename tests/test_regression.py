"""Regression: values against scikit-learn, intervals against direct formulas.

Means of per-row errors get Student-t intervals, RMSE and R^2 the delta method (checked
against a delta method computed here from the rows), the median absolute error a
distribution-free order-statistic interval (checked against the binomial directly), and
weighted rows a seeded Poisson bootstrap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _references import REFERENCES, Case, evaluate_case, regression_case
from scipy import stats

import assay
from assay._estimate import estimate

NAMES = [m.name for m in assay.all_metrics() if m.task == "regression"]
TOL = 1e-9
Z95 = stats.norm.ppf(0.975)


def run(case: Case, metrics: list[str] | None = None, **kw):
    kw.setdefault("replicates", 200)
    return estimate("regression", case.y, case.s, weights=case.w, metrics=metrics, **kw)


def ref(name: str, case: Case) -> float:
    return REFERENCES[("regression", name)](case)


def assert_matches(case: Case, skip: set[str] = frozenset()) -> dict:
    got = run(case)
    assert set(got) == set(NAMES)
    for name in NAMES:
        if name in skip:
            continue
        assert got[name].status == "ok", (name, got[name].note)
        assert got[name].value == pytest.approx(ref(name, case), rel=TOL, abs=TOL), name
    return got


# ---- values ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 40, 2000])
@pytest.mark.parametrize("decimals", [None, 0], ids=["continuous", "ties"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_metric_matches_sklearn(weighted, decimals, n):
    case = regression_case(np.random.default_rng([1, n]), n, decimals=decimals, weighted=weighted)
    assert_matches(case)


@pytest.mark.parametrize("seed", range(4))
def test_integer_and_zero_weights(seed):
    """Weighted medians with ties and zero weights follow scikit-learn's averaged percentile."""
    rng = np.random.default_rng([2, seed])
    case = regression_case(rng, 30, decimals=0)
    case.w = rng.integers(0, 4, 30).astype(float)
    case.w[0] = 1.0
    assert_matches(case)


def test_labels_far_from_zero_and_slices_far_from_the_overall_mean():
    """Moments are taken about the overall label mean; slices far from it keep precision."""
    rng = np.random.default_rng(3)
    case = regression_case(rng, 3000)
    groups = np.where(rng.random(3000) < 0.5, "a", "b")
    case.y = case.y + 1e4 + np.where(groups == "a", 0.0, 300.0)
    case.s = case.s + 1e4 + np.where(groups == "a", 0.0, 300.0)
    t = evaluate_case(case, groups).table
    for sl, idx in [("overall", np.arange(3000)), ("g=a", np.flatnonzero(groups == "a")),
                    ("g=b", np.flatnonzero(groups == "b"))]:
        sub = case.take(idx)
        for name in NAMES:
            value = t[(t.slice == sl) & (t.metric == name)].value.iloc[0]
            assert value == pytest.approx(ref(name, sub), rel=TOL, abs=TOL), (sl, name)


def test_zero_labels_use_the_mape_floor():
    case = Case("regression", np.array([0.0, 1.0, -2.0, 0.0]), np.array([0.5, 1.5, -2.0, 0.0]))
    got = run(case, ["mape"])["mape"]
    assert got.value == pytest.approx(ref("mape", case), rel=TOL)
    assert got.value > 1e14  # |0.5 - 0| / eps dominates, as in scikit-learn


# ---- edge cases ---------------------------------------------------------------------------


def test_constant_label_r2_is_undefined_and_the_rest_is_defined():
    rng = np.random.default_rng(4)
    case = Case("regression", np.full(50, 2.5), 2.5 + rng.normal(size=50))
    got = assert_matches(case, skip={"r2"})
    assert got["r2"].status == "undefined" and math.isnan(got["r2"].value)
    assert "constant label" in got["r2"].note


@pytest.mark.parametrize("label", [0.1, 1 / 3, 7.0, 1e6 + 0.1])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_constant_label_slice_is_undefined_in_any_row_order(label, weighted):
    """One-pass moments leave rounding noise of either sign in a constant label's variance;
    it must not turn into an R^2 of -1e15."""
    rng = np.random.default_rng(5)
    case = regression_case(rng, 900, weighted=weighted)
    groups = np.where(np.arange(900) < 600, "varied", "constant")
    case.y[600:] = label
    for seed in range(4):
        order = np.random.default_rng(seed).permutation(900)
        t = evaluate_case(case.take(order), groups[order], metrics=["r2", "mae"]).table
        row = t[(t.slice == "g=constant") & (t.metric == "r2")].iloc[0]
        assert row.status == "undefined" and math.isnan(row.value), (seed, row.value)
        varied = t[(t.slice == "g=varied") & (t.metric == "r2")].value.iloc[0]
        if label < 1e3:  # see test_r2_of_a_slice_far_from_the_overall_mean
            assert varied == pytest.approx(ref("r2", case.take(np.arange(600))), rel=TOL)


@pytest.mark.xfail(strict=True, reason=(
    "known limitation: label moments are one-pass sums about the overall label mean "
    "(ctx.label_shift, set in _evaluate.py), so a slice whose mean is d away from it loses "
    "about (d / its sd)^2 * eps of relative precision in its label variance; here "
    "(3e5 / 2.5)^2 * eps ~ 3e-6. A per-slice shift (a first pass) would remove it."))
def test_r2_of_a_slice_far_from_the_overall_mean():
    rng = np.random.default_rng(5)
    case = regression_case(rng, 900)
    groups = np.where(np.arange(900) < 600, "varied", "far")
    case.y[600:] = case.s[600:] = 1e6 + rng.normal(size=300)
    t = evaluate_case(case, groups, metrics=["r2"]).table
    varied = t[(t.slice == "g=varied")].value.iloc[0]
    assert varied == pytest.approx(ref("r2", case.take(np.arange(600))), rel=TOL)


def test_constant_and_perfect_predictions():
    rng = np.random.default_rng(6)
    y = rng.normal(3, 1, 100)
    assert_matches(Case("regression", y, np.full(100, 3.0)))
    got = run(Case("regression", y, y.copy()))
    for name in ("mae", "rmse", "mse", "median_ae", "mean_error"):
        assert got[name].value == 0.0, name
    assert got["r2"].value == 1.0
    assert math.isnan(got["rmse"].low) and "no spread" in got["rmse"].note


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_tiny_samples(n, weighted):
    case = regression_case(np.random.default_rng([7, n]), n, weighted=weighted)
    got = assert_matches(case, skip={"r2"} if n == 1 else set())
    if n == 1:
        assert got["r2"].status == "undefined"
    for name, e in got.items():  # an interval is complete or absent, never half
        assert math.isnan(e.low) == math.isnan(e.high), (name, e)


# ---- intervals ----------------------------------------------------------------------------


def _losses(case: Case) -> dict[str, np.ndarray]:
    e = case.s - case.y
    return {"mae": np.abs(e), "mse": e * e, "mape": np.abs(e) / np.abs(case.y), "mean_error": e}


@pytest.mark.parametrize("confidence", [0.9, 0.95])
@pytest.mark.parametrize("name", ["mae", "mse", "mape", "mean_error"])
def test_t_interval_matches_scipy(name, confidence):
    case = regression_case(np.random.default_rng(8), 60)
    case.s[:3] = case.y[:3]  # a few exact predictions: the lower bound of MAE nears 0
    e = run(case, [name], confidence=confidence)[name]
    loss = _losses(case)[name]
    low, high = stats.t.interval(confidence, loss.size - 1, loc=loss.mean(), scale=stats.sem(loss))
    lower = -math.inf if name == "mean_error" else 0.0
    assert e.method == "t"
    assert e.se == pytest.approx(stats.sem(loss), rel=1e-10)
    assert (e.low, e.high) == pytest.approx((max(lower, low), high), rel=1e-10, abs=1e-12)


def test_t_interval_is_clipped_at_zero():
    case = Case("regression", np.arange(1.0, 5.0), np.array([1.0, 2.0, 3.0, 9.0]))
    e = run(case, ["mae"])["mae"]
    low, _ = stats.t.interval(0.95, 3, loc=1.25, scale=stats.sem([0, 0, 0, 5.0]))
    assert low < 0 and e.low == 0.0


def test_rmse_delta_method():
    case = regression_case(np.random.default_rng(9), 500)
    e = run(case, ["rmse"])["rmse"]
    sq = (case.s - case.y) ** 2
    rmse = math.sqrt(sq.mean())
    se = stats.sem(sq) / (2 * rmse)  # d sqrt(m) = dm / (2 sqrt(m))
    assert e.method == "delta"
    assert e.se == pytest.approx(se, rel=1e-10)
    assert (e.low, e.high) == pytest.approx((rmse - Z95 * se, rmse + Z95 * se), rel=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_r2_delta_method(offset):
    """R^2 = 1 - A / (C - M^2) with A = mean e^2, M = mean y, C = mean y^2; its variance is
    g' S g / n, S the covariance of (e^2, y, y^2) and g the gradient."""
    case = regression_case(np.random.default_rng(10), 400)
    case.y, case.s = case.y + offset, case.s + offset
    e = run(case, ["r2"])["r2"]
    e2, y = (case.s - case.y) ** 2, case.y - offset  # R^2 does not depend on the offset
    a, m, c = e2.mean(), y.mean(), (y * y).mean()
    b = c - m * m
    grad = np.array([-1 / b, -2 * m * a / b**2, a / b**2])
    cov = np.cov(np.vstack([e2, y, y * y]), ddof=0)
    se = math.sqrt(grad @ cov @ grad / y.size)
    assert e.value == pytest.approx(1 - a / b, rel=1e-9)
    assert e.se == pytest.approx(se, rel=1e-6)
    assert (e.low, e.high) == pytest.approx((e.value - Z95 * se, e.value + Z95 * se), rel=1e-6)


def order_statistic_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (l, n + 1 - l) of the order statistics around the median, l the
    largest with P(Binomial(n, 1/2) <= l - 1) <= alpha / 2; None if no l >= 1 qualifies."""
    alpha = 1 - confidence
    ok = [r for r in range(1, n + 1) if stats.binom.cdf(r - 1, n, 0.5) <= alpha / 2]
    if not ok:
        return None
    low = max(ok)
    assert 1 - 2 * stats.binom.cdf(low - 1, n, 0.5) >= confidence
    return low, n + 1 - low


@pytest.mark.parametrize("n", [4, 5, 6, 7, 9, 10, 25, 26, 100, 1001])
def test_median_ae_order_statistic_interval(n):
    case = regression_case(np.random.default_rng([11, n]), n)
    e = run(case, ["median_ae"])["median_ae"]
    ae = np.sort(np.abs(case.s - case.y))
    assert e.value == pytest.approx(np.median(ae), rel=1e-12)
    ranks = order_statistic_ranks(n)
    if ranks is None:
        assert math.isnan(e.low) and math.isnan(e.high)
        assert "too few rows" in e.method
    else:
        assert (e.low, e.high) == (ae[ranks[0] - 1], ae[ranks[1] - 1])
        assert e.method == "order-statistic"


def test_weighted_median_interval_with_unit_weights_is_the_unweighted_one():
    case = regression_case(np.random.default_rng(12), 301)
    plain = run(case, ["median_ae"])["median_ae"]
    case.w = np.ones(301)
    ones = run(case, ["median_ae"])["median_ae"]
    assert (ones.value, ones.low, ones.high) == (plain.value, plain.low, plain.high)
    assert "Kish" in ones.method


# ---- bootstrap (weighted rows) ----------------------------------------------------------------


def test_weighted_bootstrap_is_seeded():
    case = regression_case(np.random.default_rng(13), 400, weighted=True)
    a, b, c = run(case, seed=0), run(case, seed=0), run(case, seed=1)
    for name in NAMES:
        if "bootstrap" not in a[name].method:
            continue
        assert (a[name].low, a[name].high) == (b[name].low, b[name].high)
        assert a[name].low != c[name].low and a[name].value == c[name].value


def test_weighted_bootstrap_standard_error_matches_the_row_bootstrap():
    case = regression_case(np.random.default_rng(14), 2000, weighted=True)
    got = run(case, replicates=1000)
    rng = np.random.default_rng(15)
    idx = rng.integers(0, 2000, size=(400, 2000))
    for name in ("mae", "rmse", "mse", "r2", "mape", "mean_error"):
        assert "bootstrap" in got[name].method
        reps = [ref(name, case.take(i)) for i in idx]
        assert got[name].se == pytest.approx(np.std(reps, ddof=1), rel=0.15), name
