"""Candidate vs baseline comparisons (assay.compare) through ``assay.evaluate``, against
independent references.

References: statsmodels (exact McNemar, Wilson, multiple testing), SciPy (``ttest_rel``),
scikit-learn (every point value), and re-implementations written here: an O(n^2) paired
DeLong from the pair-comparison matrix, row-level paired bootstraps (index resampling),
ECE, MOVER, and the Kish-effective weighted McNemar cells. Data are seeded NumPy draws of a
few thousand rows, plus German credit from ../shared/data when it is there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit
from sklearn import metrics as skm

import assay
from assay.compare import CHURN, PAIRED, SKIP, UNPAIRED
from assay.stats import tango_interval

sm_tables = pytest.importorskip("statsmodels.stats.contingency_tables")
sm_multitest = pytest.importorskip("statsmodels.stats.multitest")
sm_proportion = pytest.importorskip("statsmodels.stats.proportion")

Z95 = float(stats.norm.ppf(0.975))
TOL = 1e-10
GERMAN = Path(__file__).resolve().parents[2] / "shared" / "data" / "german_credit" / "german.csv"

# ---------------------------------------------------------------------------- data and helpers


def binary_data(n: int = 3000, seed: int = 0, decimals: int | None = None) -> pd.DataFrame:
    """Label y, slice g (a, b, c) and two correlated models: the candidate is better in a,
    alike in b and worse in c. ``decimals`` rounds the scores (ties)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(1.5 * x + np.where(g == "b", 0.6, 0.0))).astype(np.int64)
    common = rng.normal(scale=0.7, size=n)
    gain = np.select([g == "a", g == "b"], [1.4, 1.0], 0.6)
    s_a = expit(x + common + rng.normal(scale=0.8, size=n))
    s_b = expit(gain * x + common + rng.normal(scale=0.6, size=n))
    if decimals is not None:
        s_a, s_b = np.round(s_a, decimals), np.round(s_b, decimals)
    return pd.DataFrame({"y": y, "s_a": s_a, "s_b": s_b, "g": g})


def binary_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "task": "binary", "label": "y",
        "models": [{"name": "base", "score": "s_a"}, {"name": "cand", "score": "s_b"}],
        "slices": [{"column": "g"}], "bootstrap": 1000, "min_slice_size": 30, "seed": 0}
    spec.update(overrides)
    return spec


def slice_masks(df: pd.DataFrame, column: str = "g") -> dict[str, np.ndarray]:
    """Slice label -> row mask, for the overall slice and each level of ``column``."""
    out = {"overall": np.ones(len(df), dtype=bool)}
    for level in sorted(df[column].unique()):
        out[f"{column}={level}"] = (df[column] == level).to_numpy()
    return out


def comp_row(result: assay.EvaluationResult, metric: str, slice: str = "overall",
             candidate: str = "cand") -> pd.Series:
    c = result.comparisons
    assert c is not None
    hit = c[(c.metric == metric) & (c.slice == slice) & (c.candidate == candidate)]
    assert len(hit) == 1, (metric, slice, candidate, len(hit))
    return hit.iloc[0]


def cells(sa: np.ndarray, sb: np.ndarray, w: np.ndarray | None = None) -> tuple[float, ...]:
    """(n11, n10, n01, n00): first index the candidate, 1 = success."""
    w = np.ones(sa.size) if w is None else w
    return (float(w[sa & sb].sum()), float(w[sb & ~sa].sum()), float(w[sa & ~sb].sum()),
            float(w[~sa & ~sb].sum()))


def mcnemar_p(n11: float, n10: float, n01: float, n00: float) -> float:
    return float(sm_tables.mcnemar(np.array([[n11, n10], [n01, n00]]), exact=True).pvalue)


def mover_width(single: pd.DataFrame, metric: str, slice: str) -> float:
    """Width of the unpaired MOVER interval for cand - base from the single-model rows."""
    r = {m: single[(single.metric == metric) & (single.slice == slice) & (single.model == m)].iloc[0]
         for m in ("base", "cand")}
    a, b = r["base"], r["cand"]
    low = math.hypot(b.value - b.ci_low, a.ci_high - a.value)
    high = math.hypot(b.ci_high - b.value, a.value - a.ci_low)
    return low + high


@pytest.fixture(scope="module")
def binary() -> tuple[pd.DataFrame, assay.EvaluationResult]:
    df = binary_data()
    return df, assay.evaluate(binary_spec(bootstrap=2000), data=df)


# ---------------------------------------------------------------------------- 1. McNemar metrics

#: metric -> (domain of rows, per-row success) given y and decisions d
MCNEMAR = {
    "accuracy": (lambda y: np.ones(y.size, bool), lambda y, d: d == y),
    "recall": (lambda y: y == 1, lambda y, d: d == 1),
    "specificity": (lambda y: y == 0, lambda y, d: d == 0),
    "positive_rate": (lambda y: np.ones(y.size, bool), lambda y, d: d == 1),
}
SKLEARN_VALUE = {
    "accuracy": skm.accuracy_score,
    "recall": skm.recall_score,
    "specificity": lambda y, d, **k: skm.recall_score(y, d, pos_label=0, **k),
    "positive_rate": lambda y, d, sample_weight=None: float(np.average(d, weights=sample_weight)),
}


