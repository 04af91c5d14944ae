"""Group fairness (assay.analysis.fairness) against Fairlearn, published figures and brute force.

* every per-group rate and every disparity equals Fairlearn's MetricFrame / disparity
  functions (unweighted and weighted; binary, regression, multiclass);
* COMPAS: ProPublica's published false positive / negative rates by race;
* German credit: the good-credit disparate impact of women vs men, and a cross-validated
  logistic regression's disparities, against a hand count and Fairlearn;
* intervals: bootstrap SEs against a brute-force multinomial row bootstrap, Wilson bounds
  against statsmodels, a seeded coverage simulation;
* edge cases: undefined rates, one group, too-small groups, zero weights, no intervals,
  Kamiran-Calders reweighing by hand, determinism, bad input.
"""

from __future__ import annotations

import math
from pathlib import Path

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, precision_score, root_mean_squared_error
from sklearn.model_selection import cross_val_predict
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError
from assay.analysis._rows import AnalysisRows
from assay.analysis.fairness import DISPARITY_COLUMNS, GROUP_COLUMNS, analyse_fairness
from assay.spec import FairnessSpec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COMPAS = SHARED / "compas" / "compas-scores-two-years.csv"
GERMAN = SHARED / "german_credit" / "german.csv"
TOL = 1e-12


# ---- helpers --------------------------------------------------------------------------------


def make_rows(task: str, y, s, groups: dict, w=None, replicates: int = 200, seed=(7,),
              min_slice_size: int = 1, classes=None, threshold: float = 0.5, key=None) -> AnalysisRows:
    n = len(y)
    if classes is None:
        classes = [str(i) for i in range(np.shape(s)[1])] if task == "multiclass" else ["0", "1"]
    return AnalysisRows(
        model="m", task=task, y=np.asarray(y), scores=np.asarray(s, dtype=np.float64),
        w=None if w is None else np.asarray(w, dtype=np.float64),
        key=np.arange(n, dtype=np.uint64) if key is None else key,
        row_number=np.arange(1, n + 1), classes=classes, threshold=threshold, confidence=0.95,
        replicates=replicates, seed=seed, min_slice_size=min_slice_size,
        groups={k: np.asarray(v, dtype=object) for k, v in groups.items()})


def run(rows: AnalysisRows, dims: list[str] | None = None, **spec) -> tuple[pd.DataFrame, pd.DataFrame]:
    dims = list(rows.groups) if dims is None else dims
    attrs = [d for d in dims if " x " not in d] or dims
    out = analyse_fairness(rows, FairnessSpec(attributes=attrs, **spec), dims)
    return out.tables["fairness_groups"], out.tables["fairness"]


def gval(groups: pd.DataFrame, attr: str, group: str, metric: str) -> pd.Series:
    r = groups[(groups.attribute == attr) & (groups.group == group) & (groups.metric == metric)]
    assert len(r) == 1, (attr, group, metric)
    return r.iloc[0]


def dval(disp: pd.DataFrame, attr: str, metric: str, variant: str = "original") -> pd.Series:
    r = disp[(disp.attribute == attr) & (disp.metric == metric) & (disp.variant == variant)]
    assert len(r) == 1, (attr, metric, variant)
    return r.iloc[0]


def binary_data(n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    race = rng.choice(["Asian", "Black", "White"], n, p=[0.2, 0.35, 0.45])
    sex = rng.choice(["Female", "Male"], n, p=[0.45, 0.55])
    x = rng.normal(size=n) + 0.4 * (race == "White") - 0.2 * (sex == "Female")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-x))).astype(np.int8)
    s = 1 / (1 + np.exp(-(x + rng.normal(scale=1.0, size=n))))
    inter = np.array([f"{a} & {b}" for a, b in zip(race, sex, strict=True)], dtype=object)
    w = rng.uniform(0.2, 3.0, size=n)
    return y, s, {"race": race, "sex": sex, "race x sex": inter}, w


def sens(groups: dict, dim: str):
    """Sensitive features as Fairlearn takes them: one column, or the attribute columns of a
    cross (MetricFrame then forms the intersection itself)."""
    if " x " in dim:
        return pd.DataFrame({p: groups[p] for p in dim.split(" x ")})
    return pd.Series(groups[dim], name=dim)


def fl_group_label(idx) -> str:
    return " & ".join(idx) if isinstance(idx, tuple) else str(idx)


# ---- 1. Fairlearn ------------------------------------------------------------------------------


def _mean_error(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_pred) - np.asarray(y_true), weights=sample_weight))


def _base_rate(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_true), weights=sample_weight))


