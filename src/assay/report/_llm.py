"""``report.html`` and ``summary.md`` of an LLM suite run (:class:`assay.llm._runner.SuiteResult`).

The page follows the evaluation report's rules (see :mod:`assay.report._html`): it loads
nothing (inline CSS, inline SVG, no script, a Content-Security-Policy that forbids any
load), every user-supplied string is escaped (Jinja2 autoescape; :func:`markupsafe.escape`
inside SVG), and the same result gives the same bytes.

Sections: the header (cases x variants x samples), the gate verdict (the evaluation
report's rendering), whether the run is comparable with the previous recorded run (a judge
whose model or prompt changed breaks comparability), the scores per variant (pass rate or
mean with its interval, the number of ok scores, and the undetermined and error counts
beside it, never folded in), the scores per tag with forest plots, the paired comparisons
(delta with interval, p and Benjamini-Hochberg adjusted p), quality x cost x latency with
the Pareto front, judge calibration against human labels, the judges, usage, a per-case
drill-down (input or chat, context documents, expected output, and every variant's and
sample's output with each score's status, value and reason; cases with a failed,
undetermined or error score first, at most ``MAX_CASES``) and the lineage (hashes,
providers, settings).

Where a scorer's value is its pass indicator (1 pass, 0 fail), its mean equals its pass
rate and only the pass rate is shown. Deltas are coloured better/worse only for pass rates
(a mean score, such as a length, has no direction the report can assume).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from assay._errors import InputError
from assay.llm._aggregate import pass_indicators
from assay.report._html import COMPARATIVE, _ci, _count, _environment, _finite, _verdict, delta_row
from assay.report._monitor import _num, _redact
from assay.report._safety import safety_markdown, safety_section
from assay.report._summary import VERDICT_MARKS, _rules_section, format_p, md, short_method
from assay.report._svg import ForestRow, color, delta_forest_plot, fmt, forest_plot
from assay.safety._summary import masker

if TYPE_CHECKING:
    from assay.llm._runner import SuiteResult

#: cases shown in the drill-down (problem cases first); scores.parquet holds every case
MAX_CASES = 300
#: forest plots per section (gated scorers first)
MAX_CHARTS = 4
#: characters of a hash shown (the full hash is in the cell's title and in suite.json)
SHORT_HASH = 12
METRIC_LABEL = {"pass_rate": "pass rate", "mean": "mean"}
TABLE_COLUMNS = {
    "summary": ["variant", "slice", "scorer", "metric", "value", "ci_low", "ci_high", "n", "n_cases",
                "n_undetermined", "n_error", "method", "status", "note"],
    "scores": ["variant", "case_id", "sample", "scorer", "value", "passed", "status", "reason"],
    "outputs": ["variant", "case_id", "sample", "text", "status", "error"],
    "calibration": ["scorer", "slice", "statistic", "value", "ci_low", "ci_high", "n", "status", "note"],
}
#: calibration columns placed by the page; any other column is shown after them as it comes
CALIBRATION_KNOWN = {"scorer", "slice", "statistic", "value", "ci_low", "ci_high", "n", "status", "note"}


# ---------------------------------------------------------------------------- inputs


def _require(frame: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """The frame, or an empty one with the needed columns; an error naming what is missing."""
    needed = TABLE_COLUMNS[name]
    if frame is None:
        return pd.DataFrame(columns=needed)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"SuiteResult.{name} lacks column(s) {', '.join(missing)}; the report needs "
                         f"{', '.join(needed)} (build the result with assay.llm.run_suite)")
    return frame


def _text(v: Any) -> str:
    """A table cell as text ('' for None and NaN)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _passed(v: Any) -> bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    return bool(v)


def _listed(v: Any) -> list[Any]:
    """A list cell (tuple, list, array) as a list; None and NaN as an empty one."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [v] if isinstance(v, str) else list(v)


def _variants(result: SuiteResult) -> list[str]:
    """Variant names in run order (outputs first, then any only in scores or the summary)."""
    names: list[str] = []
    for frame in (result.outputs, result.scores, result.summary):
        if frame is not None and "variant" in frame.columns:
            names += [str(v) for v in frame["variant"]]
    return list(dict.fromkeys(names))


def _case_ids(result: SuiteResult) -> list[str]:
    """Case ids in suite order, then any id that only the outputs or scores hold."""
    ids = [c.id for c in result.cases]
    for frame in (result.outputs, result.scores):
        if frame is not None and "case_id" in frame.columns:
            ids += [str(v) for v in frame["case_id"]]
    return list(dict.fromkeys(ids))


def score_value(v: Any) -> str:
    """One score's value for people: integers as integers, others as :func:`fmt` writes them."""
    f = _num(v)
    if not _finite(f):
        return "—"
    return f"{f:.0f}" if f == round(f) and abs(f) < 1e15 else fmt(f)


