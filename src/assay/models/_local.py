"""Adapters for models that run in this process: scikit-learn estimators saved with skops or
joblib/pickle, ONNX models (onnxruntime, CPU) and Python functions.

Every adapter takes the DataFrame as given (columns are neither reselected nor reordered,
so a model that checks feature names raising on shuffled columns is reported as a finding)
and returns float64 numbers in the evaluation's layout (see ``assay.models._adapter``):

* estimators: ``predict_proba``'s column of the positive class, found in ``classes_`` by
  value with 1, "1" and True treated alike; multiclass columns reordered to the evaluation's
  classes; ``predict`` for regression. ``output: predict`` on a classification task turns
  the predicted label into 0/1 (binary) or a one-hot row (multiclass); probabilities are
  preferred, because ranking metrics (AUC, calibration) need scores, not labels.
* ONNX: one input of shape ``[N, F]`` gets the frame's columns stacked in frame order;
  several inputs are bound to columns by name (each ``[N, 1]``). The output is ``onnx_output``
  or the first float tensor whose shape fits; a ZipMap output (a list of dicts) is read by
  key. Probability columns follow the class labels named in the model's ``classes``
  metadata, else in the graph's classifier node (``classlabels_*``, the order skl2onnx
  writes: ``classes_``), else the evaluation's classes sorted.
* functions: ``module:function`` or ``file.py:function``; they get the DataFrame and return
  an array, list, Series or DataFrame (multiclass: columns named by class, else in class
  order).

Fingerprints are SHA-256 over the artifact's bytes (a function: its module's source file
and qualified name) plus every file listed in ``artifacts``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError, sample_values
from assay.models._adapter import AdapterSpec, OutputShape

FINGERPRINT_VERSION = "assay-adapter-v1"

PICKLE_MESSAGE = (
    "{path} ({where}.path): loading a pickle or joblib file runs arbitrary code from the file. "
    "It loads only with 'trust: true' in {where}, for files you made yourself or audited; "
    "better, save the model with skops (skops.io.dump) and point 'path' at the .skops file."
)
SKOPS_UNTRUSTED = (
    "{path} ({where}.path): the skops file contains types that are not trusted by default: "
    "{types}. Review them (skops.io.get_untrusted_types) and, if you trust them, list them "
    "under {where}.trusted_types."
)


# ---- labels --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _canonical(value: Any) -> str:
    """A spelling-tolerant form of a class label: 1, 1.0, "1", True and "true" agree."""
    v = _plain(value)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        s = v.strip()
        if s.lower() in ("true", "false"):
            return "1" if s.lower() == "true" else "0"
        try:
            f = float(s)
        except ValueError:
            return s
        if f.is_integer():
            return str(int(f))
        return repr(f) if np.isfinite(f) else s
    return str(v)


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Sort labels as numbers when they read as numbers (as ``np.unique`` orders classes_)."""
    c = _canonical(value)
    try:
        return 0, float(c), ""
    except ValueError:
        return 1, 0.0, c


def match_label(target: Any, labels: Sequence[Any]) -> int | None:
    """Position of ``target`` among ``labels``: an exact match first, else one whose spelling
    agrees (1 vs "1" vs True); None when none does. Several spelling matches are ambiguous
    and raise ValueError."""
    t = _plain(target)
    exact = [i for i, lab in enumerate(labels) if type(_plain(lab)) is type(t) and _plain(lab) == t]
    if len(exact) == 1:
        return exact[0]
    key = _canonical(target)
    loose = [i for i, lab in enumerate(labels) if _canonical(lab) == key]
    if len(loose) > 1:
        same = sample_values([labels[i] for i in loose])
        raise ValueError(f"class {target!r} matches several labels: {same}")
    return loose[0] if loose else None


