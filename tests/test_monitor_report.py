"""The monitoring report (assay.report._monitor): monitor.html and monitor.md built from a
MonitorResult's tables. Checks what an engineer on call reads (alerts, numbers, the
charts' points, bands and thresholds), escaping, the cases without labels and without
windows, size and time at 50 columns x 365 windows, the time-series chart's geometry, and
the page in headless Chromium.

The tables come from a small builder below: seeded synthetic windows, drift rows (every
statistic, the deciding one flagged, a reference band from the reference windows),
performance rows with intervals, and the alerts a rule set would raise on them.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _browser import assert_charts_drawn, open_page

from assay.monitor._result import (
    ALERT_COLUMNS,
    WINDOW_COLUMNS,
    WINDOW_DRIFT_COLUMNS,
    WINDOW_PERFORMANCE_COLUMNS,
    MonitorResult,
)
from assay.monitor._spec import MonitorSpec
from assay.report._monitor import render_monitor_html, render_monitor_summary
from assay.report._svg import TimeSeries, fmt, time_chart

XSS = "<script>window.__pwned = 1</script>"
NUMERIC = {"psi": 0.2, "ks": 0.05, "wasserstein": 0.1, "js_distance": 0.1}
CATEGORICAL = {"psi": 0.2, "chi_square": 0.05, "js_distance": 0.1}
DEFAULT = {"numeric": "wasserstein", "categorical": "js_distance"}
TESTS = {"ks", "chi_square"}
REQUIRED = {"<=": "≤", ">=": "≥"}
K = 3.0  # the band's SD multiple
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


# ---------------------------------------------------------------------------- builder


def make_spec(*, labels: bool = True, unit: str = "day", alerts: list[dict[str, Any]] | None = None,
              name: str = "fraud <&> monitor", reference: int = 7) -> MonitorSpec:
    raw: dict[str, Any] = {
        "name": name, "log": {"path": "logs/*.parquet"}, "timestamp": "ts", "prediction": "score",
        "window": {"every": unit} if unit != "rows" else {"rows": 1000},
        "reference": {"windows": reference}, "metrics": ["roc_auc", "accuracy"],
        "alerts": alerts if alerts is not None else [
            {"rule": "drift", "band": K},
            {"rule": "drift", "columns": ["amount"], "max": 0.35, "severity": "warn", "name": "amount max"},
            {"rule": "performance", "metric": "roc_auc", "min": 0.8, "judge": "ci_high"},
            {"rule": "missing", "max": 0.2, "severity": "warn"},
            {"rule": "volume", "min_rows": 500}]}
    if labels:
        raw["label"] = "y"
    return MonitorSpec.model_validate(raw)


def build_result(*, n_windows: int = 30, columns: dict[str, str] | None = None, labels: bool = True,
                 seed: int = 0, shifted: str | None = "amount", shift_from: int = 20,
                 gap: tuple[str, int] | None = ("tenure", 12), missing: str | None = "tenure",
                 too_small: tuple[str, int] | None = ("country", 14),
                 spec: MonitorSpec | None = None, new_from: int | None = None) -> MonitorResult:
    """A MonitorResult of ``n_windows`` daily windows (the first 7 the reference): every
    statistic per window and column, the deciding one flagged, the band from the
    reference windows, two metrics with intervals, and the alerts of ``make_spec``'s
    rules (band and fixed max for drift, min for roc_auc on ci_high, missing share,
    volume); windows from ``new_from`` on (default: the last three) are computed in this
    run, the others read from the store."""
    spec = spec or make_spec(labels=labels)
    rng = np.random.default_rng(seed)
    cols = columns if columns is not None else {"score": "numeric", "amount": "numeric", "tenure": "numeric",
                                                XSS: "categorical", "country": "categorical"}
    n_ref = spec.reference.windows or 7
    new_from = n_windows - 3 if new_from is None else new_from
    unit = spec.window.every
    starts = pd.date_range("2024-01-01", periods=n_windows, freq="7D" if unit == "week" else "D", tz="UTC")
    size = spec.window.rows
    label = {"day": "%Y-%m-%d", "week": "%G-W%V"}  # the monitor's window labels
    keys = ([s.strftime(label[unit]) for s in starts] if size is None else
            [f"rows {i * size + 1}-{(i + 1) * size}" for i in range(n_windows)])
    role = np.where(np.arange(n_windows) < n_ref, "reference", "analysis")
    n = rng.poisson(1000, n_windows)
    if n_windows > 16:
        n[16] = 400  # a quiet day: the volume rule fires
    n_lab = np.round(n * 0.8).astype(int) if labels else np.zeros(n_windows, dtype=int)
    idx = np.arange(n_windows)  # as the monitor does: the reference is computed on every run
    computed = np.where((idx >= new_from) | (idx < n_ref), "new", "stored")
    windows = pd.DataFrame({"window": keys, "start": starts, "end": starts + pd.Timedelta(days=1),
                            "role": role, "n": n, "n_labelled": n_lab, "computed": computed})[WINDOW_COLUMNS]

    parts = []
    for c, kind in cols.items():
        stats = NUMERIC if kind == "numeric" else CATEGORICAL
        level = rng.uniform(0.02, 0.05)
        base = level * (1 + 0.3 * rng.standard_normal(n_windows)).clip(0.2)
        if c == shifted and n_windows > shift_from:
            base[shift_from:] += np.linspace(0.1, 0.4, n_windows - shift_from)
        miss = np.zeros(n_windows, dtype=int)
        if c == missing and n_windows > 10:
            miss[10:] = (n[10:] * np.linspace(0.05, 0.3, n_windows - 10)).astype(int)
        for s, thr in stats.items():
            value = base * (2 if s == "psi" else 1) * (5 if s == "chi_square" else 1)
            p = np.exp(-60 * base) if s in TESTS else np.full(n_windows, np.nan)
            if gap is not None and c == gap[0] and gap[1] < n_windows:
                value = value.copy()
                value[gap[1]] = np.nan
            ref = value[:n_ref][np.isfinite(value[:n_ref])]
            mean, sd = (ref.mean(), ref.std(ddof=1)) if ref.size > 1 else (np.nan, np.nan)
            drifted = p < thr if s in TESTS else value >= thr
            status = np.where(np.isfinite(value), "ok", "undefined")
            if too_small is not None and c == too_small[0] and too_small[1] < n_windows:
                status[too_small[1]] = "too_small"  # a value, but from too few rows: no alert
            parts.append(pd.DataFrame({
                "window": keys, "start": starts, "role": role, "column": c, "kind": kind, "statistic": s,
                "value": value, "p_value": p, "threshold": thr, "drifted": drifted,
                "default": s == DEFAULT[kind], "n_ref": int(n[:n_ref].sum()), "n_cur": n - miss,
                "missing_ref": 0, "missing_cur": miss,
                "error_bound": 0.002 if s in ("ks", "wasserstein") else np.nan,
                "method": f"{s} (binned, 4096 bins)" if s in ("ks", "wasserstein") else s,
                "status": status, "note": np.where(np.isfinite(value), "", "all values missing"),
                "band_mean": mean, "band_sd": sd, "band_high": mean + K * sd}))
    drift = pd.concat(parts, ignore_index=True)[WINDOW_DRIFT_COLUMNS]

    perf_parts = []
    for m, level in (("roc_auc", 0.9), ("accuracy", 0.85)):
        value = level + 0.01 * rng.standard_normal(n_windows)
        if n_windows > shift_from:
            value[shift_from:] -= np.linspace(0.02, 0.2, n_windows - shift_from)
        half = 0.02
        status = np.where(np.arange(n_windows) == 16, "too_small", "ok") if labels else "no_labels"
        ok = status == "ok"
        perf_parts.append(pd.DataFrame({
            "window": keys, "start": starts, "role": role, "metric": m,
            "value": np.where(ok, value, np.nan), "ci_low": np.where(ok, value - half, np.nan),
            "ci_high": np.where(ok, value + half, np.nan), "n": n_lab, "method": "wilson",
            "status": status, "note": ""}))
    performance = pd.concat(perf_parts, ignore_index=True)[WINDOW_PERFORMANCE_COLUMNS]
    if not labels:
        performance = performance.iloc[0:0]

    alerts = []
    new = dict(zip(keys, computed == "new", strict=True))
    for r in drift[drift["default"] & (drift["role"] == "analysis") & (drift["status"] == "ok")].itertuples():
        if math.isfinite(r.value) and r.value > r.band_high:
            alerts.append({"rule": f"drift of every column ({r.statistic}) above reference + 3 SD",
                           "kind": "drift", "severity": "alert", "window": r.window, "start": r.start,
                           "target": r.column, "statistic": r.statistic, "value": r.value,
                           "bound": r.band_high, "direction": "<=", "new": new[r.window],
                           "message": f"{r.column}: {r.statistic} {r.value:.3f} above its band "
                                      f"{r.band_high:.3f}"})
        if r.column == "amount" and r.value > 0.35:
            alerts.append({"rule": "amount max", "kind": "drift", "severity": "warn", "window": r.window,
                           "start": r.start, "target": r.column, "statistic": r.statistic,
                           "value": r.value, "bound": 0.35, "direction": "<=", "new": new[r.window],
                           "message": f"{r.column}: {r.statistic} {r.value:.3f} > 0.35"})
    for r in performance[(performance["metric"] == "roc_auc") & (performance["status"] == "ok")].itertuples():
        if r.ci_high < 0.8:
            alerts.append({"rule": "roc_auc >= 0.8 (on ci_high)", "kind": "performance", "severity": "alert",
                           "window": r.window, "start": r.start, "target": "roc_auc", "statistic": "ci_high",
                           "value": r.ci_high, "bound": 0.8, "direction": ">=", "new": new[r.window],
                           "message": f"roc_auc {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] below 0.8"})
    share = drift[drift["default"]].merge(windows[["window", "n"]], on="window")
    for r in share.itertuples():
        if r.missing_cur / r.n > 0.2:
            alerts.append({"rule": "missing share <= 0.2", "kind": "missing", "severity": "warn",
                           "window": r.window, "start": r.start, "target": r.column, "statistic": "missing",
                           "value": r.missing_cur / r.n, "bound": 0.2, "direction": "<=",
                           "new": new[r.window], "message": f"{r.column}: {r.missing_cur / r.n:.1%} missing"})
    for r in windows.itertuples():
        if r.n < 500:
            alerts.append({"rule": "rows per window", "kind": "volume", "severity": "alert",
                           "window": r.window, "start": r.start, "target": "rows", "statistic": "n",
                           "value": float(r.n), "bound": 500.0, "direction": ">=", "new": new[r.window],
                           "message": f"{r.n} rows, fewer than 500"})
    alert_frame = pd.DataFrame(alerts, columns=ALERT_COLUMNS)
    alert_frame["new"] = alert_frame["new"].astype(bool)
    return MonitorResult(spec=spec, windows=windows, drift=drift, performance=performance, alerts=alert_frame,
                         excluded={"no timestamp": 12, "before the first window": 0},
                         extra={"log": {"path": "logs/*.parquet", "sha256": "ab" * 32},
                                "store": "postgresql://bob:s3cret@db.internal:5432/runs",
                                "seconds": 1.25})


def empty_result(labels: bool = True) -> MonitorResult:
    frames = {k: pd.DataFrame(columns=c) for k, c in (
        ("windows", WINDOW_COLUMNS), ("drift", WINDOW_DRIFT_COLUMNS),
        ("performance", WINDOW_PERFORMANCE_COLUMNS), ("alerts", ALERT_COLUMNS))}
    return MonitorResult(spec=make_spec(labels=labels), **frames)


@pytest.fixture(scope="module")
def result() -> MonitorResult:
    return build_result()


@pytest.fixture(scope="module")
def page(result: MonitorResult) -> str:
    return render_monitor_html(result)


def _figure(doc: str, cls: str, column: str) -> str:
    """The HTML of one chart figure (drift-chart, missing-chart, metric-chart) by its key."""
    attr = "data-metric" if cls == "metric-chart" else "data-column"
    key = re.escape(html.escape(column))
    m = re.search(rf'<figure class="{cls}" {attr}="{key}">(.*?)</figure>', doc, re.S)
    assert m, (cls, column)
    return m.group(1)


def _paths(svg: str, role: str) -> list[str]:
    return re.findall(rf'<path d="([^"]*)"[^>]*class="{role}"', svg)


def _points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]


def _section(doc: str, anchor: str) -> str:
    m = re.search(rf'<section id="{anchor}">(.*?)</section>', doc, re.S)
    assert m, anchor
    return m.group(1)


# ---------------------------------------------------------------------------- content


def test_header_and_headline(result: MonitorResult, page: str) -> None:
    assert result.exit_code == 1  # an alert on a window computed in this run
    head = page.split('<section id="alerts">')[0]
    assert "assay monitor: fraud &lt;&amp;&gt; monitor" in head
    assert "logs/*.parquet" in head and "the first 7 windows of the log" in head
    assert "30 windows by day" in head and "2024-01-01 to 2024-01-30" in head
    assert "analysis windows: 3 computed new, 0 recomputed" in head and "20 read from the run store" in head
    assert "no timestamp: 12" in head and "before the first window" not in head  # zero counts left out
    assert f"{int(result.windows.n.sum()):,} rows" in head
    alerts = _section(page, "alerts")
    new = result.alerts[result.alerts.new]
    n_alert, n_warn = int((new.severity == "alert").sum()), int((new.severity == "warn").sum())
    assert n_alert > 0 and n_warn > 0
    banner = re.search(r'<div class="banner hold"[^>]*data-exit-code="1">(.*?)</div>', alerts, re.S)
    assert banner, alerts[:500]
    assert "ALERT" in banner.group(1)
    assert f"{n_alert} alert{'s' if n_alert > 1 else ''}, {n_warn} warning" in banner.group(1)
    all_alert = int((result.alerts.severity == "alert").sum())
    assert f"({all_alert:,} alerts" in banner.group(1)  # older windows' alerts counted apart
    assert "exit code 1: an alert fired" in banner.group(1)


@pytest.mark.parametrize(("severities", "code", "word", "css"),
                         [((), 0, "OK", "ship"), (("warn",), 3, "WARNING", "guardrails"),
                          (("warn", "alert"), 1, "ALERT", "hold")])
def test_exit_code_banner(severities: tuple[str, ...], code: int, word: str, css: str) -> None:
    base = build_result(n_windows=10, shifted=None, gap=None, missing=None)
    rows = [{"rule": f"r{i}", "kind": "volume", "severity": s, "window": "2024-01-10",
             "start": pd.Timestamp("2024-01-10", tz="UTC"), "target": "rows", "statistic": "n", "value": 1.0,
             "bound": 2.0, "direction": "<", "new": True, "message": "m"} for i, s in enumerate(severities)]
    alerts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    res = MonitorResult(spec=base.spec, windows=base.windows, drift=base.drift, performance=base.performance,
                        alerts=alerts)
    assert res.exit_code == code
    doc = render_monitor_html(res)
    assert f'<div class="banner {css}" role="status" data-exit-code="{code}">' in doc
    assert f'<span class="headline">{word}</span>' in doc
    md = render_monitor_summary(res)
    assert f"**{word}**" in md.splitlines()[0] and f"exit code {code}" in md


def test_alerts_table_newest_first_with_numbers(result: MonitorResult, page: str) -> None:
    pattern = (r'<tr class="alert-row (\w+)( new)?"><td>.*?</td><td class="name when">([^<]*)</td>'
               r'.*?<td class="num">([^<]*)</td><td class="num">([^<]*)</td>')
    rows = re.findall(pattern, _section(page, "alerts"), re.S)
    assert len(rows) == len(result.alerts)
    order = [r[2] for r in rows]
    assert order == sorted(order, reverse=True)  # newest window first (ISO dates sort as text)
    n_new = int(result.alerts.new.sum())
    assert [bool(r[1]) for r in rows] == [True] * n_new + [False] * (len(rows) - n_new)  # new ones first
    older = _section(page, "alerts").split('<details class="older">')[1]
    assert older.count('<tr class="alert-row') == len(rows) - n_new  # the rest folded
    # every alert's value and bound as the table holds them
    shown = {(r[2], r[3], html.unescape(r[4])) for r in rows}
    for a in result.alerts.itertuples():
        value = f"{a.value:,.0f}" if a.kind == "volume" else fmt(a.value)
        bound = f"{a.bound:,.0f}" if a.kind == "volume" else fmt(a.bound)
        assert (a.window, value, f"{REQUIRED[a.direction]} {bound}") in shown, a
    # within one window, alerts before warnings
    first_window = [r for r in rows if r[2] == rows[0][2]]
    sev = [r[0] for r in first_window]
    assert sev == sorted(sev, key=lambda s: s != "alert")


def test_alert_rows_are_capped() -> None:
    res = build_result()
    many = pd.concat([res.alerts] * 40, ignore_index=True)
    res = MonitorResult(spec=res.spec, windows=res.windows, drift=res.drift, performance=res.performance,
                        alerts=many)
    doc = render_monitor_html(res)
    assert doc.count('<tr class="alert-row') == 200
    assert (f"{len(many) - 200:,} older alert(s) not listed here; all {len(many):,} are in "
            "alerts.parquet") in doc


def test_drift_charts_points_band_threshold(result: MonitorResult, page: str) -> None:
    deciding = result.drift[result.drift["default"]]
    for col in deciding.column.unique():
        svg = _figure(page, "drift-chart", col)
        rows = deciding[deciding.column == col]
        d = _paths(svg, "series")
        assert len(d) == 1
        pts = _points(d[0])
        assert len(pts) == int((rows.status == "ok").sum())  # one point per window with a value
        band = _paths(svg, "band")
        assert len(band) == 1 and len(_points(band[0])) == len(rows)
        thr = rows.threshold.iloc[0]
        assert re.search(rf'class="hline"><title>threshold {re.escape(fmt(thr))}</title>', svg), col
        assert svg.count('class="shade"') == 1  # the seven reference windows
    # a window without a value (undefined, or too small to judge) breaks the line
    for col in ("tenure", "country"):
        line = _paths(_figure(page, "drift-chart", col), "series")[0]
        assert line.count("M") == 2 and len(_points(line)) == 29, col
    assert "1 without a value" in _figure(page, "drift-chart", "country")


def test_drift_marks_alerts_and_rule_lines(result: MonitorResult, page: str) -> None:
    a = result.alerts
    for col in ("amount", "score"):
        svg = _figure(page, "drift-chart", col)
        windows = a[(a.kind == "drift") & (a.target == col)].window.nunique()
        assert svg.count('class="alert"') == windows
    amount = _figure(page, "drift-chart", "amount")
    assert "<title>amount max</title>" in amount  # the column's fixed-max rule drawn
    assert "amount max" not in _figure(page, "drift-chart", "score")
    # the deciding statistic is drifted on windows without alerts: hollow marks
    d = result.drift
    rows = d[d["default"] & (d.column == "amount")]
    alerted = set(a[(a.kind == "drift") & (a.target == "amount")].window)
    hollow = sum(bool(r.drifted) and r.window not in alerted for r in rows.itertuples())
    assert amount.count('class="flagged"') == hollow


def test_drift_order_prediction_first_then_largest(result: MonitorResult, page: str) -> None:
    found = re.findall(r'<figure class="drift-chart" data-column="([^"]*)">', page)
    order = [html.unescape(c) for c in found]
    assert order[0] == "score"
    d = result.drift
    last = d[d["default"] & (d.window == "2024-01-30")].set_index("column")
    ratio = {c: max(last.value[c] / last.threshold[c], last.value[c] / last.band_high[c]) for c in order[1:]}
    assert order[1:] == sorted(ratio, key=lambda c: -ratio[c])
    assert order[1] == "amount"  # the shifted column


def test_latest_window_table(result: MonitorResult, page: str) -> None:
    part = _section(page, "latest")
    assert "Latest window: 2024-01-30" in page
    d = result.drift[result.drift.window == "2024-01-30"]
    assert part.count("<tr class=") == len(d)  # every statistic of every column
    assert part.count('class="deciding') == d.column.nunique()
    for r in d[d.column == "amount"].itertuples():
        assert fmt(r.value, 4) in part
    ks = d[(d.column == "amount") & (d.statistic == "ks")].iloc[0]
    assert "(binned, 4096 bins)" in part and fmt(ks.error_bound, 4) in part
    n = result.windows.set_index("window").n["2024-01-30"]
    miss = d[d.column == "tenure"].missing_cur.iloc[0]
    assert f"{miss / n:.1%}" in part


def test_performance_charts_ci_band_and_bounds(result: MonitorResult, page: str) -> None:
    p = result.performance
    for metric in ("roc_auc", "accuracy"):
        fig = _figure(page, "metric-chart", metric)
        ok = p[(p.metric == metric) & (p.status == "ok")]
        assert len(_points(_paths(fig, "series")[0])) == len(ok)
        assert fig.count('class="point"') == len(ok)  # a tooltip per window
        assert fig.count('<polygon') == 2  # the interval band, broken at the too-small window
        assert "too small: 1 window(s) (2024-01-17)" in fig
        r = ok.iloc[-1]
        assert f"{metric} {fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}], n={int(r.n):,}" in fig
    auc = _figure(page, "metric-chart", "roc_auc")
    assert "roc_auc &gt;= 0.8 (on ci_high): min 0.800" in auc
    assert "judged on its interval&#39;s upper end" in auc
    n_alert = result.alerts[result.alerts.kind == "performance"].window.nunique()
    assert n_alert > 0 and auc.count('class="alert"') == n_alert
    latest = re.search(r'<tr data-metric="roc_auc">(.*?)</tr>', page, re.S)
    assert latest is not None
    last = p[(p.metric == "roc_auc") & (p.status == "ok")].iloc[-1]
    assert f"{fmt(last.value)}<span class=\"ci\">[{fmt(last.ci_low)}, {fmt(last.ci_high)}]" in latest.group(1)


def test_volume_and_missing(result: MonitorResult, page: str) -> None:
    vol = _section(page, "volume")
    assert len(_points(_paths(vol, "series")[0])) == 30
    assert len(_points(_paths(vol, "labelled")[0])) == 30
    assert "rows per window: at least 500 rows" in vol and vol.count('class="alert"') == 1
    assert "2024-01-17: 400 rows, 320 labelled" in vol
    miss = _section(page, "missing")
    assert miss.count('<figure class="missing-chart"') == 1  # only tenure has missing values
    fig = _figure(page, "missing-chart", "tenure")
    d = result.drift[result.drift["default"] & (result.drift.column == "tenure")].merge(
        result.windows[["window", "n"]], on="window")
    share = d.missing_cur / d.n
    assert f"max {share.max():.1%}" in fig and f"latest {share.iloc[-1]:.1%}" in fig
    assert "at most 20.0% missing" in fig
    assert fig.count('class="alert"') == int((share > 0.2).sum())


def test_chart_geometry_matches_values() -> None:
    """x: windows equally spaced; y: linear in the value, so ticks and points agree."""
    ys = [0.1, 0.4, None, 0.25, 0.9, 0.05]
    svg = str(time_chart([f"d{i}" for i in range(6)], [TimeSeries("v", ys, "#000")], title="t",
                         hlines=[(0.5, "#f00", "thr")], width=500, height=200))
    pts = _points(_paths(svg, "series")[0])
    assert len(pts) == 5
    xs = [p[0] for p in pts]
    step = (xs[1] - xs[0])
    assert step == pytest.approx(500 / 6, abs=0.1)
    assert xs[2] - xs[1] == pytest.approx(2 * step, abs=0.2)  # the gap keeps its place
    finite = [y for y in ys if y is not None]
    slope = (pts[1][1] - pts[0][1]) / (finite[1] - finite[0])
    assert slope < 0  # up is larger
    for (_, py), v in zip(pts, finite, strict=True):
        assert py == pytest.approx(pts[0][1] + slope * (v - finite[0]), abs=0.15)
    hy = float(re.search(r'y1="([\d.]+)"[^>]*class="hline"', svg).group(1))
    assert hy == pytest.approx(pts[0][1] + slope * (0.5 - finite[0]), abs=0.15)
    ticks = re.findall(r'<text x="49" y="([\d.]+)" text-anchor="end" class="tick">([\d.]+)</text>', svg)
    for y, label in ticks:
        assert float(y) - 3.5 == pytest.approx(pts[0][1] + slope * (float(label) - finite[0]), abs=0.15)


def test_escaping_html_and_markdown(result: MonitorResult, page: str) -> None:
    assert XSS not in page
    assert "<script" not in page.lower()
    assert html.escape(XSS) in page  # shown as text
    assert _figure(page, "drift-chart", XSS)
    md = render_monitor_summary(result)
    assert XSS not in md and "<script" not in md


def test_credentials_never_shown() -> None:
    res = build_result(n_windows=9)
    spec = MonitorSpec.model_validate({**res.spec.model_dump(), "log": {
        "postgres": "postgresql://alice:hunter2@db.internal:5432/prod", "table": "preds"},
        "store": "postgresql://bob:s3cret@db.internal/runs"})
    res = MonitorResult(spec=spec, windows=res.windows, drift=res.drift, performance=res.performance,
                        alerts=res.alerts, extra=res.extra)
    doc = render_monitor_html(res)
    assert "hunter2" not in doc and "s3cret" not in doc and "alice" not in doc and "bob" not in doc
    assert "PostgreSQL postgresql://db.internal:5432/prod, table preds" in doc


def test_no_labels() -> None:
    res = build_result(labels=False, n_windows=12)
    doc = render_monitor_html(res)
    perf = _section(doc, "performance")
    assert "No labels: the spec names neither &#39;label&#39;" in perf
    assert "metric-chart" not in doc and "<polygon" not in perf
    assert not _paths(_section(doc, "volume"), "labelled")  # no labelled-rows line
    md = render_monitor_summary(res)
    assert "Performance: No labels" in md and "| metric |" not in md


def test_labels_not_arrived() -> None:
    res = build_result(n_windows=12)
    perf = res.performance.assign(status="too_small", value=np.nan, ci_low=np.nan, ci_high=np.nan)
    res = MonitorResult(spec=res.spec, windows=res.windows, drift=res.drift, performance=perf,
                        alerts=res.alerts)
    doc = render_monitor_html(res)
    assert "No window has a performance value yet" in _section(doc, "performance")
    assert "metric-chart" not in doc


def test_zero_windows() -> None:
    res = empty_result()
    assert res.exit_code == 0
    doc = render_monitor_html(res)
    assert "0 windows by day" in doc and "No window yet" in doc
    assert "<svg" not in doc and 'id="drift"' not in doc and 'id="latest"' not in doc
    assert "No rule fired on any window." in doc
    md = render_monitor_summary(res)
    assert "No window yet" in md and "**OK**" in md


def test_one_window_and_row_windows() -> None:
    spec = make_spec(unit="rows", reference=2, alerts=[])
    res = build_result(n_windows=3, spec=spec, shift_from=99, gap=None, missing=None)
    doc = render_monitor_html(res)
    assert "3 windows by 1000 rows" in doc
    assert "rows 2001-3000 (from 2024-01-03 00:00)" in doc  # row windows: label and first timestamp
    weekly = build_result(n_windows=10, spec=make_spec(unit="week"), shift_from=8, gap=None, missing=None)
    page = render_monitor_html(weekly)
    assert "10 windows by week" in page and "2024-W01 (from 2024-01-01) to 2024-W10 (from 2024-03-04)" in page
    assert '<td class="name when">2024-W10 (from 2024-03-04)</td>' in page
    one = build_result(n_windows=1, spec=make_spec(reference=2, alerts=[]), shift_from=99, gap=None,
                       missing=None)
    page = render_monitor_html(one)
    fig = _figure(page, "drift-chart", "amount")
    assert 'class="series-dot"' in fig  # a lone window is drawn as a dot


def test_reference_dataset_chunks() -> None:
    """A separate reference dataset: its chunks are no window of the log; they lead the x
    axis, shaded, so the band is seen next to the values that made it."""
    base = build_result(n_windows=12, shifted=None, gap=None, missing=None, too_small=None)
    chunk = {f"2024-01-{i + 1:02d}": f"reference {i + 1}/7" for i in range(7)}

    def relabel(frame: pd.DataFrame) -> pd.DataFrame:
        ref = frame["window"].isin(list(chunk))
        out = frame.assign(window=frame["window"].replace(chunk))
        out["start"] = out["start"].where(~ref, pd.NaT)
        return out

    spec = MonitorSpec.model_validate({**base.spec.model_dump(exclude={"reference"}),
                                       "reference": {"path": "ref.parquet", "chunks": 7}})
    windows = base.windows[~base.windows["window"].isin(list(chunk))]
    res = MonitorResult(spec=spec, windows=windows, drift=relabel(base.drift),
                        performance=relabel(base.performance), alerts=base.alerts)
    doc = render_monitor_html(res)
    assert "the dataset ref.parquet, split into 7 chunks in its row order (7 reference chunks" in doc
    assert "5 windows by day" in doc
    fig = _figure(doc, "drift-chart", "amount")
    assert len(_points(_paths(fig, "series")[0])) == 12
    assert fig.count('class="shade"') == 1 and "the reference: reference 1/7 to reference 7/7" in fig
    vol = _section(doc, "volume")
    assert len(_points(_paths(vol, "series")[0])) == 5  # the chunks have no log rows


def test_summary_markdown(result: MonitorResult) -> None:
    md = render_monitor_summary(result)
    lines = md.splitlines()
    assert lines[0] == "## ❌ assay monitor: **ALERT** — fraud &lt;&amp;&gt; monitor"
    new = result.alerts[result.alerts.new]
    bullets = [x for x in lines if x.startswith("- ❌") or x.startswith("- ⚠️")]
    assert len(bullets) == min(len(new), 10)
    vol = new[new.kind == "volume"]
    for r in new[new.kind == "drift"].itertuples():
        if r.target == "amount" and r.severity == "alert":
            assert any(f"{fmt(r.value)} (required ≤ {fmt(r.bound)})" in b for b in bullets)
    assert vol.empty  # the quiet day is an older window
    p = result.performance
    last = p[(p.metric == "roc_auc") & (p.status == "ok")].iloc[-1]
    assert (f"| roc\\_auc | {fmt(last.value)} [{fmt(last.ci_low)}, {fmt(last.ci_high)}] | "
            f"{int(last.n):,} | 2024-01-30 |") in md
    table = md.split("### Drift, latest window 2024-01-30: top 5 of 5 columns")[1]
    rows = [x for x in table.splitlines() if x.startswith("| ") and "statistic" not in x]
    assert rows[0].startswith("| amount | wasserstein |")
    assert "- no timestamp: 12" in md
    assert md == render_monitor_summary(result)  # same inputs, same bytes


def test_same_bytes_and_write(tmp_path: Path, result: MonitorResult) -> None:
    assert render_monitor_html(result) == render_monitor_html(build_result())
    out = result.write(tmp_path / "run")
    doc = (out / "monitor.html").read_text(encoding="utf-8")
    assert doc.startswith("<!doctype html>") and "Content-Security-Policy" in doc
    assert (out / "monitor.md").read_text(encoding="utf-8").startswith("## ❌ assay monitor")


def test_size_50_columns_365_windows() -> None:
    """The page stays small at scale (its render time, about 0.5 s, is measured in the
    benchmarks' notes, not asserted here)."""
    cols = {"score": "numeric"} | {f"num_{i:02d}": "numeric" for i in range(35)} | \
        {f"cat_{i:02d}": "categorical" for i in range(14)}
    res = build_result(n_windows=365, columns=cols, shifted="num_03", shift_from=200, gap=("num_04", 100),
                       missing="cat_01")
    doc = render_monitor_html(res)
    size = len(doc.encode())
    assert doc.count('<figure class="drift-chart"') == 50
    assert size < 5_000_000, size


# ---------------------------------------------------------------------------- browser






def test_monitor_report_in_chromium(tmp_path: Path, result: MonitorResult) -> None:
    path = tmp_path / "monitor.html"
    path.write_text(render_monitor_html(result), encoding="utf-8")
    with open_page(path) as (page, log):
        expected = 1 + 2 + result.drift.column.nunique() + 1  # volume, metrics, drift, missing
        assert assert_charts_drawn(page) == expected
        banner = page.locator(".banner.hold")
        assert banner.is_visible() and "ALERT" in banner.inner_text()
        assert page.locator("tr.alert-row").count() == len(result.alerts)
        assert page.get_by_text(XSS).first.is_visible()  # the column name, as text
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "monitor.png"), full_page=True)
    assert not log.errors, log.errors
    assert all(u.startswith("file://") for u in log.requested), log.requested


