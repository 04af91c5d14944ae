"""The monitor: a prediction log -> windows -> drift of every watched column and the
performance per window (with intervals) -> alerts, computing only the windows the run store
does not already hold unchanged.

Per window and column, drift compares the window's sketch (``assay.drift``: binned counts,
one pass over all windows) with the whole reference. Each reference window is compared
with the reference without it (leave-one-out), so "normal" variation is measured the same
way an analysis window's drift is, and alert bands come from it: mean + k SD over the
reference windows, not a fixed constant. Performance per window runs the evaluation engine
on the window's labelled rows, so its intervals are those of ``assay evaluate``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from assay._errors import InputError
from assay.data._files import columns_of, quote_ident
from assay.drift import drift_rows, learn_bins, merge_sketches, sketch_windows
from assay.drift._stats import decider
from assay.monitor._alerts import band, evaluate_alerts
from assay.monitor._result import (
    WINDOW_COLUMNS,
    WINDOW_DRIFT_COLUMNS,
    WINDOW_PERFORMANCE_COLUMNS,
    MonitorResult,
)
from assay.monitor._source import register_source
from assay.monitor._spec import DriftAlert, MonitorSpec
from assay.monitor._windows import MISSING_TIMESTAMP, cut_windows, timestamp_expr

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

DEFAULT_METRICS = {"binary": ["roc_auc", "accuracy", "log_loss"], "regression": ["mae", "rmse"]}
LABEL = "__label"
TOO_SMALL = "too_small"


def _require(cols: dict[str, str], column: str | None, role: str, where: str) -> None:
    if column is not None and column not in cols:
        close = [c for c in cols if c.lower() == column.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"{where}: column {column!r} ({role}) not found.{hint} Available columns: "
                         f"{', '.join(cols)}. Fix the column name in the monitor spec.")


def _watched(spec: MonitorSpec, cols: dict[str, str]) -> list[str]:
    """The prediction first, then the monitored input columns."""
    skip = {spec.timestamp, spec.id, spec.prediction, spec.label}
    if spec.labels is not None:
        skip.add(spec.labels.column)
    inputs = spec.columns if spec.columns is not None else [
        c for c in cols if c not in skip and not c.startswith("__")]
    for c in inputs:
        _require(cols, c, "monitored column", "columns")
    return ([spec.prediction] if spec.prediction else []) + [c for c in inputs if c != spec.prediction]


def _open_log(con: duckdb.DuckDBPyConnection, spec: MonitorSpec, base: Path) -> tuple[str, str]:
    """Register the log (joined with late labels) as ``mon_log_l``; returns (description,
    the source of the labels)."""
    desc = register_source(con, "mon_log", spec.log, base, "log")
    cols = columns_of(con, "mon_log")
    _require(cols, spec.timestamp, "timestamp", "timestamp")
    _require(cols, spec.id, "id", "id")
    _require(cols, spec.prediction, "prediction", "prediction")
    if spec.labels is None:
        label = f"{quote_ident(spec.label)}" if spec.label else "NULL"
        _require(cols, spec.label, "label", "label")
        con.execute(f"CREATE VIEW mon_log_l AS SELECT *, {label} AS {LABEL} FROM mon_log").fetchall()
        return desc, "the log" if spec.label else "none"
    lab = spec.labels
    key = lab.id or spec.id
    assert key is not None
    label_desc = register_source(con, "mon_labels", lab, base, "labels")
    lcols = columns_of(con, "mon_labels")
    _require(lcols, key, "id", "labels.id")
    _require(lcols, lab.column, "label", "labels.column")
    _require(cols, spec.id, "id", "id")
    k, c = quote_ident(key), quote_ident(lab.column)
    dup = con.execute(f"SELECT {k}::VARCHAR, count(*) FROM mon_labels GROUP BY 1 HAVING count(*) > 1 "
                      "ORDER BY 2 DESC, 1 LIMIT 5").fetchall()
    if dup:
        shown = ", ".join(f"{v} ({n} labels)" for v, n in dup)
        raise InputError(f"labels: id(s) with more than one label: {shown}. Keep one label per id "
                         "(e.g. the latest) in the labels source")
    con.execute(
        f"CREATE VIEW mon_log_l AS SELECT l.*, r.__lab AS {LABEL} FROM mon_log l LEFT JOIN "
        f"(SELECT {k} AS __key, {c} AS __lab FROM mon_labels) r ON l.{quote_ident(spec.id or key)} = r.__key"
    ).fetchall()
    return desc, label_desc


def _config_hash(spec: MonitorSpec, reference_signature: str) -> str:
    """What a stored window's numbers depend on: everything but the name, alerts and store."""
    raw = spec.model_dump(mode="json", exclude={"name", "alerts", "store"})
    raw["reference_rows"] = reference_signature
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()


