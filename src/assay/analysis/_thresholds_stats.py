"""Estimates at a threshold fixed in advance, bootstrap replicates of the cell counts, and the
seeded holdout split used by the threshold analysis."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from assay.engine._replicates import keyed_multipliers, mix64
from assay.metrics._base import NO_INTERVALS, OK, UNDEFINED
from assay.spec import ThresholdCosts
from assay.stats import kish_effective_size, t_interval, wilson_interval

#: rows per block of keyed multipliers (rows x replicates floats in memory at once)
ROW_CHUNK = 2048
#: replicates per block when metrics are computed at every cut point
REPLICATE_CHUNK = 64

_EMPTY = {"pos": "no positive labels", "neg": "no negative labels",
          "pred": "no predicted positives at this threshold", "all": "no rows"}
#: metric -> (numerator outcomes, denominator outcomes, what an empty denominator means)
PROPORTIONS = {
    "precision": (("tp",), ("tp", "fp"), "pred"),
    "recall": (("tp",), ("tp", "fn"), "pos"),
    "specificity": (("tn",), ("tn", "fp"), "neg"),
    "fpr": (("fp",), ("tn", "fp"), "neg"),
    "fnr": (("fn",), ("tp", "fn"), "pos"),
    "selection_rate": (("tp", "fp"), ("tp", "fp", "fn", "tn"), "all"),
    "accuracy": (("tp", "tn"), ("tp", "fp", "fn", "tn"), "all"),
}
OUTCOMES = ("tp", "fp", "fn", "tn")


@dataclass(frozen=True)
class Est:
    """One metric at one operating point: value, interval, rows behind it, and provenance."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    method: str = ""
    status: str = OK
    note: str = ""


def holdout_half(key: np.ndarray, seed: list[int]) -> np.ndarray:
    """True for rows in half A: the top bit of a seeded hash of each row's key, so the split
    does not depend on row order and is the same on every rerun."""
    salt = np.random.default_rng(seed).integers(0, 1 << 63, dtype=np.uint64)
    h = mix64(np.asarray(key, dtype=np.uint64) ^ salt)
    return (h >> np.uint64(63)) == 0


@dataclass(frozen=True)
class Outcomes:
    """Weight, squared weight and rows of each outcome (tp, fp, fn, tn) at one threshold."""

    w: dict[str, float]
    w2: dict[str, float]
    rows: dict[str, int]

    @staticmethod
    def at(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, threshold: float) -> Outcomes:
        pred = s >= threshold
        pos = y == 1
        masks = {"tp": pos & pred, "fp": ~pos & pred, "fn": pos & ~pred, "tn": ~pos & ~pred}
        rows = {k: int(m.sum()) for k, m in masks.items()}
        if w is None:
            return Outcomes({k: float(v) for k, v in rows.items()},
                            {k: float(v) for k, v in rows.items()}, rows)
        return Outcomes({k: float(w[m].sum()) for k, m in masks.items()},
                        {k: float((w[m] ** 2).sum()) for k, m in masks.items()}, rows)

    def total(self, keys: tuple[str, ...]) -> tuple[float, float, int]:
        return (sum(self.w[k] for k in keys), sum(self.w2[k] for k in keys),
                sum(self.rows[k] for k in keys))


def _proportion(o: Outcomes, num: tuple[str, ...], den: tuple[str, ...], empty: str,
                method: str) -> tuple[float, Est | None, float, int]:
    """(p, undefined estimate or None, effective n, rows) of a ratio of outcome weights."""
    sw, sw2, rows = o.total(den)
    if rows == 0:
        return math.nan, Est(math.nan, n=0, method=method, status=UNDEFINED, note=_EMPTY[empty]), 0.0, 0
    if sw <= 0:
        return math.nan, Est(math.nan, n=rows, method=method, status=UNDEFINED,
                             note=f"{_EMPTY[empty]} with positive weight"), 0.0, rows
    return o.total(num)[0] / sw, None, kish_effective_size(sw, sw2), rows


def fixed_estimates(o: Outcomes, costs: ThresholdCosts | None, confidence: float, weighted: bool,
                    intervals: bool) -> dict[str, Est]:
    """Every metric at a threshold fixed in advance: Wilson intervals on the (Kish effective,
    when weighted) size of each metric's denominator; F1 through the Wilson interval of the
    Jaccard index J = TP / (TP + FP + FN) (F1 = 2J / (1 + J) is monotone); cost through a
    t interval on the mean per-row cost."""
    kish = " (Kish effective n)" if weighted else ""
    out: dict[str, Est] = {}
    for name, (num, den, empty) in PROPORTIONS.items():
        out[name] = _wilson_est(o, num, den, empty, confidence, "wilson" + kish, intervals)
    jac = _wilson_est(o, ("tp",), ("tp", "fp", "fn"), "pred", confidence, "wilson on jaccard" + kish,
                      intervals)
    if jac.status != OK:
        jac = Est(math.nan, n=jac.n, method=jac.method, status=UNDEFINED,
                  note="no positive labels and no predicted positives")
    out["f1"] = Est(*(2 * v / (1 + v) for v in (jac.value, jac.low, jac.high)), jac.n, jac.method,
                    jac.status, jac.note)
    if costs is not None:
        out["cost"] = _cost_est(o, costs, confidence, "t interval" + kish, intervals)
    return out


