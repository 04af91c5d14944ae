"""The report's "Robustness" section: each model under perturbations, behavioural tests,
model errors, latency and the models assay ran.

Reads only the stress run's tables in ``result.analyses`` (``robustness``, ``behaviour``,
``latency``, ``prediction_errors``), its example rows in
``result.analysis_charts["robustness"]`` and ``result.extra["adapters"]``. Per model and
perturbation it shows the key metric (the first stress metric) clean and perturbed with
the paired interval of the change, coloured when the interval excludes zero; the flip
rate and the error rate with their Wilson intervals; the slices whose key metric got
worst (status ok, bad direction, top :data:`MAX_SLICES`); and the rows whose prediction
moved most. Charts are the report's inline-SVG forest plots; every string reaches the
page through the template's autoescape (or :func:`markupsafe.escape` inside SVG).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.report._summary import format_p, short_method
from assay.report._svg import BETTER, UNCLEAR, WORSE, ForestRow, color, delta_forest_plot, fmt, forest_plot

if TYPE_CHECKING:
    from assay.results import EvaluationResult

FLIP_RATE, ERROR_RATE = "flip_rate", "error_rate"
RATES = (FLIP_RATE, ERROR_RATE)
#: slices listed per perturbation under "per-slice degradation"
MAX_SLICES = 5
#: perturbed columns shown per example table (the rest are counted)
MAX_EXAMPLE_COLUMNS = 8
LATENCY = (("latency_p50_ms", "p50 (ms)"), ("latency_p95_ms", "p95 (ms)"),
           ("latency_mean_ms", "mean (ms)"), ("throughput_rows_per_s", "throughput (rows/s)"))
TABLES = ("robustness", "behaviour", "latency", "prediction_errors")


def _finite(*vs: Any) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in vs)


def _int(v: Any) -> int:
    return int(v) if _finite(v) else 0


def _missing(v: Any) -> bool:
    """None, NaN or pandas' NA (a scalar cell)."""
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):  # a list or array: not a missing scalar
        return False


def _text(v: Any) -> str:
    """A table cell as text ("" for missing)."""
    return "" if _missing(v) else str(v)


def _flag(v: Any) -> bool | None:
    """A boolean cell (numpy or Python); None when missing."""
    return None if _missing(v) else bool(v)


def pct(v: Any) -> str:
    """A share as a percentage for people ("4.1%", "0.02%", "—")."""
    if not _finite(v):
        return "—"
    p = float(v) * 100
    return f"{p:.2g}%" if 0 < abs(p) < 0.1 else f"{p:.1f}%"


def pct_ci(low: Any, high: Any) -> str:
    return f"[{pct(low)}, {pct(high)}]" if _finite(low, high) else ""


def per_second(v: Any) -> str:
    """A throughput: whole rows per second from 100 up, else three decimals."""
    return f"{v:,.0f}" if _finite(v) and abs(v) >= 100 else fmt(v)


def badness(delta: float, higher_is_better: Any) -> float:
    """How much worse a change is (positive = worse): −delta for a higher-is-better metric."""
    return -float(delta) if bool(higher_is_better) else float(delta)


def tone(r: Any) -> str:
    """"worse" / "better" when the change's interval excludes zero on that side, else ""."""
    lo, hi = r.ci_low, r.ci_high
    if r.status != "ok" or not _finite(r.delta, lo, hi) or not (lo > 0 or hi < 0):
        return ""
    return "worse" if badness(r.delta, r.higher_is_better) > 0 else "better"


def key_metric(result: EvaluationResult, table: pd.DataFrame) -> str | None:
    """The first stress metric present in the table (the spec's order, else the table's)."""
    present = [m for m in dict.fromkeys(table.metric) if m not in RATES]
    wanted = list(getattr(getattr(result.spec, "stress", None), "metrics", None) or [])
    return next((m for m in [*wanted, *present] if m in present), None)


class _Fmt:
    """The page's number helpers (from ``_html``, imported late: it imports this module)."""

    def __init__(self) -> None:
        from assay.report._html import _ci, _count

        self.ci: Callable[..., str] = _ci
        self.count: Callable[[Any], str] = _count


# ---------------------------------------------------------------------------- cells


def _delta_cell(r: Any, f: _Fmt) -> dict[str, Any]:
    if r is None:
        return {"text": "—", "ci": "", "tone": "", "title": "", "status": ""}
    if r.status != "ok":
        return {"text": str(r.status).replace("_", " "), "ci": "", "tone": "", "status": r.status,
                "title": _text(r.note)}
    title = f"p adj. {format_p(r.p_adjusted)} · {short_method(_text(r.method))}"
    if _text(r.note):
        title += f" · {r.note}"
    return {"text": fmt(r.delta, sign=True), "ci": f.ci(r.ci_low, r.ci_high, sign=True), "tone": tone(r),
            "title": title, "status": "ok"}


