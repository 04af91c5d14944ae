"""Calibration analysis: every number against scikit-learn, SciPy or a NumPy reference
written differently (loops over bins), plus intervals, weights, remedies and edge cases."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as st
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

import assay
from assay._errors import InputError
from assay.analysis import _calibration_remedies as cr
from assay.analysis._rows import AnalysisRows
from assay.analysis.calibration import _FOLD_SALT, SALT, analyse_calibration
from assay.spec import CalibrationSpec
from tests._references import ece_calibration_curve, ece_reference

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.csv"
EPS = float(np.finfo(np.float64).eps)


# ---- data and helpers ------------------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    c = np.clip(p, EPS, 1 - EPS)
    return np.log(c) - np.log1p(-c)


def miscalibrated(n: int, seed: int = 0, sharpen: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from true p; scores sigmoid(sharpen * logit(p)) (overconfident)."""
    rng = np.random.default_rng(seed)
    tp = rng.uniform(0.03, 0.97, n)
    y = (rng.uniform(size=n) < tp).astype(np.int8)
    return y, sigmoid(sharpen * logit(tp))


def make_rows(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None, *, reps: int = 200,
              task: str = "binary", classes: list[str] | None = None, seed: tuple[int, ...] = (7, 0),
              slices: dict[str, np.ndarray] | None = None, min_slice_size: int = 10,
              keys: np.ndarray | None = None) -> AnalysisRows:
    n = y.size
    return AnalysisRows(
        model="m", task=task, y=y, scores=s, w=w,
        key=np.arange(n, dtype=np.uint64) * np.uint64(2654435761) if keys is None else keys,
        row_number=np.arange(1, n + 1), classes=classes or ["0", "1"], threshold=0.5,
        confidence=0.95, replicates=reps, seed=seed, min_slice_size=min_slice_size,
        slices=slices or {})


def run(rows: AnalysisRows, bins: int = 15, **spec) -> tuple[pd.DataFrame, dict]:
    spec.setdefault("remediation", [])
    out = analyse_calibration(rows, CalibrationSpec(**spec), bins)
    return out.tables["calibration"], out.charts


def get(t: pd.DataFrame, metric: str, slice_: str = "overall", variant: str = "original") -> pd.Series:
    hit = t[(t.metric == metric) & (t.slice == slice_) & (t.variant == variant)]
    assert len(hit) == 1, (metric, slice_, variant)
    return hit.iloc[0]


def value(t: pd.DataFrame, metric: str, slice_: str = "overall", variant: str = "original") -> float:
    return float(get(t, metric, slice_, variant)["value"])


# ---- NumPy references written with loops over bins ---------------------------------------


def width_members(s: np.ndarray, bins: int) -> list[np.ndarray]:
    """Row masks of equal-width bins by comparisons (the last bin holds 1.0)."""
    return [(s >= k / bins) & ((s < (k + 1) / bins) if k < bins - 1 else (s <= 1.0)) for k in range(bins)]


def mass_members(s: np.ndarray, edges: np.ndarray) -> list[np.ndarray]:
    """Row masks of equal-mass bins: (e_k, e_k+1], the first bin from -inf, the last to +inf."""
    b = edges.size - 1
    out = []
    for k in range(b):
        lo = -np.inf if k == 0 else edges[k]
        hi = np.inf if k == b - 1 else edges[k + 1]
        out.append((s > lo) & (s <= hi))
    return out


def loop_stats(members: list[np.ndarray], y: np.ndarray, s: np.ndarray,
               w: np.ndarray | None = None) -> tuple[float, float]:
    """(ECE, MCE) by a loop over bins."""
    w = np.ones(s.size) if w is None else w
    ece, mce = 0.0, 0.0
    for m in members:
        if w[m].sum() <= 0:
            continue
        gap = abs(np.average(y[m], weights=w[m]) - np.average(s[m], weights=w[m]))
        ece += w[m].sum() / w.sum() * gap
        mce = max(mce, gap)
    return ece, mce


def sweep_reference(y: np.ndarray, s: np.ndarray) -> tuple[int, float]:
    """ECE-sweep by brute force: add equal-mass bins until the frequencies stop rising."""
    best = 1
    for b in range(2, np.unique(s).size + 1):
        members = mass_members(s, np.percentile(s, np.linspace(0, 1, b + 1) * 100))
        freq = [y[m].mean() for m in members if m.any()]
        if any(b2 < a for a, b2 in zip(freq, freq[1:], strict=False)):
            break
        best = b
    members = mass_members(s, np.percentile(s, np.linspace(0, 1, best + 1) * 100))
    return best, loop_stats(members, y, s)[0]


# ---- 1. reliability bins, ECE, MCE -----------------------------------------------------------


