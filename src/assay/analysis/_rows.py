"""What every analysis receives: one model's usable rows in memory, plus run settings.

The analyses (fairness, calibration, thresholds, weak segments) need more than summed
states: re-chosen thresholds per replicate, cross-fitted recalibration, searches over
column conjunctions. They run after the engine's pass on the rows that pass produced,
read once by :func:`assay._evaluate` for all analyses, and return tidy tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class AnalysisRows:
    """One model's usable rows (its predictions passed validation) and the run's settings.

    Arrays share one row order. ``row_number`` is the 1-based row number in the dataset, so
    example rows can be found in the file; ``key`` is a stable per-row key (a hash of the id
    column, else the row number) for seeded splits and keyed resampling that do not depend
    on row order.
    """

    model: str
    task: str  # "binary" | "multiclass" | "regression"
    #: binary: 0/1 (int8); multiclass: class codes into ``classes``; regression: float64
    y: np.ndarray
    #: binary: (n,) probability of the positive class; multiclass: (n, k) probabilities in
    #: the order of ``classes``; regression: (n,) predictions
    scores: np.ndarray
    w: np.ndarray | None
    key: np.ndarray  # uint64
    row_number: np.ndarray  # int64, 1-based
    classes: list[str]
    threshold: float
    confidence: float
    #: bootstrap replicates; 0 = no intervals (``intervals: false``)
    replicates: int
    seed: tuple[int, ...]
    min_slice_size: int
    #: group labels per fairness dimension (slice label -> (n,) str array), as the result
    #: table names the levels ("African-American", "Female & 25 - 45" for intersections)
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    #: slice dimension label -> (n,) str array of the full slice label of each row's level
    #: (e.g. "channel=web"), for analyses per slice; rows in no reported level hold "".
    #: Filled only when the calibration analysis reads it (``calibration.slices``)
    slices: dict[str, np.ndarray] = field(default_factory=dict)
    #: dataset columns an analysis asked for (numeric: float64 with NaN missing; other:
    #: object arrays of str with None missing)
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.y.size)

    @property
    def weighted(self) -> bool:
        return self.w is not None


@dataclass
class AnalysisOutput:
    """An analysis's result: tidy tables (written as Parquet and JSON, stored with the run,
    shown in the report) and chart data (JSON-ready mappings for the report)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