def _rate_cell(r: Any, what: str) -> dict[str, Any]:
    if r is None:
        return {"text": "—", "ci": "", "bad": False, "title": "", "status": ""}
    if r.status != "ok":
        return {"text": str(r.status).replace("_", " "), "ci": "", "bad": False, "status": r.status,
                "title": _text(r.note)}
    errored = _int(r.errored_rows) if what == ERROR_RATE else 0
    if what == ERROR_RATE:
        title = (f"the model failed on {errored:,} of {_int(r.n):,} rows" if errored
                 else f"no error on {_int(r.n):,} rows")
    else:
        title = f"{_text(r.method)}; n={_int(r.n):,}" + (f" · {r.note}" if _text(r.note) else "")
    return {"text": pct(r.delta), "ci": pct_ci(r.ci_low, r.ci_high), "bad": errored > 0,
            "title": title, "status": "ok", "errored": errored}


def _values(r: Any) -> str:
    if r is None or not _finite(r.clean_value, r.perturbed_value):
        return "—"
    return f"{fmt(r.clean_value)} → {fmt(r.perturbed_value)}"


# ---------------------------------------------------------------------------- per model


def _index(t: pd.DataFrame) -> dict[tuple[str, str, str], Any]:
    """(perturbation, slice, metric) -> row."""
    return {(r.perturbation, r.slice, r.metric): r for r in t.itertuples(index=False)}


def _headline(key: str, rows: list[Any], flips: list[Any], errs: list[Any], f: _Fmt) -> dict[str, Any]:
    ok = [r for r in rows if r.status == "ok" and _finite(r.delta)]
    drop = None
    if ok:
        worst = max(ok, key=lambda r: badness(r.delta, r.higher_is_better))
        drop = {"metric": key, "perturbation": worst.perturbation, "clean_perturbed": _values(worst),
                "delta": fmt(worst.delta, sign=True), "ci": f.ci(worst.ci_low, worst.ci_high, sign=True),
                "tone": tone(worst), "worse": badness(worst.delta, worst.higher_is_better) > 0}
    flip = None
    ok_flips = [r for r in flips if r.status == "ok" and _finite(r.delta)]
    if ok_flips:
        top = max(ok_flips, key=lambda r: r.delta)
        flip = {"perturbation": top.perturbation, "rate": pct(top.delta),
                "ci": pct_ci(top.ci_low, top.ci_high)}
    failing = [{"perturbation": r.perturbation, "rows": f.count(_int(r.errored_rows))}
               for r in errs if _int(r.errored_rows) > 0]
    return {"drop": drop, "flip": flip, "errors": failing, "has_key": bool(rows)}


def _forest(model: str, key: str, rows: list[Any], f: _Fmt) -> Any:
    frows = []
    for r in rows:
        if r.status != "ok" or not _finite(r.delta):
            continue
        tip = (f"{r.perturbation}: {key} {_values(r)}, change {fmt(r.delta, sign=True)} "
               f"{f.ci(r.ci_low, r.ci_high, sign=True)}, p adj. {format_p(r.p_adjusted)}, n={f.count(r.n)}")
        frows.append(ForestRow(str(r.perturbation), float(r.delta), r.ci_low, r.ci_high,
                               {"better": BETTER, "worse": WORSE}.get(tone(r), UNCLEAR), tip))
    if not frows:
        return None
    return delta_forest_plot(frows, title=f"{key} under each perturbation: {model}",
                             x_label=f"{key} change (perturbed − clean)")


def _flip_forest(model: str, flips: list[Any], colour: str, f: _Fmt) -> Any:
    frows = [ForestRow(str(r.perturbation), float(r.delta), r.ci_low, r.ci_high, colour,
                       f"{r.perturbation}: flip rate {pct(r.delta)} {pct_ci(r.ci_low, r.ci_high)}, "
                       f"n={f.count(r.n)}")
             for r in flips if r.status == "ok" and _finite(r.delta)]
    if not frows:
        return None
    return forest_plot(frows, [], title=f"Flip rate under each perturbation: {model}",
                       x_label="share of rows whose decision changed")