@pytest.mark.parametrize("bins", [5, 15])
def test_reliability_bins_match_sklearn_calibration_curve(bins: int) -> None:
    y, s = miscalibrated(1500, seed=1)
    # scores rounded to 2 decimals: many ties, some exactly on the equal-mass edges
    s_q = np.round(s, 2)
    _, charts = run(make_rows(y, s), bins)
    ew = charts["reliability"]["m"]["overall"]["equal_width"]
    true, pred = calibration_curve(y, s, n_bins=bins, strategy="uniform")
    assert np.allclose([b["observed"] for b in ew], true, atol=1e-12)
    assert np.allclose([b["mean_score"] for b in ew], pred, atol=1e-12)
    assert sum(b["n"] for b in ew) == y.size
    _, charts = run(make_rows(y, s_q), bins)
    em = charts["reliability"]["m"]["overall"]["equal_mass"]
    true, pred = calibration_curve(y, s_q, n_bins=bins, strategy="quantile")
    assert len(em) == len(true)  # empty bins are left out by both
    assert np.allclose([b["observed"] for b in em], true, atol=1e-12)
    assert np.allclose([b["mean_score"] for b in em], pred, atol=1e-12)
    edges = np.percentile(s_q, np.linspace(0, 1, bins + 1) * 100)
    assert all(b["lower"] in edges and b["upper"] in edges for b in em)
    for b in em:  # Wilson interval around each observed share
        ci = st.binomtest(round(b["observed"] * b["n"]), b["n"]).proportion_ci(method="wilson")
        assert b["low"] == pytest.approx(ci.low, abs=1e-9) and b["high"] == pytest.approx(ci.high, abs=1e-9)


def test_equal_width_edge_convention_is_assays_not_sklearns() -> None:
    """A score on an inner edge goes to the upper bin (floor(s * bins), as assay's ece metric);
    scikit-learn's calibration_curve puts it in the lower bin."""
    y = np.array([1, 0, 1, 0])
    s = np.array([0.2, 0.2, 0.7, 0.9])
    _, charts = run(make_rows(y, s, reps=0), 5)
    assert [(b["lower"], b["n"]) for b in charts["reliability"]["m"]["overall"]["equal_width"]] == \
        [(0.2, 2), (0.6, 1), (0.8, 1)]
    sk_true, _ = calibration_curve(y, s, n_bins=5, strategy="uniform")
    assert len(sk_true) == 3  # same bins occupied here, but 0.2 sits in sklearn's [0, 0.2] bin
    assert np.searchsorted(np.linspace(0, 1, 6)[1:-1], 0.2) == 0


@pytest.mark.parametrize("bins", [4, 10, 15])
def test_ece_mce_match_loop_references(bins: int) -> None:
    y, s = miscalibrated(1200, seed=2)
    s = np.round(s, 3)
    t, _ = run(make_rows(y, s), bins)
    ece, mce = loop_stats(width_members(s, bins), y, s)
    assert value(t, "ece") == pytest.approx(ece, abs=1e-12)
    assert value(t, "ece") == pytest.approx(ece_reference(y, s, None, bins), abs=1e-12)
    assert value(t, "mce") == pytest.approx(mce, abs=1e-12)
    edges = np.percentile(s, np.linspace(0, 1, bins + 1) * 100)
    ece_m, mce_m = loop_stats(mass_members(s, edges), y, s)
    assert value(t, "ece_equal_mass") == pytest.approx(ece_m, abs=1e-12)
    assert value(t, "mce_equal_mass") == pytest.approx(mce_m, abs=1e-12)
    b_star, ece_sweep = sweep_reference(y, s)
    assert value(t, "ece_adaptive") == pytest.approx(ece_sweep, abs=1e-12)
    assert f": {b_star} equal-mass bins" in get(t, "ece_adaptive")["note"]


def test_ece_matches_calibration_curve_ece_and_registered_metric() -> None:
    y, s = miscalibrated(800, seed=3)
    t, _ = run(make_rows(y, s), 15)
    assert value(t, "ece") == pytest.approx(ece_calibration_curve(y, s, 15), abs=1e-12)
    res = assay.evaluate(data=pd.DataFrame({"y": y}), label="y", task="binary", predictions={"m": s},
                         metrics=["ece", "log_loss", "brier_score"], calibration_bins=15)
    reg = res.table.set_index("metric")
    for metric in ("ece", "log_loss", "brier_score"):
        assert value(t, metric) == pytest.approx(float(reg.loc[metric, "value"]), abs=1e-12)
    for metric in ("log_loss", "brier_score"):  # same t interval
        row = get(t, metric)
        assert row["ci_low"] == pytest.approx(float(reg.loc[metric, "ci_low"]), abs=1e-9)
        assert row["ci_high"] == pytest.approx(float(reg.loc[metric, "ci_high"]), abs=1e-9)