@pytest.mark.parametrize("metric", list(MCNEMAR))
def test_binary_proportions_are_exact_mcnemar_with_tango_interval(binary, metric: str) -> None:
    df, result = binary
    domain, success = MCNEMAR[metric]
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        y = sub.y.to_numpy()
        da, db = (sub.s_a.to_numpy() >= 0.5).astype(int), (sub.s_b.to_numpy() >= 0.5).astype(int)
        dom = domain(y)
        sa, sb = success(y, da)[dom], success(y, db)[dom]
        n11, n10, n01, n00 = cells(sa, sb)
        row = comp_row(result, metric, label)
        assert row.status == "ok" and row.n == len(sub)
        assert row.baseline_value == pytest.approx(SKLEARN_VALUE[metric](y, da), abs=TOL)
        assert row.candidate_value == pytest.approx(SKLEARN_VALUE[metric](y, db), abs=TOL)
        assert row.delta == pytest.approx((n10 - n01) / dom.sum(), abs=TOL)
        assert row.p_value == pytest.approx(mcnemar_p(n11, n10, n01, n00), rel=1e-10, abs=1e-14)
        ci = tango_interval(n11, n10, n01, n00, 0.95)
        assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert row.discordance == pytest.approx((n10 + n01) / dom.sum(), abs=TOL)
        assert row.se == pytest.approx(math.sqrt((n10 + n01) / dom.sum() ** 2), rel=1e-12)
        assert row.higher_is_better == (metric != "positive_rate")
    # the data were built with a real accuracy difference: not every p-value is large
    c = result.comparisons
    assert metric != "accuracy" or c[(c.metric == metric)].p_value.min() < 0.05


# ---------------------------------------------------------------------------- 2. DeLong


def delong_brute(y: np.ndarray, a: np.ndarray, b: np.ndarray,
                 w: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """(auc_a, auc_b, delta, se) from the full matrix of (positive, negative) comparisons,
    ties 1/2; the DeLong covariance of the placement values (weighted: the linearised
    variance sum w^2 (V - mean)^2 / W^2 * m / (m - 1) per class)."""
    w = np.ones(y.size) if w is None else w
    pos, neg = y == 1, y == 0
    wp, wn = w[pos], w[neg]
    v10, v01, auc = [], [], []
    for s in (a, b):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        v10.append(psi @ wn / wn.sum())
        v01.append(wp @ psi / wp.sum())
        auc.append(float(wp @ psi @ wn) / (wp.sum() * wn.sum()))
    if np.all(w == 1):
        s10, s01 = np.cov(np.vstack(v10)), np.cov(np.vstack(v01))
        var = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos.sum()
               + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg.sum())
    else:
        var = 0.0
        for d, ww in ((v10[1] - v10[0], wp), (v01[1] - v01[0], wn)):
            m = d.size
            mean = float(ww @ d / ww.sum())
            var += m / (m - 1) * float(((ww * (d - mean)) ** 2).sum()) / ww.sum() ** 2
    return auc[0], auc[1], auc[1] - auc[0], math.sqrt(var)


@pytest.mark.parametrize("weighted", [False, True])
def test_roc_auc_is_paired_delong(weighted: bool) -> None:
    df = binary_data(2000, seed=3, decimals=2)  # rounded scores: many ties
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(df)) if weighted else None
    if weighted:
        df = df.assign(w=w)
    result = assay.evaluate(binary_spec(metrics=["roc_auc"], **({"weight": "w"} if weighted else {})),
                            data=df)
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        ww = None if w is None else w[mask]
        y, a, b = sub.y.to_numpy(), sub.s_a.to_numpy(), sub.s_b.to_numpy()
        auc_a, auc_b, delta, se = delong_brute(y, a, b, ww)
        row = comp_row(result, "roc_auc", label)
        assert row.baseline_value == pytest.approx(skm.roc_auc_score(y, a, sample_weight=ww), abs=TOL)
        assert row.candidate_value == pytest.approx(skm.roc_auc_score(y, b, sample_weight=ww), abs=TOL)
        assert (auc_a, auc_b) == pytest.approx((row.baseline_value, row.candidate_value), abs=TOL)
        assert row.delta == pytest.approx(delta, abs=TOL)
        assert row.se == pytest.approx(se, rel=1e-9)
        assert row.p_value == pytest.approx(2 * stats.norm.sf(abs(delta) / se), rel=1e-8)
        assert (row.ci_low, row.ci_high) == pytest.approx((delta - Z95 * se, delta + Z95 * se),
                                                          abs=1e-9)
        assert "delong" in row.method and ("weighted" in row.method) == weighted


# ---------------------------------------------------------------------------- 3. regression


