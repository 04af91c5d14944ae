"""Curves for reports (ROC, precision-recall, reliability, confusion) from a slice's states.

They come from the same sufficient statistics as the metrics (the fine score histogram, the
calibration cells, the confusion cells), so every engine draws the same curves and their
size depends on the bins, never on the rows. Long curves are thinned to at most
``MAX_POINTS`` points spread evenly along their length, which keeps a report light while
staying within a pixel of the full curve at report sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.stats import wilson_interval

#: Points kept per curve (a 400-pixel chart has no use for more).
MAX_POINTS = 200


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points spread evenly along the polyline (x, y),
    always keeping the first and the last."""
    n = x.size
    if n <= max_points:
        return np.arange(n)
    length = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(x)) + np.abs(np.diff(y)))])
    targets = np.linspace(0.0, length[-1], max_points)
    idx = np.unique(np.searchsorted(length, targets, side="left").clip(0, n - 1))
    return np.unique(np.concatenate([[0], idx, [n - 1]]))


def _rounded(a: np.ndarray, digits: int = 6) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in a]


def score_curves(pos: np.ndarray, neg: np.ndarray) -> dict[str, Any]:
    """ROC and precision-recall points from positive and negative score histograms over
    equal-width bins of [0, 1]: one operating point per occupied bin, thresholds descending
    (a threshold is the lower edge of its bin)."""
    bins = pos.size
    occupied = np.nonzero((pos + neg) > 0)[0][::-1]
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if occupied.size == 0 or n_pos <= 0 or n_neg <= 0:
        return {}
    tp = np.cumsum(pos[occupied])
    fp = np.cumsum(neg[occupied])
    thresholds = occupied / bins
    fpr = np.concatenate([[0.0], fp / n_neg])
    tpr = np.concatenate([[0.0], tp / n_pos])
    thr = np.concatenate([[1.0], thresholds])
    keep = thin(fpr, tpr)
    roc = {"fpr": _rounded(fpr[keep]), "tpr": _rounded(tpr[keep]), "threshold": _rounded(thr[keep])}
    recall = tp / n_pos
    precision = tp / (tp + fp)
    keep = thin(recall, precision)
    pr = {"recall": _rounded(recall[keep]), "precision": _rounded(precision[keep]),
          "threshold": _rounded(thresholds[keep]), "prevalence": round(n_pos / (n_pos + n_neg), 6)}
    return {"roc": roc, "pr": pr}


def reliability(cal_w: np.ndarray, cal_ws: np.ndarray, bins: int, confidence: float,
                effective: np.ndarray | None = None) -> dict[str, Any]:
    """Reliability diagram cells from the calibration states (label-0 cells, then label-1):
    per occupied bin, the mean score, the observed positive share with a Wilson interval,
    and the rows (or weight) in it."""
    w = cal_w[:bins] + cal_w[bins:]
    pos = cal_w[bins:]
    ws = cal_ws[:bins] + cal_ws[bins:]
    n_eff = w if effective is None else effective
    rows: dict[str, list] = {k: [] for k in ("bin_low", "bin_high", "weight", "mean_score",
                                             "observed", "observed_low", "observed_high")}
    for b in np.nonzero(w > 0)[0]:
        observed = float(pos[b] / w[b])
        ci = wilson_interval(observed, float(n_eff[b]), confidence)
        rows["bin_low"].append(round(b / bins, 6))
        rows["bin_high"].append(round((b + 1) / bins, 6))
        rows["weight"].append(round(float(w[b]), 6))
        rows["mean_score"].append(round(float(ws[b] / w[b]), 6))
        rows["observed"].append(round(observed, 6))
        rows["observed_low"].append(round(ci.low, 6))
        rows["observed_high"].append(round(ci.high, 6))
    return rows


def confusion(matrix: np.ndarray, labels: list[str], threshold: float | None = None) -> dict[str, Any]:
    """A confusion matrix, rows = true class, columns = predicted class, in label order."""
    out: dict[str, Any] = {"labels": labels,
                           "matrix": [[round(float(v), 6) for v in row] for row in matrix]}
    if threshold is not None:
        out["threshold"] = threshold
    return out
