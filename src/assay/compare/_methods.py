"""Paired methods: how candidate minus baseline is estimated for one kind of metric.

Both models are scored on the same rows, so a paired method uses the correlation between
their errors and is much tighter than two independent intervals. Each method takes the
paired rows of one slice and returns a :class:`PairedEstimate`:

* :class:`McNemar` - a proportion with a per-row success (accuracy, recall, specificity):
  Tango's score interval and the exact McNemar p-value (unweighted), or Tango's score
  test on Kish-effective cells (weighted);
* :class:`JointCells` - any statistic of per-model cell counts (precision, F1, MCC, macro
  averages, average precision, ECE): a Poisson bootstrap over the joint cells (label, cell
  of the baseline, cell of the candidate), which keeps every row's pair together; the
  p-value comes from the same replicates by test inversion;
* :class:`DeLong` - ROC AUC: paired DeLong (correlated AUCs, exact scores);
* :class:`LossT` - a mean of per-row losses: the paired t-test on per-row differences;
* :class:`RmseDelta`, :class:`R2FromMse` - regression metrics that are functions of
  mean losses: the delta method, and the MSE t-test scaled by the label variance.

Direction, everywhere: ``delta`` = candidate - baseline, in the metric's own units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse as _sparse
from scipy import stats as _st

from assay.stats import (
    bootstrap_p_value,
    delong_pair,
    kish_effective_size,
    mcnemar_exact,
    paired_t,
    percentile_interval,
    tango_interval,
    z_value,
)

OK = "ok"
UNDEFINED = "undefined"


@dataclass(frozen=True)
class PairedEstimate:
    """Candidate minus baseline on the same rows, with interval and p-value (H0: no change).

    ``se`` is the standard error of ``delta`` (under H0 for McNemar-type metrics, as
    power calculations use it); ``discordance`` is the share of the metric's rows on which
    the two models disagree (McNemar-type only) and ``n_domain`` that row count.
    """

    baseline: float
    candidate: float
    delta: float
    low: float = math.nan
    high: float = math.nan
    p_value: float = math.nan
    method: str = ""
    status: str = OK
    note: str = ""
    se: float = math.nan
    discordance: float = math.nan
    n_domain: float = math.nan

    @staticmethod
    def undefined(reason: str, method: str = "") -> PairedEstimate:
        return PairedEstimate(math.nan, math.nan, math.nan, method=method, status=UNDEFINED,
                              note=reason)


@dataclass
class PairContext:
    """Settings of one comparison (shared by every method)."""

    confidence: float
    replicates: int
    threshold: float
    classes: list[Any]
    weighted: bool
    top_k: int = 2
    calibration_bins: int = 15
    score_bins: int = 65536
    coarse_cells: int = 32
    #: seed of the slice being compared; each method adds its own index
    seed: tuple[int, ...] = (0,)


@dataclass
class PairArrays:
    """The rows both models scored: labels, weights, and each model's score columns."""

    y: np.ndarray
    w: np.ndarray | None
    a: list[np.ndarray]  # baseline
    b: list[np.ndarray]  # candidate
    #: per-model derived arrays (decisions, per-row losses), computed once per comparison
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.y.size)

    def take(self, idx: np.ndarray | None) -> PairArrays:
        if idx is None:
            return self
        return PairArrays(
            y=self.y[idx], w=None if self.w is None else self.w[idx],
            a=[s[idx] for s in self.a], b=[s[idx] for s in self.b],
            cache={k: v[idx] for k, v in self.cache.items()})

    def weights(self) -> np.ndarray:
        return np.ones(self.n) if self.w is None else self.w


#: a per-row array for one side: (rows, side "a" or "b", context) -> array
RowFn = Callable[[PairArrays, str, PairContext], np.ndarray]


def _side(p: PairArrays, side: str) -> list[np.ndarray]:
    return p.a if side == "a" else p.b


def _weighted_sum(mask: np.ndarray, w: np.ndarray | None) -> float:
    return float(mask.sum()) if w is None else float(w[mask].sum())


# ---------------------------------------------------------------------------- McNemar


