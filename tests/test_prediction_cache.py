"""Row hashes, the on-disk prediction cache (concurrent writers, compaction, clearing), the
predictor (dedupe, cache use, failing rows isolated by bisection, the error budget) and
latency measurement (percentiles and their order-statistic intervals against SciPy)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import typer
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from assay._cli_cache import cache_app
from assay._errors import InputError
from assay.models import (
    AdapterSpec,
    LatencyProfile,
    OutputShape,
    PredictionCache,
    Predictor,
    bulk_throughput,
    default_cache_dir,
    load_adapter,
    measure_latency,
    model_key,
    row_hashes,
)
from assay.models import _cache as cache_module
from assay.models._predict import UNSPLIT

BINARY = OutputShape("binary", (0, 1), 1)
NUMERIC = ["x1", "x2", "x3"]
FEATURES = [*NUMERIC, "city"]
NAN_MESSAGE = "ValueError: Input X contains NaN."


def make_data(n: int = 400, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.uniform(0, 5, n),
                      "city": rng.choice(["lyon", "oslo", "rome"], n)})
    y = ((X.x1 - 0.5 * X.x2 + (X.city == "oslo") + rng.normal(scale=0.7, size=n)) > 0.3).astype(np.int64)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A logistic regression pipeline (it raises on NaN inputs) saved with skops."""
    X, y = make_data()
    ct = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city"])])
    model = make_pipeline(ct, LogisticRegression()).fit(X, y)
    folder = tmp_path_factory.mktemp("model")
    sio.dump(model, folder / "lr.skops")
    adapter = load_adapter(AdapterSpec(path="lr.skops"), BINARY, features=FEATURES, base_dir=folder,
                           where="models.lr.adapter")
    return X, model, adapter


class Counting:
    """Wraps a real adapter and records the rows of every call."""

    def __init__(self, inner, deterministic: bool = True) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.fingerprint = inner.fingerprint
        self.deterministic = deterministic
        self.cacheable = True
        self.features = inner.features
        self.description = "counting " + inner.description
        self.calls: list[int] = []

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        return self.inner.predict(frame)


# ---- row hashes and keys ----------------------------------------------------------------------


def test_row_hashes_equal_rows_nan_and_column_order():
    df = pd.DataFrame({"a": [1.0, np.nan, 1.0, np.nan, 2.0], "b": ["x", None, "x", None, "x"],
                       "c": pd.Categorical(["u", "v", "u", "v", "u"])})
    h1, h2 = row_hashes(df)
    assert h1.dtype == np.uint64 and h2.dtype == np.uint64 and len(h1) == 5
    assert h1[0] == h1[2] and h2[0] == h2[2] and h1[1] == h1[3] and h2[1] == h2[3]
    assert len({(a, b) for a, b in zip(h1, h2, strict=True)}) == 3
    assert not np.array_equal(h1, h2)  # two different keys
    swapped = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]})
    s1, _ = row_hashes(swapped)
    assert s1[0] != s1[1]
    r1, r2 = row_hashes(df[["c", "b", "a"]])
    assert not np.any(r1 == h1) and not np.any(r2 == h2)
    e1, e2 = row_hashes(df.iloc[:0])
    assert len(e1) == len(e2) == 0
    same1, _ = row_hashes(df.copy())
    np.testing.assert_array_equal(same1, h1)


def test_model_key_changes_with_what_the_model_sees(trained):
    X, _, adapter = trained
    key = model_key(adapter, BINARY, X)
    assert key == model_key(adapter, BINARY, X.copy()) and len(key) == 64
    assert model_key(adapter, BINARY, X[["city", *NUMERIC]]) != key
    assert model_key(adapter, BINARY, X.astype({"x3": np.float32})) != key
    assert model_key(adapter, OutputShape("binary", (0, 1), 0), X) != key
    other = Counting(adapter)
    other.fingerprint = "0" * 64
    assert model_key(other, BINARY, X) != key


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ASSAY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "assay" / "predictions"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "assay" / "predictions"