def class_columns(shape: OutputShape, labels: Sequence[Any], who: str) -> list[int]:
    """For each class the evaluation expects (binary: the positive class), its column among
    the model's ``labels``; an InputError names the labels when one is missing."""
    wanted = [shape.positive] if shape.task == "binary" else list(shape.classes)
    cols: list[int] = []
    missing: list[Any] = []
    for c in wanted:
        try:
            j = match_label(c, labels)
        except ValueError as exc:
            raise InputError(f"{who}: {exc}; the model's classes are {list(map(_plain, labels))}") from None
        if j is None:
            missing.append(c)
        else:
            cols.append(j)
    if missing:
        what = "positive class" if shape.task == "binary" else "class(es)"
        raise InputError(f"{who}: the model's classes_ {list(map(_plain, labels))} lack the evaluation's "
                         f"{what} {sample_values(missing)}; check that the model was trained on this "
                         "label (and that the spec's positive class is spelled like the model's)")
    if shape.task == "multiclass":
        extra = [lab for j, lab in enumerate(labels) if j not in cols]
        if extra:
            warnings.warn(f"{who}: the model also predicts class(es) {sample_values(extra)} that the "
                          "evaluation does not have; their probabilities are left out", stacklevel=3)
    return cols


def table_output(raw: Any, shape: OutputShape, who: str) -> np.ndarray:
    """An array, list, Series or DataFrame returned by a model, as float64 in the evaluation's
    layout: ``(n,)``, or ``(n, k)`` in class order for multiclass (a DataFrame's columns are
    matched to the classes by name when they are not 0..k-1)."""
    if isinstance(raw, pd.DataFrame):
        labels = list(raw.columns)
        named = shape.task in ("binary", "multiclass") and labels != list(range(raw.shape[1]))
        if named and (shape.task == "multiclass" or raw.shape[1] > 1):
            raw = raw.iloc[:, class_columns(shape, labels, who)]
        arr = _numeric(raw.to_numpy(), who)
    elif isinstance(raw, pd.Series):
        arr = _numeric(raw.to_numpy(), who)
    else:
        arr = _numeric(np.asarray(raw), who)
    if shape.task == "binary" and arr.ndim == 2 and arr.shape[1] == 2:
        # two probability columns: in the evaluation's class order (classes[1] the positive)
        j = match_label(shape.positive, list(shape.classes)) if shape.classes else 1
        arr = arr[:, 1 if j is None else j]
    return arr


def _numeric(arr: np.ndarray, who: str) -> np.ndarray:
    if arr.dtype == object:
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError):
            bad = [v for v in arr.ravel() if not isinstance(v, int | float | np.number | type(None))]
            raise InputError(f"{who}: returned non-numeric values ({sample_values(bad)}); a model must "
                             "return probabilities or values as numbers") from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"{who}: returned non-numeric values of type {arr.dtype} "
                         f"({sample_values(arr.ravel()[:5].tolist())}); "
                         "a model must return probabilities or values as numbers")
    return arr.astype(np.float64, copy=False)


# ---- fingerprints ----------------------------------------------------------------------------


def _resolve(base_dir: Path, rel: str) -> Path:
    p = Path(rel).expanduser()
    return p if p.is_absolute() else base_dir / p


def fingerprint(kind: str, parts: Sequence[tuple[str, str]], spec: AdapterSpec, base_dir: Path,
                where: str) -> str:
    """SHA-256 over (name, digest) ``parts`` and every file of ``spec.artifacts``."""
    from assay.data._fingerprint import path_sha256

    h = hashlib.sha256(f"{FINGERPRINT_VERSION}\0{kind}\0".encode())
    for name, digest in parts:
        h.update(f"{name}\0{digest}\n".encode())
    for rel in spec.artifacts:
        p = _resolve(base_dir, rel)
        if not p.exists():
            raise InputError(f"{p} ({where}.artifacts): no such file or folder; fix the path "
                             f"(relative to {base_dir}) or remove it from the list")
        h.update(f"artifact\0{rel}\0{path_sha256(p)[0]}\n".encode())
    return h.hexdigest()


def model_file(spec: AdapterSpec, base_dir: Path, where: str) -> Path:
    """The adapter's ``path`` resolved against the spec folder; it must exist."""
    assert spec.path is not None
    p = _resolve(base_dir, spec.path)
    if not p.exists():
        raise InputError(f"{p} ({where}.path): no such model file; fix the path (relative to {base_dir})")
    return p


# ---- scikit-learn estimators ----------------------------------------------------------------


