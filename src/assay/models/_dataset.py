"""Predict with the spec's adapter models on the evaluation set, before anything is scored.

The dataset is read once (the same registration as the evaluation's), each adapter model
predicts on its feature columns through a :class:`~assay.models.Predictor` (cached,
batched, failing rows isolated), and the predictions are appended as internal columns
(``__pred{i}``, ``__pred{i}_{j}`` for class probabilities). The spec handed to the rest of
the pipeline names those columns, so metrics, slices, comparisons and gates treat an
adapter model exactly like one whose predictions came from a file. Rows the model failed
on are NaN there and are counted as ``model error`` exclusions, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from assay._errors import InputError, sample_values
from assay.models._adapter import ModelAdapter, OutputShape
from assay.spec import EvalSpec, ModelSpec

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

MODEL_ERROR = "model error"
#: columns of the ``prediction_errors`` table: failures by model, input and message
ERROR_COLUMNS = ["model", "input", "message", "rows", "example_rows"]


@dataclass
class ModelRun:
    """One adapter model loaded and run on the clean evaluation rows."""

    name: str
    index: int
    adapter: ModelAdapter
    predictor: Any  # assay.models.Predictor
    shape: OutputShape
    features: list[str]
    #: predictions on every dataset row, in dataset order (assay.models.Predictions)
    clean: Any

    def lineage(self) -> dict[str, Any]:
        """What the run record keeps of this model: kind, fingerprint, features, cache use."""
        p = self.clean
        return {"kind": self.adapter.kind, "sha256": self.adapter.fingerprint,
                "description": self.adapter.description, "features": list(self.features),
                "rows": int(p.n_rows), "unique_rows": int(p.n_unique), "cached": int(p.n_cached),
                "predicted": int(p.n_predicted), "errored": int(p.errored.sum()),
                "model_seconds": round(float(p.model_seconds), 4),
                "cacheable": bool(self.adapter.cacheable)}


@dataclass
class InLoop:
    """The dataset with the adapter models' predictions, and the spec that scores them."""

    table: pa.Table
    spec: EvalSpec
    frame: pd.DataFrame
    runs: dict[str, ModelRun] = field(default_factory=dict)
    cache: Any = None  # assay.models.PredictionCache | None
    source: str = "the dataset"

    def count_errors(self, rows: Any) -> None:
        """Name the exclusions of adapter models: every missing score of theirs is a row the
        model failed on (or answered NaN for), counted as ``model error``."""
        from assay.data._sources import MISSING_SCORE

        for name in self.runs:
            for table in (rows.excluded, rows.exclusions):
                if name in table and MISSING_SCORE in table[name]:
                    table[name][MODEL_ERROR] = table[name].pop(MISSING_SCORE)

    def error_table(self) -> pd.DataFrame:
        """The clean run's failures per model and message (rows, 1-based example rows)."""
        frames = [f for name, run in self.runs.items()
                  if (f := error_rows(name, "clean", run.clean.errors)) is not None]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=ERROR_COLUMNS)


def error_rows(model: str, source: str, errors: pd.DataFrame | None,
               positions: Any = None) -> pd.DataFrame | None:
    """A predictor's errors (message, rows, example positions) as ``prediction_errors`` rows:
    example rows become 1-based dataset row numbers (``positions`` maps the predicted
    frame's rows to dataset rows; default: the same). None when there is no error."""
    if errors is None or not len(errors):
        return None
    where = (lambda i: int(i)) if positions is None else (lambda i: int(positions[i]))
    return pd.DataFrame({
        "model": model, "input": source, "message": errors.message.to_numpy(),
        "rows": errors.rows.to_numpy(),
        "example_rows": [", ".join(str(where(i) + 1) for i in ex) for ex in errors.example_rows]})


def prediction_cache(spec: EvalSpec, base_dir: Path, enabled: bool = True):
    """The spec's prediction cache: ``cache: true`` the default folder, a path, or none."""
    from assay.models import PredictionCache, default_cache_dir

    if not enabled or spec.cache is False:
        return None
    root = default_cache_dir() if spec.cache is True else (base_dir / str(spec.cache))
    return PredictionCache(Path(root))