def _roles(spec: MonitorSpec, windows: pd.DataFrame) -> pd.Series:
    ref = spec.reference
    if ref.windows is not None:
        if len(windows) <= ref.windows:
            raise InputError(f"reference.windows: the log has {len(windows)} window(s), so the first "
                             f"{ref.windows} leave none to monitor; lower it or wait for more data")
        return pd.Series(np.where(np.arange(len(windows)) < ref.windows, "reference", "analysis"))
    if ref.until is not None:
        until = pd.Timestamp(ref.until)
        until = until.tz_convert("UTC").tz_localize(None) if until.tzinfo else until
        role = np.where(pd.to_datetime(windows["start"]) < until, "reference", "analysis")
        if (role == "reference").sum() < 2:
            raise InputError(f"reference.until {ref.until!r}: fewer than 2 windows start before it; "
                             "the reference band needs at least 2 windows")
        return pd.Series(role)
    return pd.Series(["analysis"] * len(windows))


def _reference_table(con: duckdb.DuckDBPyConnection, spec: MonitorSpec, base: Path,
                     watched: list[str], ref_windows: list[int],
                     excluded: dict[str, int]) -> tuple[pa.Table, int, str]:
    """The reference rows with a chunk code ``__c`` (0..K-1), K, and a signature of them;
    reference rows left out are counted in ``excluded``."""
    sel = ", ".join(quote_ident(c) for c in watched)
    if spec.reference.path is None:
        listed = ", ".join(map(str, ref_windows))
        table = con.sql(f"SELECT __w AS __c, {sel}, {LABEL} FROM mon_rows WHERE __w IN ({listed}) "
                        f"ORDER BY __w, __ts, {sel}").to_arrow_table()
        codes = np.searchsorted(np.asarray(ref_windows), table.column("__c").to_numpy())
        table = table.set_column(0, "__c", pa.array(codes.astype(np.int64)))
        return table, len(ref_windows), ""
    register_source(con, "mon_ref", spec.reference, base, "reference")
    rcols = columns_of(con, "mon_ref")
    for c in watched:
        _require(rcols, c, "monitored column", "reference.path")
    label = quote_ident(spec.label_column) if spec.label_column in rcols else "NULL"
    if spec.reference.chunks is None and spec.timestamp in rcols and spec.window.every:
        # the log's windows, in time order (and, within one, in a fixed order of the values,
        # so the reference's signature is the same on every run)
        ts = timestamp_expr(rcols[spec.timestamp], spec.timestamp)
        table = con.sql(
            f"SELECT dense_rank() OVER (ORDER BY date_trunc('{spec.window.every}', {ts})) - 1 AS __c, "
            f"{sel}, {label} AS {LABEL} FROM mon_ref WHERE {ts} IS NOT NULL "
            f"ORDER BY __c, {ts}, {sel}").to_arrow_table()
        n_chunks = int(table.column("__c").to_numpy().max()) + 1 if table.num_rows else 0
        dropped = int(con.execute(f"SELECT count(*) FROM mon_ref WHERE {ts} IS NULL").fetchall()[0][0])
        if dropped:
            excluded[f"reference: {MISSING_TIMESTAMP}"] = dropped
    else:
        # K chunks of consecutive rows in the file's order (DuckDB keeps insertion order)
        table = con.sql(f"SELECT {sel}, {label} AS {LABEL} FROM mon_ref").to_arrow_table()
        n_chunks = min(spec.reference.chunks or 10, table.num_rows)
        codes = (np.arange(table.num_rows, dtype=np.int64) * n_chunks) // max(table.num_rows, 1)
        table = table.add_column(0, "__c", pa.array(codes))
    from assay.data._fingerprint import table_sha256

    return table, n_chunks, table_sha256(table)


