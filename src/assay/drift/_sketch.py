"""Sketches: the sufficient statistics of one column in one window, in one pass over the rows.

A sketch holds, per bin of the column's ``ColumnBins``, the count of values and, for numeric
columns, the smallest and largest value in the bin; plus the number of values and of missing
values, the first two moments (for the reference standard deviation that norms Wasserstein),
and, when there are at most ``exact_max`` values, the sorted values themselves (for exact KS
and Wasserstein). Every field merges exactly (sums, minima, maxima, concatenation), so window
sketches merge into a reference period and drift can be recomputed without the rows.

One pass: values are binned arithmetically (no search) in chunks of 2^20 rows and counted with
``np.bincount``; per-bin minima and maxima use ``np.minimum.at`` / ``np.maximum.at``. With a
window index per row, the code is ``window * n_bins + bin``, so all windows are counted in the
same pass (``sketch_windows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay._errors import InputError
from assay.drift._bins import (
    ColumnBins,
    categorical_bins,
    numeric_bins,
    resolve_kind,
)
from assay.drift._config import DriftConfig, Kind
from assay.drift._values import category_chunks, numeric_array

CHUNK = 1 << 16
#: unseen levels remembered per sketch (most frequent first), for the examples in notes
UNSEEN_KEPT = 20


@dataclass(frozen=True, eq=False)
class Sketch:
    """Sufficient statistics of one column in one window (see the module docstring)."""

    column: str
    kind: Kind
    #: values counted in the statistics (missing excluded)
    n: int
    #: missing values (None, NaN, null; +-inf for numeric columns), excluded from the statistics
    n_missing: int
    #: count per bin, missing bin excluded (length ``bins.n_bins - 1``)
    counts: np.ndarray
    #: numeric: smallest and largest value per bin (+inf / -inf where the bin is empty)
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None
    #: numeric: sums of u and u^2 with u = (x - bins.center) / bins.scale
    sum_u: float = 0.0
    sum_u2: float = 0.0
    #: numeric: the sorted values when n <= exact_max, else None
    values: np.ndarray | None = None
    #: numeric: of n_missing, the +-inf values
    n_infinite: int = 0
    #: categorical: (level, count) of levels not in the reference, most frequent first (at most 20)
    unseen: tuple[tuple[str, int], ...] = ()
    exact_max: int = 0

    def std(self, bins: ColumnBins) -> float:
        """Population standard deviation (ddof=0) of the values (numeric columns)."""
        if self.n == 0:
            return float("nan")
        if self.values is not None:
            return float(np.std(self.values))
        mean = self.sum_u / self.n
        return bins.scale * float(np.sqrt(max(self.sum_u2 / self.n - mean * mean, 0.0)))


def _check_windows(window: Any, n_rows: int, n_windows: int, column: str) -> np.ndarray:
    w = np.asarray(window)
    if w.shape != (n_rows,):
        raise InputError(f"column {column!r}: the window index has shape {w.shape}, but the column has "
                         f"{n_rows} rows; give one integer window index per row")
    if w.dtype.kind not in "iu":
        raise InputError(f"column {column!r}: the window index must be integers 0..n_windows-1, "
                         f"got dtype {w.dtype}")
    if n_windows < 1:
        raise InputError(f"column {column!r}: n_windows must be at least 1, got {n_windows}")
    if n_rows:
        lo, hi = int(w.min()), int(w.max())
        if lo < 0 or hi >= n_windows:
            row = int(np.flatnonzero((w < 0) | (w >= n_windows))[0])
            raise InputError(f"column {column!r}: row {row} has window index {int(w[row])}, outside "
                             f"0..{n_windows - 1}; every row must belong to a window (filter rows first)")
    return w.astype(np.intp, copy=False)


def _numeric_sketches(bins: ColumnBins, x: np.ndarray, window: np.ndarray | None,
                      n_windows: int) -> list[Sketch]:
    width = bins.grid_bins + 2
    size = n_windows * width
    counts = np.zeros(size, dtype=np.int64)
    mins = np.full(size, np.inf)
    maxs = np.full(size, -np.inf)
    s1 = np.zeros(n_windows)
    s2 = np.zeros(n_windows)
    n_nan = np.zeros(n_windows, dtype=np.int64)
    n_inf = np.zeros(n_windows, dtype=np.int64)
    inv_scale = 1.0 / bins.scale
    # work buffers reused across chunks: fresh pages cost more than the arithmetic on them
    u_buf = np.empty(min(CHUNK, x.size), dtype=np.float64)
    code_buf = np.empty(min(CHUNK, x.size), dtype=np.intp)
    for start in range(0, x.size, CHUNK):
        xc = x[start:start + CHUNK]
        wc = None if window is None else window[start:start + CHUNK]
        finite = np.isfinite(xc)
        if not finite.all():
            nan = np.isnan(xc)
            inf = ~finite & ~nan
            if wc is None:
                n_nan[0] += int(nan.sum())
                n_inf[0] += int(inf.sum())
            else:
                n_nan += np.bincount(wc[nan], minlength=n_windows)
                n_inf += np.bincount(wc[inf], minlength=n_windows)
                wc = wc[finite]
            xc = xc[finite]
        u = np.subtract(xc, bins.center, out=u_buf[:xc.size])
        u *= inv_scale
        if wc is None:
            s1[0] += float(u.sum())
            # einsum, not np.dot: BLAS threads that spin after a call slow every op that follows
            s2[0] += float(np.einsum("i,i->", u, u))
        else:
            s1 += np.bincount(wc, weights=u, minlength=n_windows)
            s2 += np.bincount(wc, weights=u * u, minlength=n_windows)
        codes = bins.codes_from_scaled(u, out=code_buf[:xc.size])
        if wc is not None:
            codes += wc * width
        counts += np.bincount(codes, minlength=size)
        np.minimum.at(mins, codes, xc)
        np.maximum.at(maxs, codes, xc)
    counts2, mins2, maxs2 = (a.reshape(n_windows, width) for a in (counts, mins, maxs))
    n = counts2.sum(axis=1)
    values = _small_window_values(bins, x, window, n)
    return [Sketch(column=bins.column, kind="numeric", n=int(n[w]), n_missing=int(n_nan[w] + n_inf[w]),
                   counts=counts2[w].copy(), mins=mins2[w].copy(), maxs=maxs2[w].copy(),
                   sum_u=float(s1[w]), sum_u2=float(s2[w]), values=values[w], n_infinite=int(n_inf[w]),
                   exact_max=bins.exact_max)
            for w in range(n_windows)]


def _small_window_values(bins: ColumnBins, x: np.ndarray, window: np.ndarray | None,
                         n: np.ndarray) -> list[np.ndarray | None]:
    small = n <= bins.exact_max
    out: list[np.ndarray | None] = [None] * n.size
    if not small.any():
        return out
    finite = np.isfinite(x)
    if window is None:
        out[0] = np.sort(x[finite])
        return out
    keep = finite & small[window]
    xs, ws = x[keep], window[keep]
    order = np.argsort(ws, kind="stable")
    xs, ws = xs[order], ws[order]
    bounds = np.searchsorted(ws, np.arange(n.size + 1))
    for w in np.flatnonzero(small):
        out[w] = np.sort(xs[bounds[w]:bounds[w + 1]])
    return out


def entry_counts(chunks: list[tuple[np.ndarray, list[str]]], window: np.ndarray | None,
                 n_windows: int) -> list[np.ndarray]:
    """Per dictionary chunk, counts per (window, entry): shape (n_windows, 1 + levels), entry 0 = missing."""
    out = []
    offset = 0
    for codes, levels in chunks:
        width = len(levels) + 1
        cell = codes.astype(np.intp)
        cell += 1
        if window is not None:
            cell += window[offset:offset + codes.size] * width
        out.append(np.bincount(cell, minlength=n_windows * width).reshape(n_windows, width))
        offset += codes.size
    return out


def level_totals(chunks: list[tuple[np.ndarray, list[str]]], per_entry: list[np.ndarray]) -> dict[str, int]:
    """Count per level name over all chunks and windows (for learning the reference levels)."""
    totals: dict[str, int] = {}
    for (_, levels), per in zip(chunks, per_entry, strict=True):
        for name, n in zip(levels, per[:, 1:].sum(axis=0).tolist(), strict=True):
            if n:
                totals[name] = totals.get(name, 0) + n
    return totals


def _categorical_sketches(bins: ColumnBins, chunks: list[tuple[np.ndarray, list[str]]],
                          per_entry: list[np.ndarray], n_windows: int) -> list[Sketch]:
    counts = np.zeros((n_windows, bins.n_bins), dtype=np.int64)
    unseen_bin = len(bins.levels) + 1
    unseen: dict[str, np.ndarray] = {}
    rows = np.arange(n_windows)[:, None]
    for (_, levels), per in zip(chunks, per_entry, strict=True):
        lut = bins.level_codes(levels)
        entry_bin = np.concatenate([[bins.missing_bin], lut[:-1]])
        np.add.at(counts, (rows, entry_bin[None, :]), per)
        for j in np.flatnonzero(lut[:-1] == unseen_bin):
            unseen[levels[j]] = unseen.get(levels[j], 0) + per[:, j + 1]
    out = []
    for w in range(n_windows):
        seen = sorted(((name, int(c[w])) for name, c in unseen.items() if c[w] > 0),
                      key=lambda p: (-p[1], p[0]))
        out.append(Sketch(column=bins.column, kind="categorical", n=int(counts[w, :-1].sum()),
                          n_missing=int(counts[w, -1]), counts=counts[w, :-1].copy(),
                          unseen=tuple(seen[:UNSEEN_KEPT]), exact_max=bins.exact_max))
    return out


def sketch(bins: ColumnBins, values: Any) -> Sketch:
    """The sketch of one column's values (one window), counted in ``bins``."""
    if bins.kind == "numeric":
        return _numeric_sketches(bins, numeric_array(values, bins.column), None, 1)[0]
    chunks = category_chunks(values)
    return _categorical_sketches(bins, chunks, entry_counts(chunks, None, 1), 1)[0]


