"""Multiclass classification: a K x K confusion matrix, per-class score histograms, losses.

Intervals: accuracy, micro averages, top-k accuracy and per-class recall are proportions
(Wilson); macro and weighted averages of precision, recall and F1 resample the confusion
cells (multinomial, or Poisson with weights); log loss uses t; one-vs-rest macro ROC AUC
uses a DeLong-type variance from each row's influence (placement values), which accounts
for the correlation between the per-class AUCs.
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
)
from assay.metrics._task import RowArrays, Task
from assay.stats import kish_effective_size, t_interval

EPS = float(np.finfo(np.float64).eps)


def _rank_of_true(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """0-based rank of the true class as scikit-learn's top_k_accuracy_score orders classes:
    by decreasing score, ties broken towards the larger class index."""
    k = scores.shape[1]
    s_true = scores[np.arange(y.size), y]
    above = (scores > s_true[:, None]).sum(axis=1)
    tie_after = ((scores == s_true[:, None]) & (np.arange(k)[None, :] > y[:, None])).sum(axis=1)
    return above + tie_after


def numpy_states(rows: RowArrays, ctx: Context) -> list[StateRequest]:
    y = rows.y.astype(np.int64)
    k, b = len(ctx.classes), ctx.score_bins
    scores = np.column_stack(rows.scores)
    pred = np.argmax(scores, axis=1)
    w = rows.w
    p_true = np.clip(scores[np.arange(y.size), y], EPS, 1 - EPS)
    ll = -np.log(p_true)
    rank = np.minimum(_rank_of_true(scores, y), k - 1)

    def wt(v):
        return v if w is None else (w if v is None else w * v)

    conf = {"n": None} | ({"w": w, "w2": w * w} if w is not None else {})
    reqs = [
        StateRequest("conf", k * k, y * k + pred, conf),
        StateRequest("loss", 1, None, {"ll": wt(ll), "ll2": wt(ll * ll)}),
        StateRequest("rank", k, rank, {"w": wt(None)} | ({"w2": w * w} if w is not None else {})),
    ]
    for c in range(k):
        fine = np.minimum((rows.scores[c] * b).astype(np.int64), b - 1)
        reqs.append(StateRequest(f"hist{c}", 2 * b, (y == c) * b + fine, {"w": wt(None)}))
    return reqs


def sql_states(cols: list[str], ctx: Context) -> list[StateRequest]:
    k, b = len(ctx.classes), ctx.score_bins
    pred = "(" + " ".join(
        f"CASE WHEN {c} = greatest({', '.join(cols)}) THEN {j} ELSE" for j, c in enumerate(cols)
    ) + f" {k - 1}" + " END" * k + ")"
    p_true = "(" + " ".join(f"CASE WHEN __y = {j} THEN {c} ELSE" for j, c in enumerate(cols)) \
        + " NULL" + " END" * k + ")"
    ll = f"(-ln(greatest(least({p_true}, {1 - EPS!r}), {EPS!r})))"
    terms = []
    for j, c in enumerate(cols):
        terms.append(f"(({c} > {p_true})::INT + (({c} = {p_true}) AND (__y < {j}))::INT)")
    rank = f"least({' + '.join(terms)}, {k - 1})"

    def wt(v):
        return v if not ctx.weighted else ("__w" if v is None else f"(__w * {v})")

    conf: dict[str, str | None] = {"n": None}
    if ctx.weighted:
        conf |= {"w": "__w", "w2": "(__w * __w)"}
    rank_values: dict[str, str | None] = {"w": wt(None)}
    if ctx.weighted:
        rank_values["w2"] = "(__w * __w)"
    reqs = [
        StateRequest("conf", k * k, f"(__y * {k} + {pred})", conf),
        StateRequest("loss", 1, None, {"ll": wt(ll), "ll2": wt(f"({ll} * {ll})")}),
        StateRequest("rank", k, rank, rank_values),
    ]
    for j, c in enumerate(cols):
        fine = f"least(floor({c} * {b}), {b - 1})::BIGINT"
        reqs.append(StateRequest(f"hist{j}", 2 * b, f"((__y = {j})::INT * {b} + {fine})", {"w": wt(None)}))
    return reqs


def _conf(st: SliceStats) -> np.ndarray:
    k = len(st.ctx.classes)
    c = st.states["conf"]
    return (c["w"] if st.ctx.weighted else c["n"])[0].reshape(k, k)


def _conf_reps(st: SliceStats) -> np.ndarray:
    k = len(st.ctx.classes)
    return st.replicate_states["conf"]["w"].reshape(-1, k, k)  # type: ignore[index]


def _method(st: SliceStats) -> str:
    if st.ctx.weighted:
        return f"poisson-bootstrap ({st.ctx.replicates} reps, one pass over weighted rows)"
    return f"poisson-bootstrap over confusion cells ({st.ctx.replicates} reps)"


def _prf(c: np.ndarray, average: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 averaged as scikit-learn does with zero_division=0."""
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    pred = c.sum(axis=-2)
    true = c.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(pred > 0, tp / np.where(pred > 0, pred, 1), 0.0)
        r = np.where(true > 0, tp / np.where(true > 0, true, 1), 0.0)
        f = np.where(pred + true > 0, 2 * tp / np.where(pred + true > 0, pred + true, 1), 0.0)
    if average == "macro":
        return p.mean(axis=-1), r.mean(axis=-1), f.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):  # a replicate may draw no row: NaN
        support = true / true.sum(axis=-1, keepdims=True)
    return (p * support).sum(axis=-1), (r * support).sum(axis=-1), (f * support).sum(axis=-1)


