"""Independent reference implementations of every registered metric, and test data.

Each reference is a plain function ``ref(case) -> float`` (or ``{class: float}`` for a
per-class metric) computed from the rows with scikit-learn, NumPy or SciPy; none of them
imports assay. ``REFERENCES`` maps ``(task, metric name)`` of every registered metric to
its reference; ``test_common.py`` fails, with the line to paste, when a metric is missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn import metrics as skm

EPS = float(np.finfo(np.float64).eps)


@dataclass
class Case:
    """Rows of one evaluation: coded labels (binary 0/1, multiclass 0..k-1, regression
    floats), scores (binary: P(positive), multiclass: (n, k), regression: predictions)
    and optional weights, with the settings the metrics depend on."""

    task: str
    y: np.ndarray
    s: np.ndarray
    w: np.ndarray | None = None
    threshold: float = 0.5
    top_k: int = 2
    calibration_bins: int = 15
    classes: list = field(default_factory=list)

    @property
    def labels(self) -> list[int]:
        return list(range(self.s.shape[1]))

    @property
    def pred(self) -> np.ndarray:
        if self.task == "binary":
            return (self.s >= self.threshold).astype(np.int64)
        return np.argmax(self.s, axis=1)

    def take(self, idx: np.ndarray) -> Case:
        return Case(self.task, self.y[idx], self.s[idx], None if self.w is None else self.w[idx],
                    self.threshold, self.top_k, self.calibration_bins, self.classes)


def quiet(fn: Callable[..., float]) -> Callable[..., float]:
    """scikit-learn warns on ill-defined values; the references return them silently."""

    def wrapped(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a, **k)

    return wrapped


# ---- independent computations (no scikit-learn function exists) -----------------------


def ece_reference(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None,
                  bins: int = 15) -> float:
    """Expected calibration error: equal-width bins, bin = min(floor(s * bins), bins - 1),
    ECE = sum_b |sum_b w*y - sum_b w*s| / sum w."""
    w = np.ones_like(s, dtype=np.float64) if w is None else w
    b = np.minimum(np.floor(s * bins).astype(np.int64), bins - 1)
    total = 0.0
    for k in range(bins):
        m = b == k
        total += abs(float(np.sum(w[m] * y[m])) - float(np.sum(w[m] * s[m])))
    return total / float(np.sum(w))


def ece_calibration_curve(y: np.ndarray, s: np.ndarray, bins: int = 15) -> float:
    """ECE from scikit-learn's calibration_curve (unweighted; scores off the bin edges)."""
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(y, s, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.histogram(s, bins=edges)[0]
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(prob_true - prob_pred)) / s.size)


# ---- references per task ------------------------------------------------------------------

def _binary() -> dict[str, Callable[[Case], float]]:
    return {
        "accuracy": lambda c: skm.accuracy_score(c.y, c.pred, sample_weight=c.w),
        "balanced_accuracy": quiet(lambda c: skm.balanced_accuracy_score(
            c.y, c.pred, sample_weight=c.w)),
        "precision": quiet(lambda c: skm.precision_score(c.y, c.pred, sample_weight=c.w)),
        "recall": quiet(lambda c: skm.recall_score(c.y, c.pred, sample_weight=c.w)),
        "specificity": quiet(lambda c: skm.recall_score(
            c.y, c.pred, pos_label=0, sample_weight=c.w)),
        "f1": quiet(lambda c: skm.f1_score(c.y, c.pred, sample_weight=c.w)),
        "mcc": quiet(lambda c: skm.matthews_corrcoef(c.y, c.pred, sample_weight=c.w)),
        "roc_auc": lambda c: skm.roc_auc_score(c.y, c.s, sample_weight=c.w),
        "pr_auc": lambda c: skm.average_precision_score(c.y, c.s, sample_weight=c.w),
        "log_loss": lambda c: skm.log_loss(c.y, c.s, sample_weight=c.w, labels=[0, 1]),
        "brier_score": lambda c: skm.brier_score_loss(c.y, c.s, sample_weight=c.w, labels=[0, 1]),
        "ece": lambda c: ece_reference(c.y, c.s, c.w, c.calibration_bins),
        "positive_rate": lambda c: float(np.average(c.pred, weights=c.w)),
        "prevalence": lambda c: float(np.average(c.y, weights=c.w)),
    }


def _prf(fn, average: str):
    return quiet(lambda c: fn(c.y, c.pred, average=average, labels=c.labels, zero_division=0,
                              sample_weight=c.w))


def _recall_per_class(c: Case) -> dict[str, float]:
    r = quiet(skm.recall_score)(c.y, c.pred, average=None, labels=c.labels, zero_division=0,
                                sample_weight=c.w)
    names = c.classes or c.labels
    return {str(names[j]): float(r[j]) for j in c.labels}


def _roc_auc_ovr(c: Case) -> float:
    if len(c.labels) > 2:
        return skm.roc_auc_score(c.y, c.s, multi_class="ovr", labels=c.labels, sample_weight=c.w)
    # scikit-learn treats two classes as binary; one-vs-rest is the mean of the two AUCs
    return float(np.mean([skm.roc_auc_score(c.y == j, c.s[:, j], sample_weight=c.w)
                          for j in c.labels]))


