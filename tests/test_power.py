"""Power and sample size (assay.stats._power) against independent references.

References: statsmodels' NormalIndPower (one-sample z-test via ratio=0) for the normal family;
for paired proportions, two published worked examples of Connor's (1987) formula and a seeded
Monte Carlo of the McNemar score test; plus internal consistency (n, power and mdd invert each
other).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower

from assay.stats._power import (
    normal_mdd,
    normal_n,
    normal_power,
    paired_proportion_mdd,
    paired_proportion_n,
    paired_proportion_power,
    rows_needed,
)

# --------------------------------------------------------------------------- normal family

NORMAL_CASES = [  # delta, sd, n, alpha
    (0.5, 1.0, 40, 0.05),
    (-0.02, 0.3, 2500, 0.05),
    (0.01, 0.08, 900, 0.01),
    (1.3, 4.0, 120.5, 0.10),
]


@pytest.mark.parametrize("delta,sd,n,alpha", NORMAL_CASES)
def test_normal_power_matches_statsmodels(delta, sd, n, alpha):
    es = abs(delta) / sd
    sm = NormalIndPower().power(effect_size=es, nobs1=n, alpha=alpha, ratio=0, alternative="two-sided")
    # statsmodels' two-sided power adds the opposite tail, which normal_power leaves out
    opposite = stats.norm.cdf(-stats.norm.isf(alpha / 2) - es * math.sqrt(n))
    ours = normal_power(delta, sd, n, alpha=alpha)
    assert ours == pytest.approx(sm - opposite, abs=1e-12)
    if ours >= 0.5:  # where it matters, the opposite tail is negligible
        assert ours == pytest.approx(sm, abs=1e-3)
    # one-sided at alpha / 2 is exactly the convention
    one_sided = NormalIndPower().power(effect_size=es, nobs1=n, alpha=alpha / 2, ratio=0,
                                       alternative="larger")
    assert ours == pytest.approx(one_sided, abs=1e-12)


@pytest.mark.parametrize("delta,sd,alpha,power", [
    (0.5, 1.0, 0.05, 0.8),
    (0.02, 0.3, 0.05, 0.9),
    (-0.01, 0.08, 0.01, 0.8),
    (1.3, 4.0, 0.10, 0.95),
])
def test_normal_n_and_mdd_match_statsmodels(delta, sd, alpha, power):
    solver = NormalIndPower()
    es = abs(delta) / sd
    n_sm = solver.solve_power(effect_size=es, nobs1=None, alpha=alpha, power=power, ratio=0)
    n = normal_n(delta, sd, alpha=alpha, power=power)
    assert n == math.ceil(n_sm)
    mdd_sm = sd * solver.solve_power(effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=0)
    assert normal_mdd(sd, n, alpha=alpha, power=power) == pytest.approx(mdd_sm, rel=1e-4)


def test_normal_textbook_value():
    # ((1.95996 + 0.84162) / 0.5)^2 = 31.4 -> 32 rows for a half-sd effect at 80% power
    assert normal_n(0.5, 1.0) == 32
    assert normal_mdd(1.0, 31.4) == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("delta,sd,alpha,power", [(0.03, 0.5, 0.05, 0.8), (0.2, 1.7, 0.01, 0.9)])
def test_normal_functions_invert_each_other(delta, sd, alpha, power):
    n = normal_n(delta, sd, alpha=alpha, power=power)
    assert normal_power(delta, sd, n, alpha=alpha) >= power - 1e-12
    assert normal_power(delta, sd, n - 1, alpha=alpha) < power
    mdd = normal_mdd(sd, n, alpha=alpha, power=power)
    assert mdd <= abs(delta) + 1e-15
    assert normal_power(mdd, sd, n, alpha=alpha) == pytest.approx(power, abs=1e-12)


def test_normal_sd_zero_is_exact():
    assert normal_power(0.01, 0.0, 10) == 1.0
    assert normal_power(0.0, 0.0, 10) == 0.0
    assert normal_n(0.01, 0.0) == 1
    assert normal_mdd(0.0, 10) == 0.0


def test_power_at_zero_delta_is_one_sided_size():
    assert normal_power(0.0, 1.0, 100, alpha=0.05) == pytest.approx(0.025)
    assert paired_proportion_power(0.0, 0.2, 100, alpha=0.10) == pytest.approx(0.05)


# --------------------------------------------------------------------------- paired proportions


def test_paired_proportion_n_chow_shao_wang_example_6_4_3():
    # Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", Example 6.4.3, as
    # reproduced in the R package TrialSize (McNemar.Test(0.05, 0.2, 0.2/0.5, 0.7) -> 59):
    # p10 = 0.5, p01 = 0.2, two-sided alpha 0.05, power 0.8 -> 59 pairs (58.63 before rounding).
    assert paired_proportion_n(0.5 - 0.2, 0.7, alpha=0.05, power=0.8) == 59


def test_paired_proportion_n_hylown_connor_examples():
    # powerandsamplesize.com (HyLown), "Compare Paired Proportions: McNemar's Z-test", citing
    # Connor (1987) p. 209: p01 = 0.45, p10 = 0.05 (psi 0.5, delta -0.4).
    # 2-sided, alpha 0.05, beta 0.20 -> 23 (22.01 before rounding).
    assert paired_proportion_n(0.05 - 0.45, 0.5, alpha=0.05, power=0.8) == 23
    # 1-sided, alpha 0.05, beta 0.10 -> 23; one-sided 0.05 is two-sided alpha 0.10 here.
    assert paired_proportion_n(0.05 - 0.45, 0.5, alpha=0.10, power=0.9) == 23


@pytest.mark.parametrize("delta,psi,n", [(0.04, 0.15, 800), (-0.03, 0.08, 600)])
def test_paired_proportion_power_monte_carlo(delta, psi, n):
    """Simulated rejection rate of the score test |n10 - n01| / sqrt(n10 + n01) > z on the
    side of the true effect, within 3 standard errors of Connor's power."""
    rng = np.random.default_rng(20240611)
    p10, p01 = (psi + delta) / 2, (psi - delta) / 2
    sims = 4000
    counts = rng.multinomial(n, [p10, p01, 1.0 - psi], size=sims)
    n10, n01 = counts[:, 0].astype(float), counts[:, 1].astype(float)
    disc = n10 + n01
    z = np.where(disc > 0, (n10 - n01) / np.sqrt(np.maximum(disc, 1.0)), 0.0)
    crit = stats.norm.isf(0.025)
    hit = z > crit if delta > 0 else z < -crit
    expected = paired_proportion_power(delta, psi, n, alpha=0.05)
    assert 0.5 < expected < 0.95  # a region where the check has teeth
    se = math.sqrt(expected * (1 - expected) / sims)
    assert abs(hit.mean() - expected) < 3 * se


