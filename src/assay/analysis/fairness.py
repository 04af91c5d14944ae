"""Group fairness: per-group rates and between-group disparities, each with an interval.

For every fairness dimension (each sensitive attribute, then their intersection) the rows are
split into groups; a group with fewer rows than ``min_group_size`` is reported with status
``too_small`` and left out of the disparities (the note names it). A missing value is its own
group, ``(missing)``.

Per group (table ``fairness_groups``):

* binary: selection rate, TPR, FPR, FNR, precision and base rate, with Wilson intervals (on
  Kish's effective n = (sum w)^2 / sum w^2 of the rows under the denominator when weighted, as
  :mod:`assay.metrics` does); ``impact_ratio`` = the group's selection rate / the reference
  group's (``reference`` in the spec, else the group with the highest selection rate, as in
  the EEOC four-fifths rule, 29 CFR 1607.4(D)), with a bootstrap interval and ``flag`` set
  below ``four_fifths``;
* multiclass: accuracy and error rate (Wilson);
* regression: MAE and mean error (Student t when unweighted, else bootstrap) and RMSE
  (bootstrap).

Disparities (table ``fairness``), with Fairlearn's definitions (``method="between_groups"``,
Bird et al. 2020): demographic parity difference (max - min selection rate) and ratio
(min / max), equalized odds difference (the larger of the TPR and FPR differences) and ratio
(the smaller of the two ratios), equal opportunity difference (TPR), predictive parity
difference (precision), and the four-fifths ratio (the smallest impact ratio); regression:
MAE difference and ratio, RMSE difference, mean error difference; multiclass: accuracy
difference and error-rate ratio. Ratios are min / max, as ``MetricFrame.ratio()``.

Intervals of every disparity and impact ratio are bootstrap percentile intervals of the
whole statistic (the groups realising the max and min are re-found in every replicate):

* unweighted classification: a Poisson draw per group x (label, outcome) count cell, which
  is exactly the Poisson row bootstrap (Hanley & MacGibbon 2006) at the cost of the cells;
* weighted rows and regression: a one-pass Poisson bootstrap with Poisson(1) multipliers
  keyed on each row's key (:func:`assay.engine._replicates.keyed_multipliers`), so the
  replicates do not depend on row order.

With ``reweigh`` the classification disparities are also given for rows reweighed by
Kamiran & Calders' (2012) w(g, y) = P(g) P(y) / P(g, y), which makes group and label
independent: a what-if showing how much of each gap comes from different base rates. The
weights are recomputed inside every replicate; the original rows are never changed. TPR and
FPR do not move under this reweighing (the weight is constant within group x label), so
equalized odds and equal opportunity are the same in both variants. Reweighing needs a
discrete label, so regression has no reweighed variant (said in a note).

Undefined cases (TPR of a group with no positive labels, one group only, a ratio whose
groups are all 0) get status ``undefined`` and the reason in the note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError, sample_values
from assay.analysis import _fairness_stats as fs
from assay.analysis._rows import AnalysisOutput, AnalysisRows
from assay.metrics._base import NO_INTERVALS, OK, TOO_SMALL, UNDEFINED
from assay.spec import FairnessSpec
from assay.stats import kish_effective_size, percentile_interval, t_interval, wilson_interval

__all__ = ["DISPARITY_COLUMNS", "GROUP_COLUMNS", "analyse_fairness"]

GROUP_COLUMNS = ["model", "attribute", "group", "metric", "value", "ci_low", "ci_high", "n",
                 "method", "status", "note", "flag"]
DISPARITY_COLUMNS = ["model", "attribute", "metric", "variant", "value", "ci_low", "ci_high",
                     "method", "status", "note", "groups", "reference", "flag"]

_SALT = 0xFA12  # this module's stream of the run's seed
_SPECIAL = {"(missing)": "rows with no value for this attribute, kept as their own group",
            "(outside bins)": "rows outside the attribute's bins, kept as their own group"}
_CHART_METRICS = {"binary": ("selection_rate", "tpr", "fpr"), "multiclass": ("accuracy",),
                  "regression": ("mae",)}
_REWEIGH_NOTE = ("what-if: rows reweighed by w(g, y) = P(g) P(y) / P(g, y) (Kamiran & Calders "
                 "2012) so that group and label are independent, recomputed in every replicate; "
                 "the original rows are unchanged")
_REGRESSION_REWEIGH_NOTE = ("no reweighed variant: Kamiran-Calders reweighing needs a discrete "
                            "label, and a regression label is continuous")


# ---- inputs ---------------------------------------------------------------------------------


@dataclass
class _Dim:
    """One fairness dimension: group labels in report order and each row's group index."""

    label: str
    names: list[str]
    code: np.ndarray
    n: np.ndarray
    eligible: np.ndarray

    @property
    def kept(self) -> list[int]:
        return [int(g) for g in np.flatnonzero(self.eligible)]


