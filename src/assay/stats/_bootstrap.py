"""Bootstrap intervals from replicate values (the replicates are drawn by the engine)."""

from __future__ import annotations

import numpy as np

from assay.stats._intervals import Interval


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