# ---- the cache -------------------------------------------------------------------------------


KEY = "ab" * 32


def test_store_lookup_errors_and_width(tmp_path):
    cache = PredictionCache(tmp_path)
    h1 = np.arange(10, dtype=np.uint64) * 7919
    h2 = np.arange(10, dtype=np.uint64) + 5
    vals = np.arange(20, dtype=float).reshape(10, 2)
    errs = [None] * 10
    errs[4] = "ValueError: bad row"
    cache.store(KEY, h1[:6], h2[:6], vals[:6], errs[:6])
    found, got, errors = cache.lookup(KEY, h1, h2)
    assert found.tolist() == [True] * 6 + [False] * 4
    np.testing.assert_array_equal(got[:6], vals[:6])
    assert np.isnan(got[6:]).all() and got.shape == (10, 2)
    assert errors is not None and errors[4] == "ValueError: bad row" and errors[0] is None
    bad_h2 = h2.copy()
    bad_h2[1] += 1  # same h1, other h2: not the same row
    assert not cache.lookup(KEY, h1, bad_h2)[0][1]
    assert not cache.lookup(KEY, h1, h2, width=3)[0].any()
    empty = cache.lookup("cd" * 32, h1, h2)
    assert not empty[0].any() and empty[2] is None
    with pytest.raises(InputError, match="not a model key"):
        cache.lookup("../etc", h1, h2)


def test_compaction_keeps_every_entry(tmp_path):
    cache = PredictionCache(tmp_path)
    rng = np.random.default_rng(3)
    h1 = rng.integers(0, 2**63, 2000, dtype=np.uint64)
    h2 = rng.integers(0, 2**63, 2000, dtype=np.uint64)
    vals = rng.random(2000)
    for i in range(cache_module.COMPACT_AT):  # overlapping windows: rows stored twice
        lo = i * 60
        cache.store(KEY, h1[lo:lo + 120], h2[lo:lo + 120], vals[lo:lo + 120])
    assert len(cache.shards(KEY)) == cache_module.COMPACT_AT
    errs = np.array(["RuntimeError: x" if i % 2 else None for i in range(10)], dtype=object)
    cache.store(KEY, h1[1990:], h2[1990:], np.full(10, np.nan), errs)  # one more: compaction
    assert len(cache.shards(KEY)) == 1
    covered = cache_module.COMPACT_AT * 60 + 60
    assert cache.info().loc[0, "rows"] == covered + 10  # duplicates gone
    found, got, errors = cache.lookup(KEY, h1, h2)
    assert found[:covered].all() and not found[covered:1990].any() and found[1990:].all()
    np.testing.assert_array_equal(got[:covered, 0], vals[:covered])
    assert errors is not None and list(errors[1990:]) == list(errs)


def test_remembered_index_follows_other_writers(tmp_path):
    """A cache object keeps indexed shards between lookups; shards written, compacted or
    cleared by someone else must still be seen."""
    reader, writer = PredictionCache(tmp_path), PredictionCache(tmp_path)
    h = np.arange(1, 41, dtype=np.uint64)
    writer.store(KEY, h[:10], h[:10], np.full(10, 0.5))
    assert reader.lookup(KEY, h, h)[0].sum() == 10
    writer.store(KEY, h[10:20], h[10:20], np.full(10, 0.25), ["E: x"] * 10)
    writer.store(KEY, h[10:15], h[10:15], np.full(5, 0.75))  # a value beats an error
    found, got, errors = reader.lookup(KEY, h, h)
    assert found.sum() == 20 and got[10:15, 0].tolist() == [0.75] * 5
    assert list(errors[10:20]) == [None] * 5 + ["E: x"] * 5 and got[15:20, 0].tolist() == [0.25] * 5
    for i in range(cache_module.MAX_SEGMENTS + 2):  # more pieces than kept apart: merged
        writer.store(KEY, h[20 + i:21 + i], h[20 + i:21 + i], np.array([float(i)]))
        assert reader.lookup(KEY, h, h)[0].sum() == 21 + i
    assert len(reader._memo[KEY].segments) <= cache_module.MAX_SEGMENTS
    found, got, errors = reader.lookup(KEY, h, h)
    assert got[10:15, 0].tolist() == [0.75] * 5 and list(errors[15:20]) == ["E: x"] * 5
    assert writer.compact(KEY) and len(writer.shards(KEY)) == 1
    again = reader.lookup(KEY, h, h)
    np.testing.assert_array_equal(again[1], got)
    writer.clear(KEY)
    assert not reader.lookup(KEY, h, h)[0].any()


