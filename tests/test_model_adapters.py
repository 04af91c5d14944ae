"""Model adapters against the models' own predictions: skops and joblib files (exact),
ONNX conversions (within float32 precision), functions; trust rules, class matching,
output validation and the loader's errors."""

from __future__ import annotations

import shutil
import sys
import types
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from assay._errors import InputError
from assay.models import AdapterSpec, ModelAdapter, OutputShape, Predictor, load_adapter
from assay.models._local import match_label

BINARY = OutputShape("binary", (0, 1), 1)
NUMERIC = ["x1", "x2", "x3"]
FEATURES = [*NUMERIC, "city"]
TREE_TYPE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def make_data(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Features (three numeric, one string), a binary label, a 3-class label, a value."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.uniform(0, 5, n),
                      "city": rng.choice(["lyon", "oslo", "rome"], n)})
    z = X.x1 - 0.5 * X.x2 + (X.city == "oslo") + rng.normal(scale=0.7, size=n)
    y = (z > 0.3).to_numpy().astype(np.int64)
    y3 = np.where(z < -0.3, "low", np.where(z < 0.8, "mid", "high"))
    value = (2.0 * X.x1 + X.x3 + rng.normal(size=n)).to_numpy()
    return X, y, y3, value


def encoder() -> ColumnTransformer:
    return ColumnTransformer([("num", StandardScaler(), NUMERIC),
                              ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city"])])


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    return make_data()


@pytest.fixture(scope="module")
def models(data):
    X, y, y3, value = data
    return {
        "lr": make_pipeline(encoder(), LogisticRegression()).fit(X, y),
        "gbm": make_pipeline(encoder(), HistGradientBoostingClassifier(max_iter=15, random_state=0))
        .fit(X, y),
        "lr3": make_pipeline(encoder(), LogisticRegression()).fit(X, y3),
        "reg": make_pipeline(encoder(), LinearRegression()).fit(X, value),
    }


def load(spec: dict, shape: OutputShape, base: Path, features: list[str] = FEATURES) -> ModelAdapter:
    return load_adapter(AdapterSpec(**spec), shape, features=features, base_dir=base,
                        where="models.m.adapter")


# ---- skops and joblib -------------------------------------------------------------------------


def test_skops_binary_equals_predict_proba_exactly(tmp_path, data, models):
    X = data[0]
    for name, trusted in (("lr", []), ("gbm", [TREE_TYPE])):
        sio.dump(models[name], tmp_path / f"{name}.skops")
        adapter = load({"path": f"{name}.skops", "trusted_types": trusted}, BINARY, tmp_path)
        assert isinstance(adapter, ModelAdapter)
        assert adapter.kind == "skops" and adapter.deterministic and adapter.cacheable
        np.testing.assert_array_equal(adapter.predict(X), models[name].predict_proba(X)[:, 1])
        assert len(adapter.fingerprint) == 64


def test_skops_untrusted_types_are_refused_and_named(tmp_path, models):
    sio.dump(models["gbm"], tmp_path / "gbm.skops")
    with pytest.raises(InputError) as err:
        load({"path": "gbm.skops"}, BINARY, tmp_path)
    text = str(err.value)
    assert TREE_TYPE in text and "models.m.adapter.trusted_types" in text and "gbm.skops" in text
    with pytest.raises(InputError, match="TreePredictor"):
        load({"path": "gbm.skops", "trusted_types": ["numpy.float64"]}, BINARY, tmp_path)


def test_fingerprint_follows_file_bytes_and_artifacts(tmp_path, models):
    sio.dump(models["lr"], tmp_path / "a.skops")
    shutil.copyfile(tmp_path / "a.skops", tmp_path / "b.skops")
    sio.dump(models["gbm"], tmp_path / "c.skops")
    (tmp_path / "vocab.txt").write_text("one")
    fa = load({"path": "a.skops"}, BINARY, tmp_path).fingerprint
    assert fa == load({"path": "a.skops"}, BINARY, tmp_path).fingerprint
    assert load({"path": "b.skops"}, BINARY, tmp_path).fingerprint == fa  # content, not name
    assert load({"path": "c.skops", "trusted_types": [TREE_TYPE]}, BINARY, tmp_path).fingerprint != fa
    with_art = load({"path": "a.skops", "artifacts": ["vocab.txt"]}, BINARY, tmp_path).fingerprint
    assert with_art != fa
    (tmp_path / "vocab.txt").write_text("two")
    assert load({"path": "a.skops", "artifacts": ["vocab.txt"]}, BINARY, tmp_path).fingerprint != with_art
    with pytest.raises(InputError, match=r"models\.m\.adapter\.artifacts"):
        load({"path": "a.skops", "artifacts": ["gone.bin"]}, BINARY, tmp_path)


def test_joblib_needs_trust_and_says_why(tmp_path, data, models):
    X = data[0]
    joblib.dump(models["lr"], tmp_path / "lr.joblib")
    joblib.dump(models["lr"], tmp_path / "lr.pkl")
    with pytest.raises(InputError) as err:
        load({"path": "lr.joblib"}, BINARY, tmp_path)
    text = str(err.value)
    assert "runs arbitrary code" in text and "trust: true" in text and "skops" in text
    assert "models.m.adapter" in text
    for name in ("lr.joblib", "lr.pkl"):
        adapter = load({"path": name, "trust": True}, BINARY, tmp_path)
        assert adapter.kind == "joblib"
        np.testing.assert_array_equal(adapter.predict(X), models["lr"].predict_proba(X)[:, 1])


def test_missing_file_unknown_suffix_and_wrong_kind(tmp_path):
    with pytest.raises(InputError) as err:
        load({"path": "models/none.skops"}, BINARY, tmp_path)
    assert "none.skops" in str(err.value) and "models.m.adapter.path" in str(err.value)
    (tmp_path / "m.bin").write_bytes(b"x")
    with pytest.raises(InputError, match=r"\.skops.*models\.m\.adapter\.kind"):
        load({"path": "m.bin"}, BINARY, tmp_path)
    with pytest.raises(InputError, match="needs 'function'"):
        load({"path": "m.bin", "kind": "function"}, BINARY, tmp_path)


def test_positive_class_matched_across_spellings(tmp_path, data, models):
    X, y, _, _ = data
    sio.dump(models["lr"], tmp_path / "lr.skops")
    p = models["lr"].predict_proba(X)
    for positive in (1, "1", True, np.int64(1), "true"):
        adapter = load({"path": "lr.skops"}, OutputShape("binary", (0, 1), positive), tmp_path)
        np.testing.assert_array_equal(adapter.predict(X), p[:, 1])
    adapter = load({"path": "lr.skops"}, OutputShape("binary", (1, 0), "0"), tmp_path)
    np.testing.assert_array_equal(adapter.predict(X), p[:, 0])
    named = make_pipeline(encoder(), LogisticRegression()).fit(X, np.where(y == 1, "yes", "no"))
    sio.dump(named, tmp_path / "named.skops")
    got = load({"path": "named.skops"}, OutputShape("binary", ("no", "yes"), "yes"), tmp_path).predict(X)
    np.testing.assert_array_equal(got, named.predict_proba(X)[:, list(named.classes_).index("yes")])
    with pytest.raises(InputError) as err:
        load({"path": "named.skops"}, OutputShape("binary", ("no", "maybe"), "maybe"), tmp_path)
    assert "'maybe'" in str(err.value) and "['no', 'yes']" in str(err.value)
    flags = make_pipeline(encoder(), LogisticRegression()).fit(X, y.astype(bool))
    sio.dump(flags, tmp_path / "flags.skops")
    got = load({"path": "flags.skops"}, OutputShape("binary", (0, 1), 1), tmp_path).predict(X)
    np.testing.assert_array_equal(got, flags.predict_proba(X)[:, 1])


def test_match_label_prefers_exact_and_flags_ambiguity():
    assert match_label("1", [1, "1"]) == 1
    assert match_label(1.0, ["0", "1"]) == 1
    assert match_label("b", ["a", "c"]) is None
    with pytest.raises(ValueError, match="several"):
        match_label(1, ["1", "1.0"])


def test_multiclass_columns_follow_the_evaluation_order(tmp_path, data, models):
    X = data[0]
    model = models["lr3"]
    sio.dump(model, tmp_path / "lr3.skops")
    order = ("mid", "high", "low")
    adapter = load({"path": "lr3.skops"}, OutputShape("multiclass", order), tmp_path)
    cols = [list(model.classes_).index(c) for c in order]
    np.testing.assert_array_equal(adapter.predict(X), model.predict_proba(X)[:, cols])
    with pytest.raises(InputError, match="'ultra'"):
        load({"path": "lr3.skops"}, OutputShape("multiclass", ("low", "mid", "ultra")), tmp_path)
    with pytest.warns(UserWarning, match="'high'"):
        load({"path": "lr3.skops"}, OutputShape("multiclass", ("low", "mid")), tmp_path)
    onehot = load({"path": "lr3.skops", "output": "predict"}, OutputShape("multiclass", order),
                  tmp_path).predict(X)
    labels = model.predict(X)
    np.testing.assert_array_equal(onehot, np.column_stack([labels == c for c in order]).astype(float))


def test_output_predict_regression_and_missing_predict_proba(tmp_path, data, models):
    X, y, _, value = data
    sio.dump(models["lr"], tmp_path / "lr.skops")
    labels = load({"path": "lr.skops", "output": "predict"}, BINARY, tmp_path).predict(X)
    np.testing.assert_array_equal(labels, (models["lr"].predict(X) == 1).astype(float))
    sio.dump(models["reg"], tmp_path / "reg.skops")
    reg = load({"path": "reg.skops"}, OutputShape("regression"), tmp_path)
    np.testing.assert_array_equal(reg.predict(X), models["reg"].predict(X))
    with pytest.raises(InputError, match="classification task"):
        load({"path": "reg.skops", "output": "proba"}, OutputShape("regression"), tmp_path)
    svm = make_pipeline(encoder(), LinearSVC()).fit(X, y)
    sio.dump(svm, tmp_path / "svm.skops")
    with pytest.raises(InputError) as err:
        load({"path": "svm.skops"}, BINARY, tmp_path)
    assert "output: predict" in str(err.value) and "CalibratedClassifierCV" in str(err.value)
    got = load({"path": "svm.skops", "output": "predict"}, BINARY, tmp_path).predict(X)
    np.testing.assert_array_equal(got, svm.predict(X).astype(float))


def test_frame_is_passed_as_given(tmp_path, data):
    """A model that checks feature names raises on shuffled columns: the adapter must not
    quietly put them back in order."""
    X, y, _, _ = data
    plain = LogisticRegression().fit(X[NUMERIC], y)
    sio.dump(plain, tmp_path / "plain.skops")
    adapter = load({"path": "plain.skops"}, BINARY, tmp_path, features=NUMERIC)
    np.testing.assert_array_equal(adapter.predict(X[NUMERIC]), plain.predict_proba(X[NUMERIC])[:, 1])
    with pytest.raises(ValueError, match="feature names"):
        adapter.predict(X[["x3", "x1", "x2"]])


# ---- ONNX ------------------------------------------------------------------------------------


def onnx_file(model, sample, path: Path, zipmap: bool, **kw) -> Path:
    from skl2onnx import to_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = to_onnx(model, sample, options=None if zipmap else {"zipmap": False}, **kw)
    path.write_bytes(onx.SerializeToString())
    return path


def as_float32(X: pd.DataFrame) -> pd.DataFrame:
    return X.astype({c: np.float32 for c in NUMERIC})


def test_onnx_per_column_inputs_with_and_without_zipmap(tmp_path, data, models):
    X = data[0]
    want = models["lr"].predict_proba(X)[:, 1]
    for zipmap in (True, False):
        onnx_file(models["lr"], as_float32(X[:1]), tmp_path / f"lr{zipmap}.onnx", zipmap)
        adapter = load({"path": f"lr{zipmap}.onnx"}, BINARY, tmp_path)
        assert adapter.kind == "onnx" and "assumed" not in adapter.description
        got = adapter.predict(X)
        assert got.shape == (len(X),)
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_onnx_single_tensor_with_and_without_zipmap(tmp_path, data):
    from skl2onnx.common.data_types import FloatTensorType

    X, y, _, _ = data
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[NUMERIC].to_numpy(), y)
    want = model.predict_proba(X[NUMERIC].to_numpy())[:, 1]
    for zipmap in (True, False):
        onnx_file(model, None, tmp_path / f"m{zipmap}.onnx", zipmap,
                  initial_types=[("X", FloatTensorType([None, 3]))])
        adapter = load({"path": f"m{zipmap}.onnx"}, BINARY, tmp_path, features=NUMERIC)
        np.testing.assert_allclose(adapter.predict(X[NUMERIC]), want, atol=1e-5, rtol=0)
        with pytest.raises(InputError, match="takes 3 column"):
            adapter.predict(X[["x1", "x2"]])
        with pytest.raises(InputError, match="'city'.*not numeric"):
            adapter.predict(X[["x1", "x2", "city"]])
    with pytest.raises(InputError) as err:
        load({"path": "mFalse.onnx", "onnx_output": "proba"}, BINARY, tmp_path, features=NUMERIC)
    assert "probabilities" in str(err.value) and "label" in str(err.value)


def test_onnx_multiclass_string_labels_reordered(tmp_path, data, models):
    X = data[0]
    model = models["lr3"]
    order = ("mid", "high", "low")
    want = model.predict_proba(X)[:, [list(model.classes_).index(c) for c in order]]
    for zipmap in (True, False):
        onnx_file(model, as_float32(X[:1]), tmp_path / f"lr3{zipmap}.onnx", zipmap)
        adapter = load({"path": f"lr3{zipmap}.onnx"}, OutputShape("multiclass", order), tmp_path)
        np.testing.assert_allclose(adapter.predict(X), want, atol=1e-5, rtol=0)


def test_onnx_classes_metadata_decides_the_column(tmp_path, data, models):
    import onnx

    X = data[0]
    path = onnx_file(models["lr"], as_float32(X[:1]), tmp_path / "lr.onnx", zipmap=False)
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"classes": "[1, 0]"})  # claims the columns are reversed
    onnx.save(proto, str(tmp_path / "meta.onnx"))
    got = load({"path": "meta.onnx"}, BINARY, tmp_path).predict(X)
    np.testing.assert_allclose(got, models["lr"].predict_proba(X)[:, 0], atol=1e-5, rtol=0)


