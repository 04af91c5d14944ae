"""Run a suite: render every case under every variant and sample, get the answers (cache
first), score them, and summarise. Provider errors and scorer failures are recorded per
case; the run itself only stops on bad input."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay._errors import InputError
from assay.llm._aggregate import summarize, usage
from assay.llm._cases import Case, cases_sha256, load_cases
from assay.llm._compare import compare_variants
from assay.llm._prompts import render_messages
from assay.llm._score import ERROR, CaseView, Score
from assay.llm._suite import ProviderSpec, SuiteSpec
from assay.llm.judges import JudgeConfig, judge_cases
from assay.llm.providers import (
    CallableChat,
    ChatRequest,
    ChatResult,
    OpenAIChat,
    Prices,
    ResponseCache,
    RetryPolicy,
    complete_cached,
)

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

OUTPUT_COLUMNS = ["variant", "case_id", "sample", "text", "status", "error", "prompt_tokens",
                  "completion_tokens", "latency_s", "cost", "cached", "attempts", "request_sha256"]
SCORE_COLUMNS = ["variant", "case_id", "sample", "tags", "scorer", "value", "passed", "status", "reason"]


@dataclass
class SuiteResult:
    """Outputs, scores, the summary with intervals, usage per variant, and the hashes that
    identify what was asked and how it was scored."""

    spec: SuiteSpec
    outputs: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    usage: pd.DataFrame
    hashes: dict[str, Any] = field(default_factory=dict)
    #: each candidate variant vs the baseline, paired on the cases (see assay.llm._compare)
    comparisons: pd.DataFrame | None = None
    #: the gate verdict when the suite has gates
    verdict: Any = None
    seconds: float = 0.0


def make_provider(spec: ProviderSpec) -> Any:
    """The provider object for a provider spec (HTTP client or function)."""
    if spec.callable is not None:
        module, _, name = spec.callable.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"provider {spec.name!r}: cannot import {spec.callable!r} ({exc}); give "
                             "'module:function' importable from the working directory") from None
        return CallableChat(fn, concurrency=spec.concurrency)
    key = None
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env)
        if not key:
            raise InputError(f"provider {spec.name!r}: the environment variable {spec.api_key_env} is "
                             "not set; export the API key there")
    assert spec.base_url is not None
    return OpenAIChat(spec.base_url, api_key=key, timeout=spec.timeout, concurrency=spec.concurrency,
                      retry=RetryPolicy(max_attempts=spec.max_attempts),
                      prices=Prices(spec.prices.input_per_1k, spec.prices.output_per_1k))


def _score(scorer: Any, view: CaseView) -> Score:
    try:
        return scorer.score(view)
    except Exception as exc:  # noqa: BLE001 - a scorer bug is that case's error, not the run's
        return Score(scorer.label, None, None, ERROR, f"the scorer failed: {exc.__class__.__name__}: {exc}")


def run_suite(spec: SuiteSpec, base_dir: str | Path = ".", *, progress: Progress | None = None,
              providers: dict[str, Any] | None = None) -> SuiteResult:
    """Run every case under every variant and sample; ``providers`` may supply provider
    objects by name (tests, notebooks) instead of building them from the spec."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    base = Path(base_dir)
    cases = load_cases(spec.cases, base)
    scorers = spec.scorer_configs()
    variants = spec.variants()
    cache = None if spec.cache is False else ResponseCache(
        base / (spec.cache if isinstance(spec.cache, str) else ".assay/llm-cache"))
    jobs: list[tuple[str, Case, int, ChatRequest]] = []
    by_provider: dict[str, list[int]] = {}  # provider -> positions of its jobs
    for variant in variants:
        for case in cases:
            messages = render_messages(variant.prompt, case)
            for sample in range(spec.samples):
                params = dict(variant.params)
                params["seed"] = int(params.get("seed", spec.seed)) + sample
                by_provider.setdefault(variant.provider.name, []).append(len(jobs))
                jobs.append((variant.name, case, sample,
                             ChatRequest(variant.provider.model_name, messages, params)))
    clients = dict(providers or {})

    def client_of(name: str) -> Any:
        """One client per provider, shared by its variants and judges."""
        if name not in clients:
            clients[name] = make_provider(next(p for p in spec.providers if p.name == name))
        return clients[name]

    answers: dict[int, ChatResult] = {}
    for pname, idx in by_provider.items():
        got = complete_cached(client_of(pname), [jobs[i][3] for i in idx], cache,
                              progress=lambda d, t, pname=pname: report(f"asking {pname}", d, t))
        answers.update(zip(idx, got, strict=True))
    views = [CaseView(case.id, answers[i].text if answers[i].status == "ok" else None, case.expected,
                      case.input, [dict(d) for d in case.context], case.tags)
             for i, (_, case, _, _) in enumerate(jobs)]
    judged: dict[str, list[Score]] = {}
    for scorer in scorers:
        if isinstance(scorer, JudgeConfig):
            judged[scorer.label] = judge_cases(
                scorer, views, client_of(scorer.provider), cache,
                progress=lambda d, t, name=scorer.label: report(f"judging ({name})", d, t))
    out_rows, score_rows = [], []
    for i, (vname, case, sample, request) in enumerate(jobs):
        report("scoring", i, len(jobs))
        r = answers[i]
        out_rows.append({"variant": vname, "case_id": case.id, "sample": sample, "text": r.text,
                         "status": r.status, "error": r.error, "prompt_tokens": r.prompt_tokens,
                         "completion_tokens": r.completion_tokens, "latency_s": r.latency_s,
                         "cost": r.cost, "cached": r.cached, "attempts": r.attempts,
                         "request_sha256": request.key})
        for scorer in scorers:
            s = judged[scorer.label][i] if scorer.label in judged else _score(scorer, views[i])
            score_rows.append({"variant": vname, "case_id": case.id, "sample": sample,
                               "tags": tuple(case.tags), "scorer": scorer.label, "value": s.value,
                               "passed": s.passed, "status": s.status, "reason": s.reason})
    outputs = pd.DataFrame(out_rows, columns=OUTPUT_COLUMNS)
    scores = pd.DataFrame(score_rows, columns=SCORE_COLUMNS)
    scores["value"] = pd.to_numeric(scores["value"], errors="coerce").astype(float)
    report("summarising", 0, 1)
    summary = summarize(scores, samples=spec.samples, confidence=spec.confidence,
                        replicates=spec.bootstrap, seed=spec.seed)
    hashes = {"cases": cases_sha256(cases), "prompts": {p.name: p.sha256 for p in spec.prompts},
              "scorers": {s.label: s.config_hash() for s in scorers}}
    comparisons = None
    pair = spec.comparison()
    if pair is not None:
        comparisons = compare_variants(scores, pair[0], pair[1], samples=spec.samples,
                                       confidence=spec.confidence)
    verdict = None
    if spec.gates:
        from assay.llm._gates import gate_suite

        names = [v.name for v in variants]
        verdict = gate_suite(spec.gates, summary, comparisons, names, pair[0] if pair else None,
                             pair[1] if pair else [], spec.confidence, spec.min_cases)
    return SuiteResult(spec, outputs, scores, summary, usage(outputs), hashes=hashes,
                       comparisons=comparisons, seconds=time.perf_counter() - started, verdict=verdict)