class EstimatorAdapter:
    """A fitted scikit-learn estimator or pipeline (loaded from skops or joblib/pickle)."""

    deterministic = True
    cacheable = True

    def __init__(self, model: Any, *, kind: str, fingerprint: str, features: list[str],
                 shape: OutputShape, spec: AdapterSpec, where: str, description: str) -> None:
        self.model = model
        self.kind = kind
        self.fingerprint = fingerprint
        self.features = list(features)
        self.description = description
        self.shape = shape
        self.spec = spec
        who = f"{description} ({where})"
        classify = shape.task in ("binary", "multiclass")
        mode = spec.output if spec.output != "auto" else ("proba" if classify else "predict")
        if mode == "proba" and not classify:
            raise InputError(f"{who}: output 'proba' needs a classification task, this one is "
                             f"{shape.task!r}; use output: predict (or auto)")
        self.output_config = mode
        self._labels: np.ndarray | None = None
        self._cols: list[int] = []
        if classify:
            labels = getattr(model, "classes_", None)
            if labels is None:
                raise InputError(f"{who}: the model has no classes_, so assay cannot tell which "
                                 "column is which class; is it a fitted classifier?")
            self._labels = np.asarray(labels)
            if mode == "proba" and not hasattr(model, "predict_proba"):
                raise InputError(f"{who}: {type(model).__name__} has no predict_proba; set "
                                 f"{where}.output: predict to score its predicted labels, or wrap it in "
                                 "sklearn.calibration.CalibratedClassifierCV to get probabilities")
            self._cols = class_columns(shape, list(self._labels), who)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities of the evaluation's classes, or values (regression)."""
        if self.output_config == "proba":
            proba = np.asarray(self.model.predict_proba(frame), dtype=np.float64)
            return proba[:, self._cols[0]] if self.shape.task == "binary" else proba[:, self._cols]
        pred = np.asarray(self.model.predict(frame))
        if self._labels is None:
            return pred.reshape(len(pred), -1)[:, 0] if pred.ndim == 2 and pred.shape[1] == 1 else pred
        if self.shape.task == "binary":
            return (pred == self._labels[self._cols[0]]).astype(np.float64)
        onehot = np.zeros((len(pred), len(self._cols)))
        for k, j in enumerate(self._cols):
            onehot[:, k] = pred == self._labels[j]
        return onehot


def load_skops(spec: AdapterSpec, shape: OutputShape, features: list[str], base_dir: Path,
               where: str) -> EstimatorAdapter:
    """A skops file: refuses types outside skops' defaults unless ``trusted_types`` lists them."""
    try:
        import skops.io as sio
    except ImportError:
        raise InputError(f"{where}: reading a .skops model needs skops; pip install skops") from None
    path = model_file(spec, base_dir, where)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise InputError(f"{path} ({where}.path): not a readable skops file ({type(exc).__name__}: "
                         f"{exc})") from None
    refused = [t for t in untrusted if t not in spec.trusted_types]
    if refused:
        raise InputError(SKOPS_UNTRUSTED.format(path=path, where=where, types=", ".join(refused)))
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise InputError(f"{path} ({where}.path): skops cannot load it ({type(exc).__name__}: {exc}); "
                         "was it saved with compatible skops and scikit-learn versions?") from None
    return _estimator(model, "skops", path, spec, shape, features, base_dir, where)


def load_joblib(spec: AdapterSpec, shape: OutputShape, features: list[str], base_dir: Path,
                where: str) -> EstimatorAdapter:
    """A joblib or pickle file, only with ``trust: true`` (unpickling runs the file's code)."""
    path = model_file(spec, base_dir, where)
    if not spec.trust:
        raise InputError(PICKLE_MESSAGE.format(path=path, where=where))
    import joblib

    try:
        model = joblib.load(path)
    except Exception as exc:
        raise InputError(f"{path} ({where}.path): cannot load ({type(exc).__name__}: {exc}); was it "
                         "saved with joblib.dump or pickle with the same package versions?") from None
    return _estimator(model, "joblib", path, spec, shape, features, base_dir, where)


