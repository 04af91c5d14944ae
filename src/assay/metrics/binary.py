"""Binary classification: confusion cells, a fine score histogram, loss moments, calibration bins.

Interval methods (declared per metric, named in every result row):

* proportions (accuracy, precision, recall, specificity, positive rate, prevalence): Wilson,
  on Kish's effective size when weighted;
* F1: Wilson on the Jaccard index J = TP / (TP + FP + FN), mapped through F1 = 2J / (1 + J).
  Given TP + FP + FN, TP is binomial with parameter J, so this interval is exact in form;
  in the coverage study it held 0.94-0.97 in every cell, where a bootstrap of the cells
  collapsed to [0, 0] whenever a sample had no true positive (docs/coverage.md);
* ROC AUC: DeLong from the score histogram, on the logit scale (Wald on the raw scale
  undercovers near AUC = 1); at AUC 0 or 1 (SE 0) a Wilson interval on the smaller class;
* log loss, Brier score: Student t on the per-row losses' moments;
* MCC, balanced accuracy, average precision, ECE: Poisson bootstrap of the sufficient
  statistics (a Poisson count per cell is exactly the Poisson row bootstrap for unweighted
  counts); with weights, a one-pass Poisson bootstrap over the rows.
"""

from __future__ import annotations

import math

import numpy as np

from assay.engine import StateRequest
from assay.metrics import _curves as cv
from assay.metrics import _ranking as rk
from assay.metrics._base import (
    Context,
    Estimate,
    MetricDef,
    SliceStats,
    bootstrap,
    guard_total,
    normal,
    proportion,
    wilson_ci,
)
from assay.metrics._task import RowArrays, Task
from assay.stats import kish_effective_size, t_interval, z_value

EPS = float(np.finfo(np.float64).eps)  # scikit-learn clips probabilities to [eps, 1 - eps]
TN, FP, FN, TP = 0, 1, 2, 3


# ---- states -------------------------------------------------------------------------------


def numpy_states(rows: RowArrays, ctx: Context) -> list[StateRequest]:
    y = rows.y.astype(np.int64)
    s = rows.scores[0]
    w = rows.w
    b, nb = ctx.score_bins, ctx.calibration_bins
    pred = (s >= ctx.threshold).astype(np.int64)
    fine = np.minimum((s * b).astype(np.int64), b - 1)
    cal = np.minimum((s * nb).astype(np.int64), nb - 1)
    sc = np.clip(s, EPS, 1 - EPS)
    ll = -np.where(y == 1, np.log(sc), np.log(1 - sc))
    br = (s - y) ** 2

    def wt(v: np.ndarray | None) -> np.ndarray | None:
        if w is None:
            return v
        return w if v is None else w * v

    conf_values = {"n": None}
    if w is not None:
        conf_values |= {"w": w, "w2": w * w}
    return [
        StateRequest("conf", 4, 2 * y + pred, conf_values),
        # with weights, row counts too: they tell which bins hold a single positive (pr_auc bound)
        StateRequest("hist", 2 * b, y * b + fine,
                     {"w": wt(None)} | ({"n": None} if w is not None else {})),
        StateRequest("loss", 1, None, {"ll": wt(ll), "ll2": wt(ll * ll), "br": wt(br),
                                       "br2": wt(br * br)}),
        StateRequest("cal", 2 * nb, y * nb + cal, {"w": wt(None), "ws": wt(s)}),
    ]


def sql_states(cols: list[str], ctx: Context) -> list[StateRequest]:
    s, b, nb = cols[0], ctx.score_bins, ctx.calibration_bins
    sc = f"greatest(least({s}, {1 - EPS!r}), {EPS!r})"
    ll = f"(-CASE WHEN __y = 1 THEN ln({sc}) ELSE ln(1 - {sc}) END)"
    br = f"(({s} - __y) * ({s} - __y))"
    fine = f"least(floor({s} * {b}), {b - 1})::BIGINT"
    cal = f"least(floor({s} * {nb}), {nb - 1})::BIGINT"

    def wt(v: str | None) -> str | None:
        if not ctx.weighted:
            return v
        return "__w" if v is None else f"(__w * {v})"

    conf_values: dict[str, str | None] = {"n": None}
    if ctx.weighted:
        conf_values |= {"w": "__w", "w2": "(__w * __w)"}
    return [
        StateRequest("conf", 4, f"(2 * __y + ({s} >= {ctx.threshold!r})::INT)", conf_values),
        StateRequest("hist", 2 * b, f"(__y * {b} + {fine})",
                     {"w": wt(None)} | ({"n": None} if ctx.weighted else {})),
        StateRequest("loss", 1, None, {"ll": wt(ll), "ll2": wt(f"({ll} * {ll})"), "br": wt(br),
                                       "br2": wt(f"({br} * {br})")}),
        StateRequest("cal", 2 * nb, f"(__y * {nb} + {cal})", {"w": wt(None), "ws": wt(s)}),
    ]