def _drift(spec: MonitorSpec, watched: list[str], ref: pa.Table, n_chunks: int, cur: pa.Table,
           cur_windows: list[int], win: pd.DataFrame, progress: Progress) -> pd.DataFrame:
    """Drift rows for every reference chunk (leave-one-out) and every window computed now."""
    rows: list[dict[str, Any]] = []
    ref_codes = ref.column("__c").to_numpy()
    cur_codes = np.searchsorted(np.asarray(cur_windows), cur.column("__w").to_numpy()) if \
        cur.num_rows else np.zeros(0, dtype=np.int64)
    ref_meta = _reference_meta(spec, win, n_chunks)
    cur_meta = [win.loc[win["key"] == w].iloc[0] for w in cur_windows]
    columns = watched + ([LABEL] if spec.label_column else [])
    for i, col in enumerate(columns):
        progress(f"drift of {col if col != LABEL else spec.label_column}", i, len(columns))
        name = spec.label_column if col == LABEL else col
        cfg = spec.drift
        if col == LABEL and spec.task == "binary" and name not in cfg.numeric:
            cfg = cfg.model_copy(update={"categorical": [*cfg.categorical, name]})  # 0/1 codes
        values = ref.column(col)
        bins = learn_bins(name, values, cfg)
        ref_sk = sketch_windows(bins, values, ref_codes, n_chunks)
        whole = merge_sketches(ref_sk)
        # one deciding statistic per column, from the whole reference: the leave-one-out
        # comparisons (smaller references) must decide with the same one, or no band exists
        cfg = cfg.model_copy(update={"method": {**cfg.method, name: decider(bins, whole, cfg)}})
        for c in range(n_chunks):
            rest = merge_sketches([s for j, s in enumerate(ref_sk) if j != c])
            meta = ref_meta[c]
            rows += [_with(r, meta, "reference", spec) for r in drift_rows(bins, rest, ref_sk[c], cfg)]
        if cur_windows:
            cur_sk = sketch_windows(bins, cur.column(col), cur_codes, len(cur_windows))
            for k, meta in enumerate(cur_meta):
                rows += [_with(r, meta, "analysis", spec) for r in drift_rows(bins, whole, cur_sk[k], cfg)]
    frame = pd.DataFrame(rows, columns=[c for c in WINDOW_DRIFT_COLUMNS if c not in
                                        ("band_mean", "band_sd", "band_high")])
    return frame


def _reference_meta(spec: MonitorSpec, win: pd.DataFrame, n_chunks: int) -> list[dict[str, Any]]:
    if spec.reference.path is None:
        ref = win[win["role"] == "reference"]
        return [{"window": r["window"], "start": r["start"]} for _, r in ref.iterrows()]
    return [{"window": f"reference {c + 1}/{n_chunks}", "start": pd.NaT} for c in range(n_chunks)]


def _with(row: dict[str, Any], meta: Any, role: str, spec: MonitorSpec) -> dict[str, Any]:
    out = {"window": meta["window"], "start": meta["start"], "role": role} | row
    n = int(row.get("n_cur") or 0)
    if role == "analysis" and n < spec.min_window_rows and out.get("status") == "ok":
        out["status"] = TOO_SMALL
        out["note"] = f"{n} value(s) < min_window_rows={spec.min_window_rows}; no alert is raised"
    return out


def _with_bands(drift: pd.DataFrame, spec: MonitorSpec) -> pd.DataFrame:
    """Reference mean and SD of each column's statistic, and mean + k SD (k of the first
    drift alert with a band, else 3)."""
    k = next((a.k for a in spec.alerts if isinstance(a, DriftAlert) and a.max is None), 3.0)
    drift = drift.copy()
    drift["band_mean"] = math.nan
    drift["band_sd"] = math.nan
    drift["band_high"] = math.nan
    ok_ref = drift[(drift["role"] == "reference") & (drift["status"] == "ok")]
    for (column, statistic), rows in ok_ref.groupby(["column", "statistic"], sort=False):
        mean, sd, _, high = band(rows["value"], k)
        sel = (drift["column"] == column) & (drift["statistic"] == statistic)
        drift.loc[sel, ["band_mean", "band_sd", "band_high"]] = [mean, sd, high]
    return drift[WINDOW_DRIFT_COLUMNS]