BINARY_REF = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
              "fpr": flm.false_positive_rate, "fnr": flm.false_negative_rate,
              "precision": precision_score, "base_rate": _base_rate}


def _frame(metrics: dict, y, pred, groups, dim, w) -> flm.MetricFrame:
    params = {k: {"sample_weight": w} for k in metrics} if w is not None else None
    return flm.MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=sens(groups, dim),
                           sample_params=params)


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_matches_fairlearn(weighted: bool) -> None:
    y, s, groups, w = binary_data()
    w = w if weighted else None
    g, d = run(make_rows("binary", y, s, groups, w=w))
    pred = (s >= 0.5).astype(int)
    kw = {"sample_weight": w}
    for dim in groups:
        mf = _frame(BINARY_REF, y, pred, groups, dim, w)
        for idx, row in mf.by_group.iterrows():
            for metric in BINARY_REF:
                got = gval(g, dim, fl_group_label(idx), metric)["value"]
                assert got == pytest.approx(row[metric], abs=TOL)
        sf = sens(groups, dim)
        expected = {
            "demographic_parity_difference": flm.demographic_parity_difference(y, pred, sensitive_features=sf,
                                                                               **kw),
            "demographic_parity_ratio": flm.demographic_parity_ratio(y, pred, sensitive_features=sf, **kw),
            "equalized_odds_difference": flm.equalized_odds_difference(y, pred, sensitive_features=sf, **kw),
            "equalized_odds_ratio": flm.equalized_odds_ratio(y, pred, sensitive_features=sf, **kw),
            "equal_opportunity_difference": flm.equal_opportunity_difference(y, pred, sensitive_features=sf,
                                                                             **kw),
            "predictive_parity_difference": mf.difference()["precision"],
            "four_fifths_ratio": flm.demographic_parity_ratio(y, pred, sensitive_features=sf, **kw),
        }
        for metric, ref in expected.items():
            row = dval(d, dim, metric)
            assert row["status"] == "ok"
            assert row["value"] == pytest.approx(ref, abs=TOL), (dim, metric)
            assert row["ci_low"] <= row["ci_high"]
        # the groups named as max / min are Fairlearn's group_max / group_min
        sel = mf.by_group["selection_rate"]
        text = dval(d, dim, "demographic_parity_difference")["groups"]
        assert text.startswith(f"max {fl_group_label(sel.idxmax())} (")
        assert f"min {fl_group_label(sel.idxmin())} (" in text
        # impact ratio = selection rate / the highest selection rate
        for idx, v in sel.items():
            assert gval(g, dim, fl_group_label(idx), "impact_ratio")["value"] == pytest.approx(v / sel.max(),
                                                                                             abs=TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_matches_fairlearn(weighted: bool) -> None:
    rng = np.random.default_rng(3)
    n = 1500
    grp = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = rng.normal(size=n) * 3 + 10
    p = y + rng.normal(size=n) * np.where(grp == "c", 2.0, 1.0) + 0.3 * (grp == "b")
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    g, d = run(make_rows("regression", y, p, {"grp": grp}, w=w))
    mf = _frame({"mae": mean_absolute_error, "rmse": root_mean_squared_error, "mean_error": _mean_error},
                y, p, {"grp": grp}, "grp", w)
    for idx, row in mf.by_group.iterrows():
        for metric in ("mae", "rmse", "mean_error"):
            r = gval(g, "grp", idx, metric)
            assert r["value"] == pytest.approx(row[metric], abs=1e-10)
            assert r["ci_low"] < r["value"] < r["ci_high"]
            assert r["method"] == ("t" if not weighted and metric != "rmse"
                                   else "percentile poisson-bootstrap, keyed row multipliers (200 reps)")
    if not weighted:  # the t interval of a mean, from SciPy
        from scipy import stats
        ae = np.abs(p - y)[grp == "a"]
        lo, hi = stats.t.interval(0.95, ae.size - 1, loc=ae.mean(), scale=stats.sem(ae))
        r = gval(g, "grp", "a", "mae")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
    diff, ratio = mf.difference(), mf.ratio()
    assert dval(d, "grp", "mae_difference")["value"] == pytest.approx(diff["mae"], abs=1e-10)
    assert dval(d, "grp", "mae_ratio")["value"] == pytest.approx(ratio["mae"], abs=1e-10)
    assert dval(d, "grp", "rmse_difference")["value"] == pytest.approx(diff["rmse"], abs=1e-10)
    assert dval(d, "grp", "mean_error_difference")["value"] == pytest.approx(diff["mean_error"], abs=1e-10)
    assert set(d.variant) == {"original"}  # no reweighing of a continuous label ...
    assert "continuous" in d.note.iloc[0]  # ... said once
    assert d.note.str.contains("continuous").sum() == 1


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_matches_fairlearn(weighted: bool) -> None:
    rng = np.random.default_rng(5)
    n = 1200
    grp = rng.choice(["x", "y", "z"], n)
    y = rng.integers(0, 3, size=n)
    s = rng.dirichlet([1, 1, 1], size=n)
    s[np.arange(n), y] += np.where(grp == "x", 0.6, 0.3)
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    g, d = run(make_rows("multiclass", y, s, {"grp": grp}, w=w))
    pred = s.argmax(axis=1)
    mf = _frame({"accuracy": accuracy_score}, y, pred, {"grp": grp}, "grp", w)
    for idx, row in mf.by_group.iterrows():
        assert gval(g, "grp", idx, "accuracy")["value"] == pytest.approx(row["accuracy"], abs=TOL)
        assert gval(g, "grp", idx, "error_rate")["value"] == pytest.approx(1 - row["accuracy"], abs=TOL)
    kw = {"sensitive_features": grp, "sample_weight": w}
    assert dval(d, "grp", "accuracy_difference")["value"] == pytest.approx(
        flm.accuracy_score_difference(y, pred, **kw), abs=TOL)
    assert dval(d, "grp", "error_rate_ratio")["value"] == pytest.approx(
        flm.zero_one_loss_ratio(y, pred, **kw), abs=TOL)
    # reweighed: Fairlearn with Kamiran-Calders weights P(g) P(y) / P(g, y) (times the row weights)
    frame = pd.DataFrame({"g": grp, "y": y, "w": np.ones(n) if w is None else w})
    share = frame.groupby(["g", "y"]).w.sum() / frame.w.sum()
    pg, py = share.groupby(level=0).sum(), share.groupby(level=1).sum()
    kc = np.array([pg[a] * py[b] / share[(a, b)] for a, b in zip(grp, y, strict=True)]) * frame.w.to_numpy()
    assert dval(d, "grp", "accuracy_difference", "reweighed")["value"] == pytest.approx(
        flm.accuracy_score_difference(y, pred, sensitive_features=grp, sample_weight=kc), abs=TOL)


def test_table_shape_and_charts() -> None:
    y, s, groups, _ = binary_data(600)
    rows = make_rows("binary", y, s, groups)
    out = analyse_fairness(rows, FairnessSpec(attributes=["race", "sex"]), ["race", "sex", "race x sex"])
    g, d = out.tables["fairness_groups"], out.tables["fairness"]
    assert list(g.columns) == GROUP_COLUMNS and list(d.columns) == DISPARITY_COLUMNS
    assert g.flag.dtype == bool and d.flag.dtype == bool and g.n.dtype == np.int64
    assert set(d.variant) == {"original", "reweighed"}
    chart = out.charts["groups"]["m"]
    assert list(chart) == ["race", "sex", "race x sex"]
    entry = next(e for e in chart["race"] if e["group"] == "Black")
    row = gval(g, "race", "Black", "tpr")
    assert entry["n"] == int((groups["race"] == "Black").sum())
    assert (entry["tpr"], entry["tpr_low"], entry["tpr_high"]) == (row.value, row.ci_low, row.ci_high)
    assert {"selection_rate", "fpr", "selection_rate_high"} <= set(entry)


# ---- 2. COMPAS (ProPublica) ---------------------------------------------------------------------


@pytest.mark.skipif(not COMPAS.is_file(), reason=f"shared data not found at {COMPAS} (CI always has "
                    "../shared; run the tests from a checkout beside it)")
def test_compas_propublica_rates() -> None:
    """ProPublica's "Compas Analysis.ipynb" (propublica/compas-analysis): "That number is higher
    for African Americans at 44.85%", "And lower for whites at 23.45%" (false positive rates),
    and false negative rates 27.99 (Black) and 47.72 (White) ("47.72 / 27.99"). All 7,214
    rows, high risk = score_text != "Low"."""
    df = pd.read_csv(COMPAS)
    assert len(df) == 7214
    high = (df.score_text != "Low").to_numpy()
    rows = make_rows("binary", df.two_year_recid.to_numpy().astype(np.int8), high.astype(float),
                     {"race": df.race.to_numpy()}, min_slice_size=30)
    g, d = run(rows)
    for race, fpr, fnr, n in (("African-American", 44.85, 27.99, 3696), ("Caucasian", 23.45, 47.72, 2454)):
        assert round(100 * gval(g, "race", race, "fpr")["value"], 2) == fpr
        assert round(100 * gval(g, "race", race, "fnr")["value"], 2) == fnr
        assert gval(g, "race", race, "fpr")["n"] == n
    # "black defendants are 91% more likely ... than white defendants" (44.85 / 23.45)
    ratio = gval(g, "race", "African-American", "fpr")["value"] / gval(g, "race", "Caucasian", "fpr")["value"]
    assert round(ratio, 2) == 1.91
    # Native American (18 rows) is below min_slice_size=30: reported, not compared
    assert (g[g.group == "Native American"].status == "too_small").all()
    eo = dval(d, "race", "equalized_odds_difference")
    assert "Native American (n=18)" in eo["note"]
    kept = df.race != "Native American"
    assert eo["value"] == pytest.approx(flm.equalized_odds_difference(
        df.two_year_recid[kept], high[kept], sensitive_features=df.race[kept]), abs=TOL)
    assert eo["ci_low"] < eo["value"] < eo["ci_high"]


# ---- 3. German credit ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    if not GERMAN.is_file():
        pytest.skip(f"shared data not found at {GERMAN} (CI always has ../shared)")
    df = pd.read_csv(GERMAN)
    sex = {"A91": "male", "A93": "male", "A94": "male", "A92": "female", "A95": "female"}
    return df.assign(sex=df.personal_status.map(sex), good=(df.credit == 1).astype(np.int8),
                     age_group=np.where(df.age > 25, "over 25", "25 or under"))


def test_german_credit_disparate_impact(german: pd.DataFrame) -> None:
    assert german.sex.value_counts().to_dict() == {"male": 690, "female": 310}
    good = german.good.to_numpy()
    rows = make_rows("binary", good, good.astype(float), {"sex": german.sex.to_numpy()}, min_slice_size=30)
    g, d = run(rows, reference={"sex": "male"})
    n_f, n_m = (int(((german.sex == s) & (german.good == 1)).sum()) for s in ("female", "male"))
    assert (n_f, n_m) == (201, 499)
    hand = (201 / 310) / (499 / 690)
    assert gval(g, "sex", "female", "selection_rate")["value"] == pytest.approx(201 / 310, abs=TOL)
    assert gval(g, "sex", "female", "impact_ratio")["value"] == pytest.approx(hand, abs=TOL)
    ff = dval(d, "sex", "four_fifths_ratio")
    assert ff["value"] == pytest.approx(hand, abs=TOL) and round(hand, 4) == 0.8966
    assert ff["value"] == pytest.approx(flm.demographic_parity_ratio(
        good, good, sensitive_features=german.sex), abs=TOL)
    assert ff["reference"] == "male" and not ff["flag"]  # 0.897 >= 0.8
    assert ff["ci_low"] < hand < ff["ci_high"]


def test_german_credit_logistic_regression(german: pd.DataFrame) -> None:
    features = pd.get_dummies(german.drop(columns=["credit", "good", "sex", "age_group"]), dtype=float)
    features = (features - features.mean()) / features.std()
    p = cross_val_predict(LogisticRegression(max_iter=2000), features, german.good, cv=5,
                          method="predict_proba")[:, 1]
    groups = {"sex": german.sex.to_numpy(), "age_group": german.age_group.to_numpy(),
              "sex x age_group": (german.sex + " & " + german.age_group).to_numpy()}
    g, d = run(make_rows("binary", german.good.to_numpy(), p, groups, min_slice_size=30))
    pred = (p >= 0.5).astype(int)
    y = german.good.to_numpy()
    for dim in groups:
        sf = sens({"sex": german.sex, "age_group": german.age_group}, dim)
        mf = flm.MetricFrame(metrics={"precision": precision_score}, y_true=y, y_pred=pred,
                             sensitive_features=sf)
        assert len(mf.by_group) == (4 if " x " in dim else 2)
        checks = {"demographic_parity_difference": flm.demographic_parity_difference,
                  "demographic_parity_ratio": flm.demographic_parity_ratio,
                  "equalized_odds_difference": flm.equalized_odds_difference,
                  "equalized_odds_ratio": flm.equalized_odds_ratio,
                  "equal_opportunity_difference": flm.equal_opportunity_difference}
        for metric, fn in checks.items():
            assert dval(d, dim, metric)["value"] == pytest.approx(fn(y, pred, sensitive_features=sf), abs=TOL)
        assert dval(d, dim, "predictive_parity_difference")["value"] == pytest.approx(
            mf.difference()["precision"], abs=TOL)


# ---- 4. intervals -------------------------------------------------------------------------------


def _brute_force_se(y, pred, grp, w, reps: int, seed: int) -> dict[str, float]:
    """SEs of DP and EO differences from a multinomial row bootstrap (rows resampled)."""
    rng = np.random.default_rng(seed)
    levels, code = np.unique(grp, return_inverse=True)
    k = len(levels)
    w = np.ones(len(y)) if w is None else w
    dp, eo = [], []
    for _ in range(reps):
        i = rng.integers(0, len(y), size=len(y))
        c, yy, pp, ww = code[i], y[i], pred[i], w[i]
        tot = np.bincount(c, ww, k)
        sel = np.bincount(c, ww * pp, k) / tot
        tpr = np.bincount(c, ww * pp * yy, k) / np.bincount(c, ww * yy, k)
        fpr = np.bincount(c, ww * pp * (1 - yy), k) / np.bincount(c, ww * (1 - yy), k)
        dp.append(sel.max() - sel.min())
        eo.append(max(tpr.max() - tpr.min(), fpr.max() - fpr.min()))
    return {"demographic_parity_difference": float(np.std(dp, ddof=1)),
            "equalized_odds_difference": float(np.std(eo, ddof=1))}


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_se_matches_brute_force_row_bootstrap(weighted: bool) -> None:
    y, s, groups, w = binary_data(1500, seed=11)
    w = w if weighted else None
    rows = make_rows("binary", y, s, {"race": groups["race"]}, w=w, replicates=2000)
    out = analyse_fairness(rows, FairnessSpec(attributes=["race"]), ["race"])
    d = out.tables["fairness"]
    brute = _brute_force_se(y.astype(float), (s >= 0.5).astype(float), groups["race"], w, 2000, 1)
    z = 2 * 1.959963984540054
    for metric, se in brute.items():
        row = dval(d, "race", metric)
        # the percentile interval's width / (2 z) estimates the bootstrap SE
        assert (row["ci_high"] - row["ci_low"]) / z == pytest.approx(se, rel=0.10), metric


def test_regression_bootstrap_se_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    n = 1200
    grp = rng.choice(["a", "b"], n)
    y = rng.normal(size=n)
    p = y + rng.normal(size=n) * np.where(grp == "a", 1.0, 1.4)
    d = run(make_rows("regression", y, p, {"grp": grp}, replicates=2000))[1]
    ae = np.abs(p - y)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, n, size=n)
        m = [ae[i][grp[i] == k].mean() for k in ("a", "b")]
        boot.append(max(m) - min(m))
    row = dval(d, "grp", "mae_difference")
    assert (row["ci_high"] - row["ci_low"]) / (2 * 1.959963984540054) == pytest.approx(np.std(boot, ddof=1),
                                                                                      rel=0.10)


