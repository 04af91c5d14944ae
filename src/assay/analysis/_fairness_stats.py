"""Sufficient statistics, replicates and disparity statistics for :mod:`assay.analysis.fairness`.

Classification (binary, multiclass) reduces each fairness dimension to weighted cell sums of
shape ``(G, Y, D)``: group x true label x outcome (binary: the decision; multiclass: whether
the predicted class is right). Regression reduces to per-group sums ``(G, 4)`` of the
weight, |error|, error^2 and error. Every statistic here is a vectorised function of those
arrays with any number of leading (replicate) axes, so the point estimate and each bootstrap
replicate run through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from assay.engine._replicates import CHUNK, keyed_multipliers

# ---- per-group metrics ----------------------------------------------------------------------

#: binary cells: [y, d]; num / den masks over (Y=2, D=2) for each per-group proportion
_ALL = np.ones((2, 2), dtype=bool)
BINARY_RATES: dict[str, tuple[np.ndarray, np.ndarray, str]] = {
    "selection_rate": (np.array([[0, 1], [0, 1]], bool), _ALL, "no rows with weight in this group"),
    "tpr": (np.array([[0, 0], [0, 1]], bool), np.array([[0, 0], [1, 1]], bool),
            "no positive labels in this group"),
    "fpr": (np.array([[0, 1], [0, 0]], bool), np.array([[1, 1], [0, 0]], bool),
            "no negative labels in this group"),
    "fnr": (np.array([[0, 0], [1, 0]], bool), np.array([[0, 0], [1, 1]], bool),
            "no positive labels in this group"),
    "precision": (np.array([[0, 0], [0, 1]], bool), np.array([[0, 1], [0, 1]], bool),
                  "no predicted positives in this group at this threshold"),
    "base_rate": (np.array([[0, 0], [1, 1]], bool), _ALL, "no rows with weight in this group"),
}


def multiclass_rates(k: int) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Accuracy and error rate as num / den masks over (Y=k, D=2), D = 1 when correct."""
    right = np.zeros((k, 2), dtype=bool)
    right[:, 1] = True
    every = np.ones((k, 2), dtype=bool)
    return {"accuracy": (right, every, "no rows with weight in this group"),
            "error_rate": (~right, every, "no rows with weight in this group")}