# ---- shared pieces ----------------------------------------------------------------------


def _conf(st: SliceStats) -> np.ndarray:
    c = st.states["conf"]
    return c["w"][0] if st.ctx.weighted else c["n"][0]


def _conf2(st: SliceStats) -> np.ndarray:
    c = st.states["conf"]
    return c["w2"][0] if st.ctx.weighted else c["n"][0]


def _neff(st: SliceStats, cells: list[int]) -> float:
    c, c2 = _conf(st), _conf2(st)
    return kish_effective_size(float(c[cells].sum()), float(c2[cells].sum()))


def _conf_replicates(st: SliceStats) -> np.ndarray:
    """(R, 4) confusion cells under the bootstrap."""
    return st.replicate_states["conf"]["w"]  # type: ignore[index]


def _boot_method(st: SliceStats, what: str = "confusion cells") -> str:
    if st.ctx.weighted:
        return f"poisson-bootstrap ({st.ctx.replicates} reps, one pass over weighted rows)"
    return f"poisson-bootstrap over {what} ({st.ctx.replicates} reps)"


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _hist(st: SliceStats) -> tuple[np.ndarray, np.ndarray]:
    h = st.states["hist"]["w"][0]
    b = st.ctx.score_bins
    return h[b:], h[:b]  # positives, negatives


# ---- proportions ------------------------------------------------------------------------


def _prop(num_cells: list[int], den_cells: list[int], empty: str):
    def compute(st: SliceStats) -> Estimate:
        c = _conf(st)
        den = float(c[den_cells].sum())
        if den <= 0:
            return Estimate.undefined(empty, "wilson")
        return proportion(float(c[num_cells].sum()) / den, _neff(st, den_cells), st.ctx)

    return compute


accuracy = _prop([TN, TP], [TN, FP, FN, TP], "no rows")
precision = _prop([TP], [TP, FP], "no predicted positives at this threshold")
recall = _prop([TP], [TP, FN], "no positive labels in this slice")
specificity = _prop([TN], [TN, FP], "no negative labels in this slice")
positive_rate = _prop([FP, TP], [TN, FP, FN, TP], "no rows")
prevalence = _prop([FN, TP], [TN, FP, FN, TP], "no rows")


# ---- bootstrap-based threshold metrics --------------------------------------------------


def _f1(c: np.ndarray) -> np.ndarray:
    return _ratio(2 * c[..., TP], 2 * c[..., TP] + c[..., FP] + c[..., FN])


def _mcc(c: np.ndarray) -> np.ndarray:
    tp, tn, fp, fn = c[..., TP], c[..., TN], c[..., FP], c[..., FN]
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (tp * tn - fp * fn) / np.sqrt(np.where(den > 0, den, 1)), 0.0)


def _bal(c: np.ndarray) -> np.ndarray:
    return 0.5 * (_ratio(c[..., TP], c[..., TP] + c[..., FN]) + _ratio(c[..., TN], c[..., TN] + c[..., FP]))


def f1(st: SliceStats) -> Estimate:
    c = _conf(st)
    m = c[TP] + c[FP] + c[FN]
    if m <= 0:
        return Estimate.undefined("no positive labels and no predicted positives")
    jac = float(c[TP] / m)
    ci = wilson_ci(jac, _neff(st, [TP, FP, FN]), st.ctx)
    value = 2 * jac / (1 + jac)
    se = ci.se * 2 / (1 + jac) ** 2  # delta method, for the slice-vs-rest gap
    method = "wilson on jaccard" + (" (Kish effective n)" if st.ctx.weighted else "")
    return Estimate(value, 2 * ci.low / (1 + ci.low), 2 * ci.high / (1 + ci.high), method,
                    kind="normal", se=se)


