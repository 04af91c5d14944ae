"""A task (binary, multiclass, regression, ...) = its states, its metrics, its extras.

Adding a task type means writing one module that builds a :class:`Task` and registering it
in :mod:`assay.metrics`; the engines, slicing, intervals and outputs need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.engine import StateRequest
from assay.metrics._base import Context, MetricDef


@dataclass
class RowArrays:
    """One model's usable rows in memory: label codes, weights, score columns, slice codes."""

    y: np.ndarray
    w: np.ndarray | None
    scores: list[np.ndarray]
    codes: list[np.ndarray]
    #: a stable per-row key (hash of the id column) for row-keyed resampling; None = position
    key: np.ndarray | None = None


@dataclass(frozen=True)
class Task:
    """Everything the engine needs to evaluate one kind of prediction."""

    name: str
    metrics: dict[str, MetricDef]
    numpy_states: Callable[[RowArrays, Context], list[StateRequest]]
    sql_states: Callable[[list[str], Context], list[StateRequest]]
    #: Row-level work beyond grouped sums (second passes, exact order statistics).
    #: Called with the rows, the per-slice states and the partition; returns per-slice extras.
    extras: Callable[..., list[dict[str, Any]]] | None = None
    needs_rows: Callable[[Context, list[str]], bool] = field(default=lambda ctx, metrics: False)
    #: States re-aggregated under the weighted (Poisson) bootstrap; rows in memory.
    replicate_requests: Callable[[RowArrays, Context, dict[str, Any]], list[StateRequest]] | None = None
    #: Unweighted count cells to resample, state -> (counts, {derived value: per-count value}),
    #: in the same layout as ``replicate_requests``.
    resample_cells: Callable[[dict, Context, dict[str, Any]], dict[str, tuple]] | None = None
    #: Report curves (ROC, precision-recall, reliability, confusion) from one slice's
    #: statistics, as JSON-ready mappings (see ``assay.metrics._curves``); None = no curves.
    curves: Callable[[Any], dict[str, Any]] | None = None
