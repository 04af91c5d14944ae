"""The two-sided asymptotic p-value of the two-sample KS statistic, as SciPy computes it, fast.

``scipy.stats.ks_2samp(method='asymp')`` returns ``kstwo.sf(D, round(n m / (n + m)))``. For
``140 < N <= 1e6`` and ``2.2 <= N D^2 < 370`` (p below about 0.03) ``kstwo.sf`` is
``2 * scipy.special.smirnov(N, D)`` (Miller's approximation), and SciPy evaluates the exact
one-sided Smirnov probability with a loop of N terms: about 0.45 s at N = 5e5, per call. Here
the same Birnbaum-Tingey sum is evaluated with NumPy in one vectorised pass (about 30 ms at
N = 5e5), agreeing with SciPy to about 1e-9 relative (``betaln`` gives log C(N, v) to about
1e-15 of its size, which is up to N log 2); every other case calls ``kstwo.sf`` itself.

Birnbaum & Tingey (1951), *One-sided confidence contours for probability distribution
functions*, Ann. Math. Statist. 22(4): P(D+_N >= e) = e sum_{v=0}^{floor(N(1-e))} C(N, v)
(e + v/N)^(v-1) (1 - e - v/N)^(N-v).
"""

from __future__ import annotations

import math

import numpy as np

#: above this N SciPy's smirnov is itself asymptotic (fast); at or below, its loop is O(N)
SMIRNOV_LOOP_MAX = 1_000_000
#: below this N SciPy's loop is fast enough to call directly
FAST_MIN = 2000


def smirnov_sf(n: int, e: float) -> float:
    """One-sided Smirnov survival probability P(D+_n >= e), exact sum (Birnbaum-Tingey)."""
    from scipy.special import betaln

    if e <= 0:
        return 1.0
    if e >= 1:
        return 0.0
    top = math.floor(n * (1.0 - e))
    v = np.arange(top + 1, dtype=np.float64)
    log_choose = -math.log(n + 1.0) - betaln(n - v + 1.0, v + 1.0)
    a = e + v / n
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(v == n, 0.0, (n - v) * np.log1p(-a))
        log_terms = log_choose + (v - 1.0) * np.log(a) + tail
    peak = float(np.max(log_terms))
    return float(e * math.exp(peak) * np.sum(np.exp(log_terms - peak)))


def ks_asymptotic_p(d: float, n_ref: int, n_cur: int) -> float:
    """Two-sided asymptotic KS p-value, as ``scipy.stats.ks_2samp(method='asymp')``."""
    from scipy.stats import kstwo

    en = float(n_ref) * float(n_cur) / (float(n_ref) + float(n_cur))
    n = int(np.round(en))
    t = n * d
    if FAST_MIN < n <= SMIRNOV_LOOP_MAX and 1.0 < t < n - 1 and d < 0.5 and 2.2 <= t * d < 370.0:
        return float(np.clip(2.0 * smirnov_sf(n, d), 0.0, 1.0))
    return float(np.clip(kstwo.sf(d, n), 0.0, 1.0))
