"""Threshold grid, per-cell label counts, metrics at every cut point, and the selection rules.

A row is predicted positive iff ``score >= threshold`` (as the engine does). The grid is an
ascending list of cut points ``g_0 < ... < g_{G-1}``; cell 0 holds the rows below ``g_0``
and cell ``j + 1`` the rows in ``[g_j, g_{j+1})``. Positives and negatives are counted per
cell (a label x cell histogram), so the confusion counts at every cut point are cumulative
sums over cells: ``TP(g_j)`` is the positive weight in cells ``> j``, ``FN(g_j)`` the
positive weight in cells ``<= j``. The same arrays with a leading replicate axis give the
metrics of every bootstrap replicate at every cut point at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.spec import ThresholdConstraint, ThresholdCosts

#: candidate thresholds: every distinct score up to this many, else this many score quantiles
MAX_CANDIDATES = 4096
#: metrics reported at every operating point (``cost`` is added when costs are set)
METRICS = ("precision", "recall", "specificity", "fpr", "fnr", "f1", "selection_rate", "accuracy")
#: metrics for which a lower value is better when a constraint optimises them
LOWER_IS_BETTER = frozenset({"fpr", "fnr", "cost"})
#: relative tolerance under which two weighted metric values count as tied (float sums of the
#: same weights in a different order differ in the last bits); unweighted counts are exact
WEIGHTED_TIE = 1e-12


@dataclass(frozen=True)
class Grid:
    """Cut points, which of them may be chosen, and each row's cell."""

    thresholds: np.ndarray  # (G,) ascending
    candidate: np.ndarray  # (G,) bool
    cells: np.ndarray  # (n,) int64 in 0..G
    exact: bool  # every distinct score is a candidate
    distinct: int  # distinct scores
    note: str  # how the candidates were formed

    @property
    def size(self) -> int:
        return int(self.thresholds.size)

    def index_of(self, values: np.ndarray) -> np.ndarray:
        """Grid indices of values that are cut points."""
        return np.searchsorted(self.thresholds, values)


def candidate_thresholds(scores: np.ndarray) -> tuple[np.ndarray, bool, int]:
    """(candidates, exact, distinct): the distinct scores when there are at most
    ``MAX_CANDIDATES``, else that many quantiles of the scores (each one a score value), plus
    one threshold just above the largest score (nothing predicted positive)."""
    distinct = np.unique(scores)
    exact = distinct.size <= MAX_CANDIDATES
    if exact:
        cand = distinct
    else:
        levels = np.linspace(0.0, 1.0, MAX_CANDIDATES)
        cand = np.unique(np.quantile(scores, levels, method="inverted_cdf"))
    above = np.nextafter(distinct[-1], np.inf)
    return np.append(cand, above), exact, int(distinct.size)


def build_grid(scores: np.ndarray, extra: np.ndarray | None = None) -> Grid:
    """The grid of candidate thresholds (see :func:`candidate_thresholds`) merged with
    ``extra`` cut points (the curve's thresholds), which are evaluated but never chosen."""
    cand, exact, distinct = candidate_thresholds(scores)
    cuts = cand if extra is None else np.union1d(cand, extra)
    candidate = np.isin(cuts, cand)
    cells = np.searchsorted(cuts, scores, side="right").astype(np.int64)
    if exact:
        note = f"candidate thresholds: all {distinct} distinct scores (exact optimum)"
    else:
        between = np.bincount(np.searchsorted(cand, scores, side="right") - 1)
        share = between.max() / max(scores.size, 1)
        note = (f"candidate thresholds: {cand.size - 1} score quantiles of {distinct} distinct "
                f"scores (at most {share:.3%} of rows between neighbouring candidates)")
    return Grid(cuts, candidate, cells, exact, distinct, note)


@dataclass(frozen=True)
class CellCounts:
    """Label x cell totals: weight (or rows), rows, and squared weight."""

    pos: np.ndarray
    neg: np.ndarray

    @staticmethod
    def of(y: np.ndarray, cells: np.ndarray, size: int, w: np.ndarray | None) -> CellCounts:
        """Positive and negative weight per cell (``size`` = G + 1 cells)."""
        pos = y == 1
        wp = None if w is None else w[pos]
        wn = None if w is None else w[~pos]
        return CellCounts(np.bincount(cells[pos], weights=wp, minlength=size).astype(np.float64),
                          np.bincount(cells[~pos], weights=wn, minlength=size).astype(np.float64))


def confusion(pos: np.ndarray, neg: np.ndarray) -> dict[str, np.ndarray]:
    """TP, FP, FN, TN at every cut point from per-cell weights (..., G + 1) -> (..., G)."""
    def tail(c: np.ndarray) -> np.ndarray:
        return np.cumsum(c[..., ::-1], axis=-1)[..., ::-1][..., 1:]

    def head(c: np.ndarray) -> np.ndarray:
        return np.cumsum(c, axis=-1)[..., :-1]

    return {"tp": tail(pos), "fp": tail(neg), "fn": head(pos), "tn": head(neg)}


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den <= 0 (the metric is undefined there)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def expected_cost(c: dict[str, np.ndarray], costs: ThresholdCosts) -> np.ndarray:
    """Expected cost per row (per unit weight): (fp FP + fn FN + tp TP + tn TN) / total."""
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    total = tp + fp + fn + tn
    return ratio(costs.fp * fp + costs.fn * fn + costs.tp * tp + costs.tn * tn, total)