def _estimator(model: Any, kind: str, path: Path, spec: AdapterSpec, shape: OutputShape,
               features: list[str], base_dir: Path, where: str) -> EstimatorAdapter:
    from assay.data._fingerprint import path_sha256

    fp = fingerprint(kind, [("file", path_sha256(path)[0])], spec, base_dir, where)
    if not (hasattr(model, "predict") or hasattr(model, "predict_proba")):
        raise InputError(f"{path} ({where}.path): holds a {type(model).__name__}, not a model with "
                         "predict or predict_proba")
    return EstimatorAdapter(model, kind=kind, fingerprint=fp, features=features, shape=shape, spec=spec,
                            where=where, description=f"{kind} file {spec.path}")


# ---- ONNX ----------------------------------------------------------------------------------

_ONNX_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
_FLOAT_TENSORS = ("tensor(float)", "tensor(double)", "tensor(float16)")


def _onnx_labels(path: Path, session: Any) -> list[Any] | None:
    """Class labels in the order of the probability columns: the ``classes`` metadata entry
    (a JSON list or comma-separated), else the classifier node's ``classlabels_*``."""
    meta = session.get_modelmeta().custom_metadata_map or {}
    if "classes" in meta:
        text = meta["classes"]
        try:
            labels = json.loads(text)
        except ValueError:
            labels = [s.strip() for s in text.split(",")]
        return list(labels) if isinstance(labels, list) else None
    try:
        import onnx
        from onnx import helper
    except ImportError:
        return None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    for node in graph.node:
        for attr in node.attribute:
            if attr.name in ("classlabels_ints", "classlabels_int64s", "classlabels_strings"):
                values = helper.get_attribute_value(attr)
                return [v.decode() if isinstance(v, bytes) else int(v) for v in values]
    return None