def _averaged(which: int, average: str):
    def compute(st: SliceStats) -> Estimate:
        c = _conf(st)
        value = float(_prf(c, average)[which])
        reps = _prf(_conf_reps(st), average)[which]
        est = bootstrap(value, reps, _method(st), st.ctx, 0, 1)
        absent = int(((c.sum(axis=0) == 0) | (c.sum(axis=1) == 0)).sum())
        if absent:
            return Estimate(**{**est.__dict__, "note": f"{absent} class(es) never predicted or "
                               "absent: their ill-defined terms count as 0 (zero_division=0)"})
        return est

    return compute


def accuracy(st: SliceStats) -> Estimate:
    c = _conf(st)
    total = float(c.sum())
    conf = st.states["conf"]
    n_eff = kish_effective_size(float(conf["w"][0].sum()), float(conf["w2"][0].sum())) \
        if st.ctx.weighted else total
    return proportion(float(np.trace(c)) / total, n_eff, st.ctx)


def top_k_accuracy(st: SliceStats) -> Estimate:
    r = st.states["rank"]
    k = min(st.ctx.top_k, len(st.ctx.classes))
    w = r["w"][0]
    n_eff = kish_effective_size(float(w.sum()), float(r["w2"][0].sum())) if st.ctx.weighted \
        else float(w.sum())
    est = proportion(float(w[:k].sum() / w.sum()), n_eff, st.ctx)
    return Estimate(**{**est.__dict__, "note": f"k={k}"})


def recall_per_class(st: SliceStats) -> dict[str, Estimate]:
    c = _conf(st)
    conf = st.states["conf"]
    k = len(st.ctx.classes)
    out = {}
    for j, cls in enumerate(st.ctx.classes):
        support = float(c[j].sum())
        if support <= 0:
            out[str(cls)] = Estimate.undefined(f"no rows of class {cls!r} in this slice", "wilson")
            continue
        if st.ctx.weighted:
            cells = slice(j * k, (j + 1) * k)
            n_eff = kish_effective_size(float(conf["w"][0][cells].sum()), float(conf["w2"][0][cells].sum()))
        else:
            n_eff = support
        out[str(cls)] = proportion(float(c[j, j]) / support, n_eff, st.ctx)
    return out


def log_loss(st: SliceStats) -> Estimate:
    loss = st.states["loss"]
    total, sq = float(loss["ll"][0, 0]), float(loss["ll2"][0, 0])
    wsum = float(_conf(st).sum())
    value = total / wsum
    if st.ctx.weighted:
        r = st.replicate_states["loss"]  # type: ignore[index]
        with np.errstate(invalid="ignore", divide="ignore"):  # a replicate may draw no row
            reps = r["ll"][:, 0] / r["w"][:, 0]
        return bootstrap(value, reps, _method(st), st.ctx, 0)
    n = wsum
    var = max(sq - n * value * value, 0.0) / (n - 1) if n > 1 else math.nan
    ci = t_interval(value, math.sqrt(var), n, st.ctx.confidence)
    return normal(value, ci.se, "t", st.ctx, 0, interval=ci)


