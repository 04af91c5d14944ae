"""Statistical tests of the gates: error rates over many seeded simulated releases.

Each simulation draws ``N_SIMS`` = 1,000 independent data sets from a known truth (NumPy
``default_rng`` with a fixed seed, so every run sees the same draws), compares a candidate
with a baseline by ``assay.compare.compare_pair`` on in-memory arrays with a hand-built
:class:`~assay.engine.Partition`, and decides a gate policy with ``assay.gates.gate``, as
``assay.evaluate`` does (one end-to-end run checks that the shortcut matches it).

The run's confidence is c = 0.95, so alpha = 1 - c = 0.05. A measured rate over N_SIMS
independent runs has standard error sqrt(p (1 - p) / N_SIMS); every bound is the nominal
rate plus three of those (about 0.02 at alpha), so a correct gate fails a check by chance
with probability ~0.001, while a real error (a missing multiplicity adjustment, a flipped
side, an interval that is too narrow) moves the rate by far more.

1. **False holds with every slice unchanged.** Twenty slices in which candidate and baseline
   have the same accuracy (different per slice, with 6-20% of rows on which they disagree);
   a non-inferiority guard at margin 0 over the twenty slices must hold (fail) at most
   alpha + 3 SE of the time. With ``simultaneous: holm`` (the default) its family-wise
   false-hold rate is at most alpha / 2 (one-sided tests, Holm across slices); with
   ``simultaneous: none`` it is near 1 - 0.975^20 = 0.40, which is why Holm is the default.
2. **False ships at the margin.** The true difference is exactly -margin, the least
   favourable null of non-inferiority; the rule must pass at most alpha + 3 SE of the time
   (nominally alpha / 2: it passes when the lower bound of the two-sided interval clears
   -margin). For accuracy (McNemar / Tango) and for MAE (paired t on per-row losses, lower
   is better, so "worse" is a positive difference).
3. **Power.** A planted improvement must be detected (superiority rule passes) at the rate
   that ``assay.stats._power`` predicts, within 3 SE: ``paired_proportion_power`` for
   accuracy and ``normal_power`` for MAE, at sizes where the predicted power is 0.5-0.8 and
   the rate is most sensitive to a wrong variance.
4. **False-discovery rate.** Twenty slices, five with real accuracy changes; the comparison
   table's Benjamini-Hochberg ``p_adjusted`` (the default ``adjust: bh``) at q = 0.05 must
   keep the mean false-discovery proportion at most q + 3 SE(FDP).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

import assay
from assay.compare import PairArrays, PairContext, compare_pair
from assay.engine._partition import Dimension, Partition
from assay.gates import FAIL, HOLD, PASS, GateTables, gate, parse_rules
from assay.stats._power import normal_power, paired_proportion_n, paired_proportion_power

N_SIMS = 1000
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
Q = 0.05
MIN_SLICE_SIZE = 30


def se_rate(p: float, n: int = N_SIMS) -> float:
    return math.sqrt(p * (1 - p) / n)


def report(name: str, **numbers: Any) -> None:
    """Print a simulation's measured numbers (shown with ``pytest -s``)."""
    shown = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in numbers.items())
    print(f"\n[{name}] {shown}")


# ---------------------------------------------------------------------------- the pipeline


def segments(sizes: list[int] | np.ndarray) -> tuple[Partition, list[np.ndarray]]:
    """A partition with one dimension ``segment`` whose k-th level holds sizes[k] rows (in
    order), and the per-row codes; no sizes: overall only."""
    if len(sizes) == 0:
        return Partition([]), []
    levels = [f"s{k:02d}" for k in range(len(sizes))]
    dim = Dimension("segment", levels, list(range(len(levels))))
    return Partition([dim]), [np.repeat(np.arange(len(sizes)), sizes)]


def compare(task: str, metric: str, higher_is_better: bool, y: np.ndarray, a: np.ndarray,
            b: np.ndarray, partition: Partition, codes: list[np.ndarray]) -> pd.DataFrame:
    ctx = PairContext(confidence=CONFIDENCE, replicates=200, threshold=0.5, classes=[0, 1],
                      weighted=False)
    return compare_pair(task=task, metrics=[metric], higher_is_better={metric: higher_is_better},
                        pairs=PairArrays(y=y, w=None, a=[a], b=[b]), codes=codes,
                        partition=partition, ctx=ctx, names=("base", "cand"),
                        min_slice_size=MIN_SLICE_SIZE, singles={})


