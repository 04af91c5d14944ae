"""A metric under a distribution shift minus the metric on the evaluation rows, with a CI.

A shift re-weights a cohort (or resamples rows, which is the same as weighting each row by
how often it was drawn), so the model's predictions do not change; only the population
the metric averages over does. Both values come from one set of rows, so their difference
is paired: a Poisson bootstrap multiplies every row's weight by the same Poisson(1) draw
on both sides (Hanley & MacGibbon 2006; Chamandy et al. 2012), and the percentile
interval of the replicate differences is the CI. The metric values are the engine's own
(the same sufficient statistics as every other number in a run), so the clean value here
equals the evaluation's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from assay.engine import Partition
from assay.engine._replicates import poisson_replicates
from assay.metrics import Context, SliceStats, get_task
from assay.metrics._task import RowArrays
from assay.stats import percentile_interval


def point_values(task_name: str, metrics: list[str], y: np.ndarray, scores: list[np.ndarray],
                 w: np.ndarray | None, ctx: Context) -> dict[str, float]:
    """Each metric's value on these rows with these weights (no interval)."""
    from assay._evaluate import _aggregate_in_chunks, _take

    task = get_task(task_name)
    partition = Partition(base=[])
    arrays = RowArrays(y=y, w=w, scores=scores, codes=[])
    states = _aggregate_in_chunks(task, arrays, partition, ctx)
    per_slice = [_take(states, 0)]
    extras: list[dict[str, Any]] = [{}]
    if task.extras is not None:
        extras = task.extras(arrays, per_slice, partition, ctx,
                             slice_rows=lambda: partition.slice_rows([], y.size), purity=None)
    reps = None
    if ctx.weighted and task.replicate_requests is not None:
        # no replicate is drawn (0 of them); the weighted finalizers expect the empty arrays
        drawn = poisson_replicates(task.replicate_requests(arrays, ctx, extras[0]), partition,
                                   arrays.codes, int(y.size), 0, (0,), keys=None)
        reps = {s: {v: a[0] for v, a in vals.items()} for s, vals in drawn.items()}
    st = SliceStats(per_slice[0], ctx, int(y.size), (0, 0, 0), reps, extras[0])
    out: dict[str, float] = {}
    for name in metrics:
        est = task.metrics[name].compute(st)
        out[name] = float(est.value) if not isinstance(est, dict) else math.nan
    return out


def shift_deltas(task_name: str, metrics: list[str], y: np.ndarray, scores: list[np.ndarray],
                 w: np.ndarray | None, shift: np.ndarray, ctx: Context, *, replicates: int,
                 seed: tuple[int, ...], confidence: float) -> dict[str, dict[str, float]]:
    """metric -> {clean, shifted, delta, ci_low, ci_high, replicates} for row weights ``shift``."""
    base_w = np.ones(y.size) if w is None else w.astype(np.float64)
    shift_ = 0.0 if task_name != "regression" or not y.size else float(np.mean(y))
    point_ctx = replace(ctx, replicates=0, weighted=True, label_shift=shift_)
    clean = point_values(task_name, metrics, y, scores, base_w, point_ctx)
    shifted = point_values(task_name, metrics, y, scores, base_w * shift, point_ctx)
    rng = np.random.default_rng(list(seed))
    reps = {m: np.empty(replicates) for m in metrics}
    for b in range(replicates):
        u = rng.poisson(1.0, y.size).astype(np.float64)
        c = point_values(task_name, metrics, y, scores, base_w * u, point_ctx)
        s = point_values(task_name, metrics, y, scores, base_w * shift * u, point_ctx)
        for m in metrics:
            reps[m][b] = s[m] - c[m]
    out = {}
    for m in metrics:
        ci = percentile_interval(reps[m], confidence)
        out[m] = {"clean": clean[m], "shifted": shifted[m], "delta": shifted[m] - clean[m],
                  "ci_low": ci.low, "ci_high": ci.high,
                  "replicates": int(np.isfinite(reps[m]).sum())}
    return out