def _multiclass() -> dict[str, Callable[[Case], float]]:
    out: dict[str, Callable[[Case], float]] = {
        "accuracy": lambda c: skm.accuracy_score(c.y, c.pred, sample_weight=c.w),
    }
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("f1", skm.f1_score)):
        for average in ("macro", "weighted", "micro"):
            out[f"{name}_{average}"] = _prf(fn, average)
    out |= {
        "roc_auc_ovr": _roc_auc_ovr,
        "log_loss": lambda c: skm.log_loss(c.y, c.s, labels=c.labels, sample_weight=c.w),
        "top_k_accuracy": quiet(lambda c: skm.top_k_accuracy_score(
            c.y, c.s, k=c.top_k, labels=c.labels, sample_weight=c.w)),
        "recall_per_class": _recall_per_class,
    }
    return out


def _regression() -> dict[str, Callable[[Case], float]]:
    return {
        "mae": lambda c: skm.mean_absolute_error(c.y, c.s, sample_weight=c.w),
        "rmse": lambda c: skm.root_mean_squared_error(c.y, c.s, sample_weight=c.w),
        "mse": lambda c: skm.mean_squared_error(c.y, c.s, sample_weight=c.w),
        "r2": lambda c: skm.r2_score(c.y, c.s, sample_weight=c.w),
        "mape": lambda c: skm.mean_absolute_percentage_error(c.y, c.s, sample_weight=c.w),
        "median_ae": lambda c: skm.median_absolute_error(c.y, c.s, sample_weight=c.w),
        "mean_error": lambda c: float(np.average(c.s - c.y, weights=c.w)),
    }


#: (task, metric) -> reference. Every registered metric must appear here.
REFERENCES: dict[tuple[str, str], Callable[[Case], float]] = {
    **{("binary", k): f for k, f in _binary().items()},
    **{("multiclass", k): f for k, f in _multiclass().items()},
    **{("regression", k): f for k, f in _regression().items()},
}


# ---- data ---------------------------------------------------------------------------------


def binary_case(rng: np.random.Generator, n: int, *, decimals: int | None = None,
                weighted: bool = False, prevalence: float = 0.4) -> Case:
    """Informative scores in [0, 1] (some exactly 0 and 1), optionally on a grid."""
    y = (rng.random(n) < prevalence).astype(np.int64)
    s = np.clip(rng.beta(2, 3, n) * 0.7 + 0.3 * y * rng.random(n), 0, 1)
    s[: min(n, 2)] = [0.0, 1.0][: min(n, 2)]
    if decimals is not None:
        s = np.round(s, decimals)
    w = rng.exponential(1.0, n) if weighted else None
    return Case("binary", y, s, w)


def multiclass_case(rng: np.random.Generator, n: int, k: int = 4, *, grid: int | None = None,
                    weighted: bool = False) -> Case:
    """Softmax probabilities; with ``grid`` they are multinomial(grid)/grid (rows sum to 1,
    scores on a coarse grid with many ties)."""
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    if grid is not None:
        p = np.vstack([rng.multinomial(grid, row) for row in p]) / grid
    w = rng.exponential(1.0, n) if weighted else None
    return Case("multiclass", y, p, w, classes=list(range(k)))


def regression_case(rng: np.random.Generator, n: int, *, decimals: int | None = None,
                    weighted: bool = False) -> Case:
    """Skewed labels away from 0 (MAPE stays moderate) and heavy-tailed errors."""
    y = 2.0 + rng.gamma(2.0, 1.5, n)
    p = y + 0.2 + rng.standard_t(5, n) * 0.7
    if decimals is not None:
        y, p = np.round(y, decimals), np.round(p, decimals)
    w = rng.exponential(1.0, n) if weighted else None
    return Case("regression", y, p, w)


MAKERS = {"binary": binary_case, "multiclass": multiclass_case, "regression": regression_case}


# ---- running assay on a case ------------------------------------------------------------


def evaluate_case(case: Case, groups: np.ndarray | None = None, *, weighted: bool | None = None,
                  engine: str = "numpy", seed: int = 0, bootstrap: int = 200,
                  metrics: list[str] | str = "all", ids: np.ndarray | None = None, **spec):
    """``assay.evaluate`` on a case, with slices by ``groups`` (column ``g``) and, given
    ``ids``, an id column (which keys the weighted bootstrap's row multipliers)."""
    import pandas as pd

    import assay

    weighted = case.w is not None if weighted is None else weighted
    data = {"y": case.y}
    if ids is not None:
        data["id"] = ids
        spec.setdefault("id", "id")
    if groups is not None:
        data["g"] = groups
    if weighted:
        data["w"] = case.w if case.w is not None else np.ones(case.y.size)
    kw = dict(spec)
    if case.task == "multiclass":
        kw.setdefault("classes", case.classes or case.labels)
        kw.setdefault("top_k", case.top_k)
    if case.task == "binary":
        kw.setdefault("threshold", case.threshold)
    if weighted:
        kw["weight"] = "w"
    if groups is not None:
        kw["slices"] = [{"column": "g"}]
    return assay.evaluate(data=pd.DataFrame(data), task=case.task, label="y",
                          predictions={"m": case.s}, metrics=metrics, seed=seed,
                          bootstrap=bootstrap, min_slice_size=1, engine=engine,
                          calibration_bins=case.calibration_bins, **kw)


def metric_rows(table, name: str):
    """The result rows of one registered metric (per-class metrics expand to ``name[c]``)."""
    hit = (table.metric == name) | table.metric.str.startswith(name + "[")
    return table[hit]


def reference_values(ref: Callable[[Case], float], case: Case, name: str) -> dict[str, float]:
    """Reference value(s) keyed like the result table's ``metric`` column."""
    v = ref(case)
    if isinstance(v, dict):
        return {f"{name}[{k}]": float(x) for k, x in v.items()}
    return {name: float(v)}
