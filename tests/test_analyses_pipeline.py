"""The analyses end to end: spec -> evaluate -> tables -> run folder, report, summary, store,
rerun and gates, on real COMPAS data (ProPublica's "Machine Bias" file in ../shared/data).

Each analysis's numbers are checked against independent references in its own test file
(test_fairness, test_calibration, test_thresholds, test_segments); here the checks are that
they arrive everywhere intact and that the pipeline's groups are the engine's slices.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import assay
from assay._errors import InputError, SpecError
from assay.store import open_store, rerun
from assay.store._diff import table_diff
from assay.store._store import analysis_tables

COMPAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "compas" / "compas-scores-two-years.csv"
needs_compas = pytest.mark.skipif(not COMPAS.is_file(), reason=f"shared data not found at {COMPAS} "
                                  "(CI always has ../shared; run from a checkout beside it)")

SQL = (f"SELECT id, race, sex, age, age_cat, priors_count, c_charge_degree, juv_fel_count, "
       f"two_year_recid, (score_text <> 'Low')::DOUBLE AS high_risk, decile_score / 10.0 AS decile "
       f"FROM read_csv('{COMPAS}', header=true)")


def compas_spec(**extra: object) -> dict:
    spec = {
        "name": "compas-analyses", "task": "binary", "data": {"sql": SQL}, "id": "id",
        "label": "two_year_recid",
        "models": [{"name": "high_risk", "score": "high_risk"}, {"name": "decile", "score": "decile"}],
        "metrics": ["accuracy", "recall", "specificity", "positive_rate", "roc_auc", "ece"],
        "threshold": 0.5, "min_slice_size": 30, "bootstrap": 200, "seed": 3,
        "compare": {"enabled": False},
        "fairness": {"attributes": ["race", "sex"], "reference": {"race": "Caucasian"}},
        "calibration": {"remediation": ["platt", "isotonic"], "folds": 3},
        "thresholds": {"costs": {"fp": 1, "fn": 3},
                       "constraints": [{"metric": "recall", "min": 0.7, "optimize": "precision"}]},
        "error_analysis": {"columns": ["age", "age_cat", "priors_count", "c_charge_degree",
                                       "juv_fel_count"], "min_size": 40, "top": 5},
    }
    spec.update(extra)
    return spec


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[assay.EvaluationResult, Path, Path]:
    if not COMPAS.is_file():
        pytest.skip(f"shared data not found at {COMPAS}")
    tmp = tmp_path_factory.mktemp("compas")
    store = tmp / "runs.db"
    out = tmp / "run"
    result = assay.evaluate(compas_spec(), store=store, out=out)
    return result, store, out


@needs_compas
def test_every_analysis_produces_its_tables(recorded) -> None:
    result, _, _ = recorded
    assert set(result.analyses) == {"quality", "fairness_groups", "fairness", "calibration",
                                    "thresholds", "segments"}
    for name, frame in result.analyses.items():
        if name != "quality":  # the dataset's checks, not a model's
            assert set(frame.model) <= {"high_risk", "decile"}, name
    # fairness groups are the engine's slices: the intersection is a slice with task metrics
    t = result.table
    assert "race x sex" in set(t.dimension)
    assert result.row("recall", "high_risk", "race=African-American & sex=Male")["n"] > 0
    g = result.analyses["fairness_groups"]
    fpr = g[(g.model == "high_risk") & (g.attribute == "race") & (g.group == "African-American")
            & (g.metric == "fpr")].value.iloc[0]
    assert round(100 * fpr, 2) == 44.85  # ProPublica's published figure
    assert fpr == pytest.approx(1 - result.value("specificity", "high_risk", "race=African-American"),
                                abs=1e-12)
    # the segments come from the requested columns only
    seg = result.analyses["segments"]
    for cond in seg.conditions:
        assert {c["column"] for c in json.loads(cond)} <= {
            "age", "age_cat", "priors_count", "c_charge_degree", "juv_fel_count"}


@needs_compas
def test_run_folder_report_and_summary_show_the_analyses(recorded) -> None:
    result, _, out = recorded
    for name in result.analyses:
        back = pd.read_parquet(out / f"{name}.parquet")
        assert len(back) == len(result.analyses[name])
        assert (out / f"{name}.json").is_file()
    assert (out / "analyses.json").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    for anchor in ('id="fairness"', 'id="calibration"', 'id="thresholds"', 'id="segments"'):
        assert anchor in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    for title in ("Fairness", "Calibration", "Operating points", "Weak segments"):
        assert f"<details><summary><b>{title}" in summary


@needs_compas
def test_store_keeps_the_analyses_bit_for_bit_and_a_rerun_is_identical(recorded) -> None:
    result, store_path, _ = recorded
    store = open_store(store_path)
    run = store.get_run(result.extra["run_id"])
    stored = analysis_tables(run.record)
    assert set(stored) == set(result.analyses)
    from assay.analysis import TABLE_KEYS

    for name, frame in result.analyses.items():
        diff = table_diff(frame, stored[name], TABLE_KEYS[name])
        assert diff.identical, (name, diff.changed[:3], diff.only_old[:2], diff.only_new[:2])
    rep = rerun(store, run.id)
    assert rep.identical, rep.largest
    assert set(rep.analyses) == set(result.analyses)
    from assay.report import render_model_card

    card = render_model_card(store.get_run(run.id))
    assert "## Fairness" in card and "## Calibration" in card


@needs_compas
def test_fairness_and_calibration_rules_gate_the_release(recorded) -> None:
    result, _, _ = recorded
    disp = result.analyses["fairness"]
    row = disp[(disp.model == "high_risk") & (disp.attribute == "race") & (disp.variant == "original")
               & (disp.metric == "equalized_odds_difference")].iloc[0]
    assert row.value > 0.15  # ProPublica's finding: large error-rate gaps between races
    tight = result.gate([{"rule": "fairness", "metric": "equalized_odds_difference", "max": 0.05,
                          "judge": "ci_low", "attributes": ["race"], "model": "high_risk"}])
    assert tight.decision == "hold"
    assert tight.rules[0].targets[0].observed == row.value
    loose = result.gate([{"rule": "fairness", "metric": "equalized_odds_difference", "max": 0.9,
                          "judge": "ci_high", "attributes": ["race"], "model": "high_risk"}])
    assert loose.decision == "ship"
    cal = result.analyses["calibration"]
    ece = cal[(cal.model == "decile") & (cal.slice == "overall") & (cal.metric == "ece")
              & (cal.variant == "original")].iloc[0]
    rule = {"rule": "calibration", "metric": "ece", "model": "decile", "judge": "value"}
    assert result.gate([rule | {"max": ece.value + 1e-9}]).decision == "ship"
    assert result.gate([rule | {"max": ece.value - 1e-9}]).decision == "hold"
    with pytest.raises(SpecError, match="fairness metric 'nope'"):
        result.gate([{"rule": "fairness", "metric": "nope", "max": 0.1}])


def test_analyses_fit_the_task_and_the_privacy_rules(tmp_path: Path) -> None:
    base = {"label": "y", "task": "regression", "models": [{"name": "m", "score": "p"}]}
    with pytest.raises(SpecError, match="thresholds apply to binary"):
        assay.parse_spec(base | {"thresholds": {}})
    with pytest.raises(SpecError, match="calibration needs probabilities"):
        assay.parse_spec(base | {"calibration": {}})
    with pytest.raises(SpecError, match="privacy.hide"):
        assay.parse_spec(base | {"fairness": {"attributes": ["ssn"]}, "privacy": {"hide": ["ssn"]}})
    with pytest.raises(SpecError, match="not attributes"):
        assay.parse_spec(base | {"fairness": {"attributes": ["a"], "reference": {"b": "x"}}})


def test_unknown_error_analysis_column_names_the_fix(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.integers(0, 2, 200), "p": rng.uniform(size=200),
                       "region": rng.choice(["a", "b"], 200)})
    with pytest.raises(InputError, match="did you mean 'region'"):
        assay.evaluate({"label": "y", "models": [{"name": "m", "score": "p"}],
                        "error_analysis": {"columns": ["regoin"]}}, data=df)


def test_a_store_from_before_the_analyses_is_upgraded(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.integers(0, 2, 300), "p": rng.uniform(size=300)})
    spec = {"label": "y", "models": [{"name": "m", "score": "p"}], "bootstrap": 100}
    db = tmp_path / "runs.db"
    first = assay.evaluate(spec, data=df, store=db)
    store = open_store(db)
    cfg = Config()
    from assay.store import _store

    cfg.set_main_option("script_location", str(Path(_store.__file__).parent / "migrations"))
    with store.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    store.close()
    assert open_store(db).schema_version() == "0003"
    again = open_store(db).get_run(first.extra["run_id"])
    assert again.table.equals(first.table) or table_diff(first.table, again.table,
                                                         ["model", "slice", "metric"]).identical
    assert analysis_tables(again.record) == {}
