"""``drift_table``: drift of every column of a current dataset against a reference, one tidy table."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from assay._errors import InputError
from assay.drift._bins import resolve_kind
from assay.drift._config import DriftConfig
from assay.drift._sketch import learn_and_sketch, sketch
from assay.drift._stats import drift_rows
from assay.drift._values import is_numeric_values

if TYPE_CHECKING:
    import pandas as pd

DRIFT_COLUMNS = ["column", "kind", "statistic", "value", "p_value", "threshold", "drifted", "default",
                 "n_ref", "n_cur", "missing_ref", "missing_cur", "error_bound", "method", "status", "note"]


def _names(frame: Any, what: str) -> list[str]:
    if hasattr(frame, "column_names"):  # pyarrow Table / RecordBatch
        return [str(c) for c in frame.column_names]
    if hasattr(frame, "columns"):  # pandas DataFrame
        return [str(c) for c in frame.columns]
    raise InputError(f"the {what} must be a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")


def _column(frame: Any, name: str) -> Any:
    return frame.column(name) if hasattr(frame, "column_names") else frame[name]


def _unknown(names: list[str], known: list[str], where: str, fix: str) -> None:
    missing = [n for n in names if n not in known]
    if missing:
        hint = get_close_matches(missing[0], known, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"{where} names columns not in the data: {missing}{maybe}. {fix}")


def drift_table(reference: Any, current: Any, columns: list[str] | None = None,
                config: DriftConfig | None = None) -> pd.DataFrame:
    """Drift of each column, current vs reference: one row per column and statistic (``DRIFT_COLUMNS``).

    ``reference`` and ``current`` are pandas DataFrames or pyarrow Tables; ``columns`` defaults to
    the columns both have, in the reference's order. Columns are processed in parallel threads
    (NumPy releases the GIL in the heavy loops); the result does not depend on the thread count.
    """
    import pandas as pd

    config = config or DriftConfig()
    ref_names, cur_names = _names(reference, "reference"), _names(current, "current")
    if columns is None:
        columns = [c for c in ref_names if c in set(cur_names)]
    else:
        _unknown(list(columns), ref_names, "columns", "Choose from the reference's columns.")
        _unknown(list(columns), cur_names, "columns (in current)", "The current data lacks them.")
    both = [c for c in ref_names if c in set(cur_names)]
    for key, names in (("method", list(config.method)), ("categorical", config.categorical),
                       ("numeric", config.numeric)):
        _unknown(names, both, f"drift config '{key}'",
                 "Name columns present in both the reference and the current data.")

    def one(name: str) -> list[dict]:
        ref_values, cur_values = _column(reference, name), _column(current, name)
        kind = resolve_kind(name, ref_values, config, is_numeric_values)
        if kind == "numeric" and name not in config.numeric and not is_numeric_values(cur_values):
            raise InputError(f"column {name!r} is numeric in the reference but not in the current data "
                             f"({getattr(cur_values, 'dtype', None) or getattr(cur_values, 'type', '?')}); "
                             f"cast it, or list it under drift 'categorical' to compare by level")
        bins, ref_sketch = learn_and_sketch(name, ref_values, config, kind)
        return drift_rows(bins, ref_sketch, sketch(bins, cur_values), config)

    workers = max(1, min(len(columns), os.cpu_count() or 1))
    if workers == 1:
        parts = [one(c) for c in columns]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, columns))
    rows = [row for part in parts for row in part]
    table = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    if table.empty:
        return table
    return table.astype({"value": "float64", "p_value": "float64", "threshold": "float64", "drifted": "bool",
                         "default": "bool", "n_ref": "int64", "n_cur": "int64", "missing_ref": "int64",
                         "missing_cur": "int64", "error_bound": "float64"})
