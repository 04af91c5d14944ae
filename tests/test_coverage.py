"""Fast, seeded coverage checks of assay's intervals (the full study is
benchmarks/coverage/coverage_study.py; results and discussion in docs/coverage.md).

Methods under test: accuracy (Wilson), F1 (Wilson on the Jaccard index, mapped by
F1 = 2J / (1 + J)), ROC AUC (DeLong on the logit scale, with a Wilson interval on the smaller
class at AUC-hat 0 or 1) and MAE (Student t).

Cells, all passing in the full 2,000-simulation study:

* n = 500, prevalence 0.5, AUC 0.7: accuracy, F1, ROC AUC; MAE at n = 500, normal errors;
* n = 50, prevalence 0.05, AUC 0.7: F1 (0.969 in the full study). The previous method, a
  bootstrap of the confusion cells, gave [0, 0] whenever TP = 0 and covered 0.804 here;
* n = 50, prevalence 0.5, AUC 0.95: ROC AUC (0.950). The previous raw-scale Wald DeLong
  interval covered 0.869 here and gave [1, 1] at AUC-hat = 1.

With 400 simulations the binomial SE of a 0.95 coverage is 0.011, so [0.91, 0.985] is about
-3.7 / +3.2 SE around the nominal level: both previous methods fall outside it in their
cells, and the last test shows that the band rejects an interval shrunk to 70% of its width.
"""

from __future__ import annotations

import math
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
from _scripts import load_script

from assay._estimate import estimate

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage" / "coverage_study.py"
cs = load_script(_PATH, "coverage_study")  # workers unpickle run_chunk by module name

SIMS = 400
LOW, HIGH = 0.91, 0.985
BINARY_CELL = (500, 0.5, 0.7)
F1_SMALL_CELL = (50, 0.05, 0.7)    # TP = 0 in ~19% of samples
AUC_SMALL_CELL = (50, 0.5, 0.95)   # ~25 per class, AUC near the ceiling
REGRESSION_CELL = (500, "normal")


def _raw(family: str, params: tuple, sims: int = SIMS) -> dict[str, np.ndarray]:
    """Per-simulation arrays (value, low, high, ok, flags, smaller class), 2 processes."""
    tasks = [(family, params, s, min(s + 100, sims)) for s in range(0, sims, 100)]
    with get_context("fork").Pool(2) as pool:
        parts = pool.map(cs.run_chunk, tasks)
    parts.sort(key=lambda p: p[2])
    return {m: np.concatenate([p[3][m] for p in parts]) for m in parts[0][3]}


@pytest.fixture(scope="module")
def binary_raw() -> dict[str, np.ndarray]:
    return _raw("binary", BINARY_CELL)


@pytest.fixture(scope="module")
def regression_raw() -> dict[str, np.ndarray]:
    return _raw("regression", REGRESSION_CELL)


def test_population_values_are_exact():
    # AUC: closed form against quadrature
    for auc in (0.7, 0.95):
        assert cs.auc_by_integration(auc) == pytest.approx(auc, abs=1e-9)
    # accuracy and F1 closed forms against one large seeded sample (SE ~ 3.4e-4)
    rng = np.random.default_rng(7)
    for prev, auc in ((0.05, 0.95), (0.5, 0.7)):
        pop = cs.population_binary(prev, auc)
        y, s = cs.simulate_binary(2_000_000, prev, auc, rng)
        pred = s >= 0.5
        tp = np.mean(pred & (y == 1))
        fp = np.mean(pred & (y == 0))
        fn = np.mean(~pred & (y == 1))
        assert np.mean(pred == (y == 1)) == pytest.approx(pop["accuracy"], abs=2e-3)
        assert 2 * tp / (2 * tp + fp + fn) == pytest.approx(pop["f1"], abs=4e-3)
    # MAE: sqrt(2/pi) * sd for normal errors, and for the mixture
    y, p = cs.simulate_regression(2_000_000, "mixture", rng)
    assert np.mean(np.abs(p - y)) == pytest.approx(cs.population_mae("mixture"), abs=5e-3)
    assert cs.population_mae("normal") == pytest.approx(math.sqrt(2 / math.pi))


