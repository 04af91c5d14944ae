"""``report.html`` of an agent suite run (:class:`assay.agents.AgentSuiteResult`).

The page follows the LLM report's rules (see :mod:`assay.report._llm`): it loads nothing
(inline CSS, inline SVG, no script, a Content-Security-Policy that forbids any load), every
user-supplied string is escaped (Jinja2 autoescape: tool arguments, results, replies and
state values are shown as text), and the same result gives the same bytes.

Sections: the header (cases x agents), the gate verdict, the scores per agent (pass rate or
mean with its interval, ok scores, and the undetermined and error counts beside it), the
scores per tag, paired comparisons between agents, how the runs stopped (final reply,
max_steps, error) with steps and tool errors, usage, the per-case traces (problem cases
first: every user turn, assistant reply and tool call with its arguments and result or error,
the final state's difference from the initial one, what the case expected, and each score's
reason) and the lineage (hashes, agents, tools, settings). The page reads the run's tables
(outputs, traces, scores, summary, usage) and the cases, as written to the run folder.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from assay.report._html import _count, _environment, _verdict
from assay.report._llm import (
    _comparisons,
    _score_item,
    _score_table,
    _tag_section,
    _text,
    _usage,
    money,
    problem_counts,
)
from assay.report._monitor import _num, _redact
from assay.report._svg import color, fmt

if TYPE_CHECKING:
    from assay.agents import AgentSuiteResult

#: cases shown with their traces (problem cases first); the tables hold every case
MAX_CASES = 300
#: characters of a tool result or argument text shown before it is cut (the tables keep all)
MAX_TEXT = 4000


def _pretty(text: Any) -> str:
    """A JSON text (or value) indented for reading; other text as it is, cut at MAX_TEXT."""
    if text is None:
        return ""
    value = text
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, ValueError):
            return _cut(text)
    if isinstance(value, str):
        return _cut(value)
    return _cut(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"… ({len(text) - MAX_TEXT:,} more characters)"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loads(text: Any, default: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return default
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return default


def _variants(result: AgentSuiteResult) -> list[str]:
    names: list[str] = []
    for frame in (result.outputs, result.scores, result.summary):
        if frame is not None and "variant" in frame.columns:
            names += [str(v) for v in frame["variant"]]
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------- stop reasons


def _stops(result: AgentSuiteResult) -> list[dict[str, Any]]:
    out = result.outputs
    rows = []
    for variant, g in out.groupby("variant", sort=False):
        calls = result.traces[result.traces["variant"] == variant]
        steps = pd.to_numeric(g["steps"], errors="coerce")
        kinds = calls["error_kind"].value_counts()
        rows.append({"variant": str(variant), "cases": len(g),
                     "final": int((g["stop_reason"] == "final").sum()),
                     "max_steps": int((g["stop_reason"] == "max_steps").sum()),
                     "error": int((g["stop_reason"] == "error").sum()),
                     "steps_mean": fmt(float(steps.mean())) if len(steps) else "—",
                     "steps_max": _count(float(steps.max())) if len(steps) else "—",
                     "calls": len(calls), "tool_errors": int(calls["error"].notna().sum()),
                     "schema": int(kinds.get("schema", 0)), "invalid_json": int(kinds.get("invalid_json", 0)),
                     "unknown_tool": int(kinds.get("unknown_tool", 0))})
    return rows


# ---------------------------------------------------------------------------- traces


def _events(messages: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as events: user and assistant messages, and each tool call joined to
    its record (the tool messages follow the calls in order)."""
    records = iter(calls)
    events: list[dict[str, Any]] = []
    turn = -1
    pending: list[dict[str, Any]] = []  # call events waiting for their tool message, in order
    for m in messages:
        role = m.get("role")
        if role == "system":
            events.append({"kind": "system", "text": _text(m.get("content"))})
        elif role == "user":
            turn += 1
            events.append({"kind": "user", "turn": turn + 1, "text": _text(m.get("content"))})
        elif role == "assistant":
            tcs = m.get("tool_calls") or []
            if m.get("content"):
                events.append({"kind": "assistant", "text": _text(m.get("content")), "final": not tcs})
            elif not tcs:
                events.append({"kind": "assistant", "text": "", "final": True})
            for tc in tcs:
                fn = tc.get("function") or {}
                ev = {"kind": "call", "name": _text(fn.get("name")), "id": _text(tc.get("id")),
                      "args": _pretty(fn.get("arguments")), "result": "", "error": "", "error_kind": "",
                      "step": "", "latency": ""}
                events.append(ev)
                pending.append(ev)
        elif role == "tool":
            rec = next(records, None)
            if not pending:
                continue
            ev = pending.pop(0)
            if rec is not None:
                lat = _num(rec.get("latency_s"))
                ev |= {"result": _pretty(rec.get("result")), "error": _text(rec.get("error")),
                       "error_kind": _text(rec.get("error_kind")).replace("_", " "),
                       "step": int(rec["step"]) + 1 if _text(rec.get("step")) else "",
                       "latency": f"{lat * 1000:.1f} ms" if math.isfinite(lat) else "",
                       "schema_valid": bool(rec.get("schema_valid"))}
            else:
                ev["result"] = _pretty(m.get("content"))
    return events