def _slices(key: str, t: pd.DataFrame, idx: dict[tuple[str, str, str], Any],
            f: _Fmt) -> list[dict[str, Any]]:
    out = []
    per = t[(t.metric == key) & (t.slice != "overall")]
    for p in dict.fromkeys(per.perturbation):
        rows = per[per.perturbation == p]
        ok = [r for r in rows.itertuples(index=False) if r.status == "ok" and _finite(r.delta)]
        bad = sorted((r for r in ok if badness(r.delta, r.higher_is_better) > 0),
                     key=lambda r: (-badness(r.delta, r.higher_is_better), str(r.slice)))
        hidden = [{"slice": r.slice, "status": str(r.status).replace("_", " "), "n": f.count(r.n)}
                  for r in rows.itertuples(index=False) if r.status != "ok"]
        shown = []
        for r in bad[:MAX_SLICES]:
            flip = idx.get((p, r.slice, FLIP_RATE))
            err = idx.get((p, r.slice, ERROR_RATE))
            shown.append({"slice": r.slice, "n": f.count(r.n), "clean_perturbed": _values(r),
                          "delta": _delta_cell(r, f), "p": format_p(r.p_adjusted),
                          "flip": _rate_cell(flip, FLIP_RATE), "error": _rate_cell(err, ERROR_RATE)})
        out.append({"perturbation": p, "rows": shown, "worse": len(bad), "ok": len(ok), "hidden": hidden})
    return out


