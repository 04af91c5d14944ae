"""Calibration analysis: binned calibration errors, the Brier decomposition, reliability
data per model and slice, and what-if recalibration fitted with cross-fitting.

Metrics (``rows.w`` weights every bin share, bin mean and loss; ``B`` = ``bins``):

* binary (scores = P(positive)):

  - ``ece``: expected calibration error over ``B`` equal-width bins of [0, 1]
    (bin = min(floor(s B), B - 1), as assay's ``ece`` metric), sum_b W_b/W |o_b - f_b|
    with o_b the observed positive share and f_b the mean score of bin b (Naeini et al.
    2015; Guo et al. 2017);
  - ``ece_equal_mass``: the same over ``B`` equal-mass bins, edges at the linear-
    interpolation quantiles of the scores (scikit-learn's ``calibration_curve(strategy=
    "quantile")``; a score on an inner edge goes to the lower bin; weighted: the quantiles
    of the rows repeated w / min(w) times);
  - ``mce``, ``mce_equal_mass``: maximum calibration error, max_b |o_b - f_b| over the
    bins holding weight (Naeini et al. 2015);
  - ``ece_adaptive``: ECE-sweep (Roelofs et al. 2022, "Mitigating bias in calibration
    error estimation", with the l1 norm): equal-mass bins are added one at a time from 1
    while the observed shares of the nonempty bins stay non-decreasing; the ECE over the
    last count before the first violation (at most 1000 bins and the number of distinct
    scores). Its interval is conditional on that bin count and its edges;
  - ``brier_score`` mean (s - y)^2 and ``brier_reliability``, ``brier_resolution``,
    ``brier_uncertainty``: Murphy's (1973) decomposition over the equal-width bins,
    REL = sum_b W_b/W (f_b - o_b)^2, RES = sum_b W_b/W (o_b - o)^2, UNC = o (1 - o). The
    identity brier = REL - RES + UNC holds only when scores are constant within bins; the
    note states the within-bin residual (Stephenson et al. 2008's within-bin variance and
    covariance terms);
  - ``log_loss``: mean -log p(y), probabilities clipped to [eps, 1 - eps] as
    scikit-learn's log_loss (the same value as assay's ``log_loss`` metric).

* multiclass (scores = (n, k) class probabilities): ``ece_top_label`` and
  ``mce_top_label`` over equal-width bins of the confidence max_k p_k against the share
  with argmax = y (Guo et al. 2017); ``ece_classwise``, the mean over classes of the
  one-vs-rest equal-width ECE of p_k against 1[y = k] (Kull et al. 2019); ``brier_score``
  mean sum_k (p_k - 1[y = k])^2 (Brier 1950); ``log_loss`` mean -log p_y (clipped).

Intervals (at ``rows.confidence``; none when ``rows.replicates == 0``):

* binned metrics (ECE, MCE, the decomposition): **basic** Poisson-bootstrap interval
  (2 value - upper quantile, 2 value - lower quantile). Unweighted, Poisson(count) draws per
  (bin, label) cell with each cell's mean score held (exactly how assay's ``ece`` metric
  resamples; the cells here cross all binnings of the set, so one replicate serves every
  binned metric); weighted, or when the cells hardly pool rows (multiclass: every class's
  bins crossed), keyed Poisson(1) row multipliers (the same Poisson row bootstrap). Plug-in
  ECE (and REL, RES) are biased upwards, noise adds to every bin, so replicates sit above
  the estimate and the basic interval reflects that bias back. Equal-mass and sweep bin
  edges are fixed from the full sample;
* ``brier_score`` and ``log_loss``: Student t on the per-row losses (unweighted), the
  percentile interval of the keyed row bootstrap of the weighted mean (weighted), as
  assay's registered metrics.

Remedies (``spec.remediation``, overall rows only; the original scores are never changed):
Platt, isotonic and temperature scaling, ``spec.folds``-fold cross-fitted (see
:mod:`assay.analysis._calibration_remedies`); the recalibrated scores get ``log_loss``,
``brier_score``, ``ece``, ``ece_equal_mass``, ``mce`` (binary) or ``log_loss``,
``brier_score``, ``ece_top_label``, ``ece_classwise`` (multiclass) with the same interval
methods, which hold the fitted maps fixed (the fitting's own variability is not included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError, sample_values
from assay.analysis import _calibration_bins as cb
from assay.analysis import _calibration_remedies as cr
from assay.analysis._calibration_boot import Grouping, Layout, Sums, replicates, totals
from assay.analysis._rows import AnalysisOutput, AnalysisRows
from assay.metrics._base import NO_INTERVALS, OK, TOO_SMALL, UNDEFINED, Estimate
from assay.spec import CalibrationSpec
from assay.stats import percentile_interval, t_interval

#: Fixed salt of this module's random streams (bootstrap and folds).
SALT = 0xCA11B
_FOLD_SALT = 0xF01D
COLUMNS = ["model", "slice", "metric", "variant", "value", "ci_low", "ci_high", "n", "method",
           "status", "note"]
BINARY_METRICS = ["ece", "ece_equal_mass", "ece_adaptive", "mce", "mce_equal_mass", "brier_score",
                  "brier_reliability", "brier_resolution", "brier_uncertainty", "log_loss"]
MULTICLASS_METRICS = ["ece_top_label", "mce_top_label", "ece_classwise", "brier_score", "log_loss"]
BINARY_REMEDY_METRICS = ["log_loss", "brier_score", "ece", "ece_equal_mass", "mce"]
MULTICLASS_REMEDY_METRICS = ["log_loss", "brier_score", "ece_top_label", "ece_classwise"]


@dataclass
class _View:
    """One analysed set of rows and scores (a slice, or a recalibrated copy of all rows),
    with its binnings (``info``)."""

    slice: str
    variant: str
    pos: np.ndarray
    y: np.ndarray
    s: np.ndarray
    w: np.ndarray | None
    bins: int
    note: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(self.pos.size if self.w is None else self.w.sum())


def analyse_calibration(rows: AnalysisRows, spec: CalibrationSpec, bins: int) -> AnalysisOutput:
    """Calibration table (``calibration``: one row per model, slice, metric and variant)
    and reliability chart data for one model's rows; see the module docstring."""
    _validate(rows, bins)
    views, small, order = _original_views(rows, spec, bins)
    remedies = _remedy_views(rows, spec, bins) if spec.remediation and rows.n else []
    defined = views + [v for _, v in remedies if isinstance(v, _View)]
    records, charts = _measure(rows, defined)
    records += _too_small_records(rows, small)
    for name, v in remedies:
        if isinstance(v, str):
            records += [_record_undefined(rows, "overall", m, name, v, rows.n)
                        for m in _metric_list(rows.task, name)]
    table = pd.DataFrame(_ordered(records, order), columns=COLUMNS)
    table["n"] = table["n"].astype(np.int64)
    return AnalysisOutput(tables={"calibration": table}, charts=charts)