def test_onnx_without_class_labels_assumes_sorted_order(tmp_path, data):
    """A hand-built graph (softmax of X @ W) names no classes: columns follow the sorted labels."""
    from onnx import TensorProto, helper, numpy_helper

    W = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Z"]),
         helper.make_node("Softmax", ["Z"], ["probs"], axis=1)],
        "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(W, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    (tmp_path / "soft.onnx").write_bytes(model.SerializeToString())
    X = data[0][["x1", "x2"]]
    z = X.to_numpy(np.float32) @ W
    soft = np.exp(z - z.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    adapter = load({"path": "soft.onnx"}, OutputShape("binary", ("yes", "no"), "yes"), tmp_path,
                   features=["x1", "x2"])
    assert "assumed sorted" in adapter.description
    np.testing.assert_allclose(adapter.predict(X), soft[:, 1], atol=1e-6)  # "no" < "yes"
    three = OutputShape("multiclass", ("b", "a"))
    got = load({"path": "soft.onnx"}, three, tmp_path).predict(X)
    np.testing.assert_allclose(got, soft[:, ::-1], atol=1e-6)


def test_onnx_regression_and_missing_string_is_a_row_error(tmp_path, data, models):
    X = data[0]
    onnx_file(models["reg"], as_float32(X[:1]), tmp_path / "reg.onnx", zipmap=True)  # no options
    reg = load({"path": "reg.onnx"}, OutputShape("regression"), tmp_path)
    np.testing.assert_allclose(reg.predict(X), models["reg"].predict(X), rtol=1e-5, atol=1e-4)
    onnx_file(models["lr"], as_float32(X[:1]), tmp_path / "lr.onnx", zipmap=False)
    adapter = load({"path": "lr.onnx"}, BINARY, tmp_path)
    broken = X.head(40).copy()
    broken.loc[[3, 17], "city"] = None
    with pytest.raises(ValueError, match="missing value in string input 'city'"):
        adapter.predict(broken)
    out = Predictor(adapter, cache=None, shape=BINARY, batch_size=16).predict(broken)
    assert np.flatnonzero(out.errored).tolist() == [3, 17]
    ok = np.ones(40, bool)
    ok[[3, 17]] = False
    np.testing.assert_allclose(out.values[ok], models["lr"].predict_proba(X.head(40)[ok])[:, 1], atol=1e-5)


# ---- functions -------------------------------------------------------------------------------


FUNCTION_FILE = '''
import numpy as np
import pandas as pd
from helper_mod import SCALE

def score(df):
    return 1.0 / (1.0 + np.exp(-SCALE * df["x1"].to_numpy()))

def classes(df):
    p = score(df)
    return pd.DataFrame({"high": p * 0.5, "low": 1 - p, "mid": p * 0.5})

def two_columns(df):
    p = score(df)
    return np.column_stack([1 - p, p])

def frame_by_name(df):
    p = score(df)
    return pd.DataFrame({1: p, 0: 1 - p})

def frame_by_position(df):
    return pd.DataFrame(two_columns(df))

def series(df):
    return pd.Series(score(df), index=df.index[::-1])

def wrong_length(df):
    return np.zeros(len(df) + 1)

def text(df):
    return ["a"] * len(df)
'''


def helper(folder: Path, monkeypatch, scale: float) -> None:
    """The sibling module the function file imports; Python keeps an imported module in
    sys.modules, so each test starts without it."""
    (folder / "helper_mod.py").write_text(f"SCALE = {scale}\n")
    monkeypatch.delitem(sys.modules, "helper_mod", raising=False)


def test_function_from_file_with_sibling_import(tmp_path, data, monkeypatch):
    X = data[0]
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "fn.py").write_text(FUNCTION_FILE)
    helper(tmp_path, monkeypatch, 2.0)
    adapter = load({"function": "pkg/fn.py:score"}, BINARY, tmp_path)
    assert adapter.kind == "function"
    np.testing.assert_allclose(adapter.predict(X), 1 / (1 + np.exp(-2.0 * X.x1.to_numpy())), rtol=1e-15)
    assert str(tmp_path) not in sys.path
    again = load({"function": "pkg/fn.py:score"}, BINARY, tmp_path).fingerprint
    assert again == adapter.fingerprint
    three = OutputShape("multiclass", ("low", "mid", "high"))
    other = load({"function": "pkg/fn.py:classes"}, three, tmp_path)
    assert other.fingerprint != adapter.fingerprint  # the qualified name counts
    p = 1 / (1 + np.exp(-2.0 * X.x1.to_numpy()))
    np.testing.assert_allclose(other.predict(X), np.column_stack([1 - p, p * 0.5, p * 0.5]), rtol=1e-15)
    (tmp_path / "pkg" / "fn.py").write_text(FUNCTION_FILE + "\n# changed\n")
    assert load({"function": "pkg/fn.py:score"}, BINARY, tmp_path).fingerprint != adapter.fingerprint