@pytest.mark.parametrize("weighted", [False, True])
def test_wilson_bounds_match_statsmodels(weighted: bool) -> None:
    y, s, groups, w = binary_data(800, seed=4)
    w = w if weighted else None
    g = run(make_rows("binary", y, s, {"sex": groups["sex"]}, w=w))[0]
    pred = s >= 0.5
    for sex in ("Female", "Male"):
        m = groups["sex"] == sex
        ww = np.ones(m.sum()) if w is None else w[m]
        for metric, den in (("selection_rate", np.ones(m.sum(), bool)), ("tpr", y[m] == 1)):
            num = pred[m] & den
            p = ww[num].sum() / ww[den].sum()
            n_eff = ww[den].sum() ** 2 / (ww[den] ** 2).sum()  # Kish
            lo, hi = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
            row = gval(g, "sex", sex, metric)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
            assert row["method"] == ("wilson (Kish effective n)" if weighted else "wilson")


def test_coverage_of_demographic_parity_difference() -> None:
    """300 seeded data sets, two groups of 300 with selection rates 0.30 and 0.45."""
    rng = np.random.default_rng(2024)
    truth, hits = 0.15, 0
    grp = np.repeat(["a", "b"], 300)
    for i in range(300):
        pred = rng.uniform(size=600) < np.where(grp == "a", 0.30, 0.45)
        y = rng.integers(0, 2, size=600)
        rows = make_rows("binary", y, pred.astype(float), {"g": grp}, replicates=400, seed=(i,))
        out = analyse_fairness(rows, FairnessSpec(attributes=["g"], reweigh=False), ["g"])
        row = dval(out.tables["fairness"], "g", "demographic_parity_difference")
        hits += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.90 <= hits / 300 <= 0.99


