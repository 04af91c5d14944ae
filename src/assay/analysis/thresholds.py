"""Operating points of a binary model: metrics across thresholds, the chosen threshold, the
cost-optimal one and constrained ones, each with the uncertainty of choosing it.

A row is predicted positive iff ``score >= threshold``, as in assay's engine. Methods:

* **Curve.** Precision, recall, FPR, F1, selection rate (and expected cost) at ``points``
  evenly spaced thresholds in [0, 1], from cumulative sums over a label x score-cell
  histogram; a pointwise percentile band for precision and recall comes from the same
  bootstrap replicates (threshold fixed at each curve point).
* **Candidates.** Every distinct score, plus one threshold just above the largest score
  (nothing predicted positive), when there are at most 4096 distinct scores: the optimum is
  then exact. Otherwise 4096 score quantiles (each a score value, so the metrics at them are
  exact); the note states the resolution (the largest share of rows between neighbours).
* **Chosen point** (``threshold`` of the spec, fixed in advance): Wilson (1927) score
  intervals for the proportions, on Kish's (1965) effective size of each metric's
  denominator when weighted; F1 = 2J / (1 + J) through the Wilson interval of the Jaccard
  index J; expected cost through a t interval on the mean per-row cost.
* **Cost-optimal point** (Elkan 2001): the candidate minimising the expected cost per row
  (fp FP + fn FN + tp TP + tn TN) / n (weights: per unit weight); ties go to the higher
  threshold (fewer positive predictions).
* **Constrained points**: among candidates whose ``metric`` is defined and meets
  ``>= min`` (or ``<= max``), the one with the best ``optimize`` value (lowest for fpr and
  fnr, highest otherwise), ties to the higher threshold. None feasible: status
  ``undefined``, the note gives the best achievable value of the constrained metric.
* **Uncertainty of a chosen threshold**, ``selection: bootstrap``: each replicate re-chooses
  the threshold on its own (label x cell) counts, Poisson(count) per cell when unweighted
  (exactly the Poisson row bootstrap; Hanley & MacGibbon 2006, Chamandy et al. 2012), keyed
  Poisson(1) row multipliers when weighted. The target is the population value of a metric
  at the threshold chosen on this sample, so the interval comes from the selection optimism
  (Efron & Tibshirani 1993, ch. 17; basic bootstrap interval, Davison & Hinkley 1997, 5.2):
  with ``t*`` the replicate's threshold and ``d* = M_replicate(t*) - M_data(t*)``, it is
  ``[M - q(1 - a/2) of d*, M - q(a/2) of d*]``, which holds the sampling noise at a fixed
  threshold and the optimism of choosing it on the same rows. (The percentile interval of
  ``M_replicate(t*)`` does not: a constrained metric sits at its bound in every replicate;
  in simulations it covered 34-55%.) The reported interval is the hull of that interval and
  the fixed-threshold interval at the chosen threshold (Wilson, Kish, t as for the chosen
  point): the bootstrap of a first crossing undercovers where few rows decide it (e.g.
  ``precision >= 0.9`` reached with ~30 predicted positives: 83%), and the hull kept
  coverage at 93-98% in every simulated setting (Beta scores, 400-2000 rows, constraints on
  recall, precision and fpr, cost-optimal), 0-27% wider than the fixed-threshold interval.
  ``threshold_low/high`` is the percentile interval of the re-chosen ``t*``.
  ``selection: holdout``: rows split in two by a seeded hash of the row key (Cox 1975); the
  threshold is chosen on half A and the metrics measured on half B with the fixed-threshold
  intervals (independent of the choice); ``threshold_low/high`` from the re-choosing
  bootstrap on A.

``n`` is the number of rows in the metric's denominator (predicted positives for precision,
positives for recall, ..., all rows for selection rate, accuracy and cost; half B's rows
under ``holdout``). With ``replicates == 0`` every bound is NaN and the method says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError, sample_values
from assay.analysis._rows import AnalysisOutput, AnalysisRows
from assay.analysis._thresholds_grid import (
    METRICS,
    WEIGHTED_TIE,
    CellCounts,
    Grid,
    LazyMetrics,
    best_achievable,
    build_grid,
    choose_constraint,
    choose_cost,
    confusion,
    metrics_from_confusion,
)
from assay.analysis._thresholds_stats import (
    NO_INTERVALS,
    OK,
    UNDEFINED,
    Est,
    Outcomes,
    fixed_estimates,
    holdout_half,
    replicate_blocks,
)
from assay.spec import ThresholdConstraint, ThresholdCosts, ThresholdSpec
from assay.stats import percentile_interval

__all__ = ["COLUMNS", "analyse_thresholds"]

COLUMNS = ["model", "point", "threshold", "threshold_low", "threshold_high", "metric", "value",
           "ci_low", "ci_high", "n", "method", "status", "note"]
#: salt of this module's random streams: (seed..., salt, stream)
_SALT = 0x7448
_FULL, _HALF_A, _SPLIT = 0, 1, 2
_BAND = ("precision", "recall")
#: replicates behind the curve's pointwise band (bounds its memory: replicates x points)
_BAND_REPLICATES = 2000


@dataclass(frozen=True)
class _Rule:
    """How one operating point is chosen: cost-optimal (no constraint) or constrained."""

    point: str
    constraint: ThresholdConstraint | None

    def choose(self, m: dict[str, np.ndarray], candidate: np.ndarray, tol: float) -> np.ndarray:
        if self.constraint is None:
            return choose_cost(m, candidate, tol)
        return choose_constraint(m, self.constraint, candidate, tol)

    def why_none(self, m: dict[str, np.ndarray], grid: Grid) -> str:
        if self.constraint is None:
            return "expected cost is undefined at every candidate threshold"
        return best_achievable(m, self.constraint, grid)


@dataclass
class _Boot:
    """Re-chosen thresholds and per-metric optimism d* of one rule over the replicates."""

    thresholds: np.ndarray
    delta: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Settings:
    """What every operating point needs to know about the run."""

    model: str
    names: list[str]
    costs: ThresholdCosts | None
    confidence: float
    replicates: int
    seed: tuple[int, ...]
    weighted: bool

    @property
    def intervals(self) -> bool:
        return self.replicates > 0

    @property
    def tol(self) -> float:
        return WEIGHTED_TIE if self.weighted else 0.0


@dataclass(frozen=True)
class _Rows:
    """Rows a threshold is chosen on, their grid of cut points and the metrics at each."""

    y: np.ndarray
    s: np.ndarray
    w: np.ndarray | None
    key: np.ndarray
    grid: Grid
    m: dict[str, np.ndarray]

    @staticmethod
    def of(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, key: np.ndarray,
           costs: ThresholdCosts | None, extra: np.ndarray | None = None) -> _Rows:
        grid = build_grid(s, extra)
        counts = CellCounts.of(y, grid.cells, grid.size + 1, w)
        return _Rows(y, s, w, key, grid, metrics_from_confusion(confusion(counts.pos, counts.neg), costs))


def analyse_thresholds(rows: AnalysisRows, spec: ThresholdSpec) -> AnalysisOutput:
    """Metrics at the chosen, cost-optimal and constrained thresholds of a binary model, with
    intervals that include the choice of the threshold, and the metrics-across-thresholds
    curve for the report (table ``thresholds``; charts ``curve`` and ``points``)."""
    y, s, w = _validated(rows)
    rules = ([_Rule("cost_optimal", None)] if spec.costs is not None else []) + [
        _Rule(c.label, c) for c in spec.constraints]
    _check_labels(rules)
    cfg = _Settings(rows.model, [*METRICS, *(["cost"] if spec.costs is not None else [])], spec.costs,
                    rows.confidence, max(rows.replicates, 0), tuple(rows.seed), w is not None)
    chosen = fixed_estimates(Outcomes.at(y, s, w, rows.threshold), cfg.costs, cfg.confidence,
                             cfg.weighted, cfg.intervals)
    records = _point_records(cfg, "chosen", rows.threshold, math.nan, math.nan, chosen)
    points = [_chart_point("chosen", rows.threshold, math.nan, math.nan)]
    curve_t = np.linspace(0.0, 1.0, spec.points)
    if y.size == 0 or (w is not None and not float(w.sum()) > 0):
        why = "no rows" if y.size == 0 else "total weight is 0"
        for rule in rules:
            records += _undefined_point(cfg, rule.point, why)
            points.append(_chart_point(rule.point, math.nan, math.nan, math.nan))
        curve = _curve(curve_t, None, {}, {}, cfg)
    else:
        data = _Rows.of(y, s, w, np.asarray(rows.key, dtype=np.uint64), cfg.costs, curve_t)
        at = data.grid.index_of(curve_t)
        by_holdout = spec.selection == "holdout"
        boot, band = _bootstrap(cfg, data, [] if by_holdout else rules, at, _FULL)
        selected = (_holdout_points(cfg, data, rules) if by_holdout
                    else [_bootstrap_point(cfg, data, r, boot.get(r.point)) for r in rules])
        for rec, pt in selected:
            records += rec
            points.append(pt)
        curve = _curve(curve_t, at, data.m, band, cfg)
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    table["n"] = table["n"].astype("int64")
    return AnalysisOutput(tables={"thresholds": table},
                          charts={"curve": {rows.model: curve}, "points": {rows.model: points}})


# ---- input ------------------------------------------------------------------------------


def _validated(rows: AnalysisRows) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Labels, scores and weights as checked arrays; bad input raises :class:`InputError`."""
    if rows.task != "binary":
        raise InputError(f"the threshold analysis needs a binary task, but model {rows.model!r} has "
                         f"task {rows.task!r}; remove the 'thresholds' section or use task: binary")
    y = np.asarray(rows.y)
    s = np.asarray(rows.scores, dtype=np.float64)
    if s.ndim != 1 or s.shape != y.shape:
        raise InputError(f"model {rows.model!r}: the threshold analysis needs one score per row "
                         f"(P(positive)), got scores of shape {s.shape} for {y.size} labels")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise InputError(f"model {rows.model!r}: binary labels must be coded 0/1; rows "
                         f"{sample_values(rows.row_number[bad])} hold {sample_values(y[bad])}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise InputError(f"model {rows.model!r}: {int(bad.sum())} scores are not finite (rows "
                         f"{sample_values(rows.row_number[bad])}); fix or drop those predictions")
    if not math.isfinite(rows.threshold):
        raise InputError(f"threshold must be a finite number, got {rows.threshold!r}")
    if np.shape(rows.key) != y.shape:
        raise InputError(f"model {rows.model!r}: {np.size(rows.key)} row keys for {y.size} rows")
    w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    if w is not None:
        if w.shape != y.shape:
            raise InputError(f"model {rows.model!r}: {w.size} weights for {y.size} rows; give one "
                             "weight per row")
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            raise InputError(f"model {rows.model!r}: weights must be finite and non-negative; rows "
                             f"{sample_values(rows.row_number[bad])} hold {sample_values(w[bad])}; "
                             "fix the weight column")
    return y.astype(np.int8), s, w


def _check_labels(rules: list[_Rule]) -> None:
    seen = {"chosen"}
    for rule in rules:
        if rule.point in seen:
            raise InputError(f"thresholds: two operating points are both named {rule.point!r}; give "
                             "each constraint a distinct 'name'")
        seen.add(rule.point)


# ---- bootstrap: the threshold re-chosen in every replicate -------------------------------


def _bootstrap(cfg: _Settings, data: _Rows, rules: list[_Rule], band_at: np.ndarray | None,
               stream: int) -> tuple[dict[str, _Boot], dict[str, np.ndarray]]:
    """Per rule, the re-chosen thresholds t* and the optimism d* = M_replicate(t*) - M_data(t*)
    of every metric; and the replicate precision and recall at the ``band_at`` cut points."""
    reps = cfg.replicates
    if reps <= 0:
        return {}, {}
    boots = {r.point: _Boot(np.full(reps, np.nan), {k: np.full(reps, np.nan) for k in cfg.names})
             for r in rules}
    width = 0 if band_at is None else band_at.size
    band = {k: np.full((min(reps, _BAND_REPLICATES), width), np.nan) for k in _BAND}
    grid, r0 = data.grid, 0
    for pos, neg in replicate_blocks(data.y, grid.cells, grid.size + 1, data.w, data.key, reps,
                                     [*cfg.seed, _SALT, stream]):
        c = confusion(pos, neg)
        part = slice(r0, r0 + pos.shape[0])
        r0 += pos.shape[0]
        if width and part.start < _BAND_REPLICATES:
            at = LazyMetrics({k: v[:_BAND_REPLICATES - part.start, band_at] for k, v in c.items()}, None)
            for k in _BAND:
                band[k][part.start:part.start + at[k].shape[0]] = at[k]
        lazy = LazyMetrics(c, cfg.costs)
        for rule in rules:
            idx = rule.choose(lazy, grid.candidate, cfg.tol)
            ok = idx >= 0
            j = np.where(ok, idx, 0)
            own = metrics_from_confusion(
                {k: np.take_along_axis(v, j[:, None], axis=1)[:, 0] for k, v in c.items()}, cfg.costs)
            b = boots[rule.point]
            b.thresholds[part] = np.where(ok, grid.thresholds[j], np.nan)
            for k in cfg.names:
                b.delta[k][part] = np.where(ok, own[k] - data.m[k][j], np.nan)
    return boots, band


def _bootstrap_point(cfg: _Settings, data: _Rows, rule: _Rule, boot: _Boot | None
                     ) -> tuple[list[dict[str, Any]], dict]:
    """Table rows and chart point of one operating point chosen on all rows: the value at the
    chosen threshold, the optimism interval of the re-chosen bootstrap widened to contain the
    fixed-threshold interval there, and the percentile interval of the re-chosen thresholds."""
    idx = int(rule.choose(data.m, data.grid.candidate, cfg.tol))
    if idx < 0:
        return (_undefined_point(cfg, rule.point, rule.why_none(data.m, data.grid)),
                _chart_point(rule.point, math.nan, math.nan, math.nan))
    t = float(data.grid.thresholds[idx])
    fixed = fixed_estimates(Outcomes.at(data.y, data.s, data.w, t), cfg.costs, cfg.confidence,
                            cfg.weighted, cfg.intervals)
    t_lo = t_hi = math.nan
    note = data.grid.note
    if boot is not None:
        ci = percentile_interval(boot.thresholds, cfg.confidence)
        t_lo, t_hi = ci.low, ci.high
        missing = int(np.isnan(boot.thresholds).sum())
        if missing:
            note += f"; no threshold qualified in {missing} of {cfg.replicates} replicates"
    ests = {}
    for k in cfg.names:
        value, est = float(data.m[k][idx]), fixed[k]
        if not math.isfinite(value):
            method = est.method if boot is None else _rechosen_method(cfg, est)
            ests[k] = replace(est, value=math.nan, low=math.nan, high=math.nan, method=method,
                              status=UNDEFINED, note=f"{est.note or _why_undefined(k)}; {note}")
        elif boot is None:
            ests[k] = replace(est, value=value, note=note)
        else:
            ests[k] = _rechosen_estimate(cfg, k, value, est, boot.delta[k], note)
    return (_point_records(cfg, rule.point, t, t_lo, t_hi, ests),
            _chart_point(rule.point, t, t_lo, t_hi))


def _rechosen_estimate(cfg: _Settings, metric: str, value: float, fixed: Est, delta: np.ndarray,
                       note: str) -> Est:
    """Basic bootstrap interval of the selection optimism, value - quantiles of d*, widened to
    contain the interval at the chosen threshold as if it had been fixed in advance."""
    method = _rechosen_method(cfg, fixed)
    ci = percentile_interval(delta, cfg.confidence)
    if not math.isfinite(ci.low):
        return Est(value, math.nan, math.nan, fixed.n, method, OK,
                   f"{note}; {metric} undefined in more than half of the replicates: no interval")
    lower, upper = _range(metric, cfg.costs)
    low = float(np.fmin(max(lower, value - ci.high), fixed.low))
    high = float(np.fmax(min(upper, value - ci.low), fixed.high))
    return Est(value, low, high, fixed.n, method, OK, note)


def _rechosen_method(cfg: _Settings, fixed: Est) -> str:
    return (f"bootstrap, threshold re-chosen in each of {cfg.replicates} replicates "
            f"(optimism-corrected, hull with {fixed.method})")


def _range(metric: str, costs: ThresholdCosts | None) -> tuple[float, float]:
    """Where a metric can lie: [0, 1], or between the smallest and largest per-row cost."""
    if metric != "cost" or costs is None:
        return 0.0, 1.0
    c = (costs.fp, costs.fn, costs.tp, costs.tn)
    return min(c), max(c)


def _why_undefined(metric: str) -> str:
    return {"precision": "no predicted positives", "recall": "no positive labels",
            "fnr": "no positive labels", "specificity": "no negative labels",
            "fpr": "no negative labels", "f1": "no positive labels and no predicted positives",
            }.get(metric, "no rows with positive weight")


# ---- holdout ----------------------------------------------------------------------------


def _holdout_points(cfg: _Settings, data: _Rows, rules: list[_Rule]
                    ) -> list[tuple[list[dict[str, Any]], dict]]:
    """Operating points chosen on a seeded half A and measured on half B (Wilson intervals
    there, independent of the choice); the threshold intervals from the bootstrap on half A."""
    a = holdout_half(data.key, [*cfg.seed, _SALT, _SPLIT])
    b = ~a
    sizes = (f"threshold chosen on a seeded half A ({int(a.sum())} rows), measured on half B "
             f"({int(b.sum())} rows)")
    wa = None if data.w is None else data.w[a]
    if not a.any() or (wa is not None and not float(wa.sum()) > 0):
        why = f"{sizes}: half A has no rows with positive weight"
        return [(_undefined_point(cfg, r.point, why), _chart_point(r.point, math.nan, math.nan, math.nan))
                for r in rules]
    half = _Rows.of(data.y[a], data.s[a], wa, data.key[a], cfg.costs)
    boots, _ = _bootstrap(cfg, half, rules, None, _HALF_A)
    wb = None if data.w is None else data.w[b]
    out = []
    for rule in rules:
        idx = int(rule.choose(half.m, half.grid.candidate, cfg.tol))
        if idx < 0:
            why = f"{sizes}; on half A, {rule.why_none(half.m, half.grid)}"
            out.append((_undefined_point(cfg, rule.point, why),
                        _chart_point(rule.point, math.nan, math.nan, math.nan)))
            continue
        t = float(half.grid.thresholds[idx])
        t_lo = t_hi = math.nan
        if rule.point in boots:
            ci = percentile_interval(boots[rule.point].thresholds, cfg.confidence)
            t_lo, t_hi = ci.low, ci.high
        ests = fixed_estimates(Outcomes.at(data.y[b], data.s[b], wb, t), cfg.costs, cfg.confidence,
                               cfg.weighted, cfg.intervals)
        ests = {k: replace(e, method=e.method if not cfg.intervals else
                           f"{e.method} on half B, threshold chosen on half A",
                           note="; ".join(x for x in (e.note, sizes, half.grid.note) if x))
                for k, e in ests.items()}
        out.append((_point_records(cfg, rule.point, t, t_lo, t_hi, ests),
                    _chart_point(rule.point, t, t_lo, t_hi)))
    return out


# ---- output -----------------------------------------------------------------------------


def _point_records(cfg: _Settings, point: str, t: float, t_lo: float, t_hi: float,
                   ests: dict[str, Est]) -> list[dict[str, Any]]:
    return [{"model": cfg.model, "point": point, "threshold": t, "threshold_low": t_lo,
             "threshold_high": t_hi, "metric": k, "value": ests[k].value, "ci_low": ests[k].low,
             "ci_high": ests[k].high, "n": ests[k].n, "method": ests[k].method,
             "status": ests[k].status, "note": ests[k].note} for k in cfg.names]


def _undefined_point(cfg: _Settings, point: str, why: str) -> list[dict[str, Any]]:
    est = Est(math.nan, method="" if cfg.intervals else NO_INTERVALS, status=UNDEFINED, note=why)
    return _point_records(cfg, point, math.nan, math.nan, math.nan, dict.fromkeys(cfg.names, est))


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _chart_point(point: str, t: float, lo: float, hi: float) -> dict[str, Any]:
    return {"point": point, "threshold": _num(t), "threshold_low": _num(lo), "threshold_high": _num(hi)}


def _rounded(a: np.ndarray, digits: int = 6) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in a]