def sketch_windows(bins: ColumnBins, values: Any, window: Any, n_windows: int) -> list[Sketch]:
    """One sketch per window in one pass; ``window`` is the window index (0..n_windows-1) per row."""
    if bins.kind == "numeric":
        x = numeric_array(values, bins.column)
        return _numeric_sketches(bins, x, _check_windows(window, x.size, n_windows, bins.column), n_windows)
    chunks = category_chunks(values)
    n_rows = sum(c.size for c, _ in chunks)
    index = _check_windows(window, n_rows, n_windows, bins.column)
    return _categorical_sketches(bins, chunks, entry_counts(chunks, index, n_windows), n_windows)


def learn_and_sketch(column: str, reference_values: Any, config: DriftConfig,
                     kind: Kind | None = None) -> tuple[ColumnBins, Sketch]:
    """``learn_bins`` and ``sketch`` of the reference, sharing one conversion of the values."""
    kind = kind or resolve_kind(column, reference_values, config)
    if kind == "numeric":
        x = numeric_array(reference_values, column, what="reference values")
        finite = np.isfinite(x)
        bins = numeric_bins(column, x if finite.all() else x[finite], config)
        return bins, _numeric_sketches(bins, x, None, 1)[0]
    chunks = category_chunks(reference_values)
    per_entry = entry_counts(chunks, None, 1)
    bins = categorical_bins(column, level_totals(chunks, per_entry), config)
    return bins, _categorical_sketches(bins, chunks, per_entry, 1)[0]


