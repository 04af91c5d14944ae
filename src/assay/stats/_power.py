"""Power, sample size and minimum detectable difference for paired candidate-vs-baseline comparisons.

A comparison is decided with the two-sided (1 - alpha) confidence interval of the difference
candidate - baseline, so detecting an effect in a given direction is a one-sided test at level
alpha / 2. Here, power is the probability that the interval excludes the null value on the side
of the true effect. The opposite side (the interval excluding the null on the wrong side) is left
out: it has probability below alpha / 2 and is negligible (< 1e-4 at alpha = 0.05) once power
reaches 0.5.

Conventions shared by every function:

* ``alpha`` is the two-sided significance level (default 0.05); ``power`` the target power
  (default 0.8).
* ``delta`` is the true difference (candidate - baseline) measured from the null value tested:
  0 for a plain "is there a difference", or, for a non-inferiority margin, the distance between
  the true difference and -margin. Only ``|delta|`` matters.
* ``n`` is the number of rows (pairs) in the metric's domain; it may be fractional (an effective
  size, e.g. Kish's for weighted rows).

Two families:

* paired proportions (accuracy, recall, specificity on the same rows): Connor's (1987,
  Biometrics 43:207) normal approximation for the unconditional McNemar score test
  z = (n10 - n01) / sqrt(n10 + n01), which is the Tango interval inverted at 0;
* generic normal (paired t on per-row differences, paired DeLong, paired bootstrap): anything
  whose standard error shrinks as sd / sqrt(n).
"""

from __future__ import annotations

import math

from scipy import optimize as _opt
from scipy.special import ndtr
from scipy.stats import norm

__all__ = [
    "normal_mdd",
    "normal_n",
    "normal_power",
    "paired_proportion_mdd",
    "paired_proportion_n",
    "paired_proportion_power",
    "rows_needed",
]

# Relative slack when rounding a sample size up, so that rounding error in a value that is
# mathematically a whole number (e.g. 4000.0000000000005) does not add a row.
_CEIL_SLACK = 1e-12

# --------------------------------------------------------------------------- validation