def money(v: Any) -> str:
    """A cost (four significant digits; costs per call are often below a thousandth)."""
    f = _num(v)
    return f"{f:.4g}" if _finite(f) else "—"


def _interval(low: Any, high: Any, how: Any = fmt) -> str:
    lo, hi = _num(low), _num(high)
    return f"[{how(lo)}, {how(hi)}]" if _finite(lo, hi) else ""


def value_is_pass(scores: pd.DataFrame, scorer: str) -> bool:
    """True when ``scorer``'s value is its own pass/fail on every ok score: its mean is then
    its pass rate, shown once (see :func:`assay.llm._aggregate.pass_indicators`)."""
    return scorer in pass_indicators(scores)


def primary_metric(summary: pd.DataFrame, scorer: str) -> str:
    """A scorer's headline metric: its pass rate when it has a pass rule, else its mean."""
    mine = summary[summary["scorer"] == scorer]
    return "pass_rate" if (mine["metric"] == "pass_rate").any() else "mean"


def _gated(result: SuiteResult) -> list[str]:
    """Scorers that gate rules name (``scorer.metric``), in rule order."""
    if result.verdict is None:
        return []
    return list(dict.fromkeys(str(r.metric).rsplit(".", 1)[0] for r in result.verdict.rules if r.metric))


def _chart_scorers(result: SuiteResult, available: list[str]) -> list[str]:
    gated = [s for s in _gated(result) if s in available]
    return list(dict.fromkeys(gated + available))[:MAX_CHARTS]


# ---------------------------------------------------------------------------- header


def _header(result: SuiteResult, variants: list[str], colors: dict[str, str]) -> dict[str, Any]:
    spec = result.spec
    return {"name": spec.name, "cases": len(_case_ids(result)), "variants": len(variants),
            "samples": spec.samples, "confidence": f"{spec.confidence:.0%}", "seed": spec.seed,
            "run_id": result.run_id or "", "store": _redact(str(result.store)) if result.store else "",
            "seconds": f"{max(result.seconds, 0.0):.1f} s",
            "legend": [{"name": v, "color": colors[v]} for v in variants]}


def _change(c: dict[str, Any]) -> dict[str, Any]:
    before, after = c.get("before"), c.get("after")
    return {"what": _text(c.get("what")), "before": "—" if before is None else _text(before),
            "after": "—" if after is None else _text(after), "note": _text(c.get("note")),
            "breaks": bool(c.get("breaks"))}