@dataclass
class _Ctx:
    rows: AnalysisRows
    spec: FairnessSpec
    min_size: int
    replicates: int
    rates: dict[str, tuple[np.ndarray, np.ndarray, str]] = field(default_factory=dict)

    @property
    def weighted(self) -> bool:
        return self.rows.w is not None

    def wilson_method(self) -> str:
        if not self.replicates:
            return NO_INTERVALS
        return "wilson (Kish effective n)" if self.weighted else "wilson"

    def boot_method(self) -> str:
        if not self.replicates:
            return NO_INTERVALS
        r = self.replicates
        if self.weighted or self.rows.task == "regression":
            return f"percentile poisson-bootstrap, keyed row multipliers ({r} reps)"
        outcome = "decision" if self.rows.task == "binary" else "correct"
        return f"percentile poisson-bootstrap over group x (label, {outcome}) cells ({r} reps)"

    def empty_reason(self) -> str:
        return "total weight of this group is 0" if self.weighted else "no rows in this group"


def _validate(rows: AnalysisRows, dimensions: list[str]) -> None:
    if rows.task not in _CHART_METRICS:
        raise InputError(f"fairness: task {rows.task!r} of model {rows.model!r} is not supported; "
                         "fairness analyses binary, multiclass and regression models")
    n = rows.n
    scores = np.asarray(rows.scores)
    want = (n, len(rows.classes)) if rows.task == "multiclass" else (n,)
    if scores.shape != want:
        raise InputError(f"fairness: model {rows.model!r} has scores of shape {scores.shape}; "
                         f"expected {want} for a {rows.task} task")
    for name, arr in (("label", rows.y), ("score", scores)):
        bad = ~np.isfinite(np.asarray(arr, dtype=np.float64))
        if bad.any():
            where = sample_values(np.asarray(rows.row_number)[bad.reshape(n, -1).any(axis=1)].tolist())
            raise InputError(f"fairness: model {rows.model!r} has {int(bad.sum())} non-finite "
                             f"{name} values (rows {where}); drop or fill them before the analysis")
    if rows.task == "binary" and not np.isin(rows.y, (0, 1)).all():
        raise InputError(f"fairness: binary labels of model {rows.model!r} must be 0 or 1; got "
                         f"{sample_values(np.unique(rows.y[~np.isin(rows.y, (0, 1))]).tolist())}")
    if rows.task == "multiclass":
        y = np.asarray(rows.y)
        if ((y < 0) | (y >= len(rows.classes)) | (y != np.round(y))).any():
            raise InputError(f"fairness: multiclass labels of model {rows.model!r} must be class "
                             f"codes 0..{len(rows.classes) - 1}")
    if rows.w is not None:
        w = np.asarray(rows.w, dtype=np.float64)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
            raise InputError(f"fairness: weights of model {rows.model!r} must be {n} finite "
                             "values >= 0; fix or drop the rows with negative or missing weights")
    if len(set(dimensions)) != len(dimensions):
        raise InputError(f"fairness: dimensions are repeated: {dimensions}")
    for d in dimensions:
        if d not in rows.groups:
            raise InputError(f"fairness: no group labels for dimension {d!r}; available: "
                             f"{', '.join(map(repr, rows.groups)) or 'none'}")
        if np.shape(rows.groups[d]) != (n,):
            raise InputError(f"fairness: group labels of {d!r} have shape "
                             f"{np.shape(rows.groups[d])}; expected ({n},), one per row")