def test_sweep_stops_at_first_violation_and_caps_at_distinct_scores() -> None:
    # three distinct scores, monotone frequencies: the sweep stops at 3 bins
    s = np.repeat([0.2, 0.5, 0.8], 100)
    y = np.concatenate([np.zeros(80), np.ones(20), np.zeros(50), np.ones(50), np.zeros(10), np.ones(90)])
    t, _ = run(make_rows(y.astype(np.int8), s), 10)
    assert ": 3 equal-mass bins" in get(t, "ece_adaptive")["note"]
    assert value(t, "ece_adaptive") == pytest.approx(loop_stats(
        [s == 0.2, s == 0.5, s == 0.8], y, s)[0], abs=1e-12)


# ---- 2. Brier decomposition ------------------------------------------------------------------


def residual_of(note: str) -> float:
    return float(re.search(r"rel - res \+ unc\) = (\S+)", note).group(1))


def test_brier_decomposition_exact_for_bin_constant_scores() -> None:
    rng = np.random.default_rng(5)
    bins = 10
    s = (rng.integers(0, bins, 2000) + 0.5) / bins  # one score value per equal-width bin
    y = (rng.uniform(size=s.size) < np.clip(s + 0.1, 0, 1)).astype(np.int8)
    t, _ = run(make_rows(y, s), bins)
    rel, res, unc = (value(t, m) for m in ("brier_reliability", "brier_resolution", "brier_uncertainty"))
    assert rel - res + unc == pytest.approx(brier_score_loss(y, s), abs=1e-14)
    assert value(t, "brier_score") == pytest.approx(brier_score_loss(y, s), abs=1e-14)
    assert unc == pytest.approx(y.mean() * (1 - y.mean()), abs=1e-15)
    assert abs(residual_of(get(t, "brier_reliability")["note"])) < 1e-12
    # loop reference for reliability and resolution
    rel_ref = sum((s == v).mean() * (s[s == v].mean() - y[s == v].mean()) ** 2 for v in np.unique(s))
    res_ref = sum((s == v).mean() * (y[s == v].mean() - y.mean()) ** 2 for v in np.unique(s))
    assert rel == pytest.approx(rel_ref, abs=1e-14) and res == pytest.approx(res_ref, abs=1e-14)


def test_brier_decomposition_residual_reported_otherwise() -> None:
    y, s = miscalibrated(1500, seed=6)
    w = np.random.default_rng(6).uniform(0.2, 3, y.size)
    for weights in (None, w):
        t, _ = run(make_rows(y, s, weights), 15)
        brier = brier_score_loss(y, s, sample_weight=weights)
        parts = [value(t, m) for m in ("brier_reliability", "brier_resolution", "brier_uncertainty")]
        residual = brier - (parts[0] - parts[1] + parts[2])
        assert abs(residual) > 1e-4
        assert residual_of(get(t, "brier_resolution")["note"]) == pytest.approx(residual, rel=1e-2)
        ybar = np.average(y, weights=weights)
        assert parts[2] == pytest.approx(ybar * (1 - ybar), abs=1e-14)


# ---- 3. remedies -----------------------------------------------------------------------------


def folds_of(rows: AnalysisRows, k: int) -> np.ndarray:
    return cr.assign_folds(rows.key, k, (*rows.seed, SALT, _FOLD_SALT))


def crossfit_reference(rows: AnalysisRows, k: int, fit_predict) -> np.ndarray:
    folds = folds_of(rows, k)
    out = np.empty(rows.n)
    w = np.ones(rows.n) if rows.w is None else rows.w
    for f in range(k):
        test = folds == f
        out[test] = fit_predict(rows.scores[~test], rows.y[~test], w[~test], rows.scores[test])
    return out


def sk_platt(s_tr, y_tr, w_tr, s_te):
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    model.fit(logit(s_tr)[:, None], y_tr, sample_weight=w_tr)
    return model.predict_proba(logit(s_te)[:, None])[:, 1]


def sk_isotonic(s_tr, y_tr, w_tr, s_te):
    return IsotonicRegression(out_of_bounds="clip").fit(s_tr, y_tr, sample_weight=w_tr).predict(s_te)


