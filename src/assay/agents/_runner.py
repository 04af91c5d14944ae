"""Run an agent suite: every case with every agent (cache first), score the traces, and
summarise with the LLM suite's statistics (pass rates with Wilson intervals, means with t
intervals, cluster bootstrap where cases share a ``cluster``), paired comparisons between
agents, and gates.

Tables of a run (each written as Parquet and JSON):

    traces     one row per tool call: turn, step, name, arguments, result, error, latency
    requests   one row per model call: status, tokens, cost, latency, cached, request hash
    outputs    one row per case and agent: final reply, stop reason, steps, calls, tokens,
               cost, the conversation, the final state and its difference from the initial one
    scores     assay.llm's SCORE_COLUMNS (variant = agent), so its summary and gates apply
    summary    per agent, scorer and slice (overall, each tag): pass rate and mean with intervals
    usage      per agent: model calls, errors, cache hits, tokens, cost, latency
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay._errors import AssayError
from assay.agents._cases import AgentCase, cases_sha256, check_tool_names, load_agent_cases
from assay.agents._loop import Trace, run_agents
from assay.agents._scorers import AgentScorer
from assay.agents._suite import AgentSuiteSpec
from assay.agents._tools import Toolbox
from assay.llm._aggregate import summarize, usage
from assay.llm._runner import SCORE_COLUMNS, make_provider, scorer_failed
from assay.llm._score import Score
from assay.llm.providers import ResponseCache
from assay.llm.providers._types import canonical_json

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

TRACE_COLUMNS = ["variant", "case_id", "turn", "step", "seq", "call_id", "name", "arguments",
                 "raw_arguments", "result", "error", "error_kind", "schema_valid", "latency_s"]
REQUEST_COLUMNS = ["variant", "case_id", "turn", "step", "status", "error", "prompt_tokens",
                   "completion_tokens", "latency_s", "cost", "cached", "attempts", "finish_reason",
                   "n_tool_calls", "request_sha256"]
OUTPUT_COLUMNS = ["variant", "case_id", "status", "stop_reason", "error", "final_text", "finals", "turns",
                  "steps", "n_calls", "n_tool_errors", "prompt_tokens", "completion_tokens", "cost",
                  "latency_s", "cached", "messages", "final_state", "state_diff"]
CASE_COLUMNS = ["case_id", "turns", "expected_calls", "order", "expected_state", "tags", "cluster"]


@dataclass
class AgentSuiteResult:
    """The traces per agent, the tables (see the module docstring), the verdict and hashes."""

    spec: AgentSuiteSpec
    cases: list[AgentCase]
    runs: dict[str, list[Trace]]
    traces: pd.DataFrame
    requests: pd.DataFrame
    outputs: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    usage: pd.DataFrame
    comparisons: pd.DataFrame | None = None
    verdict: Any = None
    hashes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    run_id: str | None = None
    store: str | None = None

    def trace(self, variant: str, case_id: str) -> Trace:
        """One case's trace under one agent."""
        for t in self.runs[variant]:
            if t.case_id == case_id:
                return t
        raise KeyError(f"no trace of case {case_id!r} for agent {variant!r}")

    def write(self, folder: str | Path) -> Path:
        """The run folder: every table as Parquet and JSON, suite.json and report.html."""
        from assay._json import jsonable, write_table
        from assay.report._agents import render_agent_html

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"cases": cases_table(self.cases), "traces": self.traces, "requests": self.requests,
                  "outputs": self.outputs, "scores": self.scores.assign(tags=self.scores["tags"].map(list)),
                  "summary": self.summary, "usage": self.usage}
        if self.comparisons is not None:
            tables["comparisons"] = self.comparisons
        for name, frame in tables.items():
            write_table(frame, out, name)
        meta: dict[str, Any] = {"name": self.spec.name, "kind": "agents",
                                "spec": self.spec.model_dump(mode="json"), "hashes": self.hashes,
                                "seconds": round(self.seconds, 3), "run_id": self.run_id,
                                "stop_reasons": stop_reasons(self.outputs)}
        if self.verdict is not None:
            meta["verdict"] = self.verdict.to_dict()
        (out / "suite.json").write_text(json.dumps(jsonable(meta), indent=2) + "\n", encoding="utf-8")
        (out / "report.html").write_text(render_agent_html(self), encoding="utf-8")
        return out


