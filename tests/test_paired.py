"""Paired candidate-vs-baseline statistics (assay.stats._paired) against independent references.

References: statsmodels (McNemar, multiple testing, Wilson), SciPy (paired t), scikit-learn
(AUC values), brute-force re-implementations written here from the papers' formulas, the
worked example of Fagerland, Lydersen & Laake (2017, ch. 8; Cavo et al. 2012 data, as
checked in their R package contingencytables), and seeded coverage / null simulations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.metrics import roc_auc_score

import assay.stats as S
from assay.metrics import _ranking as rk
from assay.stats import (
    Interval,
    benjamini_hochberg,
    bonferroni_level,
    bootstrap_p_value,
    churn,
    holm,
    mcnemar_exact,
    paired_bootstrap_cells,
    paired_delong,
    paired_proportion_difference,
    paired_t,
    paired_t_from_sums,
    percentile_interval,
    tango_interval,
    wilson_interval,
)

sm_tables = pytest.importorskip("statsmodels.stats.contingency_tables")
sm_multitest = pytest.importorskip("statsmodels.stats.multitest")
sm_proportion = pytest.importorskip("statsmodels.stats.proportion")

Z95 = 1.959963984540054


def test_public_names_exported() -> None:
    for name in ("mcnemar_exact", "paired_proportion_difference", "tango_interval", "paired_delong",
                 "paired_t", "paired_t_from_sums", "paired_bootstrap_cells", "bootstrap_p_value",
                 "churn", "benjamini_hochberg", "holm", "bonferroni_level"):
        assert name in S.__all__ and callable(getattr(S, name))


# --------------------------------------------------------------------------- McNemar


@pytest.mark.parametrize("b", [0, 1, 2, 5, 9, 17, 40])
@pytest.mark.parametrize("c", [0, 1, 3, 6, 9, 25, 60])
def test_mcnemar_exact_matches_statsmodels(b: int, c: int) -> None:
    table = np.array([[30, b], [c, 40]])
    ref = sm_tables.mcnemar(table, exact=True).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(ref, abs=1e-12)
    assert mcnemar_exact(c, b) == mcnemar_exact(b, c)


def test_mcnemar_no_discordant_rows_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(np.int64(3), 3.0) == 1.0


@pytest.mark.parametrize("b, c", [(-1, 2), (1.5, 2), (2, math.nan)])
def test_mcnemar_rejects_non_counts(b: float, c: float) -> None:
    with pytest.raises(ValueError, match="whole counts"):
        mcnemar_exact(b, c)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- paired proportions

#: Cavo et al. (2012) in Fagerland et al. (2017) ch. 8: rows = first measurement, 2x2 table
#: [[59, 6], [16, 80]]; delta = pi_1+ - pi_+1 = (6 - 16) / 161. In our convention the first
#: measurement is the candidate: n11 = 59, n10 = 6, n01 = 16, n00 = 80.
CAVO = (59, 6, 16, 80)


def test_newcombe_paired_reproduces_published_example() -> None:
    ci = paired_proportion_difference(*CAVO, 0.95)
    # contingencytables: "estimate = -0.0621 (95% CI -0.1186 to -0.0046)"
    assert round(ci.low, 4) == -0.1186 and round(ci.high, 4) == -0.0046
    assert ci.se == pytest.approx(math.sqrt(22 - 100 / 161) / 161, rel=1e-12)


def test_tango_reproduces_published_example() -> None:
    ci = tango_interval(*CAVO, 0.95)
    # contingencytables: "Tango asymptotic score CI: estimate = -0.0621 (95% CI -0.1240 to -0.0054)"
    assert round(ci.low, 4) == -0.1240 and round(ci.high, 4) == -0.0054


def _wilson_counts(x: float, n: float, z: float) -> tuple[float, float]:
    """Wilson bounds written from the score equation, independently of assay's version."""
    centre = x + z * z / 2
    half = z * math.sqrt(x * (n - x) / n + z * z / 4)
    return (centre - half) / (n + z * z), (centre + half) / (n + z * z)