def test_methods_are_the_documented_ones():
    """The study and docs/coverage.md describe these methods; fail loudly if they change."""
    y, s = cs.simulate_binary(200, 0.5, 0.7, np.random.default_rng(3))
    res = estimate("binary", y, s, metrics=["accuracy", "f1", "roc_auc"], seed=1)
    assert res["accuracy"].method == "wilson"
    assert res["f1"].method == "wilson on jaccard"
    assert res["roc_auc"].method == "delong (logit)"
    y, p = cs.simulate_regression(200, "normal", np.random.default_rng(3))
    assert estimate("regression", y, p, metrics=["mae"])["mae"].method == "t"


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_binary_coverage(binary_raw, metric):
    truth = cs.population_binary(BINARY_CELL[1], BINARY_CELL[2])[metric]
    s = cs.summarise(binary_raw[metric], truth)
    assert s["defined"] == SIMS and s["value_undefined"] == 0 and s["interval_undefined"] == 0
    assert s["zero_width"] == 0
    assert LOW <= s["coverage"] <= HIGH, s


def test_f1_with_few_true_positives():
    """The cell where the bootstrap returned [0, 0] at TP = 0 (coverage 0.804)."""
    raw = _raw("binary", F1_SMALL_CELL)
    s = cs.summarise(raw["f1"], cs.population_binary(*F1_SMALL_CELL[1:])["f1"])
    assert s["defined"] == SIMS and s["zero_width"] == 0
    assert np.sum(raw["f1"][:, 0] == 0) > 40  # TP = 0 does occur (expected ~78 of 400)
    assert LOW <= s["coverage"] <= HIGH, s
    # assay's F1 interval is the Wilson interval on the Jaccard index, to rounding
    assert np.allclose(raw["f1"][:, :3], raw["f1_jaccard_wilson"][:, :3], rtol=0, atol=1e-12)


def test_auc_near_the_ceiling():
    """The cell where raw-scale Wald DeLong covered 0.869 and gave [1, 1] at AUC-hat = 1."""
    raw = _raw("binary", AUC_SMALL_CELL)
    truth = cs.population_binary(*AUC_SMALL_CELL[1:])["roc_auc"]
    s = cs.summarise(raw["roc_auc"], truth)
    assert s["defined"] == SIMS and s["zero_width"] == 0
    assert LOW <= s["coverage"] <= HIGH, s
    # the previous method, reconstructed on the same samples, fails the band here
    assert cs.summarise(raw["roc_auc_wald_delong"], truth)["coverage"] < LOW


def test_auc_signals_small_classes_and_separation():
    """Notes and bounds where the AUC interval is not a large-sample DeLong interval."""
    y = np.array([1, 1, 1] + [0] * 20)
    s = np.r_[[0.9, 0.8, 0.95], np.linspace(0.1, 0.6, 20)]
    e = estimate("binary", y, s, metrics=["roc_auc"])["roc_auc"]
    assert e.value == 1.0 and e.status == "ok"
    assert "perfect separation" in e.note and "approximate" in e.note
    assert 0.3 < e.low < 0.6 and e.high == 1.0  # Wilson on 3 rows: 3 / (3 + z^2) = 0.44
    y1 = np.array([1] + [0] * 20)
    e1 = estimate("binary", y1, s[2:], metrics=["roc_auc"])["roc_auc"]
    assert math.isnan(e1.low) and math.isnan(e1.high) and "no interval" in e1.note


def test_mae_coverage(regression_raw):
    s = cs.summarise(regression_raw["mae"], cs.population_mae("normal"))
    assert s["defined"] == SIMS
    assert LOW <= s["coverage"] <= HIGH, s


def test_band_rejects_a_short_interval(binary_raw, regression_raw):
    """Intervals shrunk to 70% of their width (nominal ~0.83 for a normal pivot) must fail."""
    arrays = [(binary_raw[m], cs.population_binary(*BINARY_CELL[1:])[m])
              for m in ("accuracy", "f1", "roc_auc")]
    arrays.append((regression_raw["mae"], cs.population_mae("normal")))
    for arr, truth in arrays:
        v, lo, hi, ok = arr[:, :4].T.copy()
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        short = np.column_stack([v, mid - 0.7 * half, mid + 0.7 * half, ok])
        assert cs.summarise(short, truth)["coverage"] < LOW
