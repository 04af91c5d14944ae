"""Binary classification: values against scikit-learn, intervals against direct formulas.

Ranking metrics are computed from a fine score histogram: exact when each bin holds one
distinct score (scores on a grid), otherwise within the bound they report, which is
recomputed here from the histogram.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _references import (
    REFERENCES,
    Case,
    binary_case,
    ece_calibration_curve,
    ece_reference,
    evaluate_case,
)
from scipy import stats
from sklearn.metrics import f1_score

import assay
from assay._estimate import estimate
from assay.metrics import _ranking as rk

NAMES = [m.name for m in assay.all_metrics() if m.task == "binary"]
RANKING = [m.name for m in assay.all_metrics() if m.task == "binary" and m.ranking]
BOOTSTRAP = [m.name for m in assay.all_metrics() if m.task == "binary" and m.method == "bootstrap"]
PROPORTIONS = [m.name for m in assay.all_metrics()
               if m.task == "binary" and m.method == "wilson" and m.name != "f1"]
TOL = 1e-9
BINS = 65536
Z95 = stats.norm.ppf(0.975)


def run(case: Case, metrics: list[str] | None = None, **kw):
    kw.setdefault("replicates", 200)
    return estimate("binary", case.y, case.s, weights=case.w, metrics=metrics,
                    threshold=case.threshold, calibration_bins=case.calibration_bins, **kw)


def ref(name: str, case: Case) -> float:
    return REFERENCES[("binary", name)](case)


def bounds(case: Case, bins: int = BINS) -> dict[str, float]:
    """The ranking metrics' error bounds, recomputed from the histogram of the rows."""
    fine = np.minimum((case.s * bins).astype(np.int64), bins - 1)
    w = np.ones(case.y.size) if case.w is None else case.w
    p, q = case.y == 1, case.y == 0
    pos = np.bincount(fine[p], w[p], bins)
    neg = np.bincount(fine[q], w[q], bins)
    # the smallest positive weight in a bin: 1 for counts; with weights known only for a bin
    # that holds a single positive row
    unit = 1.0 if case.w is None else np.where(np.bincount(fine[p], minlength=bins) == 1, pos, 0)
    return {"roc_auc": rk.auc_bound(pos, neg), "pr_auc": rk.average_precision_bound(pos, neg, unit)}


def noted_bound(note: str) -> float:
    m = re.search(r"\|value - exact\| <= ([0-9.e+-]+)", note)
    assert m, note
    return float(m.group(1))


def undefined_expected(case: Case) -> set[str]:
    """Which metrics have no value on these rows, from their definitions."""
    w = np.ones(case.y.size) if case.w is None else case.w
    pos, neg, pp = w[case.y == 1].sum(), w[case.y == 0].sum(), w[case.pred == 1].sum()
    out = set()
    if pos == 0:
        out |= {"recall", "roc_auc", "pr_auc", "balanced_accuracy", "mcc"}
    if neg == 0:
        out |= {"specificity", "roc_auc", "balanced_accuracy", "mcc"}
    if pp == 0:
        out.add("precision")
    if pos == 0 and pp == 0:
        out.add("f1")
    return out


def assert_interval_shape(name: str, e) -> None:
    assert math.isnan(e.low) == math.isnan(e.high), (name, e)
    if not math.isnan(e.low):
        assert e.low <= e.high, (name, e)