def test_reader_lists_again_when_a_shard_vanishes(tmp_path, monkeypatch):
    cache = PredictionCache(tmp_path)
    cache.store(KEY, np.array([1, 2], np.uint64), np.array([3, 4], np.uint64), np.array([0.1, 0.2]))
    real = cache.shards
    listings = []

    def shards(key):
        listings.append(key)
        files = real(key)
        return files + [files[0].with_name("gone.parquet")] if len(listings) == 1 else files

    monkeypatch.setattr(cache, "shards", shards)
    found, got, _ = cache.lookup(KEY, np.array([2, 1], np.uint64), np.array([4, 3], np.uint64))
    assert found.all() and got[:, 0].tolist() == [0.2, 0.1] and len(listings) == 2


def _writer(root: str, seed: int, start: int) -> None:
    """One process's runs: many small stores of overlapping rows of the same key."""
    cache = PredictionCache(Path(root))
    h1 = np.arange(3000, dtype=np.uint64) * 2654435761 + 11
    h2 = np.arange(3000, dtype=np.uint64) * 40503 + 7
    vals = np.arange(3000) / 3000.0
    rng = np.random.default_rng(seed)
    for _ in range(40):
        lo = start + int(rng.integers(0, 1900))
        cache.store(KEY, h1[lo:lo + 100], h2[lo:lo + 100], vals[lo:lo + 100])
    cache.store(KEY, h1[start:start + 2000], h2[start:start + 2000], vals[start:start + 2000])


def test_two_processes_write_the_same_key(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), s, start)) for s, start in ((1, 0), (2, 1000))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = PredictionCache(tmp_path)
    h1 = np.arange(3000, dtype=np.uint64) * 2654435761 + 11
    h2 = np.arange(3000, dtype=np.uint64) * 40503 + 7
    found, got, errors = cache.lookup(KEY, h1, h2)
    assert found.all() and errors is None
    np.testing.assert_array_equal(got[:, 0], np.arange(3000) / 3000.0)
    assert not list(cache.folder(KEY).glob(".*.tmp"))
    assert len(cache.shards(KEY)) <= cache_module.COMPACT_AT + 1


def test_clear_and_info(tmp_path):
    cache = PredictionCache(tmp_path)
    other = "cd" * 32
    cache.store(KEY, np.arange(5, dtype=np.uint64), np.arange(5, dtype=np.uint64), np.ones(5))
    cache.store(KEY, np.arange(5, 8, dtype=np.uint64), np.arange(5, 8, dtype=np.uint64), np.ones(3))
    cache.store(other, np.arange(4, dtype=np.uint64), np.arange(4, dtype=np.uint64), np.ones((4, 3)))
    info = cache.info().set_index("key")
    assert list(cache.info().columns) == ["key", "rows", "shards", "bytes", "modified"]
    assert info.loc[KEY, "rows"] == 8 and info.loc[KEY, "shards"] == 2 and info.loc[other, "rows"] == 4
    entries, size = cache.clear(KEY)
    assert entries == 8 and size == info.loc[KEY, "bytes"] > 0
    assert not cache.lookup(KEY, np.arange(5, dtype=np.uint64), np.arange(5, dtype=np.uint64))[0].any()
    assert cache.clear(KEY) == (0, 0)
    assert cache.lookup(other, np.arange(4, dtype=np.uint64), np.arange(4, dtype=np.uint64))[0].all()
    assert cache.clear()[0] == 4 and cache.info().empty


