"""Multiclass classification: values against scikit-learn, intervals against direct formulas.

Averaged precision/recall/F1 are compared with scikit-learn given ``labels`` = all declared
classes and ``zero_division=0``: a class absent from a slice still counts in the macro
average (as 0), so slices of one evaluation average over the same classes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _references import REFERENCES, Case, evaluate_case, multiclass_case
from scipy import stats

import assay
from assay._estimate import estimate
from assay.metrics import _ranking as rk

NAMES = [m.name for m in assay.all_metrics() if m.task == "multiclass"]
BOOTSTRAP = [m.name for m in assay.all_metrics()
             if m.task == "multiclass" and m.method == "bootstrap"]
TOL = 1e-9
BINS = 65536
Z95 = stats.norm.ppf(0.975)


def run(case: Case, metrics: list[str] | None = None, **kw):
    kw.setdefault("replicates", 200)
    return estimate("multiclass", case.y, case.s, weights=case.w, metrics=metrics,
                    top_k=case.top_k, **kw)


def ref(name: str, case: Case):
    return REFERENCES[("multiclass", name)](case)


def flat(got: dict) -> dict:
    """Estimates keyed like the result table: ``recall_per_class[c]`` per class."""
    out = {}
    for name, e in got.items():
        if isinstance(e, dict):
            out |= {f"{name}[{c}]": x for c, x in e.items()}
        else:
            out[name] = e
    return out


def flat_ref(case: Case, names: list[str]) -> dict[str, float]:
    out = {}
    for name in names:
        v = ref(name, case)
        out |= {f"{name}[{c}]": x for c, x in v.items()} if isinstance(v, dict) else {name: v}
    return out


def assert_matches(case: Case, names: list[str] | None = None, skip: tuple = ()) -> dict:
    names = names or NAMES
    got = flat(run(case, names))
    expected = flat_ref(case, [n for n in names if n not in skip])
    for key, value in expected.items():
        assert got[key].status == "ok", (key, got[key].note)
        assert got[key].value == pytest.approx(value, rel=TOL, abs=TOL), key
    return got


def ovr_bound(case: Case) -> float:
    """Mean over classes of the one-vs-rest AUC binning bound, from the histograms."""
    w = np.ones(case.y.size) if case.w is None else case.w
    out = []
    for c in range(case.s.shape[1]):
        fine = np.minimum((case.s[:, c] * BINS).astype(np.int64), BINS - 1)
        p = case.y == c
        pos, neg = np.bincount(fine[p], w[p], BINS), np.bincount(fine[~p], w[~p], BINS)
        out.append(rk.auc_bound(pos, neg))
    return float(np.mean(out))


# ---- values ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [150, 2000])
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_metric_matches_sklearn_on_grid_scores(weighted, k, n):
    case = multiclass_case(np.random.default_rng([1, k, n]), n, k, grid=20, weighted=weighted)
    got = assert_matches(case)
    assert set(got) == {n for n in flat_ref(case, NAMES)}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_continuous_scores_exact_or_within_the_stated_bound(weighted):
    case = multiclass_case(np.random.default_rng(2), 2000, 4, weighted=weighted)
    got = assert_matches(case, skip=("roc_auc_ovr",))
    e, bound = got["roc_auc_ovr"], ovr_bound(case)
    assert abs(e.value - ref("roc_auc_ovr", case)) <= bound + 1e-12
    assert 0 < bound < 1e-3
    assert re.search(rf"<= {re.escape(f'{bound:.2g}')}$", e.note), e.note


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_top_k_accuracy_with_ties(k, weighted):
    """Scores on a grid of quarters: many ties, broken as scikit-learn breaks them."""
    case = multiclass_case(np.random.default_rng([3, k]), 400, 4, grid=4, weighted=weighted)
    case.top_k = k
    assert (np.diff(np.sort(case.s, axis=1), axis=1) == 0).any(axis=1).mean() > 0.3
    e = run(case, ["top_k_accuracy"])["top_k_accuracy"]
    assert e.value == pytest.approx(ref("top_k_accuracy", case), abs=TOL)
    assert e.note == f"k={min(k, 4)}"


def test_argmax_ties_go_to_the_first_class():
    y = np.array([0, 1, 2, 1])
    s = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [1 / 3] * 3, [0.2, 0.4, 0.4]])
    got = run(Case("multiclass", y, s), ["accuracy", "top_k_accuracy"])
    assert got["accuracy"].value == pytest.approx(0.5)  # rows 0 and 3 (argmax: first max)
    # scikit-learn's top-k ranks tied classes by decreasing index: row 1 keeps class 1,
    # row 2 (all tied) ranks class 2 first, row 0 ranks class 1 before class 0 but k=2
    assert got["top_k_accuracy"].value == pytest.approx(
        ref("top_k_accuracy", Case("multiclass", y, s)))


# ---- edge cases ---------------------------------------------------------------------------


def test_class_absent_from_a_slice():
    rng = np.random.default_rng(4)
    case = multiclass_case(rng, 600, 4, grid=20)
    groups = np.where(rng.random(600) < 0.5, "a", "b")
    missing = (groups == "a") & (case.y == 3)
    case.y[missing] = 0  # class 3 never a label in slice a
    t = evaluate_case(case, groups).table.set_index(["slice", "metric"])
    a = case.take(np.flatnonzero(groups == "a"))
    row = t.loc[("g=a", "recall_per_class[3]")]
    assert row.status == "undefined" and math.isnan(row.value) and "class 3" in row.note
    row = t.loc[("g=a", "roc_auc_ovr")]
    assert row.status == "undefined" and "3" in row.note and math.isnan(row.value)
    for name in ("precision_macro", "recall_macro", "f1_macro", "f1_weighted", "accuracy",
                 "log_loss", "top_k_accuracy"):
        row = t.loc[("g=a", name)]
        assert row.status == "ok" and row.value == pytest.approx(ref(name, a), abs=TOL), name
    assert "zero_division=0" in t.loc[("g=a", "recall_macro")].note
    for c in range(3):
        assert t.loc[("g=a", f"recall_per_class[{c}]")].value == pytest.approx(
            ref("recall_per_class", a)[str(c)], abs=TOL)


def _edge_cases() -> dict[str, Case]:
    rng = np.random.default_rng(5)
    base = multiclass_case(rng, 40, 3, grid=10)
    return {
        "uniform_scores": Case("multiclass", base.y, np.full((40, 3), 1 / 3)),
        "one_row": base.take(np.array([0])),
        "two_rows": base.take(np.array([0, 1])),
        "one_label": Case("multiclass", np.zeros(20, np.int64), base.s[:20]),
        "perfect": Case("multiclass", base.y, np.eye(3)[base.y]),
    }


EDGE = _edge_cases()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name", list(EDGE))
def test_edge_cases_match_sklearn_or_are_undefined_with_a_reason(name, weighted):
    case = EDGE[name]
    if weighted:
        case = Case("multiclass", case.y, case.s,
                    np.random.default_rng(6).exponential(1, case.y.size))
    got = flat(run(case))
    present = set(case.y.tolist())
    for key, e in got.items():
        assert math.isnan(e.low) == math.isnan(e.high), (key, e)
        undefined = (key == "roc_auc_ovr" and len(present) < 3) or (
            key.startswith("recall_per_class[") and int(key[17:-1]) not in present)
        if undefined:
            assert e.status == "undefined" and math.isnan(e.value) and e.note, (key, e)
            continue
        assert e.status == "ok", (key, e.note)
        expected = flat_ref(case, [key.split("[")[0]])[key]
        assert e.value == pytest.approx(expected, rel=TOL, abs=TOL), key


def test_string_classes_in_declared_order():
    rng = np.random.default_rng(7)
    case = multiclass_case(rng, 500, 3, grid=20)
    names = ["zebra", "ant", "moth"]
    labelled = Case("multiclass", np.array(names)[case.y], case.s, classes=names)
    t = evaluate_case(labelled, metrics=["recall_per_class", "f1_macro", "roc_auc_ovr"]).table
    got = dict(zip(t.metric, t.value, strict=True))
    expected = ref("recall_per_class", case)
    for j, name in enumerate(names):
        assert got[f"recall_per_class[{name}]"] == pytest.approx(expected[str(j)], abs=TOL)
    assert got["f1_macro"] == pytest.approx(ref("f1_macro", case), abs=TOL)
    assert got["roc_auc_ovr"] == pytest.approx(ref("roc_auc_ovr", case), abs=TOL)


# ---- intervals ----------------------------------------------------------------------------


def _wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return ci.low, ci.high


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_proportions_have_wilson_intervals(confidence):
    case = multiclass_case(np.random.default_rng(8), 300, 4)
    got = run(case, ["accuracy", "top_k_accuracy", "recall_per_class", "f1_micro"],
              confidence=confidence)
    hits = case.y == case.pred
    assert (got["accuracy"].low, got["accuracy"].high) == pytest.approx(
        _wilson(int(hits.sum()), 300, confidence), abs=1e-12)
    assert (got["f1_micro"].low, got["f1_micro"].high) == pytest.approx(
        (got["accuracy"].low, got["accuracy"].high), abs=0)
    top2 = (np.argsort(-case.s, axis=1, kind="stable")[:, :2] == case.y[:, None]).any(axis=1)
    assert (got["top_k_accuracy"].low, got["top_k_accuracy"].high) == pytest.approx(
        _wilson(int(top2.sum()), 300, confidence), abs=1e-12)
    for c in range(4):
        m = case.y == c
        e = got["recall_per_class"][str(c)]
        assert (e.low, e.high) == pytest.approx(
            _wilson(int(hits[m].sum()), int(m.sum()), confidence), abs=1e-12)


def test_log_loss_t_interval_matches_scipy():
    case = multiclass_case(np.random.default_rng(9), 300, 4)
    e = run(case, ["log_loss"])["log_loss"]
    eps = np.finfo(float).eps
    loss = -np.log(np.clip(case.s[np.arange(300), case.y], eps, 1 - eps))
    low, high = stats.t.interval(0.95, 299, loc=loss.mean(), scale=stats.sem(loss))
    assert e.method == "t"
    assert (e.low, e.high) == pytest.approx((max(0.0, low), high), rel=1e-10)


def influence_se_brute_force(case: Case) -> float:
    """Standard error of the macro one-vs-rest AUC: per row, the mean over classes of its
    DeLong placement minus the AUC, over the class's (weighted) size; from O(n^2) pairs."""
    n, k = case.s.shape
    w = np.ones(n) if case.w is None else case.w
    infl = np.zeros(n)
    for c in range(k):
        s, pos = case.s[:, c], case.y == c
        psi = (s[pos][:, None] > s[~pos][None, :]) + 0.5 * (s[pos][:, None] == s[~pos][None, :])
        wp, wn = w[pos], w[~pos]
        auc = wp @ psi @ wn / (wp.sum() * wn.sum())
        infl[pos] += (psi @ wn / wn.sum() - auc) / wp.sum()
        infl[~pos] += (wp @ psi / wp.sum() - auc) / wn.sum()
    return float(np.sqrt(np.sum((w * infl / k) ** 2)))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("k", [2, 4])
