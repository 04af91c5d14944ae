"""The NumPy and DuckDB engines give the same numbers; reruns give the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import CliRunner, write_spec, write_table

import assay

N = 700
FLOATS = ["value", "ci_low", "ci_high", "gap", "gap_low", "gap_high"]
KEYS = ["model", "slice", "metric"]

SLICES = [
    {"column": "region"},
    {"column": "age", "bins": [25, 45, 65], "name": "age_band"},
    {"column": "x", "quantiles": 3, "name": "x_q"},
    {"where": "x > 0.3 AND region <> 'east'", "name": "high_x"},
    {"cross": ["region", "high_x"]},
    {"cross": ["age_band", "x_q"]},
]


def make_data(root: Path, task: str) -> dict:
    """Write data.parquet (+ preds.parquet) for ``task``; return the spec's task-specific keys."""
    rng = np.random.default_rng({"binary": 1, "multiclass": 2, "regression": 3}[task])
    region = rng.choice(["north", "south", "east", None], N, p=[0.4, 0.3, 0.2, 0.1])
    x = rng.normal(size=N)
    age = rng.integers(18, 80, N).astype(float)
    age[:9] = np.nan
    df = pd.DataFrame({"id": np.arange(N), "region": region, "x": x, "age": age,
                       "w": rng.uniform(0.3, 2.5, N)})
    preds = pd.DataFrame({"id": np.arange(N)[::-1]})
    if task == "binary":
        df["y"] = (rng.uniform(size=N) < 1 / (1 + np.exp(-x))).astype(int)
        preds["p"] = (1 / (1 + np.exp(-(x + rng.normal(size=N)))))[::-1]
        preds.loc[3, "p"] = np.nan  # an excluded row, counted alike by both engines
        keys = {"models": [{"name": "m", "path": "preds.parquet", "score": "p"},
                           {"name": "d", "score": "x_prob"}]}
        df["x_prob"] = 1 / (1 + np.exp(-0.5 * x))
    elif task == "multiclass":
        classes = ["a", "b", "c", "d"]
        df["y"] = rng.choice(classes, N)
        logits = rng.normal(size=(N, 4)) + 1.2 * (df.y.to_numpy()[:, None] == np.array(classes))
        prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for j, c in enumerate(classes):
            preds[f"p_{c}"] = prob[::-1, j]
        keys = {"classes": classes,
                "models": [{"name": "m", "path": "preds.parquet",
                            "scores": {c: f"p_{c}" for c in classes}}]}
    else:
        df["y"] = 3 * x + rng.normal(size=N)
        df.loc[5, "y"] = np.nan  # a missing label
        preds["yhat"] = (2.6 * x + 0.1)[::-1]
        keys = {"models": [{"name": "m", "path": "preds.parquet", "prediction": "yhat"}]}
    write_table(root / "data.parquet", df)
    write_table(root / "preds.parquet", preds)
    return keys


def write_case(root: Path, task: str, engine: str, weighted: bool, *, sql: bool = False,
               seed: int = 0) -> Path:
    keys = make_data(root, task)
    data: dict = {"path": "data.parquet"}
    if sql:  # the predictions joined in SQL, the rows filtered: a view over two files
        model = keys["models"][0]
        score = model.get("score") or model["prediction"]
        data = {"sql": f"SELECT d.*, p.{score} FROM read_parquet('{root / 'data.parquet'}') d "
                       f"JOIN read_parquet('{root / 'preds.parquet'}') p USING (id) "
                       "WHERE d.age IS NULL OR d.age < 75"}
        keys["models"] = [{k: v for k, v in model.items() if k != "path"}]
    spec = {"task": task, "data": data, "id": "id", "label": "y", **keys, "slices": SLICES,
            "min_slice_size": 15, "bootstrap": 200, "seed": seed, "engine": engine,
            **({"weight": "w"} if weighted else {})}
    return write_spec(root / "spec.yaml", spec)


def run(root: Path, task: str, engine: str, weighted: bool, *, sql: bool = False,
        seed: int = 0) -> assay.EvaluationResult:
    return assay.evaluate(write_case(root, task, engine, weighted, sql=sql, seed=seed))


def assert_same(a: assay.EvaluationResult, b: assay.EvaluationResult, rel: float) -> None:
    ta, tb = a.table, b.table
    assert ta[KEYS + ["n", "method", "status"]].equals(tb[KEYS + ["n", "method", "status"]])
    assert a.excluded == b.excluded and a.slice_sizes == b.slice_sizes
    for col in FLOATS:
        x, y = ta[col].to_numpy(), tb[col].to_numpy()
        assert np.array_equal(np.isnan(x), np.isnan(y)), col
        ok = ~np.isnan(x)
        diff = np.abs(x[ok] - y[ok])
        tol = rel * np.maximum(np.abs(x[ok]), np.abs(y[ok])) + 1e-15
        bad = np.flatnonzero(diff > tol)
        assert bad.size == 0, ta[ok].iloc[bad][KEYS + [col]].assign(other=y[ok][bad])


CASES = [(task, weighted) for task in ("binary", "multiclass", "regression")
         for weighted in (False, True)]