def test_cache_cli(tmp_path):
    app = typer.Typer()
    app.add_typer(cache_app, name="cache")

    @app.command()
    def version() -> None:  # a second command keeps 'cache' a sub-command
        pass

    runner = CliRunner()
    out = runner.invoke(app, ["cache", "info", "--dir", str(tmp_path)])
    assert out.exit_code == 0 and "empty" in out.output
    cache = PredictionCache(tmp_path)
    other = "cd" * 32
    cache.store(KEY, np.arange(5, dtype=np.uint64), np.arange(5, dtype=np.uint64), np.ones(5))
    cache.store(other, np.arange(3, dtype=np.uint64), np.arange(3, dtype=np.uint64), np.ones(3))
    out = runner.invoke(app, ["cache", "info", "--dir", str(tmp_path)])
    assert out.exit_code == 0 and KEY[:16] in out.output and other[:16] in out.output
    assert "2 model key(s), 8 rows" in out.output
    out = runner.invoke(app, ["cache", "clear", "--dir", str(tmp_path)], input="n\n")
    assert out.exit_code == 0 and "Nothing removed" in out.output and len(cache.info()) == 2
    out = runner.invoke(app, ["cache", "clear", "--key", "ab12", "--dir", str(tmp_path)])
    assert isinstance(out.exception, InputError) and "at least 6" in str(out.exception)
    out = runner.invoke(app, ["cache", "clear", "--key", "ef" * 8, "--dir", str(tmp_path), "--yes"])
    assert out.exit_code == 0 and "No entries" in out.output and len(cache.info()) == 2
    out = runner.invoke(app, ["cache", "clear", "--key", KEY[:10], "--dir", str(tmp_path), "--yes"])
    assert out.exit_code == 0 and "Removed 5 entries" in out.output
    assert cache.info()["key"].tolist() == [other]
    out = runner.invoke(app, ["cache", "clear", "--dir", str(tmp_path)], input="y\n")
    assert out.exit_code == 0 and "Removed 3 entries" in out.output and cache.info().empty


# ---- the predictor ---------------------------------------------------------------------------


def test_second_predict_costs_no_model_calls(trained, tmp_path):
    X, model, adapter = trained
    counting = Counting(adapter)
    cache = PredictionCache(tmp_path)
    frame = pd.concat([X, X.head(50)], ignore_index=True)  # 50 duplicated rows
    seen = []
    predictor = Predictor(counting, cache=cache, shape=BINARY, batch_size=128,
                          progress=lambda done, total: seen.append((done, total)))
    first = predictor.predict(frame)
    want = model.predict_proba(frame)[:, 1]
    np.testing.assert_array_equal(first.values, want)
    assert (first.n_rows, first.n_unique, first.n_cached, first.n_predicted) == (450, 400, 0, 400)
    assert counting.calls == [128, 128, 128, 16] and not first.errored.any() and first.errors.empty
    assert seen[-1] == (400, 400) and sum(r for r, _ in first.batches) == 400
    assert 0 < first.model_seconds <= first.total_seconds
    counting.calls.clear()
    second = predictor.predict(frame)
    assert counting.calls == [] and second.n_cached == 400 and second.n_predicted == 0
    np.testing.assert_array_equal(second.values, first.values)
    changed = frame.copy()
    changed.loc[[3, 77, 300], "x2"] += 1.0
    third = predictor.predict(changed)
    assert counting.calls == [3] and third.n_predicted == 3
    np.testing.assert_array_equal(third.values, model.predict_proba(changed)[:, 1])
    counting.calls.clear()
    shuffled = frame[["city", *NUMERIC]]  # the column transformer selects by name
    out = Predictor(counting, cache=cache, shape=BINARY, batch_size=1000).predict(shuffled)
    assert counting.calls == [400] and out.n_cached == 0
    np.testing.assert_array_equal(out.values, model.predict_proba(shuffled)[:, 1])