def _expected(case: Any) -> dict[str, Any]:
    if case is None:
        return {"calls": [], "order": "", "state": "", "answer": ""}
    groups = []
    for turn, calls in case.call_groups():
        items = []
        for c in calls:
            match = ", ".join(f"{k}: {v}" for k, v in c.match.items())
            items.append({"name": c.name, "args": _short(c.args, 400), "match": match})
        groups.append({"turn": "all turns" if turn is None else f"turn {turn + 1}", "calls": items})
    order = case.order if isinstance(case.order, str) else "; ".join(f"{a} before {b}" for a, b in case.order)
    answer = ""
    if case.expected_answer is not None:
        wanted = [case.expected_answer] if isinstance(case.expected_answer, str) else case.expected_answer
        answer = f"{case.answer_match}: " + " · ".join(wanted)
    state = _pretty(case.expected_state) if case.expected_state is not None else ""
    if state and case.state_match:
        state += "\nmatchers: " + ", ".join(f"{k}: {v}" for k, v in case.state_match.items())
    return {"calls": groups, "declared": case.expected_calls is not None, "order": order, "state": state,
            "answer": answer}


def _cases(result: AgentSuiteResult, variants: list[str], limit: int = MAX_CASES) -> dict[str, Any]:
    known = {c.id: c for c in result.cases}
    ids = list(dict.fromkeys([c.id for c in result.cases] + [str(v) for v in result.outputs["case_id"]]))
    counts = problem_counts(result.scores)
    outputs = {(str(r["variant"]), str(r["case_id"])): r for r in result.outputs.to_dict("records")}
    calls: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in result.traces.sort_values(["variant", "case_id", "seq"], kind="stable").to_dict("records"):
        calls.setdefault((str(r["variant"]), str(r["case_id"])), []).append(r)
    scores: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in result.scores.to_dict("records"):
        scores.setdefault((str(r["variant"]), str(r["case_id"])), []).append(r)
    stopped = {k for k, o in outputs.items() if o["stop_reason"] != "final"}
    flagged = {cid: any(counts.get(cid, {}).values()) or any((v, cid) in stopped for v in variants)
               for cid in ids}
    order = sorted(range(len(ids)), key=lambda i: (not flagged[ids[i]], i))
    shown = []
    for pos, i in enumerate(order[:limit]):
        cid = ids[i]
        case = known.get(cid)
        runs = []
        for v in variants:
            o = outputs.get((v, cid))
            if o is None:
                continue
            diff = [{"path": d["path"], "change": d["change"], "before": _short(d["before"]),
                     "after": _short(d["after"])} for d in _loads(o["state_diff"], [])]
            tokens = [_num(o.get("prompt_tokens")), _num(o.get("completion_tokens"))]
            runs.append({
                "variant": v, "stop_reason": _text(o["stop_reason"]), "error": _text(o["error"]),
                "steps": _count(_num(o["steps"])), "n_calls": _count(_num(o["n_calls"])),
                "tool_errors": _count(_num(o["n_tool_errors"])),
                "tokens": f"{_count(tokens[0])} + {_count(tokens[1])}" if math.isfinite(tokens[0]) else "",
                "cost": money(o.get("cost")) if math.isfinite(_num(o.get("cost"))) else "",
                "cached": bool(o.get("cached")),
                "events": _events(_loads(o["messages"], []), calls.get((v, cid), [])),
                "diff": diff, "final_state": _pretty(o["final_state"]),
                "scores": [_score_item(s) for s in scores.get((v, cid), [])]})
        c = counts.get(cid, {"fail": 0, "undetermined": 0, "error": 0})
        shown.append({"id": cid, "anchor": f"case-{pos + 1}", "flagged": flagged[cid], "counts": c,
                      "tags": list(case.tags) if case is not None else [],
                      "turns": len(case.user_turns) if case is not None else 0,
                      "expected": _expected(case), "runs": runs})
    return {"cases": shown, "total": len(ids), "shown": len(shown), "left_out": max(len(ids) - limit, 0),
            "flagged": sum(flagged.values()), "limit": limit}