def scipy_temperature(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """T by minimize_scalar on the log loss of sigmoid(z / T) (binary) or softmax(z / T)."""
    def loss(log_t: float) -> float:
        t = z / math.exp(log_t)
        if z.ndim == 1:
            ll = np.logaddexp(0, t) - y * t
        else:
            ll = np.logaddexp.reduce(t, axis=1) - t[np.arange(y.size), y]
        return float(np.sum(w * ll) / w.sum())
    res = optimize.minimize_scalar(loss, bounds=(-6, 6), method="bounded",
                                   options={"xatol": 1e-12})
    return math.exp(res.x)


def sk_temperature(s_tr, y_tr, w_tr, s_te):
    return sigmoid(logit(s_te) / scipy_temperature(logit(s_tr), y_tr, w_tr))


def metrics_of(y: np.ndarray, p: np.ndarray, w: np.ndarray | None, bins: int = 15) -> dict[str, float]:
    """Reference metrics; integer weights (smallest 1) give the equal-mass edges of repeated rows."""
    rep = p if w is None else np.repeat(p, w.astype(int))
    edges = np.percentile(rep, np.linspace(0, 1, bins + 1) * 100)
    return {"log_loss": log_loss(y, p, sample_weight=w, labels=[0, 1]),
            "brier_score": brier_score_loss(y, p, sample_weight=w),
            "ece": ece_reference(y, p, w, bins),
            "ece_equal_mass": loop_stats(mass_members(p, edges), y, p, w)[0],
            "mce": loop_stats(width_members(p, bins), y, p, w)[1]}


def test_platt_fit_matches_sklearn_logistic_regression_on_a_fold() -> None:
    y, s = miscalibrated(1500, seed=8)
    w = np.random.default_rng(8).uniform(0.5, 2, y.size)
    train = np.arange(y.size) % 5 != 0
    a, b, ok = cr.fit_platt(logit(s[train]), y[train].astype(float), w[train])
    assert ok
    ours = cr.apply_platt(logit(s[~train]), a, b)
    ref = sk_platt(s[train], y[train], w[train], s[~train])
    assert np.max(np.abs(ours - ref)) < 1e-6
    assert a == pytest.approx(1 / 3, rel=0.15)  # undoes the sharpening by 3


@pytest.mark.parametrize("weighted", [False, True])
def test_remedies_match_crossfitted_references(weighted: bool) -> None:
    y, s = miscalibrated(1500, seed=9)
    w = np.random.default_rng(9).integers(1, 4, y.size).astype(float) if weighted else None
    if w is not None:
        w[0] = 1.0
    rows = make_rows(y, s, w, reps=0)
    t, _ = run(rows, 15, remediation=["platt", "isotonic", "temperature"], folds=4)
    for remedy, fp, tol in (("platt", sk_platt, 1e-6), ("isotonic", sk_isotonic, 1e-10),
                            ("temperature", sk_temperature, 1e-6)):
        ref = metrics_of(y, crossfit_reference(rows, 4, fp), w)
        for metric, v in ref.items():
            assert value(t, metric, variant=remedy) == pytest.approx(v, abs=tol), (remedy, metric)
        assert value(t, "ece", variant=remedy) < 0.5 * value(t, "ece")  # remedies help
        assert value(t, "log_loss", variant=remedy) < value(t, "log_loss")
        assert get(t, "ece", variant=remedy)["n"] == y.size
        assert "4-fold cross-fitted" in get(t, "ece", variant=remedy)["note"]


def test_temperature_matches_minimize_scalar() -> None:
    y, s = miscalibrated(1000, seed=10, sharpen=2.5)
    z = logit(s)
    w = np.random.default_rng(10).uniform(0.5, 2, y.size)
    assert cr.fit_temperature(z, y.astype(float), w) == pytest.approx(scipy_temperature(z, y, w), rel=1e-6)
    p = np.random.default_rng(11).dirichlet([0.5, 0.5, 0.5], 600)
    yc = np.array([np.random.default_rng(i).choice(3, p=r) for i, r in enumerate(p)])
    p_sharp = p ** 2 / np.sum(p ** 2, axis=1, keepdims=True)
    zl = np.log(np.clip(p_sharp, EPS, 1))
    assert cr.fit_temperature(zl, yc, np.ones(yc.size)) == pytest.approx(
        scipy_temperature(zl, yc, np.ones(yc.size)), rel=1e-6)


def test_crossfitting_holds_rows_out() -> None:
    y, s = miscalibrated(1000, seed=12)
    rows = make_rows(y, s, reps=0)
    t, _ = run(rows, 15, remediation=["isotonic"], folds=5)
    in_sample = sk_isotonic(s, y, np.ones(y.size), s)  # every row scored by a map fitted on it
    crossed = crossfit_reference(rows, 5, sk_isotonic)
    assert log_loss(y, in_sample) < log_loss(y, crossed) - 0.01
    assert value(t, "log_loss", variant="isotonic") == pytest.approx(log_loss(y, crossed), abs=1e-12)
    folds = folds_of(rows, 5)
    assert set(np.unique(folds)) == set(range(5)) and np.bincount(folds).min() > 150
    perm = np.random.default_rng(0).permutation(y.size)  # folds follow the key, not the order
    assert np.array_equal(cr.assign_folds(rows.key[perm], 5, (*rows.seed, SALT, _FOLD_SALT)), folds[perm])


def test_original_scores_untouched() -> None:
    y, s = miscalibrated(600, seed=13)
    keep = s.copy()
    s.flags.writeable = False  # any in-place write would raise
    rows = make_rows(y, s)
    t, _ = run(rows, 15, remediation=["platt", "isotonic", "temperature"])
    assert np.array_equal(rows.scores, keep)
    assert value(t, "ece") == pytest.approx(ece_reference(y, keep, None, 15), abs=1e-12)


# ---- 4. multiclass ---------------------------------------------------------------------------


def multiclass_data(n: int, k: int = 4, seed: int = 14, sharpen: float = 2.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 1.3
    tp = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n, 1)) > np.cumsum(tp, axis=1)).sum(axis=1)
    p = np.exp(sharpen * logits)
    return y, np.round(p / p.sum(axis=1, keepdims=True), 12)