@pytest.mark.parametrize("delta,psi,alpha,power", [
    (0.04, 0.15, 0.05, 0.8),
    (-0.01, 0.03, 0.05, 0.9),
    (0.3, 0.7, 0.01, 0.8),
    (0.5, 0.5, 0.05, 0.8),  # all discordant rows go one way
])
def test_paired_proportion_functions_invert_each_other(delta, psi, alpha, power):
    n = paired_proportion_n(delta, psi, alpha=alpha, power=power)
    assert paired_proportion_power(delta, psi, n, alpha=alpha) >= power - 1e-12
    if n > 1:
        assert paired_proportion_power(delta, psi, n - 1, alpha=alpha) < power
    for m in (n, 2.5 * n):
        mdd = paired_proportion_mdd(psi, m, alpha=alpha, power=power)
        assert 0 < mdd <= abs(delta) + 1e-12
        assert paired_proportion_power(mdd, psi, m, alpha=alpha) == pytest.approx(power, abs=1e-9)


def test_paired_proportion_power_is_symmetric_and_bounded():
    assert paired_proportion_power(0.05, 0.2, 300) == paired_proportion_power(-0.05, 0.2, 300)
    for d in np.linspace(0, 0.2, 21):
        assert 0.0 <= paired_proportion_power(float(d), 0.2, 50) <= 1.0
    assert paired_proportion_power(1.0, 1.0, 10) == 1.0  # every row a win: n10 - n01 = n