def regression_data(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b"], n)
    y = rng.lognormal(2.0, 0.4, n)
    common = rng.normal(scale=1.0, size=n)
    p_a = y + common + rng.normal(scale=0.8, size=n)
    p_b = y + 0.85 * common + 0.1 + rng.normal(scale=0.7, size=n)
    return pd.DataFrame({"y": y, "p_a": p_a, "p_b": p_b, "g": g})


def regression_spec(**overrides: Any) -> dict[str, Any]:
    return binary_spec(task="regression", models=[{"name": "base", "prediction": "p_a"},
                                                  {"name": "cand", "prediction": "p_b"}], **overrides)


@pytest.fixture(scope="module")
def regression() -> tuple[pd.DataFrame, assay.EvaluationResult]:
    df = regression_data()
    return df, assay.evaluate(regression_spec(), data=df)


LOSSES = {
    "mae": lambda y, p: np.abs(p - y),
    "mse": lambda y, p: (p - y) ** 2,
    "mean_error": lambda y, p: p - y,
    "mape": lambda y, p: np.abs(p - y) / np.abs(y),
}


@pytest.mark.parametrize("metric", list(LOSSES))
def test_regression_losses_are_paired_t(regression, metric: str) -> None:
    df, result = regression
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        y = sub.y.to_numpy()
        la, lb = LOSSES[metric](y, sub.p_a.to_numpy()), LOSSES[metric](y, sub.p_b.to_numpy())
        t = stats.ttest_rel(lb, la)
        ci = t.confidence_interval(0.95)
        row = comp_row(result, metric, label)
        assert row.status == "ok"
        assert row.baseline_value == pytest.approx(la.mean(), rel=1e-10)
        assert row.candidate_value == pytest.approx(lb.mean(), rel=1e-10)
        assert row.delta == pytest.approx((lb - la).mean(), rel=1e-9, abs=1e-12)
        assert row.p_value == pytest.approx(t.pvalue, rel=1e-8)
        assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
        assert row.se == pytest.approx(stats.sem(lb - la), rel=1e-9)
    assert sklearn_regression(df, "mae") == pytest.approx(
        (comp_row(result, "mae").baseline_value, comp_row(result, "mae").candidate_value), rel=1e-10)


def sklearn_regression(df: pd.DataFrame, metric: str) -> tuple[float, float]:
    fn = {"mae": skm.mean_absolute_error, "mse": skm.mean_squared_error, "r2": skm.r2_score,
          "rmse": skm.root_mean_squared_error}[metric]
    return fn(df.y, df.p_a), fn(df.y, df.p_b)


def paired_bootstrap(n: int, stat, reps: int, seed: int) -> np.ndarray:
    """Row-level paired bootstrap: ``stat(idx)`` on ``reps`` resamples of row indices (each
    resampled row keeps both models' predictions)."""
    rng = np.random.default_rng(seed)
    return np.array([stat(rng.integers(0, n, n)) for _ in range(reps)])


def test_rmse_delta_method_se_matches_paired_bootstrap(regression) -> None:
    df, result = regression
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        e2a = ((sub.p_a - sub.y) ** 2).to_numpy()
        e2b = ((sub.p_b - sub.y) ** 2).to_numpy()
        row = comp_row(result, "rmse", label)
        ra, rb = sklearn_regression(sub, "rmse")
        assert (row.baseline_value, row.candidate_value) == pytest.approx((ra, rb), rel=1e-10)
        assert row.delta == pytest.approx(rb - ra, rel=1e-9)
        reps = paired_bootstrap(len(sub), lambda i, u=e2a, v=e2b: math.sqrt(v[i].mean())
                                - math.sqrt(u[i].mean()), 2000, seed=11)
        ratio = row.se / reps.std(ddof=1)
        assert 0.9 < ratio < 1.1, (label, ratio)
        assert row.p_value == pytest.approx(2 * stats.norm.sf(abs(row.delta) / row.se), rel=1e-9)


def test_r2_difference_is_scaled_mse_t_test(regression) -> None:
    df, result = regression
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        r2a, r2b = sklearn_regression(sub, "r2")
        row = comp_row(result, "r2", label)
        assert (row.baseline_value, row.candidate_value) == pytest.approx((r2a, r2b), abs=1e-10)
        assert row.delta == pytest.approx(r2b - r2a, abs=1e-10)
        assert row.p_value == pytest.approx(comp_row(result, "mse", label).p_value, rel=1e-9)
        var_y = float(sub.y.var(ddof=0))
        mse = comp_row(result, "mse", label)
        assert (row.ci_low, row.ci_high) == pytest.approx(
            (-mse.ci_high / var_y, -mse.ci_low / var_y), rel=1e-9)


def test_binary_losses_are_paired_t(binary) -> None:
    df, result = binary
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        y, a, b = sub.y.to_numpy(), sub.s_a.to_numpy(), sub.s_b.to_numpy()
        losses = {"log_loss": (-np.log(np.where(y == 1, a, 1 - a)), -np.log(np.where(y == 1, b, 1 - b))),
                  "brier_score": ((a - y) ** 2, (b - y) ** 2)}
        for metric, value in (("log_loss", skm.log_loss), ("brier_score", skm.brier_score_loss)):
            la, lb = losses[metric]
            t = stats.ttest_rel(lb, la)
            row = comp_row(result, metric, label)
            assert (row.baseline_value, row.candidate_value) == pytest.approx(
                (value(y, a), value(y, b)), rel=1e-9)
            assert row.p_value == pytest.approx(t.pvalue, rel=1e-8)
            assert (row.ci_low, row.ci_high) == pytest.approx(tuple(t.confidence_interval(0.95)),
                                                              rel=1e-9)


# ---------------------------------------------------------------------------- 4. 8-cell bootstrap


def _confusion_stats(y: np.ndarray, d: np.ndarray, idx: np.ndarray,
                     w: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Threshold metrics per resample, from (weighted) counts (rows of ``idx`` = resamples)."""
    yy, dd = y[idx], d[idx]
    ww = np.ones(idx.shape) if w is None else w[idx]
    tp = (ww * (yy & dd)).sum(axis=1)
    fp = (ww * (~yy & dd)).sum(axis=1)
    fn = (ww * (yy & ~dd)).sum(axis=1)
    tn = (ww * (~yy & ~dd)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": tp / (tp + fp),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "mcc": (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
            "balanced_accuracy": (tp / (tp + fn) + tn / (tn + fp)) / 2,
        }


THRESHOLD_SKLEARN = {"precision": skm.precision_score, "f1": skm.f1_score,
                     "mcc": skm.matthews_corrcoef, "balanced_accuracy": skm.balanced_accuracy_score}


def test_threshold_metrics_bootstrap_se_matches_row_bootstrap(binary) -> None:
    df, result = binary
    ratios = []
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        y = sub.y.to_numpy() == 1
        da, db = sub.s_a.to_numpy() >= 0.5, sub.s_b.to_numpy() >= 0.5
        idx = np.random.default_rng(5).integers(0, y.size, (2000, y.size))
        ref_a, ref_b = _confusion_stats(y, da, idx), _confusion_stats(y, db, idx)
        for metric, fn in THRESHOLD_SKLEARN.items():
            row = comp_row(result, metric, label)
            assert row.status == "ok" and "poisson-bootstrap" in row.method
            assert row.baseline_value == pytest.approx(fn(y, da), abs=TOL)
            assert row.candidate_value == pytest.approx(fn(y, db), abs=TOL)
            assert row.delta == pytest.approx(fn(y, db) - fn(y, da), abs=TOL)
            ref_se = float(np.nanstd(ref_b[metric] - ref_a[metric], ddof=1))
            ratios.append(row.se / ref_se)
            assert 0.9 < row.se / ref_se < 1.1, (metric, label, row.se, ref_se)
            # the percentile interval's width agrees too (the differences are near normal)
            width = (row.ci_high - row.ci_low) / (2 * Z95)
            assert 0.85 < width / ref_se < 1.15, (metric, label, width, ref_se)
    assert len(ratios) == 16


def test_weighted_threshold_metrics_bootstrap_se() -> None:
    """With weights each joint cell is drawn on its Kish effective count: the SE still
    agrees with a row-level bootstrap of the weighted metrics."""
    df = binary_data(2000, seed=70)
    w = np.random.default_rng(71).uniform(0.2, 3.0, len(df))
    result = assay.evaluate(binary_spec(weight="w", bootstrap=2000, slices=[],
                                        metrics=list(THRESHOLD_SKLEARN)), data=df.assign(w=w))
    y = df.y.to_numpy() == 1
    da, db = df.s_a.to_numpy() >= 0.5, df.s_b.to_numpy() >= 0.5
    idx = np.random.default_rng(72).integers(0, y.size, (2000, y.size))
    ref_a, ref_b = _confusion_stats(y, da, idx, w), _confusion_stats(y, db, idx, w)
    for metric, fn in THRESHOLD_SKLEARN.items():
        row = comp_row(result, metric)
        assert "Kish" in row.method
        assert row.delta == pytest.approx(fn(y, db, sample_weight=w) - fn(y, da, sample_weight=w),
                                          abs=TOL)
        ratio = row.se / float(np.std(ref_b[metric] - ref_a[metric], ddof=1))
        assert 0.9 < ratio < 1.1, (metric, ratio)


def test_bootstrap_p_value_agrees_with_interval(binary) -> None:
    df, result = binary
    c = result.comparisons
    boot = c[c.method.str.contains("poisson-bootstrap") & (c.status == "ok")]
    assert len(boot) >= 20
    resolution = 3 / (2000 + 1)
    excludes = (boot.ci_low > 0) | (boot.ci_high < 0)
    clear = (boot.p_value - 0.05).abs() > resolution
    assert (excludes[clear] == (boot.p_value[clear] < 0.05)).all(), boot[clear & (
        excludes != (boot.p_value < 0.05))][["slice", "metric", "ci_low", "ci_high", "p_value"]]
    assert excludes.any() and (~excludes).any()  # both kinds of row occur
    assert boot.p_value.min() >= 1 / 2001


def test_bootstrap_is_reproducible_and_seeded(binary) -> None:
    df, first = binary
    again = assay.evaluate(binary_spec(bootstrap=2000), data=df)
    pd.testing.assert_frame_equal(first.comparisons, again.comparisons, check_exact=True)
    other = assay.evaluate(binary_spec(bootstrap=2000, seed=1), data=df).comparisons
    c = first.comparisons
    boot = c.method.str.contains("bootstrap").to_numpy()
    assert boot.sum() >= 20
    assert (c.ci_low.to_numpy()[boot] != other.ci_low.to_numpy()[boot]).mean() > 0.8
    # closed-form methods do not depend on the seed
    for col in ("ci_low", "ci_high", "p_value", "delta"):
        np.testing.assert_array_equal(c[col].to_numpy()[~boot], other[col].to_numpy()[~boot])


# ---------------------------------------------------------------------------- 5. pr_auc, ece


def ece(y: np.ndarray, s: np.ndarray, bins: int = 15) -> float:
    b = np.minimum(np.floor(s * bins).astype(int), bins - 1)
    return sum(abs(y[b == k].sum() - s[b == k].sum()) for k in range(bins)) / y.size


def test_pr_auc_and_ece_values_and_pairing_gain() -> None:
    rng = np.random.default_rng(21)
    df = binary_data(3000, seed=20)
    # a candidate very close to the baseline: the two models' errors are strongly correlated
    logit = np.log(df.s_a / (1 - df.s_a))
    df["s_b"] = expit(1.1 * logit + 0.1 + rng.normal(scale=0.15, size=len(df)))
    result = assay.evaluate(binary_spec(metrics=["pr_auc", "ece"]), data=df)
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        y, a, b = sub.y.to_numpy(), sub.s_a.to_numpy(), sub.s_b.to_numpy()
        ap = comp_row(result, "pr_auc", label)
        assert ap.baseline_value == pytest.approx(skm.average_precision_score(y, a), abs=TOL)
        assert ap.candidate_value == pytest.approx(skm.average_precision_score(y, b), abs=TOL)
        cal = comp_row(result, "ece", label)
        assert (cal.baseline_value, cal.candidate_value) == pytest.approx((ece(y, a), ece(y, b)),
                                                                            abs=TOL)
        for row in (ap, cal):
            assert row.status == "ok" and row.ci_low <= row.delta <= row.ci_high
            paired = row.ci_high - row.ci_low
            unpaired = mover_width(result.table, row.metric, label)
            assert paired < 0.6 * unpaired, (row.metric, label, paired, unpaired)


def test_pr_auc_paired_se_close_to_exact_row_bootstrap() -> None:
    """The coarse joint cells approximate the row bootstrap of the exact AP difference."""
    df = binary_data(3000, seed=30)
    result = assay.evaluate(binary_spec(metrics=["pr_auc"], bootstrap=2000, slices=[]), data=df)
    y, a, b = df.y.to_numpy(), df.s_a.to_numpy(), df.s_b.to_numpy()
    reps = paired_bootstrap(y.size, lambda i: _ap(y[i], b[i]) - _ap(y[i], a[i]), 1000, seed=31)
    row = comp_row(result, "pr_auc")
    ratio = row.se / reps.std(ddof=1)
    assert 0.85 < ratio < 1.15, ratio


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision with tied scores grouped (as scikit-learn), vectorised."""
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), ss.size - 1]
    tp = np.cumsum(ys)[last]
    precision = tp / (last + 1)
    return float((np.diff(np.r_[0, tp]) * precision).sum() / tp[-1])