def test_multiclass_metrics_match_references() -> None:
    y, p = multiclass_data(1500)
    classes = list("abcd")
    w = np.random.default_rng(14).uniform(0.5, 2, y.size)
    for weights in (None, w):
        t, charts = run(make_rows(y, p, weights, task="multiclass", classes=classes), 10)
        conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
        ece, mce = loop_stats(width_members(conf, 10), correct, conf, weights)
        assert value(t, "ece_top_label") == pytest.approx(ece, abs=1e-12)
        assert value(t, "mce_top_label") == pytest.approx(mce, abs=1e-12)
        classwise = np.mean([loop_stats(width_members(p[:, c], 10), (y == c).astype(float), p[:, c],
                                        weights)[0] for c in range(4)])
        assert value(t, "ece_classwise") == pytest.approx(classwise, abs=1e-12)
        assert value(t, "log_loss") == pytest.approx(log_loss(y, p, sample_weight=weights,
                                                              labels=[0, 1, 2, 3]), abs=1e-12)
        onehot = np.eye(4)[y]
        brier = np.average(np.sum((p - onehot) ** 2, axis=1), weights=weights)
        assert value(t, "brier_score") == pytest.approx(brier, abs=1e-12)
        bins = charts["reliability"]["m"]["overall"]["equal_width"]
        assert sum(b["weight"] for b in bins) == pytest.approx(y.size if weights is None else w.sum())


def test_multiclass_remedies_one_vs_rest_renormalised() -> None:
    y, p = multiclass_data(1200, k=3, seed=15, sharpen=2.5)
    rows = make_rows(y, p, task="multiclass", classes=list("abc"), reps=0)
    t, _ = run(rows, 10, remediation=["platt", "isotonic", "temperature"], folds=3)
    folds = folds_of(rows, 3)

    def ovr(fit_predict):
        out = np.empty_like(p)
        for f in range(3):
            te = folds == f
            cal = np.column_stack([fit_predict(p[~te, c], (y[~te] == c).astype(int), np.ones((~te).sum()),
                                               p[te, c]) for c in range(3)])
            out[te] = cal / cal.sum(axis=1, keepdims=True)
        return out

    def temp():
        out = np.empty_like(p)
        z = np.log(np.clip(p, EPS, 1))
        for f in range(3):
            te = folds == f
            temp_f = scipy_temperature(z[~te], y[~te], np.ones((~te).sum()))
            e = np.exp(z[te] / temp_f)
            out[te] = e / e.sum(axis=1, keepdims=True)
        return out

    for remedy, ref, tol in (("platt", ovr(sk_platt), 1e-6), ("isotonic", ovr(sk_isotonic), 1e-10),
                             ("temperature", temp(), 1e-6)):
        assert value(t, "log_loss", variant=remedy) == pytest.approx(log_loss(y, ref), abs=tol)
        conf = ref.max(axis=1)
        ece = loop_stats(width_members(conf, 10), (ref.argmax(axis=1) == y).astype(float), conf)[0]
        assert value(t, "ece_top_label", variant=remedy) == pytest.approx(ece, abs=max(tol, 1e-9))
        assert value(t, "ece_top_label", variant=remedy) < value(t, "ece_top_label")


# ---- 5. intervals and weights ----------------------------------------------------------------


def _row_bootstrap_ece(y, s, w, bins, reps, rng, poisson: bool) -> np.ndarray:
    """Brute-force row bootstrap of ECE (resampled rows, their own scores)."""
    n = y.size
    b = np.minimum((s * bins).astype(int), bins - 1)
    w = np.ones(n) if w is None else w
    out = np.empty(reps)
    for r in range(reps):
        m = rng.poisson(1.0, n) if poisson else np.bincount(rng.integers(0, n, n), minlength=n)
        mw = m * w
        gap = np.bincount(b, mw * (y - s), bins)
        out[r] = np.abs(gap).sum() / mw.sum()
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_ece_bootstrap_spread_matches_row_bootstrap(weighted: bool) -> None:
    y, s = miscalibrated(1500, seed=16, sharpen=1.5)
    w = np.random.default_rng(16).uniform(0.3, 3, y.size) if weighted else None
    reps = 2000
    t, _ = run(make_rows(y, s, w, reps=reps), 10)
    row = get(t, "ece")
    ref = _row_bootstrap_ece(y, s, w, 10, reps, np.random.default_rng(99), poisson=weighted)
    lo, hi = np.quantile(ref, [0.025, 0.975])
    assert (row["ci_high"] - row["ci_low"]) == pytest.approx(hi - lo, rel=0.10)
    # basic interval: 2 * value - quantiles
    assert row["ci_high"] == pytest.approx(2 * row["value"] - lo, abs=0.25 * (hi - lo))
    assert row["method"].startswith("basic poisson-bootstrap")


