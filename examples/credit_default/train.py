"""Train two scikit-learn models on the credit-default training sample and save them with skops.

The models learn ``defaulted`` from six columns of ``data/train.parquet`` (the 2024 vintage
written by ``generate.py``), in this order: ``region``, ``channel`` (strings), ``income``,
``tenure_years``, ``age`` and ``loan_amount``. They are given exactly these columns and nothing
derived outside the model, so that an adapter can feed them the evaluation set's columns as is.

* ``logistic``: a Pipeline of a ColumnTransformer (one-hot encoding of region and channel that
  ignores unseen categories; ``log1p`` of income and loan amount, then standardisation; the
  other numbers standardised) and an L2-penalised LogisticRegression (lbfgs). It cannot take
  missing values: a NaN in any feature makes it raise, which a robustness run reports as a
  finding.
* ``gbm``: a Pipeline of an OrdinalEncoder for region and channel (an unseen or missing category
  becomes NaN, which the booster sends down its missing-value branch), the numbers passed
  through unchanged (NaN handled natively), and a HistGradientBoostingClassifier with 200
  iterations, no early stopping, ``learning_rate=0.05``, ``max_leaf_nodes=8``,
  ``min_samples_leaf=50``, ``l2_regularization=1.0``, ``random_state=0``, region and channel
  declared categorical. These settings keep 200 iterations from overfitting 20,000 rows.

Both pipelines are fitted on a DataFrame and so record ``feature_names_in_`` (the booster's
encoder keeps pandas output so that its categorical columns are named), and a run can check
the column order the model expects.

Reproducible files. Training is deterministic (lbfgs; the booster draws no random numbers
without early stopping or subsampling, and fits with one OpenMP thread so that its sums and
its recorded thread count do not depend on the machine). skops itself does not write the same
bytes twice: its zip entries carry the time of writing, and its ``schema.json`` and array file
names carry Python object ids (memory addresses). ``skops_bytes`` therefore rewrites the
deflated archive skops produced: object ids are renumbered 1, 2, ... in order of first
appearance, array files are renamed to match, and every entry gets a fixed timestamp. The
content is unchanged and the file loads with ``skops.io.load``; the same ``train.parquet``
gives byte-identical ``.skops`` files (with the same library versions), so a prediction cache
keyed by the file's hash stays valid when the models are retrained.

Loading. ``skops.io.get_untrusted_types`` reports, with scikit-learn 1.9 and skops 0.16:

* ``logistic``: none.
* ``gbm``: the booster's fitted trees and the input check of its internal preprocessor:

  - ``functools.partial``
  - ``sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor``
  - ``sklearn.utils.validation.check_array``

A spec lists them under the adapter's ``trusted_types``. Load with
``skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))`` after reviewing them.

Usage::

    python examples/credit_default/train.py [--data DIR] [--out DIR]

``--data`` holds ``train.parquet`` and ``eval.parquet`` (default: ``data/`` next to this file);
``--out`` receives ``logistic.skops`` and ``gbm.skops`` (default: ``DATA/models``). The script
prints each model's ROC AUC on ``eval.parquet`` (scikit-learn's ``roc_auc_score``), the saved
files and their untrusted types. Exit code 2 when the data is missing or malformed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data"
FEATURES = ("region", "channel", "income", "tenure_years", "age", "loan_amount")
CATEGORICAL = ("region", "channel")
LOG_SCALED = ("income", "loan_amount")
SCALED = ("tenure_years", "age")
LABEL = "defaulted"
MODEL_NAMES = ("logistic", "gbm")
#: what ``skops.io.get_untrusted_types`` reports for each saved model (see the docstring)
UNTRUSTED_TYPES: dict[str, list[str]] = {
    "logistic": [],
    "gbm": [
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    ],
}


class DataError(ValueError):
    """The training or evaluation data is missing or malformed; the message names the file,
    column or rows and the fix. (The script stands alone: it does not need assay installed.)"""


# A fixed zip timestamp (the earliest a zip file can hold), so that the bytes do not depend
# on when the models were saved.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o600 << 16
SCHEMA = "schema.json"


def build_logistic() -> Pipeline:
    """The unfitted logistic pipeline: one-hot categories, log-scaled money, standardised numbers."""
    prep = ColumnTransformer(
        [
            ("category", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(CATEGORICAL)),
            ("log", Pipeline([("log1p", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                              ("scale", StandardScaler())]), list(LOG_SCALED)),
            ("scale", StandardScaler(), list(SCALED)),
        ],
        remainder="drop",
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=1000))])


def build_gbm() -> Pipeline:
    """The unfitted boosting pipeline: ordinal-coded categories (unseen -> NaN), raw numbers."""
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan)
    prep = ColumnTransformer([("category", encoder, list(CATEGORICAL))], remainder="passthrough",
                             verbose_feature_names_out=False).set_output(transform="pandas")
    model = HistGradientBoostingClassifier(
        max_iter=200, early_stopping=False, learning_rate=0.05, max_leaf_nodes=8,
        min_samples_leaf=50, l2_regularization=1.0, categorical_features=list(CATEGORICAL),
        random_state=0,
    )
    return Pipeline([("prep", prep), ("model", model)])


def read_frame(path: Path, *, role: str) -> pd.DataFrame:
    """Read a Parquet table with the feature and label columns, checking what training needs:
    every column present, a 0/1 label and no missing values (the logistic model takes none)."""
    if not path.is_file():
        hint = "run `python examples/credit_default/generate.py` first (it writes data/)"
        raise DataError(f"{role} file {path} does not exist; {hint}, or pass --data DIR")
    frame = pd.read_parquet(path)
    missing = [c for c in (*FEATURES, LABEL) if c not in frame.columns]
    if missing:
        raise DataError(f"{path} has no column(s) {', '.join(missing)}; it needs {', '.join(FEATURES)} "
                        f"and {LABEL} (regenerate it with generate.py)")
    for column in (*FEATURES, LABEL):
        nulls = frame[column].isna().to_numpy()
        if nulls.any():
            rows = np.flatnonzero(nulls)[:5].tolist()
            raise DataError(f"{path}: column {column!r} has {int(nulls.sum())} missing value(s) "
                            f"(rows {rows}...); fill or drop them before training")
    if len(frame) == 0:
        raise DataError(f"{path} has no rows; regenerate it with generate.py")
    labels = set(pd.unique(frame[LABEL]).tolist())
    if not labels <= {0, 1}:
        raise DataError(f"{path}: column {LABEL!r} must hold 0 and 1; found {sorted(labels)[:5]}")
    return frame


def fit_models(train: pd.DataFrame) -> dict[str, Pipeline]:
    """Fit both pipelines on the feature columns of ``train`` (the booster on one thread, so the
    fit and the thread count it records are the same on every machine)."""
    if train[LABEL].nunique() < 2:
        raise DataError(f"the training sample has only one {LABEL!r} value; both classes are needed")
    x, y = train[list(FEATURES)], train[LABEL].to_numpy()
    models = {"logistic": build_logistic(), "gbm": build_gbm()}
    with threadpool_limits(limits=1, user_api="openmp"):
        for model in models.values():
            model.fit(x, y)
    return models


def positive_proba(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The model's probability of default for each row of ``frame``."""
    return model.predict_proba(frame[list(FEATURES)])[:, 1]