# ---------------------------------------------------------------------------- 6. churn


def test_churn_is_share_of_changed_decisions_with_wilson(binary) -> None:
    df, result = binary
    for label, mask in slice_masks(df).items():
        sub = df[mask]
        changed = int(((sub.s_a >= 0.5) != (sub.s_b >= 0.5)).sum())
        row = comp_row(result, CHURN, label)
        assert row.delta == pytest.approx(changed / len(sub), abs=TOL)
        lo, hi = sm_proportion.proportion_confint(changed, len(sub), alpha=0.05, method="wilson")
        assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi), abs=1e-12)
        assert math.isnan(row.p_value) and math.isnan(row.p_adjusted)
        assert not row.higher_is_better


# ---------------------------------------------------------------------------- 7. adjustment


@pytest.mark.parametrize(("adjust", "sm_method"), [("bh", "fdr_bh"), ("holm", "holm")])
def test_p_adjusted_per_candidate(adjust: str, sm_method: str) -> None:
    df = binary_data(2000, seed=40)
    df["s_c"] = np.clip(df.s_a + np.random.default_rng(41).normal(scale=0.05, size=len(df)), 0, 1)
    df.loc[df.g == "c", "y"] = 0  # a slice with one class: some p-values are NaN
    models = [{"name": "base", "score": "s_a"}, {"name": "cand", "score": "s_b"},
              {"name": "other", "score": "s_c"}]
    result = assay.evaluate(binary_spec(models=models, compare={"adjust": adjust}), data=df)
    c = result.comparisons
    assert set(c.candidate) == {"cand", "other"} and set(c.baseline) == {"base"}
    for cand in ("cand", "other"):
        rows = c[(c.candidate == cand) & (c.metric != CHURN)]
        ok = rows.p_value.notna().to_numpy()
        assert 0 < ok.sum() < len(rows)
        expected = sm_multitest.multipletests(rows.p_value[ok].to_numpy(), method=sm_method)[1]
        np.testing.assert_allclose(rows.p_adjusted[ok].to_numpy(), expected, rtol=1e-12, atol=1e-15)
        assert rows.p_adjusted[~ok].isna().all()
        assert c[(c.candidate == cand) & (c.metric == CHURN)].p_adjusted.isna().all()