def _dimension(rows: AnalysisRows, label: str, min_size: int) -> _Dim:
    raw = pd.Series(np.asarray(rows.groups[label], dtype=object), dtype=object)
    code, found = pd.factorize(raw.where(raw.notna(), "(missing)").astype(str))  # hashing, no sort
    levels = [str(v) for v in found]
    order = sorted(range(len(levels)), key=lambda i: (levels[i] in _SPECIAL, levels[i]))
    remap = np.empty(len(levels), dtype=np.int64)
    remap[order] = np.arange(len(levels))
    code = remap[np.asarray(code, dtype=np.int64)]
    names = [levels[i] for i in order]
    n = np.bincount(code, minlength=len(names)).astype(np.int64)
    return _Dim(label, names, code, n, n >= min_size)


def _references(spec: FairnessSpec, dims: list[_Dim]) -> dict[str, int]:
    by_label = {d.label: d for d in dims}
    out = {}
    for attr, group in spec.reference.items():
        if attr not in by_label:
            raise InputError(f"fairness.reference: {attr!r} is not a fairness dimension of this run; "
                             f"dimensions: {', '.join(map(repr, by_label))}")
        names = by_label[attr].names
        if group not in names:
            raise InputError(f"fairness.reference: group {group!r} of {attr!r} does not occur; "
                             f"groups: {', '.join(map(repr, names))}")
        out[attr] = names.index(group)
    return out


# ---- sufficient statistics ---------------------------------------------------------------------


def _outcomes(rows: AnalysisRows) -> tuple[np.ndarray, int]:
    """Each row's (label, outcome) cell and the number of labels Y (outcome D has 2 values)."""
    if rows.task == "binary":
        d = (np.asarray(rows.scores) >= rows.threshold).astype(np.int64)
        return np.asarray(rows.y).astype(np.int64) * 2 + d, 2
    y = np.asarray(rows.y).astype(np.int64)
    right = (np.argmax(np.asarray(rows.scores), axis=1) == y).astype(np.int64)
    return y * 2 + right, len(rows.classes)


def _stats(ctx: _Ctx, dims: list[_Dim]) -> list[dict[str, Any]]:
    """Per dimension: ``point`` sums, ``reps`` (R, ...) or None, and for classification
    ``square`` (sums of w^2, for Kish's n), for unweighted regression ``sd`` per group."""
    return _regression_stats(ctx, dims) if ctx.rows.task == "regression" else _cell_stats(ctx, dims)


def _regression_stats(ctx: _Ctx, dims: list[_Dim]) -> list[dict[str, Any]]:
    rows, r = ctx.rows, ctx.replicates
    e = np.asarray(rows.scores, dtype=np.float64) - np.asarray(rows.y, dtype=np.float64)
    w = np.ones_like(e) if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    values = [w, w * np.abs(e), w * e * e, w * e]
    out: list[dict[str, Any]] = []
    for d in dims:
        g = len(d.names)
        point = np.stack([np.bincount(d.code, weights=v, minlength=g) for v in values], axis=1)
        out.append({"point": point, "reps": None,
                    "sd": {"mae": _group_sd(np.abs(e), d), "mean_error": _group_sd(e, d)}})
    if r:
        reps = fs.keyed_sums(rows.key, [d.code for d in dims], [len(d.names) for d in dims], values,
                             r, (*rows.seed, _SALT))
        for o, rep in zip(out, reps, strict=True):
            o["reps"] = rep
    return out


