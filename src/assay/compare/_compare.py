"""Candidate vs baseline on the rows both scored: one comparison row per slice and metric.

The rows are those usable for both models (a row excluded for either model is left out of
the pair and counted). Each slice of the evaluation is compared with the metric's paired
method (see :mod:`assay.compare._methods`); p-values are adjusted across the slices and
metrics of one candidate (Benjamini-Hochberg by default, Holm as an option).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from assay.compare._methods import (
    OK,
    PairArrays,
    PairContext,
    PairedEstimate,
    churn_estimate,
)
from assay.compare._tasks import CHANGED, PAIRED, SKIP, UNPAIRED, per_class_methods
from assay.engine import Partition
from assay.stats import (
    benjamini_hochberg,
    holm,
    mover_difference,
    normal_mdd,
    paired_proportion_mdd,
    z_value,
)

#: Columns of the comparison table, in order. ``delta`` = candidate - baseline.
COMPARE_COLUMNS = ["baseline", "candidate", "slice", "dimension", "level", "metric",
                   "baseline_value", "candidate_value", "delta", "ci_low", "ci_high",
                   "p_value", "p_adjusted", "n", "method", "status", "note",
                   "higher_is_better", "se", "discordance", "mdd"]

TOO_SMALL = "too_small"
CHURN = "churn"


def _unpaired(a: dict | None, b: dict | None, confidence: float) -> PairedEstimate:
    """MOVER difference of two single-model intervals (conservative without pairing); ``se``
    is the half-width over the normal quantile of ``confidence``, the intervals' level."""
    method = "unpaired MOVER (no paired method; conservative)"
    if a is None or b is None or a["status"] != OK or b["status"] != OK:
        return PairedEstimate.undefined("a model's value is undefined in this slice", method)
    d = b["value"] - a["value"]
    if not all(math.isfinite(x) for x in (a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"])):
        return PairedEstimate(a["value"], b["value"], d, method=method, note="no interval")
    ci = mover_difference(b["value"], b["ci_low"], b["ci_high"], a["value"], a["ci_low"], a["ci_high"])
    se = (ci.high - ci.low) / 2 / z_value(confidence) if math.isfinite(ci.low) else math.nan
    return PairedEstimate(a["value"], b["value"], d, ci.low, ci.high, math.nan, method, se=se,
                          note="each model on its own usable rows")


def _mdd(est: PairedEstimate, confidence: float, power: float) -> float:
    """Minimum detectable difference at this size: the |delta| found with probability
    ``power`` by the two-sided ``confidence`` interval (see :mod:`assay.stats._power`)."""
    if est.status != OK or not math.isfinite(est.se):
        return math.nan
    alpha = 1 - confidence
    if math.isfinite(est.discordance):
        if est.discordance <= 0 or not est.n_domain > 0:
            return math.nan  # the models agree on every row: no variance to plan with
        return paired_proportion_mdd(est.discordance, est.n_domain, alpha=alpha, power=power)
    # se = sd / sqrt(n): the normal family's mdd at n = 1 with sd = se
    return normal_mdd(est.se, 1.0, alpha=alpha, power=power)


def compare_pair(
    *,
    task: str,
    metrics: list[str],
    higher_is_better: dict[str, bool],
    pairs: PairArrays,
    codes: list[np.ndarray],
    partition: Partition,
    ctx: PairContext,
    names: tuple[str, str],
    min_slice_size: int,
    singles: dict[tuple[str, str, str], dict[str, Any]],
    adjust: str = "bh",
    power: float = 0.8,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Compare one candidate with the baseline on every slice; ``names`` = (baseline,
    candidate). ``singles`` maps (model, slice, metric) to that model's own result row,
    used for metrics with no paired method."""
    declared = PAIRED.get(task)
    if declared is None:
        raise KeyError(f"task {task!r} has no paired methods declared; declare one for each of its "
                       "metrics with assay.compare.register_paired (or UNPAIRED)")
    methods: dict[str, Any] = {}
    for m in metrics:
        how = declared.get(m)
        if how is None:
            raise KeyError(f"metric {m!r} of task {task!r} has no paired method declared; add it "
                           "with assay.compare.register_paired (or UNPAIRED)")
        if how == SKIP:
            continue
        if how == "per_class":
            methods |= {k: (m, v) for k, v in per_class_methods(ctx.classes).items()}
        else:
            methods[m] = (m, how)
    changed = CHANGED.get(task)
    seed0 = ctx.seed
    records: list[dict[str, Any]] = []
    slices = list(partition.slice_rows(codes, pairs.n))
    for j, (key, idx) in enumerate(zip(partition.keys, slices, strict=True)):
        if progress is not None:
            progress(j, len(slices))
        n_j = pairs.n if idx is None else int(idx.size)
        if key.kind == "cross" and n_j == 0:
            continue
        base = {"baseline": names[0], "candidate": names[1], "slice": key.label,
                "dimension": key.dimension, "level": key.level if key.kind != "where" else "",
                "n": n_j}
        sub = pairs.take(idx)
        small = j > 0 and n_j < min_slice_size
        rows: list[tuple[str, bool, PairedEstimate]] = []
        for k, (full, (metric, how)) in enumerate(methods.items()):
            hib = higher_is_better[metric]
            if small:
                why = "empty slice" if n_j == 0 else f"fewer than min_slice_size={min_slice_size} rows"
                rows.append((full, hib, PairedEstimate.undefined(why)))
                continue
            if how == UNPAIRED:
                est = _unpaired(singles.get((names[0], key.label, full)),
                                singles.get((names[1], key.label, full)), ctx.confidence)
            else:
                ctx.seed = (*seed0, j, k)
                est = how(sub, ctx)
            rows.append((full, hib, est))
        if changed is not None:
            est = churn_estimate(changed(sub, ctx), sub.w, ctx) if not small \
                else PairedEstimate.undefined("too small")
            rows.append((CHURN, False, est))
        for full, hib, est in rows:
            status = TOO_SMALL if small else est.status
            records.append(base | {
                "metric": full, "baseline_value": est.baseline, "candidate_value": est.candidate,
                "delta": est.delta, "ci_low": est.low, "ci_high": est.high,
                "p_value": est.p_value, "p_adjusted": math.nan, "method": est.method,
                "status": status, "note": est.note, "higher_is_better": hib, "se": est.se,
                "discordance": est.discordance,
                "mdd": _mdd(est, ctx.confidence, power) if full != CHURN else math.nan})
    ctx.seed = seed0
    table = pd.DataFrame.from_records(records, columns=COMPARE_COLUMNS)
    family = (table.metric != CHURN).to_numpy()
    adjuster = holm if adjust == "holm" else benjamini_hochberg
    p = table.p_value.to_numpy(dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    adjusted[family] = adjuster(p[family])
    table["p_adjusted"] = adjusted
    return table