def _newcombe10_reference(n11: float, n10: float, n01: float, n00: float, z: float) -> tuple[float, float]:
    """Newcombe (1998) method 10 written out from the paper (cells a, b, c, d)."""
    a, b, c, d = n11, n10, n01, n00
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson_counts(a + b, n, z)
    l2, u2 = _wilson_counts(a + c, n, z)
    efgh = (a + b) * (c + d) * (a + c) * (b + d)
    if efgh == 0:
        phi = 0.0
    else:
        num = a * d - b * c
        phi = (num - n / 2 if num > n / 2 else 0.0 if num >= 0 else num) / math.sqrt(efgh)
    delta = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    eps = math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return max(-1.0, p1 - p2 - delta), min(1.0, p1 - p2 + eps)


def test_newcombe_paired_matches_brute_force_formula() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(1, 400))
        cells = rng.multinomial(n, rng.dirichlet(np.full(4, rng.uniform(0.3, 3.0))))
        for conf, z in ((0.95, Z95), (0.9, stats.norm.ppf(0.95))):
            ci = paired_proportion_difference(*map(int, cells), conf)
            lo, hi = _newcombe10_reference(*map(float, cells), z)
            assert ci.low == pytest.approx(lo, abs=1e-12) and ci.high == pytest.approx(hi, abs=1e-12)


def test_paired_intervals_swap_sign_with_roles_and_contain_estimate() -> None:
    rng = np.random.default_rng(12)
    for _ in range(100):
        n11, n10, n01, n00 = map(int, rng.multinomial(int(rng.integers(1, 200)), [0.4, 0.1, 0.2, 0.3]))
        d = (n10 - n01) / (n11 + n10 + n01 + n00)
        for f in (paired_proportion_difference, tango_interval):
            ci, swapped = f(n11, n10, n01, n00, 0.95), f(n11, n01, n10, n00, 0.95)
            assert swapped.low == pytest.approx(-ci.high, abs=1e-10)
            assert swapped.high == pytest.approx(-ci.low, abs=1e-10)
            assert -1 <= ci.low <= d <= ci.high <= 1