# ---- 5. edge cases -----------------------------------------------------------------------------


def test_group_without_positive_labels() -> None:
    rng = np.random.default_rng(8)
    grp = np.repeat(["a", "b", "c"], 100)
    y = rng.integers(0, 2, size=300)
    y[grp == "c"] = 0
    s = rng.uniform(size=300)
    g, d = run(make_rows("binary", y, s, {"grp": grp}))
    tpr = gval(g, "grp", "c", "tpr")
    assert tpr["status"] == "undefined" and "no positive labels" in tpr["note"] and math.isnan(tpr["value"])
    for metric in ("equalized_odds_difference", "equalized_odds_ratio", "equal_opportunity_difference"):
        row = dval(d, "grp", metric)
        assert row["status"] == "undefined" and "tpr is undefined for c" in row["note"]
    dp = dval(d, "grp", "demographic_parity_difference")
    assert dp["status"] == "ok"
    expected = flm.demographic_parity_difference(y, s >= 0.5, sensitive_features=grp)
    assert dp["value"] == pytest.approx(expected, abs=TOL)


def test_all_selection_rates_zero() -> None:
    rng = np.random.default_rng(17)
    grp = np.repeat(["a", "b"], 100)
    y = rng.integers(0, 2, size=200)
    g, d = run(make_rows("binary", y, np.zeros(200), {"grp": grp}))
    for metric in ("demographic_parity_ratio",):
        row = dval(d, "grp", metric)
        assert row["status"] == "undefined" and "every group's selection_rate is 0" in row["note"]
    assert "has selection rate 0" in dval(d, "grp", "four_fifths_ratio")["note"]
    assert dval(d, "grp", "demographic_parity_difference")["value"] == 0.0
    assert (g[g.metric == "impact_ratio"].status == "undefined").all()
    assert dval(d, "grp", "predictive_parity_difference")["status"] == "undefined"  # no predicted positives