# ---- values ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [40, 2000])
@pytest.mark.parametrize("decimals", [2, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_metric_matches_sklearn_on_grid_scores(weighted, decimals, n):
    case = binary_case(np.random.default_rng([1, decimals, n]), n, decimals=decimals,
                       weighted=weighted)
    got = run(case)
    assert set(got) == set(NAMES)
    for name in NAMES:
        assert got[name].status == "ok", (name, got[name].note)
        assert got[name].value == pytest.approx(ref(name, case), rel=TOL, abs=TOL), name


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_continuous_scores_exact_or_within_the_stated_bound(weighted):
    case = binary_case(np.random.default_rng(2), 2000, weighted=weighted)
    got = run(case)
    b = bounds(case)
    for name in NAMES:
        exact = ref(name, case)
        if name in RANKING:
            assert abs(got[name].value - exact) <= b[name] + 1e-12, name
            assert 0 < b[name] < 1e-3, (name, b[name])
            assert noted_bound(got[name].note) == float(f"{b[name]:.2g}"), got[name].note
            assert got[name].value != exact  # the bound is the subject: values are binned
        else:
            assert got[name].value == pytest.approx(exact, rel=TOL, abs=TOL), name


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_ranking_bound_holds_when_bins_are_crowded(weighted):
    """Scores in three tight clusters and only 64 bins: many rows share a bin."""
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(150):
        n = int(rng.integers(4, 60))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = np.clip(rng.choice(rng.random(3), n) + rng.random(n) * 1e-3, 0, 1)
        w = (rng.exponential(1, n) if rng.random() < 0.5 else rng.integers(1, 4, n) * 1.0) \
            if weighted else None
        case = Case("binary", y, s, w)
        got = run(case, RANKING, score_bins=64)
        b = bounds(case, bins=64)
        for name in RANKING:
            err = abs(got[name].value - ref(name, case))
            assert err <= b[name] + 1e-12, (name, err, b[name])
            worst = max(worst, err)
    assert worst > 1e-3  # the case is hard: binning does change the values


@pytest.mark.parametrize("threshold", [0.3, 0.7])
def test_threshold_and_scores_equal_to_it(threshold):
    case = binary_case(np.random.default_rng(4), 500, decimals=1)
    case.threshold = threshold
    assert (case.s == threshold).sum() > 10  # ties at the threshold count as positive
    got = run(case)
    for name in NAMES:
        assert got[name].value == pytest.approx(ref(name, case), rel=TOL, abs=TOL), name


# ---- edge cases ---------------------------------------------------------------------------


def _edge_cases() -> dict[str, Case]:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    y[:2] = [0, 1]
    s = np.round(rng.random(60), 1)
    return {
        "ties": Case("binary", y, s),
        "constant_below_threshold": Case("binary", y, np.full(60, 0.3)),
        "constant_above_threshold": Case("binary", y, np.full(60, 0.7)),
        "all_positive": Case("binary", np.ones(25, np.int64), s[:25]),
        "all_negative": Case("binary", np.zeros(25, np.int64), s[:25]),
        "one_row": Case("binary", np.array([1]), np.array([0.4])),
        "two_rows": Case("binary", np.array([0, 1]), np.array([0.8, 0.2])),
        "three_rows_perfect": Case("binary", np.array([0, 1, 1]), np.array([0.1, 0.9, 0.6])),
        "scores_0_and_1": Case("binary", np.array([0, 1, 0, 1, 1]), np.array([0., 1., 1., 0., 1.])),
    }


EDGE = _edge_cases()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(EDGE))
def test_edge_cases_match_sklearn_or_are_undefined_with_a_reason(name, weighted):
    case = EDGE[name]
    if weighted:
        case = Case("binary", case.y, case.s, np.random.default_rng(6).exponential(1, case.y.size))
    got = run(case)
    undefined = undefined_expected(case)
    for metric in NAMES:
        e = got[metric]
        assert_interval_shape(metric, e)
        if metric in undefined:
            assert e.status == "undefined" and math.isnan(e.value), (metric, e)
            assert e.note, metric
        else:
            assert e.status == "ok", (metric, e.note)
            assert e.value == pytest.approx(ref(metric, case), rel=TOL, abs=TOL), metric


def test_constant_predictions_mcc_is_zero_with_a_note():
    e = run(EDGE["constant_above_threshold"], ["mcc"])["mcc"]
    assert e.value == 0.0 and "constant predictions" in e.note


def test_one_class_slices_in_an_evaluation():
    rng = np.random.default_rng(7)
    case = binary_case(rng, 300, decimals=3)
    groups = np.array(["mixed"] * 280 + ["pos"] * 10 + ["neg"] * 10)
    case.y[280:290], case.y[290:] = 1, 0
    t = evaluate_case(case, groups).table.set_index(["slice", "metric"])
    for sl, metric, reason in [("g=pos", "roc_auc", "only one class"),
                               ("g=pos", "specificity", "no negative labels"),
                               ("g=pos", "balanced_accuracy", "only one class"),
                               ("g=neg", "roc_auc", "only one class"),
                               ("g=neg", "pr_auc", "no positive labels"),
                               ("g=neg", "recall", "no positive labels"),
                               ("g=neg", "mcc", "only one class")]:
        row = t.loc[(sl, metric)]
        assert row.status == "undefined" and math.isnan(row.value), (sl, metric)
        assert reason in row.note, (sl, metric, row.note)
        assert math.isnan(row.gap)
    pos = case.take(np.arange(280, 290))
    for metric in ("recall", "pr_auc", "accuracy", "log_loss", "ece"):
        assert t.loc[("g=pos", metric)].value == pytest.approx(ref(metric, pos), abs=TOL)


# ---- calibration --------------------------------------------------------------------------


def test_ece_by_hand():
    # one bin [1/15, 2/15): 10 rows scored 0.1, 3 positive -> |3 - 1.0| / 10
    case = Case("binary", np.array([1, 1, 1] + [0] * 7), np.full(10, 0.1))
    assert run(case, ["ece"])["ece"].value == pytest.approx(0.2, abs=1e-15)


def test_ece_matches_calibration_curve():
    case = binary_case(np.random.default_rng(8), 2000)
    inner_edges = np.arange(1, 15) / 15  # calibration_curve puts an edge score in the lower bin
    assert np.abs(case.s[:, None] - inner_edges[None, :]).min() > 1e-9
    got = run(case, ["ece"])["ece"]
    assert got.value == pytest.approx(ece_calibration_curve(case.y, case.s), abs=1e-12)
    assert "15 equal-width bins" in got.note


@pytest.mark.parametrize("bins", [5, 10, 40])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_ece_with_other_bin_counts(bins, weighted):
    case = binary_case(np.random.default_rng([9, bins]), 1000, decimals=2, weighted=weighted)
    case.calibration_bins = bins
    assert run(case, ["ece"])["ece"].value == pytest.approx(
        ece_reference(case.y, case.s, case.w, bins), abs=1e-12)


# ---- intervals ----------------------------------------------------------------------------


def _counts(case: Case, name: str) -> tuple[int, int]:
    y, p = case.y, case.pred
    num, den = {
        "accuracy": (y == p, np.ones_like(y, bool)),
        "precision": ((y == 1) & (p == 1), p == 1),
        "recall": ((y == 1) & (p == 1), y == 1),
        "specificity": ((y == 0) & (p == 0), y == 0),
        "positive_rate": (p == 1, np.ones_like(y, bool)),
        "prevalence": (y == 1, np.ones_like(y, bool)),
    }[name]
    return int((num & den).sum()), int(den.sum())


@pytest.mark.parametrize("confidence", [0.9, 0.95])
@pytest.mark.parametrize("n", [12, 300])
@pytest.mark.parametrize("name", PROPORTIONS)
def test_wilson_interval_matches_scipy(name, n, confidence):
    case = binary_case(np.random.default_rng([10, n]), n)
    e = run(case, [name], confidence=confidence)[name]
    k, m = _counts(case, name)
    ci = stats.binomtest(k, m).proportion_ci(confidence_level=confidence, method="wilson")
    assert e.method == "wilson"
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high), abs=1e-12)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
@pytest.mark.parametrize("n", [12, 300, 2000])
def test_f1_interval_is_wilson_on_the_jaccard_index(n, confidence):
    """F1 = 2J / (1 + J) with J = TP / (TP + FP + FN): given TP + FP + FN, TP is binomial(J),
    so F1's interval is the Wilson interval of J mapped through that monotone function."""
    case = binary_case(np.random.default_rng([12, n]), n)
    e = run(case, ["f1"], confidence=confidence)["f1"]
    y, p = case.y, case.pred
    tp = int(((y == 1) & (p == 1)).sum())
    m = tp + int(((y == 0) & (p == 1)).sum()) + int(((y == 1) & (p == 0)).sum())
    ci = stats.binomtest(tp, m).proportion_ci(confidence_level=confidence, method="wilson")
    assert e.method == "wilson on jaccard"
    assert (e.low, e.high) == pytest.approx((2 * ci.low / (1 + ci.low), 2 * ci.high / (1 + ci.high)),
                                            abs=1e-12)
    assert e.value == pytest.approx(f1_score(y, p), abs=1e-12)


