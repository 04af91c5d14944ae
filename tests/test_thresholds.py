"""Operating points (assay.analysis.thresholds) against independent references.

Curve values against scikit-learn's precision_recall_curve, roc_curve and confusion_matrix;
the cost-optimal and constrained thresholds against a brute-force loop over every distinct
score with scikit-learn's confusion_matrix; the chosen point's Wilson bounds against
statsmodels; and the intervals of re-chosen thresholds by seeded coverage simulations whose
population values come from Beta score distributions in closed form.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError
from assay.analysis._rows import AnalysisRows
from assay.analysis._thresholds_grid import (
    MAX_CANDIDATES,
    CellCounts,
    build_grid,
    confusion,
    metrics_from_confusion,
)
from assay.analysis.thresholds import COLUMNS, _pointwise_percentiles, analyse_thresholds
from assay.spec import ThresholdConstraint, ThresholdCosts, ThresholdSpec
from assay.stats import percentile_interval

NO_INTERVALS = "none (intervals: false)"


def make_rows(y, s, w=None, *, threshold=0.5, replicates=200, seed=(0,), confidence=0.95,
              key=None, task="binary") -> AnalysisRows:
    y = np.asarray(y, dtype=np.int8)
    n = y.size
    return AnalysisRows(model="m", task=task, y=y, scores=np.asarray(s, dtype=np.float64),
                        w=None if w is None else np.asarray(w, dtype=np.float64),
                        key=np.arange(n, dtype=np.uint64) if key is None else key,
                        row_number=np.arange(1, n + 1, dtype=np.int64), classes=["0", "1"],
                        threshold=threshold, confidence=confidence, replicates=replicates, seed=seed,
                        min_slice_size=30)


def spec_of(**kw) -> ThresholdSpec:
    return ThresholdSpec.model_validate(kw)


def beta_sample(rng, n, prevalence=0.3, digits=None):
    y = (rng.uniform(size=n) < prevalence).astype(np.int8)
    s = np.where(y == 1, rng.beta(3, 2, n), rng.beta(2, 3, n))
    return y, (np.round(s, digits) if digits is not None else s)


def point(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[table["point"] == name].set_index("metric")


# ---- independent references ---------------------------------------------------------------


def sk_counts(y, s, t, w=None):
    """(tp, fp, fn, tn) of ``score >= t`` by scikit-learn's confusion_matrix."""
    tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int), labels=[0, 1], sample_weight=w).ravel()
    return float(tp), float(fp), float(fn), float(tn)


def ref_metrics(tp, fp, fn, tn, costs=None):
    def r(a, b):
        return a / b if b > 0 else math.nan

    total = tp + fp + fn + tn
    out = {"precision": r(tp, tp + fp), "recall": r(tp, tp + fn), "specificity": r(tn, tn + fp),
           "fpr": r(fp, fp + tn), "fnr": r(fn, fn + tp), "f1": r(2 * tp, 2 * tp + fp + fn),
           "selection_rate": r(tp + fp, total), "accuracy": r(tp + tn, total)}
    if costs is not None:
        out["cost"] = r(costs.fp * fp + costs.fn * fn + costs.tp * tp + costs.tn * tn, total)
    return out


def brute_force(y, s, w, rule, costs=None, rtol=0.0):
    """The best candidate threshold by a loop over every distinct score (plus one above the
    largest: nothing predicted positive); ties go to the higher threshold. ``rule`` is
    "cost" or a ThresholdConstraint. Returns (threshold, metrics) or (None, best achievable)."""
    cands = list(np.unique(s)) + [np.nextafter(s.max(), np.inf)]
    best_t, best_v, best_m = None, None, None
    achievable = []
    for t in cands:
        m = ref_metrics(*sk_counts(y, s, t, w), costs)
        if rule == "cost":
            v = -m["cost"]
        else:
            c = m[rule.metric]
            if math.isnan(c):
                continue
            achievable.append(c)
            if not (c >= rule.min if rule.min is not None else c <= rule.max):
                continue
            v = m[rule.optimize]
            if math.isnan(v):
                continue
            v = -v if rule.optimize in ("fpr", "fnr") else v
        tied = best_v is not None and abs(v - best_v) <= rtol * max(1.0, abs(best_v))
        if best_v is None or v > best_v or tied:  # ascending loop: a tie moves to the higher t
            best_t, best_m = t, m
            best_v = v if not tied else max(v, best_v)
    if best_t is None:
        return None, (max(achievable) if rule.min is not None else min(achievable))
    return best_t, best_m