def cases_table(cases: list[AgentCase]) -> pd.DataFrame:
    """The cases as declared: structured fields as canonical JSON text."""
    rows = [{"case_id": c.id, "turns": canonical_json(c.user_turns),
             "expected_calls": None if c.expected_calls is None else
             canonical_json(c.model_dump(mode="json")["expected_calls"]),
             "order": canonical_json(c.model_dump(mode="json")["order"]),
             "expected_state": None if c.expected_state is None else canonical_json(c.expected_state),
             "tags": list(c.tags), "cluster": c.unit} for c in cases]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def stop_reasons(outputs: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per agent: how many cases stopped on a final reply, on max_steps, on an error."""
    out: dict[str, dict[str, int]] = {}
    for variant, g in outputs.groupby("variant", sort=False):
        counts = g["stop_reason"].value_counts()
        out[str(variant)] = {k: int(counts.get(k, 0)) for k in ("final", "max_steps", "error")}
    return out


def _score_all(scorer: AgentScorer, cases: list[AgentCase], traces: list[Trace]) -> list[Score | None]:
    out: list[Score | None] = []
    for case, trace in zip(cases, traces, strict=True):
        if not scorer.applies(case.tags):
            out.append(None)
            continue
        try:
            out.append(scorer.score(case, trace))
        except AssayError:
            raise
        except Exception as exc:  # noqa: BLE001 - a scorer bug is that case's error, not the run's
            out.append(scorer_failed(scorer, exc))
    return out


def _json(v: Any) -> str | None:
    return None if v is None else canonical_json(v)


def trace_rows(variant: str, trace: Trace
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(tool call rows, model call rows, the output row) of one trace."""
    calls = [{"variant": variant, "case_id": trace.case_id, "turn": c.turn, "step": c.step, "seq": c.seq,
              "call_id": c.call_id, "name": c.name, "arguments": _json(c.arguments),
              "raw_arguments": c.raw_arguments, "result": _json(c.result), "error": c.error,
              "error_kind": c.error_kind, "schema_valid": c.schema_valid, "latency_s": c.latency_s}
             for c in trace.calls]
    steps = [{"variant": variant, "case_id": trace.case_id, "turn": s.turn, "step": s.step,
              "status": s.status, "error": s.error, "prompt_tokens": s.prompt_tokens,
              "completion_tokens": s.completion_tokens, "latency_s": s.latency_s, "cost": s.cost,
              "cached": s.cached, "attempts": s.attempts, "finish_reason": s.finish_reason,
              "n_tool_calls": s.n_tool_calls, "request_sha256": s.request_sha256} for s in trace.steps]
    output = {"variant": variant, "case_id": trace.case_id,
              "status": "error" if trace.stop_reason == "error" else "ok", "stop_reason": trace.stop_reason,
              "error": trace.error, "final_text": trace.final_text, "finals": canonical_json(trace.finals),
              "turns": len(trace.turns), "steps": trace.n_steps, "n_calls": len(trace.calls),
              "n_tool_errors": sum(c.error is not None for c in trace.calls),
              "prompt_tokens": trace.prompt_tokens, "completion_tokens": trace.completion_tokens,
              "cost": trace.cost, "latency_s": trace.latency_s, "cached": trace.cached,
              "messages": canonical_json(trace.messages), "final_state": canonical_json(trace.final_state),
              "state_diff": canonical_json(trace.state_diff())}
    return calls, steps, output


def tools_sha256(spec: AgentSuiteSpec, base_dir: Path) -> str:
    """SHA-256 of the tool declarations and the source files of ``file.py`` tools."""
    import hashlib

    h = hashlib.sha256(canonical_json([t.model_dump(mode="json") for t in spec.tools]).encode())
    for t in spec.tools:
        if t.function is not None and t.function.rpartition(":")[0].endswith(".py"):
            path = Path(t.function.rpartition(":")[0])
            path = path if path.is_absolute() else base_dir / path
            if path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()


def run_agent_suite(spec: AgentSuiteSpec, base_dir: str | Path = ".", providers: dict[str, Any] | None = None,
                    progress: Progress | None = None) -> AgentSuiteResult:
    """Run every case with every agent, score, summarise, compare and gate. ``providers`` may
    supply provider objects by name (tests, notebooks) instead of building them from the spec."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    base = Path(base_dir)
    cases = load_agent_cases(spec.cases, base)
    check_tool_names(cases, [t.name for t in spec.tools],
                     "cases" if isinstance(spec.cases, list) else spec.cases)
    toolbox = Toolbox(spec.tools, base)
    scorers = spec.scorer_configs()
    cache = None if spec.cache is False else ResponseCache(
        base / (spec.cache if isinstance(spec.cache, str) else ".assay/llm-cache"))
    params = {"seed": spec.seed} | dict(spec.params)
    runs: dict[str, list[Trace]] = {}
    for agent in spec.variants():
        client = (providers or {}).get(agent.name) or make_provider(agent, base)
        runs[agent.name] = run_agents(
            client, cases, toolbox, model=agent.model_name, max_steps=spec.max_steps, params=params,
            system=spec.system, initial_state=spec.initial_state, cache=cache,
            progress=lambda d, t, name=agent.name: report(f"running {name}", d, t))
    call_rows, step_rows, out_rows, score_rows = [], [], [], []
    for variant, traces in runs.items():
        for trace in traces:
            c, s, o = trace_rows(variant, trace)
            call_rows += c
            step_rows += s
            out_rows.append(o)
        per_scorer = []
        for i, scorer in enumerate(scorers):
            report("scoring", i, len(scorers))
            per_scorer.append(_score_all(scorer, cases, traces))
        for k, (case, _) in enumerate(zip(cases, traces, strict=True)):
            for got in per_scorer:
                sc = got[k]
                if sc is None:
                    continue
                score_rows.append({"variant": variant, "case_id": case.id, "sample": 0,
                                   "tags": tuple(case.tags), "scorer": sc.scorer, "value": sc.value,
                                   "passed": sc.passed, "status": sc.status, "reason": sc.reason,
                                   "cluster": case.unit})
    traces_df = pd.DataFrame(call_rows, columns=TRACE_COLUMNS)
    requests = pd.DataFrame(step_rows, columns=REQUEST_COLUMNS)
    outputs = pd.DataFrame(out_rows, columns=OUTPUT_COLUMNS)
    scores = pd.DataFrame(score_rows, columns=SCORE_COLUMNS)
    scores["value"] = pd.to_numeric(scores["value"], errors="coerce").astype(float)
    report("summarising", 0, 1)
    summary = summarize(scores, samples=1, confidence=spec.confidence, replicates=spec.bootstrap,
                        seed=spec.seed)
    comparisons = None
    pair = spec.comparison()
    if pair is not None:
        from assay.llm._compare import compare_variants

        comparisons = compare_variants(scores, pair[0], pair[1], samples=1, confidence=spec.confidence)
    verdict = None
    if spec.gates:
        from assay.llm._gates import gate_suite

        names = list(runs)
        verdict = gate_suite(spec.gates, summary, comparisons, names, pair[0] if pair else None,
                             pair[1] if pair else [], spec.confidence, spec.min_cases)
    hashes = {"cases": cases_sha256(cases), "tools": tools_sha256(spec, base),
              "scorers": {s.label: s.config_hash() for s in scorers}}
    return AgentSuiteResult(spec, cases, runs, traces_df, requests, outputs, scores, summary, usage(requests),
                            comparisons=comparisons, verdict=verdict, hashes=hashes,
                            seconds=time.perf_counter() - started)
