"""Paired candidate-vs-baseline statistics and multiple-comparison control.

Both models are scored on the same rows, so their errors are correlated; a paired method
uses that correlation and is much tighter than treating the two results as independent.
Everything here works on sufficient statistics (discordant counts, the 8 cells of
(label, baseline prediction, candidate prediction), sums of per-row differences), except
``paired_delong``, whose covariance needs each row's placement values under both models.

Direction, everywhere: differences are candidate minus baseline, and "a" is the baseline,
"b" the candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _st

from assay.stats._intervals import Interval, t_interval, wilson_interval, z_value

# --------------------------------------------------------------------------- validation


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1. Got {confidence!r} instead.")


def _check_counts(**counts: float) -> None:
    for name, value in counts.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite count >= 0. Got {value!r} instead.")


# --------------------------------------------------------------------------- McNemar


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts.

    ``b`` = rows the baseline gets right and the candidate wrong, ``c`` = the reverse (the
    test is symmetric, so the order does not change the p-value). Conditional on b + c, b is
    Binomial(b + c, 1/2) under the null of equal accuracy; the two-sided p-value is
    min(1, 2 P(X <= min(b, c))), as statsmodels' ``mcnemar(exact=True)``. With no discordant
    rows there is no evidence either way: p = 1.
    """
    for name, value in (("b", b), ("c", c)):
        whole = isinstance(value, int | np.integer) or (isinstance(value, float) and value.is_integer())
        if not whole or value < 0:
            raise ValueError(f"mcnemar_exact needs whole counts >= 0; {name} = {value!r}. The exact "
                             "test is defined for unweighted counts only.")
    b, c = int(b), int(c)
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * _st.binom.cdf(min(b, c), n, 0.5)))


# --------------------------------------------------------------------------- paired proportions


def paired_proportion_difference(
    n11: float, n10: float, n01: float, n00: float, confidence: float
) -> Interval:
    """Interval for p_candidate - p_baseline of two proportions measured on the same rows.

    Cells ``nIJ``: the first index is the candidate, the second the baseline, 1 = success
    (e.g. correct). So ``n10`` = candidate right & baseline wrong (a gain), ``n01`` = candidate
    wrong & baseline right (a loss), and the estimate is (n10 - n01) / n.

    Newcombe (1998, Stat Med 17:2635), method 10 ("square-and-add"): the Wilson intervals of
    the two margins, combined with the estimated correlation phi between them, with
    Newcombe's correction phi = max(n11 n00 - n10 n01 - n/2, 0) / sqrt(margins) for positive
    association (phi = 0 when a margin is empty). This is the form in Fagerland, Lydersen &
    Laake (2017, ch. 8), whose worked example (Cavo et al. 2012) the tests reproduce. ``se``
    is the Wald standard error of the difference. Counts may be non-integer (effective).
    """
    _check_confidence(confidence)
    _check_counts(n11=n11, n10=n10, n01=n01, n00=n00)
    n = n11 + n10 + n01 + n00
    if n <= 0:
        return Interval(math.nan, math.nan)
    p1 = (n11 + n10) / n  # candidate
    p2 = (n11 + n01) / n  # baseline
    d = p1 - p2
    w1 = wilson_interval(p1, n, confidence)
    w2 = wilson_interval(p2, n, confidence)
    margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    phi = 0.0
    if margins > 0:
        assoc = n11 * n00 - n10 * n01
        corrected = max(assoc - n / 2.0, 0.0) if assoc > 0 else assoc
        phi = corrected / math.sqrt(margins)
    dl1, du1 = p1 - w1.low, w1.high - p1
    dl2, du2 = p2 - w2.low, w2.high - p2
    low = d - math.sqrt(max(dl1 * dl1 - 2.0 * phi * dl1 * du2 + du2 * du2, 0.0))
    high = d + math.sqrt(max(du1 * du1 - 2.0 * phi * du1 * dl2 + dl2 * dl2, 0.0))
    return Interval(max(-1.0, low), min(1.0, high), _wald_se(n10, n01, n))


def _wald_se(n10: float, n01: float, n: float) -> float:
    """Wald standard error of (n10 - n01) / n for paired proportions."""
    return math.sqrt(max(n10 + n01 - (n10 - n01) ** 2 / n, 0.0)) / n


