"""What a metric is: a declared function from a slice's sufficient statistics to an estimate.

A metric never sees rows. It receives a :class:`SliceStats` (the states of one slice, or of
its complement) and returns an :class:`Estimate`: the value, its interval, the method that
produced the interval, and what is needed to compare the slice with the rest of the rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from assay.stats import Interval, mover_difference, percentile_interval, wilson_interval, z_value

OK = "ok"
UNDEFINED = "undefined"
TOO_SMALL = "too_small"
#: the method of a value computed with ``intervals: false`` (no interval drawn)
NO_INTERVALS = "none (intervals: false)"


@dataclass
class Context:
    """Settings shared by every metric of one evaluation."""

    confidence: float
    seed: int
    replicates: int
    threshold: float
    score_bins: int
    calibration_bins: int
    weighted: bool
    classes: list[Any]
    top_k: int = 2
    coarse_cells: int = 64
    metrics: tuple[str, ...] = ()
    label_shift: float = 0.0


@dataclass
class SliceStats:
    """The sufficient statistics of one slice (or complement) for one model."""

    states: dict[str, dict[str, np.ndarray]]
    ctx: Context
    n: int
    #: (model, slice, side): which group these statistics describe
    key: tuple[int, ...]
    #: the same states under the bootstrap, state -> value -> (replicates, cells)
    replicate_states: dict[str, dict[str, np.ndarray]] | None = None
    #: row-level results beyond the states (exact medians, influence SEs, score-bin purity)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """A metric value with its interval; ``kind`` says how a slice-vs-rest gap is formed."""

    value: float
    low: float = math.nan
    high: float = math.nan
    method: str = ""
    status: str = OK
    note: str = ""
    kind: str = "none"  # proportion | normal | bootstrap | none
    n_eff: float = math.nan
    se: float = math.nan
    replicates: np.ndarray | None = None

    @staticmethod
    def undefined(reason: str, method: str = "") -> Estimate:
        return Estimate(math.nan, method=method, status=UNDEFINED, note=reason)


def proportion(p: float, n_eff: float, ctx: Context, method: str = "wilson") -> Estimate:
    """A proportion with its Wilson interval on the (effective) size ``n_eff``."""
    ci = wilson_ci(p, n_eff, ctx)
    label = method if not ctx.weighted else f"{method} (Kish effective n)"
    return Estimate(p, ci.low, ci.high, label, kind="proportion", n_eff=n_eff, se=ci.se)


def wilson_ci(p: float, n: float, ctx: Context) -> Interval:
    return wilson_interval(p, n, ctx.confidence)


def _clip(x: float, lower: float, upper: float) -> float:
    """Clip a bound to the metric's range; a missing (NaN) bound stays missing."""
    return x if math.isnan(x) else min(max(x, lower), upper)


def normal(value: float, se: float, method: str, ctx: Context, lower: float = -math.inf,
           upper: float = math.inf, interval: Interval | None = None) -> Estimate:
    """An estimate whose interval comes from a standard error (t, DeLong, delta method),
    or from ``interval`` when given; either is clipped to [lower, upper]."""
    if interval is None:
        z = z_value(ctx.confidence)
        interval = Interval(value - z * se, value + z * se, se)
    low, high = _clip(interval.low, lower, upper), _clip(interval.high, lower, upper)
    return Estimate(value, low, high, method, kind="normal", se=se)


def guard_total(mdef: MetricDef, total: Callable[[SliceStats], float]) -> MetricDef:
    """The metric, undefined (not a crash, not a NaN marked ok) when the slice carries no
    weight: every row of a weighted slice (or of its complement) may have weight 0."""
    compute = mdef.compute

    def guarded(st: SliceStats) -> Estimate:
        if not total(st) > 0:
            return Estimate.undefined("total weight of this slice is 0" if st.ctx.weighted
                                      else "no rows")
        return compute(st)

    return replace(mdef, compute=guarded)


def bootstrap(value: float, reps: np.ndarray, method: str, ctx: Context, lower: float = -math.inf,
              upper: float = math.inf, centre: float | None = None, basic: bool = False) -> Estimate:
    """Percentile interval from replicates; ``centre`` shifts replicates of a coarsened
    statistic onto the exact value (the spread comes from the coarse cells). ``basic``
    gives the basic bootstrap interval (2 value - upper quantile, 2 value - lower quantile),
    which corrects the direction of a bias that the percentile interval would repeat."""
    r = np.asarray(reps, dtype=np.float64)
    if centre is not None and math.isfinite(centre):
        r = r - centre + value
    ok = r[np.isfinite(r)]
    if ok.size and ok.max() == ok.min():
        # every replicate is the same (e.g. an empty cell stays empty in every resample): a
        # zero-width interval would claim certainty the data do not have
        return Estimate(value, math.nan, math.nan, method, note="degenerate bootstrap (every "
                        "replicate equal): no interval", kind="bootstrap", replicates=r)
    ci = percentile_interval(r, ctx.confidence)
    low, high = (2 * value - ci.high, 2 * value - ci.low) if basic else (ci.low, ci.high)
    return Estimate(value, _clip(low, lower, upper), _clip(high, lower, upper), method,
                    kind="bootstrap", se=ci.se, replicates=r)


def gap(a: Estimate, b: Estimate, ctx: Context) -> tuple[float, float, float]:
    """Slice minus complement, with an interval for two independent groups.

    Bootstrap estimates: percentile interval of the replicate differences (the two sides'
    replicates are independent). Otherwise MOVER (Zou & Donner 2008): the difference's
    limits are recovered from each side's own interval limits,
    L = d - sqrt((a - l_a)^2 + (u_b - b)^2), U = d + sqrt((u_a - a)^2 + (b - l_b)^2).
    For two Wilson intervals this is Newcombe's hybrid score interval; for asymmetric
    intervals (logit AUC, Jaccard F1) it keeps their shape, and at a boundary (a rate of 0,
    an AUC of 1) it keeps their width, where a Wald standard error is 0.
    """
    if a.status != OK or b.status != OK:
        return math.nan, math.nan, math.nan
    d = a.value - b.value
    if a.kind == "bootstrap" and b.kind == "bootstrap" and a.replicates is not None \
            and b.replicates is not None and a.replicates.size and b.replicates.size:
        ci = percentile_interval(a.replicates - b.replicates, ctx.confidence)
        return d, ci.low, ci.high
    if all(math.isfinite(x) for x in (a.low, a.high, b.low, b.high)):
        ci = mover_difference(a.value, a.low, a.high, b.value, b.low, b.high)
        return d, ci.low, ci.high
    if math.isfinite(a.se) and math.isfinite(b.se):
        z = z_value(ctx.confidence)
        s = math.sqrt(a.se**2 + b.se**2)
        return d, d - z * s, d + z * s
    return d, math.nan, math.nan


@dataclass(frozen=True)
class MetricDef:
    """A registered metric and its declared properties (checked by the common test suite)."""

    name: str
    task: str
    compute: Callable[[SliceStats], Estimate]
    higher_is_better: bool
    lower: float
    upper: float
    method: str
    description: str
    count_based: bool = False
    ranking: bool = False