def test_ovr_auc_standard_error_matches_brute_force(k, weighted):
    case = multiclass_case(np.random.default_rng([10, k]), 250, k, grid=20, weighted=weighted)
    e = run(case, ["roc_auc_ovr"])["roc_auc_ovr"]
    se = influence_se_brute_force(case)
    assert e.value == pytest.approx(ref("roc_auc_ovr", case), abs=1e-12)
    assert e.se == pytest.approx(se, rel=1e-10)
    assert (e.low, e.high) == pytest.approx((e.value - Z95 * se, e.value + Z95 * se), abs=1e-12)
    assert e.method == "delong-influence"


def test_two_class_ovr_standard_error_is_delong():
    """With two classes both one-vs-rest AUCs are the binary AUC; the influence SE is
    DeLong's with n (not n - 1) in the placement variances."""
    rng = np.random.default_rng(11)
    s1 = (rng.choice(1000, 300, replace=False) + 0.5) / 1000
    y = (rng.random(300) < s1).astype(np.int64)
    e = run(Case("multiclass", y, np.column_stack([1 - s1, s1])), ["roc_auc_ovr"])["roc_auc_ovr"]
    pos, neg = s1[y == 1], s1[y == 0]
    psi = (pos[:, None] > neg[None, :]).astype(float)
    se = math.sqrt(psi.mean(1).var() / pos.size + psi.mean(0).var() / neg.size)
    assert e.value == pytest.approx(psi.mean(), abs=1e-12)
    assert e.se == pytest.approx(se, rel=1e-10)


