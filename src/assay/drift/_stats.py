"""Drift statistics from two sketches (reference, current) of one column.

All statistics exclude missing values (they are counted in ``missing_ref`` / ``missing_cur``).

* **PSI** over the coarse bins: ``sum_b (q_b - p_b) ln(q_b / p_b)``, p reference and q current
  proportions, each floored at ``psi_eps`` (1e-4) where a bin is empty, so that ln is defined;
  bins empty in both contribute 0. (Siddiqi 2006; Evidently floors empty bins the same way.)
* **Jensen-Shannon distance** over the coarse bins, natural logarithm (range 0..sqrt(ln 2) =
  0.833): ``sqrt((KL(p||m) + KL(q||m)) / 2)``, m = (p + q) / 2, no smoothing (0 ln 0 = 0); equals
  ``scipy.spatial.distance.jensenshannon(p, q)`` (Lin 1991; Endres & Schindelin 2003).
* **chi-square** test of homogeneity on the 2 x k table of reference and current counts over the
  coarse bins, bins empty in both dropped, no continuity correction; p from chi2(k - 1). Equals
  ``scipy.stats.chi2_contingency(table, correction=False)``; one non-empty bin gives 0 and p = 1.
* **Kolmogorov-Smirnov** two-sample statistic D = sup |F_ref - F_cur| and its two-sided p-value.
  Exact when both samples have at most ``exact_max`` values: D from one merge of the sorted
  values; p from ``scipy.stats.ks_2samp`` (exact distribution) up to 10,000 values per sample,
  else asymptotic as below. Otherwise from the fine bins:
  the empirical CDFs are known exactly at each bin's data extent, and within a bin each CDF is
  only known to rise from its value before the bin to its value after it, between the bin's
  smallest and largest value of that sample. That brackets D in [D_low, D_high]; we report the
  midpoint and ``error_bound = (D_high - D_low) / 2``, so the exact D lies within value +-
  error_bound. Where every non-empty bin holds a single distinct value (discrete columns) the
  bracket closes and the binned D is exact. p-value: Smirnov's asymptotic distribution, as
  ks_2samp's method 'asymp', ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))`` (evaluated fast
  where SciPy would loop, see ``assay.drift._ks``); the note gives p over D's bracket.
* **Wasserstein-1** distance, ``integral |F_ref - F_cur| dx`` (``scipy.stats.wasserstein_distance``),
  reported normed by the reference standard deviation (population, ddof=0), Evidently's
  "Wasserstein distance (normed)", which is what the default threshold 0.1 applies to; the raw
  distance is in the note. A constant reference (std 0) is normed by 0.001, Evidently's floor.
  Exact from the sorted values when both samples have at most ``exact_max`` values; else from the
  fine bins with the same CDF brackets: between bins' data extents the CDFs are exact, inside
  an extent |F_ref - F_cur| is bounded below and above, which brackets W1; we report the
  midpoint and half the bracket as ``error_bound`` (in normed units). The bracket's width is
  about the mean width of the occupied part of a bin, times the mass in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from assay._errors import InputError
from assay.drift._bins import OTHER, UNSEEN, ColumnBins
from assay.drift._config import NUMERIC_ONLY, STATISTICS, TESTS, DriftConfig, Statistic
from assay.drift._ks import ks_asymptotic_p
from assay.drift._sketch import Sketch

#: up to this many values per sample ks_2samp computes an exact p-value (its MAX_AUTO_N)
KS_EXACT_P_MAX = 10_000
#: the divisor of the normed Wasserstein distance when the reference is constant (Evidently's floor)
STD_FLOOR = 0.001
_NOTE_EXAMPLES = 5


@dataclass(frozen=True)
class Bracket:
    """A statistic known to lie in [low, high]."""

    low: float
    high: float

    @property
    def mid(self) -> float:
        return (self.low + self.high) / 2

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float) -> float:
    """Population stability index of current vs reference over matching bins."""
    p = np.maximum(ref_counts / ref_counts.sum(), eps)
    q = np.maximum(cur_counts / cur_counts.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural logarithm) between the two binned distributions."""
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        pos = a > 0
        return float(np.sum(a[pos] * np.log(a[pos] / m[pos])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def chi_square(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, int]:
    """Chi-square homogeneity test on the 2 x k table; bins empty in both dropped. (stat, p, dof)."""
    from scipy.stats import chi2

    keep = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[keep], cur_counts[keep]]).astype(np.float64)
    dof = table.shape[1] - 1
    if dof <= 0:
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, dof)), dof


