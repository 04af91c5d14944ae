"""Which paired method compares each registered metric, per task.

Every metric of every task is declared here, with a paired method or, where none is
implemented yet, ``UNPAIRED`` (the difference of the two single-model intervals by MOVER:
valid but conservative, since it ignores the positive correlation of the two models'
errors). The common test suite checks that no registered metric is missing.
"""

from __future__ import annotations

import numpy as np

from assay.compare._methods import (
    DeLong,
    JointCells,
    LossT,
    McNemar,
    PairArrays,
    PairContext,
    R2FromMse,
    RmseDelta,
    _side,
)
from assay.metrics import _ranking as rk
from assay.metrics.binary import EPS, _bal, _ece_value, _f1, _mcc, _ratio
from assay.metrics.multiclass import EPS as MC_EPS
from assay.metrics.multiclass import _prf, _rank_of_true
from assay.metrics.regression import EPS as REG_EPS

#: a metric compared without a paired method (see the module docstring)
UNPAIRED = "unpaired"
#: a metric that does not depend on the model (e.g. prevalence): no comparison row
SKIP = "skip"

TP, FP = 3, 1


def _cached(p: PairArrays, key: str, make) -> np.ndarray:
    if key not in p.cache:
        p.cache[key] = make()
    return p.cache[key]


# ---------------------------------------------------------------------------- binary