# ---- 1. curve values equal scikit-learn ---------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_grid_metrics_equal_sklearn_curves(weighted):
    rng = np.random.default_rng(1)
    y, s = beta_sample(rng, 700, digits=2)  # ~100 distinct values: many ties
    w = rng.exponential(size=y.size) if weighted else None
    grid = build_grid(s)
    counts = CellCounts.of(y, grid.cells, grid.size + 1, w)
    m = metrics_from_confusion(confusion(counts.pos, counts.neg), None)
    prec, rec, thr = precision_recall_curve(y, s, sample_weight=w)
    j = grid.index_of(thr)
    assert np.array_equal(grid.thresholds[j], thr)  # every distinct score is a cut point
    np.testing.assert_allclose(m["precision"][j], prec[:-1], rtol=1e-12)
    np.testing.assert_allclose(m["recall"][j], rec[:-1], rtol=1e-12)
    fpr, tpr, thr = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    j = grid.index_of(thr[1:])
    np.testing.assert_allclose(m["fpr"][j], fpr[1:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m["recall"][j], tpr[1:], rtol=1e-12, atol=1e-15)
    # the last cut point lies above every score: nothing predicted positive
    assert m["selection_rate"][-1] == 0 and np.isnan(m["precision"][-1])


@pytest.mark.parametrize("weighted", [False, True])
def test_chart_curve_equals_confusion_matrix_at_each_threshold(weighted):
    rng = np.random.default_rng(2)
    points = 51
    grid_t = np.linspace(0.0, 1.0, points)
    y, s = beta_sample(rng, 600)
    s[:200] = rng.choice(grid_t[5:45], 200)  # scores exactly equal to curve thresholds, tied
    w = rng.uniform(0.2, 3.0, y.size) if weighted else None
    costs = ThresholdCosts(fp=1.0, fn=4.0, tp=-0.5)
    out = analyse_thresholds(make_rows(y, s, w), spec_of(points=points, costs=costs.model_dump()))
    curve = out.charts["curve"]["m"]
    assert curve["threshold"] == [round(float(t), 6) for t in grid_t]
    for i, t in enumerate(grid_t):
        ref = ref_metrics(*sk_counts(y, s, t, w), costs)
        for k in ("precision", "recall", "fpr", "f1", "selection_rate", "cost"):
            got = curve[k][i]
            if math.isnan(ref[k]):
                assert got is None, (k, t)
            else:
                assert got == pytest.approx(ref[k], abs=1e-6), (k, t)
    # at threshold 1.0 nothing is predicted positive (every score < 1): precision undefined
    assert curve["precision"][-1] is None and curve["selection_rate"][-1] == 0.0
    # the band brackets the curve (percentiles of replicates at the same fixed threshold)
    for k in ("precision", "recall"):
        for v, lo, hi in zip(curve[k], curve[f"{k}_low"], curve[f"{k}_high"], strict=True):
            if v is not None and lo is not None and 0.02 < v < 0.98:
                assert lo - 1e-6 <= v <= hi + 1e-6


def test_pointwise_percentiles_equal_percentile_interval():
    rng = np.random.default_rng(3)
    reps = rng.normal(size=(101, 7))
    reps[:30, 1] = np.nan  # defined in more than half: NaN dropped
    reps[:60, 2] = np.nan  # defined in fewer than half: no interval
    low, high = _pointwise_percentiles(reps, 0.9)
    for j in range(reps.shape[1]):
        ci = percentile_interval(reps[:, j], 0.9)
        assert low[j] == pytest.approx(ci.low, nan_ok=True, rel=1e-12)
        assert high[j] == pytest.approx(ci.high, nan_ok=True, rel=1e-12)
    assert np.isnan(low[2])


# ---- 2. optimal and constrained thresholds equal a brute-force search ---------------------

CONSTRAINTS = [
    ThresholdConstraint(metric="recall", min=0.8, optimize="precision"),
    ThresholdConstraint(metric="precision", min=0.6, optimize="recall"),
    ThresholdConstraint(metric="fpr", max=0.2, optimize="f1"),
    ThresholdConstraint(metric="specificity", min=0.5, optimize="fnr"),
    ThresholdConstraint(metric="selection_rate", max=0.3, optimize="accuracy"),
]


@pytest.mark.parametrize("weighted", [False, True])
def test_cost_optimal_and_constrained_equal_brute_force(weighted):
    rng = np.random.default_rng(4)
    y, s = beta_sample(rng, 400, digits=2)
    w = None
    if weighted:
        w = rng.exponential(size=y.size)
        w[rng.uniform(size=y.size) < 0.1] = 0.0
        # a zero-weight twin just above every score: each threshold ties with the next one
        twins = np.unique(s) + 0.001
        y, s = np.concatenate([y, np.zeros(twins.size, np.int8)]), np.concatenate([s, twins])
        w = np.concatenate([w, np.zeros(twins.size)])
    costs = ThresholdCosts(fp=1.0, fn=3.0, tp=0.25, tn=0.0)
    spec = spec_of(costs=costs.model_dump(), constraints=[c.model_dump() for c in CONSTRAINTS])
    table = analyse_thresholds(make_rows(y, s, w, replicates=0), spec).tables["thresholds"]
    rtol = 1e-12 if weighted else 0.0
    for name, rule in [("cost_optimal", "cost"), *((c.label, c) for c in CONSTRAINTS)]:
        t, ref = brute_force(y, s, w, rule, costs, rtol)
        got = point(table, name)
        assert t is not None
        assert got["threshold"].iloc[0] == t, name
        for k, v in ref.items():
            assert got.loc[k, "value"] == pytest.approx(v, rel=1e-12, nan_ok=True), (name, k)


def test_ties_go_to_the_higher_threshold():
    # costs fp = fn: thresholds 0.4 (one false positive) and 0.8 (one false negative) tie
    y = np.array([0, 1, 0, 1])
    s = np.array([0.2, 0.4, 0.6, 0.8])
    spec = spec_of(costs={"fp": 1, "fn": 1})
    table = analyse_thresholds(make_rows(y, s, replicates=0), spec).tables["thresholds"]
    cost = point(table, "cost_optimal")
    assert cost["threshold"].iloc[0] == 0.8
    assert cost.loc["cost", "value"] == 0.25
    assert brute_force(y, s, None, "cost", ThresholdCosts(fp=1, fn=1))[0] == 0.8
    # weighted: 0.3 (all predicted positive: one negative of weight 0.3) against 0.1 + 0.2 =
    # 0.30000000000000004 (nothing but the top row: two positives missed) is a tie in exact
    # arithmetic, so the higher threshold wins
    y, s, w = np.array([1, 1, 0, 1]), np.array([0.2, 0.3, 0.5, 0.9]), np.array([0.1, 0.2, 0.3, 1.0])
    table = analyse_thresholds(make_rows(y, s, w, replicates=0), spec).tables["thresholds"]
    assert point(table, "cost_optimal")["threshold"].iloc[0] == 0.9


def test_quantile_candidates_get_close_to_the_exact_optimum():
    rng = np.random.default_rng(5)
    n = 30_000
    y, s = beta_sample(rng, n)  # continuous: ~30000 distinct scores, above MAX_CANDIDATES
    costs = ThresholdCosts(fp=1.0, fn=4.0)
    con = ThresholdConstraint(metric="recall", min=0.9, optimize="precision")
    spec = spec_of(costs=costs.model_dump(), constraints=[con.model_dump()])
    table = analyse_thresholds(make_rows(y, s, replicates=0), spec).tables["thresholds"]
    # exact optimum, written differently: sorted scores and searchsorted counts per threshold
    order = np.sort(np.unique(s))
    pos, neg = np.sort(s[y == 1]), np.sort(s[y == 0])
    tp = pos.size - np.searchsorted(pos, order, side="left")
    fp = neg.size - np.searchsorted(neg, order, side="left")
    exact_cost = (costs.fp * fp + costs.fn * (pos.size - tp)) / n
    exact_prec = np.where(tp / pos.size >= 0.9, tp / np.maximum(tp + fp, 1), -1).max()
    got = point(table, "cost_optimal")
    note = got["note"].iloc[0]
    assert f"{MAX_CANDIDATES} score quantiles of {np.unique(s).size} distinct scores" in note
    share = float(re.search(r"at most ([\d.]+)% of rows", note).group(1)) / 100
    assert share <= 2.0 / MAX_CANDIDATES
    # moving the threshold across one gap between candidates changes the cost by at most
    # share * the largest per-row cost difference (fn - tp or fp - tn)
    tol = share * max(costs.fn - costs.tp, costs.fp - costs.tn)
    assert exact_cost.min() <= got.loc["cost", "value"] <= exact_cost.min() + tol
    c = point(table, con.label)
    assert c.loc["recall", "value"] >= 0.9
    assert exact_prec - 0.005 <= c.loc["precision", "value"] <= exact_prec


# ---- 3. uncertainty of a threshold chosen on the eval set ---------------------------------

PI = 0.3


def population(t, costs=None):
    """Population metrics of ``round(score, 3) >= t`` for Beta(3, 2) positives, Beta(2, 3)
    negatives and prevalence PI (t on the 0.001 grid, so the rounding boundary is t - 0.0005)."""
    r = stats.beta(3, 2).sf(t - 0.0005)
    f = stats.beta(2, 3).sf(t - 0.0005)
    out = {"recall": r, "fpr": f, "precision": PI * r / (PI * r + (1 - PI) * f)}
    if costs is not None:
        out["cost"] = costs.fp * (1 - PI) * f + costs.fn * PI * (1 - r)
    return out


def _covers(row, truth):
    return bool(row["ci_low"] <= truth <= row["ci_high"])


def test_rechosen_constraint_interval_covers_population_value_at_chosen_threshold():
    """Many eval sets of 2000 rows: the interval at the re-chosen 'precision >= 0.8' threshold
    covers the population precision and recall at the threshold chosen on that sample."""
    rng = np.random.default_rng(11)
    con = ThresholdConstraint(metric="precision", min=0.8, optimize="recall")
    spec = spec_of(constraints=[con.model_dump()])
    hits = {"precision": [], "recall": []}
    spread = []
    for i in range(150):
        y, s = beta_sample(rng, 2000, PI, digits=3)
        table = analyse_thresholds(make_rows(y, s, replicates=200, seed=(i,)), spec).tables["thresholds"]
        got = point(table, con.label)
        t = got["threshold"].iloc[0]
        truth = population(t)
        for k in hits:
            hits[k].append(_covers(got.loc[k], truth[k]))
        spread.append(got["threshold_high"].iloc[0] - got["threshold_low"].iloc[0])
    for k, h in hits.items():
        assert 0.88 <= np.mean(h) <= 0.995, (k, np.mean(h))
    assert np.mean(np.array(spread) > 0) > 0.95  # re-chosen thresholds vary between replicates


def test_rechosen_cost_interval_covers_where_a_fixed_threshold_interval_does_not():
    """The expected cost at the cost-optimal threshold is optimistic (a minimum over noisy
    costs): the t interval that treats the threshold as fixed covers the population cost less
    often; the re-chosen bootstrap interval stays near the nominal 95%."""
    rng = np.random.default_rng(12)
    costs = ThresholdCosts(fp=1.0, fn=5.0)
    spec = spec_of(costs=costs.model_dump())
    ours, naive, width_ours, width_naive = [], [], [], []
    for i in range(200):
        y, s = beta_sample(rng, 400, PI, digits=3)
        table = analyse_thresholds(make_rows(y, s, replicates=200, seed=(i,)), spec).tables["thresholds"]
        got = point(table, "cost_optimal")
        t = got["threshold"].iloc[0]
        truth = population(t, costs)["cost"]
        ours.append(_covers(got.loc["cost"], truth))
        pred = s >= t
        row_cost = np.where(pred & (y == 0), costs.fp, 0.0) + np.where(~pred & (y == 1), costs.fn, 0.0)
        lo, hi = stats.t.interval(0.95, y.size - 1, row_cost.mean(), stats.sem(row_cost))
        naive.append(lo <= truth <= hi)
        width_ours.append(got.loc["cost", "ci_high"] - got.loc["cost", "ci_low"])
        width_naive.append(hi - lo)
    assert 0.88 <= np.mean(ours) <= 0.99, np.mean(ours)
    assert np.mean(naive) <= np.mean(ours) - 0.05, (np.mean(naive), np.mean(ours))
    assert np.mean(width_naive) < np.mean(width_ours)


def test_holdout_interval_covers_population_value_at_threshold_chosen_on_half_a():
    rng = np.random.default_rng(13)
    con = ThresholdConstraint(metric="recall", min=0.9, optimize="precision")
    spec = spec_of(constraints=[con.model_dump()], selection="holdout")
    hits = {"precision": [], "recall": [], "fpr": []}
    for i in range(200):  # few replicates: they only give the threshold's interval here
        y, s = beta_sample(rng, 2000, PI, digits=3)
        table = analyse_thresholds(make_rows(y, s, replicates=20, seed=(i,)), spec).tables["thresholds"]
        got = point(table, con.label)
        truth = population(got["threshold"].iloc[0])
        for k in hits:
            hits[k].append(_covers(got.loc[k], truth[k]))
    for k, h in hits.items():
        assert 0.88 <= np.mean(h) <= 0.99, (k, np.mean(h))


def test_holdout_measures_on_half_b_with_wilson():
    rng = np.random.default_rng(14)
    y, s = beta_sample(rng, 1000, digits=3)
    con = ThresholdConstraint(metric="recall", min=0.8, optimize="precision")
    out = analyse_thresholds(make_rows(y, s), spec_of(constraints=[con.model_dump()], selection="holdout"))
    got = point(out.tables["thresholds"], con.label)
    sizes = re.search(r"half A \((\d+) rows\), measured on half B \((\d+) rows\)", got["note"].iloc[0])
    n_a, n_b = int(sizes.group(1)), int(sizes.group(2))
    assert n_a + n_b == y.size and min(n_a, n_b) > 400
    assert got.loc["selection_rate", "n"] == n_b
    assert got.loc["recall", "method"] == "wilson on half B, threshold chosen on half A"
    assert got["threshold_low"].iloc[0] < got["threshold"].iloc[0] <= got["threshold_high"].iloc[0] + 0.05
    # half B is the analysis's seeded split of the row keys; its numbers, recomputed there
    from assay.analysis._thresholds_stats import holdout_half
    from assay.analysis.thresholds import _SALT, _SPLIT

    b = ~holdout_half(np.arange(y.size, dtype=np.uint64), [0, _SALT, _SPLIT])
    assert b.sum() == n_b
    tp, fp, fn, tn = sk_counts(y[b], s[b], got["threshold"].iloc[0])
    lo, hi = proportion_confint(tp, tp + fn, alpha=0.05, method="wilson")
    assert got.loc["recall", "value"] == pytest.approx(tp / (tp + fn), rel=1e-12)
    assert (got.loc["recall", "ci_low"], got.loc["recall", "ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert got.loc["selection_rate", "value"] == pytest.approx((tp + fp) / n_b, rel=1e-12)


def test_rechosen_interval_contains_the_fixed_threshold_interval():
    """The re-chosen interval is never narrower than the Wilson interval at the chosen
    threshold taken as fixed (it adds the uncertainty of the choice)."""
    rng = np.random.default_rng(18)
    y, s = beta_sample(rng, 300, digits=3)
    con = ThresholdConstraint(metric="precision", min=0.85, optimize="recall")
    table = analyse_thresholds(make_rows(y, s), spec_of(constraints=[con.model_dump()])).tables["thresholds"]
    got = point(table, con.label)
    tp, fp, fn, tn = sk_counts(y, s, got["threshold"].iloc[0])
    for k, (count, nobs) in {"precision": (tp, tp + fp), "recall": (tp, tp + fn)}.items():
        lo, hi = proportion_confint(count, nobs, alpha=0.05, method="wilson")
        assert got.loc[k, "ci_low"] <= lo + 1e-12 and got.loc[k, "ci_high"] >= hi - 1e-12
        assert got.loc[k, "method"] == ("bootstrap, threshold re-chosen in each of 200 replicates "
                                        "(optimism-corrected, hull with wilson)")
        assert got.loc[k, "n"] == nobs


def test_weighted_replicates_are_keyed_poisson_row_weights():
    from assay.analysis._thresholds_stats import replicate_blocks
    from assay.engine._replicates import keyed_multipliers

    rng = np.random.default_rng(19)
    n, size, reps = 5000, 7, 130  # more rows than one block of multipliers
    y = rng.integers(0, 2, n)
    cells = rng.integers(0, size, n)
    w = rng.exponential(size=n)
    w[:100] = 0.0
    key = rng.integers(0, 1 << 62, n).astype(np.uint64)
    got = list(replicate_blocks(y, cells, size, w, key, reps, [5, 6]))
    pos = np.concatenate([g[0] for g in got])
    neg = np.concatenate([g[1] for g in got])
    m = keyed_multipliers(key, reps, (5, 6))  # (rows, replicates), dense
    for c in range(size):
        np.testing.assert_allclose(pos[:, c], ((y == 1) & (cells == c)) * w @ m, rtol=1e-12)
        np.testing.assert_allclose(neg[:, c], ((y == 0) & (cells == c)) * w @ m, rtol=1e-12)


# ---- 4. the chosen point's Wilson bounds --------------------------------------------------


def test_chosen_point_wilson_equals_statsmodels():
    rng = np.random.default_rng(6)
    y, s = beta_sample(rng, 500)
    rows = make_rows(y, s, threshold=0.55, confidence=0.9)
    table = analyse_thresholds(rows, spec_of()).tables["thresholds"]
    got = point(table, "chosen")
    tp, fp, fn, tn = sk_counts(y, s, 0.55)
    cases = {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "specificity": (tn, tn + fp),
             "fpr": (fp, fp + tn), "fnr": (fn, fn + tp), "selection_rate": (tp + fp, y.size),
             "accuracy": (tp + tn, y.size)}
    for k, (count, nobs) in cases.items():
        lo, hi = proportion_confint(count, nobs, alpha=0.1, method="wilson")
        assert got.loc[k, "value"] == pytest.approx(count / nobs, rel=1e-12)
        assert (got.loc[k, "ci_low"], got.loc[k, "ci_high"]) == pytest.approx((lo, hi), rel=1e-9), k
        assert got.loc[k, "n"] == nobs and got.loc[k, "method"] == "wilson"
    lo, hi = proportion_confint(tp, tp + fp + fn, alpha=0.1, method="wilson")  # Jaccard -> F1
    assert got.loc["f1", "value"] == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-12)
    assert (got.loc["f1", "ci_low"], got.loc["f1", "ci_high"]) == pytest.approx(
        (2 * lo / (1 + lo), 2 * hi / (1 + hi)), rel=1e-9)
    assert got["threshold"].unique().tolist() == [0.55] and got["threshold_low"].isna().all()


def test_chosen_point_weighted_uses_kish_effective_size():
    rng = np.random.default_rng(7)
    y, s = beta_sample(rng, 500)
    w = rng.exponential(size=y.size)
    table = analyse_thresholds(make_rows(y, s, w), spec_of()).tables["thresholds"]
    got = point(table, "chosen")
    pred = s >= 0.5
    den = y == 1
    p = w[den & pred].sum() / w[den].sum()
    n_eff = w[den].sum() ** 2 / (w[den] ** 2).sum()
    lo, hi = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    assert got.loc["recall", "value"] == pytest.approx(p, rel=1e-12)
    assert (got.loc["recall", "ci_low"], got.loc["recall", "ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert got.loc["recall", "method"] == "wilson (Kish effective n)"
    assert got.loc["recall", "n"] == den.sum()


# ---- 5. edge cases, invariances, determinism -----------------------------------------------


def test_one_class_only_says_what_is_undefined():
    rng = np.random.default_rng(8)
    s = rng.uniform(size=300)
    y = np.zeros(300)
    con = ThresholdConstraint(metric="recall", min=0.5, optimize="precision")
    spec = spec_of(costs={"fp": 1, "fn": 1}, constraints=[con.model_dump()])
    table = analyse_thresholds(make_rows(y, s), spec).tables["thresholds"]
    chosen = point(table, "chosen")
    for k in ("recall", "fnr"):
        assert chosen.loc[k, "status"] == "undefined" and "no positive labels" in chosen.loc[k, "note"]
    assert chosen.loc["specificity", "status"] == "ok"
    c = point(table, con.label)
    assert (c["status"] == "undefined").all() and c["threshold"].isna().all()
    assert "recall is undefined at every candidate threshold" in c["note"].iloc[0]
    cost = point(table, "cost_optimal")  # with only negatives, predicting nothing costs 0
    assert cost.loc["cost", "value"] == 0.0 and cost["threshold"].iloc[0] > s.max()
    assert cost.loc["recall", "status"] == "undefined"
    assert cost.loc["precision", "status"] == "undefined"  # nothing predicted positive


def test_all_scores_equal():
    y = np.array([0, 1] * 50)
    s = np.full(100, 0.3)
    spec = spec_of(costs={"fp": 1, "fn": 2}, constraints=[{"metric": "recall", "min": 0.5}])
    out = analyse_thresholds(make_rows(y, s), spec)
    table = out.tables["thresholds"]
    cost = point(table, "cost_optimal")
    assert cost["threshold"].iloc[0] == 0.3 and cost.loc["cost", "value"] == 0.5  # all positive
    rec = point(table, "recall >= 0.5, best precision")
    assert rec.loc["recall", "value"] == 1.0 and rec.loc["precision", "value"] == 0.5
    assert point(table, "chosen").loc["selection_rate", "value"] == 0.0  # 0.3 < 0.5
    assert (table["status"] != "undefined").sum() > 0


def test_unreachable_constraint_reports_best_achievable():
    rng = np.random.default_rng(9)
    y, s = beta_sample(rng, 400, digits=2)
    s[y == 0] = np.maximum(s[y == 0], s.max())  # a negative holds the top score: precision < 1
    con = ThresholdConstraint(metric="precision", min=0.999, optimize="recall")
    table = analyse_thresholds(make_rows(y, s), spec_of(constraints=[con.model_dump()])).tables["thresholds"]
    got = point(table, con.label)
    assert (got["status"] == "undefined").all() and got["value"].isna().all()
    _, best = brute_force(y, s, None, con)
    note = got["note"].iloc[0]
    assert "no candidate threshold meets precision >= 0.999" in note
    assert float(re.search(r"highest achievable precision is ([\d.]+)", note).group(1)) == pytest.approx(
        best, abs=1e-6)


def test_zero_weights_change_nothing_but_the_row_counts():
    rng = np.random.default_rng(10)
    y, s = beta_sample(rng, 600, digits=3)
    w = rng.exponential(size=y.size)
    zero = (rng.uniform(size=y.size) < 0.2) & (s > 0.2) & (s < 0.8)
    w[zero] = 0.0
    spec = spec_of(costs={"fp": 1, "fn": 3}, constraints=[{"metric": "recall", "min": 0.8}])
    full = analyse_thresholds(make_rows(y, s, w), spec).tables["thresholds"]
    keep = ~zero
    key = np.arange(y.size, dtype=np.uint64)[keep]
    dropped = analyse_thresholds(make_rows(y[keep], s[keep], w[keep], key=key), spec).tables["thresholds"]
    cols = ["threshold", "threshold_low", "threshold_high", "value", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(full[cols], dropped[cols], rtol=1e-12)
    assert (full["n"] >= dropped["n"]).all() and (full["n"] > dropped["n"]).any()


def test_all_ones_weights_equal_no_weights_and_row_order_does_not_matter():
    rng = np.random.default_rng(15)
    y, s = beta_sample(rng, 500, digits=2)
    spec = spec_of(costs={"fp": 1, "fn": 2}, constraints=[{"metric": "precision", "min": 0.6,
                                                            "optimize": "recall"}])
    plain = analyse_thresholds(make_rows(y, s), spec).tables["thresholds"]
    ones = analyse_thresholds(make_rows(y, s, np.ones(y.size)), spec).tables["thresholds"]
    pd.testing.assert_frame_equal(plain[["point", "metric", "threshold", "value", "n"]],
                                  ones[["point", "metric", "threshold", "value", "n"]])
    perm = rng.permutation(y.size)
    key = np.arange(y.size, dtype=np.uint64)
    for w in (None, rng.exponential(size=y.size)):
        a = analyse_thresholds(make_rows(y, s, w, key=key), spec).tables["thresholds"]
        b = analyse_thresholds(make_rows(y[perm], s[perm], None if w is None else w[perm], key=key[perm]),
                               spec).tables["thresholds"]
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_no_intervals_when_replicates_is_zero():
    rng = np.random.default_rng(16)
    y, s = beta_sample(rng, 300, digits=2)
    spec = spec_of(costs={"fp": 1, "fn": 2}, constraints=[{"metric": "recall", "min": 0.7}])
    for selection in ("bootstrap", "holdout"):
        spec = spec.model_copy(update={"selection": selection})
        none = analyse_thresholds(make_rows(y, s, replicates=0), spec).tables["thresholds"]
        some = analyse_thresholds(make_rows(y, s, replicates=100), spec).tables["thresholds"]
        assert none[["ci_low", "ci_high", "threshold_low", "threshold_high"]].isna().all().all()
        assert (none["method"] == NO_INTERVALS).all()
        pd.testing.assert_series_equal(none["value"], some["value"])
        pd.testing.assert_series_equal(none["threshold"], some["threshold"])
        assert some["ci_low"].notna().all()


def test_output_shape_and_determinism():
    rng = np.random.default_rng(17)
    y, s = beta_sample(rng, 800)
    w = rng.exponential(size=y.size)
    low_fpr = {"metric": "fpr", "max": 0.2, "optimize": "recall", "name": "low fpr"}
    spec = spec_of(costs={"fp": 1, "fn": 2}, points=21,
                   constraints=[{"metric": "recall", "min": 0.7}, low_fpr])
    a = analyse_thresholds(make_rows(y, s, w, seed=(3, 1)), spec)
    b = analyse_thresholds(make_rows(y, s, w, seed=(3, 1)), spec)
    c = analyse_thresholds(make_rows(y, s, w, seed=(4, 1)), spec)
    ta = a.tables["thresholds"]
    assert list(ta.columns) == COLUMNS and ta["n"].dtype == np.int64
    pd.testing.assert_frame_equal(ta, b.tables["thresholds"])
    assert a.charts == b.charts
    assert not ta["ci_low"].equals(c.tables["thresholds"]["ci_low"])  # the seed matters
    assert ta["point"].unique().tolist() == ["chosen", "cost_optimal", "recall >= 0.7, best precision",
                                             "low fpr"]
    assert set(ta["metric"]) == {"precision", "recall", "specificity", "fpr", "fnr", "f1",
                                 "selection_rate", "accuracy", "cost"}
    assert (ta["status"] == "ok").all()
    ok = ta.dropna(subset=["ci_low"])
    assert ((ok["ci_low"] <= ok["value"] + 1e-12) & (ok["value"] <= ok["ci_high"] + 1e-12)).all()
    pts = a.charts["points"]["m"]
    assert [p["point"] for p in pts] == ta["point"].unique().tolist()
    assert pts[0] == {"point": "chosen", "threshold": 0.5, "threshold_low": None, "threshold_high": None}
    assert all(p["threshold_low"] < p["threshold_high"] for p in pts[1:])
    assert len(a.charts["curve"]["m"]["threshold"]) == 21 and "cost" in a.charts["curve"]["m"]


def test_no_rows_and_zero_total_weight():
    spec = spec_of(costs={"fp": 1, "fn": 1}, constraints=[{"metric": "recall", "min": 0.5}])
    empty = analyse_thresholds(make_rows([], []), spec).tables["thresholds"]
    assert (empty["status"] == "undefined").all()
    zero = analyse_thresholds(make_rows([0, 1, 1], [0.2, 0.6, 0.9], [0.0, 0.0, 0.0]), spec)
    t = zero.tables["thresholds"]
    assert (t["status"] == "undefined").all()
    assert "total weight is 0" in point(t, "cost_optimal")["note"].iloc[0]


@pytest.mark.parametrize("change, match", [
    ({"task": "multiclass"}, "needs a binary task"),
    ({"s": [0.1, np.nan, 0.3]}, "not finite"),
    ({"y": [0, 2, 1]}, "coded 0/1"),
    ({"w": [1.0, -1.0, 1.0]}, "non-negative"),
    ({"w": [1.0, 1.0]}, "2 weights for 3 rows"),
])
def test_bad_input_is_named(change, match):
    args = {"y": [0, 1, 1], "s": [0.1, 0.2, 0.3], "w": None, "task": "binary"} | change
    rows = make_rows(args["y"], args["s"], args["w"], task=args["task"])
    with pytest.raises(InputError, match=match):
        analyse_thresholds(rows, spec_of())


def test_duplicate_point_names_are_rejected():
    spec = spec_of(constraints=[{"metric": "recall", "min": 0.5, "name": "a"},
                                {"metric": "recall", "min": 0.6, "name": "a"}])
    with pytest.raises(InputError, match="distinct 'name'"):
        analyse_thresholds(make_rows([0, 1], [0.2, 0.8]), spec)
