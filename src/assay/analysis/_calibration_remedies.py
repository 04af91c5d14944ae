"""What-if recalibration maps for the calibration analysis, fitted with cross-fitting.

* **Platt scaling** (Platt 1999): ``sigmoid(a * logit(p) + b)``, the weighted maximum-
  likelihood logistic regression of y on logit(p) (no prior on a, b; Platt's target
  smoothing is not applied), fitted by Newton's method with backtracking. Probabilities
  are clipped to [eps, 1 - eps] before the logit, as scikit-learn's log_loss clips.
* **Isotonic regression** (Zadrozny & Elkan 2002): the weighted increasing least-squares
  fit of y on p (pool-adjacent-violators, ``scipy.optimize.isotonic_regression``) on the
  distinct scores (tied scores pooled first), predicted by linear interpolation between
  the fitted points and clipped beyond them, as scikit-learn's
  ``IsotonicRegression(out_of_bounds="clip")``. The fit is a step function, so many rows
  get tied scores.
* **Temperature scaling** (Guo et al. 2017): one T > 0 minimising the weighted log loss of
  ``softmax(log p / T)`` (binary: ``sigmoid(logit(p) / T)``); the loss is convex in 1/T,
  whose root of the derivative is found by safeguarded Newton steps inside a bracket.

Multiclass Platt and isotonic maps are one-vs-rest per class, then each row is
renormalised to sum to 1 (a row whose maps all give 0 becomes uniform), as scikit-learn's
``CalibratedClassifierCV`` does.

Cross-fitting: each row's fold is a seeded hash of its key modulo ``folds`` (independent of
row order); a map is fitted on the other folds and applied to the held-out fold, so no row
is scored by a map fitted on itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import isotonic_regression
from scipy.special import expit

from assay.engine._replicates import mix64

EPS = float(np.finfo(np.float64).eps)  # scikit-learn clips probabilities to [eps, 1 - eps]
#: The largest 1/T tried: beyond it the scores separate the classes (T -> 0).
_BETA_MAX = 1e6


class Undefined(Exception):
    """A remedy cannot be fitted on these rows; the message is the reason."""


def assign_folds(keys: np.ndarray, folds: int, seed: tuple[int, ...]) -> np.ndarray:
    """Fold of each row: splitmix64 of (key xor a seeded salt) modulo ``folds``."""
    salt = np.random.default_rng(list(seed)).integers(0, 1 << 63, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = mix64(np.asarray(keys, dtype=np.uint64) ^ salt)
    return (h % np.uint64(folds)).astype(np.int64)


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of p clipped to [eps, 1 - eps]."""
    c = np.clip(p, EPS, 1 - EPS)
    return np.log(c) - np.log1p(-c)


# ---- Platt ---------------------------------------------------------------------------------


