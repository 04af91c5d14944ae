"""What a reference column teaches: the bins that every window of that column is counted in.

Numeric columns get two nested binnings from the reference:

* **fine bins** for binned KS and Wasserstein: ``fine_bins`` (default 4096) of equal width in
  ``t = asinh((x - median) / scale)`` between the reference minimum and maximum, a quarter as
  many again beyond each end (current values a little outside the reference range keep their
  resolution), and an underflow and an overflow bin beyond those. The
  asinh map is linear within a scale of the median and logarithmic beyond it, so bulk and
  heavy tails both get resolution; binning is arithmetic (no search), which is what makes 1e7
  rows per column cost tens of milliseconds. ``scale`` is the reference interquartile range /
  1.349 (the normal standard deviation), else the standard deviation, else 1.
* **coarse bins** for PSI, JS and chi-square: reference quantiles at 1/psi_bins, 2/psi_bins, ...,
  rounded down to a fine-bin edge (so coarse counts are sums of fine counts), and two more bins
  for values below the reference minimum's fine bin and above the reference maximum's, so that
  current mass outside the reference range shows up even when the reference is constant. Tied
  quantiles (discrete columns) merge.

Reference quantiles, median and scale come from a deterministic stride sample of at most 65,536
finite reference values (all of them for smaller references); the bins only partition the
line, so an approximate quantile moves an edge, never a count.

Categorical columns keep the ``max_levels`` most frequent reference levels (ties by name); the
other reference levels are pooled in one ``(other)`` bin; a level never seen in the reference
goes to ``(unseen)``. Missing values (None, NaN, null; for numeric columns also +-inf) have a bin
of their own, the last one, and are excluded from every statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from assay.drift._config import DriftConfig, Kind
from assay.drift._values import category_chunks, numeric_array

#: reference values used to place quantile edges, median and scale
SAMPLE_SIZE = 65_536
OTHER = "(other)"
UNSEEN = "(unseen)"


@dataclass(frozen=True, eq=False)
class ColumnBins:
    """The bins of one column, learned from its reference and shared by every window.

    Codes: numeric ``0`` underflow, ``1..grid_bins`` the grid, ``grid_bins + 1`` overflow;
    categorical ``0..L-1`` the kept levels, ``L`` (other), ``L + 1`` (unseen); in both the last
    code, ``n_bins - 1``, is the missing bin.
    """

    column: str
    kind: Kind
    n_bins: int
    exact_max: int
    # numeric
    center: float = 0.0
    scale: float = 1.0
    t_low: float = 0.0
    per_unit: float = 1.0
    #: fine grid bins (config.fine_bins across the reference range plus the margins)
    grid_bins: int = 0
    #: fine codes of the reference minimum and maximum
    ref_codes: tuple[int, int] = (0, 0)
    #: first fine code of each coarse bin (PSI / JS / chi-square on numeric columns)
    coarse_starts: tuple[int, ...] = ()
    # categorical
    levels: tuple[str, ...] = ()
    other_levels: frozenset[str] = field(default_factory=frozenset)

    @property
    def missing_bin(self) -> int:
        """The code of missing values (the last bin)."""
        return self.n_bins - 1

    @cached_property
    def _lut(self) -> dict[str, int]:
        lut = {name: i for i, name in enumerate(self.levels)}
        other = len(self.levels)
        lut.update({name: other for name in self.other_levels})
        return lut

    def level_codes(self, levels: list[str]) -> np.ndarray:
        """Bin code of each dictionary entry, followed by the missing bin (for code -1)."""
        unseen = len(self.levels) + 1
        lut = self._lut
        return np.array([lut.get(name, unseen) for name in levels] + [self.missing_bin], dtype=np.intp)

    def fine_codes(self, finite: np.ndarray) -> np.ndarray:
        """Fine-bin code of each finite value (numeric columns); monotone non-decreasing in x."""
        u = np.subtract(finite, self.center, dtype=np.float64)
        u *= 1.0 / self.scale
        return self.codes_from_scaled(u)

    def codes_from_scaled(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Fine-bin codes from ``u = (x - center) / scale``; overwrites ``u`` (a work buffer)."""
        np.arcsinh(u, out=u)
        u -= self.t_low
        u *= self.per_unit
        u += 1.0
        np.clip(u, 0.0, self.grid_bins + 1.0, out=u)
        if out is None:
            return u.astype(np.intp)
        np.copyto(out, u, casting="unsafe")  # truncation = floor, as u >= 0
        return out

    def codes(self, values: Any) -> np.ndarray:
        """Bin code per value: fine bins (numeric) or levels (categorical); missing -> last bin."""
        if self.kind == "numeric":
            x = numeric_array(values, self.column)
            finite = np.isfinite(x)
            out = np.full(x.shape, self.missing_bin, dtype=np.intp)
            out[finite] = self.fine_codes(x[finite])
            return out
        parts = [self.level_codes(levels)[codes] for codes, levels in category_chunks(values)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)

    def fine_edge(self, code: np.ndarray | int) -> np.ndarray:
        """Approximate value where fine bin ``code`` (1..grid_bins + 1) starts."""
        t = self.t_low + (np.asarray(code, dtype=np.float64) - 1.0) / self.per_unit
        return self.center + self.scale * np.sinh(t)

    @property
    def n_coarse(self) -> int:
        """Number of bins PSI, JS and chi-square use (missing excluded)."""
        return len(self.coarse_starts) if self.kind == "numeric" else len(self.levels) + 2

    def coarse(self, counts: np.ndarray) -> np.ndarray:
        """Counts per coarse bin from counts per bin (missing bin excluded or not)."""
        counts = np.asarray(counts)
        if self.kind == "numeric":
            return np.add.reduceat(counts[: self.grid_bins + 2], list(self.coarse_starts))
        return counts[: len(self.levels) + 2]

    def coarse_labels(self) -> list[str]:
        """Names of the coarse bins: levels, or value intervals of the numeric bins."""
        if self.kind == "categorical":
            return [*self.levels, OTHER, UNSEEN]
        starts = list(self.coarse_starts)
        edges = [float(v) for v in self.fine_edge(np.array(starts[1:]))]
        labels = ["below reference min"]
        for i in range(1, len(starts) - 1):
            labels.append(f"[{edges[i - 1]:.6g}, {edges[i]:.6g})")
        return [*labels, "above reference max"]


