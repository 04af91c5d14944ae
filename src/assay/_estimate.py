"""Estimates for one group of in-memory rows, without sources, slices or DuckDB.

The full pipeline costs a DuckDB connection per call; simulation studies (coverage,
power) evaluate thousands of small samples and use this path, which runs the same states
and metric code as :func:`assay.evaluate` on the overall slice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.engine import Partition
from assay.engine._replicates import cell_replicates, poisson_replicates
from assay.engine._states import aggregate_numpy
from assay.metrics import Context, Estimate, SliceStats, get_task
from assay.metrics._task import RowArrays


def estimate(
    task: str,
    y: np.ndarray,
    scores: np.ndarray | list[np.ndarray],
    *,
    weights: np.ndarray | None = None,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    replicates: int = 1000,
    threshold: float = 0.5,
    score_bins: int = 65536,
    calibration_bins: int = 15,
    classes: list[Any] | None = None,
    top_k: int = 2,
) -> dict[str, Estimate | dict[str, Estimate]]:
    """Metric estimates with intervals for arrays (labels already coded: binary 0/1,
    multiclass 0..k-1, regression float)."""
    t = get_task(task)
    names = metrics or list(t.metrics)
    cols = [np.asarray(c, dtype=np.float64) for c in
            (scores if isinstance(scores, list) else
             (list(np.asarray(scores).T) if np.ndim(scores) == 2 else [scores]))]
    y = np.asarray(y)
    rows = RowArrays(y=y.astype(np.float64) if task == "regression" else y.astype(np.int64),
                     w=None if weights is None else np.asarray(weights, dtype=np.float64),
                     scores=cols, codes=[])
    if classes is None:
        classes = [0, 1] if task == "binary" else (list(range(len(cols))) if task == "multiclass" else [])
    ctx = Context(confidence=confidence, seed=seed, replicates=replicates, threshold=threshold,
                  score_bins=score_bins, calibration_bins=calibration_bins,
                  weighted=weights is not None, classes=classes, top_k=top_k, metrics=tuple(names))
    if task == "regression":
        w = rows.w if rows.w is not None else np.ones(y.size)
        ctx.label_shift = float(np.sum(w * rows.y) / np.sum(w))
    partition = Partition([])
    states = aggregate_numpy(t.numpy_states(rows, ctx), partition, None, y.size)
    per_slice = [states]
    extras = (t.extras(rows, per_slice, partition, ctx, slice_rows=lambda: iter([None]))
              if t.extras else [{}])
    reps = None
    if rows.w is not None and t.replicate_requests is not None:
        r = poisson_replicates(t.replicate_requests(rows, ctx, extras[0]), partition, [], y.size,
                               replicates, (seed, 0))
        reps = {s: {v: a[0] for v, a in vals.items()} for s, vals in r.items()}
    elif t.resample_cells is not None:
        reps = cell_replicates([], t.resample_cells(states, ctx, extras[0]), replicates,
                               (seed, 0), 1)[0][0]
    n = int(round(float(next(iter(states.values()))["n"].sum())))
    st = SliceStats(states, ctx, n, (0, 0, 0), reps, extras[0])
    return {name: t.metrics[name].compute(st) for name in names}
