"""Checks every registered metric (``assay.all_metrics()``) for the same properties.

In the style of scikit-learn's ``sklearn/metrics/tests/test_common.py``: a new metric is
picked up by every test here automatically, and ``test_every_metric_has_a_reference`` fails,
with the line to paste, until the metric has an independent reference in
``tests/_references.py``.

Properties: matches its reference (with and without weights, overall and per slice);
row order changes neither value nor interval; all-ones weights give the unweighted value;
value and interval lie in the declared [lower, upper]; the declared interval method is the
one used; both engines agree; the slice-vs-rest gap is the slice value minus the value on
the other rows; a weightless slice is undefined (not a crash); count-based metrics depend
on the scores only through the decisions; ranking metrics state their binning bound.
"""

from __future__ import annotations

import math
import re
from functools import cache

import numpy as np
import pandas as pd
import pytest
from _references import (
    MAKERS,
    REFERENCES,
    Case,
    evaluate_case,
    metric_rows,
    reference_values,
)

import assay
from assay.metrics import MetricDef

METRICS: list[MetricDef] = assay.all_metrics()
IDS = [f"{m.task}-{m.name}" for m in METRICS]
TOL = 1e-9

#: Order-statistic intervals of two medians do not combine into an interval for their
#: difference: the gap of these metrics is a point value only.
NO_GAP_INTERVAL = {("regression", "median_ae")}

# ---- data and cached evaluations --------------------------------------------------------

N = 1500
#: Scores on a grid: each fine score bin holds one distinct score, so ranking metrics are exact.
GRID = {"binary": {"decimals": 3}, "multiclass": {"grid": 20}, "regression": {}}
LEVELS = np.array(["a", "b", "c"])


