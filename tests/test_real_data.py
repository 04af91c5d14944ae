"""Real data from ../shared/data: COMPAS (ProPublica) through a DuckDB SQL source over CSV.

ProPublica's "Machine Bias" analysis published, on all 7,214 rows with high risk meaning
score_text != "Low", false positive rates of 44.85% (African-American) and 23.45%
(Caucasian) and false negative rates of 27.99% and 47.72%. FPR = 1 - specificity and
FNR = 1 - recall of the race slices must reproduce them to the published decimals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score

import assay

COMPAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "compas" / "compas-scores-two-years.csv"
pytestmark = pytest.mark.skipif(not COMPAS.is_file(), reason=f"shared data not found at {COMPAS} "
                                "(CI always has ../shared; run from a checkout beside it)")


@pytest.fixture(scope="module")
def result() -> assay.EvaluationResult:
    sql = (f"SELECT id, race, sex, two_year_recid, (score_text <> 'Low')::DOUBLE AS high_risk, "
           f"decile_score / 10.0 AS decile FROM read_csv('{COMPAS}', header=true)")
    return assay.evaluate({
        "name": "compas", "task": "binary", "data": {"sql": sql}, "id": "id",
        "label": "two_year_recid",
        "models": [{"name": "high_risk", "score": "high_risk"}, {"name": "decile", "score": "decile"}],
        "threshold": 0.5, "slices": [{"column": "race"}, {"column": "sex"}], "min_slice_size": 30,
    })


@pytest.mark.parametrize(("race", "fpr", "fnr"), [("African-American", 44.85, 27.99),
                                                  ("Caucasian", 23.45, 47.72)])
def test_propublica_error_rates(result: assay.EvaluationResult, race: str, fpr: float, fnr: float) -> None:
    s = f"race={race}"
    assert round(100 * (1 - result.value("specificity", "high_risk", s)), 2) == fpr
    assert round(100 * (1 - result.value("recall", "high_risk", s)), 2) == fnr
    assert result.row("recall", "high_risk", s)["n"] == {"African-American": 3696, "Caucasian": 2454}[race]


def test_all_rows_used_and_slices_match_sklearn(result: assay.EvaluationResult) -> None:
    df = pd.read_csv(COMPAS)
    assert result.n_rows == len(df) == 7214
    assert sum(result.excluded["decile"].values()) == 0
    for race, sub in df.groupby("race"):
        row = result.row("roc_auc", "decile", f"race={race}")
        if len(sub) < 30:
            assert row["status"] == "too_small"
            continue
        # decile scores are discrete: every bin holds one value, so binned AUC is exact
        assert row["value"] == pytest.approx(roc_auc_score(sub.two_year_recid, sub.decile_score), abs=1e-9)
        assert row["ci_low"] < row["value"] < row["ci_high"]
    hr = (df.score_text != "Low").astype(int)
    expected = recall_score(df.two_year_recid, hr)
    assert result.value("recall", "high_risk") == pytest.approx(expected, abs=1e-12)


def test_race_gap_is_significant(result: assay.EvaluationResult) -> None:
    """The FPR disparity ProPublica reported is far outside sampling noise."""
    row = result.row("specificity", "high_risk", "race=African-American")
    assert row["gap_high"] < 0  # African-American defendants: lower specificity than the rest
    assert np.isfinite(row["gap_low"])