def _measure(rows: AnalysisRows, views: list[_View]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Table records and chart data of every view; one bootstrap pass serves them all."""
    layouts = [_prepare(v, rows) for v in views]
    reps, how = replicates(layouts, rows.w, rows.key, rows.replicates, (*rows.seed, SALT))
    records: list[dict[str, Any]] = []
    charts: dict[str, Any] = {"reliability": {rows.model: {}}, "remedies": {rows.model: {}}}
    for j, (v, layout) in enumerate(zip(views, layouts, strict=True)):
        ests = _estimates(v, totals(layout, v.w), None if reps is None else reps[j], rows, how)
        records += [_record(rows, v, m, ests[m]) for m in _metric_list(rows.task, v.variant)]
        if v.variant == "original":
            charts["reliability"][rows.model][v.slice] = _chart(v, rows, equal_mass=True)
        else:
            charts["remedies"][rows.model][v.variant] = _chart(v, rows, equal_mass=False)
    return records, charts


# ---- input -------------------------------------------------------------------------------


def _validate(rows: AnalysisRows, bins: int) -> None:
    """Check the input contract; errors name the model, what is wrong and the fix."""
    who = f"calibration of model {rows.model!r}"
    if rows.task not in ("binary", "multiclass"):
        raise InputError(f"{who}: calibration needs a binary or multiclass task, got "
                         f"{rows.task!r}; remove the 'calibration' section for this task")
    if not isinstance(bins, int | np.integer) or bins < 2:
        raise InputError(f"{who}: bins must be an integer >= 2, got {bins!r}; set calibration.bins")
    s = np.asarray(rows.scores)
    want = (rows.n,) if rows.task == "binary" else (rows.n, len(rows.classes))
    if s.shape != want:
        raise InputError(f"{who}: scores have shape {s.shape}, expected {want} (binary: P(positive) "
                         "per row; multiclass: one column per class in class order)")
    bad = ~np.isfinite(s) | (s < 0) | (s > 1)
    if bad.any():
        rows_bad = np.nonzero(bad if bad.ndim == 1 else bad.any(axis=1))[0]
        raise InputError(f"{who}: {rows_bad.size} row(s) with scores outside [0, 1] or not finite "
                         f"(dataset rows {sample_values(rows.row_number[rows_bad].tolist())}); pass "
                         "probabilities")
    y = np.asarray(rows.y)
    top = 2 if rows.task == "binary" else len(rows.classes)
    if y.shape != (rows.n,) or (y.size and (y.min() < 0 or y.max() >= top)):
        raise InputError(f"{who}: labels must be {rows.n} codes in 0..{top - 1}; got values "
                         f"{sample_values(np.unique(y).tolist())}")
    if rows.w is not None:
        w = np.asarray(rows.w)
        if w.shape != (rows.n,) or not np.all(np.isfinite(w)) or (w < 0).any():
            raise InputError(f"{who}: weights must be {rows.n} finite values >= 0")
    for dim, labels in rows.slices.items():
        if np.shape(labels) != (rows.n,):
            raise InputError(f"{who}: slice labels of {dim!r} have shape {np.shape(labels)}, "
                             f"expected ({rows.n},)")


def _original_views(rows: AnalysisRows, spec: CalibrationSpec,
                    bins: int) -> tuple[list[_View], list[tuple[str, int]], list[str]]:
    """The overall view and one per slice with enough rows; (label, rows) of the others;
    every slice label in order (dimensions in order, levels sorted)."""
    scores = np.asarray(rows.scores, dtype=np.float64)
    y = np.asarray(rows.y).astype(np.int64)

    def view(label: str, pos: np.ndarray) -> _View:
        return _View(label, "original", pos, y[pos], scores[pos],
                     None if rows.w is None else np.asarray(rows.w, dtype=np.float64)[pos], bins)

    views = [view("overall", np.arange(rows.n))]
    small: list[tuple[str, int]] = []
    seen = {"overall": None}
    if not spec.slices:
        return views, small, list(seen)
    for labels in rows.slices.values():
        lab = np.asarray(labels).astype(str)
        for level in np.unique(lab):
            if level == "" or level in seen:
                continue
            seen[level] = None
            pos = np.nonzero(lab == level)[0]
            if pos.size < rows.min_slice_size:
                small.append((str(level), int(pos.size)))
            else:
                views.append(view(str(level), pos))
    return views, small, list(seen)


def _remedy_views(rows: AnalysisRows, spec: CalibrationSpec, bins: int) -> list[tuple[str, _View | str]]:
    """Each remedy's cross-fitted view of all rows, or the reason it is undefined."""
    folds = cr.assign_folds(rows.key, spec.folds, (*rows.seed, SALT, _FOLD_SALT))
    y = np.asarray(rows.y).astype(np.int64)
    scores = np.asarray(rows.scores, dtype=np.float64)
    w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    out: list[tuple[str, _View | str]] = []
    for remedy in dict.fromkeys(spec.remediation):
        try:
            fitted = cr.cross_fit(remedy, y, scores, w, folds, spec.folds, rows.classes)
        except cr.Undefined as why:
            out.append((remedy, str(why)))
            continue
        note = _remedy_note(remedy, fitted, spec.folds, rows.task)
        out.append((remedy, _View("overall", remedy, np.arange(rows.n), y, fitted.scores, w, bins,
                                  note=note)))
    return out


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.4g}" if lo == hi else f"[{lo:.4g}, {hi:.4g}]"