def test_function_output_forms(tmp_path, data, monkeypatch):
    """Arrays, two-column arrays and frames (by class name or position) and Series all give
    the positive class's probability."""
    X = data[0]
    (tmp_path / "fn.py").write_text(FUNCTION_FILE)
    helper(tmp_path, monkeypatch, 1.5)
    want = 1 / (1 + np.exp(-1.5 * X.x1.to_numpy()))
    for name in ("score", "two_columns", "frame_by_name", "frame_by_position", "series"):
        got = load({"function": f"fn.py:{name}"}, BINARY, tmp_path).predict(X)
        np.testing.assert_allclose(got.reshape(-1), want, rtol=1e-15, err_msg=name)
    flipped = load({"function": "fn.py:frame_by_name"}, OutputShape("binary", (1, 0), 0), tmp_path)
    np.testing.assert_allclose(flipped.predict(X).reshape(-1), 1 - want, rtol=1e-12)


def test_function_module_form_and_import_errors(tmp_path, data):
    X = data[0]
    (tmp_path / "mymodel_adapters_t.py").write_text(
        "def predict(df):\n    return (df['x3'] / 5.0).tolist()\n")
    adapter = load({"function": "mymodel_adapters_t:predict"}, BINARY, tmp_path)
    np.testing.assert_allclose(adapter.predict(X), X.x3.to_numpy() / 5.0)
    (tmp_path / "broken_adapters_t.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(InputError) as err:
        load({"function": "broken_adapters_t:predict"}, BINARY, tmp_path)
    assert "broken_adapters_t" in str(err.value) and "not_a_module_anywhere" in str(err.value)
    with pytest.raises(InputError, match="has no 'nope'"):
        load({"function": "mymodel_adapters_t:nope"}, BINARY, tmp_path)
    with pytest.raises(InputError, match="no such Python file"):
        load({"function": "missing.py:f"}, BINARY, tmp_path)
    with pytest.raises(InputError, match="module:function"):
        load({"function": "no_colon"}, BINARY, tmp_path)


def test_output_validation_names_adapter_and_lengths(tmp_path, data, monkeypatch):
    X = data[0].head(10)
    (tmp_path / "fn.py").write_text(FUNCTION_FILE)
    helper(tmp_path, monkeypatch, 1.0)
    bad = load({"function": "fn.py:wrong_length"}, BINARY, tmp_path)
    with pytest.raises(InputError) as err:
        Predictor(bad, cache=None, shape=BINARY).predict(X)
    assert "function fn.py:wrong_length" in str(err.value) and "11 rows for 10 rows" in str(err.value)
    text = load({"function": "fn.py:text"}, BINARY, tmp_path)
    with pytest.raises(InputError, match="non-numeric"):
        Predictor(text, cache=None, shape=BINARY).predict(X)
    multi = load({"function": "fn.py:score"}, OutputShape("multiclass", ("a", "b")), tmp_path)
    with pytest.raises(InputError, match=r"\(10, 2\)"):
        Predictor(multi, cache=None, shape=OutputShape("multiclass", ("a", "b"))).predict(X)


def test_url_dispatches_to_the_http_adapter(tmp_path, monkeypatch):
    made = {}

    class FakeHttp:
        def __init__(self, spec, shape, features, where):
            made.update(spec=spec, shape=shape, features=features, where=where)

    module = types.ModuleType("assay.models._http")
    module.HttpAdapter = FakeHttp  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "assay.models._http", module)
    adapter = load({"url": "http://localhost:9/predict"}, BINARY, tmp_path, features=["x1"])
    assert isinstance(adapter, FakeHttp)
    assert made["where"] == "models.m.adapter" and made["features"] == ["x1"] and made["shape"] == BINARY