def test_multiclass_bootstrap_spread_matches_row_bootstrap() -> None:
    """Many classes' bins crossed hardly pool rows: keyed row multipliers are used instead."""
    y, p = multiclass_data(1500, k=4, seed=27, sharpen=1.5)
    reps = 2000
    t, _ = run(make_rows(y, p, task="multiclass", classes=list("abcd"), reps=reps), 10)
    row = get(t, "ece_top_label")
    assert row["method"] == f"basic poisson-bootstrap ({reps} reps, keyed row multipliers)"
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    b = np.minimum((conf * 10).astype(int), 9)
    rng = np.random.default_rng(5)
    ref = np.empty(reps)
    for r in range(reps):
        m = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size)
        ref[r] = np.abs(np.bincount(b, m * (correct - conf), 10)).sum() / y.size
    lo, hi = np.quantile(ref, [0.025, 0.975])
    assert (row["ci_high"] - row["ci_low"]) == pytest.approx(hi - lo, rel=0.10)
    binary, _ = run(make_rows(*miscalibrated(500, seed=27)), 10)
    assert get(binary, "ece")["method"] == ("basic poisson-bootstrap over (bin, label) cells, cell mean "
                                            "score held (200 reps)")


def test_weighted_loss_bootstrap_matches_row_bootstrap() -> None:
    y, s = miscalibrated(1500, seed=28)
    w = np.random.default_rng(28).uniform(0.3, 3, y.size)
    reps = 2000
    t, _ = run(make_rows(y, s, w, reps=reps), 10)
    rng = np.random.default_rng(6)
    br = (s - y) ** 2
    ref = np.empty(reps)
    for r in range(reps):
        mw = rng.poisson(1.0, y.size) * w
        ref[r] = np.sum(mw * br) / mw.sum()
    lo, hi = np.quantile(ref, [0.025, 0.975])
    row = get(t, "brier_score")
    assert row["method"].startswith("poisson-bootstrap")  # percentile: the mean is unbiased
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=0.08 * (hi - lo))


def test_loss_t_intervals_match_scipy() -> None:
    y, s = miscalibrated(400, seed=17)
    t, _ = run(make_rows(y, s), 10)
    sc = np.clip(s, EPS, 1 - EPS)
    for metric, per_row in (("log_loss", -(y * np.log(sc) + (1 - y) * np.log(1 - sc))),
                            ("brier_score", (s - y) ** 2)):
        lo, hi = st.t.interval(0.95, per_row.size - 1, loc=per_row.mean(), scale=st.sem(per_row))
        row = get(t, metric)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
        assert row["method"] == "t"


def test_weighted_equals_rows_repeated_by_integer_weights() -> None:
    y, s = miscalibrated(500, seed=18)
    s = np.round(s, 2)
    w = np.random.default_rng(18).integers(1, 5, y.size).astype(np.float64)
    w[0] = 1.0
    rep = np.repeat(np.arange(y.size), w.astype(int))
    tw, cw = run(make_rows(y, s, w, reps=0), 12)
    tr, cr_ = run(make_rows(y[rep], s[rep], reps=0), 12)
    for metric in tw.metric:
        assert value(tw, metric) == pytest.approx(value(tr, metric), abs=1e-12), metric
    assert get(tw, "ece_adaptive")["note"] == get(tr, "ece_adaptive")["note"]
    for kind in ("equal_width", "equal_mass"):
        a, b = cw["reliability"]["m"]["overall"][kind], cr_["reliability"]["m"]["overall"][kind]
        assert [x["weight"] for x in a] == pytest.approx([x["n"] for x in b])
        assert [x["observed"] for x in a] == pytest.approx([x["observed"] for x in b])
    ones, _ = run(make_rows(y, s, np.ones(y.size), reps=0), 12)
    plain, _ = run(make_rows(y, s, reps=0), 12)
    assert np.allclose(ones["value"], plain["value"], rtol=0, atol=1e-12)
    scaled, _ = run(make_rows(y, s, w * 0.01, reps=0), 12)  # scale-free, equal-mass edges included
    assert np.allclose(scaled["value"], tw["value"], rtol=0, atol=1e-10)


# ---- 6. edge cases ---------------------------------------------------------------------------


def test_one_class_only_binary() -> None:
    rng = np.random.default_rng(19)
    s = rng.uniform(0, 0.5, 300)
    y = np.zeros(300, dtype=np.int8)
    t, _ = run(make_rows(y, s), 10, remediation=["platt", "isotonic", "temperature"])
    orig = t[t.variant == "original"]
    assert (orig.status == "ok").all()
    assert value(t, "brier_uncertainty") == 0 and value(t, "brier_resolution") == 0
    assert "one class only" in get(t, "brier_uncertainty")["note"]
    assert value(t, "ece") == pytest.approx(s.mean(), abs=1e-12)  # every bin observes 0
    assert value(t, "log_loss") == pytest.approx(log_loss(y, s, labels=[0, 1]), abs=1e-12)
    for remedy in ("platt", "temperature"):
        rows = t[t.variant == remedy]
        assert (rows.status == "undefined").all() and rows.note.str.contains("one class").all()
        assert rows.value.isna().all()
    assert (t[t.variant == "isotonic"].status == "ok").all()