def _tango_z_reference(delta: float, n10: int, n01: int, n: int) -> float:
    """Tango's score statistic with the constrained MLE found by numerical maximisation
    (not the closed-form root used by assay)."""
    lo, hi = max(0.0, -delta), (1.0 - delta) / 2.0

    def negll(q: float) -> float:
        terms = [(n10, q + delta), (n01, q), (n - n10 - n01, 1.0 - 2.0 * q - delta)]
        return -sum(k * math.log(max(p, 1e-300)) for k, p in terms if k > 0)

    q = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                 options={"xatol": 1e-13}).x
    return (n10 - n01 - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


@pytest.mark.parametrize("cells", [CAVO, (1, 1, 7, 12), (10, 3, 0, 20), (40, 12, 5, 3), (0, 4, 2, 0)])
def test_tango_bounds_solve_the_score_equation(cells: tuple[int, int, int, int]) -> None:
    n11, n10, n01, n00 = cells
    n = sum(cells)
    ci = tango_interval(*cells, 0.95)
    for bound, target in ((ci.low, Z95), (ci.high, -Z95)):
        if abs(bound) < 1:
            assert _tango_z_reference(bound, n10, n01, n) == pytest.approx(target, abs=1e-6)
    # and every delta on a grid inside the interval (only there) has |Z| <= z
    grid = np.linspace(-0.999, 0.999, 801)
    zs = np.array([_tango_z_reference(g, n10, n01, n) for g in grid])
    inside = grid[np.abs(zs) <= Z95]
    assert inside.min() >= ci.low - 1e-9 and inside.max() <= ci.high + 1e-9
    assert inside.min() - ci.low < 0.003 and ci.high - inside.max() < 0.003


def test_paired_proportion_edge_cases() -> None:
    # all concordant: the interval is symmetric around 0 and Tango's has a closed form
    for f in (paired_proportion_difference, tango_interval):
        ci = f(30, 0, 0, 20, 0.95)
        assert ci.low == pytest.approx(-ci.high, abs=1e-12) and ci.high > 0
        assert ci.se == 0.0
    assert tango_interval(30, 0, 0, 20, 0.95).high == pytest.approx(Z95**2 / (50 + Z95**2), abs=1e-10)
    # every row a gain (or a loss): the interval reaches +1 (or -1)
    assert tango_interval(0, 10, 0, 0, 0.95).high == 1.0
    assert tango_interval(0, 0, 10, 0, 0.95).low == -1.0
    assert paired_proportion_difference(0, 10, 0, 0, 0.95).high == 1.0
    for f in (paired_proportion_difference, tango_interval):
        assert math.isnan(f(0, 0, 0, 0, 0.95).low)
        with pytest.raises(ValueError, match="n10 must be a finite count"):
            f(1, -1, 0, 3, 0.95)
        with pytest.raises(ValueError, match="confidence"):
            f(1, 1, 0, 3, 95)


@pytest.mark.parametrize("n, probs", [(100, (0.60, 0.15, 0.05, 0.20)), (300, (0.80, 0.05, 0.08, 0.07))])
def test_paired_proportion_intervals_cover(n: int, probs: tuple[float, ...]) -> None:
    sims = 2000
    truth = probs[1] - probs[2]
    tables = np.random.default_rng(2024).multinomial(n, probs, size=sims)
    for f in (paired_proportion_difference, tango_interval):
        hits = 0
        for t in tables:
            ci = f(*map(int, t), 0.95)
            hits += ci.low <= truth <= ci.high
        assert 0.93 <= hits / sims <= 0.97, (f.__name__, hits / sims)


# --------------------------------------------------------------------------- paired DeLong


def _delong_brute(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray | None = None
) -> tuple[float, float]:
    """O(n^2) DeLong: the Mann-Whitney kernel over every positive-negative pair."""
    w = np.ones(len(y)) if w is None else w
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [j for j in range(len(y)) if y[j] == 0]
    wp, wn = sum(w[i] for i in pos), sum(w[j] for j in neg)

    def kern(x: float, z: float) -> float:
        return 1.0 if x > z else 0.5 if x == z else 0.0

    infl = []
    aucs = []
    for s in (a, b):
        v10 = {i: sum(w[j] * kern(s[i], s[j]) for j in neg) / wn for i in pos}
        v01 = {j: sum(w[i] * kern(s[i], s[j]) for i in pos) / wp for j in neg}
        aucs.append(sum(w[i] * v10[i] for i in pos) / wp)
        infl.append((v10, v01))
    delta = aucs[1] - aucs[0]
    m, k = len(pos), len(neg)
    s_pos = sum((w[i] * (infl[1][0][i] - infl[0][0][i] - delta)) ** 2 for i in pos) / wp**2
    s_neg = sum((w[j] * (infl[1][1][j] - infl[0][1][j] - delta)) ** 2 for j in neg) / wn**2
    return delta, math.sqrt(m / (m - 1) * s_pos + k / (k - 1) * s_neg)


def _classic_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) in their own notation: covariance matrices S10 and S01 of the
    structural components, var(delta) = c' (S10 / m + S01 / n) c with c = (-1, 1)."""
    x = np.vstack([a[y == 1], b[y == 1]])
    z = np.vstack([a[y == 0], b[y == 0]])
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    s10, s01 = np.cov(v10), np.cov(v01)
    c = np.array([-1.0, 1.0])
    auc = v10.mean(axis=1)
    return float(auc[1] - auc[0]), float(math.sqrt(c @ (s10 / x.shape[1] + s01 / z.shape[1]) @ c))