def comparability(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the previous recorded run of the suite shares with this one: None without an
    earlier run; ``comparable`` False when a change breaks comparability (a judge's model or
    prompt), with the breaking changes apart from the informational ones."""
    if not record:
        return None
    changes = [_change(c) for c in record.get("changes") or []]
    breaking = [c for c in changes if c["breaks"]]
    return {"previous_run": _text(record.get("previous_run")),
            "previous_started": _text(record.get("previous_started")),
            "comparable": bool(record.get("comparable", not breaking)) and not breaking,
            "breaking": breaking, "info": [c for c in changes if not c["breaks"]]}


# ---------------------------------------------------------------------------- scores


def _cell(rows: pd.DataFrame, samples: int, others: pd.DataFrame) -> dict[str, Any]:
    """One variant's cell; ``others`` (the variant's rows of the scorer's other metric) give the
    counts when this metric has no row (no ok score had a pass/fail outcome)."""
    if rows.empty:
        if others.empty:
            return {"value": "", "ci": "", "status": "", "note": "", "n": "", "undetermined": "", "error": "",
                    "method": "", "empty": True}
        r = others.iloc[0]
        return {"value": "undefined", "ci": "", "status": "undefined", "note": "no ok score with pass/fail",
                "n": "0", "undetermined": int(r["n_undetermined"]), "error": int(r["n_error"]), "method": "",
                "empty": False}
    r = rows.iloc[0]
    ok = r["status"] == "ok"
    n = _count(r["n"])
    if samples > 1:
        n += f" ({_count(r['n_cases'])} cases)"
    return {"value": fmt(_num(r["value"])) if ok else str(r["status"]).replace("_", " "),
            "ci": _ci(_num(r["ci_low"]), _num(r["ci_high"])) if ok else "", "status": str(r["status"]),
            "note": _text(r["note"]), "n": n, "undetermined": int(r["n_undetermined"]),
            "error": int(r["n_error"]), "method": _text(r["method"]), "empty": False}


def _score_table(result: SuiteResult, summary: pd.DataFrame, scores: pd.DataFrame, variants: list[str],
                 slice_: str, primary_only: bool) -> list[dict[str, Any]]:
    part = summary[summary["slice"] == slice_]
    rows = []
    for scorer in dict.fromkeys(part["scorer"]):
        mine = part[part["scorer"] == scorer]
        metrics = list(dict.fromkeys(mine["metric"]))
        if primary_only:
            metrics = [primary_metric(summary, scorer)]
        elif "pass_rate" in metrics and value_is_pass(scores, scorer):
            metrics = ["pass_rate"]
        for metric in metrics:
            m_rows = mine[mine["metric"] == metric]
            cells = [_cell(m_rows[m_rows["variant"] == v], result.spec.samples, mine[mine["variant"] == v])
                     for v in variants]
            methods = [short_method(c["method"]) for c in cells if not c["empty"] and c["method"]]
            rows.append({"scorer": scorer, "metric": metric, "label": METRIC_LABEL.get(metric, metric),
                         "cells": cells, "method": ", ".join(dict.fromkeys(methods)),
                         "method_full": "; ".join(dict.fromkeys(c["method"] for c in cells
                                                                if not c["empty"] and c["method"]))})
    return rows


def _tag_section(result: SuiteResult, summary: pd.DataFrame, scores: pd.DataFrame, variants: list[str],
                 colors: dict[str, str]) -> dict[str, Any] | None:
    tags = [s for s in dict.fromkeys(summary["slice"]) if s != "overall"]
    if not tags:
        return None
    groups = [{"slice": t, "rows": _score_table(result, summary, scores, variants, t, True)} for t in tags]
    plots = []
    for scorer in _chart_scorers(result, list(dict.fromkeys(summary["scorer"]))):
        metric = primary_metric(summary, scorer)
        rows_ = summary[(summary["scorer"] == scorer) & (summary["metric"] == metric)]
        ok = {(r.slice, r.variant): r for r in rows_[rows_["status"] == "ok"].itertuples()}
        forest, refs = [], []
        for s in ["overall", *tags]:
            first = True
            for v in variants:
                r = ok.get((s, v))
                if r is None:
                    continue
                tip = (f"{v} · {s}: {fmt(r.value)} {_ci(r.ci_low, r.ci_high)}, n={_count(r.n)}, "
                       f"{r.n_undetermined} undetermined, {r.n_error} error")
                forest.append(ForestRow(s if first else "", r.value, r.ci_low, r.ci_high, colors[v], tip,
                                        group=s, strong=s == "overall"))
                if s == "overall":
                    refs.append((r.value, colors[v], f"{v} overall {fmt(r.value)}"))
                first = False
        hidden = sorted({f"{r.slice} ({r.variant}: {str(r.status).replace('_', ' ')})"
                         for r in rows_[rows_["status"] != "ok"].itertuples()})
        if len(forest) > len(refs):
            label = f"{scorer} {METRIC_LABEL.get(metric, metric)}"
            plots.append({"scorer": scorer, "metric": metric, "label": label, "hidden": hidden,
                          "svg": forest_plot(forest, refs, title=f"{label} per tag", x_label=label)})
    return {"groups": groups, "plots": plots}


# ---------------------------------------------------------------------------- comparisons


def _tone(r: Any) -> str:
    lo, hi = _num(r.ci_low), _num(r.ci_high)
    if r.metric != "pass_rate" or r.status != "ok" or not _finite(lo, hi) or not (lo > 0 or hi < 0):
        return ""
    return "better" if _num(r.delta) > 0 else "worse"


def _delta_row(r: Any) -> dict[str, Any]:
    ok = r.status == "ok"
    return {"scorer": r.scorer, "metric": METRIC_LABEL.get(r.metric, r.metric), "slice": r.slice,
            "baseline": fmt(_num(r.baseline_value)), "candidate": fmt(_num(r.candidate_value)),
            "delta": fmt(_num(r.delta), sign=True) if ok else str(r.status).replace("_", " "),
            "ci": _ci(_num(r.ci_low), _num(r.ci_high), True) if ok else "", "tone": _tone(r),
            "p": format_p(_num(r.p_value)), "p_adj": format_p(_num(r.p_adjusted)), "n": _num(r.n),
            "method": short_method(_text(r.method)), "method_full": _text(r.method), "note": _text(r.note),
            "status": r.status}


def _bounds(result: SuiteResult, candidate: str, metric: str) -> list[tuple[float, str]]:
    out: dict[float, str] = {}
    if result.verdict is None:
        return []
    for rule in result.verdict.rules:
        if rule.metric != metric or rule.rule not in COMPARATIVE:
            continue
        for t in rule.targets:
            if t.model == candidate and _finite(t.bound) and t.bound != 0:
                out.setdefault(round(t.bound, 9), f"{rule.name}: {t.direction} {fmt(t.bound, sign=True)}")
    return list(out.items())


def _comparisons(result: SuiteResult) -> list[dict[str, Any]]:
    comp = result.comparisons
    if comp is None or comp.empty:
        return []
    out = []
    for cand in dict.fromkeys(comp["candidate"]):
        c = comp[comp["candidate"] == cand]
        overall = [_delta_row(r) for r in c[c["slice"] == "overall"].itertuples()]
        by_tag = [_delta_row(r) for r in c[c["slice"] != "overall"].itertuples()]
        plots = []
        scorers = list(dict.fromkeys(c.loc[c["metric"] == "pass_rate", "scorer"]))
        for scorer in _chart_scorers(result, scorers):
            m_rows = c[(c["scorer"] == scorer) & (c["metric"] == "pass_rate") & (c["status"] == "ok")]
            if len(m_rows) < 2:
                continue  # overall only: the table says it all
            rows = []
            for r in m_rows.itertuples():
                tone = _tone(r)
                rows.append(delta_row(r, tone, "overall" if r.slice == "overall" else "tag"))
            baseline = str(m_rows["baseline"].iloc[0])
            plots.append({"scorer": scorer, "svg": delta_forest_plot(
                rows, _bounds(result, cand, f"{scorer}.pass_rate"),
                title=f"{scorer} pass rate: {cand} minus {baseline}",
                x_label="pass-rate difference (candidate − baseline)")})
        out.append({"candidate": cand, "baseline": str(c["baseline"].iloc[0]), "overall": overall,
                    "tags": by_tag, "plots": plots})
    return out


# ---------------------------------------------------------------------------- tradeoffs, judges, usage


def _tradeoffs(result: SuiteResult) -> list[dict[str, Any]]:
    t = result.tradeoffs
    if t is None or t.empty:
        return []
    rows = []
    for r in t.itertuples():
        rows.append({"variant": r.variant, "scorer": r.scorer, "metric": METRIC_LABEL.get(r.metric, r.metric),
                     "quality": fmt(_num(r.quality)), "quality_ci": _interval(r.quality_low, r.quality_high),
                     "cost": money(r.cost_per_case), "cost_ci": _interval(r.cost_low, r.cost_high, money),
                     "p50": fmt(_num(r.latency_p50)), "p50_ci": _interval(r.p50_low, r.p50_high),
                     "p95": fmt(_num(r.latency_p95)), "p95_ci": _interval(r.p95_low, r.p95_high),
                     "n_cases": _num(r.n_cases), "n_answers": _num(r.n_answers), "n_errors": _num(r.n_errors),
                     "pareto": bool(r.pareto)})
    return rows


def _cell_text(v: Any) -> str:
    """An extra calibration column's cell: numbers formatted, anything else as text."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float) and not isinstance(v, bool):
        f = _num(v)
        return "—" if not _finite(f) else (_count(f) if f == round(f) else fmt(f))
    return _text(v)


def _calibration(result: SuiteResult) -> dict[str, Any] | None:
    cal = result.calibration
    if cal is None or cal.empty:
        return None
    cal = _require(cal, "calibration")
    extras = [c for c in cal.columns if c not in CALIBRATION_KNOWN]
    groups = []
    for scorer in dict.fromkeys(cal["scorer"]):
        rows = []
        for r in cal[cal["scorer"] == scorer].to_dict("records"):
            ok = r["status"] == "ok"
            rows.append({"slice": _text(r["slice"]), "statistic": _text(r["statistic"]),
                         "value": fmt(_num(r["value"])) if ok else str(r["status"]).replace("_", " "),
                         "ci": _ci(_num(r["ci_low"]), _num(r["ci_high"])) if ok else "",
                         "n": _num(r["n"]), "status": _text(r["status"]), "note": _text(r["note"]),
                         "extras": [_cell_text(r[c]) for c in extras]})
        groups.append({"scorer": _text(scorer), "rows": rows})
    return {"extras": [str(c) for c in extras], "groups": groups}


def _judges(result: SuiteResult) -> list[dict[str, Any]]:
    j = result.judges
    if j is None or j.empty:
        return []
    out = []
    for r in j.to_dict("records"):
        fp, prompt = _text(r.get("fingerprint")), _text(r.get("prompt_sha256"))
        seed = r.get("seed")
        out.append({"scorer": _text(r.get("scorer")), "model": _text(r.get("model")),
                    "provider": _text(r.get("provider")), "temperature": fmt(_num(r.get("temperature")), 2),
                    "seed": "none" if _text(seed) == "" else
                    _text(int(seed) if _finite(_num(seed)) else seed),
                    "fingerprint": fp, "fingerprint_short": fp[:SHORT_HASH],
                    "prompt": prompt, "prompt_short": prompt[:SHORT_HASH]})
    return out


def _usage(result: SuiteResult) -> list[dict[str, Any]]:
    u = result.usage
    if u is None or u.empty:
        return []
    return [{"variant": r["variant"], "calls": _num(r["calls"]), "errors": _num(r["errors"]),
             "cached": _num(r["cached"]), "prompt_tokens": _num(r["prompt_tokens"]),
             "completion_tokens": _num(r["completion_tokens"]), "cost": money(r["cost"]),
             "cost_spent": money(r["cost_spent"]), "p50": fmt(_num(r["latency_p50"])),
             "p95": fmt(_num(r["latency_p95"]))} for r in u.to_dict("records")]


# ---------------------------------------------------------------------------- drill-down


def _expected_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, indent=2, ensure_ascii=False, default=str)