# ---------------------------------------------------------------------------- 8. multiclass

CLASSES = ["cat", "dog", "eel"]


def multiclass_data(n: int = 3000, seed: int = 50) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    g = rng.choice(["a", "b"], n)
    common = rng.normal(size=(n, 3))
    onehot = np.eye(3)[y]

    def probs(signal: float, noise: float) -> np.ndarray:
        z = signal * onehot + common + rng.normal(scale=noise, size=(n, 3))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    df = pd.DataFrame({"y": np.array(CLASSES)[y], "g": g})
    return df, probs(1.2, 0.9), probs(1.5, 0.7)


def test_multiclass_comparisons() -> None:
    df, pa, pb = multiclass_data()
    result = assay.evaluate({"task": "multiclass", "label": "y", "classes": CLASSES,
                             "slices": [{"column": "g"}], "bootstrap": 500},
                            data=df, predictions={"base": pa, "cand": pb})
    y_all = df.y.map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    for label, mask in slice_masks(df).items():
        y, a, b = y_all[mask], pa[mask], pb[mask]
        da, db = a.argmax(axis=1), b.argmax(axis=1)
        acc = comp_row(result, "accuracy", label)
        ca, cb = da == y, db == y
        n11, n10, n01, n00 = cells(ca, cb)
        assert acc.p_value == pytest.approx(mcnemar_p(n11, n10, n01, n00), rel=1e-10)
        assert (acc.baseline_value, acc.candidate_value) == pytest.approx(
            (skm.accuracy_score(y, da), skm.accuracy_score(y, db)), abs=TOL)
        for micro in ("precision_micro", "recall_micro", "f1_micro"):
            assert comp_row(result, micro, label).p_value == acc.p_value
        f1 = comp_row(result, "f1_macro", label)
        kw = {"average": "macro", "labels": [0, 1, 2], "zero_division": 0}
        assert (f1.baseline_value, f1.candidate_value) == pytest.approx(
            (skm.f1_score(y, da, **kw), skm.f1_score(y, db, **kw)), abs=TOL)
        assert f1.status == "ok" and f1.ci_low <= f1.delta <= f1.ci_high
        for k, name in enumerate(CLASSES):
            r = comp_row(result, f"recall_per_class[{name}]", label)
            m = y == k
            n11, n10, n01, n00 = cells(ca[m], cb[m])
            assert r.p_value == pytest.approx(mcnemar_p(n11, n10, n01, n00), rel=1e-10)
            ci = tango_interval(n11, n10, n01, n00, 0.95)
            assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
            assert r.baseline_value == pytest.approx(ca[m].mean(), abs=TOL)
        eps = np.finfo(float).eps
        la = -np.log(np.clip(a[np.arange(y.size), y], eps, 1 - eps))
        lb = -np.log(np.clip(b[np.arange(y.size), y], eps, 1 - eps))
        t = stats.ttest_rel(lb, la)
        ll = comp_row(result, "log_loss", label)
        assert ll.baseline_value == pytest.approx(skm.log_loss(y, a, labels=[0, 1, 2]), rel=1e-9)
        assert ll.delta == pytest.approx((lb - la).mean(), rel=1e-9)
        assert ll.p_value == pytest.approx(t.pvalue, rel=1e-8)
        assert (ll.ci_low, ll.ci_high) == pytest.approx(tuple(t.confidence_interval(0.95)), rel=1e-9)
        churn = comp_row(result, CHURN, label)
        assert churn.delta == pytest.approx((da != db).mean(), abs=TOL)
    assert set(result.comparisons.metric) >= {f"recall_per_class[{c}]" for c in CLASSES}
    assert "roc_auc_ovr" in set(result.comparisons.metric)