def _remedy_note(remedy: str, fitted: cr.Fitted, folds: int, task: str) -> str:
    p = fitted.params
    ovr = (" one-vs-rest per class, rows renormalised to sum to 1 (as scikit-learn's "
           "CalibratedClassifierCV);" if task == "multiclass" and remedy != "temperature" else "")
    per = " over classes and folds" if ovr else ""
    if remedy == "platt":
        what = (f"Platt scaling (logistic regression on logit p): a in {_span(p['a'])}, "
                f"b in {_span(p['b'])}{per}")
    elif remedy == "isotonic":
        what = (f"isotonic regression (increasing, weighted PAV): {_span(p['levels'])} fitted "
                f"levels per fit{per}, so scores are tied in steps")
    else:
        what = f"temperature scaling (Guo et al. 2017): T in {_span(p['T'])}"
    note = (f"{folds}-fold cross-fitted (folds by a seeded hash of the row key);{ovr} {what}; "
            "intervals hold the fitted maps fixed")
    return "; ".join([note, *fitted.warning_notes()])


# ---- binnings and layouts ----------------------------------------------------------------


def _prepare(v: _View, rows: AnalysisRows) -> Layout:
    """Bin the view's rows and build the layout of its sums."""
    layout = _prepare_binary(v) if rows.task == "binary" else _prepare_multiclass(v, len(rows.classes))
    if v.w is not None:  # the weighted means' bootstrap
        ll, br = _losses(v)
        layout.groupings["loss"] = Grouping(np.zeros(v.pos.size, dtype=np.int64), 1, {"ll": ll, "br": br})
    return layout