def _group_sd(x: np.ndarray, d: _Dim) -> np.ndarray:
    """Sample standard deviation of ``x`` in each group (NaN below 2 rows), from centred sums."""
    g = len(d.names)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(d.code, weights=x, minlength=g) / d.n
        ss = np.bincount(d.code, weights=(x - mean[d.code]) ** 2, minlength=g)
        return np.where(d.n > 1, np.sqrt(ss / np.maximum(d.n - 1, 1)), np.nan)


def _cell_stats(ctx: _Ctx, dims: list[_Dim]) -> list[dict[str, Any]]:
    rows, r = ctx.rows, ctx.replicates
    cell, y_levels = _outcomes(rows)
    w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    out: list[dict[str, Any]] = []
    for j, d in enumerate(dims):
        shape = (len(d.names), y_levels, 2)
        idx = d.code * (y_levels * 2) + cell
        size = int(np.prod(shape))
        point = np.bincount(idx, weights=w, minlength=size).astype(np.float64).reshape(shape)
        square = point if w is None else np.bincount(idx, weights=w * w, minlength=size).reshape(shape)
        reps = None
        if r and w is None:  # Poisson(count) per cell is exactly the Poisson row bootstrap
            reps = fs.poisson_cells(point, r, np.random.default_rng([*rows.seed, _SALT, j]))
        out.append({"point": point, "square": square, "reps": reps, "idx": idx})
    if r and w is not None:
        sizes = [int(o["point"].size) for o in out]
        reps = fs.keyed_sums(rows.key, [o["idx"] for o in out], sizes, [w], r, (*rows.seed, _SALT))
        for o, rep in zip(out, reps, strict=True):
            o["reps"] = rep[..., 0].reshape(r, *o["point"].shape)
    return out


def _values(ctx: _Ctx, stats: np.ndarray) -> dict[str, np.ndarray]:
    if ctx.rows.task == "regression":
        return fs.regression_values(stats)
    return fs.cell_rates(stats, ctx.rates)


# ---- intervals -------------------------------------------------------------------------------


def _boot(reps: np.ndarray | None, ctx: _Ctx) -> tuple[float, float, str]:
    """Percentile interval of replicate values, with a note when it is missing or partial."""
    if reps is None or not ctx.replicates:
        return math.nan, math.nan, ""
    r = np.asarray(reps, dtype=np.float64)
    ok = r[np.isfinite(r)]
    if ok.size and ok.max() == ok.min():
        return math.nan, math.nan, "degenerate bootstrap (every replicate equal): no interval"
    ci = percentile_interval(r, ctx.rows.confidence)
    if not math.isfinite(ci.low):
        return math.nan, math.nan, (f"only {ok.size} of {r.size} replicates defined (fewer than "
                                    "half): no interval")
    note = ""
    if ok.size < r.size:
        note = (f"{r.size - ok.size} of {r.size} replicates undefined (a group drew no rows under "
                "a denominator) and left out of the interval")
    return ci.low, ci.high, note


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


# ---- per-group rows ----------------------------------------------------------------------------


def _group_base(ctx: _Ctx, dim: _Dim, g: int) -> dict[str, Any]:
    return {"model": ctx.rows.model, "attribute": dim.label, "group": dim.names[g],
            "n": int(dim.n[g]), "flag": False}


def _too_small(ctx: _Ctx, dim: _Dim, g: int, metrics: list[str]) -> list[dict[str, Any]]:
    why = (f"fewer than min_group_size={ctx.min_size} rows; left out of the disparities")
    return [_group_base(ctx, dim, g) | {"metric": m, "value": math.nan, "ci_low": math.nan,
                                         "ci_high": math.nan, "method": "", "status": TOO_SMALL,
                                         "note": why} for m in metrics]