def _platt_loss(theta: np.ndarray, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    t = theta[0] * z + theta[1]
    return float(np.sum(w * (np.logaddexp(0.0, t) - y * t)) / w.sum())


def fit_platt(z: np.ndarray, y: np.ndarray, w: np.ndarray, max_iter: int = 200) -> tuple[float, float, bool]:
    """(a, b, converged) of the weighted logistic regression of y on z by Newton's method."""
    theta = np.array([1.0, 0.0])
    wn = w / w.sum()
    x = np.column_stack([z, np.ones_like(z)])
    loss = _platt_loss(theta, z, y, w)
    for _ in range(max_iter):
        q = expit(x @ theta)
        grad = x.T @ (wn * (q - y))
        if np.max(np.abs(grad)) < 1e-12:
            return float(theta[0]), float(theta[1]), True
        hess = (x * (wn * q * (1 - q))[:, None]).T @ x
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            cand = theta - t * step
            new = _platt_loss(cand, z, y, w)
            if new <= loss + 1e-4 * t * float(grad @ -step) or new <= loss:
                break
            t /= 2
        if t <= 1e-12 or np.max(np.abs(t * step)) < 1e-14:
            return float(theta[0]), float(theta[1]), np.max(np.abs(grad)) < 1e-8
        theta, loss = cand, new
    return float(theta[0]), float(theta[1]), False


def apply_platt(z: np.ndarray, a: float, b: float) -> np.ndarray:
    return expit(a * z + b)


# ---- isotonic ------------------------------------------------------------------------------


def fit_isotonic(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct scores, fitted values): the weighted increasing fit on pooled ties."""
    keep = w > 0
    x, inv = np.unique(s[keep], return_inverse=True)
    ws = np.bincount(inv, w[keep], x.size)
    ybar = np.bincount(inv, w[keep] * y[keep], x.size) / ws
    return x, isotonic_regression(ybar, weights=ws, increasing=True).x


def apply_isotonic(s: np.ndarray, x: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    return np.interp(s, x, fitted)


# ---- temperature ---------------------------------------------------------------------------


def _softmax(t: np.ndarray) -> np.ndarray:
    e = np.exp(t - t.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _temperature_derivatives(z: np.ndarray, y: np.ndarray, w: np.ndarray,
                             beta: float) -> tuple[float, float]:
    """First and second derivative in beta = 1/T of the mean weighted log loss; ``z`` is
    logit(p) (binary, (n,)) or log p ((n, k), y class codes)."""
    wn = w / w.sum()
    if z.ndim == 1:
        q = expit(beta * z)
        return float(np.sum(wn * (q - y) * z)), float(np.sum(wn * q * (1 - q) * z * z))
    q = _softmax(beta * z)
    mean = np.sum(q * z, axis=1)
    var = np.sum(q * z * z, axis=1) - mean * mean
    zy = z[np.arange(y.size), y]
    return float(np.sum(wn * (mean - zy))), float(np.sum(wn * np.maximum(var, 0.0)))


def fit_temperature(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """T minimising the weighted log loss (inf when 1/T = 0 is optimal: the scores carry
    no usable ranking; tiny when they separate the classes). The loss is convex in
    beta = 1/T: Newton steps on its derivative, kept inside a bracket by bisection."""
    if _temperature_derivatives(z, y, w, 0.0)[0] >= 0:
        return math.inf
    lo, hi = 0.0, 1.0
    while _temperature_derivatives(z, y, w, hi)[0] < 0:
        lo, hi = hi, hi * 2
        if hi > _BETA_MAX:
            return 1 / _BETA_MAX
    beta = hi
    for _ in range(100):
        g, h = _temperature_derivatives(z, y, w, beta)
        if abs(g) <= 1e-14:
            break
        lo, hi = (beta, hi) if g < 0 else (lo, beta)
        nxt = beta - g / h if h > 0 else math.nan
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        done = abs(nxt - beta) <= 1e-13 * beta
        beta = nxt
        if done:
            break
    return 1 / beta


def apply_temperature(z: np.ndarray, temp: float) -> np.ndarray:
    beta = 0.0 if math.isinf(temp) else 1 / temp
    if z.ndim == 1:
        return expit(beta * z)
    return _softmax(beta * z)


# ---- cross-fitting -------------------------------------------------------------------------


@dataclass
class Fitted:
    """Cross-fitted scores of one remedy and what the fits were."""

    scores: np.ndarray
    params: dict[str, list[float]] = field(default_factory=dict)
    #: what went wrong -> the folds it happened in
    warnings: dict[str, list[int]] = field(default_factory=dict)

    def warn(self, what: str, fold: int) -> None:
        folds = self.warnings.setdefault(what, [])
        if fold not in folds:
            folds.append(fold)

    def warning_notes(self) -> list[str]:
        return [f"fold{'s' if len(f) > 1 else ''} {', '.join(map(str, f))}: {what}"
                for what, f in self.warnings.items()]


def _binary_fit(remedy: str, s: np.ndarray, y: np.ndarray, w: np.ndarray, out: Fitted,
                fold: int) -> Callable[[np.ndarray], np.ndarray]:
    if remedy == "isotonic":
        x, fitted = fit_isotonic(s, y.astype(np.float64), w)
        out.params.setdefault("levels", []).append(float(np.unique(fitted).size))
        return lambda t: apply_isotonic(t, x, fitted)
    pos = float(np.sum(w * y))
    if pos <= 0 or pos >= float(w.sum()):
        raise Undefined(f"fold {fold}'s training rows hold one class only: the {remedy} fit has "
                        "no finite optimum")
    z = logit(s)
    pos_s, neg_s = s[(y == 1) & (w > 0)], s[(y == 0) & (w > 0)]
    if neg_s.max() < pos_s.min():
        out.warn(f"the scores separate the classes, so the maximum-likelihood {remedy} map is a "
                 "step (the fit stops where the loss stops falling numerically)", fold)
    if remedy == "platt":
        a, b, ok = fit_platt(z, y.astype(np.float64), w)
        out.params.setdefault("a", []).append(a)
        out.params.setdefault("b", []).append(b)
        if not ok:
            out.warn("the Platt fit did not converge (the scores nearly separate the classes)", fold)
        return lambda t: apply_platt(logit(t), a, b)
    temp = fit_temperature(z, y.astype(np.float64), w)
    out.params.setdefault("T", []).append(temp)
    return lambda t: apply_temperature(logit(t), temp)


def _multiclass_fit(remedy: str, p: np.ndarray, y: np.ndarray, w: np.ndarray, classes: list[str],
                    out: Fitted, fold: int) -> Callable[[np.ndarray], np.ndarray]:
    k = p.shape[1]
    present = np.bincount(y, w, k) > 0
    if remedy == "temperature":
        if present.sum() < 2:
            raise Undefined(f"fold {fold}'s training rows hold one class only: temperature "
                            "scaling has no finite optimum")
        temp = fit_temperature(np.log(np.clip(p, EPS, 1.0)), y, w)
        out.params.setdefault("T", []).append(temp)
        return lambda t: apply_temperature(np.log(np.clip(t, EPS, 1.0)), temp)
    if remedy == "platt" and not present.all():
        absent = [classes[j] for j in np.nonzero(~present)[0]]
        raise Undefined(f"class(es) {', '.join(absent)} absent from fold {fold}'s training rows: "
                        "one-vs-rest Platt scaling has no finite optimum for them")
    maps = [_binary_fit(remedy, p[:, j], (y == j).astype(np.int8), w, out, fold) for j in range(k)]

    def apply(t: np.ndarray) -> np.ndarray:
        cal = np.column_stack([f(t[:, j]) for j, f in enumerate(maps)])
        total = cal.sum(axis=1, keepdims=True)
        uniform = np.full_like(cal, 1.0 / k)
        return np.divide(cal, total, out=uniform, where=total != 0)

    return apply


def cross_fit(remedy: str, y: np.ndarray, scores: np.ndarray, w: np.ndarray | None, folds: np.ndarray,
              n_folds: int, classes: list[str]) -> Fitted:
    """Cross-fitted recalibrated scores (a new array; ``scores`` is not modified)."""
    ww = np.ones(y.size) if w is None else w
    out = Fitted(np.empty_like(scores, dtype=np.float64))
    for f in range(n_folds):
        test = folds == f
        if not test.any():
            continue
        train = ~test & (ww > 0)
        if not train.any():
            raise Undefined(f"fold {f} has no training rows with weight (too few rows for "
                            f"{n_folds}-fold cross-fitting)")
        if scores.ndim == 1:
            fit = _binary_fit(remedy, scores[train], y[train], ww[train], out, f)
        else:
            fit = _multiclass_fit(remedy, scores[train], y[train], ww[train], classes, out, f)
        out.scores[test] = fit(scores[test])
    return out
