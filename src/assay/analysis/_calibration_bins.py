"""Binning for the calibration analysis: bin edges, binned sums, ECE/MCE, the Brier
decomposition, the ECE-sweep bin count and reliability-diagram bins.

Every statistic here is a function of per-bin sums (weight ``W``, weighted label ``Y``,
weighted label minus score ``D = Y - S``) over a trailing bin axis, so the same code serves the estimate
(shape ``(bins,)``) and its bootstrap replicates (shape ``(replicates, bins)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.stats import kish_effective_size, wilson_interval

#: Most equal-mass bins the ECE sweep tries (Roelofs et al. sweep up to n; beyond this the
#: note says the cap was reached).
SWEEP_MAX_BINS = 1000
#: Bin frequencies within this of each other count as equal (weighted sums are inexact).
_MONOTONE_TOL = 1e-12


def equal_width_bins(s: np.ndarray, bins: int) -> np.ndarray:
    """Bin ``min(floor(s * bins), bins - 1)`` of each score in [0, 1], as assay's ``ece``
    metric bins (a score on an inner edge goes to the upper bin)."""
    return np.minimum((s * bins).astype(np.int64), bins - 1)


@dataclass
class SortedScores:
    """Scores of the rows with positive weight, sorted, with cumulative sums for quantile
    edges (weights in units of the smallest positive weight) and for binned sums."""

    s: np.ndarray
    units: np.ndarray  # cumulative weight in units of the smallest positive weight
    cw: np.ndarray  # cumulative weight, with a leading 0
    cy: np.ndarray  # cumulative weighted label, with a leading 0

    @staticmethod
    def build(s: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> SortedScores:
        ww = np.ones(s.size) if w is None else w
        keep = ww > 0
        order = np.argsort(s[keep], kind="stable")
        ss, ws, ys = s[keep][order], ww[keep][order], y[keep][order].astype(np.float64)
        unit = float(ws.min()) if ws.size else 1.0
        return SortedScores(ss, np.cumsum(ws / unit), np.concatenate([[0.0], np.cumsum(ws)]),
                            np.concatenate([[0.0], np.cumsum(ws * ys)]))

    @property
    def distinct(self) -> int:
        return int(np.count_nonzero(np.diff(self.s))) + 1 if self.s.size else 0


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """NumPy's own linear interpolation (``numpy.lib._function_base_impl._lerp``), so the
    unweighted edges equal ``np.percentile``'s bit for bit."""
    diff = b - a
    out = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), out)