def _rate_rows(ctx: _Ctx, dim: _Dim, st: dict[str, Any], g: int) -> list[dict[str, Any]]:
    point, square = st["point"], st["square"]
    out = []
    for name, (num, den, empty) in ctx.rates.items():
        base = _group_base(ctx, dim, g) | {"metric": name, "note": _SPECIAL.get(dim.names[g], "")}
        den_w = float(fs.masked_sum(point[g], den))
        if not den_w > 0:
            reason = empty if point[g].sum() > 0 else ctx.empty_reason()
            out.append(base | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                               "method": ctx.wilson_method(), "status": UNDEFINED,
                               "note": _join(reason, base["note"])})
            continue
        p = float(fs.masked_sum(point[g], num)) / den_w
        n_eff = kish_effective_size(den_w, float(fs.masked_sum(square[g], den)))
        ci = wilson_interval(p, n_eff, ctx.rows.confidence) if ctx.replicates else None
        out.append(base | {"value": p, "ci_low": ci.low if ci else math.nan,
                           "ci_high": ci.high if ci else math.nan, "method": ctx.wilson_method(),
                           "status": OK})
    return out


def _regression_rows(ctx: _Ctx, dim: _Dim, st: dict[str, Any], g: int) -> list[dict[str, Any]]:
    point, reps = st["point"], st["reps"]
    vals = fs.regression_values(point[g])
    rep_vals = fs.regression_values(reps[:, g]) if reps is not None else {}
    sd = {k: float(v[g]) for k, v in st["sd"].items()} if not ctx.weighted else {}
    out = []
    for name in ("mae", "rmse", "mean_error"):
        base = _group_base(ctx, dim, g) | {"metric": name, "note": _SPECIAL.get(dim.names[g], "")}
        v = float(vals[name])
        if not math.isfinite(v):
            out.append(base | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                               "method": ctx.boot_method(), "status": UNDEFINED,
                               "note": _join(ctx.empty_reason(), base["note"])})
            continue
        if name in sd and ctx.replicates:
            ci = t_interval(v, sd[name], float(dim.n[g]), ctx.rows.confidence)
            low = max(ci.low, 0.0) if name == "mae" else ci.low
            out.append(base | {"value": v, "ci_low": low, "ci_high": ci.high, "method": "t",
                               "status": OK, "note": _join(base["note"], "" if math.isfinite(ci.low)
                                                           else "too few rows for an interval")})
            continue
        low, high, note = _boot(rep_vals.get(name), ctx)
        out.append(base | {"value": v, "ci_low": low, "ci_high": high, "method": ctx.boot_method(),
                           "status": OK, "note": _join(base["note"], note)})
    return out


def _impact_rows(ctx: _Ctx, dim: _Dim, st: dict[str, Any], ref: int | None,
                 ref_reason: str) -> list[dict[str, Any]]:
    """impact_ratio = selection rate / the reference group's, per group in the comparison."""
    sel = _values(ctx, st["point"])["selection_rate"]
    sel_reps = _values(ctx, st["reps"])["selection_rate"] if st["reps"] is not None else None
    out = []
    for g in dim.kept:
        base = _group_base(ctx, dim, g) | {"metric": "impact_ratio"}
        reason = ref_reason
        if not reason and not math.isfinite(sel[g]):
            reason = "the group's selection rate is undefined (" + ctx.empty_reason() + ")"
        if not reason and not math.isfinite(sel[ref]):
            reason = f"reference group {dim.names[ref]!r} has no defined selection rate"
        if not reason and not sel[ref] > 0:
            reason = f"reference group {dim.names[ref]!r} has selection rate 0"
        if reason:
            out.append(base | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                               "method": ctx.boot_method(), "status": UNDEFINED, "note": reason})
            continue
        value = float(sel[g] / sel[ref])
        if g == ref:
            bound, how = (1.0, "reference group (1 by definition)") if ctx.replicates else (math.nan,
                                                                                         NO_INTERVALS)
            out.append(base | {"value": 1.0, "ci_low": bound, "ci_high": bound, "method": how, "status": OK,
                               "note": "reference group"})
            continue
        low, high, note = _boot(fs.ratio(sel_reps[:, g], sel_reps[:, ref]) if sel_reps is not None
                                else None, ctx)
        flag = value < ctx.spec.four_fifths
        note = _join(f"selection rate {_fmt(sel[g])} / reference {dim.names[ref]} {_fmt(sel[ref])}",
                     f"below the four-fifths threshold {ctx.spec.four_fifths:g}" if flag else "", note)
        out.append(base | {"value": value, "ci_low": low, "ci_high": high,
                           "method": ctx.boot_method(), "status": OK, "note": note, "flag": flag})
    return out