@dataclass(frozen=True)
class McNemar:
    """A proportion whose rows succeed or fail under each model.

    ``domain`` selects the rows the proportion is over (None = all rows; recall: the
    positives), ``success`` says which of them count (a correct decision, a positive
    prediction). Cells: n11 both succeed, n10 only the candidate, n01 only the baseline.
    """

    success: RowFn
    domain: Callable[[PairArrays, PairContext], np.ndarray] | None = None
    empty: str = "no rows"

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        if self.domain is not None:
            p = p.take(np.flatnonzero(self.domain(p, ctx)))
        if p.n == 0:
            return PairedEstimate.undefined(self.empty, "tango / mcnemar")
        sa = self.success(p, "a", ctx)
        sb = self.success(p, "b", ctx)
        w = p.w
        n11 = _weighted_sum(sa & sb, w)
        n10 = _weighted_sum(sb & ~sa, w)
        n01 = _weighted_sum(sa & ~sb, w)
        n00 = _weighted_sum(~sa & ~sb, w)
        total = n11 + n10 + n01 + n00
        if not total > 0:
            return PairedEstimate.undefined("total weight of these rows is 0", "tango / mcnemar")
        base, cand = (n11 + n01) / total, (n11 + n10) / total
        psi = (n10 + n01) / total
        if w is None:
            ci = tango_interval(n11, n10, n01, n00, ctx.confidence)
            p_value = mcnemar_exact(int(n10), int(n01))
            n_eff, method = total, "tango score interval; exact mcnemar p"
        else:
            # Kish-effective cells: the same shares on the effective number of rows
            n_eff = kish_effective_size(total, float((w * w).sum()))
            k = n_eff / total
            ci = tango_interval(n11 * k, n10 * k, n01 * k, n00 * k, ctx.confidence)
            disc = (n10 + n01) * k
            p_value = 1.0 if disc <= 0 else float(
                2 * _st.norm.sf(abs(n10 - n01) * k / math.sqrt(disc)))
            method = "tango score interval and score test (Kish effective n)"
        return PairedEstimate(base, cand, cand - base, ci.low, ci.high, p_value, method,
                              se=math.sqrt(psi / n_eff), discordance=psi, n_domain=n_eff)


# ---------------------------------------------------------------------------- joint cells


