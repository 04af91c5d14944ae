"""Resampling of sufficient statistics.

For an unweighted, count-based metric the row bootstrap only changes how many rows fall in
each cell (confusion cell, score-histogram cell), and those counts are Multinomial(n, p̂).
Drawing the counts directly is therefore the row bootstrap, at a cost independent of n.
"""

from __future__ import annotations

import numpy as np

from assay.stats._intervals import Interval


def multinomial_replicates(
    counts: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Resample cell counts: returns an array (replicates, *counts.shape) of integer counts."""
    flat = np.asarray(counts, dtype=np.float64).ravel()
    total = int(round(flat.sum()))
    out = np.zeros((replicates, flat.size), dtype=np.int64)
    if total > 0:
        nz = np.flatnonzero(flat)
        out[:, nz] = rng.multinomial(total, flat[nz] / flat[nz].sum(), size=replicates)
    return out.reshape((replicates, *np.shape(counts)))


def percentile_interval(
    replicates: np.ndarray, confidence: float, lower: float = -np.inf, upper: float = np.inf
) -> Interval:
    """Percentile interval from replicate values; undefined replicates (NaN) are dropped.

    Returns NaN bounds when fewer than half of the replicates are defined, because the
    interval would then describe a different population than the estimate.
    """
    values = np.asarray(replicates, dtype=np.float64)
    ok = values[np.isfinite(values)]
    if ok.size < max(2, values.size // 2):
        return Interval(np.nan, np.nan)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(ok, [alpha / 2.0, 1.0 - alpha / 2.0])
    se = float(np.std(ok, ddof=1))
    return Interval(float(max(lower, lo)), float(min(upper, hi)), se)