def test_single_group_and_too_small_group() -> None:
    rng = np.random.default_rng(9)
    grp = np.array(["big"] * 200 + ["tiny"] * 5)
    y, s = rng.integers(0, 2, size=205), rng.uniform(size=205)
    g, d = run(make_rows("binary", y, s, {"grp": grp}, min_slice_size=30))
    tiny = g[g.group == "tiny"]
    assert (tiny.status == "too_small").all() and tiny.value.isna().all()
    assert set(tiny.metric) == {"selection_rate", "tpr", "fpr", "fnr", "precision", "base_rate",
                                "impact_ratio"}
    assert (d.status == "undefined").all()
    assert d.note.str.contains("only one group (big)", regex=False).all()
    assert d.note.str.contains(r"left out \(fewer than min_group_size=30 rows\): tiny \(n=5\)").all()
    # min_group_size overrides min_slice_size
    d2 = run(make_rows("binary", y, s, {"grp": grp}, min_slice_size=30), min_group_size=5)[1]
    assert (d2.status == "ok").all()
    # one group only: every disparity is undefined, no crash
    d3 = run(make_rows("binary", y[:200], s[:200], {"grp": grp[:200]}))[1]
    assert (d3.status == "undefined").all()


def test_too_small_group_left_out_of_disparities() -> None:
    rng = np.random.default_rng(10)
    grp = np.array(["a"] * 150 + ["b"] * 150 + ["c"] * 10)
    y, s = rng.integers(0, 2, size=310), rng.uniform(size=310)
    d = run(make_rows("binary", y, s, {"grp": grp}, min_slice_size=20))[1]
    keep = grp != "c"
    row = dval(d, "grp", "demographic_parity_difference")
    assert row["value"] == pytest.approx(flm.demographic_parity_difference(
        y[keep], s[keep] >= 0.5, sensitive_features=grp[keep]), abs=TOL)
    assert "c (n=10)" in row["note"]


