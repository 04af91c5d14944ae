"""Alert rules over a monitor's windows: each firing is one row with the numbers behind it.

Rules look at analysis windows only (reference windows define normal). A window smaller
than ``min_window_rows`` raises no drift or performance alert (its statistics are listed as
too small); the volume rule is what watches a window that is too small.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assay.monitor._result import ALERT_COLUMNS
from assay.monitor._spec import DriftAlert, MissingAlert, MonitorSpec, PerformanceAlert, VolumeAlert

NEW = ("new", "recomputed")


def band(values: pd.Series, k: float) -> tuple[float, float, float, float]:
    """(mean, SD, mean - k SD, mean + k SD) of the reference windows' values (SD with n - 1;
    NaN with fewer than two windows)."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    if v.size < 2:
        return math.nan, math.nan, math.nan, math.nan
    mean, sd = float(np.mean(v)), float(np.std(v, ddof=1))
    return mean, sd, mean - k * sd, mean + k * sd


def _window(by_window: pd.DataFrame, label: str) -> pd.Series:
    w = by_window.loc[label].copy()
    w["window"] = label
    return w


def _row(rule: Any, kind: str, window: pd.Series, target: str, statistic: str, value: float,
         bound: float, direction: str, message: str) -> dict[str, Any]:
    return {"rule": rule.label, "kind": kind, "severity": rule.severity, "window": window["window"],
            "start": window["start"], "target": target, "statistic": statistic, "value": value,
            "bound": bound, "direction": direction, "new": window["computed"] in NEW,
            "message": message}


def _drift(rule: DriftAlert, windows: pd.DataFrame, drift: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    sel = drift if rule.columns == "all" else drift[drift["column"].isin(rule.columns)]
    sel = sel[sel["default"]] if rule.statistic == "default" else sel[sel["statistic"] == rule.statistic]
    by_window = windows.set_index("window")
    for (column, statistic), rows in sel.groupby(["column", "statistic"], sort=False):
        ref = rows[(rows["role"] == "reference") & (rows["status"] == "ok")]
        mean, sd, _, high = band(ref["value"], rule.k)
        bound = rule.max if rule.max is not None else high
        if not math.isfinite(bound):
            continue
        for r in rows[(rows["role"] == "analysis") & (rows["status"] == "ok")].itertuples():
            if r.value > bound:
                how = (f"fixed max {bound:.4g}" if rule.max is not None else
                       f"reference {mean:.4g} + {rule.k:g} x SD {sd:.4g} = {bound:.4g}")
                out.append(_row(rule, "drift", _window(by_window, r.window), column, statistic,
                                r.value, bound, "<=", f"{column}: {statistic} {r.value:.4g} > {how} "
                                f"(window {r.window}, n={r.n_cur:,})"))
    return out


def _performance(rule: PerformanceAlert, windows: pd.DataFrame,
                 perf: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    rows = perf[(perf["metric"] == rule.metric) & (perf["status"] == "ok")]
    ref = rows[rows["role"] == "reference"]
    mean, sd, low, high = band(ref["value"], rule.band or 3.0)
    by_window = windows.set_index("window")
    for r in rows[rows["role"] == "analysis"].itertuples():
        w = _window(by_window, r.window)
        judged = float(getattr(r, rule.judge))
        ci = f"{r.value:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}]"
        if rule.min is not None and judged < rule.min:
            out.append(_row(rule, "performance", w, rule.metric, rule.judge, judged, rule.min, ">=",
                            f"{rule.metric} {ci} in window {r.window}: {rule.judge} {judged:.4g} "
                            f"< {rule.min:g} (n={int(r.n):,})"))
        if rule.max is not None and judged > rule.max:
            out.append(_row(rule, "performance", w, rule.metric, rule.judge, judged, rule.max, "<=",
                            f"{rule.metric} {ci} in window {r.window}: {rule.judge} {judged:.4g} "
                            f"> {rule.max:g} (n={int(r.n):,})"))
        if rule.band is not None and math.isfinite(low) and not low <= r.value <= high:
            out.append(_row(rule, "performance", w, rule.metric, "value", float(r.value),
                            low if r.value < low else high, "within",
                            f"{rule.metric} {ci} in window {r.window} is outside the reference "
                            f"band {mean:.4g} +/- {rule.band:g} x SD {sd:.4g} = [{low:.4g}, {high:.4g}]"))
    return out


def _volume(rule: VolumeAlert, windows: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    mean, sd, low, high = band(windows.loc[windows["role"] == "reference", "n"], rule.band or 3.0)
    for _, w in windows[windows["role"] == "analysis"].iterrows():
        n = int(w["n"])
        if rule.min_rows is not None and n < rule.min_rows:
            out.append(_row(rule, "volume", w, "rows", "n", n, rule.min_rows, ">=",
                            f"window {w['window']}: {n:,} rows < {rule.min_rows:,}"))
        if rule.max_rows is not None and n > rule.max_rows:
            out.append(_row(rule, "volume", w, "rows", "n", n, rule.max_rows, "<=",
                            f"window {w['window']}: {n:,} rows > {rule.max_rows:,}"))
        if rule.band is not None and math.isfinite(low) and not low <= n <= high:
            out.append(_row(rule, "volume", w, "rows", "n", n, low if n < low else high, "within",
                            f"window {w['window']}: {n:,} rows, outside the reference band "
                            f"{mean:,.1f} +/- {rule.band:g} x SD {sd:,.1f}"))
    return out


def _missing(rule: MissingAlert, windows: pd.DataFrame, drift: pd.DataFrame,
             label: str | None) -> list[dict[str, Any]]:
    out = []
    sel = drift[drift["default"] & (drift["role"] == "analysis")]
    if rule.columns != "all":
        sel = sel[sel["column"].isin(rule.columns)]
    else:  # labels that have not arrived yet are late, not missing
        sel = sel[sel["column"] != label]
    by_window = windows.set_index("window")
    for r in sel.itertuples():
        total = r.n_cur + r.missing_cur
        share = r.missing_cur / total if total else 0.0
        if share > rule.max:
            w = _window(by_window, r.window)
            out.append(_row(rule, "missing", w, r.column, "missing share", share, rule.max, "<=",
                            f"{r.column}: {r.missing_cur:,} of {total:,} values missing "
                            f"({share:.2%}) in window {r.window} > {rule.max:.2%}"))
    return out


def evaluate_alerts(spec: MonitorSpec, windows: pd.DataFrame, drift: pd.DataFrame,
                    performance: pd.DataFrame) -> pd.DataFrame:
    """Every rule on every analysis window; one row per firing, newest window first."""
    rows: list[dict[str, Any]] = []
    for rule in spec.alerts:
        if isinstance(rule, DriftAlert):
            rows += _drift(rule, windows, drift)
        elif isinstance(rule, PerformanceAlert):
            rows += _performance(rule, windows, performance)
        elif isinstance(rule, VolumeAlert):
            rows += _volume(rule, windows)
        elif isinstance(rule, MissingAlert):
            rows += _missing(rule, windows, drift, spec.label_column)
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if len(frame):
        frame = frame.sort_values(["start", "rule", "target"], ascending=[False, True, True],
                                  kind="stable").reset_index(drop=True)
    frame["new"] = frame["new"].astype(bool)
    return frame