def _reference(ctx: _Ctx, dim: _Dim, st: dict[str, Any], refs: dict[str, int]) -> tuple[int | None, str]:
    """The reference group (spec, else highest selection rate) and why there is none."""
    if dim.label in refs:
        ref = refs[dim.label]
        if not dim.eligible[ref]:
            return None, (f"reference group {dim.names[ref]!r} has fewer than "
                          f"min_group_size={ctx.min_size} rows")
        return ref, ""
    sel = _values(ctx, st["point"])["selection_rate"]
    kept = [g for g in dim.kept if math.isfinite(sel[g])]
    if not kept:
        return None, "no group in the comparison has a defined selection rate"
    return max(kept, key=lambda g: sel[g]), ""  # the first of tied maxima


# ---- disparities -------------------------------------------------------------------------------


def _undefined(ctx: _Ctx, dim: _Dim, d: fs.Disparity, m: dict[str, np.ndarray],
               ref: int | None, ref_reason: str) -> str:
    kept = dim.kept
    if not kept:
        return f"no group has at least min_group_size={ctx.min_size} rows"
    if len(kept) == 1:
        return (f"only one group ({dim.names[kept[0]]}) has at least min_group_size={ctx.min_size} "
                "rows: nothing to compare")
    for need in d.needs:
        bad = [dim.names[g] for i, g in enumerate(kept) if not math.isfinite(m[need][i])]
        if bad:
            why = ctx.rates[need][2] if need in ctx.rates else ctx.empty_reason()
            return f"{need} is undefined for {', '.join(bad)} ({why})"
    if d.kind in ("ratio", "eo_ratio"):
        for need in d.needs:
            if not np.max(m[need]) > 0:
                return f"every group's {need} is 0: the ratio 0/0 is undefined"
    if d.kind == "four_fifths":
        if ref is None:
            return ref_reason
        if ref in kept and not m["selection_rate"][kept.index(ref)] > 0:
            return f"reference group {dim.names[ref]!r} has selection rate 0"
    return ""


def _extremes(dim: _Dim, v: np.ndarray) -> str:
    kept = dim.kept
    hi, lo = int(np.argmax(v)), int(np.argmin(v))
    return (f"max {dim.names[kept[hi]]} ({_fmt(v[hi])}), min {dim.names[kept[lo]]} "
            f"({_fmt(v[lo])})")


def _ref_index(m: dict[str, np.ndarray], ref_kept: int | None) -> int:
    """Index (among the compared groups) of a four-fifths ratio's reference group."""
    return int(np.argmax(m["selection_rate"])) if ref_kept is None else ref_kept


def _describe(dim: _Dim, d: fs.Disparity, m: dict[str, np.ndarray], ref_kept: int | None) -> str:
    """The groups that realise the statistic, e.g. "max A (0.588), min B (0.348)"."""
    if d.kind in ("difference", "ratio"):
        return _extremes(dim, m[d.needs[0]])
    if d.kind in ("eo_difference", "eo_ratio"):
        kind = "difference" if d.kind == "eo_difference" else "ratio"
        tpr, fpr = (float(fs.spread(m[k], kind)) for k in ("tpr", "fpr"))
        pick = "tpr" if (tpr >= fpr if kind == "difference" else tpr <= fpr) else "fpr"
        return f"{pick}: " + _extremes(dim, m[pick])
    sel, kept = m["selection_rate"], dim.kept
    r, lo = _ref_index(m, ref_kept), int(np.argmin(sel))
    return (f"min {dim.names[kept[lo]]} ({_fmt(sel[lo] / sel[r])}), reference "
            f"{dim.names[kept[r]]} (selection rate {_fmt(sel[r])})")


