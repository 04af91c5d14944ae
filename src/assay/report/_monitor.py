"""``monitor.html`` and ``monitor.md``: what a monitor run found, for the engineer on call.

The page follows the evaluation report's rules (see :mod:`assay.report._html`): it loads
nothing (inline CSS, inline SVG, no script, a Content-Security-Policy that forbids any
load), every user-supplied string is escaped (Jinja2 autoescape, :func:`markupsafe.escape`
inside SVG), and the same inputs give the same bytes. Its size grows with windows and
columns, never with rows; one line per chart and markers only where a window needs
attention keep 50 columns x 365 windows at about a megabyte.

Sections: the alert headline (the run's exit code: 0 nothing fired, 3 only warnings, 1 an
alert), the alerts newest first, rows per window, each metric per window with its interval
band, each monitored column's deciding drift statistic per window with its reference band
(mean + k SD over the reference windows) and fixed threshold, the missing-value share per
window, the latest window's statistics for every column, and the lineage.

Drift statistics that are tests (KS, chi-square) decide on their p-value; their charts
show the statistic with its band and mark the windows whose p-value is below the
threshold (the p-value threshold has no place on the statistic's axis). Columns are drawn
prediction first, then label, then by how far the latest window is past its line: value /
threshold for distances, log p / log threshold for tests, value / band for both.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from assay.report._html import _count, _environment, _finite
from assay.report._summary import format_p, md
from assay.report._svg import PALETTE, WORSE, Mark, TimeSeries, fmt, time_chart

if TYPE_CHECKING:
    from assay.monitor._result import MonitorResult

#: statistics that decide on their p-value (drifted: p < threshold), the rest on their value
TESTS = {"ks", "chi_square"}
#: alert rows listed on the page (newest first); the rest are in alerts.parquet
MAX_ALERT_ROWS = 200
SEVERITY_COLOR = {"alert": WORSE, "warn": "#bf8700"}
DRIFTED = "#D55E00"
BAND = "#8250df"
VALUE, LABELLED = PALETTE[0], PALETTE[2]
EXIT_MEANING = {0: "no rule fired on a window computed in this run",
                3: "only warnings fired on windows computed in this run",
                1: "an alert fired on a window computed in this run"}
BANNER = {0: ("OK", "ship"), 3: ("WARNING", "guardrails"), 1: ("ALERT", "hold")}
MARKS = {0: "✅", 3: "⚠️", 1: "❌"}
#: per window unit: the tick label of a window's start, and its full form (a window whose
#: label is not its start, such as 2026-W09 or "rows 1-1000", is shown as "label (from start)")
FORMATS = {"hour": ("%m-%d %H:00", "%Y-%m-%d %H:00"), "day": ("%Y-%m-%d", "%Y-%m-%d"),
           "week": ("%Y-%m-%d", "%Y-%m-%d"), "month": ("%Y-%m", "%Y-%m"),
           "rows": ("%m-%d %H:%M", "%Y-%m-%d %H:%M")}
_CREDENTIALS = re.compile(r"(\b[a-zA-Z][\w+.-]*://)[^/@\s]+@")


def _redact(text: str) -> str:
    """A URL without its user and password (postgresql://u:p@host/db -> postgresql://host/db)."""
    return _CREDENTIALS.sub(r"\1", text)


def _num(v: Any) -> float:
    """A float from a table cell (None, NA and non-numbers become NaN)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Runs of consecutive True values as (first, last) indices."""
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def _flag(v: Any) -> bool:
    return bool(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else False


# ---------------------------------------------------------------------------- windows


class _Windows:
    """The x axis of every chart: the log's windows in time order, preceded by reference
    chunks that are no window of the log (a separate reference dataset), their labels and
    where each window key sits."""

    def __init__(self, result: MonitorResult) -> None:
        w = result.windows.copy()
        unit = getattr(result.spec.window, "every", None) or "rows"
        self.unit = unit
        if w.empty:
            w = pd.DataFrame(columns=["window", "start", "end", "role", "n", "n_labelled", "computed"])
        w["_key"] = [str(k) for k in w["window"]]
        w["_start"] = pd.to_datetime(w["start"], utc=True, errors="coerce")  # stored windows: text
        w = w.sort_values(["_start", "_key"], kind="stable", na_position="last").reset_index(drop=True)
        known = set(w["_key"])
        chunks: list[str] = []
        for frame in (result.drift, result.performance):
            if len(frame):
                ref = frame[frame["role"] == "reference"]
                chunks += [k for k in dict.fromkeys(map(str, ref["window"])) if k not in known]
        chunks = list(dict.fromkeys(chunks))
        self.frame = w  # the log's windows only
        self.offset = len(chunks)
        keys = chunks + list(w["_key"])
        self.keys = keys
        self.index = {k: i for i, k in enumerate(keys)}
        tick_fmt, full_fmt = FORMATS[unit]
        self.ticks, self.full = list(chunks), list(chunks)
        for key, start in zip(w["_key"], w["_start"], strict=True):
            ts = None if pd.isna(start) else pd.Timestamp(start)
            if ts is None:
                self.ticks.append(key)
                self.full.append(key)
                continue
            self.ticks.append(ts.strftime(tick_fmt))
            start_text = ts.strftime(full_fmt)
            self.full.append(key if key == start_text else f"{key} (from {start_text})")
        self.reference = [True] * len(chunks) + [r == "reference" for r in w["role"]]
        self.n = [math.nan] * len(chunks) + [_num(v) for v in w["n"]]
        self.n_labelled = [math.nan] * len(chunks) + [_num(v) for v in w["n_labelled"]]
        self.roles = ["reference"] * len(chunks) + [str(r) for r in w["role"]]

    def __len__(self) -> int:
        return len(self.keys)

    def label(self, key: Any) -> str:
        i = self.index.get(str(key))
        return self.full[i] if i is not None else str(key)

    def shade(self) -> list[tuple[int, int, str]]:
        return [(a, b, f"the reference: {self.full[a]} to {self.full[b]}") for a, b in _runs(self.reference)]

    def per_window(self, frame: pd.DataFrame, column: str) -> list[float]:
        """One value per window (NaN where the frame has no row for it)."""
        out = np.full(len(self), np.nan)
        if len(frame):
            keys = frame["_key"] if "_key" in frame else frame["window"].astype(str)
            pos = keys.map(self.index).to_numpy(dtype=float, na_value=np.nan)
            vals = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            hit = np.isfinite(pos)
            out[pos[hit].astype(int)] = vals[hit]
        out[~np.isfinite(out)] = np.nan
        return out.tolist()


class _Tables:
    """The result's tables grouped once for the page: deciding drift rows per column, all
    drift rows per window, alerts per (kind, target) with their window's place."""

    def __init__(self, result: MonitorResult, win: _Windows) -> None:
        d = result.drift
        if len(d):
            d = d.assign(_key=d["window"].astype(str), _col=d["column"].astype(str))
            deciding = d[d["default"].eq(True)]
            self.deciding = {str(c): g for c, g in deciding.groupby("_col", sort=False)}
        else:
            self.deciding = {}
        self.drift = d
        self.alerts: dict[tuple[str, str | None], list[tuple[int, str, str]]] = {}
        a = result.alerts
        for kind, target, key, sev, msg, rule in zip(a["kind"], a["target"], a["window"], a["severity"],
                                                     a["message"], a["rule"], strict=True):
            i = win.index.get(str(key))
            if i is None:
                continue
            item = (i, str(sev), str(msg or rule))
            self.alerts.setdefault((str(kind), str(target)), []).append(item)
            self.alerts.setdefault((str(kind), None), []).append(item)


# ---------------------------------------------------------------------------- header


def describe_log(log: Any) -> str:
    """Where the prediction log is, in words, without credentials."""
    if getattr(log, "path", None):
        return f"{log.path}" + (f" ({log.format})" if getattr(log, "format", None) else "")
    if getattr(log, "duckdb", None):
        return f"DuckDB {log.duckdb}, table {log.table}"
    if getattr(log, "postgres", None):
        return f"PostgreSQL {_redact(str(log.postgres))}, table {log.table}"
    if getattr(log, "sql", None):
        return f"DuckDB SQL: {' '.join(str(log.sql).split())}"
    return "—"


def describe_reference(ref: Any) -> str:
    """What the monitor treats as normal, in words."""
    if getattr(ref, "windows", None) is not None:
        return f"the first {ref.windows} windows of the log"
    if getattr(ref, "until", None) is not None:
        return f"the windows starting before {ref.until}"
    if getattr(ref, "path", None) is not None:
        how = (f"split into {ref.chunks} chunks in its row order" if getattr(ref, "chunks", None)
               else "cut into the log's windows by its timestamp")
        return f"the dataset {ref.path}, {how}"
    return "—"


def _alert_counts(alerts: pd.DataFrame) -> dict[str, dict[str, int]]:
    new = alerts[alerts["new"].eq(True)] if len(alerts) else alerts
    return {scope: {sev: int((frame["severity"] == sev).sum()) if len(frame) else 0
                    for sev in ("alert", "warn")}
            for scope, frame in (("new", new), ("all", alerts))}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _headline(result: MonitorResult) -> dict[str, Any]:
    code = result.exit_code
    counts = _alert_counts(result.alerts)
    new, every = counts["new"], counts["all"]
    text = (f"{_plural(new['alert'], 'alert')}, {_plural(new['warn'], 'warning')} on windows computed "
            f"in this run")
    if (every["alert"], every["warn"]) != (new["alert"], new["warn"]):
        text += f" ({_plural(every['alert'], 'alert')}, {_plural(every['warn'], 'warning')} in all windows)"
    word, css = BANNER.get(code, ("ALERT", "hold"))
    return {"word": word, "css": css, "text": text, "exit_code": code,
            "meaning": EXIT_MEANING.get(code, ""), "counts": counts}


def _header(result: MonitorResult, win: _Windows) -> dict[str, Any]:
    spec = result.spec
    w = win.frame
    analysis = w[w["role"] == "analysis"]  # reference windows are computed on every run
    computed = {k: int((analysis["computed"] == k).sum()) for k in ("new", "recomputed", "stored")}
    roles = {k: int((w["role"] == k).sum()) for k in ("reference", "analysis")}
    small = [win.full[i] for i, n in enumerate(win.n) if _finite(n) and n < spec.min_window_rows]
    logged = win.full[win.offset:]
    span = f"{logged[0]} to {logged[-1]}" if logged else ""
    excluded = [(str(k), int(v)) for k, v in result.excluded.items() if v]
    return {"name": spec.name, "log": describe_log(spec.log), "timestamp": spec.timestamp,
            "unit": spec.window.label, "reference": describe_reference(spec.reference),
            "n_windows": len(w), "chunks": win.offset, "span": span, "computed": computed, "roles": roles,
            "rows": int(sum(n for n in win.n if _finite(n))), "small": small,
            "min_window_rows": spec.min_window_rows, "excluded": excluded,
            "excluded_total": sum(v for _, v in excluded), "task": spec.task,
            "confidence": f"{spec.confidence:.0%}"}


# ---------------------------------------------------------------------------- alerts


#: an alert's ``direction`` is what the value must satisfy; "within": the band edge it crossed
REQUIRED = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "within": "band edge"}


def _alert_value(kind: str, v: Any) -> str:
    v = _num(v)
    return _count(v) if kind == "volume" and _finite(v) else fmt(v)


def _alerts(result: MonitorResult, win: _Windows, limit: int = MAX_ALERT_ROWS) -> dict[str, Any]:
    a = result.alerts
    if a.empty:
        return {"rows": [], "new": [], "old": [], "more": 0, "total": 0}
    order = [(not _flag(r.new), -win.index.get(str(r.window), -1), r.severity != "alert", str(r.rule))
             for r in a.itertuples()]
    ranked = sorted(range(len(a)), key=lambda i: order[i])
    rows = []
    for r in (a.iloc[i] for i in ranked[:limit]):
        kind = str(r["kind"])
        bound = _num(r["bound"])
        rows.append({"rule": r["rule"], "kind": kind, "severity": r["severity"], "new": _flag(r["new"]),
                     "window": win.label(r["window"]), "target": r["target"],
                     "statistic": r["statistic"] or "", "value": _alert_value(kind, r["value"]),
                     "bound": f"{REQUIRED.get(str(r['direction']), r['direction'] or '')} "
                              f"{_alert_value(kind, bound)}".strip()
                     if _finite(bound) else "",
                     "message": r["message"] or ""})
    return {"rows": rows, "new": [r for r in rows if r["new"]], "old": [r for r in rows if not r["new"]],
            "more": max(len(ranked) - limit, 0), "total": len(ranked)}


def _marks(tables: _Tables, win: _Windows, kind: str, target: str | None,
           ys: list[float]) -> tuple[list[Mark], set[int]]:
    """Alert markers of one chart: rules of ``kind`` on ``target`` (None: any), placed on
    the chart's own line, the worst severity per window."""
    by_window: dict[int, list[tuple[int, str, str]]] = {}
    for item in tables.alerts.get((kind, target), []):
        by_window.setdefault(item[0], []).append(item)
    marks = []
    for i, items in sorted(by_window.items()):
        sev = "alert" if any(s == "alert" for _, s, _ in items) else "warn"
        tip = f"{win.full[i]}: " + "; ".join(f"{s}: {m}" for _, s, m in items)
        marks.append(Mark(i, ys[i], SEVERITY_COLOR.get(sev, WORSE), tip))
    return marks, set(by_window)


def _rules(spec: Any, kind: str) -> list[Any]:
    return [r for r in spec.alerts if getattr(r, "rule", None) == kind]


def _reference_band(values: list[float], flags: list[bool], k: float) -> tuple[float, float, int] | None:
    """Mean -/+ k SD (n - 1) of a series over the reference windows, as the page draws a
    ``band`` rule's bounds (None with fewer than two reference values)."""
    ref = [v for v, f in zip(values, flags, strict=True) if f and _finite(v)]
    if len(ref) < 2:
        return None
    mean = sum(ref) / len(ref)
    sd = math.sqrt(sum((v - mean) ** 2 for v in ref) / (len(ref) - 1))
    return mean - k * sd, mean + k * sd, len(ref)


# ---------------------------------------------------------------------------- volume


def _volume(result: MonitorResult, win: _Windows, tables: _Tables) -> dict[str, Any] | None:
    if win.frame.empty:
        return None
    spec = result.spec
    n = win.n
    labelled = win.n_labelled
    has_labels = spec.label_column is not None or any(_finite(v) and v > 0 for v in labelled)
    tips = [f"{win.full[i]}: {_count(v)} rows" + (f", {_count(labelled[i])} labelled"
                                                  if has_labels and _finite(labelled[i]) else "")
            for i, v in enumerate(n)]
    series = [TimeSeries("rows", n, VALUE, tips=tips)]
    if has_labels:
        series.append(TimeSeries("labelled rows", labelled, LABELLED, dash="5 3", role="labelled"))
    hlines: list[tuple[float, str, str]] = []
    notes = []
    for rule in _rules(spec, "volume"):
        col = SEVERITY_COLOR.get(rule.severity, WORSE)
        if rule.min_rows is not None:
            hlines.append((float(rule.min_rows), col, f"{rule.label}: at least {rule.min_rows:,} rows"))
        if rule.max_rows is not None:
            hlines.append((float(rule.max_rows), col, f"{rule.label}: at most {rule.max_rows:,} rows"))
        if rule.band is not None:
            band = _reference_band(n, win.reference, rule.band)
            if band is not None:
                for b in band[:2]:
                    hlines.append((b, col, f"{rule.label}: reference mean ± {rule.band:g} SD"))
                notes.append(f"{rule.label}: reference mean ± {rule.band:g} SD = [{_count(band[0])}, "
                             f"{_count(band[1])}] over {band[2]} reference windows")
    marks, _ = _marks(tables, win, "volume", None, n)
    svg = time_chart(win.ticks, series, title="Rows per window", y_label="rows", hlines=hlines,
                     shade=win.shade(), marks=marks, width=720, height=170, ticks=7, zero=True)
    legend = [{"name": s.name, "color": s.color, "dash": bool(s.dash)} for s in series]
    return {"svg": svg, "legend": legend, "notes": notes}


# ---------------------------------------------------------------------------- performance


def _performance(result: MonitorResult, win: _Windows, tables: _Tables,
                 charts: bool = True) -> dict[str, Any]:
    """Per metric: the chart (value per window with its interval band, rule bounds, alert
    markers) and the latest window with a value; or the reason there is none."""
    spec = result.spec
    p = result.performance
    if spec.label_column is None:
        return {"reason": "No labels: the spec names neither 'label' (a column of the log) nor 'labels' "
                          "(labels joined later on the id), so no performance metric is computed. Drift "
                          "of the inputs and of the prediction is the signal this monitor has.",
                "metrics": [], "latest": []}
    if p.empty or not (p["status"] == "ok").any():
        labelled = int(sum(v for v in win.n_labelled if _finite(v)))
        return {"reason": f"No window has a performance value yet ({labelled:,} labelled rows in all "
                          "windows): labels may not have arrived, or each window has fewer labelled "
                          f"rows than min_window_rows={spec.min_window_rows}.",
                "metrics": [], "latest": []}
    p = p.assign(_key=p["window"].astype(str))
    order = list(dict.fromkeys([*(spec.metrics or []), *p["metric"]]))
    groups = {str(m): g for m, g in p.groupby("metric", sort=False)}
    metrics, latest = [], []
    for metric in [m for m in order if m in groups]:
        rows = groups[metric]
        ok = rows[rows["status"] == "ok"]
        value, low, high, n = (win.per_window(ok, c) for c in ("value", "ci_low", "ci_high", "n"))
        method = str(ok["method"].iloc[-1]) if len(ok) else ""
        last = max((i for i, v in enumerate(value) if _finite(v)), default=None)
        if last is not None:
            latest.append({"metric": metric, "window": win.full[last], "value": fmt(value[last]),
                           "ci": f"[{fmt(low[last])}, {fmt(high[last])}]" if _finite(low[last], high[last])
                           else "", "n": n[last], "method": method})
        if not charts:
            continue
        tips = [f"{win.full[i]}: {metric} {fmt(v)}"
                + (f" [{fmt(low[i])}, {fmt(high[i])}]" if _finite(low[i], high[i]) else "")
                + (f", n={_count(n[i])}" if _finite(n[i]) else "")
                for i, v in enumerate(value)]
        hlines: list[tuple[float, str, str]] = []
        rules = []
        for rule in _rules(spec, "performance"):
            if rule.metric != metric:
                continue
            col = SEVERITY_COLOR.get(rule.severity, WORSE)
            judged = {"value": "its value", "ci_low": "its interval's lower end",
                      "ci_high": "its interval's upper end"}[rule.judge]
            if rule.min is not None:
                hlines.append((rule.min, col, f"{rule.label}: min {fmt(rule.min)}"))
            if rule.max is not None:
                hlines.append((rule.max, col, f"{rule.label}: max {fmt(rule.max)}"))
            text = f"{rule.label} ({rule.severity}; a window is judged on {judged})"
            if rule.band is not None:
                band = _reference_band(value, win.reference, rule.band)
                if band is not None:
                    hlines += [(b, col, f"{rule.label}: reference mean ± {rule.band:g} SD") for b in band[:2]]
                    text += (f"; the band, judged on the value: reference mean ± {rule.band:g} SD = "
                             f"[{fmt(band[0])}, {fmt(band[1])}] over {band[2]} reference windows")
            rules.append(text)
        marks, _ = _marks(tables, win, "performance", metric, value)
        svg = time_chart(win.ticks, [TimeSeries(metric, value, VALUE, low=low, high=high, tips=tips)],
                         title=f"{metric} per window", y_label=metric, hlines=hlines, shade=win.shade(),
                         marks=marks, width=560, height=170, ticks=6)
        gaps: dict[str, list[str]] = {}
        for key, status in zip(rows["window"], rows["status"], strict=True):
            if status != "ok":
                gaps.setdefault(str(status).replace("_", " "), []).append(win.label(key))
        gap_text = "; ".join(f"{s}: {len(ws)} window(s) ({', '.join(ws[:3])}{', …' if len(ws) > 3 else ''})"
                             for s, ws in gaps.items())
        metrics.append({"metric": metric, "svg": svg, "rules": rules, "gaps": gap_text, "method": method})
    return {"reason": "", "metrics": metrics, "latest": latest}


# ---------------------------------------------------------------------------- drift


def _score(statistic: str, value: float, p_value: float, threshold: float, band: float) -> float:
    """How far a window is past its line (1 = on it): value / threshold for distances,
    log p / log threshold for tests, value / band for both; the larger."""
    out = []
    if statistic in TESTS:
        if _finite(p_value, threshold) and 0 < threshold < 1:
            out.append(math.log(max(p_value, 1e-300)) / math.log(threshold))
    elif _finite(value, threshold) and threshold > 0:
        out.append(value / threshold)
    if _finite(value, band) and band > 0:
        out.append(value / band)
    return max(out) if out else -math.inf


def _column_order(result: MonitorResult, win: _Windows,
                  tables: _Tables) -> tuple[list[str], dict[str, float]]:
    """Prediction, then label, then the columns by their latest window's score (largest first)."""
    scores: dict[str, float] = {}
    for col, rows in tables.deciding.items():
        ok = rows[(rows["status"] == "ok") & rows["_key"].isin(win.index)]
        values = pd.to_numeric(ok["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = ok[np.isfinite(values)]
        if ok.empty:
            scores[col] = -math.inf
            continue
        r = ok.iloc[int(np.argmax(ok["_key"].map(win.index).to_numpy()))]
        scores[col] = _score(str(r["statistic"]), _num(r["value"]), _num(r["p_value"]), _num(r["threshold"]),
                             _num(r["band_high"]))
    first = [c for c in (result.spec.prediction, result.spec.label_column) if c is not None and c in scores]
    rest = sorted((c for c in scores if c not in first), key=lambda c: (-scores[c], c))
    return first + rest, scores


def _drift_chart(result: MonitorResult, win: _Windows, tables: _Tables, col: str) -> dict[str, Any]:
    rows = tables.deciding[col]
    statistic = str(rows["statistic"].iloc[-1])
    kind = str(rows["kind"].iloc[-1])
    ok = rows[rows["status"] == "ok"]  # a too-small or undefined window leaves a gap
    value = win.per_window(ok, "value")
    band = win.per_window(rows, "band_high")
    threshold = win.per_window(rows, "threshold")
    flags = win.per_window(ok[ok["drifted"].eq(True)], "drifted")
    drifted = [_finite(f) for f in flags]
    series = [TimeSeries(f"{col}: {statistic}", value, VALUE)]
    if any(_finite(b) for b in band):
        series.append(TimeSeries("reference band (mean + k SD over the reference windows)", band, BAND,
                                 dash="4 3", role="band", width=1.5))
    test = statistic in TESTS
    thresholds = sorted({round(t, 12) for t in threshold if _finite(t)})
    hlines: list[tuple[float, str, str]] = []
    if not test:
        if len(thresholds) == 1:
            hlines.append((thresholds[0], WORSE, f"threshold {fmt(thresholds[0])}"))
        elif thresholds:
            series.append(TimeSeries("threshold", threshold, WORSE, dash="5 3", role="threshold", width=1.5))
    ref_values = [v for v, f in zip(value, win.reference, strict=True) if f and _finite(v)]
    for rule in _rules(result.spec, "drift"):
        applies = rule.columns == "all" or col in rule.columns
        if not applies or rule.statistic not in ("default", statistic):
            continue
        colour = SEVERITY_COLOR.get(rule.severity, WORSE)
        if rule.max is not None:
            hlines.append((rule.max, colour, f"{rule.label}"))
            continue
        # a band rule whose k differs from the table's band gets its own line
        own = _reference_band(ref_values, [True] * len(ref_values), rule.k)
        if own is not None and not any(_finite(b) and abs(b - own[1]) <= 1e-9 * max(1.0, abs(b))
                                       for b in band):
            hlines.append((own[1], colour, f"{rule.label}: {fmt(own[1])}"))
    marks, alerted = _marks(tables, win, "drift", col, value)
    for i, d in enumerate(drifted):
        if d and i not in alerted:
            marks.append(Mark(i, value[i], DRIFTED, f"{win.full[i]}: past the threshold", filled=False))
    svg = time_chart(win.ticks, series, title=f"Drift of {col} ({statistic})", y_label=statistic,
                     hlines=hlines, shade=win.shade(), marks=marks, width=360, height=130, ticks=4,
                     zero=True)
    last = max((i for i, v in enumerate(value) if _finite(v)), default=None)
    caption = ""
    if last is not None:
        caption = f"latest {fmt(value[last])} ({win.full[last]})"
        if _finite(band[last]):
            caption += f" · band {fmt(band[last])}"
        if thresholds:
            caption += (f" · drifted when p < {fmt(thresholds[-1])} (hollow circles)" if test
                        else f" · threshold {fmt(thresholds[-1])}")
    return {"column": col, "statistic": statistic, "kind": kind, "svg": svg, "caption": caption,
            "alerts": len(alerted), "drifted": sum(drifted), "not_ok": int((rows["status"] != "ok").sum()),
            "role": "prediction" if col == result.spec.prediction else
            "label" if col == result.spec.label_column else ""}


def _drift(result: MonitorResult, win: _Windows, tables: _Tables,
           charts: bool = True) -> dict[str, Any] | None:
    if not tables.deciding or not len(win):
        return None
    order, scores = _column_order(result, win, tables)
    drawn = [_drift_chart(result, win, tables, col) for col in order] if charts else []
    return {"charts": drawn, "order": order, "scores": scores}


def _latest(win: _Windows, tables: _Tables, order: list[str]) -> dict[str, Any] | None:
    """Every statistic of every column in the latest window with drift rows."""
    d = tables.drift
    if d.empty:
        return None
    present = [i for i in (win.index.get(k) for k in d["_key"].unique()) if i is not None]
    if not present:
        return None
    i = max(present)
    rows = d[d["_key"] == win.keys[i]]
    by_col = {str(c): g for c, g in rows.groupby("_col", sort=False)}
    columns = []
    for col in order + [c for c in by_col if c not in order]:
        stats = by_col.get(col)
        if stats is None:
            continue
        missing = _num(stats["missing_cur"].iloc[0])
        total = missing + _num(stats["n_cur"].iloc[0])
        items = []
        for r in stats.itertuples():
            items.append({
                "statistic": r.statistic, "default": _flag(r.default), "value": fmt(_num(r.value), 4),
                "p": format_p(_num(r.p_value)), "threshold": fmt(_num(r.threshold), 4),
                "band": fmt(_num(r.band_high), 4), "drifted": _flag(r.drifted),
                "error_bound": fmt(_num(r.error_bound), 4) if _finite(_num(r.error_bound)) else "",
                "method": str(r.method or "").split(";")[0], "method_full": r.method or "",
                "status": r.status, "note": r.note or "",
                "decides_on": "p-value" if r.statistic in TESTS else "value"})
        columns.append({"column": col, "kind": stats["kind"].iloc[0], "stats": items,
                        "n_cur": _num(stats["n_cur"].iloc[0]),
                        "missing": f"{missing / total:.1%}" if _finite(missing, total) and total > 0
                        else "—"})
    return {"window": win.full[i], "role": win.roles[i], "n": win.n[i], "columns": columns}


# ---------------------------------------------------------------------------- missing values


def _missing(result: MonitorResult, win: _Windows, tables: _Tables, order: list[str]) -> list[dict[str, Any]]:
    """Missing share per window (missing / (present + missing), as the missing rule counts)
    of each column with any missing value."""
    out = []
    for col in order:
        rows = tables.deciding[col]
        counts = win.per_window(rows, "missing_cur")
        if not any(_finite(c) and c > 0 for c in counts):
            continue
        present = win.per_window(rows, "n_cur")
        totals = [c + p if _finite(c, p) else n for c, p, n in zip(counts, present, win.n, strict=True)]
        share = [c / t if _finite(c, t) and t > 0 else math.nan for c, t in zip(counts, totals, strict=True)]
        hlines = []
        for rule in _rules(result.spec, "missing"):
            if rule.columns == "all" or col in rule.columns:
                hlines.append((rule.max, SEVERITY_COLOR.get(rule.severity, WORSE),
                               f"{rule.label}: at most {rule.max:.1%} missing"))
        marks, _ = _marks(tables, win, "missing", col, share)
        svg = time_chart(win.ticks, [TimeSeries(f"{col}: missing share", share, VALUE)],
                         title=f"Missing share of {col}", y_label="missing share", hlines=hlines,
                         shade=win.shade(), marks=marks, width=360, height=110, ticks=4, zero=True)
        finite = [s for s in share if _finite(s)]
        out.append({"column": col, "svg": svg, "max": f"{max(finite):.1%}" if finite else "—",
                    "latest": f"{finite[-1]:.1%}" if finite else "—"})
    return out


# ---------------------------------------------------------------------------- lineage


def _lineage(result: MonitorResult) -> dict[str, Any]:
    spec = result.spec
    settings: list[tuple[str, str]] = []
    for k, v in result.extra.items():
        if isinstance(v, dict):
            settings += [(f"{k}.{k2}", _redact(str(v2))[:300]) for k2, v2 in v.items()]
        else:
            settings.append((str(k), _redact(str(v))[:300]))
    spec_yaml = ""
    if hasattr(spec, "model_dump"):
        # where windows are stored is no part of what was monitored, and a URL names hosts
        shown = spec.model_dump(mode="json", exclude={"store"}, exclude_none=True)
        spec_yaml = _redact(yaml.safe_dump(shown, sort_keys=False))
    return {"settings": settings, "spec_yaml": spec_yaml}


# ---------------------------------------------------------------------------- page


def render_monitor_html(result: MonitorResult) -> str:
    """The self-contained HTML trend report of one monitor run (no network needed)."""
    from assay import __version__

    win = _Windows(result)
    tables = _Tables(result, win)
    drift = _drift(result, win, tables)
    order = drift["order"] if drift else []
    missing = _missing(result, win, tables, order)
    latest = _latest(win, tables, order)
    nav = [("alerts", "Alerts"), ("volume", "Volume"), ("performance", "Performance")]
    if drift:
        nav.append(("drift", "Drift"))
    if missing:
        nav.append(("missing", "Missing values"))
    if latest:
        nav.append(("latest", "Latest window"))
    nav.append(("lineage", "Lineage"))
    context = {
        "header": _header(result, win), "headline": _headline(result), "nav": nav,
        "alerts": _alerts(result, win), "volume": _volume(result, win, tables),
        "performance": _performance(result, win, tables), "drift": drift, "missing": missing,
        "latest": latest, "lineage": _lineage(result),
        "colors": {"value": VALUE, "labelled": LABELLED, "band": BAND, "threshold": WORSE,
                   "drifted": DRIFTED, "alert": SEVERITY_COLOR["alert"], "warn": SEVERITY_COLOR["warn"]},
        "version": __version__,
    }
    return _environment().get_template("monitor.html.j2").render(**context)


# ---------------------------------------------------------------------------- summary


def render_monitor_summary(result: MonitorResult, *, alerts_limit: int = 10, columns_limit: int = 5) -> str:
    """Markdown for a pull request, an issue or a chat message: the headline, the new
    alerts with their numbers, and the latest window (metrics with intervals, the columns
    drifting most). Every user-supplied string is escaped."""
    from assay import __version__

    win = _Windows(result)
    tables = _Tables(result, win)
    head = _header(result, win)
    line = _headline(result)
    code = line["exit_code"]
    out = [f"## {MARKS.get(code, '❌')} assay monitor: **{line['word']}** — {md(head['name'])}", "",
           f"{line['text']} · exit code {code} ({line['meaning']})", ""]
    if win.frame.empty:
        out += ["No window yet: the log has no rows in any window.", ""]
    else:
        c, r = head["computed"], head["roles"]
        out.append(f"{len(win.frame):,} windows by {md(head['unit'])} ({md(head['span'])}; {r['reference']} "
                   f"reference, {r['analysis']} analysis: {c['new'] + c['recomputed']} computed in this "
                   f"run, {c['stored']} read from the store) · log: {md(head['log'])}")
        out.append("")
    a = result.alerts
    n_new = int(a["new"].eq(True).sum()) if len(a) else 0
    if n_new:
        out += ["### New alerts", ""]
        rows = [x for x in _alerts(result, win, limit=alerts_limit)["rows"] if x["new"]]  # new first
        for x in rows[:alerts_limit]:
            mark = "❌" if x["severity"] == "alert" else "⚠️"
            stat = f" {md(x['statistic'])}" if x["statistic"] else ""
            out.append(f"- {mark} **{md(x['rule'])}** · {md(x['window'])} · {md(x['target'])}{stat} "
                       f"{x['value']} (required {md(x['bound'])}) — {md(x['message'])}")
        if n_new > alerts_limit:
            out.append(f"- … and {n_new - alerts_limit} more (alerts.parquet)")
        out.append("")
    perf: dict[str, Any] = {"latest": [], "reason": ""}
    if not win.frame.empty:
        perf = _performance(result, win, tables, charts=False)
    if perf["latest"]:
        out += ["### Performance (latest labelled window)", "",
                f"| metric | value [{head['confidence']} CI] | n | window |", "|---|---|---|---|"]
        for m in perf["latest"]:
            out.append(f"| {md(m['metric'])} | {m['value']} {m['ci']} | {_count(m['n'])} | "
                       f"{md(m['window'])} |")
        out.append("")
    elif perf["reason"]:
        out += [f"Performance: {md(perf['reason'])}", ""]
    drift = _drift(result, win, tables, charts=False)
    latest = _latest(win, tables, drift["order"]) if drift else None
    if latest and drift:
        ranked = sorted(latest["columns"], key=lambda c: -drift["scores"].get(c["column"], -math.inf))
        out += [f"### Drift, latest window {md(latest['window'])}: top {min(columns_limit, len(ranked))} "
                f"of {len(ranked)} columns", "",
                "| column | statistic | value | p | threshold | reference band | drifted |",
                "|---|---|---|---|---|---|---|"]
        for col in ranked[:columns_limit]:
            s = next((x for x in col["stats"] if x["default"]), col["stats"][0])
            out.append(f"| {md(col['column'])} | {md(s['statistic'])} | {s['value']} | {s['p']} | "
                       f"{s['threshold']} | {s['band']} | {'yes' if s['drifted'] else 'no'} |")
        out.append("")
    out += ["### Excluded rows", ""]
    out += [f"- {md(k)}: {v:,}" for k, v in head["excluded"]] or ["None."]
    out += ["", f"<sub>assay {__version__} · full results: windows.parquet, drift.parquet, "
                "performance.parquet, alerts.parquet, monitor.html</sub>", ""]
    return "\n".join(out)