def _hists(st: SliceStats) -> list[tuple[np.ndarray, np.ndarray]]:
    b = st.ctx.score_bins
    return [(st.states[f"hist{c}"]["w"][0][b:], st.states[f"hist{c}"]["w"][0][:b])
            for c in range(len(st.ctx.classes))]


def roc_auc_ovr(st: SliceStats) -> Estimate:
    hists = _hists(st)
    absent = [str(st.ctx.classes[c]) for c, (p, n) in enumerate(hists) if p.sum() <= 0 or n.sum() <= 0]
    if absent:
        return Estimate.undefined(f"class(es) {', '.join(absent)} absent (or alone) in this slice: "
                                  "one-vs-rest AUC is undefined for them")
    value = float(np.mean([rk.auc(p, n) for p, n in hists]))
    pure = st.extras.get("pure") or [None] * len(hists)
    bound = float(np.mean([rk.auc_bound(p, n, u) for (p, n), u in zip(hists, pure, strict=True)]))
    note = (f"binned scores ({st.ctx.score_bins} bins): exact (one score value per bin)"
            if bound == 0 else
            f"binned scores ({st.ctx.score_bins} bins): |value - exact| <= {bound:.2g}")
    se = st.extras.get("auc_se", math.nan)
    if not math.isfinite(se):
        return Estimate(value, method="delong-influence", note=note + "; no interval", kind="normal")
    est = normal(value, se, "delong-influence", st.ctx, 0, 1)
    return Estimate(**{**est.__dict__, "note": note})


_M = [
    MetricDef("accuracy", "multiclass", accuracy, True, 0, 1, "wilson",
              "share of correct argmax predictions", True),
    MetricDef("precision_macro", "multiclass", _averaged(0, "macro"), True, 0, 1, "bootstrap",
              "unweighted mean of per-class precision", True),
    MetricDef("recall_macro", "multiclass", _averaged(1, "macro"), True, 0, 1, "bootstrap",
              "unweighted mean of per-class recall", True),
    MetricDef("f1_macro", "multiclass", _averaged(2, "macro"), True, 0, 1, "bootstrap",
              "unweighted mean of per-class F1", True),
    MetricDef("precision_weighted", "multiclass", _averaged(0, "weighted"), True, 0, 1, "bootstrap",
              "support-weighted mean of per-class precision", True),
    MetricDef("recall_weighted", "multiclass", _averaged(1, "weighted"), True, 0, 1, "bootstrap",
              "support-weighted mean of per-class recall", True),
    MetricDef("f1_weighted", "multiclass", _averaged(2, "weighted"), True, 0, 1, "bootstrap",
              "support-weighted mean of per-class F1", True),
    MetricDef("precision_micro", "multiclass", accuracy, True, 0, 1, "wilson",
              "micro-averaged precision (equals accuracy for single-label data)", True),
    MetricDef("recall_micro", "multiclass", accuracy, True, 0, 1, "wilson",
              "micro-averaged recall (equals accuracy for single-label data)", True),
    MetricDef("f1_micro", "multiclass", accuracy, True, 0, 1, "wilson",
              "micro-averaged F1 (equals accuracy for single-label data)", True),
    MetricDef("roc_auc_ovr", "multiclass", roc_auc_ovr, True, 0, 1, "delong-influence",
              "one-vs-rest ROC AUC, macro average", ranking=True),
    MetricDef("log_loss", "multiclass", log_loss, False, 0, math.inf, "t", "mean cross-entropy"),
    MetricDef("top_k_accuracy", "multiclass", top_k_accuracy, True, 0, 1, "wilson",
              "share of rows whose label is among the k highest scores", True),
    MetricDef("recall_per_class", "multiclass", recall_per_class, True, 0, 1, "wilson",
              "recall of each class (one row per class)", True),
]
# recall_per_class reports each class, undefined when the class has no weight
METRICS = {m.name: m if m.name == "recall_per_class" else
           guard_total(m, lambda st: float(_conf(st).sum())) for m in _M}