def merge_sketches(sketches: Sequence[Sketch]) -> Sketch:
    """One sketch of the union of the windows (e.g. a reference period); all of one column's bins."""
    if not sketches:
        raise InputError("merge_sketches needs at least one sketch")
    first = sketches[0]
    for s in sketches[1:]:
        if (s.column, s.kind, s.counts.shape) != (first.column, first.kind, first.counts.shape):
            raise InputError(f"cannot merge a sketch of column {s.column!r} ({s.kind}, {s.counts.size} bins) "
                             f"with one of {first.column!r} ({first.kind}, {first.counts.size} bins): "
                             f"sketches merge only when counted in the same ColumnBins")
    n = sum(s.n for s in sketches)
    counts = np.sum([s.counts for s in sketches], axis=0)
    if first.kind == "categorical":
        unseen: dict[str, int] = {}
        for s in sketches:
            for name, c in s.unseen:
                unseen[name] = unseen.get(name, 0) + c
        ranked = sorted(unseen.items(), key=lambda p: (-p[1], p[0]))
        return Sketch(column=first.column, kind="categorical", n=n,
                      n_missing=sum(s.n_missing for s in sketches), counts=counts,
                      unseen=tuple(ranked[:UNSEEN_KEPT]), exact_max=first.exact_max)
    values = None
    if n <= first.exact_max and all(s.values is not None for s in sketches):
        values = np.sort(np.concatenate([s.values for s in sketches]))  # type: ignore[misc]
    return Sketch(column=first.column, kind="numeric", n=n, n_missing=sum(s.n_missing for s in sketches),
                  counts=counts, mins=np.min([s.mins for s in sketches], axis=0),
                  maxs=np.max([s.maxs for s in sketches], axis=0),
                  sum_u=float(sum(s.sum_u for s in sketches)), sum_u2=float(sum(s.sum_u2 for s in sketches)),
                  values=values, n_infinite=sum(s.n_infinite for s in sketches), exact_max=first.exact_max)