@pytest.mark.parametrize(("task", "weighted"), CASES)
def test_numpy_and_duckdb_agree(tmp_path: Path, task: str, weighted: bool) -> None:
    a = run(tmp_path, task, "numpy", weighted)
    b = run(tmp_path, task, "duckdb", weighted)
    assert_same(a, b, rel=1e-12)
    t = a.table
    assert (t.status == "ok").sum() > 0.8 * len(t) - (t.status == "too_small").sum() - 50
    assert {"column", "where", "cross"} <= {
        "where" if s == "high_x" else ("cross" if " & " in s else "column")
        for s in t.slice.unique() if s != "overall"}
    assert t.method.str.contains("bootstrap").any() or task == "regression"


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_engines_agree_on_sql_source(tmp_path: Path, task: str) -> None:
    a = run(tmp_path, task, "numpy", weighted=task == "binary", sql=True)
    b = run(tmp_path, task, "duckdb", weighted=task == "binary", sql=True)
    assert_same(a, b, rel=1e-12)
    df = pd.read_parquet(tmp_path / "data.parquet")
    assert a.n_rows == int((df.age.isna() | (df.age < 75)).sum())
    assert "data.sql" in a.manifest()["inputs"]


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_rerun_is_bit_identical(tmp_path: Path, engine: str, cli: CliRunner) -> None:
    write_case(tmp_path, "binary", engine, weighted=True)
    outs = []
    for i in range(2):
        res = cli("evaluate", tmp_path / "spec.yaml", "-o", tmp_path / f"run{i}", "-q")
        assert res.code == 0, res.text
        outs.append(tmp_path / f"run{i}")
    t0, t1 = (pq.read_table(o / "results.parquet") for o in outs)
    assert t0.equals(t1)
    for col in FLOATS:  # the same bits, NaN included
        a, b = (t.column(col).to_numpy().view(np.int64) for t in (t0, t1))
        assert (a == b).all(), col
    assert (outs[0] / "results.parquet").read_bytes() == (outs[1] / "results.parquet").read_bytes()
    assert (outs[0] / "results.json").read_bytes() == (outs[1] / "results.json").read_bytes()


def test_rerun_in_process_is_bit_identical(tmp_path: Path) -> None:
    a = run(tmp_path, "multiclass", "numpy", weighted=False)
    b = run(tmp_path, "multiclass", "numpy", weighted=False)
    for col in FLOATS:
        bits_a, bits_b = (r.table[col].to_numpy().view(np.int64) for r in (a, b))
        assert (bits_a == bits_b).all(), col


@pytest.mark.parametrize("weighted", [False, True])
def test_seed_changes_only_bootstrap_bounds(tmp_path: Path, weighted: bool) -> None:
    a = run(tmp_path, "binary", "numpy", weighted, seed=0)
    b = run(tmp_path, "binary", "numpy", weighted, seed=1)
    ta, tb = a.table, b.table
    assert ta[KEYS + ["n", "method", "status"]].equals(tb[KEYS + ["n", "method", "status"]])
    assert np.array_equal(ta.value.to_numpy(), tb.value.to_numpy(), equal_nan=True)
    assert np.array_equal(ta.gap.to_numpy(), tb.gap.to_numpy(), equal_nan=True)
    boot = ta.method.str.contains("bootstrap").to_numpy()
    assert boot.any() and (~boot).any()
    for col in ("ci_low", "ci_high"):
        x, y = ta[col].to_numpy(), tb[col].to_numpy()
        assert np.array_equal(x[~boot], y[~boot], equal_nan=True), col  # analytic: unchanged
        ok = boot & np.isfinite(x)
        assert (x[ok] != y[ok]).mean() > 0.5, col  # resampled: moved
    # gap intervals of analytic metrics do not depend on the seed either
    analytic = ~boot & (ta.method != "").to_numpy()
    for col in ("gap_low", "gap_high"):
        assert np.array_equal(ta[col].to_numpy()[analytic], tb[col].to_numpy()[analytic],
                              equal_nan=True)


def test_dataset_columns_named_like_internal_keys_do_not_collide(tmp_path):
    """Columns called g, c0, c1, d0 (common cohort names) must not capture the engine's
    GROUP BY keys: both engines agree and match the unsliced values."""
    import assay

    rng = np.random.default_rng(31)
    n = 3000
    y = (rng.random(n) < 0.3).astype(int)
    df = pd.DataFrame({"y": y, "p": np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1),
                       "g": rng.choice(["a", "b"], n), "c0": rng.choice(["x", "y", "z"], n),
                       "c1": rng.choice(["u", "v"], n), "d0": rng.choice(["k", "l"], n)})
    slices = [{"column": c} for c in ("g", "c0", "c1", "d0")]
    kw = dict(data=df, label="y", predictions={"m": df.p}, slices=slices, bootstrap=200)
    a = assay.evaluate(engine="numpy", **kw).table
    b = assay.evaluate(engine="duckdb", **kw).table
    np.testing.assert_allclose(a.value.to_numpy(dtype=float), b.value.to_numpy(dtype=float),
                               rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(a.ci_low.to_numpy(dtype=float), b.ci_low.to_numpy(dtype=float),
                               rtol=1e-12, equal_nan=True)
