"""Analytic confidence intervals from sufficient statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _st


@dataclass(frozen=True)
class Interval:
    """A two-sided interval; ``se`` is the standard error behind it when one exists."""

    low: float
    high: float
    se: float = math.nan


def z_value(confidence: float) -> float:
    """Two-sided standard-normal quantile for a confidence level (0.95 -> 1.95996...)."""
    return float(_st.norm.ppf(0.5 + confidence / 2.0))


def kish_effective_size(sum_w: float, sum_w2: float) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of a weighted sample."""
    if sum_w2 <= 0.0:
        return 0.0
    return sum_w * sum_w / sum_w2


def wilson_interval(p: float, n: float, confidence: float) -> Interval:
    """Wilson score interval for a proportion ``p`` observed on ``n`` (possibly effective) trials."""
    if n <= 0 or not math.isfinite(p):
        return Interval(math.nan, math.nan)
    z = z_value(confidence)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(max(p * (1.0 - p) / n + z2 / (4.0 * n * n), 0.0)) / denom
    se = math.sqrt(max(p * (1.0 - p), 0.0) / n)
    # the interval always contains p (exactly 0 at p = 0, 1 at p = 1); keep it so in floats
    low = 0.0 if p <= 0.0 else min(p, max(0.0, centre - half))
    high = 1.0 if p >= 1.0 else max(p, min(1.0, centre + half))
    return Interval(low, high, se)


def mover_difference(
    a: float, a_low: float, a_high: float, b: float, b_low: float, b_high: float
) -> Interval:
    """Interval for a - b of two independent estimates, from their own intervals (MOVER).

    Zou & Donner (2008): L = d - sqrt((a - l_a)^2 + (u_b - b)^2),
    U = d + sqrt((u_a - a)^2 + (b - l_b)^2). It keeps the shape of asymmetric intervals
    (Wilson, logit) and their width at a boundary, where a Wald standard error is 0.
    """
    d = a - b
    low = d - math.sqrt((a - a_low) ** 2 + (b_high - b) ** 2)
    high = d + math.sqrt((a_high - a) ** 2 + (b - b_low) ** 2)
    return Interval(low, high)


def newcombe_difference(
    p1: float, n1: float, p2: float, n2: float, confidence: float
) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 (1998, method 10): MOVER on two Wilson
    intervals; it behaves well near 0 and 1 where the Wald interval fails."""
    a = wilson_interval(p1, n1, confidence)
    b = wilson_interval(p2, n2, confidence)
    ci = mover_difference(p1, a.low, a.high, p2, b.low, b.high)
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) if n1 > 0 and n2 > 0 else math.nan
    return Interval(max(-1.0, ci.low), min(1.0, ci.high), se)


def t_interval(mean: float, sd: float, n: float, confidence: float) -> Interval:
    """Student-t interval for a mean, from the sample standard deviation ``sd``."""
    if n < 2 or not math.isfinite(sd):
        return Interval(math.nan, math.nan)
    se = sd / math.sqrt(n)
    q = float(_st.t.ppf(0.5 + confidence / 2.0, df=n - 1))
    return Interval(mean - q * se, mean + q * se, se)


def normal_interval(
    value: float, se: float, confidence: float, lower: float = -math.inf, upper: float = math.inf
) -> Interval:
    """Wald interval value +- z*se, clipped to the metric's range."""
    if not (math.isfinite(se) and math.isfinite(value)):
        return Interval(math.nan, math.nan)
    z = z_value(confidence)
    return Interval(max(lower, value - z * se), min(upper, value + z * se), se)


def order_statistic_interval(n: int, q: float, confidence: float) -> tuple[int, int] | None:
    """Ranks (0-based) of the order statistics bracketing the ``q`` quantile.

    Distribution-free: the count of values below the true quantile is Binomial(n, q), so
    [x_(l), x_(u)] covers it with probability >= ``confidence`` (Conover, ch. 3.2). Returns
    None when ``n`` is too small for any pair of order statistics to reach the level.
    """
    if n < 1:
        return None
    alpha = 1.0 - confidence
    lo = int(_st.binom.ppf(alpha / 2.0, n, q))  # P(B <= lo) >= alpha/2
    hi = int(_st.binom.isf(alpha / 2.0, n, q))
    # P(x_(l) <= m <= x_(u)) = P(l <= B <= u - 1) with 1-based ranks l, u.
    l_rank = max(lo, 0)
    u_rank = min(hi + 1, n)
    coverage = _st.binom.cdf(u_rank - 1, n, q) - _st.binom.cdf(l_rank - 1, n, q)
    if l_rank < 1 or coverage < confidence - 1e-12:
        return None
    return l_rank - 1, u_rank - 1