def mcc(st: SliceStats) -> Estimate:
    c = _conf(st)
    if c[TP] + c[FN] <= 0 or c[TN] + c[FP] <= 0:
        return Estimate.undefined("only one class in the labels of this slice")
    est = bootstrap(float(_mcc(c)), _mcc(_conf_replicates(st)), _boot_method(st), st.ctx, -1, 1)
    if c[TP] + c[FP] <= 0 or c[TN] + c[FN] <= 0:
        return Estimate(**{**est.__dict__, "note": "constant predictions: MCC is 0 by convention"})
    return est


def balanced_accuracy(st: SliceStats) -> Estimate:
    c = _conf(st)
    if c[TP] + c[FN] <= 0 or c[TN] + c[FP] <= 0:
        return Estimate.undefined("only one class in the labels of this slice")
    return bootstrap(float(_bal(c)), _bal(_conf_replicates(st)), _boot_method(st), st.ctx, 0, 1)


# ---- ranking ----------------------------------------------------------------------------


def _coarse(st: SliceStats) -> tuple[np.ndarray, np.ndarray]:
    """Coarse (positives, negatives) histograms for resampling ranking metrics."""
    mapping = st.extras["coarse_map"]
    cells = st.ctx.coarse_cells
    pos, neg = _hist(st)
    return rk.coarsen(pos, mapping, cells), rk.coarsen(neg, mapping, cells)


def _coarse_replicates(st: SliceStats) -> tuple[np.ndarray, np.ndarray]:
    cells = st.ctx.coarse_cells
    h = st.replicate_states["hist"]["w"]  # type: ignore[index]
    return h[:, cells:], h[:, :cells]


def _bins_note(bound: float, st: SliceStats) -> str:
    if bound == 0:
        return f"binned scores ({st.ctx.score_bins} bins): exact (one score value per bin)"
    return f"binned scores ({st.ctx.score_bins} bins): |value - exact| <= {bound:.2g}"


def roc_auc(st: SliceStats) -> Estimate:
    pos, neg = _hist(st)
    if pos.sum() <= 0 or neg.sum() <= 0:
        return Estimate.undefined("only one class in the labels of this slice: AUC is undefined")
    value = float(rk.auc(pos, neg))
    note = _bins_note(rk.auc_bound(pos, neg, st.extras.get("pure")), st)
    if st.ctx.weighted:
        cp, cn = _coarse(st)
        rp, rn = _coarse_replicates(st)
        est = bootstrap(value, rk.auc(rp, rn), _boot_method(st, "score cells"), st.ctx, 0, 1,
                        centre=float(rk.auc(cp, cn)))
    else:
        se = rk.delong_se(pos, neg)
        if not math.isfinite(se):
            return Estimate(value, method="delong (logit)", note=note + "; fewer than 2 rows of "
                            "a class: no interval", kind="normal")
        est = _delong_logit(value, se, min(pos.sum(), neg.sum()), st)
    smaller = min(pos.sum(), neg.sum())
    extreme = value >= 0.9 or value <= 0.1
    if smaller < FEW_IN_CLASS or (extreme and smaller < FEW_IN_CLASS_EXTREME):
        note += (f"; only {smaller:g} rows in the smaller class: the interval is approximate "
                 "(see docs/coverage.md)")
    return Estimate(**{**est.__dict__, "note": note + est.note})


#: Below this many rows in the smaller class, AUC intervals are flagged as approximate; near
#: AUC 0 or 1 the normal approximation needs more (coverage 0.86-0.90 at 25-50 positives
#: and AUC 0.95, 0.93 at 100: docs/coverage.md).
FEW_IN_CLASS = 25
FEW_IN_CLASS_EXTREME = 100


def _delong_logit(value: float, se: float, smaller: float, st: SliceStats) -> Estimate:
    """DeLong's SE turned into an interval on the logit scale (delta method), which keeps the
    interval inside (0, 1) and widens it towards the near boundary. At AUC 0 or 1 the SE is
    0; a Wilson interval on the smaller class's size stands in, conservatively."""
    if 0.0 < value < 1.0 and se > 0:
        z = z_value(st.ctx.confidence)
        logit = math.log(value / (1 - value))
        half = z * se / (value * (1 - value))
        low, high = (1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half))))
        return Estimate(value, low, high, "delong (logit)", kind="normal", se=se)
    ci = wilson_ci(value, smaller, st.ctx)
    why = ("perfect separation" if value in (0.0, 1.0)
           else "no spread in the placement values (all scores tied)")
    return Estimate(value, ci.low, ci.high, "delong (logit)", kind="normal", se=ci.se,
                    note=f"; {why}: Wilson interval on the smaller class's size")


