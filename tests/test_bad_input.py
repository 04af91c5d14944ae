"""Bad input stops with exit code 2 and a message naming the file, column, values and the fix;
usable-but-incomplete rows are excluded and counted by reason, never silently dropped."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Case, CliRunner, run_subprocess, write_spec, write_table

import assay
from assay._errors import InputError


def fails(cli: CliRunner, case: Case, *extra: str) -> str:
    """Write the case, run ``assay evaluate`` on it, require exit 2 and return the message."""
    case.write()
    res = cli("evaluate", case.spec_path, "-o", case.root / "run", "-q", *extra)
    assert res.code == 2, res.text
    assert "Traceback" not in res.text and "internal error" not in res.text
    assert not (case.root / "run").exists(), "no run folder is written for bad input"
    return " ".join(res.err.split())  # the message, unwrapped


# ---- columns ---------------------------------------------------------------------------------


def test_missing_label_column(cli: CliRunner, case: Case) -> None:
    case.spec["label"] = "Y"
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "'Y' (label) not found" in msg
    assert "Did you mean 'y'?" in msg
    assert "Available columns: id, y, region" in msg
    assert "Fix the column name" in msg


def test_missing_score_column(cli: CliRunner, case: Case) -> None:
    case.spec["models"][0]["score"] = "prob"
    msg = fails(cli, case)
    assert str(case.preds_path) in msg
    assert "'prob' (score) not found" in msg
    assert "Available columns: id, p" in msg
    assert "Fix the column name" in msg


def test_binary_label_with_three_values(cli: CliRunner, case: Case) -> None:
    case.data["y"] = np.arange(len(case.data)) % 3
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "'y'" in msg and "0, 1, 2" in msg
    assert "task: multiclass" in msg


def test_binary_label_with_three_values_and_positive(cli: CliRunner, case: Case) -> None:
    case.data["y"] = np.arange(len(case.data)) % 3
    case.spec["positive"] = 1
    msg = fails(cli, case)
    assert "'y' has 3: 0, 1, 2" in msg and "task: multiclass" in msg


def test_binary_positive_value_absent(cli: CliRunner, case: Case) -> None:
    case.spec["positive"] = "yes"
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "'yes'" in msg and "0, 1" in msg and "'positive'" in msg


def test_multiclass_label_outside_declared_classes(cli: CliRunner, case: Case) -> None:
    n = len(case.data)
    case.data["y"] = np.array(["cat", "dog", "emu", "cat"] * n)[:n]
    case.preds = pd.DataFrame({"id": case.data["id"], "pc": 0.5, "pd": 0.5})
    case.spec |= {"task": "multiclass", "classes": ["cat", "dog"],
                  "models": [{"name": "m", "path": "preds.parquet",
                              "scores": {"cat": "pc", "dog": "pd"}}]}
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "'y'" in msg and "'emu'" in msg
    assert "Add them to 'classes'" in msg


def test_probabilities_outside_unit_interval(cli: CliRunner, case: Case) -> None:
    case.preds.loc[[3, 7], "p"] = [1.5, -0.25]
    bad_ids = case.preds.loc[[3, 7], "id"].tolist()
    msg = fails(cli, case)
    assert str(case.preds_path) in msg
    assert "'m' has 2 row(s) with probabilities outside [0, 1]" in msg
    assert all(f"id {i}" in msg for i in bad_ids)
    assert "sigmoid" in msg and "--exclude-invalid" in msg


def test_exclude_invalid_counts_out_of_range(cli: CliRunner, case: Case) -> None:
    case.preds.loc[[3, 7], "p"] = [1.5, -0.25]
    case.write()
    res = cli("evaluate", case.spec_path, "-o", case.root / "run", "--exclude-invalid")
    assert res.code == 0, res.text
    excluded = json.loads((case.root / "run" / "excluded.json").read_text())
    assert excluded["m"]["out-of-range score"] == 2
    assert sum(excluded["m"].values()) == 2
    assert "out-of-range score: 2" in res.out
    table = pd.read_parquet(case.root / "run" / "results.parquet")
    assert (table.loc[table.slice == "overall", "n"] == len(case.data) - 2).all()


def test_multiclass_rows_not_summing_to_one(cli: CliRunner, case: Case) -> None:
    n = len(case.data)
    case.data["y"] = np.array(["a", "b"] * n)[:n]
    case.preds = pd.DataFrame({"id": case.data["id"], "pa": 0.5, "pb": 0.5})
    case.preds.loc[4, "pb"] = 0.7
    case.spec |= {"task": "multiclass",
                  "models": [{"name": "m", "path": "preds.parquet",
                              "scores": {"a": "pa", "b": "pb"}}]}
    msg = fails(cli, case)
    assert str(case.preds_path) in msg and "summing to 1" in msg
    assert f"id {case.preds.loc[4, 'id']}" in msg and "normalise" in msg


# ---- ids -------------------------------------------------------------------------------------


def test_duplicate_ids_in_dataset(cli: CliRunner, case: Case) -> None:
    case.data = pd.concat([case.data, case.data.iloc[[0, 0, 5]]], ignore_index=True)
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "column 'id' has 2 duplicate id value(s)" in msg
    assert "1000 (3 rows)" in msg and "1005 (2 rows)" in msg
    assert "deduplicate" in msg


def test_duplicate_ids_in_predictions(cli: CliRunner, case: Case) -> None:
    case.preds = pd.concat([case.preds, case.preds[case.preds.id == 1010]], ignore_index=True)
    msg = fails(cli, case)
    assert str(case.preds_path) in msg
    assert "column 'id' has 1 duplicate id value(s): 1010 (2 rows)" in msg
    assert "deduplicate" in msg


def test_prediction_ids_absent_from_dataset(cli: CliRunner, case: Case) -> None:
    extra = pd.DataFrame({"id": [7, 8], "p": [0.1, 0.2]})
    case.preds = pd.concat([case.preds, extra], ignore_index=True)
    msg = fails(cli, case)
    assert str(case.preds_path) in msg
    assert "2 prediction id(s) in column 'id' are absent from the dataset: 7, 8" in msg
    assert "same evaluation set version" in msg


def test_predictions_file_without_id(cli: CliRunner, case: Case) -> None:
    del case.spec["id"]
    msg = fails(cli, case)
    assert "models.m" in msg and "set 'id'" in msg


# ---- rows --------------------------------------------------------------------------------------


def test_empty_dataset(cli: CliRunner, case: Case) -> None:
    case.data = case.data.iloc[:0]
    msg = fails(cli, case)
    assert str(case.data_path) in msg and "empty (0 rows)" in msg


def test_no_usable_row(cli: CliRunner, case: Case) -> None:
    case.preds["p"] = np.nan
    msg = fails(cli, case)
    assert "no row is usable" in msg and "missing or NaN score" in msg


def test_where_slice_selecting_no_rows(cli: CliRunner, case: Case) -> None:
    case.spec["slices"] = [{"where": "x > 100", "name": "huge_x"}]
    msg = fails(cli, case)
    assert "'huge_x' (x > 100) selects no rows" in msg
    assert "fix the predicate or remove the slice" in msg


def test_where_slice_invalid_sql(cli: CliRunner, case: Case) -> None:
    case.spec["slices"] = [{"where": "no_such_column > 1", "name": "bad"}]
    msg = fails(cli, case)
    assert "'bad'" in msg and "no_such_column" in msg and "DuckDB SQL boolean expression" in msg


def test_slice_on_unknown_column(cli: CliRunner, case: Case) -> None:
    case.spec["slices"] = [{"column": "regoin"}]
    msg = fails(cli, case)
    assert "'regoin' not found" in msg and "region" in msg


# ---- types -------------------------------------------------------------------------------------


def test_string_score_column(cli: CliRunner, case: Case) -> None:
    case.preds["p"] = case.preds["p"].astype(str)
    msg = fails(cli, case)
    assert str(case.preds_path) in msg
    assert "column 'p' (score of model 'm') has type VARCHAR" in msg and "must hold numbers" in msg


def test_string_label_for_regression(cli: CliRunner, case: Case) -> None:
    case.data["y"] = case.data["y"].map({0: "low", 1: "high"})
    case.spec |= {"task": "regression",
                  "models": [{"name": "m", "path": "preds.parquet", "prediction": "p"}]}
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "label column 'y' has type VARCHAR" in msg and "must be numeric" in msg


def test_negative_weights(cli: CliRunner, case: Case) -> None:
    case.data.loc[[2, 9], "w"] = [-1.0, np.nan]
    case.spec["weight"] = "w"
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "column 'w' has 2 missing, NaN or negative weight(s) (id 1002, id 1009)" in msg
    assert ">= 0" in msg and "fill or drop" in msg


def test_string_weights(cli: CliRunner, case: Case) -> None:
    case.data["w"] = "heavy"
    case.spec["weight"] = "w"
    msg = fails(cli, case)
    assert "weight column 'w' has type VARCHAR" in msg


# ---- the spec ----------------------------------------------------------------------------------


def test_malformed_yaml(cli: CliRunner, case: Case) -> None:
    case.write()
    write_spec(case.spec_path, "task: binary\nlabel: y\nmodels: [{name: m\nslices: x\n")
    res = cli("evaluate", case.spec_path, "-q")
    assert res.code == 2
    msg = " ".join(res.err.split())
    assert str(case.spec_path) in msg
    assert "malformed YAML at line 4, column 7" in msg and "Fix the YAML syntax" in msg


def test_unknown_metric(cli: CliRunner, case: Case) -> None:
    case.spec["metrics"] = ["accuracy", "auc"]
    msg = fails(cli, case)
    assert "unknown metric(s) 'auc' for task 'binary'" in msg
    assert "Allowed: accuracy, balanced_accuracy" in msg and "roc_auc" in msg


def test_unknown_task(cli: CliRunner, case: Case) -> None:
    case.spec["task"] = "binnary"
    msg = fails(cli, case)
    assert str(case.spec_path) in msg
    assert "task: unknown task 'binnary'; allowed: binary, multiclass, regression" in msg


def test_unknown_top_level_key(cli: CliRunner, case: Case) -> None:
    case.spec["treshold"] = 0.3
    msg = fails(cli, case)
    assert str(case.spec_path) in msg
    assert "treshold: unknown key (got 0.3); did you mean 'threshold'?" in msg
    assert "Allowed keys here: name, task, data, id, label" in msg


def test_unknown_nested_key_has_its_path(cli: CliRunner, case: Case) -> None:
    case.spec["slices"] = [{"column": "region"}, {"column": "x", "bin": [0, 1]}]
    msg = fails(cli, case)
    assert "(1 problem(s))" in msg  # one problem, not one per kind of slice
    assert "slices.1.bin: unknown key; did you mean 'bins'? " \
           "Allowed keys here: column, name, bins, quantiles" in msg
    case.spec["slices"] = [{"name": "no kind"}]
    msg = fails(cli, case)
    assert "slices.0:" in msg and "'column', 'where' or 'cross'" in msg
    case.spec["slices"] = [{"column": "x", "bins": [3, 1]}]
    assert "slices.0.bins: bins must be at least two strictly increasing edges" in fails(cli, case)
    case.spec["slices"] = []
    case.spec["models"][0]["scroe"] = "p"
    assert "models.0.scroe: unknown key (got 'p'); did you mean 'score'?" in fails(cli, case)


def test_missing_spec_file(cli: CliRunner, tmp_path: Path) -> None:
    res = cli("evaluate", tmp_path / "nope.yaml")
    assert res.code == 2
    assert f"{tmp_path / 'nope.yaml'}: spec file not found" in " ".join(res.err.split())


def test_missing_data_file(cli: CliRunner, case: Case) -> None:
    case.spec["data"] = {"path": "nothere.parquet"}
    msg = fails(cli, case)
    assert str(case.root / "nothere.parquet") in msg and "file not found" in msg


def test_bad_input_through_installed_entry_point(case: Case) -> None:
    """The real process: exit status 2 and the message on stderr."""
    case.spec["label"] = "label"
    case.write()
    proc = run_subprocess("evaluate", case.spec_path, "-q")
    assert proc.returncode == 2, proc.stderr
    assert "column 'label' (label) not found" in proc.stderr
    missing = run_subprocess("evaluate", case.root / "absent.yaml")
    assert missing.returncode == 2 and "spec file not found" in missing.stderr


def test_error_text_is_not_read_as_markup(cli: CliRunner, case: Case) -> None:
    """Column names are user text: '[bold]' or '[/x]' must be printed, not interpreted."""
    case.spec["label"] = "[/y]"
    msg = fails(cli, case)
    assert "'[/y]' (label) not found" in msg


# ---- exclusions: counted, never silently dropped ---------------------------------------------


def test_exclusions_counted_by_reason(cli: CliRunner, case: Case) -> None:
    d, p = case.data, case.preds
    d["y"] = d["y"].astype("float64")
    d.loc[[0, 1, 2], "y"] = np.nan                      # missing label
    p = p[~p.id.isin([1003, 1004, 1005, 1006])].copy()  # unmatched id
    p.loc[p.id.isin([1010, 1011]), "p"] = np.nan        # NaN score
    case.preds = p
    case.write()
    res = cli("evaluate", case.spec_path, "-o", case.root / "run")
    assert res.code == 0, res.text
    expected = {"missing label": 3, "unmatched id": 4, "missing or NaN score": 2,
                "out-of-range score": 0}
    assert json.loads((case.root / "run" / "excluded.json").read_text()) == {"m": expected}
    assert "Excluded rows for m: 9 (missing label: 3, unmatched id: 4, missing or NaN score: 2)" \
        in " ".join(res.out.split())
    result = assay.evaluate(case.spec_path)
    assert result.excluded == {"m": expected}
    assert result.n_rows == len(d)
    assert result.row("accuracy")["n"] == len(d) - 9


def test_nan_label_is_missing_not_negative(tmp_path: Path) -> None:
    """A float label column with NaN (not null) must count NaN as missing, not as class 0."""
    n = 60
    y = np.tile([0.0, 1.0], n // 2)
    y[:5] = np.nan
    table = pa.table({"id": np.arange(n), "y": pa.array(y, from_pandas=False),
                      "p": np.linspace(0.01, 0.99, n)})
    pq.write_table(table, tmp_path / "data.parquet")
    spec = {"data": {"path": "data.parquet"}, "id": "id", "label": "y",
            "models": [{"name": "m", "score": "p"}], "metrics": ["prevalence"], "bootstrap": 100}
    write_spec(tmp_path / "spec.yaml", spec)
    result = assay.evaluate(tmp_path / "spec.yaml")
    assert result.excluded["m"]["missing label"] == 5
    row = result.row("prevalence")
    assert row["n"] == n - 5
    assert math.isclose(row["value"], np.nanmean(y))


def test_api_errors_are_input_errors(case: Case) -> None:
    with pytest.raises(InputError, match=r"predictions\['m'\] has 3 rows but data has 400"):
        assay.evaluate(data=case.data, label="y", predictions={"m": [0.1, 0.2, 0.3]})
    with pytest.raises(InputError, match="multiclass needs an \\(n, k\\) array"):
        assay.evaluate(data=case.data, label="y", task="multiclass", classes=[0, 1],
                       predictions={"m": np.zeros(len(case.data))})


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_read_and_validated(cli: CliRunner, case: Case, fmt: str) -> None:
    write_table(case.root / f"data.{fmt}", case.data)
    preds = case.preds.copy()
    preds.loc[0, "p"] = 2.0
    write_table(case.root / f"preds.{fmt}", preds)
    case.spec["data"] = {"path": f"data.{fmt}"}
    case.spec["models"][0]["path"] = f"preds.{fmt}"
    write_spec(case.spec_path, case.spec)
    res = cli("evaluate", case.spec_path, "-q")
    assert res.code == 2
    assert f"preds.{fmt}: model 'm' has 1 row(s) with probabilities outside [0, 1]" in res.err


def _nan_parquet(tmp_path: Path, n: int = 60) -> Path:
    """NaN stored as NaN (not null): Parquet statistics then leave them out of min/max."""
    y = np.tile([0.0, 1.0], n // 2)
    y[:5] = np.nan
    p = np.linspace(0.01, 0.99, n)
    p[10:13] = np.nan
    table = pa.table({"id": np.arange(n), "y": pa.array(y, from_pandas=False),
                      "p": pa.array(p, from_pandas=False)})
    pq.write_table(table, tmp_path / "data.parquet")
    return tmp_path / "data.parquet"


@pytest.mark.parametrize("source", ["path", "sql"])
def test_nan_in_parquet_counted_as_missing(tmp_path: Path, source: str) -> None:
    path = _nan_parquet(tmp_path)
    data = ({"path": "data.parquet"} if source == "path"
            else {"sql": f"SELECT * FROM read_parquet('{path}')"})
    write_spec(tmp_path / "spec.yaml", {
        "data": data, "id": "id", "label": "y", "models": [{"name": "m", "score": "p"}],
        "metrics": ["prevalence", "accuracy"], "bootstrap": 100})
    result = assay.evaluate(tmp_path / "spec.yaml")
    assert result.excluded["m"] == {"missing label": 5, "unmatched id": 0,
                                    "missing or NaN score": 3, "out-of-range score": 0}
    assert result.row("accuracy")["n"] == 60 - 8


def test_id_types_differ(cli: CliRunner, case: Case) -> None:
    case.preds["id"] = "c" + case.preds["id"].astype(str)
    msg = fails(cli, case)
    assert str(case.preds_path) in msg and str(case.data_path) in msg
    assert "id column 'id' has type VARCHAR" in msg and "type BIGINT" in msg
    assert "both as numbers or both as text" in msg


def test_infinite_regression_predictions_and_labels(cli: CliRunner, case: Case) -> None:
    case.data["y"] = case.data["x"] * 2.0
    case.spec |= {"task": "regression",
                  "models": [{"name": "m", "path": "preds.parquet", "prediction": "p"}]}
    case.preds.loc[case.preds.id == 1004, "p"] = np.inf
    msg = fails(cli, case)
    assert str(case.preds_path) in msg and "1 row(s) with infinite predictions (id 1004)" in msg
    assert "--exclude-invalid" in msg
    res = cli("evaluate", case.spec_path, "-o", case.root / "run", "-q", "--exclude-invalid")
    assert res.code == 0
    assert json.loads((case.root / "run" / "excluded.json").read_text())["m"][
        "out-of-range score"] == 1
    shutil.rmtree(case.root / "run")
    case.preds.loc[case.preds.id == 1004, "p"] = 0.5
    case.data.loc[case.data.id == 1007, "y"] = -np.inf
    msg = fails(cli, case)
    assert str(case.data_path) in msg
    assert "label column 'y' has 1 infinite value(s) (id 1007)" in msg


def test_spec_value_errors(cli: CliRunner, case: Case) -> None:
    case.spec["metrics"] = []
    assert "metrics: give at least one metric name, or 'all'" in fails(cli, case)
    case.spec["metrics"] = "accuracy"  # one name is a list of one
    case.spec["task"] = "multiclass"
    case.spec["classes"] = [0, 1, 0]
    assert "classes: classes must be distinct; repeated: 0" in fails(cli, case)
    case.spec |= {"task": "binary", "classes": None, "threshold": 1.5}
    assert "threshold: Input should be less than or equal to 1 (got 1.5)" in fails(cli, case)
    case.spec |= {"threshold": 0.5, "data": None}
    assert "no 'data' section; give data.path or data.sql" in fails(cli, case)
    case.spec["data"] = {"path": "data.parquet", "sql": "SELECT 1"}
    assert "data: give exactly one of 'path'" in fails(cli, case)


def test_single_metric_name(case: Case) -> None:
    case.spec["metrics"] = "roc_auc"
    result = assay.evaluate(case.write())
    assert result.table.metric.tolist() == ["roc_auc"]


def test_data_sql_errors_and_relative_paths(cli: CliRunner, case: Case, tmp_path: Path) -> None:
    case.spec["data"] = {"sql": "SELECT * FROM read_parquet('data.parquet') WHERE y = 2"}
    msg = fails(cli, case)
    assert "the data.sql query: the dataset is empty (0 rows)" in msg and "WHERE clause" in msg
    case.spec["data"] = {"sql": "SELECT * FROM read_parquet('absent.parquet')"}
    msg = fails(cli, case)
    assert "data.sql: the query failed in DuckDB" in msg and "absent.parquet" in msg
    assert str(case.root) in msg
    # file names in data.sql are relative to the spec, as data.path is, from any directory
    case.spec["data"] = {"sql": "SELECT * FROM read_parquet('data.parquet')"}
    case.write()
    proc = run_subprocess("evaluate", case.spec_path, "-o", tmp_path / "out", "-q",
                          cwd=tmp_path / "..")
    assert proc.returncode == 0, proc.stderr