def _decision(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    return _cached(p, f"pred_{side}", lambda: _side(p, side)[0] >= ctx.threshold)


def _correct(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    return _decision(p, side, ctx) == (p.y == 1)


def _conf_cell(p: PairArrays, side: str, ctx: PairContext) -> tuple[np.ndarray, int]:
    return 2 * p.y.astype(np.int64) + _decision(p, side, ctx), 4


def _binary_cells(stat, what: str = "the 8 (label, baseline, candidate decision) cells",
                  empty: str = "no rows") -> JointCells:
    return JointCells(_conf_cell, lambda c, s: stat(c), what, empty=empty)


def _precision(c: np.ndarray) -> np.ndarray:
    return _ratio(c[..., TP], c[..., TP] + c[..., FP])


def _coarse_cell(p: PairArrays, side: str, ctx: PairContext) -> tuple[np.ndarray, int]:
    """Label x coarse score cell; cells hold equal shares of this model's positives."""
    def make() -> np.ndarray:
        s = _side(p, side)[0]
        bins = ctx.score_bins
        fine = np.minimum((s * bins).astype(np.int64), bins - 1)
        pos = np.bincount(fine[p.y == 1], minlength=bins).astype(np.float64)
        mapping = rk.coarse_map(pos if pos.sum() > 0 else np.bincount(fine, minlength=bins)
                                .astype(np.float64), ctx.coarse_cells)
        return p.y.astype(np.int64) * ctx.coarse_cells + mapping[fine]

    return _cached(p, f"coarse_{side}", make), 2 * ctx.coarse_cells


def _ap_of(y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> float:
    """Step-wise average precision on exact scores (as scikit-learn), ties grouped.

    Written here because scikit-learn is not a runtime dependency; tests check it against
    ``sklearn.metrics.average_precision_score``."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    ww = np.ones(s.size) if w is None else w[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # end of each tied group
    tp = np.cumsum(ww * (y == 1))[last]
    fp = np.cumsum(ww * (y != 1))[last]
    total = tp[-1] if tp.size else 0.0
    if not total > 0:
        return float("nan")
    gained = np.diff(np.r_[0.0, tp])
    return float((gained / total * tp / (tp + fp)).sum())


def _exact_ap_pair(p: PairArrays, ctx: PairContext) -> tuple[float, float]:
    return _ap_of(p.y, p.a[0], p.w), _ap_of(p.y, p.b[0], p.w)


def _ap_stat(c: np.ndarray, sums: dict) -> np.ndarray:
    cells = c.shape[-1] // 2
    return rk.average_precision(c[..., cells:], c[..., :cells])


def _cal_cell(p: PairArrays, side: str, ctx: PairContext) -> tuple[np.ndarray, int]:
    nb = ctx.calibration_bins
    s = _side(p, side)[0]
    return p.y.astype(np.int64) * nb + np.minimum((s * nb).astype(np.int64), nb - 1), 2 * nb


def _cal_sums(p: PairArrays, side: str, ctx: PairContext) -> dict[str, np.ndarray]:
    return {"ws": _side(p, side)[0]}


def _binary_loss(kind: str):
    def loss(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
        s = _side(p, side)[0]
        if kind == "br":
            return (s - p.y) ** 2
        sc = np.clip(s, EPS, 1 - EPS)
        return -np.where(p.y == 1, np.log(sc), np.log(1 - sc))

    return loss


BINARY = {
    "accuracy": McNemar(_correct),
    "balanced_accuracy": _binary_cells(_bal),
    "precision": _binary_cells(_precision, empty="no predicted positives"),
    "recall": McNemar(lambda p, s, c: _decision(p, s, c), lambda p, c: p.y == 1,
                      "no positive labels in this slice"),
    "specificity": McNemar(lambda p, s, c: ~_decision(p, s, c), lambda p, c: p.y == 0,
                           "no negative labels in this slice"),
    "f1": _binary_cells(_f1, empty="no positive labels and no predicted positives"),
    "mcc": _binary_cells(_mcc),
    "roc_auc": DeLong(),
    "pr_auc": JointCells(_coarse_cell, _ap_stat, "joint coarse score cells", exact=_exact_ap_pair,
                         empty="no positive labels in this slice"),
    "log_loss": LossT(_binary_loss("ll")),
    "brier_score": LossT(_binary_loss("br")),
    "ece": JointCells(_cal_cell, lambda c, s: _ece_value(c, s["ws"], c.shape[-1] // 2),
                      "joint calibration bins", sums=_cal_sums),
    "positive_rate": McNemar(lambda p, s, c: _decision(p, s, c)),
    "prevalence": SKIP,
}


def binary_changed(p: PairArrays, ctx: PairContext) -> np.ndarray:
    return _decision(p, "a", ctx) != _decision(p, "b", ctx)


# ---------------------------------------------------------------------------- multiclass


def _scores(p: PairArrays, side: str) -> np.ndarray:
    return _cached(p, f"scores_{side}", lambda: np.column_stack(_side(p, side)))


def _argmax(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    return _cached(p, f"argmax_{side}", lambda: np.argmax(_scores(p, side), axis=1))


def _mc_correct(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    return _argmax(p, side, ctx) == p.y


def _mc_topk(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    return _rank_of_true(_scores(p, side), p.y.astype(np.int64)) < ctx.top_k


def _mc_cell(p: PairArrays, side: str, ctx: PairContext) -> tuple[np.ndarray, int]:
    k = len(ctx.classes)
    return p.y.astype(np.int64) * k + _argmax(p, side, ctx), k * k


def _mc_averaged(which: int, average: str) -> JointCells:
    def stat(c: np.ndarray, sums: dict) -> np.ndarray:
        k = int(round(c.shape[-1] ** 0.5))
        return _prf(c.reshape(*c.shape[:-1], k, k), average)[which]

    return JointCells(_mc_cell, stat, "joint (label, baseline class, candidate class) cells")


def _mc_log_loss(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
    s = _scores(p, side)
    return -np.log(np.clip(s[np.arange(p.n), p.y.astype(np.int64)], MC_EPS, 1 - MC_EPS))


def _recall_of(c: int) -> McNemar:
    return McNemar(_mc_correct, lambda p, ctx, c=c: p.y == c, "no rows of this class")


MULTICLASS = {
    "accuracy": McNemar(_mc_correct),
    "precision_macro": _mc_averaged(0, "macro"),
    "recall_macro": _mc_averaged(1, "macro"),
    "f1_macro": _mc_averaged(2, "macro"),
    "precision_weighted": _mc_averaged(0, "weighted"),
    "recall_weighted": _mc_averaged(1, "weighted"),
    "f1_weighted": _mc_averaged(2, "weighted"),
    "precision_micro": McNemar(_mc_correct),
    "recall_micro": McNemar(_mc_correct),
    "f1_micro": McNemar(_mc_correct),
    "roc_auc_ovr": UNPAIRED,
    "log_loss": LossT(_mc_log_loss),
    "top_k_accuracy": McNemar(_mc_topk),
    # one comparison per class: recall_per_class[<class>]
    "recall_per_class": "per_class",
}


def multiclass_changed(p: PairArrays, ctx: PairContext) -> np.ndarray:
    return _argmax(p, "a", ctx) != _argmax(p, "b", ctx)


# ---------------------------------------------------------------------------- regression


def _err(p: PairArrays, side: str) -> np.ndarray:
    return _cached(p, f"err_{side}", lambda: _side(p, side)[0] - p.y)


def _reg_loss(kind: str):
    def loss(p: PairArrays, side: str, ctx: PairContext) -> np.ndarray:
        e = _err(p, side)
        if kind == "e":
            return e
        if kind == "e2":
            return e * e
        if kind == "ae":
            return np.abs(e)
        return np.abs(e) / np.maximum(np.abs(p.y), REG_EPS)

    return loss


REGRESSION = {
    "mae": LossT(_reg_loss("ae")),
    "rmse": RmseDelta(_reg_loss("e2")),
    "mse": LossT(_reg_loss("e2")),
    "r2": R2FromMse(_reg_loss("e2")),
    "mape": LossT(_reg_loss("ape")),
    "median_ae": UNPAIRED,
    "mean_error": LossT(_reg_loss("e")),
}

#: task -> metric -> paired method (or UNPAIRED / SKIP / "per_class")
PAIRED = {"binary": BINARY, "multiclass": MULTICLASS, "regression": REGRESSION}
#: task -> rows whose decision differs between the two models (prediction churn)
CHANGED = {"binary": binary_changed, "multiclass": multiclass_changed}


def register_paired(task: str, metric: str, method) -> None:
    """Declare how a (new) metric is compared; tasks added with ``register_task`` call this."""
    PAIRED.setdefault(task, {})[metric] = method


def per_class_methods(classes: list) -> dict[str, McNemar]:
    return {f"recall_per_class[{c}]": _recall_of(i) for i, c in enumerate(classes)}