def _influence_se(rows: RowArrays, idx: np.ndarray | None, ctx: Context) -> float:
    """Standard error of the macro one-vs-rest AUC from each row's influence.

    For class c, a positive's influence is (V10 - AUC_c) / P_c and a negative's
    (V01 - AUC_c) / N_c, with V the placement values (DeLong). The macro AUC's influence is
    their mean over classes; its variance is the (weighted) sum of squares.
    """
    b, k = ctx.score_bins, len(ctx.classes)
    y = rows.y if idx is None else rows.y[idx]
    w = None if rows.w is None else (rows.w if idx is None else rows.w[idx])
    infl = np.zeros(y.size)
    for c in range(k):
        s = rows.scores[c] if idx is None else rows.scores[c][idx]
        fine = np.minimum((s * b).astype(np.int64), b - 1)
        is_pos = y == c
        pos = np.bincount(fine[is_pos], weights=None if w is None else w[is_pos], minlength=b)
        neg = np.bincount(fine[~is_pos], weights=None if w is None else w[~is_pos], minlength=b)
        p, n = pos.sum(), neg.sum()
        if p <= 0 or n <= 0:
            return math.nan
        a = float(rk.auc(pos, neg))
        v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n
        v01 = (pos.sum() - np.cumsum(pos) + 0.5 * pos) / p
        infl += np.where(is_pos, (v10[fine] - a) / p, (v01[fine] - a) / n)
    infl /= k
    return float(np.sqrt(np.sum(infl * infl) if w is None else np.sum((w * infl) ** 2)))


def extras(rows: RowArrays | None, slice_states: list, partition, ctx: Context,
           slice_rows=None, purity=None, **_: object) -> list[dict]:
    """Per slice: the influence SE of the macro AUC for the slice and for the rest of the
    rows (``auc_se_rest``, for the gap); per model: which score bins are pure."""
    out: list[dict] = [{} for _ in slice_states]
    if "roc_auc_ovr" not in ctx.metrics or rows is None:
        return out
    pure = [purity(c) for c in range(len(ctx.classes))] if purity is not None else None
    n = rows.y.size
    for i, idx in enumerate(slice_rows()):
        if pure is not None:
            out[i]["pure"] = pure
        if idx is not None and idx.size == 0:
            continue
        out[i]["auc_se"] = _influence_se(rows, idx, ctx)
        if idx is not None and idx.size < n:
            rest = np.ones(n, dtype=bool)
            rest[idx] = False
            out[i]["auc_se_rest"] = _influence_se(rows, np.flatnonzero(rest), ctx)
    return out


def needs_rows(ctx: Context, metrics: list[str]) -> bool:
    return "roc_auc_ovr" in metrics


def replicate_requests(rows: RowArrays, ctx: Context, extra: dict) -> list[StateRequest]:
    y = rows.y.astype(np.int64)
    w = rows.w
    assert w is not None
    k = len(ctx.classes)
    scores = np.column_stack(rows.scores)
    ll = -np.log(np.clip(scores[np.arange(y.size), y], EPS, 1 - EPS))
    return [StateRequest("conf", k * k, y * k + np.argmax(scores, axis=1), {"w": w}),
            StateRequest("loss", 1, None, {"ll": w * ll, "w": w})]


def resample_cells(states: dict, ctx: Context, extra: dict) -> dict:
    return {"conf": (states["conf"]["n"][0], {})}


#: One-vs-rest score curves are drawn for at most this many classes (the matrix for any).
CURVE_CLASSES = 12


def curves(st: SliceStats) -> dict:
    """The confusion matrix and, for up to CURVE_CLASSES classes, one-vs-rest ROC and PR."""
    labels = [str(c) for c in st.ctx.classes]
    out: dict = {"confusion": cv.confusion(_conf(st), labels)}
    if len(labels) <= CURVE_CLASSES:
        b = st.ctx.score_bins
        per_class = {}
        for c, label in enumerate(labels):
            h = st.states.get(f"hist{c}")
            if h is not None:
                per_class[label] = cv.score_curves(h["w"][0][b:], h["w"][0][:b])
        out["one_vs_rest"] = {k: v for k, v in per_class.items() if v}
    return out


TASK = Task("multiclass", METRICS, numpy_states, sql_states, extras=extras, needs_rows=needs_rows,
            replicate_requests=replicate_requests, resample_cells=resample_cells, curves=curves)
