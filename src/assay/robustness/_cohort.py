"""Distribution shift on a cohort: row weights or a weighted resample.

The cohort is the rows where ``where`` (a DuckDB SQL condition over the frame's columns)
is true; a NULL result counts as outside. Cohort rows get relative weight w (``factor``,
or for a target ``share`` s with m cohort rows out of N, w = s (N - m) / ((1 - s) m), which
makes the cohort's weighted share exactly s), the other rows 1.

* reweight: the weights, divided by their mean (so they average 1); the frame is unchanged.
* resample: n rows drawn with replacement with probabilities proportional to the weights
  (sorted by source row); ``rows`` says which clean row each output row copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from assay._errors import InputError, SpecError
from assay.robustness._specs import Shift

ROW_COLUMN = "__assay_perturb_row__"


@dataclass
class ShiftResult:
    """The cohort mask, the weights (mean 1) or the drawn rows, and a note."""

    cohort: np.ndarray
    weights: np.ndarray | None
    rows: np.ndarray | None
    note: str


def cohort_mask(frame: pd.DataFrame, condition: str, where: str) -> np.ndarray:
    """Rows where the DuckDB condition is true (NULL counts as false)."""
    if ROW_COLUMN in frame.columns:
        raise InputError(f"{where}: the frame has a column named {ROW_COLUMN!r}, which the shift uses "
                         "internally; rename it")
    view = frame.copy(deep=False)
    view[ROW_COLUMN] = np.arange(len(frame), dtype=np.int64)
    con = duckdb.connect()
    try:
        con.register("frame", view)
        hit = con.execute(f'SELECT "{ROW_COLUMN}" FROM frame WHERE ({condition})').fetchnumpy()[ROW_COLUMN]
    except duckdb.Error as exc:
        raise SpecError(f"{where}: the shift condition {condition!r} failed in DuckDB: {exc}. Write a "
                        "DuckDB SQL boolean expression over the frame's columns, e.g. "
                        "\"channel = 'broker'\"") from None
    finally:
        con.close()
    mask = np.zeros(len(frame), dtype=bool)
    mask[np.asarray(hit, dtype=np.int64)] = True
    return mask


def cohort_weight(spec: Shift, m: int, n: int, where: str) -> float:
    """Relative weight of a cohort row (the others weigh 1)."""
    if spec.factor is not None:
        return float(spec.factor)
    share = float(spec.share)  # type: ignore[arg-type]
    if m == n:
        raise InputError(f"{where} ({spec.label}): the cohort {spec.where!r} is every row, so its share "
                         f"cannot be moved to {share:g}; narrow the condition")
    return share * (n - m) / ((1.0 - share) * m)


def shift(spec: Shift, frame: pd.DataFrame, rng: np.random.Generator, where: str) -> ShiftResult:
    """Weights or resampled rows for the shifted distribution."""
    n = len(frame)
    cohort = cohort_mask(frame, spec.where, f"{where} ({spec.label})")
    m = int(cohort.sum())
    if m == 0:
        raise InputError(f"{where} ({spec.label}): the cohort {spec.where!r} selects no rows; fix the "
                         "condition or remove the shift")
    w = cohort_weight(spec, m, n, where)
    raw = np.where(cohort, w, 1.0)
    head = f"cohort {spec.where!r}: {m} of {n} rows, relative weight {w:.4g}"
    if spec.mode == "reweight":
        weights = raw / raw.mean()
        share = float(weights[cohort].sum() / weights.sum())
        return ShiftResult(cohort, weights, None, f"{head}; weighted cohort share {share:.4g}")
    size = spec.n if spec.n is not None else n
    rows = np.sort(rng.choice(n, size=size, replace=True, p=raw / raw.sum()))
    got = float(cohort[rows].mean())
    expected = float(w * m / (w * m + (n - m)))
    return ShiftResult(cohort, None, rows,
                       f"{head}; resampled {size} rows, cohort share {got:.4g} (expected {expected:.4g})")