class OnnxAdapter:
    """An ONNX model run by onnxruntime on the CPU."""

    kind = "onnx"
    deterministic = True
    cacheable = True

    def __init__(self, path: Path, *, spec: AdapterSpec, shape: OutputShape, features: list[str],
                 fingerprint: str, where: str) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError(f"{where}: running an ONNX model needs onnxruntime; "
                             "pip install onnxruntime") from None
        self.spec = spec
        self.shape = shape
        self.features = list(features)
        self.fingerprint = fingerprint
        self.description = f"onnx file {spec.path}"
        self._who = f"{self.description} ({where})"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise InputError(f"{path} ({where}.path): onnxruntime cannot load it "
                             f"({type(exc).__name__}: {exc})") from None
        self.inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(self.inputs) > 1:
            names = [i.name for i in self.inputs]
            missing = [n for n in names if n not in self.features]
            if missing:
                raise InputError(f"{self._who}: the model's inputs {sample_values(missing)} are not among "
                                 f"the feature columns ({', '.join(self.features)}); several inputs are "
                                 "bound to columns by name")
        for i in self.inputs:
            if i.type not in _ONNX_DTYPES:
                raise InputError(f"{self._who}: input {i.name!r} has type {i.type}, which assay cannot "
                                 "feed from a DataFrame column")
        self.output = self._pick_output(outputs, where)
        self.output_config = f"onnx:{self.output.name}"
        classify = shape.task in ("binary", "multiclass")
        self._labels = _onnx_labels(path, self.session) if classify else None
        self._labels_assumed = classify and self._labels is None
        if self._labels_assumed:
            self._labels = sorted(shape.classes, key=_sort_key)
            self.description += " (class order assumed sorted)"

    def _pick_output(self, outputs: list[Any], where: str) -> Any:
        names = [o.name for o in outputs]
        if self.spec.onnx_output is not None:
            for o in outputs:
                if o.name == self.spec.onnx_output:
                    return o
            raise InputError(f"{self._who}: {where}.onnx_output {self.spec.onnx_output!r} is not an output "
                             f"of the model; outputs: {', '.join(names)}")
        width = self.shape.width if self.shape.task == "multiclass" else 2
        for o in outputs:
            if o.type not in _FLOAT_TENSORS:
                continue
            dims = list(o.shape or [])
            if self.shape.task == "regression" or len(dims) <= 1:
                return o
            if len(dims) == 2 and (not isinstance(dims[1], int) or dims[1] in (1, width)):
                return o
        if self.shape.task != "regression":
            for o in outputs:
                if o.type.startswith("seq(map("):
                    return o
        what = "values" if self.shape.task == "regression" else "probabilities"
        raise InputError(f"{self._who}: no output holds {what} of a fitting shape; outputs: "
                         f"{', '.join(f'{o.name} {o.type} {o.shape}' for o in outputs)}; name one in "
                         f"{where}.onnx_output")

    def _feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if len(self.inputs) == 1:  # one tensor: the frame's columns stacked in frame order
            inp = self.inputs[0]
            dims = list(inp.shape or [])
            want = dims[1] if len(dims) == 2 and isinstance(dims[1], int) else None
            if (want is not None and want != frame.shape[1]) or (len(dims) == 1 and frame.shape[1] != 1):
                raise InputError(f"{self._who}: input {inp.name!r} takes {want or 1} column(s), the frame "
                                 f"has {frame.shape[1]} ({', '.join(map(str, frame.columns))}); list the "
                                 "model's features in 'features'")
            arr = self._column_block(frame, inp)
            return {inp.name: arr.reshape(-1) if len(dims) == 1 else arr}
        feeds: dict[str, np.ndarray] = {}
        for inp in self.inputs:  # several inputs: one column each, by name
            if inp.name not in frame.columns:
                raise InputError(f"{self._who}: the frame has no column {inp.name!r} for the model's input "
                                 f"of that name; columns: {', '.join(map(str, frame.columns))}")
            arr = self._column_block(frame[[inp.name]], inp)
            feeds[inp.name] = arr if len(inp.shape or []) == 2 else arr.reshape(-1)
        return feeds

    def _column_block(self, frame: pd.DataFrame, inp: Any) -> np.ndarray:
        """Columns as an ``[N, F]`` array of the input's element type."""
        dtype = _ONNX_DTYPES[inp.type]
        if dtype is object:
            return _strings(frame.to_numpy(dtype=object), inp.name)
        bad = [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c])
                                                or pd.api.types.is_bool_dtype(frame[c]))]
        if bad:
            raise InputError(f"{self._who}: input {inp.name!r} is {inp.type} but column(s) "
                             f"{sample_values(bad)} are not numeric "
                             f"({', '.join(str(frame[c].dtype) for c in bad)}); convert the model with one "
                             "input per column (skl2onnx.to_onnx on a DataFrame) or encode them first")
        if np.issubdtype(np.dtype(dtype), np.integer) and all(
                pd.api.types.is_integer_dtype(frame[c]) and not frame[c].hasnans for c in frame.columns):
            return frame.to_numpy().astype(dtype)
        return _as_tensor(frame.to_numpy(dtype=np.float64, na_value=np.nan), dtype, inp.name)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Run the session and pick the probabilities or values (see the module docstring)."""
        (out,) = self.session.run([self.output.name], self._feeds(frame))
        n = len(frame)
        if self.shape.task == "regression":
            arr = _numeric(np.asarray(out), self._who)
            return arr.reshape(n, -1)[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr
        assert self._labels is not None
        if isinstance(out, list):  # ZipMap: one {label: probability} dict per row
            keys = list(out[0].keys()) if out else list(self._labels)
            cols = class_columns(self.shape, keys, self._who)
            chosen = [keys[j] for j in cols]
            arr = np.array([[row[k] for k in chosen] for row in out], dtype=np.float64).reshape(n, len(cols))
            return arr[:, 0] if self.shape.task == "binary" else arr
        arr = _numeric(np.asarray(out), self._who)
        if self.shape.task == "binary" and (arr.ndim == 1 or arr.shape[1] == 1):
            return arr.reshape(-1)
        if arr.ndim != 2 or arr.shape[1] != len(self._labels):
            raise InputError(f"{self._who}: output {self.output.name!r} has shape {arr.shape}, but the model "
                             f"has {len(self._labels)} classes ({sample_values(self._labels, 10)}); set "
                             "'classes' in the ONNX metadata or pick another output with onnx_output")
        cols = class_columns(self.shape, self._labels, self._who)
        return arr[:, cols[0]] if self.shape.task == "binary" else arr[:, cols]


def _as_tensor(values: np.ndarray, dtype: Any, name: str) -> np.ndarray:
    if np.issubdtype(np.dtype(dtype), np.integer) or dtype is np.bool_:
        if np.isnan(values).any():
            rows = np.flatnonzero(np.isnan(values).reshape(len(values), -1).any(axis=1))
            raise ValueError(f"missing value in integer input {name!r} (rows {sample_values(rows)})")
    return values.astype(dtype)


def _strings(values: np.ndarray, name: str) -> np.ndarray:
    missing = pd.isna(values)
    if missing.any():
        rows = np.flatnonzero(missing.reshape(len(values), -1).any(axis=1))
        raise ValueError(f"missing value in string input {name!r} (rows {sample_values(rows)})")
    return np.array([str(v) for v in values.ravel()], dtype=object).reshape(values.shape)


def load_onnx(spec: AdapterSpec, shape: OutputShape, features: list[str], base_dir: Path,
              where: str) -> OnnxAdapter:
    """An ONNX file."""
    from assay.data._fingerprint import path_sha256

    path = model_file(spec, base_dir, where)
    fp = fingerprint("onnx", [("file", path_sha256(path)[0])], spec, base_dir, where)
    return OnnxAdapter(path, spec=spec, shape=shape, features=features, fingerprint=fp, where=where)


# ---- functions -----------------------------------------------------------------------------


class FunctionAdapter:
    """A Python function taking a DataFrame and returning predictions."""

    kind = "function"
    deterministic = True
    cacheable = True

    def __init__(self, func: Any, *, spec: AdapterSpec, shape: OutputShape, features: list[str],
                 fingerprint: str, where: str) -> None:
        self.func = func
        self.spec = spec
        self.shape = shape
        self.features = list(features)
        self.fingerprint = fingerprint
        self.description = f"function {spec.function}"
        self.output_config = "function"
        self._who = f"{self.description} ({where})"

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Call the function and bring its result into the evaluation's layout."""
        return table_output(self.func(frame), self.shape, self._who)