def _tango_z(delta: float, n10: float, n01: float, n: float) -> float:
    """Tango's score statistic for H0: p_candidate - p_baseline = delta.

    The nuisance parameter (the loss cell's probability) is its maximum-likelihood value
    under the constraint: the larger root of 2n x^2 + B x + C with
    B = -n10 - n01 + (2n - n10 + n01) delta, C = -n01 delta (1 - delta) (Tango 1998).
    """
    a = 2.0 * n
    b = -n10 - n01 + (2.0 * n - n10 + n01) * delta
    c = -n01 * delta * (1.0 - delta)
    root = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
    # larger root, written to avoid cancellation when b > 0
    q01 = (root - b) / (2.0 * a) if b <= 0 else -2.0 * c / (b + root)
    q01 = max(q01, 0.0, -delta)  # feasibility: both discordant probabilities >= 0
    var = n * (2.0 * q01 + delta * (1.0 - delta))
    num = n10 - n01 - n * delta
    if var <= 0.0:
        return math.copysign(math.inf, num) if num != 0 else 0.0
    return num / math.sqrt(var)


def tango_interval(n11: float, n10: float, n01: float, n00: float, confidence: float) -> Interval:
    """Tango's (1998, Stat Med 17:891) asymptotic score interval for p_candidate - p_baseline.

    Same cell convention as ``paired_proportion_difference`` (first index = candidate). The
    interval is every delta whose constrained score statistic satisfies |Z(delta)| <= z; it
    depends on the discordant cells and n only. Fagerland et al. (2014, Stat Med 33:2850)
    recommend it with Newcombe's method 10 for paired differences. Bounds are found by
    bracketing root-finding on Z(delta) -/+ z, which is decreasing in delta.
    """
    _check_confidence(confidence)
    _check_counts(n11=n11, n10=n10, n01=n01, n00=n00)
    n = n11 + n10 + n01 + n00
    if n <= 0:
        return Interval(math.nan, math.nan)
    z = z_value(confidence)
    d = (n10 - n01) / n
    eps = 1e-12
    tol = 1e-13

    def lower_eq(delta: float) -> float:
        return _tango_z(delta, n10, n01, n) - z

    def upper_eq(delta: float) -> float:
        return _tango_z(delta, n10, n01, n) + z

    # Z(d) = 0, Z -> +inf as delta -> -1 (unless d = -1), Z -> -inf as delta -> 1.
    low = -1.0 if d <= -1.0 + eps or lower_eq(-1.0 + eps) <= 0 else _opt.brentq(
        lower_eq, -1.0 + eps, d, xtol=tol, rtol=4 * np.finfo(float).eps)
    high = 1.0 if d >= 1.0 - eps or upper_eq(1.0 - eps) >= 0 else _opt.brentq(
        upper_eq, d, 1.0 - eps, xtol=tol, rtol=4 * np.finfo(float).eps)
    return Interval(float(max(-1.0, min(low, d))), float(min(1.0, max(high, d))), _wald_se(n10, n01, n))


# --------------------------------------------------------------------------- paired DeLong