def test_f1_interval_with_no_true_positive_is_not_degenerate():
    """A bootstrap of the cells keeps an empty TP cell empty and reports [0, 0]; the Jaccard
    interval does not."""
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    s = np.array([0.2, 0.3, 0.7, 0.1, 0.1, 0.2, 0.3, 0.4])
    e = run(Case("binary", y, s), ["f1"])["f1"]
    assert e.value == 0 and e.low == 0 and e.high > 0.2


@pytest.mark.parametrize("k,n", [(0, 7), (7, 7), (1, 1)])
def test_wilson_interval_at_the_boundaries(k, n):
    case = Case("binary", np.array([1] * k + [0] * (n - k)), np.full(n, 0.9))
    e = run(case, ["prevalence"])["prevalence"]
    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert e.low <= e.value <= e.high  # exactly 0 at p = 0 and 1 at p = 1


def test_weighted_wilson_uses_kish_effective_size():
    case = binary_case(np.random.default_rng(11), 400, weighted=True)
    e = run(case, ["accuracy"])["accuracy"]
    w = case.w
    p = np.average(case.y == case.pred, weights=w)
    n_eff = w.sum() ** 2 / (w * w).sum()
    centre = (p + Z95**2 / (2 * n_eff)) / (1 + Z95**2 / n_eff)
    half = Z95 * math.sqrt(p * (1 - p) / n_eff + Z95**2 / (4 * n_eff**2)) / (1 + Z95**2 / n_eff)
    assert (e.low, e.high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert "Kish" in e.method


def delong_brute_force(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's standard error from the O(n^2) matrix of pair comparisons."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = math.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    return float(psi.mean()), se


@pytest.mark.parametrize("decimals", [None, 1], ids=["no_ties", "ties"])
@pytest.mark.parametrize("n", [30, 200])
def test_delong_standard_error_matches_brute_force(n, decimals):
    rng = np.random.default_rng([12, n])
    s = (rng.choice(10_000, n, replace=False) + 0.5) / 10_000  # distinct, one per bin
    y = (rng.random(n) < s).astype(np.int64)
    y[:2] = [0, 1]
    if decimals:
        s = np.round(s, decimals)
    assert (np.unique(s).size == n) == (decimals is None)
    e = run(Case("binary", y, s), ["roc_auc"])["roc_auc"]
    auc, se = delong_brute_force(y, s)
    assert e.value == pytest.approx(auc, abs=1e-12)
    assert e.se == pytest.approx(se, rel=1e-10)
    # the interval is built on the logit scale: logit(AUC) +- z * se / (AUC (1 - AUC))
    half = Z95 * se / (auc * (1 - auc))
    logit = math.log(auc / (1 - auc))
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert (e.low, e.high) == pytest.approx((expit(logit - half), expit(logit + half)), abs=1e-12)
    assert e.method == "delong (logit)"


@pytest.mark.parametrize("name", ["log_loss", "brier_score"])
def test_loss_t_interval_matches_scipy(name):
    case = binary_case(np.random.default_rng(13), 300, decimals=2)
    e = run(case, [name])[name]
    sc = np.clip(case.s, np.finfo(float).eps, 1 - np.finfo(float).eps)
    loss = (-np.where(case.y == 1, np.log(sc), np.log(1 - sc)) if name == "log_loss"
            else (case.s - case.y) ** 2)
    low, high = stats.t.interval(0.95, loss.size - 1, loc=loss.mean(), scale=stats.sem(loss))
    assert e.method == "t"
    assert (e.low, e.high) == pytest.approx((max(0.0, low), high), rel=1e-10)


def test_loss_interval_is_absent_not_half_for_one_row():
    e = run(EDGE["one_row"], ["log_loss", "brier_score"])
    for name in ("log_loss", "brier_score"):
        assert math.isnan(e[name].low) and math.isnan(e[name].high), e[name]


def test_gap_interval_for_a_proportion_is_newcombe():
    rng = np.random.default_rng(14)
    case = binary_case(rng, 600)
    groups = np.where(rng.random(600) < 0.3, "a", "b")
    row = evaluate_case(case, groups, metrics=["accuracy"]).row("accuracy", slice="g=a")
    ins, out = case.take(np.flatnonzero(groups == "a")), case.take(np.flatnonzero(groups == "b"))
    (k1, n1), (k2, n2) = _counts(ins, "accuracy"), _counts(out, "accuracy")
    c1 = stats.binomtest(k1, n1).proportion_ci(method="wilson")
    c2 = stats.binomtest(k2, n2).proportion_ci(method="wilson")
    p1, p2 = k1 / n1, k2 / n2
    low = p1 - p2 - math.hypot(p1 - c1.low, c2.high - p2)
    high = p1 - p2 + math.hypot(c1.high - p1, p2 - c2.low)
    assert (row["gap"], row["gap_low"], row["gap_high"]) == pytest.approx(
        (p1 - p2, low, high), abs=1e-12)


# ---- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(15)
    case = binary_case(rng, 800, decimals=3)
    groups = np.where(rng.random(800) < 0.4, "a", "b")
    t0 = evaluate_case(case, groups, seed=0).table
    again = evaluate_case(case, groups, seed=0).table
    other = evaluate_case(case, groups, seed=1).table
    cols = ["value", "ci_low", "ci_high", "gap", "gap_low", "gap_high"]
    np.testing.assert_array_equal(t0[cols].to_numpy(), again[cols].to_numpy())
    assert (t0.method == again.method).all()
    boot = t0.method.str.contains("bootstrap")
    assert set(t0.metric[boot]) == set(BOOTSTRAP)
    np.testing.assert_array_equal(t0.value, other.value)
    assert (t0.ci_low[boot] != other.ci_low[boot]).all()
    np.testing.assert_array_equal(t0[~boot][cols].to_numpy(), other[~boot][cols].to_numpy())


def _from_confusion(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return {"f1": 2 * tp / (2 * tp + fp + fn), "mcc": mcc,
                "balanced_accuracy": 0.5 * (tp / (tp + fn) + tn / (tn + fp))}


def _row_bootstrap(case: Case, reps: int, seed: int) -> dict[str, np.ndarray]:
    """Replicates of every bootstrap metric from resampled rows (weighted: resampled rows
    keep their weights)."""
    rng = np.random.default_rng(seed)
    n = case.y.size
    w = np.ones(n) if case.w is None else case.w
    idx = rng.integers(0, n, size=(reps, n))
    cell = 2 * case.y + case.pred  # 0 tn, 1 fp, 2 fn, 3 tp
    counts = np.stack([np.bincount(cell[i], w[i], 4) for i in idx])
    out = _from_confusion(counts[:, 3], counts[:, 1], counts[:, 2], counts[:, 0])
    out["ece"] = np.array([ece_reference(case.y[i], case.s[i], w[i]) for i in idx])
    out["pr_auc"] = np.array([ref("pr_auc", Case("binary", case.y[i], case.s[i], w[i]))
                              for i in idx[:300]])
    return out


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_bootstrap_standard_error_matches_the_row_bootstrap(weighted):
    case = binary_case(np.random.default_rng(16), 2000, weighted=weighted)
    got = run(case, [*BOOTSTRAP, "f1"], replicates=1000)
    rows = _row_bootstrap(case, 1000, seed=17)
    assert set(rows) == {*BOOTSTRAP, "f1"}
    for name in [*BOOTSTRAP, "f1"]:  # f1: the delta-method SE of its Jaccard interval
        se = float(np.std(rows[name], ddof=1))
        assert got[name].se == pytest.approx(se, rel=0.15), name
        assert got[name].low < got[name].value < got[name].high, name


@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_bootstrap_interval_is_the_percentile_interval_of_its_replicates(weighted, confidence):
    case = binary_case(np.random.default_rng(18), 500, decimals=3, weighted=weighted)
    got = run(case, BOOTSTRAP, confidence=confidence)
    alpha = 1 - confidence
    for name in BOOTSTRAP:
        e = got[name]
        reps = e.replicates[np.isfinite(e.replicates)]
        assert reps.size == e.replicates.size == 200, name
        low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        if name == "ece":  # basic bootstrap: reflects ECE's upward bias back
            low, high = max(0.0, 2 * e.value - high), 2 * e.value - low
            assert e.method.startswith("basic ")
        assert (e.low, e.high) == pytest.approx((low, high), abs=1e-15), name
        assert e.se == pytest.approx(np.std(reps, ddof=1), abs=1e-15)