def test_zero_weights() -> None:
    y, s, groups, w = binary_data(900, seed=12)
    grp = groups["race"]
    w = w.copy()
    w[(grp == "Asian") & (y == 1)] = 0.0  # Asian positives carry no weight
    g, d = run(make_rows("binary", y, s, {"race": grp}, w=w))
    assert gval(g, "race", "Asian", "tpr")["status"] == "undefined"
    assert dval(d, "race", "equal_opportunity_difference")["status"] == "undefined"
    assert dval(d, "race", "demographic_parity_difference")["value"] == pytest.approx(
        flm.demographic_parity_difference(y, s >= 0.5, sensitive_features=grp, sample_weight=w), abs=TOL)
    # a group whose every weight is 0: its rates are undefined and say why
    w2 = np.where(grp == "Asian", 0.0, 1.0)
    g2, d2 = run(make_rows("binary", y, s, {"race": grp}, w=w2))
    sel = gval(g2, "race", "Asian", "selection_rate")
    assert sel["status"] == "undefined" and "total weight of this group is 0" in sel["note"]
    assert dval(d2, "race", "demographic_parity_difference")["status"] == "undefined"
    # weights of all ones give the unweighted values
    g3 = run(make_rows("binary", y, s, {"race": grp}, w=np.ones(len(y))))[0]
    g4 = run(make_rows("binary", y, s, {"race": grp}))[0]
    np.testing.assert_allclose(g3.value, g4.value, rtol=0, atol=TOL)


