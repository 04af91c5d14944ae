"""Slices: levels, bins, quantiles, predicates, crosses, minimum sizes; values and gaps match
scikit-learn on the slice's rows and on the rest of the rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

import assay

N = 900


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    region = rng.choice(["north", "south", "east", None], N, p=[0.4, 0.3, 0.2, 0.1])
    # channel 'shop' never occurs with region 'east': that cross level must be absent
    channel = np.where(region == "east", "web", rng.choice(["web", "shop"], N))
    x = rng.normal(size=N)
    age = rng.integers(16, 90, N).astype(np.float64)
    age[:7] = np.nan
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-(x + 0.5 * (region == "south"))))).astype(int)
    # scores on a 1/1000 grid: each distinct score gets its own histogram bin, so AUC is exact
    p = np.round(1 / (1 + np.exp(-(0.9 * x + rng.normal(scale=1.0, size=N)))), 3)
    df = pd.DataFrame({"y": y, "region": region, "channel": channel, "x": x, "age": age,
                       "w": rng.uniform(0.2, 3.0, N), "tiny": np.arange(N) < 12})
    return df, p


SLICES = [
    {"column": "region"},
    {"column": "channel"},
    {"column": "age", "bins": [20, 40, 65], "name": "age_band"},
    {"column": "x", "quantiles": 4, "name": "x_q"},
    {"where": "x > 0.5 AND channel = 'web'", "name": "web_high_x"},
    {"where": "tiny", "name": "tiny"},
    {"cross": ["region", "channel"]},
    {"cross": ["channel", "web_high_x"]},
]


@pytest.fixture(scope="module")
def result(frame: tuple[pd.DataFrame, np.ndarray]) -> assay.EvaluationResult:
    df, p = frame
    return assay.evaluate(data=df, label="y", predictions={"m": p}, slices=SLICES,
                          min_slice_size=20, bootstrap=200, seed=3)


def slice_masks(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every slice's rows, computed independently of assay with pandas."""
    q_edges = np.quantile(df.x, np.linspace(0, 1, 5), method="lower")  # quantile_disc
    masks: dict[str, np.ndarray] = {}
    for r in ["east", "north", "south"]:
        masks[f"region={r}"] = (df.region == r).to_numpy()
    masks["region=(missing)"] = df.region.isna().to_numpy()
    for c in ["shop", "web"]:
        masks[f"channel={c}"] = (df.channel == c).to_numpy()
    age = df.age.to_numpy()
    masks["age_band=[20, 40)"] = (age >= 20) & (age < 40)
    masks["age_band=[40, 65)"] = (age >= 40) & (age < 65)
    masks["age_band=(outside bins)"] = (age < 20) | (age >= 65)
    masks["age_band=(missing)"] = np.isnan(age)
    x = df.x.to_numpy()
    for i in range(4):
        lo, hi = q_edges[i], q_edges[i + 1]
        last = i == 3
        label = f"x_q=[{lo:g}, {hi:g}{']' if last else ')'}"
        masks[label] = (x >= lo) & ((x <= hi) if last else (x < hi))
    hx = ((df.x > 0.5) & (df.channel == "web")).to_numpy()
    masks["web_high_x"] = hx
    masks["tiny"] = df.tiny.to_numpy()
    for r in ["east", "north", "south", "(missing)"]:
        for c in ["shop", "web"]:
            m = masks[f"region={r}"] & masks[f"channel={c}"]
            if m.any():
                masks[f"region={r} & channel={c}"] = m
    for c in ["shop", "web"]:
        for name, m in (("not web_high_x", ~hx), ("web_high_x", hx)):
            both = masks[f"channel={c}"] & m
            if both.any():
                masks[f"channel={c} & {name}"] = both
    return masks


def acc(df: pd.DataFrame, p: np.ndarray, m: np.ndarray, w: np.ndarray | None = None) -> float:
    return skm.accuracy_score(df.y[m], p[m] >= 0.5, sample_weight=None if w is None else w[m])


# ---- levels ----------------------------------------------------------------------------------