def _four_fifths_note(ctx: _Ctx, value: float, high: float, low: float) -> tuple[bool, str]:
    t = ctx.spec.four_fifths
    if value < t:
        if not math.isfinite(high):
            return True, f"below the four-fifths threshold {t:g} (no interval)"
        if high < t:
            return True, (f"below the four-fifths threshold {t:g}; the interval's upper bound "
                          f"({_fmt(high)}) is also below it")
        return True, (f"below the four-fifths threshold {t:g}, but the interval's upper bound "
                      f"({_fmt(high)}) is not: the data do not rule out a ratio of {t:g} or more")
    if math.isfinite(low) and low < t:
        return False, (f"at or above the four-fifths threshold {t:g}, but the interval's lower "
                       f"bound ({_fmt(low)}) is below it")
    return False, f"at or above the four-fifths threshold {t:g}"


def _common_note(ctx: _Ctx, dim: _Dim) -> str:
    small = [f"{dim.names[g]} (n={dim.n[g]})" for g in range(len(dim.names)) if not dim.eligible[g]]
    special = [dim.names[g] for g in dim.kept if dim.names[g] in _SPECIAL]
    return _join(f"left out (fewer than min_group_size={ctx.min_size} rows): {', '.join(small)}"
                 if small else "",
                 f"includes {', '.join(special)} as a group" if special else "")


def _disparity_rows(ctx: _Ctx, dim: _Dim, st: dict[str, Any], variant: str, ref: int | None,
                    ref_reason: str) -> list[dict[str, Any]]:
    point, reps = st["point"], st["reps"]
    if variant == "reweighed":
        point = fs.reweigh(point)
        reps = fs.reweigh(reps) if reps is not None else None
    kept = dim.kept
    m = {k: v[kept] for k, v in _values(ctx, point).items()}
    m_reps = {k: v[:, kept] for k, v in _values(ctx, reps).items()} if reps is not None else None
    # a reference from the spec stays fixed; the default (highest selection rate) is re-taken
    ref_kept = kept.index(ref) if dim.label in ctx.spec.reference and ref in kept else None
    method = "between_groups; " + ctx.boot_method()
    common = _join(_common_note(ctx, dim), _REWEIGH_NOTE if variant == "reweighed" else "")
    out = []
    for d in _DISPARITIES[ctx.rows.task]:
        base = {"model": ctx.rows.model, "attribute": dim.label, "metric": d.name,
                "variant": variant, "method": method, "groups": "", "reference": "", "flag": False}
        reason = _undefined(ctx, dim, d, m, ref, ref_reason)
        if reason:
            out.append(base | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                               "status": UNDEFINED, "note": _join(reason, common)})
            continue
        value = float(fs.disparity_value(d, m, ref_kept))
        low, high, boot_note = _boot(fs.disparity_value(d, m_reps, ref_kept)
                                     if m_reps is not None else None, ctx)
        row = base | {"value": value, "ci_low": low, "ci_high": high, "status": OK,
                      "groups": _describe(dim, d, m, ref_kept)}
        note = ""
        if d.kind == "four_fifths":
            flag, note = _four_fifths_note(ctx, value, high, low)
            row |= {"flag": flag and variant == "original",
                    "reference": dim.names[kept[_ref_index(m, ref_kept)]]}
        out.append(row | {"note": _join(note, boot_note, common)})
    return out


_DISPARITIES = {"binary": fs.BINARY_DISPARITIES, "regression": fs.REGRESSION_DISPARITIES,
                "multiclass": fs.MULTICLASS_DISPARITIES}


# ---- charts and assembly ---------------------------------------------------------------------


def _json(v: Any) -> Any:
    v = float(v)
    return v if math.isfinite(v) else None