# ---------------------------------------------------------------------------- lineage


def _lineage(result: AgentSuiteResult) -> dict[str, Any]:
    spec = result.spec
    h = result.hashes or {}
    hashes = [("cases", _text(h.get("cases"))), ("tools", _text(h.get("tools")))]
    hashes += [(f"scorer {k}", _text(v)) for k, v in (h.get("scorers") or {}).items()]
    agents = []
    for p in spec.variants():
        where = _redact(p.base_url) if p.base_url else f"callable {p.callable}"
        agents.append({"name": p.name, "model": p.model_name, "where": where,
                       "prices": f"{money(p.prices.input_per_1k)} / {money(p.prices.output_per_1k)} per 1k "
                                 "prompt / completion tokens"})
    tools = [{"name": t.name, "description": t.description,
              "how": f"function {t.function}" if t.function else f"{len(t.responses or [])} response rule(s)",
              "parameters": _short(t.parameters, 300)} for t in spec.tools]
    settings = [("suite", spec.name), ("max steps per turn", str(spec.max_steps)), ("seed", str(spec.seed)),
                ("confidence", f"{spec.confidence:.0%}"), ("bootstrap replicates", _count(spec.bootstrap)),
                ("min cases per gated slice", str(spec.min_cases)),
                ("duration", f"{max(result.seconds, 0.0):.2f} s")]
    shown = spec.model_dump(mode="json")
    if isinstance(shown.get("cases"), list):
        shown["cases"] = f"{len(shown['cases'])} inline case(s): see the traces and cases.parquet"
    spec_yaml = _redact(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True))
    return {"hashes": hashes, "agents": agents, "tools": tools, "settings": settings, "spec_yaml": spec_yaml}


# ---------------------------------------------------------------------------- page


def render_agent_html(result: AgentSuiteResult) -> str:
    """The self-contained HTML report of one agent suite run (no network needed to view it)."""
    from assay import __version__

    variants = _variants(result)
    colors = {v: color(i) for i, v in enumerate(variants)}
    summary, scores = result.summary, result.scores
    tags = _tag_section(result, summary, scores, variants, colors)  # type: ignore[arg-type]
    comparisons = _comparisons(result)  # type: ignore[arg-type]
    nav = [("verdict", "Verdict"), ("scores", "Scores")]
    nav += [(k, t) for k, t, on in (("tags", "Per tag", tags), ("comparison", "Comparison", comparisons))
            if on]
    nav += [("stops", "Stops"), ("usage", "Usage"), ("cases", "Traces"), ("lineage", "Lineage")]
    header = {"name": result.spec.name, "cases": len(result.cases), "agents": len(variants),
              "confidence": f"{result.spec.confidence:.0%}", "seed": result.spec.seed,
              "max_steps": result.spec.max_steps, "seconds": f"{max(result.seconds, 0.0):.1f} s",
              "legend": [{"name": v, "color": colors[v]} for v in variants], "samples": 1}
    context = {
        "header": header, "nav": nav, "verdict": _verdict(result.verdict),
        "variants": [{"name": v, "color": colors[v]} for v in variants],
        "scores": _score_table(result, summary, scores, variants, "overall", False),  # type: ignore[arg-type]
        "tags": tags, "comparisons": comparisons, "stops": _stops(result), "usage": _usage(result),  # type: ignore[arg-type]
        "drilldown": _cases(result, variants), "lineage": _lineage(result), "version": __version__,
    }
    return _environment().get_template("agents.html.j2").render(**context)