def masked_sum(cells: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sum of the cells selected by ``mask`` over the last two axes: (..., Y, D) -> (...)."""
    return np.einsum("...yd,yd->...", cells, mask.astype(np.float64))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (a rate with no rows under it is undefined)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def cell_rates(cells: np.ndarray, rates: dict[str, tuple[np.ndarray, np.ndarray, str]]
               ) -> dict[str, np.ndarray]:
    """Every per-group proportion from cell sums (..., G, Y, D) -> {name: (..., G)}."""
    return {name: ratio(masked_sum(cells, num), masked_sum(cells, den))
            for name, (num, den, _) in rates.items()}


#: regression sums per group: weight, |e|, e^2, e (e = prediction - label)
W, AE, E2, E = range(4)


def regression_values(sums: np.ndarray) -> dict[str, np.ndarray]:
    """MAE, RMSE and mean error from per-group sums (..., G, 4) -> {name: (..., G)}."""
    w = sums[..., W]
    return {"mae": ratio(sums[..., AE], w), "rmse": np.sqrt(ratio(sums[..., E2], w)),
            "mean_error": ratio(sums[..., E], w)}


# ---- reweighing (Kamiran & Calders 2012) -------------------------------------------------


def kc_weights(cells: np.ndarray) -> np.ndarray:
    """Kamiran-Calders weights w(g, y) = P(g) P(y) / P(g, y) from cell sums (..., G, Y, D).

    With these weights group and label are independent: the weighted total of (g, y) becomes
    N_g N_y / N. Cells with no weight keep weight 0 (they hold no rows to reweigh).
    """
    ngy = cells.sum(axis=-1)
    ng = ngy.sum(axis=-1, keepdims=True)
    ny = ngy.sum(axis=-2, keepdims=True)
    n = ngy.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ngy > 0, ng * ny / np.where(ngy > 0, n * ngy, 1.0), 0.0)


def reweigh(cells: np.ndarray) -> np.ndarray:
    """The cell sums with every row of (g, y) weighted by w(g, y) (the originals untouched)."""
    return cells * kc_weights(cells)[..., None]


# ---- disparities ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Disparity:
    """A between-groups statistic over the per-group values of ``needs``.

    kind: ``difference`` (max - min), ``ratio`` (min / max, as Fairlearn's
    ``MetricFrame.ratio()``), ``eo_difference`` / ``eo_ratio`` (the worse of the TPR and FPR
    difference / ratio, Fairlearn's equalized odds), ``four_fifths`` (min over groups of
    selection rate / reference group's selection rate).
    """

    name: str
    kind: str
    needs: tuple[str, ...]


def spread(v: np.ndarray, kind: str) -> np.ndarray:
    mx, mn = v.max(axis=-1), v.min(axis=-1)  # NaN in any group propagates: undefined
    if kind == "difference":
        return mx - mn
    return ratio(mn, mx)


def disparity_value(d: Disparity, m: dict[str, np.ndarray], ref: int | None) -> np.ndarray:
    """The statistic over the group axis of ``m`` (..., G) -> (...); ``ref`` indexes the
    reference group of a four-fifths ratio (None: the highest selection rate, re-taken)."""
    if d.kind in ("difference", "ratio"):
        return spread(m[d.needs[0]], d.kind)
    if d.kind == "eo_difference":
        return np.maximum(spread(m["tpr"], "difference"), spread(m["fpr"], "difference"))
    if d.kind == "eo_ratio":
        return np.minimum(spread(m["tpr"], "ratio"), spread(m["fpr"], "ratio"))
    if d.kind == "four_fifths":
        sel = m["selection_rate"]
        base = sel.max(axis=-1) if ref is None else sel[..., ref]
        return ratio(sel.min(axis=-1), base)
    raise ValueError(d.kind)


BINARY_DISPARITIES = (
    Disparity("demographic_parity_difference", "difference", ("selection_rate",)),
    Disparity("demographic_parity_ratio", "ratio", ("selection_rate",)),
    Disparity("equalized_odds_difference", "eo_difference", ("tpr", "fpr")),
    Disparity("equalized_odds_ratio", "eo_ratio", ("tpr", "fpr")),
    Disparity("equal_opportunity_difference", "difference", ("tpr",)),
    Disparity("predictive_parity_difference", "difference", ("precision",)),
    Disparity("four_fifths_ratio", "four_fifths", ("selection_rate",)),
)
REGRESSION_DISPARITIES = (
    Disparity("mae_difference", "difference", ("mae",)),
    Disparity("mae_ratio", "ratio", ("mae",)),
    Disparity("rmse_difference", "difference", ("rmse",)),
    Disparity("mean_error_difference", "difference", ("mean_error",)),
)
MULTICLASS_DISPARITIES = (
    Disparity("accuracy_difference", "difference", ("accuracy",)),
    Disparity("error_rate_ratio", "ratio", ("error_rate",)),
)


# ---- replicates -------------------------------------------------------------------------------


def poisson_cells(cells: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson(count) draws of unweighted count cells: exactly the Poisson row bootstrap."""
    return rng.poisson(cells, size=(replicates, *cells.shape)).astype(np.float64)


def keyed_sums(keys: np.ndarray, cell_ids: list[np.ndarray], sizes: list[int],
               values: list[np.ndarray], replicates: int, seed: tuple[int, ...]) -> list[np.ndarray]:
    """Per-replicate sums of ``values`` into cells under keyed Poisson(1) row multipliers.

    ``cell_ids[j]`` (n,) gives each row's cell in block j (one block per dimension, with
    ``sizes[j]`` cells). Rows are taken in chunks, so memory stays at chunk x replicates.
    Returns per block an array (replicates, sizes[j], len(values)).
    """
    n = keys.size
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(offsets[-1])
    acc = np.zeros((len(values), total, replicates))
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        m = keyed_multipliers(keys[start:stop], replicates, seed)
        k = stop - start
        rows_ = np.concatenate([c[start:stop].astype(np.int64) + offsets[j]
                                for j, c in enumerate(cell_ids)])
        cols = np.tile(np.arange(k), len(cell_ids))
        for v, value in enumerate(values):
            data = np.tile(np.asarray(value[start:stop], dtype=np.float64), len(cell_ids))
            a = sparse.csr_matrix((data, (rows_, cols)), shape=(total, k))
            acc[v] += a @ m
    return [acc[:, offsets[j]:offsets[j + 1], :].transpose(2, 1, 0) for j in range(len(sizes))]