def load_function(spec: AdapterSpec, shape: OutputShape, features: list[str], base_dir: Path,
                  where: str) -> FunctionAdapter:
    """Import ``module:function`` or ``file.py:function`` with the spec folder on sys.path."""
    text = spec.function or ""
    target, sep, name = text.rpartition(":")
    if not sep or not target or not name:
        raise InputError(f"{where}.function: {text!r} is not 'module:function' or 'file.py:function'")
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    folders = [str(base_dir.resolve())]
    if is_file:
        file = _resolve(base_dir, target).resolve()
        if not file.is_file():
            raise InputError(f"{file} ({where}.function): no such Python file; the path is relative to "
                             f"{base_dir}")
        folders.append(str(file.parent))
    added = [f for f in dict.fromkeys(folders) if f not in sys.path]
    sys.path[:0] = added
    try:
        if is_file:
            mod_name = f"_assay_fn_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}_{file.stem}"
            loader_spec = importlib.util.spec_from_file_location(mod_name, file)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(mod_name, None)
                raise
        else:
            module = importlib.import_module(target)
    except Exception as exc:
        raise InputError(f"{where}.function: importing {target!r} failed: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        for f in added:
            if f in sys.path:
                sys.path.remove(f)
    func: Any = module
    try:
        for part in name.split("."):
            func = getattr(func, part)
    except AttributeError:
        raise InputError(f"{where}.function: {target!r} has no {name!r}") from None
    if not callable(func):
        raise InputError(f"{where}.function: {text!r} is a {type(func).__name__}, not a function")
    home = sys.modules.get(getattr(func, "__module__", "") or "", module)
    source = getattr(home, "__file__", None) or getattr(module, "__file__", None)
    if source and Path(source).is_file():
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    else:  # a built-in or compiled module: its name and version stand for the source
        digest = hashlib.sha256(f"{home.__name__}\0{getattr(home, '__version__', '')}".encode()).hexdigest()
    # the file's name, not the module name it is imported under (which holds the full path)
    qualname = f"{Path(target).name if is_file else home.__name__}:{getattr(func, '__qualname__', name)}"
    fp = fingerprint("function", [("source", digest), ("qualname", qualname)], spec, base_dir, where)
    return FunctionAdapter(func, spec=spec, shape=shape, features=features, fingerprint=fp, where=where)