def _curve(curve_t: np.ndarray, at: np.ndarray | None, m: dict[str, np.ndarray],
           band: dict[str, np.ndarray], cfg: _Settings) -> dict[str, Any]:
    """The chart's curve: metrics at the curve thresholds (all None without usable rows),
    with pointwise percentile bands when there are replicates."""
    keys = ["precision", "recall", "fpr", "f1", "selection_rate", *(["cost"] if cfg.costs else [])]
    out: dict[str, Any] = {"threshold": _rounded(curve_t)}
    out |= {k: _rounded(m[k][at]) if at is not None else [None] * curve_t.size for k in keys}
    for k, reps in band.items():
        low, high = _pointwise_percentiles(reps, cfg.confidence)
        out[f"{k}_low"], out[f"{k}_high"] = _rounded(low), _rounded(high)
    return out


def _pointwise_percentiles(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of every column of (replicates, points), as
    :func:`percentile_interval` computes it (linear interpolation between order statistics,
    NaN replicates dropped, NaN where fewer than half the replicates are defined)."""
    alpha = 1.0 - confidence
    srt = np.sort(reps, axis=0)  # NaN sorts last
    k = np.isfinite(reps).sum(axis=0)
    enough = k >= max(2, reps.shape[0] // 2)
    cols = np.arange(reps.shape[1])
    out = []
    for q in (alpha / 2.0, 1.0 - alpha / 2.0):
        pos = q * (np.maximum(k, 1) - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
        frac = pos - lo
        v = srt[lo, cols] + frac * (srt[hi, cols] - srt[lo, cols])
        out.append(np.where(enough, v, np.nan))
    return out[0], out[1]