def pr_auc(st: SliceStats) -> Estimate:
    pos, neg = _hist(st)
    if pos.sum() <= 0:
        return Estimate.undefined("no positive labels in this slice: average precision is undefined")
    value = float(rk.average_precision(pos, neg))
    if st.ctx.weighted:
        # the smallest positive weight of a bin is known only when the bin holds one positive
        pos_rows = st.states["hist"]["n"][0][st.ctx.score_bins:]
        unit: float | np.ndarray = np.where(pos_rows == 1, pos, 0.0)
    else:
        unit = 1.0
    bound = rk.average_precision_bound(pos, neg, unit, st.extras.get("pure"))
    cp, cn = _coarse(st)
    rp, rn = _coarse_replicates(st)
    est = bootstrap(value, rk.average_precision(rp, rn),
                    _boot_method(st, f"{st.ctx.coarse_cells} score cells per class"),
                    st.ctx, 0, 1,
                    centre=float(rk.average_precision(cp, cn)))
    return Estimate(**{**est.__dict__, "note": _bins_note(bound, st)})


# ---- losses -----------------------------------------------------------------------------


def _mean_loss(key: str, upper: float):
    def compute(st: SliceStats) -> Estimate:
        loss = st.states["loss"]
        total, sq = float(loss[key][0, 0]), float(loss[key + "2"][0, 0])
        if st.ctx.weighted:
            wsum = float(_conf(st).sum())
            value = total / wsum
            reps = st.replicate_states["loss"]  # type: ignore[index]
            r = _ratio(reps[key][:, 0], reps["w"][:, 0])
            return bootstrap(value, r, _boot_method(st, "loss sums"), st.ctx, 0, upper)
        n = float(_conf(st).sum())
        mean = total / n
        var = max(sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else math.nan
        ci = t_interval(mean, math.sqrt(var), n, st.ctx.confidence)
        return normal(mean, ci.se, "t", st.ctx, 0, upper, interval=ci)

    return compute


log_loss = _mean_loss("ll", math.inf)
brier_score = _mean_loss("br", 1.0)


def _ece_value(cal_w: np.ndarray, cal_ws: np.ndarray, nb: int) -> np.ndarray:
    """ECE from (..., 2*nb) cells: label 0 cells then label 1 cells."""
    w = cal_w[..., :nb] + cal_w[..., nb:]
    pos = cal_w[..., nb:]
    ws = cal_ws[..., :nb] + cal_ws[..., nb:]
    total = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(pos - ws).sum(axis=-1) / total


def ece(st: SliceStats) -> Estimate:
    nb = st.ctx.calibration_bins
    cal = st.states["cal"]
    w, ws = cal["w"][0], cal["ws"][0]
    value = float(_ece_value(w, ws, nb))
    r = st.replicate_states["cal"]  # type: ignore[index]
    reps = _ece_value(r["w"], r["ws"], nb)
    method = "basic " + _boot_method(st, "(bin, label) cells, cell mean score held")
    # ECE is biased upwards (|noise| adds to every bin), so replicates sit above the
    # estimate; the basic interval (2 value - quantiles) reflects that bias back.
    est = bootstrap(value, reps, method, st.ctx, 0, 1, basic=True)
    note = f"{nb} equal-width bins"
    if est.high < value:
        note += ("; the plug-in ECE is biased upwards (noise adds to every bin), and the "
                 "interval for the population ECE lies below it")
    return Estimate(**{**est.__dict__, "note": note})


# ---- registry ---------------------------------------------------------------------------

_M = [
    MetricDef("accuracy", "binary", accuracy, True, 0, 1, "wilson", "share of correct decisions", True),
    MetricDef("balanced_accuracy", "binary", balanced_accuracy, True, 0, 1, "bootstrap",
              "mean of recall and specificity", True),
    MetricDef("precision", "binary", precision, True, 0, 1, "wilson",
              "share of predicted positives that are positive", True),
    MetricDef("recall", "binary", recall, True, 0, 1, "wilson", "share of positives found", True),
    MetricDef("specificity", "binary", specificity, True, 0, 1, "wilson",
              "share of negatives predicted negative", True),
    MetricDef("f1", "binary", f1, True, 0, 1, "wilson", "harmonic mean of precision and recall", True),
    MetricDef("mcc", "binary", mcc, True, -1, 1, "bootstrap", "Matthews correlation coefficient", True),
    MetricDef("roc_auc", "binary", roc_auc, True, 0, 1, "delong", "area under the ROC curve",
              ranking=True),
    MetricDef("pr_auc", "binary", pr_auc, True, 0, 1, "bootstrap",
              "average precision (area under the precision-recall curve)", ranking=True),
    MetricDef("log_loss", "binary", log_loss, False, 0, math.inf, "t", "mean cross-entropy"),
    MetricDef("brier_score", "binary", brier_score, False, 0, 1, "t", "mean squared probability error"),
    MetricDef("ece", "binary", ece, False, 0, 1, "bootstrap", "expected calibration error"),
    MetricDef("positive_rate", "binary", positive_rate, False, 0, 1, "wilson",
              "share of rows predicted positive", True),
    MetricDef("prevalence", "binary", prevalence, False, 0, 1, "wilson",
              "share of rows with a positive label", True),
]
METRICS = {m.name: guard_total(m, lambda st: float(_conf(st).sum())) for m in _M}


def extras(rows: RowArrays | None, slice_states: list, partition, ctx: Context,
           purity=None, **_: object) -> list[dict]:
    """Per-slice extras: the coarse score map for resampling ranking metrics.

    Cells hold equal shares of the positives (overall): average precision moves with where
    the positives rank, so resolution goes there. Checked against the row bootstrap's
    standard error in tests.
    """
    overall = slice_states[0]["hist"]["w"][0]
    b = ctx.score_bins
    pos = overall[b:]
    mapping = rk.coarse_map(pos if pos.sum() > 0 else overall[:b] + pos, ctx.coarse_cells)
    common = {"coarse_map": mapping}
    if purity is not None and {"roc_auc", "pr_auc"} & set(ctx.metrics):
        common["pure"] = purity(0)
    return [common for _ in slice_states]


def replicate_requests(rows: RowArrays, ctx: Context, extra: dict) -> list[StateRequest]:
    """States under the weighted bootstrap; the histogram uses the coarse score cells."""
    y = rows.y.astype(np.int64)
    s, w = rows.scores[0], rows.w
    assert w is not None
    b, nb, cells = ctx.score_bins, ctx.calibration_bins, ctx.coarse_cells
    fine = np.minimum((s * b).astype(np.int64), b - 1)
    cal = np.minimum((s * nb).astype(np.int64), nb - 1)
    sc = np.clip(s, EPS, 1 - EPS)
    ll = -np.where(y == 1, np.log(sc), np.log(1 - sc))
    return [
        StateRequest("conf", 4, 2 * y + (s >= ctx.threshold), {"w": w}),
        StateRequest("hist", 2 * cells, y * cells + extra["coarse_map"][fine], {"w": w}),
        StateRequest("loss", 1, None, {"ll": w * ll, "br": w * (s - y) ** 2, "w": w}),
        StateRequest("cal", 2 * nb, y * nb + cal, {"w": w, "ws": w * s}),
    ]


def resample_cells(states: dict, ctx: Context, extra: dict) -> dict:
    """Count cells resampled by the unweighted bootstrap, laid out as ``replicate_requests``."""
    b, cells = ctx.score_bins, ctx.coarse_cells
    h = states["hist"]["w"][0]
    mapping = extra["coarse_map"]
    hist = np.concatenate([rk.coarsen(h[:b], mapping, cells), rk.coarsen(h[b:], mapping, cells)])
    cal_w, cal_ws = states["cal"]["w"][0], states["cal"]["ws"][0]
    return {
        "conf": (states["conf"]["n"][0], {}),
        "hist": (hist, {}),
        "cal": (cal_w, {"ws": np.nan_to_num(_ratio(cal_ws, cal_w))}),
    }


def curves(st: SliceStats) -> dict:
    """ROC, precision-recall, reliability and confusion at the threshold, for reports."""
    pos, neg = _hist(st)
    cal = st.states["cal"]
    labels = [str(c) for c in st.ctx.classes] or ["negative", "positive"]
    out = cv.score_curves(pos, neg)
    out["calibration"] = cv.reliability(cal["w"][0], cal["ws"][0], st.ctx.calibration_bins,
                                        st.ctx.confidence)
    out["confusion"] = cv.confusion(_conf(st).reshape(2, 2), labels, st.ctx.threshold)
    return out


TASK = Task("binary", METRICS, numpy_states, sql_states, extras=extras,
            replicate_requests=replicate_requests, resample_cells=resample_cells, curves=curves)