def _chart(task: str, dim: _Dim, group_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["group"], r["metric"]): r for r in group_rows}
    out = []
    for g, name in enumerate(dim.names):
        entry: dict[str, Any] = {"group": name, "n": int(dim.n[g]),
                                 "status": OK if dim.eligible[g] else TOO_SMALL}
        for metric in _CHART_METRICS[task]:
            r = by[(name, metric)]
            entry |= {metric: _json(r["value"]), f"{metric}_low": _json(r["ci_low"]),
                      f"{metric}_high": _json(r["ci_high"])}
        out.append(entry)
    return out


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=columns)
    for c in ("value", "ci_low", "ci_high"):
        df[c] = df[c].astype(np.float64)
    if "n" in df:
        df["n"] = df["n"].astype(np.int64)
    df["flag"] = df["flag"].astype(bool)
    return df


def analyse_fairness(rows: AnalysisRows, spec: FairnessSpec, dimensions: list[str]) -> AnalysisOutput:
    """Per-group rates and between-group disparities of one model, with intervals.

    ``dimensions`` are the fairness dimension labels (each attribute, then the intersection)
    whose per-row group labels are in ``rows.groups``. Returns the tables ``fairness_groups``
    (:data:`GROUP_COLUMNS`) and ``fairness`` (:data:`DISPARITY_COLUMNS`), and per-group chart
    data under ``charts["groups"][model][attribute]``.
    """
    _validate(rows, dimensions)
    min_size = spec.min_group_size if spec.min_group_size is not None else rows.min_slice_size
    ctx = _Ctx(rows, spec, int(min_size), int(rows.replicates))
    if rows.task == "binary":
        ctx.rates = fs.BINARY_RATES
    elif rows.task == "multiclass":
        ctx.rates = fs.multiclass_rates(len(rows.classes))
    dims = [_dimension(rows, label, ctx.min_size) for label in dimensions]
    refs = _references(spec, dims)
    group_records: list[dict[str, Any]] = []
    disparity_records: list[dict[str, Any]] = []
    charts: dict[str, Any] = {}
    for dim, st in zip(dims, _stats(ctx, dims), strict=True):
        rows_here = _groups_of(ctx, dim, st)
        variants = ["original"]
        ref, ref_reason = None, ""
        if rows.task == "binary":
            ref, ref_reason = _reference(ctx, dim, st, refs)
            rows_here += _impact_rows(ctx, dim, st, ref, ref_reason)
        if rows.task != "regression" and spec.reweigh:
            variants.append("reweighed")
        position = {name: i for i, name in enumerate(dim.names)}
        group_records += sorted(rows_here, key=lambda r: position[r["group"]])  # stable: metric order
        for variant in variants:
            disparity_records += _disparity_rows(ctx, dim, st, variant, ref, ref_reason)
        charts[dim.label] = _chart(rows.task, dim, rows_here)
    if rows.task == "regression" and spec.reweigh and disparity_records:
        disparity_records[0]["note"] = _join(disparity_records[0]["note"], _REGRESSION_REWEIGH_NOTE)
    return AnalysisOutput(
        tables={"fairness_groups": _frame(group_records, GROUP_COLUMNS),
                "fairness": _frame(disparity_records, DISPARITY_COLUMNS)},
        charts={"groups": {rows.model: charts}})


def _groups_of(ctx: _Ctx, dim: _Dim, st: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(ctx.rates) if ctx.rows.task != "regression" else ["mae", "rmse", "mean_error"]
    if ctx.rows.task == "binary":
        names.append("impact_ratio")  # too-small groups list it too; others get it from _impact_rows
    out = []
    for g in range(len(dim.names)):
        if not dim.eligible[g]:
            out += _too_small(ctx, dim, g, names)
        elif ctx.rows.task == "regression":
            out += _regression_rows(ctx, dim, st, g)
        else:
            out += _rate_rows(ctx, dim, st, g)
    return out