def _example_rows(items: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    rows = []
    for it in items:
        before, after = it.get("before") or {}, it.get("after") or {}
        cells = [{"before": _text(before.get(c)), "after": _text(after.get(c)),
                  "changed": _text(before.get(c)) != _text(after.get(c))} for c in columns]
        change = it.get("change")
        rows.append({"row": _text(it.get("row")), "label": _text(it.get("label")), "cells": cells,
                     "clean": _text(it.get("clean")), "perturbed": _text(it.get("perturbed")),
                     "change": fmt(change) if _finite(change) else "—", "error": bool(it.get("error"))})
    return rows


def _examples(entry: dict[str, Any]) -> dict[str, Any]:
    columns = [str(c) for c in entry.get("columns") or []]
    shown = columns[:MAX_EXAMPLE_COLUMNS]
    return {"columns": shown, "more_columns": len(columns) - len(shown),
            "rows": _example_rows(list(entry.get("rows") or []), shown)}


def _model(model: str, t: pd.DataFrame, key: str | None, colour: str,
           charts: dict[str, Any], f: _Fmt) -> dict[str, Any]:
    idx = _index(t)
    overall = t[t.slice == "overall"]
    perts = list(dict.fromkeys(overall.perturbation))
    others = [m for m in dict.fromkeys(overall.metric) if m not in RATES and m != key]
    rows, key_rows, flips, errs = [], [], [], []
    for p in perts:
        g = overall[overall.perturbation == p]
        first = g.iloc[0]
        k = idx.get((p, "overall", key)) if key else None
        flip, err = idx.get((p, "overall", FLIP_RATE)), idx.get((p, "overall", ERROR_RATE))
        key_rows += [k] if k is not None else []
        flips += [flip] if flip is not None else []
        errs += [err] if err is not None else []
        notes = list(dict.fromkeys(n for n in (_text(x) for x in g.note) if n))
        shift = _text(first.kind) == "shift" or (flip is None and err is None)
        total = err.n if err is not None else (k.n if k is not None else math.nan)
        rows.append({
            "perturbation": p, "kind": _text(first.kind), "shift": shift,
            "changed": f.count(_int(first.changed_rows)), "total": f.count(total),
            "clean_perturbed": _values(k), "delta": _delta_cell(k, f),
            "others": [_delta_cell(idx.get((p, "overall", m)), f) for m in others],
            "flip": _rate_cell(flip, FLIP_RATE), "error": _rate_cell(err, ERROR_RATE),
            "note": "; ".join(notes)})
    hidden = [{"perturbation": r.perturbation, "status": str(r.status).replace("_", " "),
               "note": _text(r.note)} for r in key_rows if r.status != "ok"]
    examples = [{"perturbation": e.get("perturbation", ""), **_examples(e)}
                for e in charts.get("perturbations") or [] if e.get("model") == model and e.get("rows")]
    return {"model": model, "color": colour, "key": key, "others": others, "rows": rows,
            "headline": _headline(key or "", key_rows, flips, errs, f),
            "forest": _forest(model, key, key_rows, f) if key else None, "hidden": hidden,
            "flip_forest": _flip_forest(model, flips, colour, f),
            "slices": _slices(key, t, idx, f) if key else [], "examples": examples}


# ---------------------------------------------------------------------------- other tables


def _behaviour(table: pd.DataFrame | None, charts: dict[str, Any], f: _Fmt) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    examples = {(e.get("model"), e.get("test")): e for e in charts.get("tests") or []}
    out = []
    for r in table.itertuples(index=False):
        passed = _flag(r.passed)
        status = "skipped" if passed is None else "pass" if passed else "fail"
        ex = examples.get((r.model, r.test))
        out.append({
            "model": r.model, "test": r.test, "kind": _text(r.kind), "status": status,
            "n": f.count(r.n), "failures": f.count(r.failures), "rate": pct(r.failure_rate),
            "ci": pct_ci(r.ci_low, r.ci_high), "allowed": pct(r.max_failure_rate),
            "errored": _int(r.errored_rows), "skipped": _int(r.skipped_rows), "note": _text(r.note),
            "examples": _examples(ex) if ex and ex.get("rows") else None})
    return out


def _errors(table: pd.DataFrame | None, f: _Fmt) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    return [{"model": r.model, "input": _text(r.input), "message": _text(r.message),
             "rows": f.count(r.rows), "count": _int(r.rows), "examples": _text(r.example_rows)}
            for r in table.itertuples(index=False)]


def _latency(table: pd.DataFrame | None, f: _Fmt) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    t = table[table.slice == "overall"] if "slice" in table.columns else table
    out = []
    for model in dict.fromkeys(t.model):
        by = {r.metric: r for r in t[t.model == model].itertuples(index=False)}
        cells, methods, n = [], [], math.nan
        for metric, _ in LATENCY:
            r = by.get(metric)
            if r is None:
                cells.append({"text": "—", "ci": "", "title": ""})
                continue
            n = r.n if _finite(r.n) else n
            methods += [_text(r.method)] if _text(r.method) else []
            if r.status != "ok":
                cells.append({"text": str(r.status).replace("_", " "), "ci": "", "title": _text(r.note)})
                continue
            show = per_second if metric == "throughput_rows_per_s" else fmt
            ci = f"[{show(r.ci_low)}, {show(r.ci_high)}]" if _finite(r.ci_low, r.ci_high) else ""
            cells.append({"text": show(r.value), "ci": ci, "title": _text(r.note)})
        methods = list(dict.fromkeys(methods))
        out.append({"model": model, "cells": cells, "n": f.count(n),
                    "method": ", ".join(dict.fromkeys(short_method(m) for m in methods)),
                    "method_full": "; ".join(methods)})
    return out


def _adapters(extra: dict[str, Any], f: _Fmt) -> list[dict[str, Any]]:
    out = []
    for name, a in (extra.get("adapters") or {}).items():
        a = a or {}
        sha = _text(a.get("sha256"))
        secs = a.get("model_seconds")
        out.append({
            "model": name, "kind": _text(a.get("kind")), "description": _text(a.get("description")),
            "sha": sha[:12], "sha_full": sha, "rows": f.count(a.get("rows")),
            "unique": f.count(a.get("unique_rows")), "cached": f.count(a.get("cached")),
            "predicted": f.count(a.get("predicted")), "errored": _int(a.get("errored")),
            "seconds": f"{float(secs):.2f}" if _finite(secs) else "—",
            "cacheable": a.get("cacheable") is not False})
    return out


def robustness_context(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any] | None:
    """Template context of the Robustness section; None when the run has no robustness,
    behaviour, latency or prediction-error table (or only empty ones)."""
    tables = {k: result.analyses.get(k) for k in TABLES}
    tables = {k: v for k, v in tables.items() if v is not None and not v.empty}
    if not tables:
        return None
    f = _Fmt()
    charts = result.analysis_charts.get("robustness") or {}
    t = tables.get("robustness")
    models = []
    key = None
    if t is not None:
        key = key_metric(result, t)
        for i, m in enumerate(dict.fromkeys(t.model)):
            models.append(_model(m, t[t.model == m], key, colors.get(m, color(i)), charts, f))
    behaviour = _behaviour(tables.get("behaviour"), charts, f)
    errors = _errors(tables.get("prediction_errors"), f)
    failed_rows: dict[str, int] = {}
    for e in errors:
        failed_rows[e["model"]] = failed_rows.get(e["model"], 0) + e["count"]
    return {
        "key": key, "models": models, "behaviour": behaviour,
        "failing_tests": sum(b["status"] == "fail" for b in behaviour),
        "errors": errors, "error_totals": [{"model": m, "rows": f.count(n)} for m, n in failed_rows.items()],
        "latency": _latency(tables.get("latency"), f), "adapters": _adapters(result.extra, f),
        "max_slices": MAX_SLICES}