_FORMULAS = {
    "precision": lambda tp, fp, fn, tn: ratio(tp, tp + fp),
    "recall": lambda tp, fp, fn, tn: ratio(tp, tp + fn),
    "specificity": lambda tp, fp, fn, tn: ratio(tn, tn + fp),
    "fpr": lambda tp, fp, fn, tn: ratio(fp, tn + fp),
    "fnr": lambda tp, fp, fn, tn: ratio(fn, tp + fn),
    "f1": lambda tp, fp, fn, tn: ratio(2 * tp, 2 * tp + fp + fn),
    "selection_rate": lambda tp, fp, fn, tn: ratio(tp + fp, tp + fp + fn + tn),
    "accuracy": lambda tp, fp, fn, tn: ratio(tp + tn, tp + fp + fn + tn),
}


class LazyMetrics(dict):
    """Metrics from confusion counts (any shape; NaN = undefined), each computed when first
    read, so a replicate block computes only what its selection rules look at."""

    def __init__(self, c: dict[str, np.ndarray], costs: ThresholdCosts | None) -> None:
        super().__init__()
        self.c, self.costs = c, costs

    def __missing__(self, name: str) -> np.ndarray:
        if name == "cost":
            if self.costs is None:
                raise KeyError(name)
            value = expected_cost(self.c, self.costs)
        else:
            c = self.c
            value = _FORMULAS[name](c["tp"], c["fp"], c["fn"], c["tn"])
        self[name] = value
        return value

    def names(self) -> list[str]:
        return [*METRICS, *(["cost"] if self.costs is not None else [])]


def metrics_from_confusion(c: dict[str, np.ndarray], costs: ThresholdCosts | None) -> dict[str, np.ndarray]:
    """Every operating-point metric from confusion counts (any shape; NaN = undefined)."""
    lazy = LazyMetrics(c, costs)
    return {k: lazy[k] for k in lazy.names()}


def _best_index(value: np.ndarray, valid: np.ndarray, lower: bool, tol: float) -> np.ndarray:
    """Index (along the last axis) of the best valid value, ties to the highest index; -1 when
    nothing is valid."""
    v = -value if lower else value
    v = np.where(valid, v, -np.inf)
    best = v.max(axis=-1, keepdims=True)
    slack = tol * np.maximum(1.0, np.abs(best)) if tol > 0 else 0.0
    tied = valid & (v >= best - slack)
    idx = np.where(tied, np.arange(v.shape[-1]), -1).max(axis=-1)
    return np.where(valid.any(axis=-1), idx, -1)


def choose_cost(m: dict[str, np.ndarray], candidate: np.ndarray, tol: float) -> np.ndarray:
    """The cost-minimising cut point (ties towards the higher threshold)."""
    cost = m["cost"]
    return _best_index(cost, candidate & np.isfinite(cost), lower=True, tol=tol)


def feasible(m: dict[str, np.ndarray], con: ThresholdConstraint, candidate: np.ndarray) -> np.ndarray:
    """Cut points whose constrained metric is defined and meets the bound."""
    v = m[con.metric]
    ok = candidate & np.isfinite(v)
    with np.errstate(invalid="ignore"):
        return ok & ((v >= con.min) if con.min is not None else (v <= con.max))


def choose_constraint(m: dict[str, np.ndarray], con: ThresholdConstraint, candidate: np.ndarray,
                      tol: float) -> np.ndarray:
    """The feasible cut point with the best ``optimize`` value (lowest for fpr/fnr, else
    highest; ties towards the higher threshold); -1 where no cut point is feasible."""
    opt = m[con.optimize]
    valid = feasible(m, con, candidate) & np.isfinite(opt)
    return _best_index(opt, valid, lower=con.optimize in LOWER_IS_BETTER, tol=tol)


def best_achievable(m: dict[str, np.ndarray], con: ThresholdConstraint, grid: Grid) -> str:
    """Why a constraint cannot be met: the best value of its metric over the candidates."""
    v = np.where(grid.candidate, m[con.metric], np.nan)
    if not np.isfinite(v).any():
        return f"{con.metric} is undefined at every candidate threshold"
    j = int(np.nanargmax(v) if con.min is not None else np.nanargmin(v))
    word = "highest" if con.min is not None else "lowest"
    bound = f">= {con.min:g}" if con.min is not None else f"<= {con.max:g}"
    return (f"no candidate threshold meets {con.metric} {bound}; the {word} achievable "
            f"{con.metric} is {v[j]:.6g} (at threshold {grid.thresholds[j]:.6g})")
