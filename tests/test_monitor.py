"""The monitor end to end: windows from Parquet globs, a DuckDB database and PostgreSQL,
late labels, windows kept in the run store, alert rules and exit codes, and the shipped
example's drift episode. Numbers are checked against SciPy and scikit-learn per window."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats
from sklearn.metrics import roc_auc_score

from assay._errors import InputError, SpecError
from assay.monitor import MonitorSpec, load_monitor_spec, parse_monitor_spec, run_monitor
from assay.store import open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "credit_default"
CAMPAIGN = ["2026-W09", "2026-W10", "2026-W11"]  # weeks 8-10 of the log (generate.py)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's monitor spec beside a freshly generated log (small eval set)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("monitor_example")
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--rows", "500", "--out",
                    str(root / "data")], check=True, capture_output=True)
    shutil.copy(EXAMPLE / "monitor.yaml", root / "monitor.yaml")
    raw = yaml.safe_load((root / "monitor.yaml").read_text())
    raw["bootstrap"] = 200
    (root / "monitor.yaml").write_text(yaml.safe_dump(raw))
    return root


def _log(rows: int = 3000, days: int = 10, seed: int = 0, shift_from: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-03-02") + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, rows)), "s")
    day = ((ts - pd.Timestamp("2026-03-02")).days).to_numpy()
    x = rng.normal(0, 1, rows)
    if shift_from is not None:
        x = np.where(day >= shift_from, x + 1.0, x)
    cat = rng.choice(["a", "b", "c"], rows)
    p = 1 / (1 + np.exp(-x))
    y = (rng.uniform(size=rows) < p).astype(int)
    return pd.DataFrame({"ts": ts, "id": [f"r{i}" for i in range(rows)], "x": x, "cat": cat,
                         "p": p, "y": y})


def _spec(path: str, **over: object) -> MonitorSpec:
    raw = {"name": "m", "log": {"path": path}, "timestamp": "ts", "id": "id", "prediction": "p",
           "label": "y", "window": {"every": "day"}, "reference": {"windows": 4},
           "bootstrap": 200, "alerts": [{"rule": "drift", "columns": "all"}]} | over
    return parse_monitor_spec(raw)


# ---- the shipped example ---------------------------------------------------------------


def test_example_catches_the_broker_campaign(example: Path, cli) -> None:
    store = example / "runs.db"
    got = cli("monitor", example / "monitor.yaml", "--store", store, "--out", example / "out1")
    assert got.code == 1, got.text  # alerts fired
    alerts = pd.read_parquet(example / "out1" / "alerts.parquet")
    drift_alerts = alerts[alerts["kind"] == "drift"]
    # the channel mix and the predictions drift in the campaign weeks, and in no other week
    for target in ("channel", "p_default"):
        weeks = sorted(set(drift_alerts.loc[drift_alerts["target"] == target, "window"]))
        assert weeks == CAMPAIGN, (target, weeks)
    assert set(drift_alerts["window"]) <= set(CAMPAIGN)
    vol = alerts[alerts["kind"] == "volume"]
    assert sorted(vol["window"]) == CAMPAIGN and (vol["severity"] == "warn").all()
    perf = pd.read_parquet(example / "out1" / "performance.parquet")
    auc = perf[(perf["metric"] == "roc_auc") & (perf["role"] == "analysis")]
    # labels arrive two weeks late: the last two weeks have no performance yet
    assert sorted(auc["window"]) == ["2026-W08", "2026-W09", "2026-W10", "2026-W11"]
    assert (auc["ci_low"] < auc["value"]).all() and (auc["value"] < auc["ci_high"]).all()
    html = (example / "out1" / "monitor.html").read_text()
    assert "2026-W10" in html and "<svg" in html
    # a second run computes nothing: every window is in the store unchanged
    again = cli("monitor", example / "monitor.yaml", "--store", store, "--out", example / "out2")
    assert again.code == 0, again.text  # no alert on windows computed in this run
    assert "Computed 0 window(s), read 6 from the store" in again.text
    rerun = pd.read_parquet(example / "out2" / "drift.parquet")
    first = pd.read_parquet(example / "out1" / "drift.parquet")
    pd.testing.assert_frame_equal(rerun, first)
    assert cli("monitor", example / "monitor.yaml", "--store", store, "--out", example / "out3",
               "--all-windows").code == 1


def test_late_labels_and_new_rows_recompute_only_their_windows(example: Path, tmp_path: Path) -> None:
    root = tmp_path / "ex"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns("out*", "runs.db"))
    spec = load_monitor_spec(root / "monitor.yaml")
    store = open_store(tmp_path / "runs.db")
    first = run_monitor(spec, root, store=store)
    assert set(first.windows["computed"]) == {"new"}
    # the labels of week 12 arrive
    import subprocess
    import sys

    sys.path.insert(0, str(EXAMPLE))
    try:
        import generate as gen
    finally:
        sys.path.pop(0)
    streams = gen.Streams.from_seed(gen.DEFAULT_SEED)
    fits = gen.fit_models(streams, gen.DEFAULT_ROWS)
    weeks = [gen.log_week(streams, fits, w) for w in range(gen.LOG_WEEKS)]
    labels = pa.concat_tables([w[1] for w in weeks[:11]])
    pq.write_table(labels, root / "data" / "log" / "labels.parquet")
    second = run_monitor(spec, root, store=store)
    computed = second.windows.set_index("window")["computed"]
    assert computed["2026-W12"] == "recomputed"
    assert (computed.drop(["2026-W12"])[lambda s: s.index > "2026-W07"] == "stored").all()
    auc = second.performance.query("metric == 'roc_auc' and window == '2026-W12'")
    assert len(auc) == 1 and auc["n"].iloc[0] == weeks[10][1].num_rows
    # a new week of scores: one new window, the rest read back
    log13 = weeks[11][0].set_column(0, "scored_at", pa.array(
        weeks[11][0].column("scored_at").to_numpy() + np.timedelta64(7, "D")))
    pq.write_table(log13, root / "data" / "log" / "scores-week13.parquet")
    third = run_monitor(spec, root, store=store)
    counts = third.windows["computed"].value_counts().to_dict()
    assert counts.get("new") == 6 + 1 and counts.get("stored") == 6  # reference weeks + W14
    del subprocess


# ---- statistics per window against SciPy and scikit-learn ----------------------------


def test_window_statistics_match_scipy(tmp_path: Path) -> None:
    frame = _log(shift_from=7)
    frame.to_parquet(tmp_path / "log.parquet")
    res = run_monitor(_spec(str(tmp_path / "log.parquet")), tmp_path)
    day = frame["ts"].dt.floor("D")
    days = sorted(day.unique())
    ref = frame[day < days[4]]
    d = res.drift
    for when in days[4:]:
        cur = frame[day == when]
        label = pd.Timestamp(when).strftime("%Y-%m-%d")
        row = d[(d["window"] == label) & (d["column"] == "x")].set_index("statistic")
        ks = stats.ks_2samp(ref["x"], cur["x"])
        assert row.loc["ks", "value"] == pytest.approx(ks.statistic, abs=1e-12)
        assert row.loc["ks", "p_value"] == pytest.approx(ks.pvalue, rel=1e-6, abs=1e-12)
        assert row.loc["wasserstein", "value"] == pytest.approx(
            stats.wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=1), rel=1e-9) or \
            row.loc["wasserstein", "value"] == pytest.approx(
            stats.wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=0), rel=1e-9)
        crow = d[(d["window"] == label) & (d["column"] == "cat")].set_index("statistic")
        table = pd.crosstab(pd.concat([ref["cat"], cur["cat"]]),
                            np.r_[np.zeros(len(ref)), np.ones(len(cur))])
        chi = stats.chi2_contingency(table.to_numpy().T, correction=False)
        assert crow.loc["chi_square", "value"] == pytest.approx(chi.statistic, rel=1e-9)
        auc = res.performance.query(f"window == '{label}' and metric == 'roc_auc'")
        # the engine's AUC comes from 65,536 score bins and states its bound in the note
        found = re.search(r"\|value - exact\| <= ([0-9.e+-]+)", auc["note"].iloc[0])
        bound = float(found.group(1)) if found else 0.0
        assert abs(auc["value"].iloc[0] - roc_auc_score(cur["y"], cur["p"])) <= bound + 1e-12
        assert auc["ci_low"].iloc[0] < auc["value"].iloc[0] < auc["ci_high"].iloc[0]
    shifted = res.alerts[(res.alerts["target"] == "x")]
    assert sorted(shifted["window"]) == [pd.Timestamp(w).strftime("%Y-%m-%d") for w in days[7:]]


def test_reference_dataset_row_windows_and_exclusions(tmp_path: Path) -> None:
    frame = _log(rows=4000, seed=1)
    ref = _log(rows=2000, seed=2).drop(columns=["ts"])
    frame.loc[[5, 17, 300], "ts"] = pd.NaT
    frame.to_parquet(tmp_path / "log.parquet")
    ref.to_parquet(tmp_path / "ref.parquet")
    spec = _spec(str(tmp_path / "log.parquet"), window={"rows": 500},
                 reference={"path": "ref.parquet", "chunks": 5})
    res = run_monitor(spec, tmp_path)
    assert res.excluded == {"missing or unparseable timestamp": 3}
    assert res.windows["n"].tolist() == [500] * 7 + [497]
    assert (res.windows["role"] == "analysis").all()
    ref_rows = res.drift[res.drift["role"] == "reference"]
    assert sorted(ref_rows["window"].unique()) == [f"reference {i}/5" for i in range(1, 6)]
    assert res.alerts.empty  # same process: nothing drifts


def test_duckdb_database_and_postgres_sources(tmp_path: Path, postgres_url: str) -> None:
    frame = _log(rows=1500, days=6, seed=3)
    db = tmp_path / "log.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("f", frame)
        con.execute("CREATE TABLE preds AS SELECT * FROM f")
    from_duck = run_monitor(_spec("unused", log={"duckdb": "log.duckdb", "table": "preds"}), tmp_path)
    from sqlalchemy import create_engine

    from assay.store._store import store_url

    engine = create_engine(store_url(postgres_url))
    frame.to_sql("preds", engine, index=False)
    engine.dispose()
    from_pg = run_monitor(_spec("unused", log={"postgres": postgres_url, "table": "preds"}), tmp_path)
    frame.to_parquet(tmp_path / "log.parquet")
    from_file = run_monitor(_spec("log.parquet"), tmp_path)
    cols = ["window", "column", "statistic", "value", "p_value"]
    pd.testing.assert_frame_equal(from_duck.drift[cols], from_file.drift[cols])
    pd.testing.assert_frame_equal(from_pg.drift[cols], from_file.drift[cols])
    pd.testing.assert_frame_equal(from_pg.performance, from_file.performance)


# ---- alert rules and errors ----------------------------------------------------------


def test_volume_missing_and_performance_rules(tmp_path: Path) -> None:
    frame = _log(rows=3000, days=8, seed=4)
    late = frame["ts"] >= pd.Timestamp("2026-03-08")
    frame.loc[late & (np.arange(len(frame)) % 4 == 0), "x"] = np.nan
    frame.loc[late, "p"] = 1 - frame.loc[late, "p"]  # the model inverts: AUC falls far below 0.5
    frame.to_parquet(tmp_path / "log.parquet")
    spec = _spec("log.parquet", alerts=[
        {"rule": "missing", "columns": ["x"], "max": 0.05},
        {"rule": "performance", "metric": "roc_auc", "min": 0.6, "judge": "ci_high"},
        {"rule": "volume", "min_rows": 400, "severity": "warn"}])
    res = run_monitor(spec, tmp_path)
    a = res.alerts
    assert sorted(a.loc[a["kind"] == "missing", "window"]) == ["2026-03-08", "2026-03-09"]
    miss = a[a["kind"] == "missing"].iloc[0]
    day = frame[frame["ts"].dt.floor("D") == pd.Timestamp(miss["window"])]
    assert miss["value"] == pytest.approx(day["x"].isna().mean())
    perf = a[a["kind"] == "performance"]
    assert sorted(perf["window"]) == ["2026-03-08", "2026-03-09"]
    assert (perf["value"] < 0.6).all()
    assert res.exit_code == 1
    only_warn = run_monitor(_spec("log.parquet", alerts=[
        {"rule": "volume", "max_rows": 10, "severity": "warn"}]), tmp_path)
    assert only_warn.exit_code == 3 and len(only_warn.alerts) == 4


def test_errors_name_the_column_and_fix(tmp_path: Path) -> None:
    _log().to_parquet(tmp_path / "log.parquet")
    with pytest.raises(InputError, match=r"column 'timestamp' \(timestamp\) not found.*Available"):
        run_monitor(_spec("log.parquet", timestamp="timestamp"), tmp_path)
    with pytest.raises(InputError, match="no file matches"):
        run_monitor(_spec("missing/*.parquet"), tmp_path)
    with pytest.raises(SpecError, match="window"):
        parse_monitor_spec({"log": {"path": "x"}, "timestamp": "ts", "reference": {"windows": 2},
                            "window": {"every": "fortnight"}})
    with pytest.raises(SpecError, match="unknown key.*did you mean 'prediction'"):
        parse_monitor_spec({"log": {"path": "x"}, "timestamp": "ts", "reference": {"windows": 2},
                            "predictoin": "p"})
    with pytest.raises(SpecError, match=r"alerts\.0\.min_row: unknown key.*'min_rows'.*max_rows, band"):
        parse_monitor_spec({"log": {"path": "x"}, "timestamp": "ts", "reference": {"windows": 2},
                            "alerts": [{"rule": "volume", "min_row": 5}]})
    with pytest.raises(SpecError, match="an alert needs 'rule': drift, performance, volume or missing"):
        parse_monitor_spec({"log": {"path": "x"}, "timestamp": "ts", "reference": {"windows": 2},
                            "alerts": [{"rule": "volum"}]})
    labels = pd.DataFrame({"id": ["r1", "r1"], "y": [0, 1]})
    labels.to_parquet(tmp_path / "labels.parquet")
    with pytest.raises(InputError, match="more than one label.*r1"):
        run_monitor(_spec("log.parquet", label=None,
                          labels={"path": "labels.parquet", "column": "y"}), tmp_path)


def test_reference_dataset_cut_by_the_log_windows_and_reused_from_the_store(tmp_path: Path) -> None:
    """A reference file with the timestamp is cut into the log's windows (rows without a
    timestamp left out); its signature is stable, so a second run reads every window back."""
    ref = _log(rows=2400, days=8, seed=5)
    ref.loc[[3, 9], "ts"] = pd.NaT
    ref.to_parquet(tmp_path / "ref.parquet")
    log = _log(rows=1500, days=5, seed=6)
    log["ts"] = log["ts"] + pd.Timedelta(days=8)
    log.to_parquet(tmp_path / "log.parquet")
    spec = _spec("log.parquet", reference={"path": "ref.parquet"})
    store = open_store(tmp_path / "runs.db")
    first = run_monitor(spec, tmp_path, store=store)
    ref_rows = first.drift[(first.drift["role"] == "reference") & (first.drift["column"] == "x")
                           & first.drift["default"]]
    assert len(ref_rows) == 8  # one chunk per day of the reference file
    assert ref_rows["n_cur"].sum() == 2400 - 2
    assert first.excluded == {"reference: missing or unparseable timestamp": 2}
    second = run_monitor(spec, tmp_path, store=store)
    assert second.extra["windows_computed"] == 0 and second.extra["windows_stored"] == 5
    pd.testing.assert_frame_equal(second.drift, first.drift)