def _performance(spec: MonitorSpec, table: pa.Table, code: str, metas: list[Any],
                 progress: Progress) -> pd.DataFrame:
    """The engine's metrics with intervals on each window's labelled rows."""
    from assay._evaluate import evaluate_spec
    from assay.quality import QualitySpec
    from assay.spec import CompareSpec, EvalSpec, ModelSpec, PrivacySpec

    metrics = spec.metrics or DEFAULT_METRICS[spec.task]
    # the window's rows go in as a two-column table: label and prediction
    model = (ModelSpec(name="model", score="prediction") if spec.task == "binary"
             else ModelSpec(name="model", prediction="prediction"))
    espec = EvalSpec(name=f"{spec.name} window", task=spec.task, label="label", positive=spec.positive,
                     models=[model], threshold=spec.threshold, metrics=metrics,
                     confidence=spec.confidence, seed=spec.seed, bootstrap=spec.bootstrap,
                     min_slice_size=spec.min_window_rows, compare=CompareSpec(enabled=False),
                     store=False, quality=QualitySpec(enabled=False),  # two columns: nothing to check
                     privacy=PrivacySpec(examples=0))  # a window's table shows no example rows
    rows: list[dict[str, Any]] = []
    codes = table.column(code).to_numpy()
    labelled = ~np.asarray(table.column(LABEL).is_null())
    for k, meta in enumerate(metas):
        progress("performance per window", k, len(metas))
        keep = np.flatnonzero((codes == k) & labelled)
        if keep.size == 0:
            continue
        idx = pa.array(keep)
        data = pa.table({"label": table.column(LABEL).take(idx),
                         "prediction": table.column(spec.prediction).take(idx)})
        base = {"window": meta["window"], "start": meta["start"], "role": meta["role"]}
        if keep.size < spec.min_window_rows:
            rows += [base | {"metric": m, "value": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                             "n": int(keep.size), "method": "", "status": TOO_SMALL,
                             "note": f"{keep.size} labelled row(s) < min_window_rows="
                                     f"{spec.min_window_rows}"} for m in metrics]
            continue
        res = evaluate_spec(espec, ".", data=data)
        for r in res.table[res.table["slice"] == "overall"].itertuples():
            rows.append(base | {"metric": r.metric, "value": r.value, "ci_low": r.ci_low,
                                "ci_high": r.ci_high, "n": int(r.n), "method": r.method,
                                "status": r.status, "note": r.note})
    return pd.DataFrame(rows, columns=WINDOW_PERFORMANCE_COLUMNS)