def _prepare_binary(v: _View) -> Layout:
    """Groupings: equal-width (weight, label minus score, label), equal-mass and, for the
    original scores, the ECE-sweep bins."""
    s, y = v.s, v.y.astype(np.float64)
    ones, d = np.ones(s.size), y - s
    original = v.variant == "original"
    ew = cb.equal_width_bins(s, v.bins)
    ss = cb.SortedScores.build(s, y, v.w)
    em_edges = cb.quantile_edges(ss, v.bins)
    em = cb.equal_mass_bins(s, em_edges)
    groupings = {"ew": Grouping(ew, v.bins, {"w": ones, "d": d} | ({"y": y} if original else {})),
                 "em": Grouping(em, v.bins, {"w": ones, "d": d} if original else {"d": d})}
    v.info.update(ew=ew, em=em, em_edges=em_edges)
    if original:
        b, sw_edges, capped = cb.sweep_bins(ss)
        groupings["sw"] = Grouping(cb.equal_mass_bins(s, sw_edges), b, {"d": d})
        v.info.update(sweep=b, sweep_capped=capped)
    return Layout(v.pos, [v.y], groupings)


def _prepare_multiclass(v: _View, k: int) -> Layout:
    conf = v.s.max(axis=1)
    correct = (np.argmax(v.s, axis=1) == v.y).astype(np.float64)
    ew = cb.equal_width_bins(conf, v.bins)
    groupings = {"ew": Grouping(ew, v.bins, {"w": np.ones(conf.size), "d": correct - conf})}
    for c in range(k):
        groupings[f"c{c}"] = Grouping(cb.equal_width_bins(v.s[:, c], v.bins), v.bins,
                                      {"d": (v.y == c) - v.s[:, c]})
    v.info.update(conf=conf, correct=correct, ew=ew, k=k)
    return Layout(v.pos, [v.y, correct], groupings)


