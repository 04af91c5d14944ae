"""Fast, seeded coverage checks of assay's intervals (the full study is
benchmarks/coverage/coverage_study.py; results and discussion in docs/coverage.md).

Cells used here pass in the full 2,000-simulation study: n = 500, prevalence 0.5,
population AUC 0.7 for accuracy (Wilson), F1 (Poisson bootstrap of the confusion cells) and
ROC AUC (DeLong); MAE (Student t) at n = 500 with normal errors. With 400 simulations the
binomial SE of a 0.95 coverage is 0.011, so [0.91, 0.985] is about -3.7 / +3.2 SE around the
nominal level; the last test shows that the band does reject an interval that is too short.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage" / "coverage_study.py"
_spec = importlib.util.spec_from_file_location("coverage_study", _PATH)
cs = importlib.util.module_from_spec(_spec)
sys.modules["coverage_study"] = cs  # workers unpickle run_chunk by module name
_spec.loader.exec_module(cs)

SIMS = 400
LOW, HIGH = 0.91, 0.985
BINARY_CELL = (500, 0.5, 0.7)
REGRESSION_CELL = (500, "normal")


def _raw(family: str, params: tuple, sims: int = SIMS) -> dict[str, np.ndarray]:
    """Per-simulation (value, low, high, ok) arrays, from 2 worker processes."""
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


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_binary_coverage(binary_raw, metric):
    truth = cs.population_binary(BINARY_CELL[1], BINARY_CELL[2])[metric]
    s = cs.summarise(binary_raw[metric], truth)
    assert s["defined"] == SIMS and s["value_undefined"] == 0 and s["interval_undefined"] == 0
    assert s["zero_width"] == 0
    assert LOW <= s["coverage"] <= HIGH, s


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
        v, lo, hi, ok = arr.T.copy()
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        short = np.column_stack([v, mid - 0.7 * half, mid + 0.7 * half, ok])
        assert cs.summarise(short, truth)["coverage"] < LOW
