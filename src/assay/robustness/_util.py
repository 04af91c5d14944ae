"""Shared pieces of the perturbations: seeded streams, row selection, dtype-keeping writes
and the per-row "did a value change" comparison.

Random streams: the rows a perturbation touches are drawn from
``default_rng([*seed, 0])`` and each column's values from
``default_rng([*seed, 1, crc32(column)])``, so adding a column to a perturbation leaves
the other columns' draws unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import is_float_dtype, is_integer_dtype

from assay._errors import InputError


@dataclass
class Effect:
    """What a perturbation kind did: new columns (by name) and notes for the report."""

    columns: dict[str, pd.Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def seed_words(seed: int | Sequence[int]) -> list[int]:
    """The seed as a list of non-negative integers (what ``SeedSequence`` takes)."""
    if isinstance(seed, int | np.integer):
        words: list[object] = [seed]
    elif isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str | bytes):
        words = list(seed)
    else:
        words = []
    if not words or not all(isinstance(w, int | np.integer) and not isinstance(w, bool) and w >= 0
                            for w in words):
        raise InputError(f"a perturbation seed must be a non-negative integer or a non-empty "
                         f"sequence of them; got {seed!r}")
    return [int(w) for w in words]


def row_rng(words: list[int]) -> np.random.Generator:
    """The stream that picks rows (and anything not tied to one column)."""
    return np.random.default_rng([*words, 0])


def column_rng(words: list[int], column: str) -> np.random.Generator:
    """The stream of one column's values, independent of the other columns selected."""
    return np.random.default_rng([*words, 1, zlib.crc32(str(column).encode("utf-8"))])


def select_rows(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of round(fraction x n) rows drawn without replacement (all rows
    when ``fraction`` is 1)."""
    if fraction >= 1.0:
        return np.arange(n)
    k = int(np.floor(fraction * n + 0.5))
    return np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)


def missing_mask(s: pd.Series) -> np.ndarray:
    """True where a value is missing (None, NaN, NA, NaT)."""
    return np.asarray(s.isna(), dtype=bool)


def differs(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Per row: the value changed (missing vs missing is equal; 3 vs 3.0 is equal)."""
    a_na, b_na = missing_mask(old), missing_mask(new)
    both = ~(a_na | b_na)
    out = a_na != b_na
    if not both.any():
        return out
    kinds = (old.dtype.kind if isinstance(old.dtype, np.dtype) else "",
             new.dtype.kind if isinstance(new.dtype, np.dtype) else "")
    if all(k in "iuf" for k in kinds) and all(kinds):
        a, b = old.to_numpy(), new.to_numpy()
        out[both] = a[both] != b[both]
        return out
    if old.dtype == new.dtype and kinds != ("O", "O"):
        try:  # vectorised comparison of like arrays (Arrow strings, categoricals, nullable)
            ne = old.array != new.array
            ne = (ne.to_numpy(dtype=bool, na_value=True) if hasattr(ne, "to_numpy")
                  else np.asarray(ne, dtype=bool))
            out[both] = ne[both]
            return out
        except (TypeError, ValueError):
            pass
    a = old.to_numpy(dtype=object)
    b = new.to_numpy(dtype=object)
    out[both] = a[both] != b[both]
    return out


def replace_at(s: pd.Series, pos: np.ndarray,
               values: np.ndarray | list[object]) -> tuple[pd.Series, str | None]:
    """A copy of ``s`` with ``values`` at positions ``pos``, in the column's own dtype when it
    can hold them (a categorical gains the new categories); else as object, with a note."""
    out = s.copy()
    if len(pos) == 0:
        return out, None
    if isinstance(s.dtype, pd.CategoricalDtype):
        vals = pd.Series(np.asarray(values, dtype=object))
        new = [v for v in pd.unique(vals[vals.notna()]) if v not in s.dtype.categories]
        if new:
            try:
                out = out.cat.add_categories(new)
            except (TypeError, ValueError):
                pass
    try:
        out.iloc[pos] = values
        return out, None
    except (TypeError, ValueError):
        out = s.astype(object)
        out.iloc[pos] = values
        return out, f"{s.name}: {s.dtype} column became object to hold the new values"


def numeric_assign(s: pd.Series, pos: np.ndarray, values: np.ndarray) -> tuple[pd.Series, str | None]:
    """Write float ``values`` at ``pos`` into a numeric column, keeping its dtype when every
    value fits (integers that are whole and in range); else float64 (Float64 for nullable
    columns), with a note saying so. Untouched rows keep their exact values."""
    dt = s.dtype
    values = np.asarray(values, dtype=np.float64)
    if is_integer_dtype(dt):
        np_dt = np.dtype(getattr(dt, "numpy_dtype", dt))
        info = np.iinfo(np_dt)
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        fits = whole and (values.size == 0 or (values.min() >= info.min and values.max() <= info.max))
        if fits:
            out = s.copy()
            out.iloc[pos] = values.astype(np_dt)
            return out, None
        why = "values outside its range" if whole else "non-integer values"
        target = "Float64" if not isinstance(dt, np.dtype) else "float64"
        out = s.astype(target)
        out.iloc[pos] = values
        return out, f"{s.name}: {dt} column became {target} to hold {why}"
    if is_float_dtype(dt):
        np_dt = np.dtype(getattr(dt, "numpy_dtype", dt))
        out = s.copy()
        out.iloc[pos] = values.astype(np_dt)
        return out, None
    raise TypeError(f"not a numeric column: {s.name} ({dt})")  # callers check kinds first


def float_values(s: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values."""
    return s.to_numpy(dtype=np.float64, na_value=np.nan)