def test_no_intervals_when_replicates_is_zero() -> None:
    y, s, groups, _ = binary_data(500)
    g, d = run(make_rows("binary", y, s, groups, replicates=0))
    for t in (g, d):
        ok = t[t.status == "ok"]
        assert ok.ci_low.isna().all() and ok.ci_high.isna().all()
        assert ok.method.str.contains("none (intervals: false)", regex=False).all()
    assert not d.value.isna().any()


def test_reweighed_variant_by_hand() -> None:
    """A 2 x 2 table: group a has 6 positives of 10, group b 2 of 10, so
    w(a, 1) = P(a) P(1) / P(a, 1) = 0.5 * 0.4 / 0.3 = 2/3, w(a, 0) = 0.5 * 0.6 / 0.2 = 3/2,
    w(b, 1) = 0.5 * 0.4 / 0.1 = 2, w(b, 0) = 0.5 * 0.6 / 0.4 = 3/4."""
    grp = np.array(["a"] * 10 + ["b"] * 10)
    y = np.array([1] * 6 + [0] * 4 + [1] * 2 + [0] * 8)
    pred = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0] + [1, 0, 1, 1, 0, 0, 0, 0, 0, 0])
    d = run(make_rows("binary", y, pred.astype(float), {"grp": grp}))[1]
    kc = {("a", 1): 2 / 3, ("a", 0): 3 / 2, ("b", 1): 2.0, ("b", 0): 3 / 4}
    w = np.array([kc[(g, int(v))] for g, v in zip(grp, y, strict=True)])
    # by hand: a selects 4 of 6 positives and 1 of 4 negatives, b 1 of 2 and 2 of 8
    sel_a = (4 * 2 / 3 + 1 * 3 / 2) / (6 * 2 / 3 + 4 * 3 / 2)
    sel_b = (1 * 2 + 2 * 3 / 4) / (2 * 2 + 8 * 3 / 4)
    rw = dval(d, "grp", "demographic_parity_difference", "reweighed")
    assert rw["value"] == pytest.approx(abs(sel_a - sel_b), abs=TOL)
    assert rw["value"] == pytest.approx(flm.demographic_parity_difference(
        y, pred, sensitive_features=grp, sample_weight=w), abs=TOL)
    orig = dval(d, "grp", "demographic_parity_difference")
    assert orig["value"] == pytest.approx(0.5 - 0.3, abs=TOL)  # the originals are untouched
    assert "Kamiran & Calders" in rw["note"]
    # TPR and FPR do not move under reweighing
    for metric in ("equalized_odds_difference", "equal_opportunity_difference"):
        assert dval(d, "grp", metric, "reweighed")["value"] == pytest.approx(dval(d, "grp", metric)["value"],
                                                                              abs=TOL)
    assert dval(d, "grp", "predictive_parity_difference", "reweighed")["value"] == pytest.approx(
        flm.MetricFrame(metrics=precision_score, y_true=y, y_pred=pred, sensitive_features=grp,
                        sample_params={"sample_weight": w}).difference(), abs=TOL)
    no_rw = run(make_rows("binary", y, pred.astype(float), {"grp": grp}), reweigh=False)[1]
    assert set(no_rw.variant) == {"original"}


def test_reweighed_weighted_rows_match_fairlearn() -> None:
    y, s, groups, w = binary_data(1000, seed=13)
    grp = groups["race"]
    d = run(make_rows("binary", y, s, {"race": grp}, w=w))[1]
    frame = pd.DataFrame({"g": grp, "y": y, "w": w})
    tot = frame.w.sum()
    pg = frame.groupby("g").w.sum() / tot
    py = frame.groupby("y").w.sum() / tot
    pgy = frame.groupby(["g", "y"]).w.sum() / tot
    kc = np.array([pg[g] * py[v] / pgy[(g, v)] for g, v in zip(grp, y, strict=True)])
    expected = flm.demographic_parity_ratio(y, s >= 0.5, sensitive_features=grp, sample_weight=w * kc)
    got = dval(d, "race", "demographic_parity_ratio", "reweighed")["value"]
    assert got == pytest.approx(expected, abs=TOL)


