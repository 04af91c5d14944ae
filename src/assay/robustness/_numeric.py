"""Numeric perturbations: Gaussian noise, out-of-range and boundary values, unit errors.

* noise: ``x + N(0, (scale x spread)^2)`` with spread = IQR / 1.349 (the normal sd that
  has this IQR; percentiles with linear interpolation, as ``scipy.stats.iqr``), the
  sample sd when the IQR is 0, and the column left untouched when that is 0 too.
* out_of_range: ``max + beyond x range x (1 + u)`` or ``min - beyond x range x (1 + u)``,
  u ~ U[0, 1), so every value lies at least ``beyond`` ranges outside.
* boundary: the minimum or the maximum (observed, or the declared ``bounds``).
* scale: ``x x factor``.

Missing and infinite values are left as they are (and counted in the note). Integer
columns stay integers where the new values are whole and fit (noise rounds them with
``keep_integers``; out-of-range values round outwards); else the column becomes float.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_integer_dtype

from assay.robustness._specs import Boundary, Bounds, Noise, OutOfRange, Scale
from assay.robustness._util import Effect, column_rng, float_values, numeric_assign

#: IQR of the standard normal distribution
IQR_TO_SD = 1.349


def robust_spread(values: np.ndarray) -> tuple[float, str]:
    """The robust sd of finite ``values``: IQR / 1.349, else the sample sd, else 0; with the
    method used (``iqr``, ``sd`` or ``none``)."""
    if values.size < 2:
        return 0.0, "none"
    q75, q25 = np.percentile(values, [75.0, 25.0])
    if q75 > q25:
        return float(q75 - q25) / IQR_TO_SD, "iqr"
    sd = float(np.std(values, ddof=1))
    return (sd, "sd") if sd > 0 else (0.0, "none")


def _finite_rows(x: np.ndarray, rows: np.ndarray, column: str, notes: list[str]) -> np.ndarray:
    ok = np.isfinite(x[rows])
    skipped = int((~ok).sum())
    if skipped:
        notes.append(f"{column}: {skipped} selected value(s) missing or infinite, left as they are")
    return rows[ok]


def _write(eff: Effect, s: pd.Series, pos: np.ndarray, new: np.ndarray) -> None:
    out, note = numeric_assign(s, pos, new)
    eff.columns[str(s.name)] = out
    if note:
        eff.notes.append(note)


def noise(spec: Noise, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """Gaussian noise scaled to each column's robust spread."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        x = float_values(s)
        spread, how = robust_spread(x[np.isfinite(x)])
        if spread == 0.0:
            eff.notes.append(f"{c}: spread 0, untouched")
            continue
        if how == "sd":
            eff.notes.append(f"{c}: IQR 0, noise scaled to the sd ({spread:.4g})")
        z = column_rng(words, c).standard_normal(len(rows))
        ok = np.isfinite(x[rows])
        pos = _finite_rows(x, rows, c, eff.notes)
        new = x[pos] + spec.scale * spread * z[ok]
        if is_integer_dtype(s.dtype) and spec.keep_integers:
            new = np.round(new)
        _write(eff, s, pos, new)
    return eff


def _edges(x: np.ndarray, bounds: Bounds | None) -> tuple[float, float] | None:
    finite = x[np.isfinite(x)]
    lo = bounds.min if bounds is not None and bounds.min is not None else None
    hi = bounds.max if bounds is not None and bounds.max is not None else None
    if (lo is None or hi is None) and finite.size == 0:
        return None
    lo = float(finite.min()) if lo is None else float(lo)
    hi = float(finite.max()) if hi is None else float(hi)
    return lo, hi


def _sides(side: str, rng: np.random.Generator, k: int) -> np.ndarray:
    """True for rows moved to the high side."""
    draw = rng.random(k) < 0.5
    return np.ones(k, dtype=bool) if side == "high" else np.zeros(k, dtype=bool) if side == "low" else draw


def out_of_range(spec: OutOfRange, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
                 words: list[int]) -> Effect:
    """Values at least ``beyond`` ranges below the minimum or above the maximum."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        x = float_values(s)
        edges = _edges(x, spec.bounds)
        if edges is None:
            eff.notes.append(f"{c}: no values and no bounds, untouched")
            continue
        lo, hi = edges
        width = hi - lo
        if width <= 0:
            width = max(abs(hi), 1.0)
            eff.notes.append(f"{c}: range 0, {width:.4g} used as the range")
        rng = column_rng(words, c)
        high = _sides(spec.side, rng, len(rows))
        u = rng.random(len(rows))
        ok = np.isfinite(x[rows])
        pos = _finite_rows(x, rows, c, eff.notes)
        high, u = high[ok], u[ok]
        step = spec.beyond * width * (1.0 + u)
        new = np.where(high, hi + step, lo - step)
        if is_integer_dtype(s.dtype):
            new = np.where(high, np.ceil(new), np.floor(new))
        _write(eff, s, pos, new)
    return eff


def boundary(spec: Boundary, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
             words: list[int]) -> Effect:
    """Values set to the minimum or maximum, at random per row (or one side)."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        x = float_values(s)
        edges = _edges(x, spec.bounds)
        if edges is None:
            eff.notes.append(f"{c}: no values and no bounds, untouched")
            continue
        high = _sides(spec.side, column_rng(words, c), len(rows))
        ok = np.isfinite(x[rows])
        pos = _finite_rows(x, rows, c, eff.notes)
        _write(eff, s, pos, np.where(high[ok], edges[1], edges[0]))
    return eff


def scale(spec: Scale, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """Values multiplied by ``factor``."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        x = float_values(s)
        pos = _finite_rows(x, rows, c, eff.notes)
        _write(eff, s, pos, x[pos] * spec.factor)
    return eff