def gate_tables(comp: pd.DataFrame) -> GateTables:
    """The tables ``EvaluationResult.gate_tables`` would give (the candidate's side of the
    result table is only read for slice names and sizes by comparison rules)."""
    res = pd.DataFrame({"model": "cand", "slice": comp.slice, "dimension": comp.dimension,
                        "metric": comp.metric, "n": comp.n})
    return GateTables(results=res, comparisons=comp, confidence=CONFIDENCE, baseline="base",
                      candidates=["cand"], models=["base", "cand"], min_slice_size=MIN_SLICE_SIZE)


def simulate_rule(rules: list, make_comparison) -> tuple[list, float]:
    """Gate N_SIMS simulated comparison tables with one rule: its outcomes and the seconds."""
    start = time.perf_counter()
    outcomes = [gate(rules, gate_tables(make_comparison())).rules[0] for _ in range(N_SIMS)]
    return outcomes, time.perf_counter() - start


def paired_binary(rng: np.random.Generator, p10: np.ndarray, p01: np.ndarray, acc: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two models' scores, row by row: the candidate alone is right with
    probability p10, the baseline alone with p01, and the baseline's accuracy is ``acc``
    (so both are right with acc - p01). Scores are 0.2 / 0.8 around the threshold 0.5."""
    n = p10.size
    p11 = acc - p01
    u = rng.random(n)
    cand_ok = u < p11 + p10
    base_ok = (u < p11) | ((u >= p11 + p10) & (u < p11 + p10 + p01))
    y = (rng.random(n) < 0.35).astype(np.int64)
    pos = y == 1
    a = np.where(base_ok == pos, 0.8, 0.2)
    b = np.where(cand_ok == pos, 0.8, 0.2)
    return y, a, b


def per_row(sizes: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(values, dtype=np.float64), sizes)


# ---------------------------------------------------------------------------- 1. false holds

#: twenty slices of different sizes, accuracies and discordances; both models equal in each
_RNG0 = np.random.default_rng(20240601)
SLICE_SIZES = _RNG0.integers(200, 801, 20)
SLICE_ACC = _RNG0.uniform(0.65, 0.92, 20)
SLICE_PSI = _RNG0.uniform(0.06, 0.20, 20)
GUARD = {"rule": "non_inferiority", "metric": "accuracy", "margin": 0, "slices": ["segment"]}


def null_slices(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    half = per_row(SLICE_SIZES, SLICE_PSI / 2)
    return paired_binary(rng, half, half, per_row(SLICE_SIZES, SLICE_ACC))


def test_slice_guard_false_hold_rate_every_slice_unchanged() -> None:
    partition, codes = segments(SLICE_SIZES)
    rules = parse_rules([{**GUARD, "name": "holm"}, {**GUARD, "name": "none",
                                                      "simultaneous": "none"}])
    rng = np.random.default_rng(1)
    holds = {"holm": 0, "none": 0, "verdict": 0}
    slice_fails = 0
    start = time.perf_counter()
    for _ in range(N_SIMS):
        y, a, b = null_slices(rng)
        comp = compare("binary", "accuracy", True, y, a, b, partition, codes)
        tabs = gate_tables(comp)
        guarded, unadjusted = gate(rules[:1], tabs), gate(rules[1:], tabs)
        holds["holm"] += guarded.rules[0].status == FAIL
        holds["verdict"] += guarded.decision == HOLD
        holds["none"] += unadjusted.rules[0].status == FAIL
        slice_fails += sum(t.status == FAIL for t in unadjusted.rules[0].targets)
    elapsed = time.perf_counter() - start
    holm_rate, none_rate = holds["holm"] / N_SIMS, holds["none"] / N_SIMS
    per_slice = slice_fails / (N_SIMS * len(SLICE_SIZES))
    report("1 false hold, 20 unchanged slices", n_sims=N_SIMS, holm=holm_rate, none=none_rate,
           per_slice_unadjusted=per_slice, seconds=elapsed)
    assert holds["verdict"] == holds["holm"]  # a failing hold rule is a hold verdict
    # the bound, and the tighter one the gate documents (one-sided, Holm FWER)
    assert holm_rate <= ALPHA + 3 * se_rate(ALPHA), holm_rate
    assert holm_rate <= ALPHA / 2 + 3 * se_rate(ALPHA / 2), holm_rate
    # each slice alone is a one-sided test at alpha / 2 ...
    assert abs(per_slice - ALPHA / 2) <= 3 * se_rate(ALPHA / 2, N_SIMS * len(SLICE_SIZES)), per_slice
    # ... so without an adjustment twenty of them hold a healthy release ~40% of the time
    expected_none = 1 - (1 - ALPHA / 2) ** len(SLICE_SIZES)
    assert abs(none_rate - expected_none) <= 3 * se_rate(expected_none), none_rate
    assert none_rate > 5 * max(holm_rate, ALPHA / 4)


# ---------------------------------------------------------------------------- 2. false ships


def test_non_inferiority_false_ship_rate_at_the_margin_accuracy() -> None:
    """Accuracy difference exactly -0.02 (candidate alone right on 6.5% of rows, baseline
    alone on 8.5%), margin 0.02: the rule must rarely pass."""
    n, margin, psi = 3000, 0.02, 0.15
    p10, p01 = (psi - margin) / 2, (psi + margin) / 2
    partition, codes = segments([])
    rules = parse_rules([{"rule": "non_inferiority", "metric": "accuracy", "margin": margin}])
    rng = np.random.default_rng(2)

    def simulate() -> pd.DataFrame:
        y, a, b = paired_binary(rng, np.full(n, p10), np.full(n, p01), np.full(n, 0.8))
        return compare("binary", "accuracy", True, y, a, b, partition, codes)

    outcomes, elapsed = simulate_rule(rules, simulate)
    passes = sum(r.status == PASS for r in outcomes)
    fails = sum(r.status == FAIL for r in outcomes)
    deltas = [r.targets[0].observed for r in outcomes]
    rate = passes / N_SIMS
    report("2 false ship, accuracy at -margin", n_sims=N_SIMS, n=n, false_ship=rate,
           fail=fails / N_SIMS, mean_delta=float(np.mean(deltas)), seconds=elapsed)
    assert abs(np.mean(deltas) + margin) < 3 * np.std(deltas) / math.sqrt(N_SIMS)  # the truth
    assert rate <= ALPHA + 3 * se_rate(ALPHA), rate
    assert rate <= ALPHA / 2 + 3 * se_rate(ALPHA / 2), rate
    # symmetric: at the margin, a fail is as (un)likely as a pass
    assert fails / N_SIMS <= ALPHA / 2 + 3 * se_rate(ALPHA / 2)


def test_non_inferiority_false_ship_rate_at_the_margin_mae() -> None:
    """Regression errors e_a ~ N(0, 1) and e_b = e_a + N(0, s^2): E|e_b| - E|e_a| =
    sqrt(2 / pi) (sqrt(1 + s^2) - 1), set to the margin 0.02 exactly. MAE is lower-is-better,
    so the candidate is worse by exactly the margin."""
    n, margin = 1000, 0.02
    s = math.sqrt((1 + margin / math.sqrt(2 / math.pi)) ** 2 - 1)
    partition, codes = segments([])
    rules = parse_rules([{"rule": "non_inferiority", "metric": "mae", "margin": margin}])
    rng = np.random.default_rng(3)

    def simulate() -> pd.DataFrame:
        y = rng.normal(10.0, 3.0, n)
        e = rng.normal(size=n)
        a, b = y + e, y + e + rng.normal(scale=s, size=n)
        return compare("regression", "mae", False, y, a, b, partition, codes)

    outcomes, elapsed = simulate_rule(rules, simulate)
    assert all(r.targets[0].direction == "<=" and r.targets[0].bound == margin for r in outcomes)
    passes = sum(r.status == PASS for r in outcomes)
    fails = sum(r.status == FAIL for r in outcomes)
    rate = passes / N_SIMS
    report("2 false ship, mae at +margin", n_sims=N_SIMS, n=n, false_ship=rate,
           fail=fails / N_SIMS, seconds=elapsed)
    assert rate <= ALPHA + 3 * se_rate(ALPHA), rate
    assert rate <= ALPHA / 2 + 3 * se_rate(ALPHA / 2), rate
    assert fails / N_SIMS <= ALPHA / 2 + 3 * se_rate(ALPHA / 2)


# ---------------------------------------------------------------------------- 3. power


def test_superiority_power_accuracy_matches_prediction() -> None:
    """Accuracy up by 0.02 with 10% discordant rows; n chosen for a predicted power ~0.65."""
    delta, psi = 0.02, 0.10
    n = paired_proportion_n(delta, psi, power=0.65)
    predicted = paired_proportion_power(delta, psi, n, alpha=ALPHA)
    partition, codes = segments([])
    rules = parse_rules([{"rule": "superiority", "metric": "accuracy"}])
    rng = np.random.default_rng(4)

    def simulate() -> pd.DataFrame:
        y, a, b = paired_binary(rng, np.full(n, (psi + delta) / 2), np.full(n, (psi - delta) / 2),
                                np.full(n, 0.75))
        return compare("binary", "accuracy", True, y, a, b, partition, codes)

    outcomes, elapsed = simulate_rule(rules, simulate)
    rate = sum(r.status == PASS for r in outcomes) / N_SIMS
    report("3 power, accuracy", n_sims=N_SIMS, n=n, predicted=predicted, detected=rate,
           seconds=elapsed)
    assert 0.5 <= predicted <= 0.8
    assert abs(rate - predicted) <= 3 * se_rate(predicted), (rate, predicted)


def test_superiority_power_mae_matches_prediction() -> None:
    """Absolute errors |e_a| ~ U(1, 2) and |e_b| = |e_a| + d, d ~ U(-delta - h, -delta + h)
    with delta + h < 1 (so |e_b| stays positive and the per-row difference is exactly d):
    the MAE drops by delta and the per-row differences have sd h / sqrt(3)."""
    delta, h, n = 0.05, 0.9, 600
    sd = h / math.sqrt(3)
    predicted = normal_power(delta, sd, n, alpha=ALPHA)
    partition, codes = segments([])
    rules = parse_rules([{"rule": "superiority", "metric": "mae"}])
    rng = np.random.default_rng(5)

    def simulate() -> pd.DataFrame:
        y = rng.normal(10.0, 3.0, n)
        side = rng.choice([-1.0, 1.0], n)  # errors on both sides of the label
        err = rng.uniform(1.0, 2.0, n)
        d = rng.uniform(-delta - h, -delta + h, n)
        return compare("regression", "mae", False, y, y + side * err, y + side * (err + d),
                       partition, codes)

    outcomes, elapsed = simulate_rule(rules, simulate)
    rate = sum(r.status == PASS for r in outcomes) / N_SIMS
    report("3 power, mae", n_sims=N_SIMS, n=n, predicted=predicted, detected=rate,
           seconds=elapsed)
    assert 0.5 <= predicted <= 0.8
    assert abs(rate - predicted) <= 3 * se_rate(predicted), (rate, predicted)


# ---------------------------------------------------------------------------- 4. FDR


def test_benjamini_hochberg_controls_false_discoveries_across_slices() -> None:
    """Twenty slices of 600 rows with 12% discordance; five have accuracy changes of
    +-0.04 to 0.06, fifteen none. The family adjusted together is the overall row and the
    twenty slices (churn is left out); the overall change (+0.003) is real, so it is a true
    discovery."""
    k, size, psi = 20, 600, 0.12
    effects = np.zeros(k)
    effects[[2, 7, 11, 14, 18]] = [0.05, 0.04, -0.04, 0.06, -0.05]
    sizes = np.full(k, size)
    partition, codes = segments(sizes)
    d = per_row(sizes, effects)
    p10, p01 = (psi + d) / 2, (psi - d) / 2
    acc = per_row(sizes, np.linspace(0.7, 0.9, k))
    null = np.r_[False, effects == 0]  # the overall row first, then the slices in order
    rng = np.random.default_rng(6)
    fdp, fdp_raw, true_found = [], [], []
    start = time.perf_counter()
    for _ in range(N_SIMS):
        y, a, b = paired_binary(rng, p10, p01, acc)
        comp = compare("binary", "accuracy", True, y, a, b, partition, codes)
        comp = comp[comp.metric == "accuracy"]
        assert list(comp.slice) == ["overall", *(f"segment=s{j:02d}" for j in range(k))]
        found = comp.p_adjusted.to_numpy() <= Q
        raw = comp.p_value.to_numpy() <= Q
        fdp.append((found & null).sum() / max(found.sum(), 1))
        fdp_raw.append((raw & null).sum() / max(raw.sum(), 1))
        true_found.append((found & ~null).sum())
    elapsed = time.perf_counter() - start
    fdr, se_fdp = float(np.mean(fdp)), float(np.std(fdp, ddof=1)) / math.sqrt(N_SIMS)
    report("4 FDR, BH over 21 tests (15 null)", n_sims=N_SIMS, fdr=fdr, se_fdp=se_fdp,
           fdr_unadjusted=float(np.mean(fdp_raw)),
           mean_true_discoveries=float(np.mean(true_found)), seconds=elapsed)
    assert fdr <= Q + 3 * se_fdp, (fdr, se_fdp)
    assert np.mean(true_found) >= 3  # not vacuous: BH finds most of the real changes
    assert fdr < np.mean(fdp_raw)  # and the adjustment is what keeps the FDR down


# ---------------------------------------------------------------------------- end to end


def test_shortcut_matches_evaluate() -> None:
    """One simulated release through ``assay.evaluate``: the same comparison rows and the
    same decisions as the in-memory path used above."""
    rng = np.random.default_rng(7)
    y, a, b = null_slices(rng)
    partition, codes = segments(SLICE_SIZES)
    comp = compare("binary", "accuracy", True, y, a, b, partition, codes)
    rules = [{**GUARD, "name": "holm"}, {**GUARD, "name": "none", "simultaneous": "none"}]
    direct = gate(parse_rules(rules), gate_tables(comp))
    labels = np.array([f"s{k:02d}" for k in range(len(SLICE_SIZES))])[codes[0]]
    spec = {"task": "binary", "label": "y", "metrics": ["accuracy"], "bootstrap": 100,
            "min_slice_size": MIN_SLICE_SIZE, "slices": [{"column": "segment"}],
            "models": [{"name": "base", "score": "a"}, {"name": "cand", "score": "b"}],
            "gates": rules}
    result = assay.evaluate(spec, data={"y": y, "a": a, "b": b, "segment": labels})
    ours = result.comparisons[result.comparisons.metric == "accuracy"].set_index("slice")
    mine = comp[comp.metric == "accuracy"].set_index("slice")
    cols = ["delta", "ci_low", "ci_high", "p_value", "p_adjusted", "n"]
    pd.testing.assert_frame_equal(ours.loc[mine.index, cols], mine[cols], check_dtype=False)
    assert result.verdict is not None
    assert result.verdict.decision == direct.decision
    for got, want in zip(result.verdict.rules, direct.rules, strict=True):
        assert got.status == want.status
        assert [(t.slice, t.status) for t in got.targets] == [(t.slice, t.status)
                                                              for t in want.targets]
        np.testing.assert_allclose([t.p_fail for t in got.targets],
                                   [t.p_fail for t in want.targets], rtol=1e-12)


@pytest.mark.parametrize("seed", [0])
def test_simulated_data_has_the_planted_truth(seed: int) -> None:
    """The generator's truth, checked on one big draw: equal accuracy per slice under the
    null, and the planted discordance."""
    rng = np.random.default_rng(seed)
    big = np.full(200_000, 1)
    psi, acc = 0.12, 0.8
    y, a, b = paired_binary(rng, big * psi / 2, big * psi / 2, big * acc)
    ok_a, ok_b = (a >= 0.5) == (y == 1), (b >= 0.5) == (y == 1)
    assert abs(ok_a.mean() - acc) < 0.005 and abs(ok_b.mean() - acc) < 0.005
    assert abs((ok_a != ok_b).mean() - psi) < 0.005