def _tied_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.4).astype(int)
    y[:2], y[2:4] = 1, 0
    a = np.round(y * 0.6 + rng.normal(size=n), 1)  # coarse grid: many ties, within and across classes
    b = np.round(y * 0.9 + rng.normal(size=n), 1)
    b[::7] = a[::7]  # some rows scored identically by both models
    return y, a, b


@pytest.mark.parametrize("seed", range(4))
def test_paired_delong_matches_brute_force_with_ties(seed: int) -> None:
    y, a, b = _tied_data(60, seed)
    delta, se, p = paired_delong(y, a, b)
    ref_delta, ref_se = _delong_brute(y, a, b)
    assert delta == pytest.approx(ref_delta, abs=1e-12)
    assert se == pytest.approx(ref_se, abs=1e-12)
    assert p == pytest.approx(2 * stats.norm.sf(abs(ref_delta) / ref_se), abs=1e-12)
    classic = _classic_delong(y, a, b)
    assert delta == pytest.approx(classic[0], abs=1e-12) and se == pytest.approx(classic[1], abs=1e-12)
    assert delta == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a), abs=1e-12)


def test_paired_delong_weighted_matches_brute_force_and_sklearn() -> None:
    y, a, b = _tied_data(50, 7)
    w = np.random.default_rng(7).uniform(0.2, 3.0, size=y.size)
    w[5] = 0.0  # a zero weight drops the row
    delta, se, _ = paired_delong(y, a, b, weights=w)
    keep = w > 0
    ref_delta, ref_se = _delong_brute(y[keep], a[keep], b[keep], w[keep])
    assert delta == pytest.approx(ref_delta, abs=1e-12) and se == pytest.approx(ref_se, abs=1e-12)
    sk = roc_auc_score(y, b, sample_weight=w) - roc_auc_score(y, a, sample_weight=w)
    assert delta == pytest.approx(sk, abs=1e-12)
    # all-ones weights equal no weights; a common scale changes nothing
    assert paired_delong(y, a, b, np.ones(y.size)) == pytest.approx(paired_delong(y, a, b), abs=1e-15)
    assert paired_delong(y, a, b, 3 * w) == pytest.approx(paired_delong(y, a, b, w), abs=1e-12)


def test_paired_delong_row_order_and_roles() -> None:
    y, a, b = _tied_data(500, 3)
    perm = np.random.default_rng(0).permutation(y.size)
    ref = paired_delong(y, a, b)
    assert paired_delong(y[perm], a[perm], b[perm]) == pytest.approx(ref, abs=1e-12)
    swapped = paired_delong(y, b, a)
    assert swapped[0] == pytest.approx(-ref[0], abs=1e-15)
    assert swapped[1:] == pytest.approx(ref[1:], abs=1e-12)


def test_paired_delong_against_a_constant_model_is_the_single_auc_se() -> None:
    """With the baseline a constant (AUC 1/2, no variation in its placements), the SE of the
    difference is the candidate's own DeLong SE, computed independently by assay's
    histogram implementation."""
    rng = np.random.default_rng(5)
    y = (rng.uniform(size=800) < 0.3).astype(int)
    bins = np.clip(np.round(50 + 15 * y + 20 * rng.normal(size=800)), 0, 99).astype(int)
    s = bins / 100.0  # one score value per histogram bin: the histogram is exact
    pos = np.bincount(bins[y == 1], minlength=100).astype(float)
    neg = np.bincount(bins[y == 0], minlength=100).astype(float)
    delta, se, _ = paired_delong(y, np.zeros(800), s)
    assert delta == pytest.approx(float(rk.auc(pos, neg)) - 0.5, abs=1e-12)
    assert se == pytest.approx(rk.delong_se(pos, neg), abs=1e-12)