def _finite(name: str, value: float) -> float:
    """``value`` as a float, or ValueError when it is not a finite real number."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number. Got {value!r} instead.") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number. Got {value!r} instead.")
    return x


def _check_alpha(alpha: float) -> float:
    a = _finite("alpha", alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1 (a two-sided significance level, "
                         f"e.g. 0.05). Got {alpha!r} instead.")
    return a


def _check_power(power: float) -> float:
    p = _finite("power", power)
    if not 0.0 < p < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1 (e.g. 0.8). Got {power!r} instead.")
    return p


def _check_n(n: float) -> float:
    x = _finite("n", n)
    if x <= 0.0:
        raise ValueError(f"n must be a number of rows > 0. Got {n!r} instead.")
    return x


def _check_sd(sd: float) -> float:
    s = _finite("sd", sd)
    if s < 0.0:
        raise ValueError(f"sd must be a standard deviation >= 0 (of the per-row differences, "
                         f"i.e. se * sqrt(n)). Got {sd!r} instead.")
    return s


def _check_nonzero_delta(delta: float) -> float:
    d = abs(_finite("delta", delta))
    if d == 0.0:
        raise ValueError("delta must be nonzero: no number of rows detects a difference of 0 "
                         f"(the sample size would be infinite). Got {delta!r} instead.")
    return d


def _check_discordance(discordance: float) -> float:
    psi = _finite("discordance", discordance)
    if not 0.0 < psi <= 1.0:
        raise ValueError(f"discordance must be in (0, 1]: the share of rows where the two models "
                         f"disagree on correctness. Got {discordance!r} instead.")
    return psi


def _check_delta_within(d: float, delta: float, psi: float) -> None:
    """|delta| <= discordance, since delta = p10 - p01 and discordance = p10 + p01."""
    if d > psi:
        raise ValueError(f"delta must satisfy |delta| <= discordance ({psi!r}): the difference "
                         "delta = p10 - p01 cannot exceed the discordance rate p10 + p01, the share "
                         f"of rows where the models disagree. Got {delta!r} instead.")


def _z_two_sided(alpha: float) -> float:
    """z_{1 - alpha/2}: the critical value of each side of the two-sided interval."""
    return float(norm.isf(alpha / 2.0))


def _ceil(x: float) -> int:
    """Round a sample size up to whole rows (at least 1), ignoring rounding error."""
    return max(1, math.ceil(x * (1.0 - _CEIL_SLACK)))


# --------------------------------------------------------------------------- paired proportions


def paired_proportion_power(delta: float, discordance: float, n: float, *, alpha: float = 0.05) -> float:
    """Power to detect a paired difference of proportions ``delta`` with ``n`` rows.

    Connor's (1987) approximation for the unconditional McNemar score test:
    power = Phi((|delta| sqrt(n) - z_{1-alpha/2} sqrt(psi)) / sqrt(psi - delta^2)), where
    psi = ``discordance`` = p10 + p01 is the share of rows (within the metric's domain) where
    the two models disagree on correctness and delta = p10 - p01, so |delta| <= psi. The
    numerator's sqrt(psi) is the test's standard deviation under the null, the denominator's
    the one under the alternative. At delta = 0 this is alpha / 2, the chance of a false
    detection on one given side. For a non-inferiority margin the null variance is still
    taken at 0, which is an approximation (the score test at -margin uses its own).
    """
    a = _check_alpha(alpha)
    psi = _check_discordance(discordance)
    m = _check_n(n)
    d = abs(_finite("delta", delta))
    _check_delta_within(d, delta, psi)
    return _proportion_power(d, psi, m, _z_two_sided(a))


def _proportion_power(d: float, psi: float, n: float, z: float) -> float:
    num = d * math.sqrt(n) - z * math.sqrt(psi)
    var_alt = psi - d * d
    if var_alt <= 0.0:  # |delta| = psi = 1: every row is discordant one way, n10 - n01 = n exactly
        return 1.0 if num > 0.0 else 0.0
    return float(ndtr(num / math.sqrt(var_alt)))  # ndtr = norm.cdf, without its per-call overhead


def paired_proportion_n(
    delta: float, discordance: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Rows needed to detect a paired difference of proportions ``delta`` with the given power.

    Connor (1987): n = ceil((z_{1-alpha/2} sqrt(psi) + z_power sqrt(psi - delta^2))^2 / delta^2)
    with psi = ``discordance`` (see ``paired_proportion_power``). Rows, not discordant rows:
    about n * psi of them will disagree. Raises ValueError for delta = 0 (infinite n).
    """
    a = _check_alpha(alpha)
    p = _check_power(power)
    psi = _check_discordance(discordance)
    d = _check_nonzero_delta(delta)
    _check_delta_within(d, delta, psi)
    root = _z_two_sided(a) * math.sqrt(psi) + float(norm.ppf(p)) * math.sqrt(max(psi - d * d, 0.0))
    if root <= 0.0:  # target power <= alpha / 2: reached by any n
        return 1
    return _ceil((root / d) ** 2)


def paired_proportion_mdd(
    discordance: float, n: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable paired difference of proportions: the smallest |delta| with
    ``paired_proportion_power(delta, discordance, n) >= power``.

    Solved numerically (Connor's power is not invertible in closed form in delta). Capped at
    ``discordance``: a return value equal to ``discordance`` means no possible difference
    (|delta| <= psi) reaches the power with ``n`` rows, so treat it as "not detectable".
    """
    a = _check_alpha(alpha)
    p = _check_power(power)
    psi = _check_discordance(discordance)
    m = _check_n(n)
    z = _z_two_sided(a)
    if p <= norm.sf(z):  # power at delta -> 0 is alpha / 2
        return 0.0
    # Power rises with |delta| up to sqrt(n psi) / z (beyond psi unless n < z^2 psi), then falls.
    d_top = min(psi, math.sqrt(m * psi) / z)

    def excess(d: float) -> float:
        return _proportion_power(d, psi, m, z) - p

    if excess(d_top) < 0.0:
        return psi
    return float(_opt.brentq(excess, 0.0, d_top, xtol=1e-14, rtol=4 * 2.0**-52))


# --------------------------------------------------------------------------- generic normal


def normal_power(delta: float, sd: float, n: float, *, alpha: float = 0.05) -> float:
    """Power to detect ``delta`` when the estimate's standard error is ``sd / sqrt(n)``.

    power = Phi(|delta| sqrt(n) / sd - z_{1-alpha/2}). Fits any paired estimate whose standard
    error shrinks as 1 / sqrt(n): mean of per-row differences (paired t; the normal quantile
    slightly overstates power below ~30 rows), paired DeLong, paired bootstrap. ``sd`` is the
    standard deviation of the per-row differences, i.e. an observed se times sqrt(n). At
    delta = 0 this is alpha / 2. With sd = 0 the estimate is exact: power 1 for delta != 0,
    0 for delta = 0 (a point interval at the null never excludes it).
    """
    a = _check_alpha(alpha)
    s = _check_sd(sd)
    m = _check_n(n)
    d = abs(_finite("delta", delta))
    if s == 0.0:
        return 1.0 if d > 0.0 else 0.0
    return float(ndtr(d * math.sqrt(m) / s - _z_two_sided(a)))


def normal_n(delta: float, sd: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Rows needed to detect ``delta`` with the given power: ceil(((z_{1-alpha/2} + z_power) sd / delta)^2).

    See ``normal_power`` for ``sd``. At least 1 (also when sd = 0). Raises ValueError for
    delta = 0 (infinite n).
    """
    a = _check_alpha(alpha)
    p = _check_power(power)
    s = _check_sd(sd)
    d = _check_nonzero_delta(delta)
    zsum = _z_two_sided(a) + float(norm.ppf(p))
    if zsum <= 0.0 or s == 0.0:  # target power <= alpha / 2, or an exact estimate
        return 1
    return _ceil((zsum * s / d) ** 2)


def normal_mdd(sd: float, n: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable difference with ``n`` rows: (z_{1-alpha/2} + z_power) sd / sqrt(n).

    The smallest |delta| with ``normal_power >= power``; 0 when sd = 0. See ``normal_power``
    for ``sd``.
    """
    a = _check_alpha(alpha)
    p = _check_power(power)
    s = _check_sd(sd)
    m = _check_n(n)
    zsum = _z_two_sided(a) + float(norm.ppf(p))
    return max(zsum, 0.0) * s / math.sqrt(m)


# --------------------------------------------------------------------------- scaling


def rows_needed(mdd: float, n: float, delta: float) -> int:
    """Rows needed to bring a minimum detectable difference ``mdd`` (seen at ``n`` rows) down to |delta|.

    The mdd scales as 1 / sqrt(n), so the answer is ceil(n (mdd / delta)^2), in the same units
    as ``n``. It assumes the slice or metric domain keeps its share of rows: if ``n`` counts the
    positives of a recall, the answer counts positives too, and the total grows by the same
    factor. Exact for the normal family; for paired proportions it is a close approximation
    (Connor's variance under the alternative, psi - delta^2, also moves with delta); use
    ``paired_proportion_n`` there for the exact figure.
    """
    m = _finite("mdd", mdd)
    if m < 0.0:
        raise ValueError(f"mdd must be a minimum detectable difference >= 0. Got {mdd!r} instead.")
    rows = _check_n(n)
    d = _check_nonzero_delta(delta)
    return _ceil(rows * (m / d) ** 2)