def run_monitor(spec: MonitorSpec, base_dir: str | Path = ".", *, store: Any = None,
                progress: Progress | None = None) -> MonitorResult:
    """Monitor the spec's log: windows, drift, performance, alerts. With a run store, windows
    it holds unchanged (same rows, same labels, same configuration) are read back."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    base = Path(base_dir)
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 1}").fetchall()
    report("reading the log", 0, 1)
    log_desc, label_desc = _open_log(con, spec, base)
    cols = columns_of(con, "mon_log")
    watched = _watched(spec, cols)
    selects = [quote_ident(c) for c in ([spec.id] if spec.id and spec.id not in watched else [])
               + watched] + [LABEL]
    keys = [quote_ident(c) for c in ([spec.id] if spec.id else []) + watched]
    log = cut_windows(con, spec, "mon_log_l", cols[spec.timestamp], selects, keys)
    win = log.windows
    if win.empty:
        raise InputError(f"log: no rows with a timestamp in {log_desc}; nothing to monitor")
    win["role"] = _roles(spec, win).to_numpy()
    ref_windows = win.loc[win["role"] == "reference", "key"].astype("int64").tolist()
    ref, n_chunks, ref_sig = _reference_table(con, spec, base, watched, ref_windows, log.excluded)
    if n_chunks < 2:
        raise InputError("reference: fewer than 2 reference chunks; the alert band needs the "
                         "variation between at least 2 (set reference.chunks)")
    if not ref_sig:
        ref_sig = "|".join(win.loc[win["role"] == "reference", "row_hash"].astype(str))
    config = _config_hash(spec, ref_sig)
    stored = _stored(store, spec, config)
    analysis = win[win["role"] == "analysis"]
    fresh = [int(r.key) for r in analysis.itertuples() if _changed(stored.get(r.window), r)]
    win["computed"] = [("new" if r.window not in stored else "recomputed") if int(r.key) in fresh
                       else ("stored" if r.role == "analysis" else "new") for r in win.itertuples()]
    sel = ", ".join(quote_ident(c) for c in watched)
    listed = ", ".join(map(str, fresh)) or "NULL"
    cur = con.sql(f"SELECT __w, {sel}, {LABEL} FROM mon_rows WHERE __w IN ({listed}) "
                  f"ORDER BY __w, __ts, {sel}").to_arrow_table()
    drift = _drift(spec, watched, ref, n_chunks, cur, fresh, win, report)
    perf = pd.DataFrame(columns=WINDOW_PERFORMANCE_COLUMNS)
    if spec.label_column and spec.prediction:
        ref_meta = [m | {"role": "reference"} for m in _reference_meta(spec, win, n_chunks)]
        cur_meta = [{"window": r["window"], "start": r["start"], "role": "analysis"}
                    for w in fresh for _, r in win[win["key"] == w].iterrows()]
        cur_codes = pa.array(np.searchsorted(np.asarray(fresh), cur.column("__w").to_numpy())
                             if cur.num_rows else np.zeros(0, dtype=np.int64))
        perf = pd.concat([
            _performance(spec, ref, "__c", ref_meta, report),
            _performance(spec, cur.set_column(0, "__k", cur_codes), "__k", cur_meta, report),
        ], ignore_index=True)
    new_win = win[win["key"].isin(fresh)]
    if store is not None:
        from assay.monitor._store import save_windows

        save_windows(store, spec.name, config, new_win,
                     drift[drift["role"] == "analysis"], perf[perf["role"] == "analysis"])
    kept = [w for w in analysis["window"] if w in stored and w not in set(new_win["window"])]
    drift = pd.concat([drift] + [stored[w]["drift"] for w in kept if "drift" in stored[w]],
                      ignore_index=True)
    perf = pd.concat([perf] + [stored[w]["performance"] for w in kept if "performance" in stored[w]],
                     ignore_index=True)
    drift = _with_bands(_order(drift, win), spec)
    perf = _order(perf, win)
    windows = win[WINDOW_COLUMNS + ["row_hash", "label_hash"]].reset_index(drop=True)
    alerts = evaluate_alerts(spec, windows, drift, perf)
    report("done", 1, 1)
    return MonitorResult(
        spec=spec, windows=windows[WINDOW_COLUMNS], drift=drift, performance=perf, alerts=alerts,
        excluded=log.excluded,
        extra={"log": log_desc, "labels": label_desc, "config_sha256": config,
               "reference": _describe_reference(spec, n_chunks), "watched": watched,
               "windows_computed": len(fresh), "windows_stored": len(kept),
               "seconds": round(time.perf_counter() - started, 3)})


def _stored(store: Any, spec: MonitorSpec, config: str) -> dict[str, dict[str, Any]]:
    if store is None:
        return {}
    from assay.monitor._store import load_windows

    return load_windows(store, spec.name, config)


def _changed(stored: dict[str, Any] | None, w: Any) -> bool:
    if stored is None:
        return True
    return (int(stored["n_rows"]), str(stored["row_hash"]), int(stored["n_labelled"]),
            str(stored["label_hash"])) != (int(w.n), str(w.row_hash), int(w.n_labelled),
                                           str(w.label_hash))


def _order(frame: pd.DataFrame, win: pd.DataFrame) -> pd.DataFrame:
    """Reference rows first, then windows in time order (stable within a window)."""
    pos = {w: i for i, w in enumerate(win["window"])}
    key = frame["window"].map(lambda w: pos.get(w, -1))
    role = (frame["role"] != "reference").astype(int)
    return frame.assign(__r=role, __k=key).sort_values(["__r", "__k"], kind="stable").drop(
        columns=["__r", "__k"]).reset_index(drop=True)


def _describe_reference(spec: MonitorSpec, n_chunks: int) -> str:
    ref = spec.reference
    if ref.windows is not None:
        return f"the first {ref.windows} windows"
    if ref.until is not None:
        return f"the {n_chunks} windows before {ref.until}"
    return f"{ref.path} in {n_chunks} chunks"