# ---------------------------------------------------------------------------- 9. edge cases


def test_identical_models_show_no_difference() -> None:
    df = binary_data(1500, seed=60)
    df["s_b"] = df.s_a
    c = assay.evaluate(binary_spec(), data=df).comparisons
    ok = c[(c.status == "ok") & (c.metric != CHURN)]
    assert len(ok) == 13 * 4
    assert (ok.delta == 0).all() and (ok.p_value == 1).all(), ok[ok.p_value != 1]
    assert (c[c.metric == CHURN].delta == 0).all()


def test_one_class_slice_leaves_auc_undefined() -> None:
    df = binary_data(2000, seed=61)
    df.loc[df.g == "c", "y"] = 0
    result = assay.evaluate(binary_spec(), data=df)
    row = comp_row(result, "roc_auc", "g=c")
    assert row.status == "undefined" and "one class" in row.note and math.isnan(row.delta)
    rec = comp_row(result, "recall", "g=c")
    assert rec.status == "undefined" and "no positive labels" in rec.note
    assert comp_row(result, "roc_auc", "g=a").status == "ok"
    assert comp_row(result, "specificity", "g=c").status == "ok"


def test_small_slices_are_too_small() -> None:
    df = binary_data(1000, seed=62)
    df.loc[:19, "g"] = "tiny"
    result = assay.evaluate(binary_spec(min_slice_size=25), data=df)
    c = result.comparisons
    tiny = c[c.slice == "g=tiny"]
    assert len(tiny) == 14 and (tiny.status == "too_small").all() and (tiny.n == 20).all()
    assert tiny.note.str.contains("min_slice_size=25").sum() == 13
    assert tiny.delta.isna().all() and tiny.p_adjusted.isna().all()
    assert (c[c.slice != "g=tiny"].status == "ok").all()