def test_one_class_absent_multiclass() -> None:
    y, p = multiclass_data(400, k=3, seed=20)
    y = np.where(y == 2, 0, y)  # class "c" never occurs
    t, _ = run(make_rows(y, p, task="multiclass", classes=list("abc")), 10,
               remediation=["platt", "isotonic", "temperature"])
    assert (t[t.variant == "original"].status == "ok").all()
    platt = t[t.variant == "platt"]
    assert (platt.status == "undefined").all() and platt.note.str.contains("class\\(es\\) c absent").all()
    assert (t[t.variant.isin(["isotonic", "temperature"])].status == "ok").all()


def test_all_scores_identical() -> None:
    rng = np.random.default_rng(21)
    y = (rng.uniform(size=400) < 0.3).astype(np.int8)
    s = np.full(400, 0.45)
    t, charts = run(make_rows(y, s), 10, remediation=["platt", "isotonic", "temperature"])
    gap = abs(y.mean() - 0.45)
    for metric in ("ece", "ece_equal_mass", "mce", "mce_equal_mass", "ece_adaptive", "brier_reliability"):
        expect = gap ** 2 if metric == "brier_reliability" else gap
        assert value(t, metric) == pytest.approx(expect, abs=1e-12), metric
    assert ": 1 equal-mass bins" in get(t, "ece_adaptive")["note"]
    assert value(t, "brier_resolution") == 0
    assert len(charts["reliability"]["m"]["overall"]["equal_mass"]) == 1
    for remedy in ("platt", "isotonic", "temperature"):
        assert get(t, "log_loss", variant=remedy)["status"] == "ok"
        assert np.isfinite(value(t, "log_loss", variant=remedy))
    # Platt and isotonic learn the training rows' share (score carries no information)
    assert value(t, "ece", variant="platt") < 0.05


def test_separable_scores_are_noted() -> None:
    s = np.random.default_rng(29).uniform(size=400)
    y = (s > 0.5).astype(np.int8)
    t, _ = run(make_rows(y, s), 10, remediation=["platt", "isotonic", "temperature"])
    for remedy in ("platt", "temperature"):
        row = get(t, "log_loss", variant=remedy)
        assert row["status"] == "ok" and "folds 0, 1, 2, 3, 4: the scores separate the classes" in row["note"]
        assert 0 <= row["value"] < value(t, "log_loss")  # finite, and sharper than the scores
    assert "separate" not in get(t, "log_loss", variant="isotonic")["note"]


def test_scores_exactly_zero_and_one() -> None:
    rng = np.random.default_rng(22)
    y = rng.integers(0, 2, 300).astype(np.int8)
    s = rng.uniform(size=300)
    s[:20], s[20:40] = 0.0, 1.0
    t, charts = run(make_rows(y, s), 10, remediation=["platt", "isotonic", "temperature"])
    assert value(t, "log_loss") == pytest.approx(log_loss(y, s), abs=1e-12)
    assert value(t, "ece") == pytest.approx(ece_reference(y, s, None, 10), abs=1e-12)
    ew = charts["reliability"]["m"]["overall"]["equal_width"]
    assert ew[0]["lower"] == 0.0 and ew[-1]["upper"] == 1.0 and sum(b["n"] for b in ew) == 300
    assert (t.status == "ok").all() and np.isfinite(t.value).all()


def test_slices_too_small_zero_weight_and_empty_dimensions() -> None:
    y, s = miscalibrated(600, seed=23)
    region = np.array(["region=a", "region=b"])[np.arange(600) % 2].astype(object)
    region[:4] = "region=tiny"
    w = np.ones(600)
    channel = np.where(np.arange(600) % 3 == 0, "channel=web", "").astype(object)
    w[np.arange(600) % 3 == 0] = 0.0  # the web slice has rows but no weight
    slices = {"region": region, "channel": channel, "empty": np.full(600, "", dtype=object)}
    t, charts = run(make_rows(y, s, w, slices=slices, min_slice_size=10), 10, remediation=["platt"])
    assert list(dict.fromkeys(t.slice)) == ["overall", "region=a", "region=b", "region=tiny", "channel=web"]
    tiny = t[t.slice == "region=tiny"]
    assert len(tiny) == 10 and (tiny.status == "too_small").all() and (tiny.n == 4).all()
    assert tiny.note.iloc[0] == "fewer than min_slice_size=10 rows"
    web = t[t.slice == "channel=web"]
    assert (web.status == "undefined").all() and web.note.str.contains("total weight").all()
    a = region == "region=a"
    assert value(t, "ece", "region=a") == pytest.approx(ece_reference(y[a], s[a], w[a], 10), abs=1e-12)
    assert set(t[t.variant == "platt"].slice) == {"overall"}  # remedies: overall only
    assert set(charts["reliability"]["m"]) == {"overall", "region=a", "region=b", "channel=web"}
    no_slices, _ = run(make_rows(y, s, w, slices=slices), 10, slices=False)
    assert set(no_slices.slice) == {"overall"}


