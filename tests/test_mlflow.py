"""Logging a run to MLflow (assay.integrations.mlflow): what is logged is read back with MLflow's
own client and compared with the result exactly, on MLflow's file store and, when SQLAlchemy and
Alembic are installed, its SQLite store. Skipped without the mlflow extra."""

from __future__ import annotations

import importlib.util
import json
import posixpath
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import assay
from assay._errors import InputError
from assay.data import file_sha256
from assay.integrations.mlflow import KEYS_ARTIFACT, MAX_SLICES, _mlflow_keys, log_run

mlflow = pytest.importorskip("mlflow")
MlflowClient = pytest.importorskip("mlflow.tracking").MlflowClient

LEGAL = re.compile(r"^[A-Za-z0-9_\-. /]+$")
GATES = [{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.05, "candidate": "cand",
          "name": "auc guard"},
         {"rule": "min_rows", "min": 1000},
         {"rule": "threshold", "metric": "roc_auc", "min": 0.99, "severity": "warn"}]


def _frame(n: int = 1500, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * x))).astype(np.int64)
    base = 1 / (1 + np.exp(-(1.4 * x + rng.normal(scale=0.5, size=n))))
    cand = 1 / (1 + np.exp(-(1.4 * x + rng.normal(scale=0.5, size=n))))
    return pd.DataFrame({"y": y, "base": base, "cand": cand,
                         "channel": rng.choice(["web", "shop", "app"], n, p=[0.5, 0.4, 0.1])})


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[assay.EvaluationResult, Path, Path]:
    """(result, run folder, data file) of a two-model binary evaluation with slices, a
    comparison and a gate that ends in ship_with_guardrails (a warn rule fails)."""
    root = tmp_path_factory.mktemp("mlflow_run")
    data = root / "data.parquet"
    _frame().to_parquet(data, index=False)
    result = assay.evaluate({
        "name": "credit check", "task": "binary", "label": "y", "data": {"path": str(data)},
        "models": [{"name": "base", "score": "base"}, {"name": "cand", "score": "cand"}],
        "slices": [{"column": "channel"}], "bootstrap": 200, "gates": GATES})
    folder = result.write(root / "run")
    # report.html comes from the report stage; a stand-in checks that the whole folder is carried
    (folder / "report.html").write_text("<!doctype html><title>credit check</title>\n", encoding="utf-8")
    return result, folder, data


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local file store; MLflow 3 keeps it behind an explicit opt-in."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return f"file://{tmp_path}/mlruns"