def test_rows_excluded_for_one_model_are_left_out_of_the_pair() -> None:
    df = binary_data(2000, seed=63)
    rng = np.random.default_rng(64)
    rows = rng.permutation(2000)
    only_b, only_a, both = rows[:70], rows[70:110], rows[110:125]
    df.loc[only_b, "s_b"] = 1.5  # out of range: excluded only with exclude_invalid
    df.loc[only_a, "s_a"] = np.nan  # missing: always excluded (and counted)
    df.loc[both, ["s_a", "s_b"]] = np.nan
    with pytest.raises(assay.InputError, match="exclude-invalid"):
        assay.evaluate(binary_spec(), data=df)
    result = assay.evaluate(binary_spec(), data=df, exclude_invalid=True)
    assert result.unpaired == {"cand": only_a.size + only_b.size}
    keep = np.ones(2000, dtype=bool)
    keep[rows[:125]] = False
    paired = df[keep]
    for label, mask in slice_masks(paired).items():
        sub = paired[mask]
        y = sub.y.to_numpy()
        ca, cb = (sub.s_a >= 0.5).to_numpy() == y, (sub.s_b >= 0.5).to_numpy() == y
        row = comp_row(result, "accuracy", label)
        assert row.n == len(sub)
        assert row.p_value == pytest.approx(mcnemar_p(*cells(ca, cb)), rel=1e-10)
        assert row.baseline_value == pytest.approx(ca.mean(), abs=TOL)
        assert row.candidate_value == pytest.approx(cb.mean(), abs=TOL)
        auc = comp_row(result, "roc_auc", label)
        assert auc.candidate_value == pytest.approx(skm.roc_auc_score(y, sub.s_b), abs=TOL)
    # each model's own results use every row that model scored
    assert result.row("accuracy", "base")["n"] == 2000 - only_a.size - both.size
    assert result.row("accuracy", "cand")["n"] == 2000 - only_b.size - both.size


def test_weighted_mcnemar_uses_kish_effective_cells() -> None:
    df = binary_data(2000, seed=65)
    w = np.random.default_rng(66).uniform(0.2, 3.0, len(df))
    df["w"] = w
    result = assay.evaluate(binary_spec(weight="w"), data=df)
    for label, mask in slice_masks(df).items():
        sub, ws = df[mask], w[mask]
        y = sub.y.to_numpy()
        da, db = (sub.s_a >= 0.5).to_numpy().astype(int), (sub.s_b >= 0.5).to_numpy().astype(int)
        for metric in ("accuracy", "recall", "specificity"):
            domain, success = MCNEMAR[metric]
            dom = domain(y)
            wd = ws[dom]
            n11, n10, n01, n00 = cells(success(y, da)[dom], success(y, db)[dom], wd)
            total = wd.sum()
            k = total / (wd**2).sum()  # Kish n_eff / total weight
            ci = tango_interval(n11 * k, n10 * k, n01 * k, n00 * k, 0.95)
            row = comp_row(result, metric, label)
            assert "Kish" in row.method
            assert row.baseline_value == pytest.approx(
                SKLEARN_VALUE[metric](y, da, sample_weight=ws), abs=TOL)
            assert row.candidate_value == pytest.approx(
                SKLEARN_VALUE[metric](y, db, sample_weight=ws), abs=TOL)
            assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
            z = (n10 - n01) * k / math.sqrt((n10 + n01) * k)
            assert row.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
            assert row.se == pytest.approx(math.sqrt((n10 + n01) / total / (total * k)), rel=1e-9)
        churn = comp_row(result, CHURN, label)
        changed = da != db
        n_eff = ws.sum() ** 2 / (ws**2).sum()
        share = ws[changed].sum() / ws.sum()
        lo, hi = sm_proportion.proportion_confint(share * n_eff, n_eff, method="wilson")
        assert churn.delta == pytest.approx(share, abs=TOL)
        assert (churn.ci_low, churn.ci_high) == pytest.approx((lo, hi), abs=1e-12)


def test_weighted_comparison_over_several_row_chunks() -> None:
    """Weighted evaluations of more than one 2048-row chunk (the engine's weighted bootstrap,
    keyed on the id column) still evaluate and compare (a regression test: the chunk loop
    once overwrote the row keys)."""
    df = binary_data(5000, seed=67)
    w = np.random.default_rng(68).uniform(0.2, 3.0, len(df))
    result = assay.evaluate(binary_spec(weight="w", metrics=["accuracy", "roc_auc"]),
                            data=df.assign(w=w))
    y, a, b = df.y.to_numpy(), df.s_a.to_numpy(), df.s_b.to_numpy()
    row = comp_row(result, "roc_auc")
    assert row.candidate_value == pytest.approx(skm.roc_auc_score(y, b, sample_weight=w), abs=TOL)
    assert row.se == pytest.approx(delong_brute(y, a, b, w)[3], rel=1e-9)


def test_unpaired_metric_uses_mover_at_the_spec_confidence(regression) -> None:
    """median_ae has no paired method: MOVER on the single-model intervals, with the
    standard error read at the evaluation's own confidence."""
    df, _ = regression
    result = assay.evaluate(regression_spec(confidence=0.9, metrics=["median_ae"]), data=df)
    t = result.table
    for label in slice_masks(df):
        r = {m: t[(t.metric == "median_ae") & (t.slice == label) & (t.model == m)].iloc[0]
             for m in ("base", "cand")}
        a, b = r["base"], r["cand"]
        row = comp_row(result, "median_ae", label)
        assert "MOVER" in row.method and math.isnan(row.p_value)
        assert row.delta == pytest.approx(b.value - a.value, abs=TOL)
        assert row.ci_low == pytest.approx(
            b.value - a.value - math.hypot(b.value - b.ci_low, a.ci_high - a.value), abs=TOL)
        assert row.ci_high == pytest.approx(
            b.value - a.value + math.hypot(b.ci_high - b.value, a.value - a.ci_low), abs=TOL)
        z90 = stats.norm.ppf(0.95)
        assert row.se == pytest.approx((row.ci_high - row.ci_low) / (2 * z90), rel=1e-12)