def feature_columns(spec: EvalSpec, model: ModelSpec, columns: list[str], source: str) -> list[str]:
    """The adapter's ``features``, checked against the dataset; by default every column but
    the id, label, weight and other models' prediction columns."""
    assert model.adapter is not None
    where = f"models.{model.name}.adapter.features"
    if model.adapter.features is not None:
        missing = [c for c in model.adapter.features if c not in columns]
        if missing:
            raise InputError(f"{source}: {where} names column(s) {sample_values(missing)} that the "
                             f"dataset lacks. Columns: {', '.join(columns)}")
        if not model.adapter.features:
            raise InputError(f"{where}: the list is empty; name the columns the model takes")
        return list(model.adapter.features)
    skip = {spec.label, spec.id, spec.weight}
    for m in spec.models:
        skip |= {m.score, m.prediction, *(m.scores or {}).values()}
    out = [c for c in columns if c not in skip and not c.startswith("__")]
    if not out:
        raise InputError(f"{source}: model {model.name!r} has no feature column left (the dataset "
                         f"has only {', '.join(columns)}); list them in {where}")
    return out


def predict_models(
    spec: EvalSpec, base_dir: Path | str, data: pa.Table | None = None, *,
    use_cache: bool = True, progress: Progress | None = None,
) -> InLoop:
    """Run every adapter model of ``spec`` on the dataset (see the module docstring)."""
    from assay.data._sources import _Builder
    from assay.models import Predictor, load_adapter

    report = progress or (lambda stage, done, total: None)
    base = Path(base_dir)
    b = _Builder(spec, base, data)
    b.check_dataset()
    classes = b.classes()
    source = b.data_name
    table = b.con.sql("SELECT * FROM assay_data").to_arrow_table()
    b.con.close()
    columns = [c for c in table.column_names if not c.startswith("__")]
    cache = prediction_cache(spec, base, use_cache)
    if spec.task == "binary":
        shape = OutputShape("binary", tuple(classes), classes[1])
    elif spec.task == "multiclass":
        shape = OutputShape("multiclass", tuple(classes))
    elif spec.task == "regression":
        shape = OutputShape("regression")
    else:
        raise InputError(f"task {spec.task!r}: adapter models predict for binary, multiclass and "
                         "regression tasks; give this task's predictions as columns or files")
    features_of = {m.name: feature_columns(spec, m, columns, source)
                   for m in spec.models if m.adapter is not None}
    needed = sorted({c for f in features_of.values() for c in f}, key=columns.index)
    frame = table.select(needed).to_pandas()
    runs: dict[str, ModelRun] = {}
    models: list[ModelSpec] = []
    new_columns: dict[str, Any] = {}
    for i, m in enumerate(spec.models):
        if m.adapter is None:
            models.append(m)
            continue
        features = features_of[m.name]
        adapter = load_adapter(m.adapter, shape, features=features, base_dir=base,
                               where=f"models.{m.name}.adapter")
        label = f"predicting with {m.name}"
        predictor = Predictor(adapter, cache=cache if m.adapter.cache else None, shape=shape,
                              batch_size=m.adapter.batch_size, error_budget=m.adapter.error_budget,
                              progress=lambda done, total, label=label: report(label, done, total))
        clean = predictor.predict(frame[features])
        runs[m.name] = ModelRun(m.name, i, adapter, predictor, shape, features, clean)
        values = clean.values
        if shape.task == "multiclass":
            cols = {}
            for j, c in enumerate(classes):
                col = f"__pred{i}_{j}"
                new_columns[col] = values[:, j]
                cols[str(c)] = col
            models.append(m.model_copy(update={"adapter": None, "scores": cols}))
        else:
            col = f"__pred{i}"
            new_columns[col] = values.reshape(-1)
            key = "prediction" if shape.task == "regression" else "score"
            models.append(m.model_copy(update={"adapter": None, key: col}))
    for col, values in new_columns.items():
        table = table.append_column(col, pa.array(values, type=pa.float64()))
    scored = spec.model_copy(update={"models": models})
    return InLoop(table=table, spec=scored, frame=frame, runs=runs, cache=cache, source=source)