def test_paired_proportion_mdd_caps_at_discordance():
    # 5 rows with 10% discordance cannot reach 80% power for any possible difference
    assert paired_proportion_mdd(0.1, 5) == 0.1
    assert paired_proportion_power(0.1, 0.1, 5) < 0.8


# --------------------------------------------------------------------------- rows_needed


@pytest.mark.parametrize("sd,n,delta", [(0.4, 1000, 0.01), (2.0, 73.5, -0.3), (0.08, 5000, 0.02)])
def test_rows_needed_matches_normal(sd, n, delta):
    mdd = normal_mdd(sd, n)
    rows = rows_needed(mdd, n, delta)
    assert rows == normal_n(delta, sd)
    assert normal_mdd(sd, rows) <= abs(delta) + 1e-15


def test_rows_needed_whole_numbers():
    assert rows_needed(0.02, 1000, 0.01) == 4000
    assert rows_needed(0.03, 1000, 0.01) == 9000
    assert rows_needed(0.07, 100, 0.01) == 4900  # 4900.000000000002 in floating point
    assert rows_needed(0.0, 1000, 0.01) == 1


def test_rows_needed_close_for_paired_proportions():
    mdd = paired_proportion_mdd(0.15, 800)
    exact = paired_proportion_n(0.02, 0.15)
    assert rows_needed(mdd, 800, 0.02) == pytest.approx(exact, rel=0.02)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call,match", [
    (lambda: normal_n(0.0, 1.0), r"delta must be nonzero.*Got 0\.0 instead"),
    (lambda: paired_proportion_n(0.0, 0.2), r"delta must be nonzero"),
    (lambda: rows_needed(0.1, 100, 0), r"delta must be nonzero"),
    (lambda: paired_proportion_power(0.3, 0.2, 100), r"cannot exceed the discordance.*Got 0\.3 instead"),
    (lambda: paired_proportion_n(-0.3, 0.2), r"\|delta\| <= discordance.*Got -0\.3 instead"),
    (lambda: paired_proportion_n(0.1, 0.0), r"discordance must be in \(0, 1\].*Got 0\.0 instead"),
    (lambda: paired_proportion_mdd(1.5, 100), r"discordance must be in \(0, 1\]"),
    (lambda: normal_power(0.1, 1.0, 100, alpha=0.0), r"alpha must be strictly between 0 and 1.*Got 0\.0"),
    (lambda: normal_n(0.1, 1.0, alpha=1.0), r"alpha must be strictly between 0 and 1"),
    (lambda: normal_n(0.1, 1.0, power=1.0), r"power must be strictly between 0 and 1.*Got 1\.0 instead"),
    (lambda: paired_proportion_mdd(0.2, 100, power=0), r"power must be strictly between 0 and 1"),
    (lambda: normal_power(0.1, 1.0, 0), r"n must be a number of rows > 0.*Got 0 instead"),
    (lambda: paired_proportion_power(0.1, 0.2, -5), r"n must be a number of rows > 0"),
    (lambda: normal_mdd(-1.0, 100), r"sd must be a standard deviation >= 0.*Got -1\.0 instead"),
    (lambda: normal_power(math.nan, 1.0, 100), r"delta must be a finite number.*Got nan instead"),
    (lambda: normal_mdd(1.0, math.inf), r"n must be a finite number.*Got inf instead"),
    (lambda: normal_n(0.1, "a"), r"sd must be a finite number.*Got 'a' instead"),
    (lambda: rows_needed(-0.1, 100, 0.05), r"mdd must be a minimum detectable difference >= 0"),
])
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