def _placements(
    pos: np.ndarray, w_pos: np.ndarray, neg: np.ndarray, w_neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted placement values (V10 for positives, V01 for negatives), ties counted 1/2.

    V10(x) = share (by weight) of negatives scored below x plus half those tied with it;
    V01(y) = share of positives scored above y plus half the ties. O(n log n): sort each
    class once and read the cumulative weights at searchsorted positions.
    """
    order_n = np.argsort(neg, kind="stable")
    sn, cw_n = neg[order_n], np.concatenate(([0.0], np.cumsum(w_neg[order_n])))
    order_p = np.argsort(pos, kind="stable")
    sp, cw_p = pos[order_p], np.concatenate(([0.0], np.cumsum(w_pos[order_p])))
    w_n, w_p = cw_n[-1], cw_p[-1]
    # the queries go in sorted (each class's own order): searchsorted walks the sorted array
    # once instead of jumping around it, several times faster; the values are unchanged
    lo = np.searchsorted(sn, sp, side="left")
    hi = np.searchsorted(sn, sp, side="right")
    v10 = np.empty(pos.size)
    v10[order_p] = (cw_n[lo] + 0.5 * (cw_n[hi] - cw_n[lo])) / w_n
    lo = np.searchsorted(sp, sn, side="left")
    hi = np.searchsorted(sp, sn, side="right")
    v01 = np.empty(neg.size)
    v01[order_n] = ((w_p - cw_p[hi]) + 0.5 * (cw_p[hi] - cw_p[lo])) / w_p
    return v10, v01


@dataclass(frozen=True)
class DeLongPair:
    """Both AUCs of a paired DeLong comparison and the test of their difference."""

    auc_a: float
    auc_b: float
    delta: float
    se: float
    p_value: float


def paired_delong(
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """``(delta, se, p_value)`` of :func:`delong_pair` (see there)."""
    r = delong_pair(y, score_a, score_b, weights)
    return r.delta, r.se, r.p_value


def delong_pair(
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    weights: np.ndarray | None = None,
) -> DeLongPair:
    """DeLong's test for two correlated ROC AUCs scored on the same rows.

    Returns both AUCs and ``delta`` = AUC(score_b) - AUC(score_a), its ``se`` and ``p_value``: pass the
    baseline's scores as ``score_a`` and the candidate's as ``score_b``. ``y`` holds 0/1
    labels (1 = positive). The variance of delta comes from each row's placement values
    under both models (DeLong, DeLong & Clarke-Pearson 1988), so the correlation between the
    two AUCs is used; ties count 1/2 (midranks). The p-value is two-sided normal.

    With ``weights`` (sampling weights, >= 0), AUCs are the weighted Mann-Whitney statistics
    (as scikit-learn's ``roc_auc_score(sample_weight=...)``) and the variance is the
    linearisation sum_i w_i^2 (V_i - AUC)^2 / W^2 per class times m / (m - 1), which equals
    the unweighted DeLong variance when all weights are 1.

    Raises ValueError when a class is absent (AUC undefined) or the input is malformed.
    With a single row in a class the AUCs exist but their variance does not: se and
    p_value are NaN. When se is 0 (e.g. both models separate the classes perfectly), the
    p-value is 1 if delta is 0 and 0 otherwise.
    """
    y = np.asarray(y)
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    if y.ndim != 1 or a.shape != y.shape or b.shape != y.shape:
        raise ValueError(f"paired_delong needs 1-d y, score_a and score_b of one length; got shapes "
                         f"{y.shape}, {a.shape}, {b.shape}.")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if y.size and not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[~((y == 0) | (y == 1))])[:5]
        raise ValueError(f"paired_delong needs binary labels y in {{0, 1}}; found {bad.tolist()}.")
    for name, s in (("score_a", a), ("score_b", b)):
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{name} has {int((~np.isfinite(s)).sum())} non-finite values; drop or "
                             "impute those rows (and count them) before comparing.")
    if weights is None:
        w = np.ones(y.shape, dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != y.shape:
            raise ValueError(f"weights must have the shape of y {y.shape}; got {w.shape}.")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ValueError("weights must be finite and >= 0.")
    is_pos = (y == 1) & (w > 0)
    is_neg = (y == 0) & (w > 0)
    m, k = int(is_pos.sum()), int(is_neg.sum())
    if m == 0 or k == 0:
        absent = "positive (y = 1)" if m == 0 else "negative (y = 0)"
        raise ValueError(f"paired_delong needs both classes, but there is no {absent} row with "
                         "weight > 0: ROC AUC is undefined.")
    wp, wn = w[is_pos], w[is_neg]
    v10 = np.empty((2, m))
    v01 = np.empty((2, k))
    for i, s in enumerate((a, b)):
        v10[i], v01[i] = _placements(s[is_pos], wp, s[is_neg], wn)
    sw_p, sw_n = wp.sum(), wn.sum()
    auc = v10 @ wp / sw_p
    delta = float(auc[1] - auc[0])
    aa, ab = float(auc[0]), float(auc[1])
    if m < 2 or k < 2:
        return DeLongPair(aa, ab, delta, math.nan, math.nan)
    # influence of each row on delta, per class (the difference of the two models')
    dp = (v10[1] - v10[0]) - delta
    dn = (v01[1] - v01[0]) - delta
    var = (m / (m - 1)) * float(np.sum((wp * dp) ** 2)) / sw_p**2 \
        + (k / (k - 1)) * float(np.sum((wn * dn) ** 2)) / sw_n**2
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        return DeLongPair(aa, ab, delta, 0.0, 1.0 if delta == 0.0 else 0.0)
    return DeLongPair(aa, ab, delta, se, float(2.0 * _st.norm.sf(abs(delta) / se)))


# --------------------------------------------------------------------------- paired t


def paired_t(mean_diff: float, sd_diff: float, n: float, confidence: float) -> tuple[Interval, float]:
    """Student-t interval and two-sided p-value for the mean of per-row differences.

    Differences are candidate - baseline (e.g. of per-row losses); ``sd_diff`` is their
    sample standard deviation (ddof = 1). Equals ``scipy.stats.ttest_rel(candidate,
    baseline)``. With n < 2 both are NaN. With sd 0 the interval is the point and the
    p-value is 1 if the mean is 0, else 0 (scipy gives NaN there).
    """
    _check_confidence(confidence)
    if n < 2 or not (math.isfinite(mean_diff) and math.isfinite(sd_diff)) or sd_diff < 0:
        return Interval(math.nan, math.nan), math.nan
    ci = t_interval(mean_diff, sd_diff, n, confidence)
    if sd_diff == 0.0:
        return ci, 1.0 if mean_diff == 0.0 else 0.0
    t = mean_diff / (sd_diff / math.sqrt(n))
    return ci, float(2.0 * _st.t.sf(abs(t), df=n - 1))


def paired_t_from_sums(
    sum_d: float, sum_d2: float, n: float, confidence: float
) -> tuple[Interval, float]:
    """``paired_t`` from the moments sum(d) and sum(d^2) of the per-row differences d.

    The engine accumulates sum(d) and sum(d^2) (or the two models' sums of losses, squared
    losses and their cross product, since d^2 = la^2 - 2 la lb + lb^2). The variance is
    (sum_d2 - sum_d^2 / n) / (n - 1), clipped at 0; it loses relative precision when the
    mean difference is much larger than its spread (about eps * mean^2 / var), which is far
    below any reported digit for loss differences.
    """
    if n < 2:
        _check_confidence(confidence)
        return Interval(math.nan, math.nan), math.nan
    mean = sum_d / n
    var = max((sum_d2 - sum_d * mean) / (n - 1), 0.0)
    return paired_t(mean, math.sqrt(var), n, confidence)


# --------------------------------------------------------------------------- paired bootstrap


def paired_bootstrap_cells(
    cells: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    replicates: int,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """Poisson-bootstrap replicates of statistic(candidate) - statistic(baseline).

    ``cells`` counts the rows in each (label, baseline prediction, candidate prediction)
    cell, as an array of shape (2, 2, 2) indexed ``[y, a, b]`` or its C-order flattening
    (8,). Each replicate draws every cell as Poisson(count), which is exactly the Poisson
    row bootstrap (a Poisson(1) multiplier per row) for unweighted counts, and keeps the
    pairing: a row moves with both of its predictions. With weights, use the engine's
    one-pass row bootstrap instead.

    ``statistic`` maps confusion matrices of shape (..., 2, 2), indexed ``[..., y, pred]``,
    to values of shape (...): it is called once on all replicates. Returns an array of
    shape (replicates,); NaN where the statistic is undefined in a replicate.
    """
    arr = np.asarray(cells, dtype=np.float64)
    if arr.shape not in ((8,), (2, 2, 2)):
        raise ValueError(f"cells must have shape (8,) or (2, 2, 2) [label, pred_a, pred_b]; "
                         f"got {arr.shape}.")
    arr = arr.reshape(2, 2, 2)
    if not np.all(np.isfinite(arr) & (arr >= 0) & (arr == np.round(arr))):
        raise ValueError("cells must be whole counts >= 0 (unweighted); for weighted rows use the "
                         "one-pass row Poisson bootstrap.")
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1. Got {replicates!r} instead.")
    if rng is None:
        raise ValueError("rng must be a seeded numpy Generator or an int seed, so replicates "
                         "are reproducible.")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draws = gen.poisson(arr.ravel(), size=(replicates, 8)).astype(np.float64).reshape(-1, 2, 2, 2)
    baseline = draws.sum(axis=3)  # [r, y, a]
    candidate = draws.sum(axis=2)  # [r, y, b]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(statistic(candidate), dtype=np.float64) - np.asarray(
            statistic(baseline), dtype=np.float64)
    if out.shape != (replicates,):
        raise ValueError(f"statistic must map (..., 2, 2) confusion arrays to (...); for "
                         f"{replicates} replicates it returned shape {out.shape}.")
    return out


def bootstrap_p_value(replicates: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value for H0: parameter = ``null``, by test inversion.

    p = 2 min(share of replicates <= null, share >= null), clipped to [1 / (R + 1), 1],
    with R the number of defined (finite) replicates. This is the smallest alpha at which
    the equal-tailed percentile interval excludes ``null`` (up to the O(1/R) interpolation
    of quantile definitions). Replicates equal to ``null`` count on both sides, which is
    conservative for discrete statistics. A p-value of 0 cannot be resolved with R
    replicates, so 1 / (R + 1) is the floor: read it as "p <= 1 / (R + 1)". NaN when fewer
    than half of the replicates are defined (as ``percentile_interval``).
    """
    values = np.asarray(replicates, dtype=np.float64).ravel()
    ok = values[np.isfinite(values)]
    if ok.size < max(1, values.size // 2):
        return math.nan
    r = ok.size
    below = np.count_nonzero(ok <= null) / r
    above = np.count_nonzero(ok >= null) / r
    return float(min(1.0, max(2.0 * min(below, above), 1.0 / (r + 1))))


# --------------------------------------------------------------------------- churn


def churn(n_changed: float, n: float, confidence: float) -> tuple[float, Interval]:
    """Share of rows whose decision differs between baseline and candidate, with Wilson interval.

    Churn is reported beside the accuracy delta: two models can have equal accuracy yet
    disagree on many rows. ``n_changed`` may be a weighted count with ``n`` its Kish
    effective size. Returns ``(share, interval)``; NaN when n = 0.
    """
    _check_confidence(confidence)
    _check_counts(n_changed=n_changed, n=n)
    if n_changed > n:
        raise ValueError(f"n_changed ({n_changed!r}) cannot exceed n ({n!r}).")
    if n <= 0:
        return math.nan, Interval(math.nan, math.nan)
    share = n_changed / n
    return share, wilson_interval(share, n, confidence)


# --------------------------------------------------------------------------- multiplicity


def _pvalues(pvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=np.float64)
    ok = ~np.isnan(p)
    bad = p[ok][(p[ok] < 0) | (p[ok] > 1)]
    if bad.size:
        raise ValueError(f"p-values must lie in [0, 1] (or be NaN); got {bad[:5].tolist()}.")
    return p, ok


def _adjust(pvalues: np.ndarray, adjust: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``adjust`` (ascending p-values -> adjusted, same order) to the non-NaN p-values,
    cap at 1 and put them back in place; NaNs stay NaN and do not count in m."""
    p, ok = _pvalues(pvalues)
    out = np.full(p.shape, np.nan)
    vals = p[ok]
    if vals.size == 0:
        return out
    order = np.argsort(vals, kind="stable")
    res = np.empty(vals.size)
    res[order] = np.minimum(adjust(vals[order]), 1.0)
    out[ok] = res
    return out


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false-discovery rate), same shape as the input.

    For discovery across many slices: reject where adjusted <= q controls the FDR at q for
    independent or positively dependent tests. NaN p-values (untestable slices) stay NaN
    and do not count in m. Matches statsmodels' ``multipletests(method='fdr_bh')``.
    """
    def step_up(sorted_p: np.ndarray) -> np.ndarray:
        raw = sorted_p * sorted_p.size / np.arange(1, sorted_p.size + 1)
        return np.minimum.accumulate(raw[::-1])[::-1]

    return _adjust(pvalues, step_up)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), same shape as the input.

    Valid under any dependence between the tests and uniformly more powerful than
    Bonferroni. NaN p-values stay NaN and do not count in m. Matches statsmodels'
    ``multipletests(method='holm')``.
    """
    def step_down(sorted_p: np.ndarray) -> np.ndarray:
        return np.maximum.accumulate(sorted_p * np.arange(sorted_p.size, 0, -1))

    return _adjust(pvalues, step_down)


def bonferroni_level(confidence: float, m: int) -> float:
    """Per-comparison confidence level giving simultaneous coverage >= ``confidence`` over m.

    1 - (1 - confidence) / m; valid under any dependence (union bound). Gates use it for
    intervals over many slices. There is deliberately no Holm counterpart: Holm's step-down
    levels depend on which other hypotheses were rejected, and the intervals compatible with
    it (Strassburger & Bretz 2008, Stat Med 27:4914) give only the bound at the null value
    for a rejected hypothesis (e.g. [0, inf)) unless every hypothesis is rejected, so a
    rank-dependent "Holm level" does not make intervals with simultaneous coverage. Use
    ``holm`` for the test decisions and Bonferroni-level intervals to report the effects.
    """
    _check_confidence(confidence)
    if m < 1 or int(m) != m:
        raise ValueError(f"m must be a whole number of comparisons >= 1. Got {m!r} instead.")
    return 1.0 - (1.0 - confidence) / int(m)