def test_paired_delong_p_value_uniform_under_null() -> None:
    """Two models of equal population AUC with correlated scores: p ~ U(0, 1) (KS over 1000 sims)."""
    rng = np.random.default_rng(99)
    pvals = np.empty(1000)
    for i in range(pvals.size):
        n = 300
        y = (rng.uniform(size=n) < 0.35).astype(int)
        shared = rng.normal(size=n)
        a = y + shared + rng.normal(size=n)
        b = y + shared + rng.normal(size=n)
        pvals[i] = paired_delong(y, a, b)[2]
    assert stats.kstest(pvals, "uniform").pvalue > 0.01
    assert 0.03 <= np.mean(pvals < 0.05) <= 0.07


def test_paired_delong_weighted_se_matches_sampling_spread() -> None:
    """With random sampling weights the linearised SE tracks the spread of delta over samples."""
    rng = np.random.default_rng(1)
    deltas, ses = np.empty(600), np.empty(600)
    for i in range(deltas.size):
        n = 400
        y = (rng.uniform(size=n) < 0.3).astype(int)
        shared = rng.normal(size=n)
        a = y + shared + rng.normal(size=n)
        b = 1.3 * y + shared + rng.normal(size=n)
        deltas[i], ses[i], _ = paired_delong(y, a, b, weights=rng.exponential(size=n))
    assert abs(np.sqrt(np.mean(ses**2)) / deltas.std(ddof=1) - 1) < 0.1


def test_paired_delong_edge_cases() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert paired_delong(y, s, s) == (0.0, 0.0, 1.0)  # identical models
    assert paired_delong(y.astype(bool), s, s * 2) == (0.0, 0.0, 1.0)  # bool labels, same ranking
    one_pos = np.array([0, 0, 1, 0])
    delta, se, p = paired_delong(one_pos, np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.1, 0.2, 0.9, 0.4]))
    assert delta == pytest.approx(1 / 3) and math.isnan(se) and math.isnan(p)
    with pytest.raises(ValueError, match=r"no positive \(y = 1\) row.*undefined"):
        paired_delong(np.zeros(5), np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match=r"no negative \(y = 0\) row"):
        paired_delong(np.ones(5), np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match="no positive"):  # positives only with weight 0
        paired_delong(y, s, s, weights=np.where(y == 1, 0.0, 1.0))
    with pytest.raises(ValueError, match=r"binary labels.*\[2\]"):
        paired_delong(np.array([0, 1, 2]), np.arange(3.0), np.arange(3.0))
    with pytest.raises(ValueError, match="score_b has 1 non-finite"):
        paired_delong(y, s, np.r_[s[:-1], np.nan])
    with pytest.raises(ValueError, match="shapes"):
        paired_delong(y, s, s[:-1])
    with pytest.raises(ValueError, match="weights must be finite"):
        paired_delong(y, s, s, weights=-np.ones(6))


# --------------------------------------------------------------------------- paired t


def test_paired_t_matches_scipy_ttest_rel() -> None:
    rng = np.random.default_rng(3)
    for n in (2, 3, 10, 57, 1000):
        base = rng.gamma(2.0, size=n)
        cand = base * rng.uniform(0.7, 1.2, size=n) + rng.normal(scale=0.1, size=n)
        for conf in (0.9, 0.95, 0.99):
            ref = stats.ttest_rel(cand, base)
            ref_ci = ref.confidence_interval(confidence_level=conf)
            d = cand - base
            for ci, p in (paired_t(float(d.mean()), float(d.std(ddof=1)), n, conf),
                          paired_t_from_sums(float(d.sum()), float((d * d).sum()), n, conf)):
                assert p == pytest.approx(ref.pvalue, abs=1e-10)
                assert ci.low == pytest.approx(ref_ci.low, abs=1e-10)
                assert ci.high == pytest.approx(ref_ci.high, abs=1e-10)


def test_paired_t_edge_cases() -> None:
    ci, p = paired_t(0.3, 0.5, 1, 0.95)
    assert math.isnan(ci.low) and math.isnan(p)
    ci, p = paired_t_from_sums(0.0, 0.0, 1, 0.95)
    assert math.isnan(ci.low) and math.isnan(p)
    ci, p = paired_t_from_sums(0.0, 0.0, 10, 0.95)  # every difference 0
    assert (ci.low, ci.high, p) == (0.0, 0.0, 1.0)
    ci, p = paired_t_from_sums(5.0, 2.5, 10, 0.95)  # every difference 0.5
    assert ci.low == pytest.approx(0.5) and ci.high == pytest.approx(0.5) and p == 0.0
    with pytest.raises(ValueError, match="confidence"):
        paired_t(0.1, 1.0, 10, 1.5)


