"""Turn the column forms the drift API accepts into two internal shapes.

Accepted: NumPy arrays, pandas Series (NumPy, nullable, Arrow-backed and Categorical dtypes),
pyarrow Arrays and ChunkedArrays (dictionary-encoded or not), and plain sequences.

* numeric: one float64 NumPy array, NaN where a value is missing (None, NaN, pd.NA, null).
* categorical: chunks of (integer codes with -1 for missing, the chunk's dictionary of levels),
  taken from a pandas Categorical or an Arrow dictionary as is, else by hashing
  (``pyarrow.compute.dictionary_encode`` for Arrow data, ``pandas.factorize`` for Python
  objects), so no per-row Python work happens.

Levels are compared as text (``str(value)``); a float that is an integer prints as one, so that
``1`` and ``1.0`` are one level whether or not missing values turned the column into floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay._errors import InputError, sample_values

Chunk = tuple[np.ndarray, list[str]]


def _is_pandas(values: object) -> bool:
    return type(values).__module__.split(".")[0] == "pandas"


def _is_arrow(values: object) -> bool:
    return type(values).__module__.split(".")[0] == "pyarrow"


def level_name(value: object) -> str:
    """The text a categorical level is compared by."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def is_numeric_values(values: object) -> bool:
    """True when a column's type is numeric (integers, floats, decimals, timestamps), not bool."""
    if _is_arrow(values):
        import pyarrow as pa

        t = values.type  # type: ignore[attr-defined]
        if pa.types.is_dictionary(t):
            return False
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
                    or pa.types.is_temporal(t))
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        values = np.asarray(values)
        dtype = values.dtype
    if _is_pandas(values) or not isinstance(dtype, np.dtype):
        import pandas as pd

        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
            return False
        return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
                    or pd.api.types.is_timedelta64_dtype(dtype))
    return dtype.kind in "iufmM"


def _describe(values: object) -> str:
    return str(getattr(values, "type", None) or getattr(values, "dtype", None) or type(values).__name__)


def numeric_array(values: Any, column: str, *, what: str = "values") -> np.ndarray:
    """The column as float64 with NaN for missing; timestamps and dates as seconds since the epoch,
    durations as seconds."""
    try:
        if _is_arrow(values):
            import pyarrow as pa
            import pyarrow.compute as pc

            if pa.types.is_date(values.type):
                values = pc.cast(values, pa.timestamp("ns"))
            if pa.types.is_timestamp(values.type) or pa.types.is_duration(values.type):
                unit = pa.timestamp("ns") if pa.types.is_timestamp(values.type) else pa.duration("ns")
                ints = pc.cast(pc.cast(values, unit), pa.int64())
                return _arrow_float(pc.cast(ints, pa.float64(), safe=False)) / 1e9
            if pa.types.is_time(values.type):  # time of day: its integer representation
                values = pc.cast(values, pa.int32() if pa.types.is_time32(values.type) else pa.int64())
            if pa.types.is_boolean(values.type):
                values = pc.cast(values, pa.int8())
            # safe=False: integers beyond 2**53 round to the nearest float instead of raising
            return _arrow_float(pc.cast(values, pa.float64(), safe=False))
        if _is_pandas(values):
            import pandas as pd

            dtype = values.dtype
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
                ints = values.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min) \
                    if hasattr(values, "to_numpy") else np.asarray(values).view("int64")
                out = ints.astype(np.float64) / 1e9
                out[ints == np.iinfo(np.int64).min] = np.nan
                return out
            if isinstance(dtype, pd.CategoricalDtype):
                values = values.astype(values.cat.categories.dtype)
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        arr = np.asarray(values)
        if arr.dtype.kind in "mM":
            unit = "datetime64[ns]" if arr.dtype.kind == "M" else "timedelta64[ns]"
            out = arr.astype(unit).view("int64").astype(np.float64) / 1e9
            out[np.isnat(arr)] = np.nan
            return out
        if arr.dtype.kind == "O":
            import pandas as pd

            return np.asarray(pd.Series(arr, dtype=object).astype("Float64").to_numpy(
                dtype=np.float64, na_value=np.nan))
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        bad = _non_numeric_examples(values)
        raise InputError(
            f"column {column!r}: the {what} are not numeric ({_describe(values)}; e.g. {bad}). "
            f"Cast the column to numbers, or list it under drift 'categorical' to compare it by level."
        ) from exc
    except Exception as exc:  # pyarrow's ArrowInvalid / ArrowNotImplementedError
        if type(exc).__module__.split(".")[0] != "pyarrow":
            raise
        raise InputError(
            f"column {column!r}: the {what} are not numeric ({_describe(values)}). Cast the column to "
            f"numbers, or list it under drift 'categorical' to compare it by level."
        ) from exc


def _arrow_float(values: Any) -> np.ndarray:
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 1:
            values = values.chunk(0)
        else:
            return np.concatenate([_arrow_float(c) for c in values.chunks]) if values.num_chunks \
                else np.empty(0, dtype=np.float64)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _non_numeric_examples(values: Any) -> str:
    try:
        items = list(values[:200]) if not _is_arrow(values) else values.slice(0, 200).to_pylist()
    except Exception:  # noqa: BLE001 - only used to illustrate an error
        return "?"
    bad = []
    for v in items:
        try:
            float(v)
        except (TypeError, ValueError):
            bad.append(v)
    return sample_values(bad or items, 3)


def category_chunks(values: Any) -> list[Chunk]:
    """The column as (codes, levels) chunks: codes index levels, -1 marks a missing value."""
    if _is_arrow(values):
        return _arrow_chunks(values)
    if _is_pandas(values):
        import pandas as pd

        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = np.asarray(values.cat.codes.to_numpy(), dtype=np.intp)
            return [(codes, [level_name(c) for c in values.cat.categories])]
        if type(values.array).__name__ == "ArrowStringArray" or str(values.dtype).endswith("[pyarrow]"):
            import pyarrow as pa

            return _arrow_chunks(pa.array(values.array, from_pandas=True))
        arr = values
    else:
        arr = values if isinstance(values, np.ndarray) else _object_array(values)
    import pandas as pd

    # pandas.factorize hashes without per-row Python work and treats None, NaN and pd.NA as missing
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    return [(np.asarray(codes, dtype=np.intp), [level_name(u) for u in np.asarray(uniques, dtype=object)])]


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _arrow_chunks(values: Any) -> list[Chunk]:
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    out: list[Chunk] = []
    for chunk in chunks:
        if pa.types.is_floating(chunk.type):
            # NaN is a missing value here, as in the numeric path
            chunk = pc.if_else(pc.is_nan(chunk), pa.scalar(None, chunk.type), chunk)
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, -1)
        codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.intp)
        levels = [level_name(v) for v in chunk.dictionary.to_pylist()]
        if levels and any(v is None for v in chunk.dictionary.to_pylist()):
            # a null inside the dictionary itself: its code is a missing value
            null_codes = [i for i, v in enumerate(chunk.dictionary.to_pylist()) if v is None]
            codes = codes.copy()
            codes[np.isin(codes, null_codes)] = -1
        out.append((codes, levels))
    return out