def exact_ks_wasserstein(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Exact KS statistic and Wasserstein-1 distance of two samples given as sorted arrays.

    One stable merge (timsort on two sorted runs: linear), then both empirical CDFs after each
    distinct value: D is the largest |difference|, W1 the sum of |difference| x gap to the next.
    """
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    cum_a = np.cumsum(order < a.size)
    cum_b = np.arange(1, values.size + 1) - cum_a
    last = np.ones(values.size, dtype=bool)  # last copy of each distinct value
    last[:-1] = values[1:] != values[:-1]
    d = cum_a[last] / a.size - cum_b[last] / b.size
    return float(np.max(np.abs(d))), float(np.sum(np.abs(d[:-1]) * np.diff(values[last])))


def binned_brackets(ref: Sketch, cur: Sketch) -> tuple[Bracket, Bracket]:
    """Brackets of the KS statistic and of the (raw) Wasserstein-1 distance from fine-bin sketches.

    Within a non-empty bin, the sorted breakpoints {ref min, ref max, cur min, cur max} cut the
    bin's data extent into at most three pieces; on each piece each empirical CDF is either
    exact (before its sample's smallest value in the bin, or from its largest on) or known to lie
    between its values before and after the bin. That bounds d = F_ref - F_cur on the piece,
    hence sup |d| and the integral of |d|; between bins' extents d is exact.
    """
    nr, nc = ref.counts.astype(np.float64), cur.counts.astype(np.float64)
    occupied = (nr + nc) > 0
    nr, nc = nr[occupied], nc[occupied]
    rmin, rmax = ref.mins[occupied], ref.maxs[occupied]  # type: ignore[index]
    cmin, cmax = cur.mins[occupied], cur.maxs[occupied]  # type: ignore[index]
    cum_r, cum_c = np.cumsum(nr), np.cumsum(nc)
    a1, c1 = cum_r / ref.n, cum_c / cur.n            # CDFs after each bin (exact)
    a0, c0 = (cum_r - nr) / ref.n, (cum_c - nc) / cur.n  # and before it
    lo = np.minimum(rmin, cmin)
    hi = np.maximum(rmax, cmax)
    # a sample with no value in the bin: its CDF is flat there, like one jump of 0 at lo
    rmin, rmax = np.where(nr > 0, rmin, lo), np.where(nr > 0, rmax, lo)
    cmin, cmax = np.where(nc > 0, cmin, lo), np.where(nc > 0, cmax, lo)
    points = np.sort(np.stack([rmin, rmax, cmin, cmax], axis=1), axis=1)
    d_after = a1 - c1
    ks_low = ks_high = float(np.max(np.abs(d_after), initial=0.0))
    w_exact = float(np.sum(np.abs(d_after[:-1]) * (lo[1:] - hi[:-1])))
    w_low = w_high = 0.0
    for piece in range(3):
        u, v = points[:, piece], points[:, piece + 1]
        length = v - u
        has = length > 0
        if not has.any():
            continue
        u, v, length = u[has], v[has], length[has]
        a_lo = np.where(u >= rmax[has], a1[has], a0[has])
        a_hi = np.where(v <= rmin[has], a0[has], a1[has])
        c_lo = np.where(u >= cmax[has], c1[has], c0[has])
        c_hi = np.where(v <= cmin[has], c0[has], c1[has])
        d_lo, d_hi = a_lo - c_hi, a_hi - c_lo
        biggest = np.maximum(np.abs(d_lo), np.abs(d_hi))
        nearest = np.where(d_lo > 0, d_lo, np.where(d_hi < 0, -d_hi, 0.0))
        ks_low = max(ks_low, float(nearest.max()))
        ks_high = max(ks_high, float(biggest.max()))
        w_low += float(np.sum(length * nearest))
        w_high += float(np.sum(length * biggest))
    return Bracket(ks_low, ks_high), Bracket(w_exact + w_low, w_exact + w_high)


@dataclass
class _Result:
    value: float
    p_value: float = float("nan")
    error_bound: float = 0.0
    method: str = ""
    note: str = ""


def _describe_rule(statistic: Statistic, threshold: float) -> str:
    if statistic in TESTS:
        return f"drifted when p_value < {threshold:g}"
    return f"drifted when value >= {threshold:g}"


def _column_notes(bins: ColumnBins, ref: Sketch, cur: Sketch) -> list[str]:
    notes = []
    if ref.n_infinite or cur.n_infinite:
        notes.append(f"infinite values counted as missing: {ref.n_infinite} in reference, "
                     f"{cur.n_infinite} in current")
    if bins.kind == "categorical":
        n_levels = len(bins.levels)
        if bins.other_levels:
            notes.append(f"{len(bins.other_levels)} rare reference levels beyond max_levels="
                         f"{n_levels} pooled as {OTHER}")
        n_unseen = int(cur.counts[n_levels + 1])
        if n_unseen:
            shown = ", ".join(f"{name!r} ({c})" for name, c in cur.unseen[:_NOTE_EXAMPLES])
            notes.append(f"{n_unseen} current values in levels unseen in the reference {UNSEEN}: {shown}")
        absent = [bins.levels[i] for i in np.flatnonzero(cur.counts[:n_levels] == 0)]
        if absent and cur.n:
            shown = ", ".join(repr(a) for a in absent[:_NOTE_EXAMPLES])
            more = f" and {len(absent) - _NOTE_EXAMPLES} more" if len(absent) > _NOTE_EXAMPLES else ""
            notes.append(f"{len(absent)} reference levels absent in current: {shown}{more}")
    return notes


def _numeric_exact(ref: Sketch, cur: Sketch) -> bool:
    return ref.values is not None and cur.values is not None and max(ref.n, cur.n) <= ref.exact_max


def _compute(statistic: Statistic, bins: ColumnBins, ref: Sketch, cur: Sketch, config: DriftConfig,
             cache: dict[str, object]) -> _Result:
    if statistic in ("psi", "js_distance", "chi_square"):
        r, c = bins.coarse(ref.counts), bins.coarse(cur.counts)
        over = (f"{bins.n_coarse} bins (reference quantiles, plus below-min and above-max)"
                if bins.kind == "numeric" else f"{bins.n_coarse} bins (levels, {OTHER}, {UNSEEN})")
        if statistic == "psi":
            return _Result(psi(r, c, config.psi_eps),
                           method=f"PSI over {over}, empty bins floored at {config.psi_eps:g}")
        if statistic == "js_distance":
            return _Result(js_distance(r, c), method=f"Jensen-Shannon distance (natural log) over {over}")
        stat, p, dof = chi_square(r, c)
        return _Result(stat, p_value=p,
                       method=f"chi-square homogeneity test, 2 x {dof + 1} table over {over} "
                              f"(bins empty in both dropped), no continuity correction")
    exact = _numeric_exact(ref, cur)
    if exact and "exact" not in cache:
        cache["exact"] = exact_ks_wasserstein(ref.values, cur.values)  # type: ignore[arg-type]
    if not exact and "brackets" not in cache:
        cache["brackets"] = binned_brackets(ref, cur)
    if statistic == "ks":
        if exact and max(ref.n, cur.n) <= KS_EXACT_P_MAX:
            from scipy.stats import ks_2samp

            res = ks_2samp(ref.values, cur.values, method="auto")
            return _Result(float(res.statistic), p_value=float(res.pvalue),
                           method="two-sample KS, exact D and p (scipy.stats.ks_2samp, method auto)")
        if exact:
            d, _ = cache["exact"]  # type: ignore[misc]
            return _Result(d, p_value=ks_asymptotic_p(d, ref.n, cur.n),
                           method="two-sample KS, exact D, asymptotic p (kstwo, as ks_2samp above "
                                  f"{KS_EXACT_P_MAX} values)")
        ks, _ = cache["brackets"]  # type: ignore[misc]
        p_low, p_high = ks_asymptotic_p(ks.high, ref.n, cur.n), ks_asymptotic_p(ks.low, ref.n, cur.n)
        return _Result(ks.mid, p_value=ks_asymptotic_p(ks.mid, ref.n, cur.n), error_bound=ks.half_width,
                       method=f"two-sample KS from {config.fine_bins} fine bins (exact D within "
                              f"+- error_bound), asymptotic p (kstwo)",
                       note="" if p_low == p_high else f"p_value between {p_low:.3g} and {p_high:.3g} "
                                                       f"over D's bracket")
    # wasserstein, normed by the reference standard deviation
    std = ref.std(bins)
    norm = std if std > 0 else STD_FLOOR
    floor_note = "" if std > 0 else f"; reference is constant, divided by {STD_FLOOR:g} (Evidently's floor)"
    if exact:
        _, raw = cache["exact"]  # type: ignore[misc]
        return _Result(raw / norm, method="Wasserstein-1 normed by the reference std (ddof=0), exact",
                       note=f"raw W1 {raw:.6g}, reference std {std:.6g}{floor_note}")
    _, w = cache["brackets"]  # type: ignore[misc]
    return _Result(w.mid / norm, error_bound=w.half_width / norm,
                   method=f"Wasserstein-1 normed by the reference std (ddof=0), from {config.fine_bins} "
                          f"fine bins (exact within +- error_bound)",
                   note=f"raw W1 {w.mid:.6g} +- {w.half_width:.3g}, reference std {std:.6g}{floor_note}")


def decider(bins: ColumnBins, ref: Sketch, config: DriftConfig) -> Statistic:
    """The statistic that decides whether the column drifted (per-column method, else default)."""
    chosen = config.method.get(bins.column)
    if chosen is None:
        return config.default_method(bins.kind, ref.n)
    if bins.kind == "categorical" and chosen in NUMERIC_ONLY:
        raise InputError(f"drift method {chosen!r} for column {bins.column!r} needs a numeric column, but "
                         f"{bins.column!r} is categorical; use one of psi, chi_square, js_distance, or list "
                         f"the column under 'numeric'")
    return chosen


def drift_rows(bins: ColumnBins, reference: Sketch, current: Sketch, config: DriftConfig) -> list[dict]:
    """One row per statistic (keys ``DRIFT_COLUMNS``) for one column, reference vs current."""
    decide = decider(bins, reference, config)
    wanted = set(config.statistics) | {decide}
    stats = [s for s in STATISTICS if s in wanted and not (bins.kind == "categorical" and s in NUMERIC_ONLY)]
    base = {"column": bins.column, "kind": bins.kind, "n_ref": reference.n, "n_cur": current.n,
            "missing_ref": reference.n_missing, "missing_cur": current.n_missing}
    notes = _column_notes(bins, reference, current)
    undefined = []
    if reference.n == 0:
        undefined.append(f"reference has no non-missing values ({reference.n_missing} missing)")
    if current.n == 0:
        undefined.append(f"current has no non-missing values ({current.n_missing} missing)")
    rows = []
    cache: dict[str, object] = {}
    for stat in stats:
        threshold = config.threshold(stat)
        rule = _describe_rule(stat, threshold)
        row = {**base, "statistic": stat, "threshold": threshold, "default": stat == decide}
        if undefined:
            row.update(value=float("nan"), p_value=float("nan"), drifted=False, error_bound=float("nan"),
                       method=rule, status="undefined", note="; ".join(undefined + notes))
        else:
            res = _compute(stat, bins, reference, current, config, cache)
            drifted = res.p_value < threshold if stat in TESTS else res.value >= threshold
            row.update(value=res.value, p_value=res.p_value, drifted=bool(drifted),
                       error_bound=res.error_bound, method=f"{res.method}; {rule}", status="ok",
                       note="; ".join(([res.note] if res.note else []) + notes))
        rows.append(row)
    return rows
