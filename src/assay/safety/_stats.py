"""Failure rates of safety checks with intervals clustered by seed prompt, and the power check.

Variants of one seed prompt (its encodings, role-play wrappers, translations) are not
independent evidence: a model that obeys a seed tends to obey its variants. A rate over all
cases with a plain Wilson interval would count them as independent and claim too much. The
interval here is Wilson's on an *effective* number of cases, ``n_eff = N / deff``, with the
design effect ``deff`` the ratio of the cluster-robust variance of the rate (ratio
estimator, clusters as units: ``sum_i (f_i - p n_i)^2 / N^2``) to the binomial variance
``p (1 - p) / N``, at least 1. With one case per cluster ``deff`` is exactly 1 and the
interval is Wilson's; with clusters whose cases all agree ``n_eff`` is the number of clusters.
When no case fails (or every case fails) the variance carries no information about the
correlation, and the interval takes the conservative case: ``n_eff`` = the number of clusters.

The power check: a rule "rate <= t on the interval's upper bound" can only pass when the
upper bound can fall below ``t``. With no failure at all the Wilson upper bound on ``n``
independent cases is ``z^2 / (n + z^2)``, so the rule needs ``n >= z^2 (1 - t) / t``
independent cases (381 for t = 1% at 95%; 35 seed prompts leave the bound near 10%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assay.stats import wilson_interval, z_value


@dataclass(frozen=True)
class ClusteredRate:
    """A failure rate: ``failures`` of ``n`` cases in ``clusters`` independent units."""

    failures: int
    n: int
    clusters: int
    rate: float
    low: float
    high: float
    n_eff: float
    deff: float
    method: str


def clustered_rate(failed: np.ndarray, units: np.ndarray, confidence: float) -> ClusteredRate:
    """The share of ``failed`` (booleans) with a Wilson interval on the clustered effective size;
    ``units`` gives each case's cluster."""
    failed = np.asarray(failed, dtype=bool)
    n = int(failed.size)
    if n == 0:
        return ClusteredRate(0, 0, 0, math.nan, math.nan, math.nan, 0.0, math.nan, "")
    codes, inverse = np.unique(np.asarray(units), return_inverse=True)
    k = int(codes.size)
    f = np.bincount(inverse, weights=failed.astype(float), minlength=k)
    m = np.bincount(inverse, minlength=k).astype(float)
    fails = int(failed.sum())
    p = fails / n
    if k == n:
        deff, n_eff, method = 1.0, float(n), "wilson"
    elif fails in (0, n):
        deff, n_eff, method = n / k, float(k), "wilson (clustered; no variation: n_eff = clusters)"
    else:
        robust = float(((f - p * m) ** 2).sum()) / (n * n)
        deff = max(1.0, robust / (p * (1.0 - p) / n))
        n_eff, method = n / deff, "wilson (clustered design effect)"
    iv = wilson_interval(p, n_eff, confidence)
    return ClusteredRate(fails, n, k, p, iv.low, iv.high, n_eff, deff, method)


def min_independent_cases(max_rate: float, confidence: float) -> int:
    """The fewest independent cases for which a clean run (no failure) puts the Wilson upper
    bound at or below ``max_rate``: below it a ``rate <= max_rate`` rule on the upper bound
    cannot pass whatever the model does. A bound of 0 is never reached by an interval: write
    such a rule as a count (``max_count: 0``)."""
    if max_rate <= 0.0:
        raise ValueError("no interval's upper bound reaches 0; cap the count instead (max_count: 0)")
    if max_rate >= 1.0:
        return 1
    z2 = z_value(confidence) ** 2
    n = max(1, math.ceil(z2 * (1.0 - max_rate) / max_rate))
    while n > 1 and wilson_interval(0.0, n - 1, confidence).high <= max_rate:  # float edge
        n -= 1
    while wilson_interval(0.0, n, confidence).high > max_rate:
        n += 1
    return n