def _same(text: str) -> str:
    return text


def _score_item(s: dict[str, Any], mask: Any = _same) -> dict[str, Any]:
    passed = _passed(s["passed"]) if s["status"] == "ok" else None
    state = s["status"] if s["status"] != "ok" else \
        ("fail" if passed is False else "pass" if passed else "ok")
    return {"scorer": _text(s["scorer"]), "status": _text(s["status"]), "value": score_value(s["value"]),
            "passed": "—" if passed is None else ("pass" if passed else "fail"), "state": state,
            "reason": mask(_text(s["reason"]))}


def problem_counts(scores: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per case id: how many of its scores failed (ok, passed False), are undetermined, or are errors."""
    out: dict[str, dict[str, int]] = {}
    for cid, status, passed in zip(scores["case_id"], scores["status"], scores["passed"], strict=True):
        c = out.setdefault(str(cid), {"fail": 0, "undetermined": 0, "error": 0})
        if status == "ok":
            c["fail"] += _passed(passed) is False
        elif status in ("undetermined", "error"):
            c[status] += 1
    return out


def _drilldown(result: SuiteResult, outputs: pd.DataFrame, scores: pd.DataFrame, variants: list[str],
               limit: int = MAX_CASES) -> dict[str, Any]:
    known = {c.id: c for c in result.cases}
    ids = _case_ids(result)
    counts = problem_counts(scores)
    rank = {v: i for i, v in enumerate(variants)}
    answers: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for r in outputs.to_dict("records"):
        answers.setdefault(str(r["case_id"]), {})[(str(r["variant"]), int(r["sample"]))] = r
    by_answer: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = {}
    for r in scores.to_dict("records"):
        by_answer.setdefault(str(r["case_id"]), {}).setdefault((str(r["variant"]), int(r["sample"])),
                                                              []).append(r)
    flagged = {cid: any(counts.get(cid, {}).values()) for cid in ids}
    order = sorted(range(len(ids)), key=lambda i: (not flagged[ids[i]], i))
    shown = []
    for pos, i in enumerate(order[:limit]):
        cid = ids[i]
        case = known.get(cid)
        # a safety case's texts carry what the report must not show (its canary, PII, secrets)
        mask = masker(case) if case is not None and "safety" in case.tags else _same
        outs, scs = answers.get(cid, {}), by_answer.get(cid, {})
        keys = sorted(dict.fromkeys([*outs, *scs]), key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))
        items = []
        for variant, sample in keys:
            o = outs.get((variant, sample))
            item: dict[str, Any] = {"variant": variant, "sample": sample, "recorded": o is not None,
                                    "scores": [_score_item(s, mask) for s in scs.get((variant, sample), [])]}
            if o is not None:
                latency = _num(o.get("latency_s"))
                text = o["text"]
                item |= {"status": _text(o["status"]), "text": mask(text) if text else text,
                         "error": _text(o["error"]),
                         "tokens": f"{_count(o.get('prompt_tokens'))} + {_count(o.get('completion_tokens'))}"
                         if _finite(_num(o.get("prompt_tokens"))) else "",
                         "latency": f"{fmt(latency)} s" if _finite(latency) else "",
                         "cached": bool(o.get("cached")) if _text(o.get("cached")) else False}
            items.append(item)
        c = counts.get(cid, {"fail": 0, "undetermined": 0, "error": 0})
        shown.append({
            "id": cid, "anchor": f"case-{pos + 1}", "flagged": flagged[cid], "counts": c,
            "known": case is not None,
            "tags": list(case.tags) if case is not None else sorted({str(t) for s in scs.values() for r in s
                                                                      for t in _listed(r.get("tags"))}),
            "input": mask(case.input) if case is not None and case.input else None,
            "messages": [{**m, "content": mask(m["content"])} for m in case.messages]
            if case is not None else [],
            "context": [{**d, "text": mask(d["text"])} for d in case.context] if case is not None else [],
            "expected": _expected_text(case.expected) if case is not None else "",
            "vars": mask(json.dumps(case.vars, indent=2, ensure_ascii=False, default=str))
            if case is not None and case.vars else "",
            "answers": items})
    return {"cases": shown, "total": len(ids), "shown": len(shown), "left_out": max(len(ids) - limit, 0),
            "flagged": sum(flagged.values()), "limit": limit}


# ---------------------------------------------------------------------------- lineage


def _lineage(result: SuiteResult) -> dict[str, Any]:
    spec = result.spec
    h = result.hashes or {}
    hashes = [("cases", _text(h.get("cases")))]
    hashes += [(f"prompt {k}", _text(v)) for k, v in (h.get("prompts") or {}).items()]
    hashes += [(f"scorer {k}", _text(v)) for k, v in (h.get("scorers") or {}).items()]
    providers = []
    for p in spec.providers:
        where = _redact(p.base_url) if p.base_url else f"callable {p.callable}"
        providers.append({"name": p.name, "role": p.role, "model": p.model_name, "where": where,
                          "prices": f"{money(p.prices.input_per_1k)} / {money(p.prices.output_per_1k)} "
                                    "per 1k prompt / completion tokens"})
    settings = [("suite", spec.name), ("samples per case", str(spec.samples)), ("seed", str(spec.seed)),
                ("confidence", f"{spec.confidence:.0%}"), ("bootstrap replicates", _count(spec.bootstrap)),
                ("min cases per gated slice", str(spec.min_cases)),
                ("duration", f"{max(result.seconds, 0.0):.2f} s")]
    if result.run_id:
        settings.insert(0, ("run id", str(result.run_id)))
    if result.store:
        settings.append(("run store", _redact(str(result.store))))
    shown = spec.model_dump(mode="json")
    if isinstance(shown.get("cases"), list):
        shown["cases"] = f"{len(shown['cases'])} inline case(s): see the drill-down and cases.parquet"
    spec_yaml = _redact(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True))
    return {"hashes": hashes, "providers": providers, "settings": settings, "spec_yaml": spec_yaml}


# ---------------------------------------------------------------------------- page


def render_suite_html(result: SuiteResult) -> str:
    """The self-contained HTML report of one suite run (no network needed to view it), with a
    per-case drill-down of inputs, outputs, context and every score's reason."""
    from assay import __version__

    summary = _require(result.summary, "summary")
    scores = _require(result.scores, "scores")
    outputs = _require(result.outputs, "outputs")
    variants = _variants(result)
    colors = {v: color(i) for i, v in enumerate(variants)}
    tags = _tag_section(result, summary, scores, variants, colors)
    comparisons = _comparisons(result)
    tradeoffs = _tradeoffs(result)
    calibration = _calibration(result)
    judges = _judges(result)
    safety = safety_section(result)
    nav = [("verdict", "Verdict"), ("scores", "Scores")]
    nav += [(k, t) for k, t, on in (("safety", "Safety", safety), ("tags", "Per tag", tags),
                                    ("comparison", "Comparison", comparisons),
                                    ("tradeoffs", "Quality × cost × latency", tradeoffs),
                                    ("calibration", "Judge calibration", calibration),
                                    ("judges", "Judges", judges)) if on]
    nav += [("usage", "Usage"), ("cases", "Cases"), ("lineage", "Lineage")]
    context = {
        "header": _header(result, variants, colors), "nav": nav, "verdict": _verdict(result.verdict),
        "comparability": comparability(result.comparability),
        "variants": [{"name": v, "color": colors[v]} for v in variants],
        "scores": _score_table(result, summary, scores, variants, "overall", False), "tags": tags,
        "safety": safety,
        "comparisons": comparisons, "tradeoffs": tradeoffs, "calibration": calibration, "judges": judges,
        "usage": _usage(result), "drilldown": _drilldown(result, outputs, scores, variants),
        "lineage": _lineage(result), "version": __version__,
    }
    return _environment().get_template("llm.html.j2").render(**context)


# ---------------------------------------------------------------------------- summary


def _md_cell(c: dict[str, Any]) -> str:
    if c["empty"]:
        return "—"
    if c["status"] != "ok":
        return md(c["value"] + (f": {c['note']}" if c["note"] else ""))
    return f"{c['value']} {c['ci']}".strip()


def _md_comparability(comp: dict[str, Any] | None) -> list[str]:
    if comp is None:
        return []
    started = comp["previous_started"]
    prev = md(comp["previous_run"]) + (f" ({md(started)})" if started else "")
    if comp["comparable"]:
        if not comp["info"]:
            return [f"Comparable with the previous run {prev}: nothing that changes scores changed.", ""]
        info = "; ".join(md(c["what"]) for c in comp["info"])
        return [f"Comparable with the previous run {prev}; changed: {info}.", ""]
    out = [f"> ⚠️ **Not comparable with the previous run {prev}**: scores from a changed judge cannot be "
           "compared with earlier runs."]
    for c in comp["breaking"]:
        note = f" — {md(c['note'])}" if c["note"] else ""
        out.append(f"> - {md(c['what'])}: {md(c['before'])} → {md(c['after'])}{note}")
    return [*out, ""]


def render_suite_summary(result: SuiteResult, *, rules_limit: int = 8, comparisons_limit: int = 8,
                         rows_limit: int = 30, cases_limit: int = 10) -> str:
    """Markdown for a pull-request comment: the verdict, comparability with the previous run,
    the scores per variant, the largest paired differences, quality x cost x latency, judge
    calibration and the first failing cases. Every user-supplied string is escaped."""
    from assay import __version__

    spec = result.spec
    summary = _require(result.summary, "summary")
    scores = _require(result.scores, "scores")
    variants = _variants(result)
    pct = f"{spec.confidence:.0%}"
    verdict = result.verdict
    out: list[str] = []
    if verdict is not None:
        fails = sum(r.status == "fail" for r in verdict.rules)
        undecided = sum(r.status == "undecided" for r in verdict.rules)
        out += [f"## {VERDICT_MARKS.get(verdict.decision, '❌')} assay llm: **{verdict.headline}** — "
                f"{md(spec.name)}", "",
                f"{len(verdict.rules)} rule(s): {fails} failing, {undecided} undecided, "
                f"{len(verdict.rules) - fails - undecided} passing · exit code {verdict.exit_code}"]
    else:
        out.append(f"## assay llm: {md(spec.name)} (no gates)")
    run = f" · run {md(result.run_id)}" if result.run_id else ""
    out += ["", f"{len(_case_ids(result)):,} cases × {len(variants)} variant(s) × {spec.samples} sample(s) · "
                f"{pct} intervals · seed {spec.seed}{run}", ""]
    out += _md_comparability(comparability(result.comparability))
    if verdict is not None:
        out += ["### Rules", "", *_rules_section(verdict, rules_limit), ""]
    table = _score_table(result, summary, scores, variants, "overall", False)
    lines = []
    for row in table:
        for v, c in zip(variants, row["cells"], strict=True):
            if c["empty"]:
                continue
            lines.append(f"| {md(row['scorer'])} | {row['label']} | {md(v)} | {_md_cell(c)} | {c['n']} | "
                         f"{c['undetermined']} | {c['error']} |")
    out += ["### Scores (all cases)", ""]
    if lines:
        out += [f"| scorer | metric | variant | value [{pct} CI] | n | undetermined | error |",
                "|---|---|---|---|---|---|---|", *lines[:rows_limit]]
        if len(lines) > rows_limit:
            out.append(f"| … {len(lines) - rows_limit} more row(s) in summary.parquet | | | | | | |")
    else:
        out.append("No scores.")
    out += safety_markdown(result)
    comp = result.comparisons
    if comp is not None and not comp.empty:
        ok = comp[comp["status"] == "ok"]
        # pass rates and means have different units: pass rates first, each by |delta|
        ok = ok.assign(_mean=ok["metric"] != "pass_rate",
                       _abs=-pd.to_numeric(ok["delta"], errors="coerce").abs())
        top = ok.sort_values(["_mean", "_abs"], kind="stable").head(comparisons_limit)
        out += ["", f"### Largest differences (paired; {len(top)} of {len(ok)}: pass rates, then means, "
                    "each by |delta|)", ""]
        if top.empty:
            out.append("No comparison could be computed (no case scored ok by both variants).")
        else:
            out += ["| candidate vs baseline | scorer | metric | slice | delta [CI] | p | p adj. (BH) | n |",
                    "|---|---|---|---|---|---|---|---|"]
            for r in top.itertuples():
                out.append(f"| {md(r.candidate)} vs {md(r.baseline)} | {md(r.scorer)} | "
                           f"{METRIC_LABEL.get(r.metric, r.metric)} | {md(r.slice)} | "
                           f"{fmt(r.delta, sign=True)} {_ci(r.ci_low, r.ci_high, True)} | "
                           f"{format_p(r.p_value)} | {format_p(r.p_adjusted)} | {_count(r.n)} |")
    trade = _tradeoffs(result)
    if trade:
        out += ["", "### Quality × cost × latency", "",
                "| variant | scorer | quality [CI] | cost per case [CI] | latency p50 s [CI] | p95 s "
                "| Pareto |",
                "|---|---|---|---|---|---|---|"]
        for t in trade[:rows_limit]:
            out.append(f"| {md(t['variant'])} | {md(t['scorer'])} {t['metric']} | {t['quality']} "
                       f"{t['quality_ci']} | {t['cost']} {t['cost_ci']} | {t['p50']} {t['p50_ci']} | "
                       f"{t['p95']} | {'★' if t['pareto'] else ''} |")
        if len(trade) > rows_limit:
            out.append(f"| … {len(trade) - rows_limit} more row(s) in tradeoffs.parquet | | | | | | |")
    cal = result.calibration
    if cal is not None and not cal.empty:
        cal = _require(cal, "calibration")
        overall = cal[cal["slice"] == "overall"]
        out += ["", "### Judge calibration (human labels, all labelled cases)", "",
                f"| judge | statistic | value [{pct} CI] | n |", "|---|---|---|---|"]
        for r in overall.itertuples():
            value = (f"{fmt(_num(r.value))} {_ci(_num(r.ci_low), _num(r.ci_high))}".strip()
                     if r.status == "ok" else md(str(r.status) + (f": {r.note}" if _text(r.note) else "")))
            out.append(f"| {md(r.scorer)} | {md(r.statistic)} | {value} | {_count(_num(r.n))} |")
    out += ["", *_failing_lines(scores, spec.samples, cases_limit)]
    out += ["", f"<sub>assay {__version__} · full results: scores.parquet, summary.parquet, "
                "outputs.parquet, report.html</sub>", ""]
    return "\n".join(out)


def _failing_lines(scores: pd.DataFrame, samples: int, limit: int) -> list[str]:
    """The first failed, then undetermined, then error scores (each in run order), with reasons."""
    failed = (scores["status"] == "ok") & scores["passed"].map(lambda p: _passed(p) is False)
    kinds = [("fail", failed), ("undetermined", scores["status"] == "undetermined"),
             ("error", scores["status"] == "error")]
    totals = {k: int(m.sum()) for k, m in kinds}
    if not any(totals.values()):
        return ["### Failing cases", "", "No score failed, none is undetermined and none is an error."]
    picked = [(kind, r) for kind, mask in kinds for r in scores[mask].itertuples()]
    head = "| case | variant | sample | scorer | status | reason |" if samples > 1 else \
        "| case | variant | scorer | status | reason |"
    lines = ["### Failing cases", "",
             f"{totals['fail']:,} failed, {totals['undetermined']:,} undetermined and {totals['error']:,} "
             f"error score(s) in all; the first {min(limit, len(picked))}:", "",
             head, "|---" * head.count(" | ") + "|---|"]
    for kind, r in picked[:limit]:
        s = f" | {int(r.sample)}" if samples > 1 else ""
        lines.append(f"| {md(r.case_id)} | {md(r.variant)}{s} | {md(r.scorer)} | {kind} | {md(r.reason)} |")
    if len(picked) > limit:
        lines += ["", f"… and {len(picked) - limit:,} more in scores.parquet (report.html shows each case)."]
    return lines