def quantile_edges(sorted_scores: SortedScores, bins: int) -> np.ndarray:
    """Equal-mass bin edges (``bins + 1``): the linear-interpolation quantiles (NumPy's
    default, as scikit-learn's ``calibration_curve(strategy="quantile")`` uses) of the
    sample with each row repeated ``w / min(w)`` times, at ``linspace(0, 1, bins + 1)``.

    Unweighted (and all-equal weights) this is ``np.percentile(s, q * 100)`` exactly;
    integer weights give the edges of the rows repeated by their weights; scaling all
    weights leaves the edges unchanged."""
    ss, units = sorted_scores.s, sorted_scores.units
    if ss.size == 0:
        return np.full(bins + 1, np.nan)
    q = np.linspace(0.0, 1.0, bins + 1) * 100 / 100  # what np.percentile does with q * 100
    total = float(units[-1])
    virtual = (total - 1.0) * q
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= total - 1.0

    def at(pos: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(units, pos, side="right")
        return ss[np.minimum(idx, ss.size - 1)]

    lo = np.where(above, ss[-1], at(prev))
    hi = np.where(above, ss[-1], at(nxt))
    gamma = virtual - prev
    return _lerp(lo, hi, gamma)


def equal_mass_bins(s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each score given equal-mass ``edges``: ``searchsorted(inner edges, s)`` (a
    score on an inner edge goes to the lower bin), as scikit-learn's calibration_curve."""
    return np.searchsorted(edges[1:-1], s, side="left").astype(np.int64)


# ---- statistics of binned sums (trailing axis = bins) -----------------------------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def ece_from(total: np.ndarray, d: np.ndarray) -> np.ndarray:
    """ECE = sum_b |Y_b - S_b| / W from the bins' D_b = Y_b - S_b and the total weight W
    (the share-weighted |observed - mean score|)."""
    return _ratio(np.abs(d).sum(axis=-1), total)


def mce_from(w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """MCE = max over bins with weight of |D_b| / W_b (Naeini et al. 2015)."""
    gap = np.abs(_ratio(d, w))
    out = np.max(np.where(np.isnan(gap), -np.inf, gap), axis=-1)
    return np.where(np.isinf(out), np.nan, out)


def brier_parts(w: np.ndarray, d: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Murphy's (1973) reliability, resolution and uncertainty over the bins:
    REL = sum_b W_b (f_b - o_b)^2 / W = sum_b D_b^2 / W_b / W, RES = sum_b W_b (o_b - o)^2 / W,
    UNC = o (1 - o), with f_b, o_b the bin's mean score and observed frequency, D_b = W_b
    (o_b - f_b) and o the overall frequency."""
    total = w.sum(axis=-1)
    o = _ratio(y, w)
    obar = _ratio(y.sum(axis=-1), total)
    rel = _ratio(np.nansum(_ratio(d * d, w), axis=-1), total)
    res = _ratio(np.nansum(w * (o - obar[..., None]) ** 2, axis=-1), total)
    return rel, res, obar * (1 - obar)


@dataclass
class Binned:
    """Per-bin totals of one binning: row count, weight, weight squared, weighted score and
    weighted label."""

    n: np.ndarray
    w: np.ndarray
    w2: np.ndarray
    s: np.ndarray
    y: np.ndarray

    @staticmethod
    def of(idx: np.ndarray, bins: int, s: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> Binned:
        ww = np.ones(s.size) if w is None else w
        yy = y.astype(np.float64)
        return Binned(np.bincount(idx, minlength=bins), np.bincount(idx, ww, bins),
                      np.bincount(idx, ww * ww, bins), np.bincount(idx, ww * s, bins),
                      np.bincount(idx, ww * yy, bins))


def sweep_bins(sorted_scores: SortedScores, cap: int = SWEEP_MAX_BINS) -> tuple[int, np.ndarray, bool]:
    """The ECE-sweep bin count (Roelofs et al. 2022): equal-mass bins are added one at a
    time from 1 while the observed frequencies of the nonempty bins stay non-decreasing;
    b* is the last count before the first violation. Returns (b*, its edges, cap reached).
    The sweep stops at the number of distinct scores (more bins add no nonempty bin)."""
    limit = max(1, min(cap, sorted_scores.distinct))
    best = 1
    for b in range(2, limit + 1):
        edges = quantile_edges(sorted_scores, b)
        cut = np.searchsorted(sorted_scores.s, edges[1:-1], side="right")
        bounds = np.concatenate([[0], cut, [sorted_scores.s.size]])
        wb = np.diff(sorted_scores.cw[bounds])
        yb = np.diff(sorted_scores.cy[bounds])
        keep = wb > 0
        freq = yb[keep] / wb[keep]
        if np.any(np.diff(freq) < -_MONOTONE_TOL):
            break
        best = b
    capped = best == limit and limit == cap and sorted_scores.distinct > cap
    return best, quantile_edges(sorted_scores, best), capped


def reliability(b: Binned, lower: np.ndarray, upper: np.ndarray, confidence: float,
                intervals: bool) -> list[dict[str, Any]]:
    """Reliability-diagram bins with weight: edges, mean score, observed frequency with a
    Wilson interval (on Kish's effective size when weighted), rows and weight. Empty bins
    (no rows, or no weight) are left out."""
    out = []
    for k in np.nonzero(b.w > 0)[0]:
        observed = float(b.y[k] / b.w[k])
        low = high = None
        if intervals:
            ci = wilson_interval(observed, kish_effective_size(float(b.w[k]), float(b.w2[k])),
                                 confidence)
            low, high = _num(ci.low), _num(ci.high)
        out.append({"lower": float(lower[k]), "upper": float(upper[k]),
                    "mean_score": float(b.s[k] / b.w[k]), "observed": observed,
                    "n": int(b.n[k]), "weight": float(b.w[k]), "low": low, "high": high})
    return out


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)