def test_no_intervals_when_replicates_zero() -> None:
    y, s = miscalibrated(300, seed=24)
    for w in (None, np.full(300, 2.0)):
        t, charts = run(make_rows(y, s, w, reps=0), 10, remediation=["platt"])
        assert t.ci_low.isna().all() and t.ci_high.isna().all()
        assert (t.method == "none (intervals: false)").all()
        assert all(b["low"] is None for b in charts["reliability"]["m"]["overall"]["equal_width"])


def test_columns_and_determinism() -> None:
    y, s = miscalibrated(800, seed=25)
    w = np.random.default_rng(25).uniform(0.5, 2, 800)
    region = np.array(["r=a", "r=b"], dtype=object)[np.arange(800) % 2]
    for weights in (None, w):
        rows = make_rows(y, s, weights, slices={"r": region})
        t1, c1 = run(rows, 10, remediation=["platt", "isotonic", "temperature"])
        t2, c2 = run(rows, 10, remediation=["platt", "isotonic", "temperature"])
        assert list(t1.columns) == ["model", "slice", "metric", "variant", "value", "ci_low", "ci_high",
                                    "n", "method", "status", "note"]
        pd.testing.assert_frame_equal(t1, t2)
        assert c1 == c2
        # rows in another order (keys travel with them): same numbers up to float summation order
        perm = np.random.default_rng(1).permutation(800)
        t3, _ = run(make_rows(y[perm], s[perm], None if weights is None else weights[perm],
                              slices={"r": region[perm]}, keys=rows.key[perm]),
                    10, remediation=["platt", "isotonic", "temperature"])
        assert np.allclose(t1.value, t3.value, rtol=0, atol=1e-9)
        assert np.allclose(t1.ci_low, t3.ci_low, rtol=0, atol=1e-9, equal_nan=True)
        other, _ = run(make_rows(y, s, weights, seed=(8, 0)), 10)
        assert not np.allclose(get(t1, "ece")["ci_low"], get(other, "ece")["ci_low"])


def test_bad_input_is_named() -> None:
    y, s = miscalibrated(50, seed=26)
    bad = s.copy()
    bad[3] = 1.5
    with pytest.raises(InputError, match="outside \\[0, 1\\].*dataset rows 4"):
        run(make_rows(y, bad), 10)
    with pytest.raises(InputError, match="binary or multiclass"):
        run(AnalysisRows(**{**make_rows(y, s).__dict__, "task": "regression"}), 10)
    with pytest.raises(InputError, match="shape"):
        run(make_rows(y, np.column_stack([1 - s, s]), task="multiclass", classes=list("abc")), 10)


def test_no_rows() -> None:
    y, s = np.zeros(0, dtype=np.int8), np.zeros(0)
    t, charts = run(make_rows(y, s), 10, remediation=["platt"])
    assert (t[t.variant == "original"].status == "undefined").all()
    assert len(t[t.variant == "platt"]) == 0
    assert charts["reliability"]["m"]["overall"]["equal_width"] == []


# ---- real data -------------------------------------------------------------------------------


def test_adult_gaussian_nb_remedies_lower_ece() -> None:
    if not ADULT.is_file():
        pytest.skip(f"{ADULT} is absent (shared/data/adult from the project's data folder)")
    from sklearn.model_selection import cross_val_predict
    from sklearn.naive_bayes import GaussianNB

    df = pd.read_csv(ADULT)
    x = df[["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]].to_numpy(float)
    y = (df["income-per-year"] == ">50K").to_numpy().astype(np.int8)
    p = cross_val_predict(GaussianNB(), x, y, cv=5, method="predict_proba")[:, 1]
    assert not np.any(np.isin(p, np.arange(1, 15) / 15))  # no score on an inner bin edge
    t, charts = run(make_rows(y, p, reps=50), 15, remediation=["platt", "isotonic", "temperature"])
    assert value(t, "ece") == pytest.approx(ece_calibration_curve(y, p, 15), abs=1e-12)
    assert value(t, "ece") > 0.05  # naive Bayes is badly calibrated here
    true, pred = calibration_curve(y, p, n_bins=15, strategy="quantile")
    em = charts["reliability"]["m"]["overall"]["equal_mass"]
    assert np.allclose([b["observed"] for b in em], true) and np.allclose([b["mean_score"] for b in em], pred)
    for remedy in ("platt", "isotonic", "temperature"):
        assert value(t, "ece", variant=remedy) < value(t, "ece"), remedy
        assert value(t, "log_loss", variant=remedy) < value(t, "log_loss"), remedy