def test_failing_rows_isolated_exactly(trained, tmp_path):
    X, model, adapter = trained
    bad = [0, 5, 6, 7, 130, 131, 250, 399]
    frame = X.copy()
    frame.loc[bad, "x1"] = np.nan
    frame.loc[[6, 131], "x2"] = np.nan
    counting = Counting(adapter)
    predictor = Predictor(counting, cache=PredictionCache(tmp_path), shape=BINARY, batch_size=64)
    out = predictor.predict(frame)
    assert np.flatnonzero(out.errored).tolist() == bad
    assert out.errors.to_dict("records") == [{"message": NAN_MESSAGE, "rows": 8, "example_rows": bad[:5]}]
    good = np.setdiff1d(np.arange(400), bad)
    np.testing.assert_array_equal(out.values[good], model.predict_proba(frame.iloc[good])[:, 1])
    assert np.isnan(out.values[bad]).all()
    assert sum(r for r, _ in out.batches) == 400 - len(bad)
    counting.calls.clear()
    again = predictor.predict(frame)  # deterministic: the isolated errors are cached too
    assert counting.calls == [] and np.array_equal(again.errored, out.errored)
    assert again.errors.loc[0, "message"] == NAN_MESSAGE


def test_error_budget_spent_counts_whole_chunks(trained, tmp_path):
    X, model, adapter = trained
    frame = X.head(200).copy()
    frame.loc[[10, 120], "x3"] = np.nan
    counting = Counting(adapter)
    predictor = Predictor(counting, cache=PredictionCache(tmp_path), shape=BINARY, batch_size=50,
                          error_budget=0)
    out = predictor.predict(frame)
    errored = np.zeros(200, bool)
    errored[0:50] = errored[100:150] = True
    np.testing.assert_array_equal(out.errored, errored)
    assert counting.calls == [50, 50, 50, 50]
    assert out.errors.to_dict("records") == [
        {"message": NAN_MESSAGE + UNSPLIT, "rows": 100, "example_rows": [0, 1, 2, 3, 4]}]
    np.testing.assert_array_equal(out.values[~errored], model.predict_proba(frame[~errored])[:, 1])
    counting.calls.clear()
    predictor.predict(frame)  # unresolved chunks are not cached as errors
    assert counting.calls == [50, 50]
    counting.calls.clear()
    # a budget of 3 on one failing chunk of 8 rows (row 1 bad), halved breadth first:
    # [0..3] fails, [4..7] passes, [0,1] fails; then [2,3], [0] and [1] are left without budget
    small = X.head(8).copy()
    small.loc[1, "x1"] = np.nan
    out = Predictor(counting, cache=None, shape=BINARY, error_budget=3).predict(small)
    assert counting.calls == [8, 4, 4, 2]
    assert np.flatnonzero(out.errored).tolist() == [0, 1, 2, 3]
    assert set(out.errors.message) == {NAN_MESSAGE + UNSPLIT}
    counting.calls.clear()
    out = Predictor(counting, cache=None, shape=BINARY, error_budget=256).predict(small)
    assert np.flatnonzero(out.errored).tolist() == [1] and len(counting.calls) <= 1 + 2 * 3