def test_four_fifths_flag_and_reference() -> None:
    grp = np.repeat(["men", "women"], 400)
    rng = np.random.default_rng(14)
    pred = rng.uniform(size=800) < np.where(grp == "men", 0.6, 0.3)
    y = rng.integers(0, 2, size=800)
    g, d = run(make_rows("binary", y, pred.astype(float), {"sex": grp}))
    ff = dval(d, "sex", "four_fifths_ratio")
    assert ff["flag"] and ff["reference"] == "men" and ff["ci_high"] < 0.8
    assert "upper bound" in ff["note"] and "also below" in ff["note"]
    assert not dval(d, "sex", "four_fifths_ratio", "reweighed")["flag"]  # a what-if never flags
    imp = gval(g, "sex", "women", "impact_ratio")
    assert imp["flag"] and imp["value"] == pytest.approx(ff["value"], abs=TOL)
    assert gval(g, "sex", "men", "impact_ratio")["value"] == 1.0
    assert not g[g.metric != "impact_ratio"].flag.any()
    # an explicit reference that has the higher rate is kept fixed: women / men
    _, d2 = run(make_rows("binary", y, pred.astype(float), {"sex": grp}), reference={"sex": "women"})
    ff2 = dval(d2, "sex", "four_fifths_ratio")
    assert ff2["reference"] == "women" and ff2["value"] == pytest.approx(1.0) and not ff2["flag"]


def test_missing_group_is_kept_and_noted() -> None:
    rng = np.random.default_rng(15)
    grp = rng.choice(["a", "b", "(missing)"], 600)
    y, s = rng.integers(0, 2, size=600), rng.uniform(size=600)
    g, d = run(make_rows("binary", y, s, {"grp": grp}))
    assert list(dict.fromkeys(g.group)) == ["a", "b", "(missing)"]
    assert "no value" in gval(g, "grp", "(missing)", "tpr")["note"]
    assert "includes (missing) as a group" in dval(d, "grp", "demographic_parity_difference")["note"]


def test_deterministic_and_row_order_free() -> None:
    y, s, groups, w = binary_data(700, seed=16)
    key = np.random.default_rng(0).integers(0, 2**63, size=700).astype(np.uint64)
    for weights in (None, w):
        a = run(make_rows("binary", y, s, groups, w=weights, key=key))
        b = run(make_rows("binary", y, s, groups, w=weights, key=key))
        for x, z in zip(a, b, strict=True):
            pd.testing.assert_frame_equal(x, z)
    # keyed multipliers follow the rows: a permutation changes nothing but float rounding
    perm = np.random.default_rng(1).permutation(700)
    c = run(make_rows("binary", y, s, groups, w=w, key=key))
    p = run(make_rows("binary", y[perm], s[perm], {k: v[perm] for k, v in groups.items()}, w=w[perm],
                      key=key[perm]))
    for x, z in zip(c, p, strict=True):
        np.testing.assert_allclose(x[["value", "ci_low", "ci_high"]], z[["value", "ci_low", "ci_high"]],
                                   rtol=1e-9, atol=1e-12)
    # a different seed draws different replicates
    e = run(make_rows("binary", y, s, groups, seed=(8,)))[1]
    assert not np.allclose(e.ci_low, run(make_rows("binary", y, s, groups))[1].ci_low, equal_nan=True)


def test_bad_input_is_named() -> None:
    y, s, groups, w = binary_data(200)
    rows = make_rows("binary", y, s, groups)
    with pytest.raises(InputError, match="no group labels for dimension 'age'"):
        analyse_fairness(rows, FairnessSpec(attributes=["age"]), ["age"])
    with pytest.raises(InputError, match="group 'Martian' of 'race' does not occur"):
        run(rows, reference={"race": "Martian"})
    with pytest.raises(InputError, match="'age' is not a fairness dimension"):
        run(rows, reference={"age": "old"})
    with pytest.raises(InputError, match="must be 0 or 1"):
        run(make_rows("binary", np.full(200, 2), s, groups))
    with pytest.raises(InputError, match="weights"):
        run(make_rows("binary", y, s, groups, w=-w))
    bad = s.copy()
    bad[3] = np.nan
    with pytest.raises(InputError, match="non-finite score values \\(rows 4\\)"):
        run(make_rows("binary", y, bad, groups))
    with pytest.raises(InputError, match="not supported"):
        run(make_rows("ranking", y, s, groups))