def eval_auc(models: dict[str, Pipeline], frame: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of each model on ``frame`` (scikit-learn's ``roc_auc_score``)."""
    if frame[LABEL].nunique() < 2:
        raise DataError(f"the evaluation set has only one {LABEL!r} value; ROC AUC needs both")
    return {name: float(roc_auc_score(frame[LABEL], positive_proba(m, frame))) for name, m in models.items()}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict of a skops schema, depth first in document order."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def normalise_skops(raw: bytes) -> bytes:
    """Rewrite a skops archive so that it no longer depends on memory addresses or the clock.

    Object ids (``__id__``) are renumbered from 1 in order of first appearance (0 would read as
    "no id" to skops' loader), array and byte files are renamed ``<n><suffix>`` in the same way
    and the schema points at the new names; entries get a fixed timestamp and mode and are
    written in schema order, the schema last (as skops does).
    """
    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        state = json.loads(source.read(SCHEMA))
        entries = {info.filename: info for info in source.infolist()}
        ids: dict[int, int] = {}
        names: dict[str, str] = {}
        for node in _walk(state):
            if "__id__" in node:
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            if isinstance(node.get("file"), str):
                old = node["file"]
                node["file"] = names.setdefault(old, f"{len(names) + 1}{Path(old).suffix}")
        unreferenced = set(entries) - set(names) - {SCHEMA}
        unknown = set(names) - set(entries)
        if unreferenced or unknown:
            raise RuntimeError(f"unexpected skops archive layout: files {sorted(unreferenced)[:3]} are not "
                               f"referenced, {sorted(unknown)[:3]} are missing; skops "
                               f"{skops.__version__} changed its format")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for old, new in names.items():
                _write_entry(target, new, source.read(old), entries[old].compress_type)
            _write_entry(target, SCHEMA, json.dumps(state, indent=2).encode("utf-8"),
                         entries[SCHEMA].compress_type)
    return out.getvalue()


def _write_entry(target: zipfile.ZipFile, name: str, data: bytes, compress_type: int) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = compress_type
    info.external_attr = ZIP_FILE_MODE
    target.writestr(info, data)


def skops_bytes(model: Any) -> bytes:
    """The skops file of ``model``, deflate-compressed, with reproducible bytes (see
    :func:`normalise_skops`)."""
    return normalise_skops(sio.dumps(model, compression=zipfile.ZIP_DEFLATED))


def save_models(models: dict[str, Pipeline], out: Path) -> dict[str, Path]:
    """Write each model to ``out/<name>.skops``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, model in models.items():
        path = out / f"{name}.skops"
        path.write_bytes(skops_bytes(model))
        paths[name] = path
    return paths


def load_model(path: Path) -> Any:
    """Load a saved model, trusting exactly the types skops reports as untrusted for it."""
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@dataclass(frozen=True)
class TrainingResult:
    """What a training run produced: the fitted models, their eval AUC, files and untrusted types."""

    models: dict[str, Pipeline]
    auc: dict[str, float]
    paths: dict[str, Path]
    untrusted: dict[str, list[str]]
    eval_rows: int


def train(data: Path = DEFAULT_DATA, out: Path | None = None) -> TrainingResult:
    """Fit both models on ``data/train.parquet``, score ``data/eval.parquet``, save the models to
    ``out`` (default ``data/models``) and report what skops will ask a loader to trust."""
    train_frame = read_frame(data / "train.parquet", role="training")
    eval_frame = read_frame(data / "eval.parquet", role="evaluation")
    models = fit_models(train_frame)
    auc = eval_auc(models, eval_frame)
    paths = save_models(models, out if out is not None else data / "models")
    untrusted = {name: sorted(sio.get_untrusted_types(file=path)) for name, path in paths.items()}
    return TrainingResult(models, auc, paths, untrusted, len(eval_frame))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with train.parquet and eval.parquet")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the .skops files (default: DATA/models)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = train(args.data, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in MODEL_NAMES:
        path = result.paths[name]
        raw = path.read_bytes()
        print(f"{name:<9} ROC AUC {result.auc[name]:.4f} on {result.eval_rows:,} eval rows")
        print(f"          saved {path} ({len(raw):,} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]})")
        print(f"          untrusted types: {', '.join(result.untrusted[name]) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