# ---------------------------------------------------------------------------- end to end


def test_report_of_a_real_monitor_run(tmp_path: Path) -> None:
    """run_monitor on a small Parquet log (a shift from day 7, a column with missing values)
    and its report: a chart per watched column with a point per analysis window, every
    alert listed, the latest window's numbers as the drift table holds them."""
    from assay.monitor import run_monitor

    rng = np.random.default_rng(3)
    rows, days = 3000, 10
    ts = pd.Timestamp("2026-03-02") + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, rows)), "s")
    day = (ts - pd.Timestamp("2026-03-02")).days.to_numpy()
    x = rng.normal(0, 1, rows) + np.where(day >= 7, 1.0, 0.0)
    p = 1 / (1 + np.exp(-x))
    cat = rng.choice(["a", "b", XSS], rows).astype(object)
    cat[::40] = None
    pd.DataFrame({"ts": ts, "x": x, "cat": cat, "p": p, "y": (rng.uniform(size=rows) < p).astype(int)}
                 ).to_parquet(tmp_path / "log.parquet")
    spec = MonitorSpec.model_validate({
        "name": "e2e", "log": {"path": str(tmp_path / "log.parquet")}, "timestamp": "ts", "prediction": "p",
        "label": "y", "window": {"every": "day"}, "reference": {"windows": 4}, "bootstrap": 200,
        "metrics": ["roc_auc"], "alerts": [{"rule": "drift", "band": 3},
                                            {"rule": "missing", "max": 0.01, "severity": "warn"}]})
    res = run_monitor(spec, tmp_path)
    doc = render_monitor_html(res)
    deciding = res.drift[res.drift["default"].eq(True)]
    assert doc.count('<figure class="drift-chart"') == deciding.column.nunique()
    found = re.findall(r'<figure class="drift-chart" data-column="([^"]*)">', doc)
    assert found[:2] == ["p", "y"]  # prediction, then label
    for col in deciding.column.unique():
        rows_ = deciding[(deciding.column == col) & (deciding.status == "ok")]
        assert len(_points(_paths(_figure(doc, "drift-chart", col), "series")[0])) == len(rows_)
    assert doc.count('<tr class="alert-row') == len(res.alerts) > 0
    assert f'data-exit-code="{res.exit_code}"' in doc
    latest = res.drift[res.drift.window == res.windows.window.iloc[-1]]
    part = _section(doc, "latest")
    for r in latest.itertuples():
        assert fmt(r.value, 4) in part
    assert _figure(doc, "missing-chart", "cat") and XSS not in doc
    assert len(_points(_paths(_figure(doc, "metric-chart", "roc_auc"), "series")[0])) == int(
        (res.performance.status == "ok").sum())
