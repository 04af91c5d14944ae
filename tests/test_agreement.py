"""Agreement statistics against independent implementations.

References: scikit-learn (cohen_kappa_score), statsmodels (cohens_kappa variance,
proportion_confint), the ``krippendorff`` package, pingouin (intraclass_corr) and SciPy
(kendalltau, spearmanr, pearsonr); bootstrap intervals against a naive loop that draws the
same resamples and calls the reference on each. HANNA (../shared/data/hanna) is the real data.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa
from statsmodels.stats.proportion import proportion_confint

from assay import InputError
from assay.stats import (
    JUDGE_COLUMNS,
    agreement_rate,
    cohen_kappa,
    icc1,
    judge_agreement,
    krippendorff_alpha,
    percentile_interval,
    system_correlation,
    within_group_correlation,
)

HANNA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hanna" / "hanna_metric_scores_llm.csv"
CRITERIA = ("RE", "CH", "EM", "SU", "EG", "CX")
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning",
                                        "ignore:The inplace keyword")  # pingouin on pandas 3


def _two_raters(seed: int, n: int = 300, k: int = 4, agree: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    b = np.where(rng.random(n) < agree, a, rng.integers(0, k, n))
    return a, b


def _ratings(seed: int, raters: int = 4, units: int = 60, missing: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, units)
    vals = np.clip(truth + rng.integers(-1, 2, (raters, units)), 1, 5).astype(float)
    vals[rng.random(vals.shape) < missing] = np.nan
    return vals


# --------------------------------------------------------------------------- Cohen's kappa


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_sklearn_and_statsmodels_se(seed: int, weights: str | None) -> None:
    a, b = _two_raters(seed, k=3 + seed)
    got = cohen_kappa(a, b, weights=weights)
    assert got.value == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)
    table = pd.crosstab(a, b).reindex(index=range(3 + seed), columns=range(3 + seed), fill_value=0)
    ref = sm_kappa(table.to_numpy(), wt=weights) if weights else sm_kappa(table.to_numpy())
    assert got.value == pytest.approx(ref.kappa, abs=1e-12)
    assert got.se == pytest.approx(ref.std_kappa, rel=1e-10)
    assert got.ci_low == pytest.approx(got.value - 1.959963984540054 * got.se, abs=1e-12)
    assert got.ci_high == pytest.approx(got.value + 1.959963984540054 * got.se, abs=1e-12)
    assert (got.n, got.n_excluded, got.status) == (300, 0, "ok")
    # observed / expected agreement: unweighted they are p_o and the chance agreement
    if weights is None:
        assert got.observed == pytest.approx(np.mean(a == b))
        pa, pb = np.bincount(a, minlength=3 + seed) / 300, np.bincount(b, minlength=3 + seed) / 300
        assert got.expected == pytest.approx(float(pa @ pb))


def test_kappa_string_labels_and_explicit_labels() -> None:
    a, b = _two_raters(5, k=3)
    names = np.array(["bad", "ok", "good"])
    got = cohen_kappa(names[a], names[b], weights="linear", labels=["bad", "ok", "good"])
    assert got.value == pytest.approx(cohen_kappa_score(a, b, weights="linear"), abs=1e-12)
    # unobserved categories in labels change weighted distances exactly as sklearn does
    got = cohen_kappa(a, b, weights="quadratic", labels=[0, 1, 2, 7])
    ref = cohen_kappa_score(a, b, weights="quadratic", labels=[0, 1, 2, 7])
    assert got.value == pytest.approx(ref, abs=1e-12)


def test_kappa_missing_pairs_are_left_out_and_counted() -> None:
    a, b = _two_raters(7)
    af, bf = a.astype(object), b.astype(float)
    af[[3, 10]] = None
    bf[[10, 20, 30]] = np.nan
    got = cohen_kappa(af, bf)
    keep = np.ones(a.size, bool)
    keep[[3, 10, 20, 30]] = False
    assert got.value == pytest.approx(cohen_kappa_score(a[keep], b[keep]), abs=1e-12)
    assert (got.n, got.n_excluded) == (a.size - 4, 4)
    assert "4 pairs with a missing rating left out" in got.note


def test_kappa_edge_cases() -> None:
    one = cohen_kappa(["x"] * 5, ["x"] * 5)
    assert math.isnan(one.value) and one.status == "undefined" and "undefined" in one.note
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that kappa is undefined: the point here
        assert math.isnan(cohen_kappa_score(["x"] * 5, ["x"] * 5, replace_undefined_by=np.nan))
    perfect = cohen_kappa([1, 2, 3, 1], [1, 2, 3, 1])
    assert (perfect.value, perfect.ci_low, perfect.ci_high, perfect.se) == (1.0, 1.0, 1.0, 0.0)
    opposite = cohen_kappa([0, 0, 1, 1], [1, 1, 0, 0])
    assert opposite.value == pytest.approx(cohen_kappa_score([0, 0, 1, 1], [1, 1, 0, 0]))
    nothing = cohen_kappa([None, 1], [2, np.nan])
    assert nothing.status == "undefined" and (nothing.n, nothing.n_excluded) == (0, 2)
    with pytest.raises(InputError, match="not in labels"):
        cohen_kappa([1, 2, 3], [1, 2, 2], labels=[1, 2])
    with pytest.raises(InputError, match="same items"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(InputError, match="empty"):
        cohen_kappa([], [])
    with pytest.raises(InputError, match="'weights' parameter"):
        cohen_kappa([1], [1], weights="cubic")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="confidence"):
        cohen_kappa([1, 2], [1, 2], confidence=95)


def test_agreement_rate_wilson() -> None:
    a, b = _two_raters(11, n=137)
    got = agreement_rate(a, b, confidence=0.9)
    hits = int((a == b).sum())
    lo, hi = proportion_confint(hits, 137, alpha=0.1, method="wilson")
    assert got.value == hits / 137 and got.n == 137
    assert (got.ci_low, got.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert agreement_rate([1, None, 2], [1, 2, 3]).n_excluded == 1


# --------------------------------------------------------------------------- judge table


def test_judge_agreement_table_overall_and_per_tag() -> None:
    rng = np.random.default_rng(3)
    human = rng.integers(1, 6, 200)
    judge = np.clip(human + rng.integers(-1, 2, 200), 1, 5).astype(object)
    judge[5] = None
    tags = [["math", "long"] if i % 3 == 0 else ("code" if i % 3 == 1 else []) for i in range(200)]
    tab = judge_agreement(judge, human, groups=tags, kind="ordinal")
    assert tuple(tab.columns) == JUDGE_COLUMNS
    assert tab["group"].tolist()[:2] == ["overall", "overall"]
    assert set(tab["group"]) == {"overall", "code", "long", "math"}
    assert set(tab["statistic"]) == {"accuracy", "weighted_kappa_quadratic"}
    for group, idx in {"overall": np.arange(200), "code": np.arange(1, 200, 3),
                       "math": np.arange(0, 200, 3)}.items():
        idx = idx[idx != 5]
        rows = tab[tab["group"] == group].set_index("statistic")
        ref = cohen_kappa_score(judge[idx].astype(int), human[idx], weights="quadratic",
                                labels=[1, 2, 3, 4, 5])
        assert rows.loc["weighted_kappa_quadratic", "value"] == pytest.approx(ref, abs=1e-12)
        assert rows.loc["accuracy", "value"] == pytest.approx(np.mean(judge[idx].astype(int) == human[idx]))
        assert rows.loc["accuracy", "n"] == idx.size
    assert tab.loc[tab["group"] == "overall", "n_excluded"].tolist() == [1, 1]
    nominal = judge_agreement(judge, human, kind="nominal")
    assert nominal["statistic"].tolist() == ["accuracy", "cohen_kappa"]
    assert set(nominal["group"]) == {"overall"}
    # a group whose items all share one label has an undefined kappa, reported as such
    undefined = judge_agreement(["a", "a", "b"], ["a", "a", "b"], groups=["g", "g", "h"])
    row = undefined[(undefined["group"] == "g") & (undefined["statistic"] == "cohen_kappa")].iloc[0]
    assert row["status"] == "undefined" and math.isnan(row["value"])
    with pytest.raises(InputError, match="'kind' parameter"):
        judge_agreement([1], [1], kind="interval")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="groups has 2 entries"):
        judge_agreement([1, 2, 3], [1, 2, 3], groups=["a", "b"])


# --------------------------------------------------------------------------- Krippendorff


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff(seed: int, level: str) -> None:
    vals = _ratings(seed, raters=3 + seed, units=40 + 20 * seed)
    got = krippendorff_alpha(vals, level=level, replicates=0)
    ref = krippendorff.alpha(reliability_data=vals, level_of_measurement=level)
    assert got.value == pytest.approx(ref, abs=1e-12)
    lone = (~np.isnan(vals)).sum(axis=0) < 2
    assert (got.n, got.n_excluded) == (int((~lone).sum()), int(lone.sum()))
    assert math.isnan(got.ci_low)
    # continuous values (many distinct) take the closed-form interval path and the dense path
    cont = vals + np.random.default_rng(seed).normal(0, 0.3, vals.shape)
    ref = krippendorff.alpha(reliability_data=cont, level_of_measurement=level)
    assert krippendorff_alpha(cont, level=level, replicates=0).value == pytest.approx(ref, abs=1e-10)


def test_alpha_bootstrap_equals_naive_unit_resampling() -> None:
    vals = _ratings(4, raters=3, units=50)
    for level in ("ordinal", "interval"):
        got = krippendorff_alpha(vals, level=level, replicates=200, seed=9)
        used = vals[:, (~np.isnan(vals)).sum(axis=0) >= 2]
        u = used.shape[1]
        draws = np.random.default_rng(9).multinomial(u, np.full(u, 1.0 / u), size=200)
        reps = [krippendorff.alpha(reliability_data=np.repeat(used, w, axis=1), level_of_measurement=level)
                for w in draws]
        ref = percentile_interval(np.array(reps), 0.95, upper=1.0)
        assert got.ci_low == pytest.approx(ref.low, abs=1e-10)
        assert got.ci_high == pytest.approx(ref.high, abs=1e-10)
        assert got.ci_low < got.value < got.ci_high
    again = krippendorff_alpha(vals, level="ordinal", replicates=200, seed=9)
    assert again == krippendorff_alpha(vals, level="ordinal", replicates=200, seed=9)
    assert again.ci_low != krippendorff_alpha(vals, level="ordinal", replicates=200, seed=10).ci_low


def test_alpha_long_table_labels_and_edge_cases() -> None:
    vals = _ratings(6, raters=3, units=30)
    r, u = np.nonzero(~np.isnan(vals))
    long = pd.DataFrame({"item": u, "who": r, "score": vals[r, u]})
    got = krippendorff_alpha(long, level="ordinal", unit="item", rater="who", value="score", replicates=0)
    assert got.value == pytest.approx(krippendorff.alpha(vals, level_of_measurement="ordinal"), abs=1e-12)
    names = np.array(["cat", "dog", "eel", "fox", "gnu"], dtype=object)
    labelled = np.where(np.isnan(vals), None, names[np.nan_to_num(vals, nan=1).astype(int) - 1])
    nominal = krippendorff_alpha(labelled, level="nominal", replicates=0)
    assert nominal.value == pytest.approx(krippendorff.alpha(vals, level_of_measurement="nominal"), abs=1e-12)
    as_list = [["a", "b", np.nan, "a"], ["a", "c", "c", np.nan]]  # NaN stays missing in a str list
    ref = krippendorff.alpha([[0, 1, np.nan, 0], [0, 2, 2, np.nan]], level_of_measurement="nominal")
    assert krippendorff_alpha(as_list, replicates=0).value == pytest.approx(ref, abs=1e-12)
    same = krippendorff_alpha([[1, 1, 1], [1, 1, np.nan]], replicates=0)
    assert same.status == "undefined" and "no variation" in same.note
    single = krippendorff_alpha([[1, 2, np.nan], [np.nan, np.nan, 3]], replicates=0)
    assert single.status == "undefined" and single.n_excluded == 3
    with pytest.raises(InputError, match="'level' parameter"):
        krippendorff_alpha(vals, level="cardinal")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be numbers"):
        krippendorff_alpha(labelled, level="ordinal")
    with pytest.raises(InputError, match="no column 'unit'"):
        krippendorff_alpha(long)
    with pytest.raises(InputError, match="duplicate"):
        krippendorff_alpha(pd.concat([long, long.head(1)]), unit="item", rater="who", value="score")
    with pytest.raises(InputError, match="replicates"):
        krippendorff_alpha(vals, replicates=10)


# --------------------------------------------------------------------------- ICC(1)


def _pingouin_icc(vals: np.ndarray) -> pd.DataFrame:
    k, n = vals.shape
    long = pd.DataFrame({"t": np.tile(np.arange(n), k), "r": np.repeat(np.arange(k), n), "v": vals.ravel()})
    old = pingouin.options["round.column.CI95"]
    pingouin.options["round.column.CI95"] = None
    try:
        return pingouin.intraclass_corr(long, "t", "r", "v", nan_policy="omit").set_index("Type")
    finally:
        pingouin.options["round.column.CI95"] = old


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_icc1_matches_pingouin(seed: int) -> None:
    vals = _ratings(seed, raters=2 + seed, units=25 + 10 * seed, missing=0.05 if seed % 2 else 0.0)
    got = icc1(vals)
    ref = _pingouin_icc(vals)
    for est, row in ((got.single, "ICC(1,1)"), (got.average, "ICC(1,k)")):
        assert est.value == pytest.approx(ref.loc[row, "ICC"], abs=1e-12)
        assert est.ci_low == pytest.approx(ref.loc[row, "CI95"][0], abs=1e-12)
        assert est.ci_high == pytest.approx(ref.loc[row, "CI95"][1], abs=1e-12)
    assert got.f == pytest.approx(ref.loc["ICC(1,1)", "F"]) and got.df2 == ref.loc["ICC(1,1)", "df2"]
    incomplete = int(np.isnan(vals).any(axis=0).sum())
    assert (got.single.n, got.single.n_excluded) == (vals.shape[1] - incomplete, incomplete)


def test_icc1_edge_cases() -> None:
    with pytest.raises(InputError, match="at least 2 raters"):
        icc1([[1.0, 2.0, 3.0]])
    assert icc1([[2, 2, 2], [2, 2, 2]]).single.status == "undefined"
    assert icc1([[1, 2], [np.nan, 2]]).single.status == "undefined"  # one complete unit
    perfect = icc1([[1, 2, 3], [1, 2, 3]])
    assert (perfect.single.value, perfect.single.ci_low, perfect.average.ci_high) == (1.0, 1.0, 1.0)


# --------------------------------------------------------------------------- correlations


def _story_data(seed: int, prompts: int = 30, systems: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g, s = np.repeat(np.arange(prompts), systems), np.tile(np.arange(systems), prompts)
    human = rng.integers(1, 6, g.size).astype(float)
    metric = human + rng.normal(0, 1.5, g.size) + 0.2 * s
    metric[rng.random(g.size) < 0.05] = np.nan
    return pd.DataFrame({"g": g, "s": s, "x": metric, "y": human, "c": g // 5})


@pytest.mark.parametrize("method", ["kendall", "spearman", "pearson"])
def test_within_group_correlation_matches_scipy(method: str) -> None:
    df = _story_data(1)
    df.loc[df["g"] == 3, "y"] = 2.0  # constant human score: undefined there, left out and counted
    fn = {"kendall": st.kendalltau, "spearman": st.spearmanr, "pearson": st.pearsonr}[method]
    got = within_group_correlation(df["x"], df["y"], df["g"], method=method, replicates=300, seed=2)
    ok = df.dropna()
    per = {g: fn(sub["x"], sub["y"])[0] for g, sub in ok.groupby("g") if g != 3}
    for g, r in per.items():
        assert got.parts[g] == pytest.approx(r, abs=1e-12)
    assert math.isnan(got.parts[3]) and (got.n, got.n_excluded) == (29, 1)
    assert got.value == pytest.approx(np.mean(list(per.values())), abs=1e-12)
    # bootstrap over groups = a naive loop over the same draws
    r = np.array(list(per.values()))
    draws = np.random.default_rng(2).multinomial(r.size, np.full(r.size, 1 / r.size), size=300)
    ref = percentile_interval(np.array([np.repeat(r, w).mean() for w in draws]), 0.95, -1, 1)
    assert (got.ci_low, got.ci_high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    clustered = within_group_correlation(df["x"], df["y"], df["g"], cluster=df["c"], method=method,
                                         replicates=300, seed=2)
    assert clustered.value == got.value and clustered.method.endswith("clusters")
    with pytest.raises(InputError, match="inside one cluster"):
        within_group_correlation(df["x"], df["y"], df["g"], cluster=df["s"])


def test_system_correlation_matches_scipy_and_naive_bootstrap() -> None:
    df = _story_data(2)
    got = system_correlation(df["x"], df["y"], df["s"], df["g"], method="kendall", replicates=200, seed=4)
    ok = df.dropna()
    means = ok.groupby("s")[["x", "y"]].mean()
    assert got.value == pytest.approx(st.kendalltau(means["x"], means["y"])[0], abs=1e-12)
    assert got.n == 6 and "left out" in got.note
    prompts = np.sort(ok["g"].unique())
    p = prompts.size
    draws = np.random.default_rng(4).multinomial(p, np.full(p, 1 / p), size=200)
    reps = []
    for w in draws:
        boot = pd.concat([ok[ok["g"] == p] for p, c in zip(prompts, w, strict=True) for _ in range(c)])
        m = boot.groupby("s")[["x", "y"]].mean()
        reps.append(st.kendalltau(m["x"], m["y"])[0])
    ref = percentile_interval(np.array(reps), 0.95, -1, 1)
    assert (got.ci_low, got.ci_high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    by_sys = system_correlation(df["x"], df["y"], df["s"], df["g"], resample="systems", replicates=200)
    assert by_sys.value == got.value and not math.isnan(by_sys.ci_low)
    with pytest.raises(InputError, match="'method' parameter"):
        system_correlation(df["x"], df["y"], df["s"], df["g"], method="tau")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- HANNA


@pytest.fixture(scope="module")
def hanna() -> pd.DataFrame:
    if not HANNA.is_file():
        pytest.skip(f"HANNA not found at {HANNA} (CI always has ../shared; run from a checkout beside it)")
    raw = pd.read_csv(HANNA)
    cols = [f"Human {i} {c}" for i in (1, 2, 3) for c in CRITERIA] + ["Relevance", "ChatGPT RE 1",
                                                                      "BERTScore F1 Ξε"]
    out = {c: np.array([json.loads(v) for v in raw[c]], dtype=float).ravel() for c in cols}
    out["system"] = np.repeat(raw["Model"].to_numpy(), 96)
    out["prompt"] = np.tile(np.arange(96), len(raw))
    return pd.DataFrame(out)


@pytest.mark.parametrize("crit", CRITERIA)
def test_hanna_human_agreement(hanna: pd.DataFrame, crit: str) -> None:
    vals = hanna[[f"Human {i} {crit}" for i in (1, 2, 3)]].to_numpy().T
    assert vals.shape == (3, 1056)
    got = krippendorff_alpha(vals, level="ordinal", replicates=200, seed=0)
    assert got.value == pytest.approx(krippendorff.alpha(vals, level_of_measurement="ordinal"), abs=1e-12)
    assert got.ci_low < got.value < got.ci_high and got.n == 1056
    ref = _pingouin_icc(vals)
    res = icc1(vals)
    assert res.single.value == pytest.approx(ref.loc["ICC(1,1)", "ICC"], abs=1e-12)
    assert res.average.ci_low == pytest.approx(ref.loc["ICC(1,k)", "CI95"][0], abs=1e-12)


def test_hanna_judge_and_metric_vs_humans(hanna: pd.DataFrame) -> None:
    # ChatGPT's RE rating (mean of its answers) and the human mean, both rounded half up to 1..5
    judge = np.floor(hanna["ChatGPT RE 1"] + 0.5).astype(int)
    human = np.floor(hanna["Relevance"] + 0.5).astype(int)
    tab = judge_agreement(judge, human, groups=hanna["system"], kind="ordinal", labels=[1, 2, 3, 4, 5])
    overall = tab[tab["group"] == "overall"].set_index("statistic")
    ref = cohen_kappa_score(judge, human, weights="quadratic")
    assert overall.loc["weighted_kappa_quadratic", "value"] == pytest.approx(ref, abs=1e-12)
    assert overall.loc["accuracy", "value"] == pytest.approx(np.mean(judge == human))
    assert len(tab) == 2 * 12
    gen = hanna[hanna["system"] != "Human"]
    story = within_group_correlation(gen["BERTScore F1 Ξε"], gen["Relevance"], gen["prompt"], replicates=200)
    per = [st.kendalltau(s["BERTScore F1 Ξε"], s["Relevance"])[0] for _, s in gen.groupby("prompt")]
    assert story.value == pytest.approx(np.nanmean(per), abs=1e-12)
    assert story.ci_low < story.value < story.ci_high