def test_every_slice_listed_with_its_size(result: assay.EvaluationResult,
                                          frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    masks = slice_masks(df)
    sizes = result.slice_sizes["m"]
    assert sizes.pop("overall") == N
    assert sizes == {k: int(v.sum()) for k, v in masks.items()}
    got = result.table.drop_duplicates("slice").set_index("slice")["n"].to_dict()
    assert got == {"overall": N, **{k: int(v.sum()) for k, v in masks.items()}}


def test_null_values_form_the_missing_level(result: assay.EvaluationResult) -> None:
    row = result.row("accuracy", slice="region=(missing)")
    assert row["dimension"] == "region" and row["level"] == "(missing)"
    assert row["n"] > 0


def test_bins_outside_and_missing(result: assay.EvaluationResult,
                                  frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    levels = result.table[result.table.dimension == "age_band"].level.unique().tolist()
    assert levels == ["[20, 40)", "[40, 65)", "(outside bins)", "(missing)"]
    assert result.row("accuracy", slice="age_band=(missing)")["n"] == 7
    age = df.age
    assert result.row("accuracy", slice="age_band=(outside bins)")["n"] == int(
        ((age < 20) | (age >= 65)).sum())


def test_quantile_bins(result: assay.EvaluationResult,
                       frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    t = result.table
    q = t[(t.dimension == "x_q") & (t.metric == "accuracy")]
    assert len(q) == 4  # no (outside bins): the edges span the data; no (missing)
    # edges are data values (DuckDB quantile_disc = numpy's "lower"), the last bin closed
    edges = np.quantile(df.x, np.linspace(0, 1, 5), method="lower")
    assert q.level.tolist() == [f"[{edges[i]:g}, {edges[i + 1]:g}{']' if i == 3 else ')'}"
                                for i in range(4)]
    counts = np.histogram(df.x, bins=edges)[0]  # numpy's last bin is closed too
    assert q.n.tolist() == counts.tolist()
    assert q.n.sum() == N
    assert q.n.max() - q.n.min() <= 2  # quartiles of distinct values: equal sizes


def test_where_slice(result: assay.EvaluationResult,
                     frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    row = result.row("accuracy", slice="web_high_x")
    assert row["dimension"] == "web_high_x" and row["level"] == ""
    assert row["n"] == int(((df.x > 0.5) & (df.channel == "web")).sum())
    # a predicate slice reports only the rows matching it, not its complement
    assert not result.table.slice.str.startswith("not ").any()


def test_crosses(result: assay.EvaluationResult) -> None:
    t = result.table
    cross = t[t.dimension == "region x channel"].slice.unique().tolist()
    assert "region=east & channel=web" in cross
    assert "region=east & channel=shop" not in cross  # never occurs: absent, not n=0
    assert "region=(missing) & channel=shop" in cross
    assert set(t[t.dimension == "channel x web_high_x"].slice) == {
        "channel=shop & not web_high_x", "channel=web & not web_high_x",
        "channel=web & web_high_x"}


def test_min_slice_size_lists_small_slices(result: assay.EvaluationResult) -> None:
    t = result.table
    small = t[t.slice.isin(["tiny", "age_band=(missing)"])]
    assert len(small) == 2 * t[t.slice == "overall"].shape[0]
    assert (small.status == "too_small").all()
    assert small.value.isna().all() and small.ci_low.isna().all() and small.gap.isna().all()
    assert set(small.n) == {12, 7}
    assert small.note.str.contains("min_slice_size=20").all()
    big = t[t.n >= 20]
    assert not (big.status == "too_small").any()


def test_overall_slice_always_present(frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, p = frame
    r = assay.evaluate(data=df, label="y", predictions={"m": p}, metrics=["accuracy"],
                       bootstrap=100)
    assert r.table.slice.tolist() == ["overall"]
    r = assay.evaluate(data=df, label="y", predictions={"m": p}, metrics=["accuracy"],
                       bootstrap=100, min_slice_size=10_000, slices=[{"column": "channel"}])
    assert r.table.slice.tolist() == ["overall", "channel=shop", "channel=web"]
    assert r.table.status.tolist() == ["ok", "too_small", "too_small"]  # overall is never too small


# ---- values and gaps against scikit-learn ----------------------------------------------------

SK = {
    "accuracy": lambda y, p, w: skm.accuracy_score(y, p >= 0.5, sample_weight=w),
    "precision": lambda y, p, w: skm.precision_score(y, p >= 0.5, sample_weight=w),
    "recall": lambda y, p, w: skm.recall_score(y, p >= 0.5, sample_weight=w),
    "f1": lambda y, p, w: skm.f1_score(y, p >= 0.5, sample_weight=w),
    "mcc": lambda y, p, w: skm.matthews_corrcoef(y, p >= 0.5, sample_weight=w),
    "balanced_accuracy": lambda y, p, w: skm.balanced_accuracy_score(y, p >= 0.5, sample_weight=w),
    "roc_auc": lambda y, p, w: skm.roc_auc_score(y, p, sample_weight=w),
    "pr_auc": lambda y, p, w: skm.average_precision_score(y, p, sample_weight=w),
    "log_loss": lambda y, p, w: skm.log_loss(y, p, sample_weight=w, labels=[0, 1]),
    "brier_score": lambda y, p, w: skm.brier_score_loss(y, p, sample_weight=w),
}


@pytest.mark.parametrize("weighted", [False, True])
def test_slice_values_and_gaps_match_sklearn(frame: tuple[pd.DataFrame, np.ndarray],
                                             weighted: bool) -> None:
    df, p = frame
    extra = {"weight": "w"} if weighted else {}
    r = assay.evaluate(data=df, label="y", predictions={"m": p}, slices=SLICES[:6],
                       metrics=list(SK), min_slice_size=20, bootstrap=100, **extra)
    w = df.w.to_numpy() if weighted else None
    y = df.y.to_numpy()
    checked = 0
    for label, m in {"overall": np.ones(N, bool), **slice_masks(df)}.items():
        if label.count("=") > 1 or " & " in label or m.sum() < 20:
            continue
        for metric, fn in SK.items():
            row = r.row(metric, slice=label)
            sub = fn(y[m], p[m], None if w is None else w[m])
            assert row["value"] == pytest.approx(sub, rel=1e-9, abs=1e-12), (label, metric)
            if label == "overall":
                continue
            rest = fn(y[~m], p[~m], None if w is None else w[~m])
            assert row["gap"] == pytest.approx(sub - rest, rel=1e-9, abs=1e-12), (label, metric)
            if math.isfinite(row["gap_low"]):
                assert row["gap_low"] <= row["gap"] <= row["gap_high"], (label, metric)
            checked += 1
    assert checked > 100


def test_cross_slice_values_match_sklearn(result: assay.EvaluationResult,
                                          frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, p = frame
    for label, m in slice_masks(df).items():
        if " & " not in label or m.sum() < 20:
            continue
        row = result.row("accuracy", slice=label)
        assert row["value"] == pytest.approx(acc(df, p, m), rel=1e-12)
        assert row["gap"] == pytest.approx(acc(df, p, m) - acc(df, p, ~m), rel=1e-9, abs=1e-12)


def wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def test_accuracy_gap_has_newcombe_interval(result: assay.EvaluationResult,
                                            frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    """Newcombe's hybrid score interval (method 10) from independent Wilson intervals."""
    df, p = frame
    correct = (df.y.to_numpy() == (p >= 0.5))
    for label, m in slice_masks(df).items():
        if m.sum() < 20:
            continue
        row = result.row("accuracy", slice=label)
        k1, n1 = int(correct[m].sum()), int(m.sum())
        k2, n2 = int(correct[~m].sum()), int((~m).sum())
        p1, p2 = k1 / n1, k2 / n2
        (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((l1, u1), rel=1e-9)
        low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        assert row["gap"] == pytest.approx(p1 - p2, rel=1e-12, abs=1e-15)
        assert (row["gap_low"], row["gap_high"]) == pytest.approx((low, high), rel=1e-9)
        assert row["gap_low"] < row["gap"] < row["gap_high"]


def test_regression_slices_match_sklearn(frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    rng = np.random.default_rng(5)
    target = df.x.to_numpy() * 3 + rng.normal(size=N)
    pred = df.x.to_numpy() * 2.5
    data = df.assign(t=target)
    r = assay.evaluate(data=data, label="t", task="regression", predictions={"m": pred},
                       slices=[{"column": "region"}, {"where": "age >= 50", "name": "older"}],
                       metrics=["mae", "mse", "rmse", "r2"], bootstrap=100)
    masks = slice_masks(df)
    masks["older"] = (df.age >= 50).to_numpy()
    ref = {"mae": skm.mean_absolute_error, "mse": skm.mean_squared_error,
           "rmse": lambda a, b: math.sqrt(skm.mean_squared_error(a, b)), "r2": skm.r2_score}
    for label in ["overall", "region=north", "region=(missing)", "older"]:
        m = masks.get(label, np.ones(N, bool))
        for metric, fn in ref.items():
            row = r.row(metric, slice=label)
            assert row["value"] == pytest.approx(fn(target[m], pred[m]), rel=1e-9), (label, metric)
            if label != "overall":
                want = fn(target[m], pred[m]) - fn(target[~m], pred[~m])
                assert row["gap"] == pytest.approx(want, rel=1e-9, abs=1e-12), (label, metric)


def test_multiclass_slices_match_sklearn(frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = frame
    rng = np.random.default_rng(8)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, N)
    logits = rng.normal(size=(N, 3)) + 1.5 * (y[:, None] == np.array(classes))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    r = assay.evaluate(data=df.assign(k=y), label="k", task="multiclass", classes=classes,
                       predictions={"m": prob}, slices=[{"column": "channel"}],
                       metrics=["accuracy", "f1_macro", "log_loss"], bootstrap=100)
    pred = np.array(classes)[prob.argmax(axis=1)]
    web = (df.channel == "web").to_numpy()
    for label, m in [("overall", np.ones(N, bool)), ("channel=web", web)]:
        assert r.value("accuracy", slice=label) == pytest.approx(skm.accuracy_score(y[m], pred[m]))
        assert r.value("f1_macro", slice=label) == pytest.approx(
            skm.f1_score(y[m], pred[m], average="macro"), rel=1e-9)
        assert r.value("log_loss", slice=label) == pytest.approx(
            skm.log_loss(y[m], prob[m], labels=classes), rel=1e-9)


def test_bin_labels_stay_distinct_for_large_values() -> None:
    """Edges 10000003 and 10000005 both read '1e+07' with 6 digits; labels must differ."""
    rng = np.random.default_rng(4)
    n = 400
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "amount": 10_000_000 + rng.integers(0, 40, n),
                       "flag": rng.uniform(size=n) > 0.5})
    r = assay.evaluate(data=df, label="y", predictions={"m": rng.uniform(size=n)},
                       slices=[{"column": "amount", "quantiles": 4}, {"column": "flag"}],
                       metrics=["accuracy"], bootstrap=100)
    t = r.table
    assert t.slice.is_unique
    amount = t[t.dimension == "amount"]
    assert len(amount) == 4 and amount.n.sum() == n
    assert sum(v for k, v in r.slice_sizes["m"].items() if k.startswith("amount=")) == n
    assert set(t[t.dimension == "flag"].level) == {"false", "true"}


def test_wilson_intervals_contain_boundary_estimates() -> None:
    """At p = 0 and p = 1 the Wilson bounds are exactly 0 and 1, not 1e-19 or 1 - 1e-16."""
    rng = np.random.default_rng(2)
    n = 4000
    group = rng.integers(0, 40, n) ** 2  # 40 slices of varied sizes
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "g": group})
    r = assay.evaluate(data=df, label="y", predictions={"m": np.full(n, 0.1)},
                       metrics=["positive_rate", "specificity", "recall"],
                       slices=[{"column": "g"}], bootstrap=100, min_slice_size=1)
    t = r.table
    assert set(t[t.metric == "positive_rate"].value) == {0.0}
    assert set(t[t.metric == "specificity"].value) == {1.0}
    assert ((t.ci_low <= t.value) & (t.value <= t.ci_high)).all()


def test_levels_of_a_dimension_cover_every_row() -> None:
    """Each row is in exactly one level of every column/bins/quantiles dimension and of every
    cross: NaN (stored as NaN, not null) goes to '(missing)' like null does."""
    import pyarrow as pa

    rng = np.random.default_rng(6)
    n = 300
    age = rng.uniform(18, 80, n)
    age[:10] = np.nan
    age[10:13] = 99.0
    table = pa.table({"y": rng.integers(0, 2, n), "age": pa.array(age, from_pandas=False),
                      "g": pa.array(rng.choice(["a", "b", None], n))})
    r = assay.evaluate(data=table, label="y", predictions={"m": rng.uniform(size=n)},
                       slices=[{"column": "age", "bins": [18, 40, 81]},
                               {"column": "age", "quantiles": 3, "name": "age_q"},
                               {"column": "g"}, {"cross": ["g", "age"]}],
                       metrics=["accuracy", "f1"], bootstrap=100, min_slice_size=1)
    t = r.table[r.table.metric == "accuracy"]
    for dim in ["age", "age_q", "g", "g x age"]:
        assert t[t.dimension == dim].n.sum() == n, dim
    assert r.row("accuracy", slice="age=(missing)")["n"] == 10
    assert r.row("accuracy", slice="age=(outside bins)")["n"] == 3
    assert r.row("accuracy", slice="age_q=(missing)")["n"] == 10
    f1 = r.table[(r.table.metric == "f1") & (r.table.slice != "overall") & (r.table.status == "ok")]
    assert len(f1) > 15 and f1.gap_low.notna().all()
