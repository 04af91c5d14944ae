"""Python API: ``assay.evaluate`` takes a spec (file, mapping or object) or tables and arrays."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from assay._errors import InputError
from assay._evaluate import Progress, evaluate_spec
from assay.results import EvaluationResult
from assay.spec import EvalSpec, load_spec, parse_spec
from assay.store import RunStore, open_store, record_evaluation

TableLike = pd.DataFrame | pa.Table | Mapping[str, Any]


def _to_arrow(data: TableLike) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, Mapping):
        return pa.table({k: np.asarray(v) if not isinstance(v, pa.Array) else v
                         for k, v in data.items()})
    raise InputError(f"data must be a pandas DataFrame, a pyarrow Table or a mapping of column "
                     f"name -> array; got {type(data).__name__}")


def evaluate(
    spec: EvalSpec | Mapping[str, Any] | str | Path | None = None,
    *,
    data: TableLike | None = None,
    predictions: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    exclude_invalid: bool = False,
    store: str | Path | bool | RunStore | None = None,
    out: str | Path | None = None,
    **fields: Any,
) -> EvaluationResult:
    """Evaluate models on a dataset; returns metrics with confidence intervals per slice.

    ``spec`` is a YAML path, a mapping or an :class:`EvalSpec`; keyword ``fields`` override or
    supply spec keys (``task``, ``label``, ``slices``, ...). ``data`` is an in-memory table
    (pandas, Arrow, or a mapping of NumPy arrays) used instead of ``spec.data``.
    ``predictions`` maps a model name to an array of its scores (binary: probability of the
    positive class; regression: predicted value; multiclass: an (n, k) array in class order)
    aligned with the rows of ``data``.

    ``store`` records the run in a run store: a SQLite path, a database URL, an open
    :class:`~assay.store.RunStore`, or True for the default (``$ASSAY_STORE``, else
    ``.assay/runs.db``); None follows the spec's ``store`` key (unset: not recorded).
    ``out`` writes the run folder (results, report.html, summary.md, ...) before the run
    is marked complete.

    Example::

        result = assay.evaluate(data=df, label="y", predictions={"model": p},
                                slices=[{"column": "region"}])
        result.table  # model, slice, metric, value, ci_low, ci_high, n, method, ...
    """
    spec_obj, base_dir, table = prepare(spec, data=data, predictions=predictions, **fields)

    target = spec_obj.store if store is None else store
    if store is None and isinstance(target, str) and "://" not in target:
        target = base_dir / target  # a path in the spec is relative to the spec's folder
    # the store is open before the run: the schema check compares with its data cards
    run_store = None if target is None or target is False else open_store(
        None if target is True else target)

    def run() -> EvaluationResult:
        return evaluate_spec(spec_obj, base_dir, table, exclude_invalid=exclude_invalid,
                             progress=progress, store=run_store)

    if run_store is None:
        result = run()
        if out is not None:
            result.write(out)
        return result
    return record_evaluation(run_store, spec_obj, base_dir, run, out=out)


def prepare(
    spec: EvalSpec | Mapping[str, Any] | str | Path | None = None,
    *,
    data: TableLike | None = None,
    predictions: Mapping[str, Any] | None = None,
    **fields: Any,
) -> tuple[EvalSpec, Path, pa.Table | None]:
    """The validated spec, the folder its paths are relative to, and the in-memory table
    (predictions given as arrays appended as columns); see :func:`evaluate`."""
    base_dir: Path = Path(".")
    if isinstance(spec, str | Path):
        loaded = load_spec(spec)
        base_dir = Path(spec).resolve().parent
        raw = loaded.model_dump(exclude_unset=True)
    elif isinstance(spec, EvalSpec):
        raw = spec.model_dump(exclude_unset=True)
    else:
        raw = dict(spec or {})
    raw.update(fields)
    table = _to_arrow(data) if data is not None else None
    if predictions:
        if table is None:
            raise InputError("predictions given as arrays need 'data' as an in-memory table")
        models = list(raw.get("models") or [])
        task = raw.get("task", "binary")
        for name, values in predictions.items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape[0] != table.num_rows:
                raise InputError(f"predictions[{name!r}] has {arr.shape[0]} rows but data has "
                                 f"{table.num_rows}; they must be aligned row by row")
            if task == "multiclass":
                if arr.ndim != 2:
                    raise InputError(f"predictions[{name!r}]: multiclass needs an (n, k) array of "
                                     "class probabilities")
                classes = raw.get("classes")
                if classes is None:
                    raise InputError("multiclass predictions as arrays need 'classes' (their column order)")
                cols = {}
                for j, c in enumerate(classes):
                    col = f"__pred_{name}_{j}"
                    table = table.append_column(col, pa.array(arr[:, j]))
                    cols[str(c)] = col
                models.append({"name": name, "scores": cols})
            else:
                col = f"__pred_{name}"
                table = table.append_column(col, pa.array(arr))
                key = "prediction" if task == "regression" else "score"
                models.append({"name": name, key: col})
        raw["models"] = models
    return parse_spec(raw, source="evaluate()"), base_dir, table