def _stride_sample(finite: np.ndarray) -> np.ndarray:
    step = max(1, -(-finite.size // SAMPLE_SIZE))
    return np.sort(finite[::step])


def numeric_bins(column: str, finite: np.ndarray, config: DriftConfig) -> ColumnBins:
    """Bins of a numeric column from its finite reference values."""
    k = config.fine_bins
    margin = k // 4
    if finite.size == 0:
        center, scale, lo, hi, sample = 0.0, 1.0, 0.0, 0.0, np.zeros(1)
    else:
        sample = _stride_sample(finite)
        center = float(np.quantile(sample, 0.5))
        q25, q75 = np.quantile(sample, [0.25, 0.75])
        scale = float(q75 - q25) / 1.349
        if not scale > 0 or not math.isfinite(scale):
            scale = float(np.std(sample))
        if not scale > 0 or not math.isfinite(scale):
            scale = 1.0
        lo, hi = float(finite.min()), float(finite.max())
    # t of the extremes through the same arithmetic as fine_codes, so both round alike
    t = np.arcsinh((np.array([lo, hi]) - center) * (1.0 / scale))
    span = float(t[1] - t[0])
    # a constant reference: a grid of +-2 in t around it (values within ~3.6 scales)
    per_unit = k / span if span > 0 else margin / 2.0
    bins = ColumnBins(column=column, kind="numeric", n_bins=k + 2 * margin + 3, exact_max=config.exact_max,
                      center=center, scale=scale, t_low=float(t[0]) - margin / per_unit, per_unit=per_unit,
                      grid_bins=k + 2 * margin)
    low, high = (int(c) for c in bins.fine_codes(np.array([lo, hi])))
    levels = np.arange(1, config.psi_bins) / config.psi_bins
    quantile_codes = bins.fine_codes(np.quantile(sample, levels))
    starts = sorted({0, low, high + 1, *(int(c) for c in quantile_codes if low < c <= high)})
    return replace(bins, ref_codes=(low, high), coarse_starts=tuple(starts))


def categorical_bins(column: str, level_counts: dict[str, int], config: DriftConfig) -> ColumnBins:
    """Bins of a categorical column from the reference's count per level."""
    ranked = sorted((name for name, n in level_counts.items() if n > 0), key=lambda k: (-level_counts[k], k))
    kept, rest = ranked[: config.max_levels], ranked[config.max_levels:]
    return ColumnBins(column=column, kind="categorical", n_bins=len(kept) + 3, exact_max=config.exact_max,
                      levels=tuple(kept), other_levels=frozenset(rest))


def count_levels(chunks: list[tuple[np.ndarray, list[str]]]) -> tuple[dict[str, int], int]:
    """Count per level name over dictionary chunks, and the number of missing values."""
    totals: dict[str, int] = {}
    missing = 0
    for codes, levels in chunks:
        counts = np.bincount(codes + 1, minlength=len(levels) + 1)
        missing += int(counts[0])
        for name, n in zip(levels, counts[1:].tolist(), strict=True):
            if n:
                totals[name] = totals.get(name, 0) + n
    return totals, missing


def learn_bins(column: str, reference_values: Any, config: DriftConfig,
               kind: Kind | None = None) -> ColumnBins:
    """Learn a column's bins from its reference values.

    ``kind`` defaults to the config's forced lists, else the values' type (numbers -> numeric;
    strings, booleans, categoricals -> categorical).
    """
    from assay.drift._values import is_numeric_values

    if kind is None:
        kind = resolve_kind(column, reference_values, config, is_numeric_values)
    if kind == "numeric":
        x = numeric_array(reference_values, column, what="reference values")
        return numeric_bins(column, x[np.isfinite(x)], config)
    totals, _ = count_levels(category_chunks(reference_values))
    return categorical_bins(column, totals, config)


def resolve_kind(column: str, values: Any, config: DriftConfig, is_numeric: Any = None) -> Kind:
    """numeric or categorical: the config's forced lists first, else the values' type."""
    if column in config.categorical:
        return "categorical"
    if column in config.numeric:
        return "numeric"
    if is_numeric is None:
        from assay.drift._values import is_numeric_values as is_numeric
    return "numeric" if is_numeric(values) else "categorical"