# ---- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_is_seeded():
    case = multiclass_case(np.random.default_rng(12), 500, 3)
    a, b = run(case, BOOTSTRAP, seed=0), run(case, BOOTSTRAP, seed=0)
    c = run(case, BOOTSTRAP, seed=1)
    for name in BOOTSTRAP:
        assert (a[name].low, a[name].high) == (b[name].low, b[name].high)
        assert a[name].value == c[name].value and a[name].low != c[name].low


def _averages(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Macro and support-weighted precision, recall, F1 of confusion matrices (R, k, k)."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    pred, true = cm.sum(axis=1), cm.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = {"precision": np.nan_to_num(tp / pred), "recall": np.nan_to_num(tp / true),
               "f1": np.nan_to_num(2 * tp / (pred + true))}
    support = true / true.sum(axis=1, keepdims=True)
    out = {}
    for name, v in per.items():
        out[f"{name}_macro"] = v.mean(axis=1)
        out[f"{name}_weighted"] = (v * support).sum(axis=1)
    return out


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_bootstrap_standard_error_matches_the_row_bootstrap(weighted):
    k = 4
    case = multiclass_case(np.random.default_rng(13), 2000, k, weighted=weighted)
    got = run(case, BOOTSTRAP, replicates=1000)
    rng = np.random.default_rng(14)
    w = np.ones(2000) if case.w is None else case.w
    cell = case.y * k + case.pred
    idx = rng.integers(0, 2000, size=(1000, 2000))
    cm = np.stack([np.bincount(cell[i], w[i], k * k) for i in idx]).reshape(-1, k, k)
    reps = _averages(cm)
    full = _averages(np.bincount(cell, w, k * k).reshape(1, k, k))
    assert set(BOOTSTRAP) <= set(reps)
    for name in BOOTSTRAP:
        assert full[name][0] == pytest.approx(ref(name, case), abs=1e-12)  # same statistic
        assert got[name].se == pytest.approx(np.std(reps[name], ddof=1), rel=0.15), name