def test_cross_and_where_slices_are_compared() -> None:
    df = binary_data(3000, seed=72)
    df["h"] = np.random.default_rng(73).choice(["u", "v"], len(df))
    slices = [{"column": "g"}, {"column": "h"}, {"cross": ["g", "h"]},
              {"where": "g = 'a' AND h = 'u'", "name": "au"}]
    result = assay.evaluate(binary_spec(slices=slices, metrics=["accuracy"]), data=df)
    c = result.comparisons
    assert len(c[c.metric == "accuracy"]) == 1 + 3 + 2 + 6 + 1
    for g in "abc":
        for h in "uv":
            mask = ((df.g == g) & (df.h == h)).to_numpy()
            sub = df[mask]
            ca, cb = (sub.s_a >= 0.5).to_numpy() == sub.y, (sub.s_b >= 0.5).to_numpy() == sub.y
            row = comp_row(result, "accuracy", f"g={g} & h={h}")
            assert row.n == mask.sum() and row.dimension == "g x h"
            assert row.p_value == pytest.approx(mcnemar_p(*cells(ca.to_numpy(), cb.to_numpy())),
                                                rel=1e-10)
    where, cross = comp_row(result, "accuracy", "au"), comp_row(result, "accuracy", "g=a & h=u")
    assert where.level == "" and (where.p_value, where.n) == (cross.p_value, cross.n)


def test_unknown_task_names_register_paired() -> None:
    from assay.compare import compare_pair

    with pytest.raises(KeyError, match="register_paired"):
        compare_pair(task="no_such_task", metrics=["m"], higher_is_better={"m": True}, pairs=None,
                     codes=[], partition=None, ctx=None, names=("a", "b"), min_slice_size=1,
                     singles={})


# ---------------------------------------------------------------------------- 10. registry


def test_every_registered_metric_has_a_paired_method() -> None:
    missing, stale = [], []
    for task in assay.task_names():
        names = assay.get_task(task).metrics
        declared = PAIRED.get(task, {})
        missing += [f"assay.compare.register_paired({task!r}, {m!r}, <paired method or "
                    f"assay.compare.UNPAIRED or SKIP>)  # or add {m!r} to the {task!r} table in "
                    "src/assay/compare/_tasks.py" for m in names if m not in declared]
        stale += [f"{task}.{m}" for m in declared if m not in names]
    assert not missing, "metrics without a paired comparison method; add:\n" + "\n".join(missing)
    assert not stale, f"PAIRED declares metrics that are not registered: {stale}"
    for task, table in PAIRED.items():
        for m, how in table.items():
            assert callable(how) or how in (UNPAIRED, SKIP, "per_class"), (task, m, how)


# ---------------------------------------------------------------------------- 11. real data


@pytest.mark.skipif(not GERMAN.is_file(), reason=f"shared data not found at {GERMAN} "
                    "(run from a checkout beside ../shared)")
def test_german_credit_logistic_models() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    raw = pd.read_csv(GERMAN)
    raw["bad"] = (raw.credit == 2).astype(int)
    raw["sex"] = np.where(raw.personal_status.isin(["A92", "A95"]), "female", "male")
    numeric = ["month", "credit_amount", "age", "investment_as_income_percentage"]
    wide = pd.get_dummies(raw[["status", "credit_history", "savings", "purpose"]], dtype=float)
    x_small = raw[numeric].to_numpy(float)
    x_big = np.hstack([x_small, wide.to_numpy()])
    train, test = train_test_split(np.arange(len(raw)), test_size=0.5, random_state=0,
                                   stratify=raw.bad)
    y = raw.bad.to_numpy()
    scores = {}
    for name, x in (("small", x_small), ("big", x_big)):
        x = (x - x[train].mean(axis=0)) / (x[train].std(axis=0) + 1e-12)
        fit = LogisticRegression(max_iter=2000).fit(x[train], y[train])
        scores[name] = fit.predict_proba(x[test])[:, 1]
    df = raw.iloc[test][["bad", "sex"]].reset_index(drop=True)
    result = assay.evaluate({"task": "binary", "label": "bad", "slices": [{"column": "sex"}],
                             "bootstrap": 500}, data=df, predictions=scores)
    for label, mask in slice_masks(df, "sex").items():
        yy = df.bad.to_numpy()[mask]
        ca = (scores["small"][mask] >= 0.5) == yy
        cb = (scores["big"][mask] >= 0.5) == yy
        row = comp_row(result, "accuracy", label, candidate="big")
        assert row.n == mask.sum() and row.baseline == "small"
        assert row.p_value == pytest.approx(mcnemar_p(*cells(ca, cb)), rel=1e-10)
        auc = comp_row(result, "roc_auc", label, candidate="big")
        assert auc.candidate_value == pytest.approx(
            skm.roc_auc_score(yy, scores["big"][mask]), abs=TOL)
    assert comp_row(result, "roc_auc", candidate="big").delta > 0  # more features help here