def _wilson_est(o: Outcomes, num: tuple[str, ...], den: tuple[str, ...], empty: str, confidence: float,
                method: str, intervals: bool) -> Est:
    method = method if intervals else NO_INTERVALS
    p, undefined, n_eff, rows = _proportion(o, num, den, empty, method)
    if undefined is not None:
        return undefined
    if not intervals:
        return Est(p, n=rows, method=method)
    ci = wilson_interval(p, n_eff, confidence)
    return Est(p, ci.low, ci.high, rows, method)


def _cost_est(o: Outcomes, costs: ThresholdCosts, confidence: float, method: str,
              intervals: bool) -> Est:
    sw, sw2, rows = o.total(OUTCOMES)
    method = method if intervals else NO_INTERVALS
    if rows == 0 or sw <= 0:
        return Est(math.nan, n=rows, method=method, status=UNDEFINED, note="no rows with positive weight")
    c = {k: float(getattr(costs, k)) for k in OUTCOMES}
    mean = sum(c[k] * o.w[k] for k in OUTCOMES) / sw
    var = sum(o.w[k] * (c[k] - mean) ** 2 for k in OUTCOMES) / sw
    n_eff = kish_effective_size(sw, sw2)
    if not intervals:
        return Est(mean, n=rows, method=method)
    if n_eff < 2:
        return Est(mean, n=rows, method=method, note="fewer than 2 effective rows: no interval")
    ci = t_interval(mean, math.sqrt(var * n_eff / (n_eff - 1)), n_eff, confidence)
    return Est(mean, ci.low, ci.high, rows, method)


def replicate_blocks(y: np.ndarray, cells: np.ndarray, size: int, w: np.ndarray | None,
                     key: np.ndarray, replicates: int, seed: list[int]
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Bootstrap replicates of the per-cell (positive, negative) weights, in blocks of
    ``REPLICATE_CHUNK`` replicates, each (block, size).

    Unweighted: a Poisson(count) draw per occupied cell, which is exactly the Poisson row
    bootstrap (a sum of independent Poisson(1) row multipliers is Poisson(count)). Weighted:
    keyed Poisson(1) row multipliers (:func:`keyed_multipliers`, drawn per block of rows)
    times the row weights, summed per cell.
    """
    if w is None:
        yield from _poisson_cells(y, cells, size, replicates, seed)
        return
    acc = _weighted_cells(y, cells, size, w, key, replicates, seed)
    for r0 in range(0, replicates, REPLICATE_CHUNK):
        block = acc[:, r0:r0 + REPLICATE_CHUNK].T
        yield block[:, :size], block[:, size:]


def _poisson_cells(y: np.ndarray, cells: np.ndarray, size: int, replicates: int, seed: list[int]
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    counts = np.concatenate([np.bincount(cells[y == 1], minlength=size),
                             np.bincount(cells[y != 1], minlength=size)]).astype(np.float64)
    occupied = np.nonzero(counts)[0]
    lam = counts[occupied]
    for r0 in range(0, replicates, REPLICATE_CHUNK):
        b = min(REPLICATE_CHUNK, replicates - r0)
        block = np.zeros((b, 2 * size))
        block[:, occupied] = rng.poisson(lam, size=(b, lam.size))
        yield block[:, :size], block[:, size:]


def _weighted_cells(y: np.ndarray, cells: np.ndarray, size: int, w: np.ndarray, key: np.ndarray,
                    replicates: int, seed: list[int]) -> np.ndarray:
    """(2 * size, replicates): per label x cell sums of weight x keyed multiplier."""
    keep = np.nonzero(w > 0)[0]  # a zero-weight row adds nothing in any replicate
    idx = cells[keep] + size * (y[keep] != 1)
    acc = np.zeros((2 * size, replicates))
    for start in range(0, keep.size, ROW_CHUNK):
        part = slice(start, start + ROW_CHUNK)
        m = keyed_multipliers(key[keep[part]], replicates, tuple(seed))
        # only the cells this block touches: a dense product over all cells would cost more
        touched, local = np.unique(idx[part], return_inverse=True)
        k = local.size
        s = sparse.csr_matrix((w[keep[part]], (local, np.arange(k))), shape=(touched.size, k))
        acc[touched] += s @ m
    return acc