# --------------------------------------------------------------------------- paired bootstrap


def _f1(conf: np.ndarray) -> np.ndarray:
    tp, fp, fn = conf[..., 1, 1], conf[..., 0, 1], conf[..., 1, 0]
    return 2 * tp / (2 * tp + fp + fn)


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.3).astype(int)
    x = y + rng.normal(scale=0.9, size=n)
    pa = (x + rng.normal(scale=0.5, size=n) > 0.6).astype(int)
    pb = (x + rng.normal(scale=0.4, size=n) > 0.55).astype(int)
    return y, pa, pb


def _cells(y: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    return np.bincount(4 * y + 2 * pa + pb, minlength=8).reshape(2, 2, 2)


def test_paired_bootstrap_cells_se_matches_row_bootstrap() -> None:
    y, pa, pb = _rows(2000, 21)
    cells = _cells(y, pa, pb)
    reps = paired_bootstrap_cells(cells, _f1, 2000, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    idx = rng.integers(0, y.size, size=(2000, y.size))
    yy, aa, bb = y[idx], pa[idx], pb[idx]

    def f1_rows(p: np.ndarray) -> np.ndarray:
        tp = (yy & p).sum(1)
        return 2 * tp / (2 * tp + ((1 - yy) & p).sum(1) + (yy & (1 - p)).sum(1))

    row = f1_rows(bb) - f1_rows(aa)
    se_cells, se_rows = reps.std(ddof=1), row.std(ddof=1)
    assert abs(se_cells / se_rows - 1) < 0.15, (se_cells, se_rows)
    point = _f1(cells.sum(axis=1)) - _f1(cells.sum(axis=2))
    assert abs(reps.mean() - point) < 0.2 * se_cells


def test_paired_bootstrap_cells_keeps_pairs_and_is_seeded() -> None:
    y, pa, _ = _rows(500, 4)
    same = _cells(y, pa, pa)  # candidate == baseline on every row: every replicate is 0
    assert np.all(paired_bootstrap_cells(same, _f1, 200, 0) == 0.0)
    y, pa, pb = _rows(500, 5)
    cells = _cells(y, pa, pb)
    r1 = paired_bootstrap_cells(cells, _f1, 300, np.random.default_rng(7))
    r2 = paired_bootstrap_cells(cells.ravel(), _f1, 300, 7)
    assert r1.shape == (300,) and np.array_equal(r1, r2)
    # candidate = the marginal over the baseline axis; a statistic of that axis alone is 0-centred
    acc = paired_bootstrap_cells(cells, lambda c: (c[..., 0, 0] + c[..., 1, 1]) / c.sum((-2, -1)), 100, 3)
    assert np.all(np.isfinite(acc))


def test_paired_bootstrap_cells_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"shape \(8,\) or \(2, 2, 2\)"):
        paired_bootstrap_cells(np.ones(4), _f1, 10, 0)
    with pytest.raises(ValueError, match="whole counts"):
        paired_bootstrap_cells(np.full(8, 1.5), _f1, 10, 0)
    with pytest.raises(ValueError, match="seeded"):
        paired_bootstrap_cells(np.ones(8), _f1, 10, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="statistic must map"):
        paired_bootstrap_cells(np.ones(8), lambda c: c.sum(), 10, 0)


def test_bootstrap_p_value_convention() -> None:
    r = np.arange(1.0, 1001.0)  # all above 0
    assert bootstrap_p_value(r) == pytest.approx(1 / 1001)
    assert bootstrap_p_value(r, null=100.5) == pytest.approx(0.2)  # 100 of 1000 below
    assert bootstrap_p_value(r - 500.5) == 1.0
    assert bootstrap_p_value(np.zeros(50)) == 1.0  # ties at the null count on both sides
    assert bootstrap_p_value(np.r_[np.ones(60), np.full(40, np.nan)]) == pytest.approx(1 / 61)
    assert math.isnan(bootstrap_p_value(np.r_[np.ones(10), np.full(40, np.nan)]))
    # test inversion: the percentile interval excludes the null just above p, includes it below
    reps = np.random.default_rng(8).normal(loc=0.4, size=4000)
    p = bootstrap_p_value(reps)
    assert 0.6 < p < 0.75
    assert percentile_interval(reps, 1 - (p + 0.01)).low > 0
    assert percentile_interval(reps, 1 - (p - 0.01)).low < 0


# --------------------------------------------------------------------------- churn


def test_churn_is_wilson_on_the_changed_share() -> None:
    for k, n in ((0, 10), (3, 40), (250, 1000), (40, 40)):
        share, ci = churn(k, n, 0.95)
        lo, hi = sm_proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
        assert share == k / n
        assert ci.low == pytest.approx(lo, abs=1e-12) and ci.high == pytest.approx(hi, abs=1e-12)
        assert ci == wilson_interval(k / n, n, 0.95)
    share, ci = churn(0, 0, 0.95)
    assert math.isnan(share) and math.isnan(ci.low)
    with pytest.raises(ValueError, match="cannot exceed"):
        churn(5, 4, 0.95)


# --------------------------------------------------------------------------- multiplicity


@pytest.mark.parametrize("seed", range(5))
def test_adjusters_match_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    p = np.where(rng.uniform(size=m) < 0.3, rng.uniform(0, 0.01, m), rng.uniform(size=m))
    p[rng.integers(0, m, size=m // 4)] = p[0]  # ties
    for ours, method in ((benjamini_hochberg, "fdr_bh"), (holm, "holm")):
        ref = sm_multitest.multipletests(p, method=method)[1]
        np.testing.assert_allclose(ours(p), ref, rtol=0, atol=1e-12)


def test_adjusters_ignore_nan() -> None:
    rng = np.random.default_rng(6)
    p = rng.uniform(0, 0.2, size=20)
    p[[2, 7, 15]] = np.nan
    ok = ~np.isnan(p)
    for ours, method in ((benjamini_hochberg, "fdr_bh"), (holm, "holm")):
        adj = ours(p)
        assert np.array_equal(np.isnan(adj), ~ok)
        np.testing.assert_allclose(adj[ok], sm_multitest.multipletests(p[ok], method=method)[1],
                                   rtol=0, atol=1e-12)
        assert np.all(np.isnan(ours(np.full(3, np.nan))))
        assert ours(np.array([])).shape == (0,)
        assert ours(p.reshape(4, 5)).shape == (4, 5)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            ours(np.array([0.1, 1.2]))


def test_bonferroni_level_gives_simultaneous_coverage() -> None:
    assert bonferroni_level(0.95, 1) == pytest.approx(0.95)
    assert bonferroni_level(0.95, 10) == pytest.approx(0.995)
    m, sims = 20, 4000
    rng = np.random.default_rng(10)
    est = rng.normal(size=(sims, m))  # truth 0, se 1, independent (the least forgiving case)
    z = stats.norm.ppf(0.5 + bonferroni_level(0.9, m) / 2)
    family = np.mean(np.all(np.abs(est) <= z, axis=1))
    assert 0.9 - 0.015 <= family <= 0.93  # exact: (1 - 0.1 / 20) ** 20 = 0.9046
    with pytest.raises(ValueError, match="whole number"):
        bonferroni_level(0.95, 0)


def test_interval_type_is_shared() -> None:
    assert isinstance(paired_proportion_difference(*CAVO, 0.95), Interval)
    assert isinstance(tango_interval(*CAVO, 0.95), Interval)