@pytest.fixture(params=["file", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "file":
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        return f"file://{tmp_path}/mlruns"
    if any(importlib.util.find_spec(m) is None for m in ("sqlalchemy", "alembic")):
        pytest.skip("MLflow's SQLite store needs sqlalchemy and alembic")
    monkeypatch.chdir(tmp_path)  # its default artifact root is ./mlruns in the working directory
    return f"sqlite:///{tmp_path}/mlflow.db"


def _expected_metrics(result: assay.EvaluationResult) -> dict[str, float]:
    """Every metric the run should hold, by the names the result's (already legal) model and
    metric names give; slice labels ``channel=web`` become ``channel_web``."""
    out: dict[str, float] = {}
    t = result.table
    for row in t[t.status == "ok"].to_dict("records"):
        name = f"{row['model']}.{row['metric']}"
        if row["slice"] == "overall":
            out[name] = row["value"]
            out[f"{name}.ci_low"] = row["ci_low"]
            out[f"{name}.ci_high"] = row["ci_high"]
        else:
            out[f"{name}.slice.{row['slice'].replace('=', '_')}"] = row["value"]
    c = result.comparisons
    assert c is not None
    for row in c[(c.slice == "overall") & (c.status == "ok")].to_dict("records"):
        name = f"{row['candidate']}.{row['metric']}.delta"
        out[name] = row["delta"]
        for field in ("ci_low", "ci_high", "p_value", "p_adjusted"):
            if np.isfinite(row[field]):
                out[f"{name}.{field}"] = row[field]
    assert result.verdict is not None
    out["assay.verdict_exit_code"] = float(result.verdict.exit_code)
    return out


def _download_json(client: Any, run_id: str, path: str, dst: Path) -> Any:
    dst.mkdir(parents=True, exist_ok=True)
    return json.loads(Path(client.download_artifacts(run_id, path, str(dst))).read_text())


def test_run_reads_back_exactly(written: tuple[assay.EvaluationResult, Path, Path], store: str,
                                tmp_path: Path) -> None:
    result, folder, data = written
    run_id = log_run(result, folder, store, store_run_id="store-7")
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "credit check"

    # every value, bound, delta and p-value exactly, and nothing else
    expected = _expected_metrics(result)
    assert metrics == expected
    overall = result.table[result.table.slice == "overall"]
    assert len(overall) == 28 and overall.ci_low.notna().all() and overall.ci_high.notna().all()
    assert metrics["cand.roc_auc"] == result.value("roc_auc", "cand")
    assert metrics["cand.roc_auc.ci_low"] == result.row("roc_auc", "cand")["ci_low"]
    assert metrics["base.accuracy.slice.channel_app"] == result.value("accuracy", "base", "channel=app")

    verdict = result.verdict
    assert verdict is not None and verdict.decision == "ship_with_guardrails"
    assert tags["assay.verdict"] == "ship_with_guardrails" and metrics["assay.verdict_exit_code"] == 3.0
    assert tags["assay.rule.auc guard"] == "pass"
    assert tags["assay.rule.at least 1000 evaluated rows"] == "pass"
    assert tags["assay.rule.roc_auc __ 0.99"] == "fail"  # '>=' is not allowed in an MLflow key
    assert tags["assay.run_id"] == "store-7" and tags["assay.slice_metrics"] == "logged"
    assert tags["assay.version.assay"] == assay.__version__ and tags["assay.input.data.source"] == str(data)

    assert params["input.data.sha256"] == file_sha256(data)
    assert {k: params[k] for k in ("spec_name", "task", "seed", "confidence", "bootstrap", "engine",
                                   "models", "threshold", "rows", "baseline", "candidates")} == {
        "spec_name": "credit check", "task": "binary", "seed": "0", "confidence": "0.95",
        "bootstrap": "200", "engine": "numpy", "models": "base,cand", "threshold": "0.5",
        "rows": "1500", "baseline": "base", "candidates": "cand"}

    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {p.name for p in folder.iterdir()} | {KEYS_ARTIFACT}
    assert {"summary.md", "results.parquet", "report.html", "verdict.json"} <= artifacts
    table = pd.read_parquet(client.download_artifacts(run_id, "results.parquet", str(tmp_path)))
    pd.testing.assert_frame_equal(table, result.to_pandas(), check_dtype=False)
    keys = _download_json(client, run_id, KEYS_ARTIFACT, tmp_path / "keys")
    assert keys["metrics"]["base.accuracy.slice.channel_app"] == ["base", "accuracy", "slice", "channel=app"]
    assert set(keys["metrics"]) == set(metrics) and set(keys["params"]) == set(params)


def test_names_are_legal_and_never_merged(file_store: str, tmp_path: Path) -> None:
    """Model names and slice levels that sanitise to one key are told apart by a hash suffix;
    the logged key map leads from every MLflow key back to its exact value."""
    rng = np.random.default_rng(3)
    n = 800
    y = rng.integers(0, 2, n)
    levels = ["a/b", "/../up", "c=d", "c_d", "ü"]
    data = pd.DataFrame({"y": y, "g": rng.choice(levels, n)})
    preds = {"m:1": rng.uniform(size=n), "m_1": rng.uniform(size=n)}
    result = assay.evaluate(data=data, label="y", predictions=preds, metrics=["accuracy", "roc_auc"],
                            slices=[{"column": "g"}], bootstrap=200, min_slice_size=5,
                            compare={"enabled": False}, name="odd names")
    run_id = log_run(result, result.write(tmp_path / "run"), file_store)
    client = MlflowClient(tracking_uri=file_store)
    run = client.get_run(run_id)
    keys = _download_json(client, run_id, KEYS_ARTIFACT, tmp_path / "keys")["metrics"]

    t = result.table.set_index(["model", "slice", "metric"])
    assert set(keys) == set(run.data.metrics)
    assert len(keys) == 2 * 2 * (3 + len(levels))  # models x metrics x (value, bounds, slices)
    for name, parts in keys.items():
        assert LEGAL.match(name) and posixpath.normpath(name) == name and not name.startswith(("/", ".."))
        model, metric, *rest = parts
        if rest and rest[0] == "slice":
            want = t.loc[(model, rest[1], metric), "value"]
        else:
            want = t.loc[(model, "overall", metric), rest[0] if rest else "value"]
        assert run.data.metrics[name] == want, (name, parts)
    assert keys["m_1.accuracy"] == ["m_1", "accuracy"]  # legal as written: kept
    renamed = next(k for k, v in keys.items() if v == ["m:1", "accuracy"])
    assert re.fullmatch(r"m_1\.accuracy-[0-9a-f]{8}", renamed)  # sanitised onto m_1's key: suffixed
    assert "assay.verdict" not in run.data.tags and "assay.verdict_exit_code" not in run.data.metrics
    assert run.data.params["input.data.sha256"] == result.manifest()["inputs"]["data"]["sha256"]
    assert run.data.tags["assay.input.data.source"] == "in-memory table"


def test_key_mapping_does_not_depend_on_order() -> None:
    keys = [("m:1", "acc"), ("m_1", "acc"), ("m=1", "acc"), ("x" * 300, "acc"), ("x" * 300, "auc")]
    forward, backward = _mlflow_keys(keys), _mlflow_keys(keys[::-1])
    assert forward == backward and len(set(forward.values())) == len(keys)
    assert forward[("m_1", "acc")] == "m_1.acc"
    assert all(len(name) <= 250 for name in forward.values())


def test_many_slices_keep_only_overall_metrics(file_store: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    data = pd.DataFrame({"y": rng.integers(0, 2, n), "k": rng.integers(0, MAX_SLICES + 10, n)})
    result = assay.evaluate(data=data, label="y", predictions={"m": rng.uniform(size=n)},
                            metrics=["accuracy"], slices=[{"column": "k"}], bootstrap=200,
                            min_slice_size=1, name="many slices")
    run = MlflowClient(tracking_uri=file_store).get_run(
        log_run(result, result.write(tmp_path / "run"), file_store, experiment="wide", run_name="r1"))
    assert set(run.data.metrics) == {"m.accuracy", "m.accuracy.ci_low", "m.accuracy.ci_high"}
    assert run.data.tags["assay.slice_metrics"] == ("not logged: 60 slices (more than 50); "
                                                    "see results.parquet")
    assert run.info.run_name == "r1"
    assert MlflowClient(tracking_uri=file_store).get_experiment(run.info.experiment_id).name == "wide"


def test_missing_mlflow_names_the_extra(written: tuple[assay.EvaluationResult, Path, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    result, folder, _ = written
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(InputError, match=r"needs the mlflow package .*pip install 'assay\[mlflow\]'"):
        log_run(result, folder, "file:///unused")


def test_unusable_uri_names_uri_and_cause(written: tuple[assay.EvaluationResult, Path, Path]) -> None:
    result, folder, _ = written
    with pytest.raises(InputError, match=r"MLflow tracking URI 'nosuch://x' cannot be used: .*nosuch"):
        log_run(result, folder, "nosuch://x")


@pytest.mark.skipif(not hasattr(mlflow.environment_variables, "MLFLOW_ALLOW_FILE_STORE"),
                    reason="this MLflow has no opt-in for its file store")
def test_file_store_without_opt_in_says_how(written: tuple[assay.EvaluationResult, Path, Path],
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, folder, _ = written
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = f"file://{tmp_path}/mlruns"
    with pytest.raises(InputError, match=rf"URI '{re.escape(uri)}' cannot be used: .*"
                                         r"MLFLOW_ALLOW_FILE_STORE=true"):
        log_run(result, folder, uri)


def test_folder_must_hold_this_run(written: tuple[assay.EvaluationResult, Path, Path], file_store: str,
                                   tmp_path: Path) -> None:
    result, folder, _ = written
    with pytest.raises(InputError, match=r"is not an assay run folder \(no manifest.json\); write"):
        log_run(result, tmp_path / "empty", file_store)
    other = shutil.copytree(folder, tmp_path / "other")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["started"] = "2001-01-01T00:00:00+00:00"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"holds another run \(started 2001-01-01"):
        log_run(result, other, file_store)
    with pytest.raises(InputError, match=r"experiment name '' must be 1 to 500 characters"):
        log_run(result, folder, file_store, experiment="")


def test_cli_option_logs_the_recorded_run(tmp_path: Path, file_store: str, cli) -> None:
    """``assay evaluate --mlflow URI``: the MLflow run carries the store's run id, the verdict
    and the report."""
    from conftest import Case, binary_frame, binary_spec

    data, preds = binary_frame()
    c = Case(tmp_path, data, preds, binary_spec(
        gates=[{"rule": "threshold", "metric": "roc_auc", "min": 0.5}]))
    c.write()
    db = tmp_path / "runs.db"
    r = cli("evaluate", c.spec_path, "--store", db, "--mlflow", file_store, "-o", tmp_path / "out")
    assert r.code in (0, 3), r.text
    assert "Logged to MLflow" in r.out
    run_id = assay.open_store(db).list_runs()[0]["id"]
    client = MlflowClient(tracking_uri=file_store)
    (exp,) = [e for e in client.search_experiments() if e.name == "t"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["assay.run_id"] == run_id
    assert run.data.tags["assay.verdict"] in ("ship", "ship_with_guardrails")
    assert "report.html" in {a.path for a in client.list_artifacts(run.info.run_id)}
