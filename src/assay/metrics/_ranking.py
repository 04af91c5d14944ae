"""ROC AUC and average precision from score histograms, with their error bounds.

Scores are binned on a fine grid (``score_bins`` equal-width bins on [0, 1]). Within a bin,
positives and negatives are treated as tied; the bound below is the largest change that any
ordering inside the bins could make, so the exact (row-level) value is guaranteed to lie
within it. When every bin holds a single distinct score (e.g. scores rounded to a grid),
the binned values are exact.
"""

from __future__ import annotations

import numpy as np


def auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC AUC of histograms (..., bins) ordered by increasing score; NaN if a class is absent."""
    p = pos.sum(axis=-1)
    n = neg.sum(axis=-1)
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((p > 0) & (n > 0), num / (p * n), np.nan)


def auc_bound(pos: np.ndarray, neg: np.ndarray, pure: np.ndarray | None = None) -> float:
    """Largest possible |binned AUC - exact AUC|: half the within-bin positive-negative pairs.

    Pairs in a *pure* bin (every row there has the same score) are true ties, scored 1/2
    exactly as the row-level AUC does, so they add nothing to the bound.
    """
    p, n = pos.sum(), neg.sum()
    if p <= 0 or n <= 0:
        return float("nan")
    pairs = pos * neg if pure is None else np.where(pure, 0.0, pos * neg)
    return float(0.5 * pairs.sum() / (p * n))


def pure_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Bins whose rows all share one score value (exact, from per-bin min and max)."""
    lo = np.full(bins, np.inf)
    hi = np.full(bins, -np.inf)
    for start in range(0, scores.size, 1 << 20):  # chunks: no full-length temporaries
        s = scores[start:start + (1 << 20)]
        fine = np.minimum((s * bins).astype(np.int64), bins - 1)
        np.minimum.at(lo, fine, s)
        np.maximum.at(hi, fine, s)
    return lo == hi


def delong_se(pos: np.ndarray, neg: np.ndarray) -> float:
    """DeLong's standard error of the AUC from a histogram of unweighted counts.

    Placement values are constant within a bin, so the structural components' variances are
    count-weighted sums over bins (DeLong, DeLong & Clarke-Pearson 1988).
    """
    p, n = pos.sum(), neg.sum()
    if p < 2 or n < 2:
        return float("nan")
    a = float(auc(pos, neg))
    below_neg = np.cumsum(neg) - neg
    above_pos = pos.sum() - np.cumsum(pos)
    v10 = (below_neg + 0.5 * neg) / n  # for positives in each bin
    v01 = (above_pos + 0.5 * pos) / p  # for negatives in each bin
    s10 = float((pos * (v10 - a) ** 2).sum() / (p - 1))
    s01 = float((neg * (v01 - a) ** 2).sum() / (n - 1))
    return float(np.sqrt(s10 / p + s01 / n))


def average_precision(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision (step-wise, as scikit-learn) of histograms (..., bins), increasing score."""
    tp = np.cumsum(pos[..., ::-1], axis=-1)
    fp = np.cumsum(neg[..., ::-1], axis=-1)
    p = pos.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        ap = (pos[..., ::-1] / p * prec).sum(axis=-1)
    return np.where(p[..., 0] > 0, ap, np.nan)


def average_precision_bound(pos: np.ndarray, neg: np.ndarray,
                            unit: float | np.ndarray, pure: np.ndarray | None = None) -> float:
    """Largest possible |binned AP - exact AP|.

    Inside a bin with ``a`` positives and ``c`` negatives met so far, precision is
    monotone in both, so its extremes are at the corners of the box; each positive's
    contribution can move by at most (its weight / P) x (corner spread). ``unit`` is the
    smallest positive weight (1 for counts, 0 when weights can be arbitrarily small), or
    an array of it per bin. A pure bin (one score value) is a true tie group, for which the
    binned computation is exact, so it adds nothing.
    """
    p = pos.sum()
    if p <= 0:
        return float("nan")
    pb, nb = pos[::-1], neg[::-1]
    ub = np.broadcast_to(np.asarray(unit, dtype=np.float64), pos.shape)[::-1]
    tp, fp = np.cumsum(pb), np.cumsum(nb)
    tp0, fp0 = tp - pb, fp - nb
    m = pb > 0
    if pure is not None:
        m &= ~pure[::-1]
    if not m.any():
        return 0.0
    pb, nb, tp, fp, tp0, fp0, ub = pb[m], nb[m], tp[m], fp[m], tp0[m], fp0[m], ub[m]
    end = tp / (tp + fp)
    a_min = np.minimum(ub, pb)
    worst = np.zeros_like(end)
    for a, c in ((a_min, 0.0), (a_min, nb), (pb, 0.0), (pb, nb)):
        den = tp0 + fp0 + a + c
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(den > 0, (tp0 + a) / den, end)
        worst = np.maximum(worst, np.abs(prec - end))
    return float((pb / p * worst).sum())


def coarse_map(pooled: np.ndarray, cells: int) -> np.ndarray:
    """Map fine bins to ``cells`` contiguous, roughly equal-mass coarse cells."""
    total = pooled.sum()
    if total <= 0:
        return np.zeros(pooled.size, dtype=np.int64)
    mid = (np.cumsum(pooled) - 0.5 * pooled) / total
    return np.minimum((mid * cells).astype(np.int64), cells - 1)


def coarsen(hist: np.ndarray, mapping: np.ndarray, cells: int) -> np.ndarray:
    """Sum a fine histogram (bins,) into coarse cells."""
    return np.bincount(mapping, weights=hist, minlength=cells)
