"""Binned sums of the calibration analysis and their Poisson-bootstrap replicates.

A :class:`Layout` is one analysed set of rows (overall, a slice, or a recalibrated copy):
per named :class:`Grouping`, each row's cell and the values summed per cell, each times the
row weight (a value of ones sums the weight).

Replicates (Hanley & MacGibbon 2006; Chamandy et al. 2012):

* unweighted: rows are pooled into cells, one per combination of every grouping's cell and
  the layout's label columns; a replicate draws Poisson(count) rows per cell and holds the
  cell's mean values. This is exactly the Poisson row bootstrap with each cell's mean score
  held, as assay's ``ece`` metric resamples its (bin, label) cells, and costs the number of
  occupied cells, not rows. When the cells hardly pool rows (more than a quarter as many
  cells as rows, e.g. many classes' bins crossed), the keyed row multipliers below are used
  instead: the same Poisson row bootstrap, without holding cell means, at lower cost;
* weighted: keyed Poisson(1) row multipliers (:func:`keyed_multipliers`, a function of the
  row key and the seed, generated in chunks), shared by every layout of the model, so a
  slice's replicate ``r`` and the overall replicate ``r`` resample the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from assay.engine._replicates import keyed_multipliers

#: Rows (weighted) or cells (unweighted) per chunk of replicate draws.
CHUNK = 4096
#: Above this many cells per row, unweighted replicates use keyed row multipliers.
ROW_PATH_SHARE = 0.25

Sums = dict[str, dict[str, np.ndarray]]


@dataclass
class Grouping:
    """Each row's cell (``index``, < ``size``) and the per-row values summed per cell (each
    times the row weight)."""

    index: np.ndarray
    size: int
    values: dict[str, np.ndarray]


@dataclass
class Layout:
    """One analysed set of rows: their positions among the model's rows (sorted), the
    label columns every unweighted cell holds constant, and the groupings."""

    rows: np.ndarray
    labels: list[np.ndarray]
    groupings: dict[str, Grouping]


def _pairs(layout: Layout) -> list[tuple[str, str, int]]:
    """(grouping, value, offset) of every summed quantity."""
    out, offset = [], 0
    for g, grp in layout.groupings.items():
        for v in grp.values:
            out.append((g, v, offset))
            offset += grp.size
    return out


def _width(layout: Layout) -> int:
    return sum(grp.size * len(grp.values) for grp in layout.groupings.values())


def _split(layout: Layout, stacked: np.ndarray) -> Sums:
    """(..., width) stacked sums back to grouping -> value -> (..., size)."""
    out: Sums = {}
    for g, v, offset in _pairs(layout):
        size = layout.groupings[g].size
        out.setdefault(g, {})[v] = stacked[..., offset:offset + size]
    return out


def totals(layout: Layout, w: np.ndarray | None) -> Sums:
    """Exact per-cell sums of the layout's rows (``w``: their weights, aligned with them)."""
    ww = np.ones(layout.rows.size) if w is None else w
    return {g: {v: np.bincount(grp.index, ww * vals, grp.size) for v, vals in grp.values.items()}
            for g, grp in layout.groupings.items()}


def replicates(layouts: list[Layout], w: np.ndarray | None, keys: np.ndarray, reps: int,
               seed: tuple[int, ...]) -> tuple[list[Sums] | None, str]:
    """Replicate sums (grouping -> value -> (reps, size)) of every layout, None when
    ``reps == 0``, and how they were drawn: ``"cells"`` or ``"rows"``."""
    if reps <= 0:
        return None, "none"
    if w is None:
        cells = [_cells(lay) for lay in layouts]
        pooled = sum(c[1] for c in cells) <= ROW_PATH_SHARE * max(1, sum(lay.rows.size for lay in layouts))
        if pooled:
            return [_cell_replicates(lay, inv, k, reps, (*seed, j))
                    for j, (lay, (inv, k)) in enumerate(zip(layouts, cells, strict=True))], "cells"
        w = np.ones(keys.size)
    return _row_replicates(layouts, w, keys, reps, seed), "rows"


def _cells(layout: Layout) -> tuple[np.ndarray, int]:
    """Each row's cell (a combination of the label columns and every grouping's cell)."""
    if layout.rows.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    cols = [lab.astype(np.int64) for lab in layout.labels]
    sizes = [int(c.max()) + 1 for c in cols]
    cols += [grp.index for grp in layout.groupings.values()]
    sizes += [grp.size for grp in layout.groupings.values()]
    if math.prod(sizes) >= 2**62:  # too many combinations for one integer key
        _, inv = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
        inv = inv.ravel()
        return inv, int(inv.max()) + 1
    key = np.zeros(layout.rows.size, dtype=np.int64)
    for col, size in zip(cols, sizes, strict=True):
        key = key * size + col
    if math.prod(sizes) <= 4 * layout.rows.size + 4096:  # a dense table: no sort
        occupied = np.bincount(key, minlength=math.prod(sizes)) > 0
        code = np.cumsum(occupied) - 1
        return code[key], int(occupied.sum())
    _, inv = np.unique(key, return_inverse=True)
    return inv.ravel(), int(inv.max()) + 1


def _cell_replicates(layout: Layout, inv: np.ndarray, cells: int, reps: int,
                     seed: tuple[int, ...]) -> Sums:
    """Poisson(count) draws per occupied cell, each cell's mean values held."""
    m = layout.rows.size
    if m == 0:
        return _split(layout, np.zeros((reps, _width(layout))))
    counts = np.bincount(inv, minlength=cells).astype(np.float64)
    first = np.empty(cells, dtype=np.int64)
    first[inv] = np.arange(m)
    rows, cols_idx, data = [], [], []
    for g, v, offset in _pairs(layout):
        grp = layout.groupings[g]
        mean = np.bincount(inv, grp.values[v], cells) / counts
        rows.append(np.arange(cells))
        cols_idx.append(offset + grp.index[first])
        data.append(mean)
    width = _width(layout)
    a = sparse.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols_idx))),
                          shape=(cells, width))
    rng = np.random.default_rng(list(seed))
    acc = np.zeros((width, reps))
    for start in range(0, cells, CHUNK):
        stop = min(start + CHUNK, cells)
        draws = rng.poisson(counts[start:stop], size=(reps, stop - start)).astype(np.float64)
        acc += a[start:stop].T @ draws.T
    return _split(layout, acc.T)


def _row_replicates(layouts: list[Layout], w: np.ndarray, keys: np.ndarray, reps: int,
                    seed: tuple[int, ...]) -> list[Sums]:
    """One pass over the rows with keyed Poisson(1) multipliers, shared by all layouts."""
    n = keys.size
    accs = [np.zeros((_width(lay), reps)) for lay in layouts]
    weighted = [{(g, v): w[lay.rows] * lay.groupings[g].values[v] for g, v, _ in _pairs(lay)}
                for lay in layouts]
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        mult = keyed_multipliers(keys[start:stop], reps, seed)
        for lay, acc, wv in zip(layouts, accs, weighted, strict=True):
            lo, hi = np.searchsorted(lay.rows, [start, stop])
            if hi <= lo:
                continue
            local = lay.rows[lo:hi] - start
            rows, cols, data = [], [], []
            for g, v, offset in _pairs(lay):
                rows.append(offset + lay.groupings[g].index[lo:hi])
                cols.append(local)
                data.append(wv[(g, v)][lo:hi])
            s = sparse.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                                  shape=(acc.shape[0], stop - start))
            acc += s @ mult
    return [_split(lay, acc.T) for lay, acc in zip(layouts, accs, strict=True)]