@cache
def standard_case(task: str, weighted: bool) -> tuple[Case, np.ndarray]:
    """Scores on a grid (ranking metrics are then exact), three slices of 60/30/10 %."""
    rng = np.random.default_rng([11, ["binary", "multiclass", "regression"].index(task)])
    case = MAKERS[task](rng, N, weighted=weighted, **GRID[task])
    groups = LEVELS[np.minimum((rng.random(N) * 10).astype(int) // 6 + (rng.random(N) < 0.1), 2)]
    return case, groups


@cache
def edge_case(task: str, weighted: bool) -> tuple[Case, np.ndarray]:
    """Slices that stress definitions: one row, two rows, a single label, constant scores."""
    rng = np.random.default_rng([12, ["binary", "multiclass", "regression"].index(task)])
    case = MAKERS[task](rng, 240, weighted=weighted)
    y, s = case.y.copy(), case.s.copy()
    groups = np.array(["big"] * 200 + ["one"] + ["two"] * 2 + ["single"] * 7 + ["const"] * 30)
    single = groups == "single"
    y[single] = {"binary": 1, "multiclass": 0, "regression": 3.0}[task]
    const = groups == "const"
    if task == "multiclass":
        s[const] = 1.0 / s.shape[1]
    else:
        s[const] = {"binary": 0.3, "regression": 4.0}[task]
    return Case(task, y, s, case.w, classes=case.classes), groups


@cache
def table(kind: str, task: str, weighted: bool, *, perm: bool = False, ones: bool = False,
          engine: str = "numpy") -> pd.DataFrame:
    case, groups = (standard_case if kind == "standard" else edge_case)(task, weighted)
    if perm:
        order = np.random.default_rng(5).permutation(case.y.size)
        case, groups = case.take(order), groups[order]
    if ones:
        case = Case(case.task, case.y, case.s, np.ones(case.y.size), classes=case.classes)
    return evaluate_case(case, groups, weighted=weighted or ones, engine=engine).table


def _sorted(t: pd.DataFrame) -> pd.DataFrame:
    return t.sort_values(["slice", "metric"]).reset_index(drop=True)


def _close(a, b, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol, equal_nan=True)


# ---- the registry -----------------------------------------------------------------------


def test_every_metric_has_a_reference():
    registered = {(m.task, m.name) for m in METRICS}
    missing = sorted(registered - set(REFERENCES))
    lines = "\n".join(f'    ("{t}", "{n}"): lambda c: <reference value from c.y, c.s, c.w>,'
                      for t, n in missing)
    assert not missing, (
        "metrics without an independent reference; add to REFERENCES in "
        f"tests/_references.py:\n{lines}")
    stale = sorted(set(REFERENCES) - registered)
    assert not stale, f"REFERENCES lists metrics that are not registered; remove {stale}"


def test_metric_names_are_unique_per_task():
    keys = [(m.task, m.name) for m in METRICS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_declared_properties_are_consistent(mdef: MetricDef):
    assert mdef.lower < mdef.upper
    assert mdef.method and mdef.description
    assert mdef.task in assay.task_names()
    assert assay.get_task(mdef.task).metrics[mdef.name].method == mdef.method


# ---- values -----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_matches_reference_overall_and_per_slice(mdef: MetricDef, weighted: bool):
    case, groups = standard_case(mdef.task, weighted)
    t = metric_rows(table("standard", mdef.task, weighted), mdef.name)
    ref = REFERENCES[(mdef.task, mdef.name)]
    for sl, idx in [("overall", np.arange(case.y.size))] + [
            (f"g={lv}", np.flatnonzero(groups == lv)) for lv in LEVELS]:
        expected = reference_values(ref, case.take(idx), mdef.name)
        got = t[t.slice == sl].set_index("metric")
        assert set(got.index) == set(expected)
        for metric, value in expected.items():
            row = got.loc[metric]
            assert row.status == "ok", (sl, metric, row.note)
            assert row.value == pytest.approx(value, rel=TOL, abs=TOL), (sl, metric)


# ---- invariances --------------------------------------------------------------------------


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_row_order_changes_neither_value_nor_interval(mdef: MetricDef):
    for kind in ("standard", "edge"):
        a = _sorted(metric_rows(table(kind, mdef.task, False), mdef.name))
        b = _sorted(metric_rows(table(kind, mdef.task, False, perm=True), mdef.name))
        assert len(a) and a.metric.tolist() == b.metric.tolist()
        for col in ("value", "ci_low", "ci_high", "gap", "gap_low", "gap_high"):
            _close(a[col], b[col])
        assert a.status.tolist() == b.status.tolist()


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_row_order_does_not_change_weighted_value(mdef: MetricDef):
    a = _sorted(metric_rows(table("standard", mdef.task, True), mdef.name))
    b = _sorted(metric_rows(table("standard", mdef.task, True, perm=True), mdef.name))
    _close(a.value, b.value)
    _close(a.gap, b.gap)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_row_order_does_not_change_weighted_bootstrap_interval(task: str):
    """With an id column, each row's Poisson multipliers are keyed on its id, so the
    weighted bootstrap does not depend on the order of the rows."""
    case, groups = standard_case(task, True)
    ids = np.array([f"r{i}" for i in range(case.y.size)])
    a = _sorted(evaluate_case(case, groups, ids=ids).table)
    order = np.random.default_rng(5).permutation(case.y.size)
    b = _sorted(evaluate_case(case.take(order), groups[order], ids=ids[order]).table)
    assert (a.method.str.contains("poisson-bootstrap")).any()
    for col in ("value", "ci_low", "ci_high", "gap", "gap_low", "gap_high"):
        _close(a[col], b[col])


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_all_ones_weights_equal_no_weights(mdef: MetricDef):
    for kind in ("standard", "edge"):
        a = _sorted(metric_rows(table(kind, mdef.task, False), mdef.name))
        b = _sorted(metric_rows(table(kind, mdef.task, False, ones=True), mdef.name))
        _close(a.value, b.value)
        _close(a.gap, b.gap)
        assert a.status.tolist() == b.status.tolist()


@pytest.mark.parametrize("engine", ["duckdb"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_engines_agree(mdef: MetricDef, weighted: bool, engine: str):
    a = _sorted(metric_rows(table("standard", mdef.task, weighted), mdef.name))
    b = _sorted(metric_rows(table("standard", mdef.task, weighted, engine=engine), mdef.name))
    for col in ("value", "ci_low", "ci_high", "gap", "gap_low", "gap_high"):
        _close(a[col], b[col], rtol=1e-9)
    assert a.method.tolist() == b.method.tolist()


# ---- ranges, intervals, methods -------------------------------------------------------------


def _check_ranges(mdef: MetricDef, t: pd.DataFrame) -> None:
    for r in t.itertuples():
        where = (r.slice, r.metric)
        if r.status != "ok":
            assert math.isnan(r.value) and math.isnan(r.ci_low) and math.isnan(r.ci_high), where
            assert r.note, f"{where}: status {r.status!r} without a reason in the note"
            continue
        assert mdef.lower <= r.value <= mdef.upper, where
        # an interval is either absent or complete; never half of one
        assert math.isnan(r.ci_low) == math.isnan(r.ci_high), (where, r.ci_low, r.ci_high)
        if not math.isnan(r.ci_low):
            assert mdef.lower <= r.ci_low <= r.ci_high <= mdef.upper, (where, r.ci_low, r.ci_high)
            if "bootstrap" not in r.method:  # analytic intervals are built around the value
                assert r.ci_low <= r.value <= r.ci_high, (where, r.method)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_value_and_interval_within_declared_range(mdef: MetricDef, weighted: bool):
    for kind in ("standard", "edge"):
        t = metric_rows(table(kind, mdef.task, weighted), mdef.name)
        assert len(t)
        _check_ranges(mdef, t)


def _method_token(declared: str) -> re.Pattern:
    return re.compile(rf"(^|[\s(-]){re.escape(declared)}($|[\s)])")


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_declared_method_is_used(mdef: MetricDef):
    t = metric_rows(table("standard", mdef.task, False), mdef.name)
    pattern = _method_token(mdef.method)
    for r in t.itertuples():
        assert pattern.search(r.method), (
            f"{mdef.name} declares method {mdef.method!r} but row {r.slice} used {r.method!r}")
        assert np.isfinite([r.ci_low, r.ci_high]).all(), (r.slice, r.metric)
        assert r.ci_low < r.ci_high, (r.slice, r.metric)


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_weighted_rows_have_an_interval_and_a_method(mdef: MetricDef):
    t = metric_rows(table("standard", mdef.task, True), mdef.name)
    for r in t.itertuples():
        assert r.method, (r.slice, r.metric)
        if mdef.method in ("wilson", "order-statistic"):  # same method on the effective n
            assert mdef.method in r.method and "Kish effective n" in r.method, r.method
        else:
            assert "bootstrap" in r.method or _method_token(mdef.method).search(r.method)
        assert np.isfinite([r.ci_low, r.ci_high]).all(), (r.slice, r.metric)


# ---- slices -------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_gap_is_slice_value_minus_the_rest(mdef: MetricDef, weighted: bool):
    case, groups = standard_case(mdef.task, weighted)
    t = metric_rows(table("standard", mdef.task, weighted), mdef.name)
    ref = REFERENCES[(mdef.task, mdef.name)]
    for lv in LEVELS:
        rest = reference_values(ref, case.take(np.flatnonzero(groups != lv)), mdef.name)
        for r in t[t.slice == f"g={lv}"].itertuples():
            assert r.gap == pytest.approx(r.value - rest[r.metric], rel=TOL, abs=TOL)


@pytest.mark.parametrize("mdef", [m for m in METRICS if (m.task, m.name) not in NO_GAP_INTERVAL],
                         ids=[i for m, i in zip(METRICS, IDS, strict=True)
                              if (m.task, m.name) not in NO_GAP_INTERVAL])
def test_gap_has_an_interval(mdef: MetricDef):
    t = metric_rows(table("standard", mdef.task, False), mdef.name)
    t = t[t.slice != "overall"]
    assert np.isfinite(t[["gap_low", "gap_high"]].to_numpy()).all()
    assert (t.gap_low < t.gap_high).all()
    if "bootstrap" not in mdef.method:  # analytic: built around the gap
        assert ((t.gap_low <= t.gap) & (t.gap <= t.gap_high)).all()


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_weightless_slice_is_undefined_not_a_crash(mdef: MetricDef):
    rng = np.random.default_rng(3)
    case = MAKERS[mdef.task](rng, 300, weighted=True, **GRID[mdef.task])
    groups = np.where(np.arange(300) < 290, "kept", "zero")
    case.w[groups == "zero"] = 0.0
    t = metric_rows(evaluate_case(case, groups, metrics=[mdef.name]).table, mdef.name)
    zero = t[t.slice == "g=zero"]
    assert len(zero) and (zero.status == "undefined").all(), zero[["metric", "status", "note"]]
    assert zero.value.isna().all() and zero.note.str.len().gt(0).all()
    kept = t[t.slice == "g=kept"]
    ref = reference_values(REFERENCES[(mdef.task, mdef.name)],
                           case.take(np.flatnonzero(groups == "kept")), mdef.name)
    for r in kept.itertuples():
        assert r.value == pytest.approx(ref[r.metric], rel=TOL, abs=TOL)


# ---- declared flags ---------------------------------------------------------------------------


def _decision_preserving(case: Case) -> Case:
    """New scores with the same decisions (threshold side; per-row order of the classes)."""
    if case.task == "binary":
        t = case.threshold
        s = np.where(case.s >= t, t + (case.s - t) ** 2 / (1 - t), t - (t - case.s) ** 2 / t)
        return Case(case.task, case.y, s, case.w, case.threshold)
    p = case.s ** 3
    return Case(case.task, case.y, p / p.sum(axis=1, keepdims=True), case.w, classes=case.classes)


@pytest.mark.parametrize("mdef", [m for m in METRICS if m.count_based],
                         ids=[i for m, i in zip(METRICS, IDS, strict=True) if m.count_based])
def test_count_based_metrics_see_only_decisions(mdef: MetricDef):
    case, _ = standard_case(mdef.task, False)
    other = _decision_preserving(case)
    assert not np.allclose(other.s, case.s)
    a = metric_rows(evaluate_case(case, metrics=[mdef.name]).table, mdef.name)
    b = metric_rows(evaluate_case(other, metrics=[mdef.name]).table, mdef.name)
    _close(a.value, b.value)
    _close(a.ci_low, b.ci_low)


@pytest.mark.parametrize("mdef", METRICS, ids=IDS)
def test_ranking_metrics_state_their_binning_bound(mdef: MetricDef):
    t = metric_rows(table("standard", mdef.task, False), mdef.name)
    # the standard case has scores on a grid: one score value per bin, so the binned value is
    # exact and the note says so; continuous scores state the bound (test_binary)
    has = t.note.str.contains(r"\|value - exact\| <= |exact \(one score value per bin\)",
                              regex=True)
    assert has.all() if mdef.ranking else not has.any()
    if mdef.ranking:
        assert t[t.status == "ok"].note.str.contains("exact (one score value", regex=False).all()