def _losses(v: _View) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log loss (clipped to [eps, 1 - eps]) and Brier loss."""
    if v.s.ndim == 1:
        sc = np.clip(v.s, cr.EPS, 1 - cr.EPS)
        ll = -np.where(v.y == 1, np.log(sc), np.log(1 - sc))
        return ll, (v.s - v.y) ** 2
    onehot = np.zeros_like(v.s)
    onehot[np.arange(v.y.size), v.y] = 1.0
    p_true = np.clip(v.s[np.arange(v.y.size), v.y], cr.EPS, 1 - cr.EPS)
    return -np.log(p_true), np.sum((v.s - onehot) ** 2, axis=1)


# ---- estimates -----------------------------------------------------------------------------


def _interval(value: float, reps: np.ndarray, confidence: float, lower: float, upper: float,
              basic: bool) -> tuple[float, float, str]:
    """(low, high, note) of a basic or percentile bootstrap interval, clipped to the range."""
    r = np.asarray(reps, dtype=np.float64)
    ok = r[np.isfinite(r)]
    if ok.size and ok.max() == ok.min():
        return math.nan, math.nan, "degenerate bootstrap (every replicate equal): no interval"
    ci = percentile_interval(r, confidence)
    low, high = (2 * value - ci.high, 2 * value - ci.low) if basic else (ci.low, ci.high)
    if math.isnan(low):
        return math.nan, math.nan, "too few defined replicates: no interval"
    return min(max(low, lower), upper), min(max(high, lower), upper), ""


def _boot_method(rows: AnalysisRows, how: str, basic: bool = True) -> str:
    kind = "basic " if basic else ""
    if rows.weighted:
        return f"{kind}poisson-bootstrap ({rows.replicates} reps, keyed multipliers over weighted rows)"
    if how == "cells":
        return (f"basic poisson-bootstrap over (bin, label) cells, cell mean score held "
                f"({rows.replicates} reps)")
    return f"{kind}poisson-bootstrap ({rows.replicates} reps, keyed row multipliers)"


def _binned(rows: AnalysisRows, how: str, value: float, reps: np.ndarray | None, note: str,
            upper: float = 1.0) -> Estimate:
    if not math.isfinite(value):
        return Estimate(math.nan, status=UNDEFINED, note="no rows with weight in any bin")
    if reps is None:
        return Estimate(value, method=NO_INTERVALS, note=note)
    low, high, extra = _interval(value, reps, rows.confidence, 0.0, upper, basic=True)
    if math.isfinite(high) and high < value:
        extra = "the plug-in value is biased upwards (noise adds to every bin) and the interval " \
                "for the population value lies below it"
    return Estimate(value, low, high, _boot_method(rows, how), note="; ".join(x for x in (note, extra) if x))


def _loss(rows: AnalysisRows, v: _View, key: str, reps: Sums | None, upper: float, note: str) -> Estimate:
    ll, br = _losses(v)
    per_row = ll if key == "ll" else br
    if v.w is None:
        value = float(np.mean(per_row))
        if rows.replicates <= 0:
            return Estimate(value, method=NO_INTERVALS, note=note)
        sd = float(np.std(per_row, ddof=1)) if per_row.size > 1 else math.nan
        ci = t_interval(value, sd, per_row.size, rows.confidence)
        extra = "" if math.isfinite(ci.low) else "; fewer than 2 rows: no interval"
        return Estimate(value, max(ci.low, 0.0), min(ci.high, upper), "t", note=note + extra)
    value = float(np.sum(v.w * per_row) / v.w.sum())
    if reps is None:
        return Estimate(value, method=NO_INTERVALS, note=note)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = reps["loss"][key][:, 0] / reps["ew"]["w"].sum(axis=-1)
    low, high, extra = _interval(value, r, rows.confidence, 0.0, upper, basic=False)
    return Estimate(value, low, high, _boot_method(rows, "rows", basic=False),
               note="; ".join(x for x in (note, extra) if x))


def _estimates(v: _View, tot: Sums, reps: Sums | None, rows: AnalysisRows, how: str) -> dict[str, Estimate]:
    """Every metric of the view (those not wanted for its variant are dropped later)."""
    wanted = _metric_list(rows.task, v.variant)
    if not v.total > 0:
        why = "total weight of this slice is 0" if v.pos.size else "no rows"
        return {m: Estimate(math.nan, status=UNDEFINED, note=why) for m in wanted}
    out = (_binary_estimates(v, tot, reps, rows, how) if rows.task == "binary"
           else _multiclass_estimates(v, tot, reps, rows, how))
    if v.note:
        out = {m: replace(e, note="; ".join(x for x in (e.note, v.note) if x)) for m, e in out.items()}
    return out


def _ece(s: Sums, key: str) -> np.ndarray:
    return cb.ece_from(s["ew"]["w"].sum(axis=-1), s[key]["d"])


def _mce(s: Sums, key: str) -> np.ndarray:
    return cb.mce_from(s[key]["w"], s[key]["d"])


def _binary_estimates(v: _View, tot: Sums, reps: Sums | None, rows: AnalysisRows,
                      how: str) -> dict[str, Estimate]:
    b = v.bins
    em_note = (f"{b} equal-mass bins ({int(np.count_nonzero(np.bincount(v.info['em'], minlength=b)))}"
               " nonempty), edges from the full sample and held in every replicate")

    def binned(stat, key: str, note: str) -> Estimate:
        return _binned(rows, how, float(stat(tot, key)), None if reps is None else stat(reps, key), note)

    out = {
        "ece": binned(_ece, "ew", f"{b} equal-width bins"),
        "ece_equal_mass": binned(_ece, "em", em_note),
        "mce": binned(_mce, "ew", f"{b} equal-width bins; the largest |observed - mean score| of a bin"),
        "brier_score": _loss(rows, v, "br", reps, 1.0, ""),
        "log_loss": _loss(rows, v, "ll", reps, math.inf,
                          "probabilities clipped to [eps, 1 - eps] as scikit-learn's log_loss"),
    }
    if v.variant == "original":
        out["mce_equal_mass"] = binned(_mce, "em", em_note)
        out["ece_adaptive"] = binned(_ece, "sw", _sweep_note(v))
        out |= _decomposition(v, tot, reps, rows, how, out["brier_score"].value)
    return out


def _sweep_note(v: _View) -> str:
    note = (f"ECE-sweep (Roelofs et al. 2022): {v.info['sweep']} equal-mass bins, the most before "
            "the bins' observed shares stop rising monotonically; interval conditional on that "
            "bin count and its edges")
    if v.info["sweep_capped"]:
        note += f"; monotone up to the cap of {cb.SWEEP_MAX_BINS} bins"
    return note


def _decomposition(v: _View, tot: Sums, reps: Sums | None, rows: AnalysisRows, how: str,
                   brier: float) -> dict[str, Estimate]:
    def parts_of(s: Sums) -> tuple[np.ndarray, ...]:
        return cb.brier_parts(s["ew"]["w"], s["ew"]["d"], s["ew"]["y"])

    parts = [float(x) for x in parts_of(tot)]
    rep_parts = None if reps is None else parts_of(reps)
    residual = brier - (parts[0] - parts[1] + parts[2])
    note = (f"Murphy (1973) decomposition over {v.bins} equal-width bins; within-bin residual "
            f"brier - (rel - res + unc) = {residual:.3g} (0 only when scores are constant "
            "within bins)")
    if parts[2] == 0:
        note += "; one class only: resolution and uncertainty are 0"
    names = ["brier_reliability", "brier_resolution", "brier_uncertainty"]
    uppers = [1.0, 0.25, 0.25]  # o (1 - o) <= 1/4, and resolution <= uncertainty
    return {name: _binned(rows, how, parts[i], None if rep_parts is None else rep_parts[i], note,
                          uppers[i]) for i, name in enumerate(names)}


def _multiclass_estimates(v: _View, tot: Sums, reps: Sums | None, rows: AnalysisRows,
                          how: str) -> dict[str, Estimate]:
    b, k = v.bins, v.info["k"]

    def classwise(s: Sums) -> np.ndarray:
        return np.mean([_ece(s, f"c{c}") for c in range(k)], axis=0)

    top = f"{b} equal-width bins of the top-label confidence"
    return {
        "ece_top_label": _binned(rows, how, float(_ece(tot, "ew")),
                                 None if reps is None else _ece(reps, "ew"), top),
        "mce_top_label": _binned(rows, how, float(_mce(tot, "ew")),
                                 None if reps is None else _mce(reps, "ew"), top),
        "ece_classwise": _binned(rows, how, float(classwise(tot)),
                                 None if reps is None else classwise(reps),
                                 f"mean over {k} classes of the one-vs-rest ECE, {b} equal-width bins"),
        "brier_score": _loss(rows, v, "br", reps, 2.0, "sum over classes of (p_k - 1[y = k])^2"),
        "log_loss": _loss(rows, v, "ll", reps, math.inf,
                          "probabilities clipped to [eps, 1 - eps] as scikit-learn's log_loss"),
    }


# ---- records and charts --------------------------------------------------------------------


def _metric_list(task: str, variant: str) -> list[str]:
    if task == "binary":
        return BINARY_METRICS if variant == "original" else BINARY_REMEDY_METRICS
    return MULTICLASS_METRICS if variant == "original" else MULTICLASS_REMEDY_METRICS


def _record(rows: AnalysisRows, v: _View, metric: str, e: Estimate) -> dict[str, Any]:
    low, high, method = e.low, e.high, e.method
    if rows.replicates <= 0 and e.status == OK:
        low, high, method = math.nan, math.nan, NO_INTERVALS
    return {"model": rows.model, "slice": v.slice, "metric": metric, "variant": v.variant,
            "value": e.value, "ci_low": low, "ci_high": high, "n": int(v.pos.size),
            "method": method, "status": e.status, "note": e.note}


def _record_undefined(rows: AnalysisRows, slice_label: str, metric: str, variant: str, why: str,
                      n: int, status: str = UNDEFINED) -> dict[str, Any]:
    return {"model": rows.model, "slice": slice_label, "metric": metric, "variant": variant,
            "value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": n, "method": "",
            "status": status, "note": why}


def _too_small_records(rows: AnalysisRows, small: list[tuple[str, int]]) -> list[dict[str, Any]]:
    why = f"fewer than min_slice_size={rows.min_slice_size} rows"
    return [_record_undefined(rows, label, m, "original", why, n, TOO_SMALL)
            for label, n in small for m in _metric_list(rows.task, "original")]


def _ordered(records: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """Originals (overall, then the slices in ``order``), then the remedies."""
    rank = {s: i for i, s in enumerate(order)}
    variants = {"original": 0, "platt": 1, "isotonic": 2, "temperature": 3}
    return sorted(records, key=lambda r: (variants[r["variant"]], rank[r["slice"]]))


def _chart(v: _View, rows: AnalysisRows, equal_mass: bool) -> dict[str, list[dict[str, Any]]]:
    """Reliability bins (binary: the score; multiclass: the top-label confidence)."""
    if not v.total > 0:
        return {"equal_width": []} | ({"equal_mass": []} if equal_mass else {})
    if rows.task == "binary":
        s, y = v.s, v.y.astype(np.float64)
    else:
        s, y = v.info["conf"], v.info["correct"]
    intervals = rows.replicates > 0
    width = np.arange(v.bins + 1) / v.bins
    out = {"equal_width": cb.reliability(cb.Binned.of(v.info["ew"], v.bins, s, y, v.w),
                                         width[:-1], width[1:], rows.confidence, intervals)}
    if equal_mass:
        if rows.task == "binary":
            edges, em = v.info["em_edges"], v.info["em"]
        else:
            edges = cb.quantile_edges(cb.SortedScores.build(s, y, v.w), v.bins)
            em = cb.equal_mass_bins(s, edges)
        out["equal_mass"] = cb.reliability(cb.Binned.of(em, v.bins, s, y, v.w), edges[:-1],
                                           edges[1:], rows.confidence, intervals)
    return out