def test_nan_outputs_empty_frames_and_one_row(tmp_path):
    (tmp_path / "fn.py").write_text(
        "import numpy as np\n"
        "def f(df):\n    v = df['x'].to_numpy() / 10.0\n"
        "    v[df['x'].to_numpy() > 5] = np.nan\n    return v\n"
        "def g(df):\n    x = df['x'].to_numpy()\n    return np.column_stack([x / 10, 1 - x / 10])\n"
        "def h(df):\n    if (df['x'] < 0).any():\n        raise KeyError('neg')\n    return f(df)\n")
    spec = AdapterSpec(function="fn.py:f")
    adapter = load_adapter(spec, BINARY, features=["x"], base_dir=tmp_path, where="models.f.adapter")
    counting = Counting(adapter)
    frame = pd.DataFrame({"x": [1.0, 7.0, 2.0, 9.0, 7.0]})
    out = Predictor(counting, cache=PredictionCache(tmp_path / "c"), shape=BINARY).predict(frame)
    assert np.flatnonzero(out.errored).tolist() == [1, 3, 4]
    assert out.errors.to_dict("records") == [
        {"message": "returned NaN", "rows": 3, "example_rows": [1, 3, 4]}]
    np.testing.assert_array_equal(out.values[[0, 2]], [0.1, 0.2])
    h = load_adapter(AdapterSpec(function="fn.py:h"), BINARY, features=["x"], base_dir=tmp_path, where="m")
    mixed = Predictor(h, cache=None, shape=BINARY).predict(pd.DataFrame({"x": [1.0, 7, -1, 9, 7, -2, -3, 2]}))
    assert mixed.errors.to_dict("records") == [
        {"message": "KeyError: 'neg'", "rows": 3, "example_rows": [2, 5, 6]},
        {"message": "returned NaN", "rows": 3, "example_rows": [1, 3, 4]}]
    np.testing.assert_array_equal(mixed.values[[0, 7]], [0.1, 0.2])
    counting.calls.clear()
    empty = Predictor(counting, cache=PredictionCache(tmp_path / "c"), shape=BINARY).predict(frame.iloc[:0])
    assert counting.calls == [] and empty.values.shape == (0,) and empty.errored.shape == (0,)
    assert empty.n_rows == 0 and list(empty.errors.columns) == ["message", "rows", "example_rows"]
    multi = OutputShape("multiclass", ("a", "b"))
    g = load_adapter(AdapterSpec(function="fn.py:g"), multi, features=["x"], base_dir=tmp_path, where="m")
    assert Predictor(g, cache=None, shape=multi).predict(frame.iloc[:0]).values.shape == (0, 2)
    one = Predictor(g, cache=None, shape=multi).predict(frame.iloc[[2]])
    np.testing.assert_allclose(one.values, [[0.2, 0.8]])


def test_nondeterministic_adapters_do_not_cache_errors(trained, tmp_path):
    X, _, adapter = trained
    frame = X.head(20).copy()
    frame.loc[4, "x1"] = np.nan
    counting = Counting(adapter, deterministic=False)
    predictor = Predictor(counting, cache=PredictionCache(tmp_path), shape=BINARY)
    predictor.predict(frame)
    counting.calls.clear()
    out = predictor.predict(frame)
    assert counting.calls == [1] and out.errored.sum() == 1


# ---- latency ---------------------------------------------------------------------------------


def order_ranks(n: int, q: float, confidence: float) -> tuple[int, int] | None:
    """Independent reference: 1-based ranks (l, u) with P(B <= l-1) < alpha/2 <= P(B <= l)
    and P(B >= u) <= alpha/2 < P(B >= u-1), B ~ Binomial(n, q), from SciPy's pmf."""
    alpha = 1 - confidence
    cdf = np.cumsum(stats.binom.pmf(np.arange(n + 1), n, q))
    lo = int(np.argmax(cdf >= alpha / 2 - 1e-12))
    upper_tail = 1 - np.concatenate([[0.0], cdf])  # upper_tail[k] = P(B >= k)
    u = int(np.argmax(upper_tail <= alpha / 2 + 1e-12))
    if lo < 1 or u > n:
        return None
    coverage = stats.binom.cdf(u - 1, n, q) - stats.binom.cdf(lo - 1, n, q)
    assert coverage >= confidence - 1e-9
    return lo, u


