"""Report curves and data-card profiles against independent references: the reliability
diagram against scikit-learn's calibration_curve (with Wilson bounds from statsmodels), the
regression label summary against NumPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from statsmodels.stats.proportion import proportion_confint

import assay


def test_reliability_cells_match_sklearn_calibration_curve() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    p = rng.beta(2, 3, n)
    y = (rng.uniform(size=n) < p ** 1.3).astype(int)
    r = assay.evaluate(data={"y": y}, label="y", predictions={"m": p}, calibration_bins=10,
                       bootstrap=200)
    cal = r.curves["m"]["calibration"]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(cal["observed"], prob_true, atol=1e-6)
    np.testing.assert_allclose(cal["mean_score"], prob_pred, atol=1e-6)
    counts = np.bincount(np.minimum((p * 10).astype(int), 9), minlength=10)
    assert cal["weight"] == [float(c) for c in counts if c]
    low, high = proportion_confint(np.round(np.array(cal["observed"]) * counts[counts > 0]),
                                   counts[counts > 0], alpha=0.05, method="wilson")
    np.testing.assert_allclose(cal["observed_low"], low, atol=1e-6)
    np.testing.assert_allclose(cal["observed_high"], high, atol=1e-6)


def test_regression_label_profile_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    y = rng.lognormal(size=801)
    y[::97] = np.nan  # missing labels are counted, not summarised
    pred = np.nan_to_num(y) + rng.normal(size=y.size)
    r = assay.evaluate(data=pd.DataFrame({"y": y}), task="regression", label="y",
                       predictions={"m": pred}, bootstrap=200)
    labels = r.extra["profile"]["labels"]
    ok = y[~np.isnan(y)]
    assert labels["count"] == ok.size and labels["missing"] == int(np.isnan(y).sum())
    assert labels["min"] == pytest.approx(ok.min()) and labels["max"] == pytest.approx(ok.max())
    assert labels["median"] == pytest.approx(np.median(ok))
    assert labels["mean"] == pytest.approx(ok.mean())
    assert labels["sd"] == pytest.approx(ok.std(ddof=1))
