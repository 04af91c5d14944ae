"""Perturbations for any column type: missing values, shuffled values, reordered columns.

* missing: the selected rows become missing in each column, in the column's own missing
  value (NaN for floats, NA for nullable dtypes, None for object columns, NaT for
  datetimes). NumPy integer columns become float64 and booleans the nullable ``boolean``
  dtype, since neither can hold a missing value; the note says so.
* shuffle: each column's values are permuted among the selected rows, with an independent
  permutation per column (so rows no longer hold consistent values).
* reorder: the selected columns trade places (a seeded permutation other than the
  identity); every other column keeps its position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.robustness._specs import Missing, Reorder, Shuffle
from assay.robustness._util import Effect, column_rng, missing_mask


def missing(spec: Missing, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """The selected rows' values set to missing."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        dt = s.dtype
        already = int(missing_mask(s.iloc[rows]).sum())
        if already:
            eff.notes.append(f"{c}: {already} selected value(s) already missing")
        if len(rows) == 0:
            eff.columns[c] = s.copy()
            continue
        if isinstance(dt, np.dtype) and dt.kind in "iu":
            out = s.astype(np.float64)
            out.iloc[rows] = np.nan
            eff.notes.append(f"{c}: {dt} column became float64 to hold NaN")
        elif isinstance(dt, np.dtype) and dt.kind == "b":
            out = s.astype("boolean")
            out.iloc[rows] = pd.NA
            eff.notes.append(f"{c}: bool column became the nullable boolean dtype to hold NA")
        else:
            out = s.copy()
            out.iloc[rows] = None
        eff.columns[c] = out
    return eff


def shuffle(spec: Shuffle, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """Each column's values permuted among the selected rows."""
    eff = Effect()
    n = len(frame)
    for c in cols:
        s = frame[c]
        take = np.arange(n)
        take[rows] = rows[column_rng(words, c).permutation(len(rows))]
        eff.columns[c] = s.iloc[take].set_axis(s.index)
    return eff


def reorder(spec: Reorder, frame: pd.DataFrame, cols: list[str], rng: np.random.Generator) -> list[object]:
    """The frame's new column order: the positions of ``cols`` permuted among themselves."""
    order = list(frame.columns)
    if len(cols) < 2:
        return order
    perm = rng.permutation(len(cols))
    if np.array_equal(perm, np.arange(len(cols))):
        perm = np.roll(perm, 1)
    slots = [i for i, c in enumerate(order) if c in set(cols)]
    moved = [order[slots[j]] for j in perm]
    for slot, c in zip(slots, moved, strict=True):
        order[slot] = c
    return order