def test_latency_percentiles_and_intervals(tmp_path):
    (tmp_path / "lat.py").write_text(
        "import numpy as np\n"
        "def f(df):\n    x = df['x'].to_numpy()\n"
        "    if np.isnan(x).any():\n        raise ValueError('nan in x')\n    return x * 0 + 0.5\n")
    adapter = load_adapter(AdapterSpec(function="lat.py:f"), BINARY, features=["x"], base_dir=tmp_path,
                           where="m")
    values = np.arange(50, dtype=float)
    values[[3, 30]] = np.nan
    frame = pd.DataFrame({"x": values})
    prof = measure_latency(adapter, frame, requests=120, batch_size=2, warmup=4, seed=7)
    draws = np.random.default_rng(7).integers(0, 50, size=(124, 2))
    failing = np.isin(draws[4:], [3, 30]).any(axis=1)
    assert prof.failed == failing.sum() > 0 and prof.n == 120 - failing.sum()
    assert prof.errors == {"ValueError: nan in x": prof.failed}
    d = prof.durations_ms
    rows = {r["metric"]: r for r in prof.to_rows("fn")}
    assert list(rows) == ["latency_p50_ms", "latency_p95_ms", "latency_mean_ms", "throughput_rows_per_s"]
    for metric, q in (("latency_p50_ms", 50), ("latency_p95_ms", 95)):
        assert rows[metric]["value"] == np.percentile(d, q)
        lo, hi = order_ranks(prof.n, q / 100, 0.95)
        assert (rows[metric]["ci_low"], rows[metric]["ci_high"]) == (np.sort(d)[lo - 1], np.sort(d)[hi - 1])
        assert rows[metric]["status"] == "ok" and rows[metric]["n"] == prof.n
    assert rows["latency_mean_ms"]["value"] == pytest.approx(d.mean())
    assert rows["throughput_rows_per_s"]["value"] == pytest.approx(prof.n * 2 / (d.sum() / 1000))
    assert "failed" in rows["latency_p50_ms"]["note"]
    again = measure_latency(adapter, frame, requests=120, batch_size=2, warmup=4, seed=7)
    assert again.failed == prof.failed


def test_order_statistic_ranks_match_binomial_reference():
    from assay.stats import order_statistic_interval

    for n in (5, 10, 20, 59, 60, 100, 200, 1000):
        for q in (0.5, 0.9, 0.95, 0.99):
            got = order_statistic_interval(n, q, 0.95)
            want = order_ranks(n, q, 0.95)
            assert (None if got is None else (got[0] + 1, got[1] + 1)) == want, (n, q)


def test_latency_too_few_requests_and_all_failing():
    few = LatencyProfile(np.array([1.0, 2.0, 4.0]), batch_size=1, requests=3)
    rows = {r["metric"]: r for r in few.to_rows("m")}
    p95 = rows["latency_p95_ms"]
    assert p95["value"] == np.percentile([1.0, 2.0, 4.0], 95) and np.isnan(p95["ci_low"])
    assert p95["status"] == "ok" and "too few" in p95["note"]
    none = LatencyProfile(np.array([]), batch_size=1, requests=5, failed=5)
    assert all(r["status"] == "undefined" and np.isnan(r["value"]) for r in none.to_rows("m"))
    with pytest.raises(InputError, match="no rows"):
        measure_latency(object(), pd.DataFrame({"x": []}))  # type: ignore[arg-type]


def test_bulk_throughput_from_batches(trained):
    X, _, adapter = trained
    out = Predictor(adapter, cache=None, shape=BINARY, batch_size=100).predict(X)
    rows = sum(r for r, _ in out.batches)
    assert rows == 400 and len(out.batches) == 4
    assert bulk_throughput(out) == pytest.approx(400 / sum(s for _, s in out.batches))