@dataclass(frozen=True)
class JointCells:
    """A statistic of per-model cell counts, bootstrapped over the joint cells.

    ``cells(rows, side, ctx)`` gives each row's cell for one model (e.g. 2 * label +
    decision) and the number of cells; ``sums`` per-row values summed per cell besides the
    counts (e.g. scores, for calibration); ``stat(counts, sums)`` maps (R, cells) arrays to
    R values. Each replicate draws every joint cell (baseline cell x candidate cell) as
    Poisson(count), which is the Poisson row bootstrap for unweighted counts; a cell's sums
    move with its count. With weights, a cell is drawn as Poisson(Kish effective rows) and
    scaled back to its weight. ``exact(rows, ctx)`` gives (baseline, candidate) when the
    cells coarsen the statistic: replicates are then centred on the exact difference.
    """

    cells: Callable[[PairArrays, str, PairContext], tuple[np.ndarray, int]]
    stat: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray]
    what: str
    sums: Callable[[PairArrays, str, PairContext], dict[str, np.ndarray]] | None = None
    exact: Callable[[PairArrays, PairContext], tuple[float, float]] | None = None
    empty: str = "no rows"

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        if p.n == 0:
            return PairedEstimate.undefined(self.empty)
        ca, na = self.cells(p, "a", ctx)
        cb, nb = self.cells(p, "b", ctx)
        joint = ca.astype(np.int64) * nb + cb
        uniq, inv = np.unique(joint, return_inverse=True)
        w = p.weights()
        count = np.bincount(inv, weights=w if p.w is not None else None, minlength=uniq.size)
        side_sums = {s: {} if self.sums is None else self.sums(p, s, ctx) for s in "ab"}
        per_count = {s: {k: np.bincount(inv, weights=w * v, minlength=uniq.size)
                         / np.where(count > 0, count, 1) for k, v in vals.items()}
                     for s, vals in side_sums.items()}
        # joint cell -> its cell for each model, as a sparse 0/1 matrix (joint x cells)
        ones = np.ones(uniq.size)
        rows = np.arange(uniq.size)
        onehot = {"a": _sparse.csr_matrix((ones, (rows, uniq // nb)), shape=(uniq.size, na)),
                  "b": _sparse.csr_matrix((ones, (rows, uniq % nb)), shape=(uniq.size, nb))}

        def project(draw: np.ndarray, s: str) -> np.ndarray:
            return np.asarray((onehot[s].T @ draw.T).T)

        def margins(draw: np.ndarray, s: str) -> np.ndarray:
            return self.stat(project(draw, s),
                             {k: project(draw * v, s) for k, v in per_count[s].items()})

        base = float(margins(count[None, :], "a")[0])
        cand = float(margins(count[None, :], "b")[0])
        if not (math.isfinite(base) and math.isfinite(cand)):
            return PairedEstimate.undefined(self.empty)
        rng = np.random.default_rng([*ctx.seed, 7])
        if p.w is None:
            draws = rng.poisson(count, size=(ctx.replicates, uniq.size)).astype(np.float64)
            method = f"paired poisson-bootstrap over {self.what} ({ctx.replicates} reps)"
        else:
            w2 = np.bincount(inv, weights=w * w, minlength=uniq.size)
            n_eff = np.where(w2 > 0, count * count / np.where(w2 > 0, w2, 1), 0.0)
            scale = np.where(n_eff > 0, count / np.where(n_eff > 0, n_eff, 1), 0.0)
            draws = rng.poisson(n_eff, size=(ctx.replicates, uniq.size)) * scale
            method = (f"paired poisson-bootstrap over {self.what} ({ctx.replicates} reps, "
                      "Kish effective counts per cell)")
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = margins(draws, "b") - margins(draws, "a")
        delta = cand - base
        if self.exact is not None:
            eb, ec = self.exact(p, ctx)
            reps = reps - delta + (ec - eb)
            base, cand, delta = eb, ec, ec - eb
        return _from_replicates(base, cand, delta, reps, method, ctx)


def _from_replicates(base: float, cand: float, delta: float, reps: np.ndarray, method: str,
                     ctx: PairContext) -> PairedEstimate:
    ok = reps[np.isfinite(reps)]
    if ok.size and ok.max() == ok.min():
        # no replicate moves the difference (e.g. the two models decide every row alike)
        p = 1.0 if delta == ok[0] == 0 else math.nan
        return PairedEstimate(base, cand, delta, delta, delta, p, method, se=0.0,
                              note="every replicate gives the same difference")
    ci = percentile_interval(reps, ctx.confidence)
    p_value = bootstrap_p_value(reps, 0.0)
    return PairedEstimate(base, cand, delta, ci.low, ci.high, p_value, method, se=ci.se,
                          note="" if math.isfinite(ci.low) else "too few defined replicates")


# ---------------------------------------------------------------------------- DeLong


@dataclass(frozen=True)
class DeLong:
    """Paired DeLong on exact scores; ``column`` picks the score column (binary: 0)."""

    column: int = 0

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        y = p.y.astype(np.int64)
        if p.n == 0 or y.min() == y.max():
            return PairedEstimate.undefined("only one class in the labels of this slice: AUC "
                                            "is undefined", "paired delong")
        r = delong_pair(y, p.a[self.column], p.b[self.column], p.w)
        method = "paired delong" + (" (weighted)" if p.w is not None else "")
        if not math.isfinite(r.se):
            return PairedEstimate(r.auc_a, r.auc_b, r.delta, method=method,
                                  note="fewer than 2 rows of a class: no interval")
        z = z_value(ctx.confidence)
        return PairedEstimate(r.auc_a, r.auc_b, r.delta, max(r.delta - z * r.se, -1.0),
                              min(r.delta + z * r.se, 1.0), r.p_value, method, se=r.se)


# ---------------------------------------------------------------------------- means


def _weighted_moments(v: np.ndarray, w: np.ndarray | None) -> tuple[float, float, float]:
    """(mean, standard error of the mean, degrees of freedom) of per-row values.

    Unweighted: s / sqrt(n) with n - 1 degrees of freedom (as ``scipy.stats.ttest_rel``).
    Weighted: the linearised variance sum w^2 (v - mean)^2 / (sum w)^2 times n / (n - 1),
    on Kish's effective size minus one.
    """
    n = v.size
    if w is None:
        mean = float(v.mean())
        se = float(v.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        return mean, se, n - 1.0
    sw = float(w.sum())
    mean = float((w * v).sum() / sw)
    if n < 2:
        return mean, math.nan, 0.0
    var = float(((w * (v - mean)) ** 2).sum()) / sw**2 * n / (n - 1)
    return mean, math.sqrt(var), kish_effective_size(sw, float((w * w).sum())) - 1.0


def _t_estimate(base: float, cand: float, mean: float, se: float, df: float, method: str,
                ctx: PairContext, scale: float = 1.0) -> PairedEstimate:
    """t interval and p-value for a mean difference, times ``scale`` (p is scale-free)."""
    if not (math.isfinite(se) and df >= 1):
        return PairedEstimate(base, cand, mean * scale, method=method,
                              note="fewer than 2 rows: no interval")
    if se == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
        return PairedEstimate(base, cand, mean * scale, mean * scale, mean * scale, p, method,
                              se=0.0, note="every row's difference is the same")
    # the paired t of assay.stats on df + 1 rows whose differences have sd se * sqrt(df + 1)
    ci, p = paired_t(mean, se * math.sqrt(df + 1), df + 1, ctx.confidence)
    lo, hi = sorted((ci.low * scale, ci.high * scale))
    return PairedEstimate(base, cand, mean * scale, lo, hi, p, method, se=se * abs(scale))


@dataclass(frozen=True)
class LossT:
    """Mean of a per-row loss: the paired t-test on per-row differences."""

    loss: RowFn

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        if p.n == 0:
            return PairedEstimate.undefined("no rows", "paired t")
        la, lb = self.loss(p, "a", ctx), self.loss(p, "b", ctx)
        if p.w is not None and not p.w.sum() > 0:
            return PairedEstimate.undefined("total weight of this slice is 0", "paired t")
        mean, se, df = _weighted_moments(lb - la, p.w)
        base, _, _ = _weighted_moments(la, p.w)
        cand = base + mean
        method = "paired t on per-row differences" + (" (weighted)" if p.w is not None else "")
        return _t_estimate(base, cand, mean, se, df, method, ctx)


@dataclass(frozen=True)
class RmseDelta:
    """RMSE_b - RMSE_a by the delta method on the paired mean squared errors."""

    sq_error: RowFn

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        if p.n < 2:
            return PairedEstimate.undefined("fewer than 2 rows", "paired delta method")
        u, v = self.sq_error(p, "a", ctx), self.sq_error(p, "b", ctx)
        w = p.weights()
        sw = float(w.sum())
        mu, mv = float((w * u).sum() / sw), float((w * v).sum() / sw)
        ra, rb = math.sqrt(mu), math.sqrt(mv)
        if ra == 0 or rb == 0:
            return PairedEstimate(ra, rb, rb - ra, method="paired delta method",
                                  note="a model has zero error: no interval")
        # influence of each row on RMSE_b - RMSE_a
        infl = w * ((v - mv) / (2 * rb) - (u - mu) / (2 * ra)) / sw
        se = math.sqrt(float((infl**2).sum()) * p.n / (p.n - 1))
        delta = rb - ra
        z = z_value(ctx.confidence)
        pv = float(2 * _st.norm.sf(abs(delta) / se)) if se > 0 else float(delta == 0)
        return PairedEstimate(ra, rb, delta, delta - z * se, delta + z * se, pv,
                              "paired delta method", se=se)


@dataclass(frozen=True)
class R2FromMse:
    """R2_b - R2_a = (MSE_a - MSE_b) / var(y) on the same rows: the paired t-test on squared
    errors, scaled by the label variance (held fixed; its own sampling error changes the
    interval by a relative O(1/sqrt(n)) and the test not at all)."""

    sq_error: RowFn

    def __call__(self, p: PairArrays, ctx: PairContext) -> PairedEstimate:
        if p.n < 2:
            return PairedEstimate.undefined("fewer than 2 rows", "paired t on squared errors")
        w = p.weights()
        sw = float(w.sum())
        y = p.y.astype(np.float64)
        var_y = float((w * (y - (w * y).sum() / sw) ** 2).sum() / sw)
        if var_y <= 0:
            return PairedEstimate.undefined("the label is constant in this slice: R2 is undefined",
                                            "paired t on squared errors")
        u, v = self.sq_error(p, "a", ctx), self.sq_error(p, "b", ctx)
        mean, se, df = _weighted_moments(v - u, p.w)
        base = 1 - float((w * u).sum() / sw) / var_y
        cand = base - mean / var_y
        return _t_estimate(base, cand, mean, se, df, "paired t on squared errors / var(y)", ctx,
                           scale=-1.0 / var_y)


# ---------------------------------------------------------------------------- churn


def churn_estimate(changed: np.ndarray, w: np.ndarray | None, ctx: PairContext) -> PairedEstimate:
    """Share of rows whose decision changes, with a Wilson interval (Kish n when weighted)."""
    from assay.stats import churn

    n = changed.size
    if n == 0:
        return PairedEstimate.undefined("no rows", "wilson")
    if w is None:
        share, ci = churn(float(changed.sum()), float(n), ctx.confidence)
    else:
        sw = float(w.sum())
        if not sw > 0:
            return PairedEstimate.undefined("total weight of this slice is 0", "wilson")
        n_eff = kish_effective_size(sw, float((w * w).sum()))
        share, ci = churn(float(w[changed].sum()) / sw * n_eff, n_eff, ctx.confidence)
    return PairedEstimate(math.nan, math.nan, share, ci.low, ci.high, method="wilson", se=ci.se)
