"""The robustness part of ``summary.md``: a few lines that fit a pull-request comment.

Per stressed model a compact table (perturbation | key-metric change [CI] | flip rate |
errors) on all rows, then the failing behavioural tests, latency p95 per model and the
model errors. Long lists are cut at fixed limits with a count of what was left out; the
full tables are in the run folder and the HTML report. User strings go through ``md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from assay.report._html_robustness import (
    ERROR_RATE,
    FLIP_RATE,
    TABLES,
    _finite,
    _flag,
    _int,
    _text,
    key_metric,
    pct,
    pct_ci,
    tone,
)
from assay.report._summary import _ci, _num, md
from assay.report._svg import fmt

if TYPE_CHECKING:
    from assay.results import EvaluationResult

#: perturbations listed per model, failing tests and error messages listed in all
MAX_PERTURBATIONS = 10
MAX_TESTS = 8
MAX_ERRORS = 6
MAX_MESSAGE = 160


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model_table(t: pd.DataFrame, key: str | None) -> list[str]:
    overall = t[t.slice == "overall"]
    by = {(r.perturbation, r.metric): r for r in overall.itertuples(index=False)}
    perts = list(dict.fromkeys(overall.perturbation))
    head = f"{md(key)} change [CI]" if key else "change"
    lines = [f"| perturbation | {head} | flip rate [CI] | errors |", "|---|---|---|---|"]
    for p in perts[:MAX_PERTURBATIONS]:
        k, flip, err = by.get((p, key)), by.get((p, FLIP_RATE)), by.get((p, ERROR_RATE))
        if k is None:
            delta = "—"
        elif k.status != "ok":
            delta = md(str(k.status).replace("_", " "))
        else:
            mark = "⚠️ " if tone(k) == "worse" else ""
            delta = f"{mark}{_num(k.delta, sign=True)}{_ci(k.ci_low, k.ci_high)}"
        flips = "—" if flip is None or flip.status != "ok" else \
            f"{pct(flip.delta)} {pct_ci(flip.ci_low, flip.ci_high)}".strip()
        n_err = _int(err.errored_rows) if err is not None else 0
        errors = "—" if err is None else f"❌ {n_err:,} ({pct(err.delta)})" if n_err else "0"
        lines.append(f"| {md(p)} | {delta} | {flips} | {errors} |")
    if len(perts) > MAX_PERTURBATIONS:
        lines.append(f"| … {len(perts) - MAX_PERTURBATIONS} more perturbation(s) in report.html | | | |")
    return lines


def _failing_tests(table: pd.DataFrame | None) -> list[str]:
    if table is None or table.empty:
        return []
    failing = table[[_flag(v) is False for v in table.passed]]
    if failing.empty:
        return ["", f"All {len(table)} behavioural test(s) pass."]
    lines = ["", f"Failing behavioural tests ({len(failing)} of {len(table)}):", "",
             "| model | test | kind | failures | failure rate [CI] | allowed |", "|---|---|---|---|---|---|"]
    for r in failing.head(MAX_TESTS).itertuples(index=False):
        lines.append(f"| {md(r.model)} | {md(r.test)} | {md(_text(r.kind))} | {_int(r.failures):,} of "
                     f"{_int(r.n):,} | {pct(r.failure_rate)} {pct_ci(r.ci_low, r.ci_high)} | "
                     f"≤ {pct(r.max_failure_rate)} |")
    if len(failing) > MAX_TESTS:
        lines.append(f"| … {len(failing) - MAX_TESTS} more | | | | | |")
    return lines


def _latency(table: pd.DataFrame | None) -> list[str]:
    if table is None or table.empty:
        return []
    t = table[(table.metric == "latency_p95_ms") & (table.slice == "overall")]
    parts = []
    for r in t.itertuples(index=False):
        ci = f" [{fmt(r.ci_low)}, {fmt(r.ci_high)}]" if _finite(r.ci_low, r.ci_high) else ""
        value = f"{fmt(r.value)} ms{ci}" if r.status == "ok" else md(str(r.status).replace("_", " "))
        parts.append(f"{md(r.model)} {value}")
    return ["", f"Latency p95: {'; '.join(parts)}."] if parts else []


def _errors(table: pd.DataFrame | None) -> list[str]:
    if table is None or table.empty:
        return []
    total = int(sum(_int(v) for v in table.rows))
    lines = ["", f"❌ Model errors ({total:,} failed row(s); a model that fails is a finding):", ""]
    for r in table.head(MAX_ERRORS).itertuples(index=False):
        rows = f" (rows {md(_text(r.example_rows))})" if _text(r.example_rows) else ""
        lines.append(f"- {md(r.model)} · {md(_text(r.input))}: {_int(r.rows):,} row(s): "
                     f"{md(_clip(_text(r.message)))}{rows}")
    if len(table) > MAX_ERRORS:
        lines.append(f"- … {len(table) - MAX_ERRORS} more in prediction_errors.json")
    return lines


def robustness_lines(result: EvaluationResult, level: str = "###") -> list[str]:
    """The robustness section of the summary (``[]`` when the run has no stress tables).
    Shaped like the other analysis sections: blank line, heading, blank line, body."""
    tables = {k: result.analyses.get(k) for k in TABLES}
    tables = {k: v for k, v in tables.items() if v is not None and not v.empty}
    if not tables:
        return []
    t = tables.get("robustness")
    behaviour = tables.get("behaviour")
    errors = tables.get("prediction_errors")
    title = f"{level} Robustness"
    if behaviour is not None:
        n_fail = sum(_flag(v) is False for v in behaviour.passed)
        title += f" · ❌ {n_fail} failing behavioural test(s)" if n_fail else ""
    if errors is not None:
        title += f" · ❌ model errors on {int(sum(_int(v) for v in errors.rows)):,} row(s)"
    lines = ["", title, ""]
    if t is not None:
        key = key_metric(result, t)
        conf = f"{result.spec.confidence:.0%}"
        lines.append(f"Change = perturbed − clean on the same rows, {conf} paired intervals"
                     f"{f' ({md(key)})' if key else ''}; ⚠️ = worse with {conf} confidence. Flip rate: "
                     "rows whose decision changed; errors: rows the model failed on.")
        for model in dict.fromkeys(t.model):
            lines += ["", f"**{md(model)}**", "", *_model_table(t[t.model == model], key)]
    lines += _failing_tests(behaviour)
    lines += _latency(tables.get("latency"))
    lines += _errors(errors)
    return lines
