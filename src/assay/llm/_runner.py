"""Run a suite: render every case under every variant and sample, get the answers (cache
first), score them, and summarise. Provider errors and scorer failures are recorded per
case; the run itself only stops on bad input."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay._errors import AssayError, InputError, repeated
from assay._loader import load_function
from assay.llm._aggregate import summarize, usage
from assay.llm._calibration import calibrate, judge_scales, load_labels
from assay.llm._cases import Case, cases_sha256, load_cases
from assay.llm._compare import compare_variants
from assay.llm._prompts import render_messages
from assay.llm._score import ERROR, CaseView, Score
from assay.llm._suite import ProviderSpec, SuiteSpec
from assay.llm._tradeoffs import tradeoffs
from assay.llm.judges import JudgeConfig, judge_cases
from assay.llm.providers import (
    CallableChat,
    ChatRequest,
    ChatResult,
    LocalChat,
    OpenAIChat,
    Prices,
    ResponseCache,
    RetryPolicy,
    complete_cached,
)
from assay.llm.providers._local import PACKAGED
from assay.safety._summary import safety_checks, safety_failures, safety_table

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

OUTPUT_COLUMNS = ["variant", "case_id", "sample", "text", "status", "error", "prompt_tokens",
                  "completion_tokens", "latency_s", "cost", "cached", "attempts", "request_sha256"]
SCORE_COLUMNS = ["variant", "case_id", "sample", "tags", "scorer", "value", "passed", "status", "reason",
                 "cluster"]
JUDGE_TABLE_COLUMNS = ["scorer", "model", "provider", "temperature", "seed", "prompt_sha256", "fingerprint"]


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
    #: the cases as asked (input or messages, expected, context, tags): the report's drill-down
    cases: list[Case] = field(default_factory=list)
    #: quality x cost x latency per variant and scorer (see assay.llm._tradeoffs)
    tradeoffs: pd.DataFrame | None = None
    #: each judge's model, sampling settings, prompt hash and fingerprint
    judges: pd.DataFrame | None = None
    #: judge agreement with human labels, when the suite has ``calibration`` (CALIBRATION_COLUMNS
    #: plus ``labels``, the labels file; see assay.llm._calibration)
    calibration: pd.DataFrame | None = None
    #: what happened to each labels file's rows (read, matched, unmatched ids, blanks)
    label_counts: list[dict[str, Any]] = field(default_factory=list)
    #: what changed since the previous recorded run of the suite (see assay.llm._record)
    comparability: dict[str, Any] | None = None
    run_id: str | None = None
    store: str | None = None
    #: safety checks' failure rates per family and attack variant, clustered by seed prompt
    #: (see assay.safety._summary.SAFETY_COLUMNS), and their failing cases, values masked
    safety: pd.DataFrame | None = None
    safety_failures: pd.DataFrame | None = None

    def write(self, folder: str | Path) -> Path:
        """The run folder: every table as Parquet and JSON, suite.json, report.html, summary.md."""
        from assay.llm._folder import write_suite

        return write_suite(self, Path(folder))


def make_provider(spec: ProviderSpec, base_dir: Path = Path(".")) -> Any:
    """The provider object for a provider spec (HTTP client, function or local model; a
    relative GGUF path or ``file.py:function`` is relative to the suite's folder)."""
    if spec.callable is not None:
        fn = load_function(spec.callable, base_dir, f"provider {spec.name!r}")
        return CallableChat(fn, concurrency=spec.concurrency)
    prices = Prices(spec.prices.input_per_1k, spec.prices.output_per_1k)
    if spec.gguf is not None:
        base = Path(spec.gguf)
        model = spec.gguf if spec.gguf in PACKAGED or base.is_absolute() else str(base_dir / base)
        return LocalChat(model, n_ctx=spec.n_ctx, n_threads=spec.n_threads, prices=prices)
    key = None
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env)
        if not key:
            raise InputError(f"provider {spec.name!r}: the environment variable {spec.api_key_env} is "
                             "not set; export the API key there")
    assert spec.base_url is not None
    return OpenAIChat(spec.base_url, api_key=key, timeout=spec.timeout, concurrency=spec.concurrency,
                      retry=RetryPolicy(max_attempts=spec.max_attempts), prices=prices)


def scorer_failed(scorer: Any, exc: Exception) -> Score:
    """The error score of a scorer that raised on one case (a bug there is that case's error)."""
    return Score(scorer.label, None, None, ERROR, f"the scorer failed: {exc.__class__.__name__}: {exc}")


def _score_all(scorer: Any, views: list[CaseView]) -> list[Score]:
    """One scorer over every output: in one batch when the scorer has ``score_many`` (models
    such as an embedding model score a batch far faster than case by case), else per case. A
    scorer failure is that case's error, not the run's; a failing batch is retried per case so
    one bad case does not take the others with it."""
    many = getattr(scorer, "score_many", None)
    if many is not None:
        try:
            got = list(many(views))
            if len(got) == len(views):
                return got
        except AssayError:
            raise  # bad input or a missing model: the run stops once, with the fix
        except Exception:  # noqa: BLE001 - fall back to per-case scoring, which names the case
            pass
    out = []
    for view in views:
        try:
            out.append(scorer.score(view))
        except AssayError:
            raise
        except Exception as exc:  # noqa: BLE001 - a scorer bug is that case's error, not the run's
            out.append(scorer_failed(scorer, exc))
    return out


def judges_table(scorers: list[Any]) -> pd.DataFrame:
    """One row per judge scorer: what makes its scores comparable across runs."""
    from assay.llm.judges import judge_fingerprint

    rows = [{"scorer": j.label, "model": j.model, "provider": j.provider,
             "temperature": float(j.temperature), "seed": getattr(j, "seed", None),
             "prompt_sha256": j.prompt_sha256(), "fingerprint": judge_fingerprint(j)}
            for j in scorers if isinstance(j, JudgeConfig)]
    return pd.DataFrame(rows, columns=JUDGE_TABLE_COLUMNS)


def run_suite(spec: SuiteSpec, base_dir: str | Path = ".", *, progress: Progress | None = None,
              providers: dict[str, Any] | None = None) -> SuiteResult:
    """Run every case under every variant and sample; ``providers`` may supply provider
    objects by name (tests, notebooks) instead of building them from the spec."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    base = Path(base_dir)
    cases = load_cases(spec.cases, base) if spec.cases is not None else []
    if spec.safety is not None:
        from assay.safety.attacks import build_safety

        cases += build_safety(spec.safety, base)[0]
        repeats = repeated([c.id for c in cases])
        if repeats:
            raise InputError(f"case id(s) {', '.join(map(repr, repeats[:5]))} are both in 'cases' and "
                             "generated by the safety section; rename your cases")
    labels = [load_labels(c, base) for c in spec.calibration]  # a bad labels file fails before any call
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
            clients[name] = make_provider(next(p for p in spec.providers if p.name == name), base)
        return clients[name]

    answers: dict[int, ChatResult] = {}
    for pname, idx in by_provider.items():
        got = complete_cached(client_of(pname), [jobs[i][3] for i in idx], cache,
                              progress=lambda d, t, pname=pname: report(f"asking {pname}", d, t))
        answers.update(zip(idx, got, strict=True))
    views = [CaseView(case.id, answers[i].text if answers[i].status == "ok" else None, case.expected,
                      case.input, [dict(d) for d in case.context], case.tags, dict(case.vars),
                      request.messages)
             for i, (_, case, _, request) in enumerate(jobs)]
    judged: dict[str, dict[int, Score]] = {}  # scorer -> job position -> score (its cases only)
    for si, scorer in enumerate(scorers):
        mine = [i for i, job in enumerate(jobs) if scorer.applies(job[1].tags)]
        subset = [views[i] for i in mine]
        if isinstance(scorer, JudgeConfig):
            got = judge_cases(scorer, subset, client_of(scorer.provider), cache,
                              progress=lambda d, t, name=scorer.label: report(f"judging ({name})", d, t))
        else:
            report(f"scoring ({scorer.label})", si, len(scorers))
            got = _score_all(scorer, subset)
        judged[scorer.label] = dict(zip(mine, got, strict=True))
    out_rows, score_rows = [], []
    for i, (vname, case, sample, request) in enumerate(jobs):
        r = answers[i]
        out_rows.append({"variant": vname, "case_id": case.id, "sample": sample, "text": r.text,
                         "status": r.status, "error": r.error, "prompt_tokens": r.prompt_tokens,
                         "completion_tokens": r.completion_tokens, "latency_s": r.latency_s,
                         "cost": r.cost, "cached": r.cached, "attempts": r.attempts,
                         "request_sha256": request.key})
        for scorer in scorers:
            s = judged[scorer.label].get(i)
            if s is None:
                continue
            score_rows.append({"variant": vname, "case_id": case.id, "sample": sample,
                               "tags": tuple(case.tags), "scorer": scorer.label, "value": s.value,
                               "passed": s.passed, "status": s.status, "reason": s.reason,
                               "cluster": case.unit})
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
    checks = safety_checks(scorers)
    safety = safety_table(scores, cases, checks, spec.confidence) if checks else None
    failures = safety_failures(scores, outputs, cases, checks) if checks else None
    verdict = None
    if spec.gates:
        from assay.llm._gates import gate_suite

        names = [v.name for v in variants]
        verdict = gate_suite(spec.gates, summary, comparisons, names, pair[0] if pair else None,
                             pair[1] if pair else [], spec.confidence, spec.min_cases,
                             analyses={"safety": safety} if safety is not None else None)
    calibrations = [calibrate(scores, lab, c, judge_kinds=judge_scales(scorers), confidence=spec.confidence,
                              replicates=spec.bootstrap, seed=spec.seed)
                    for c, lab in zip(spec.calibration, labels, strict=True)]
    calibration = (pd.concat([c.table.assign(labels=c.counts.source) for c in calibrations],
                             ignore_index=True) if calibrations else None)
    if calibrations:
        hashes["labels"] = {c.counts.source: c.counts.sha256 for c in calibrations}
    judges = judges_table(scorers)
    hashes["judges"] = dict(zip(judges["scorer"], judges["fingerprint"], strict=True))
    return SuiteResult(spec, outputs, scores, summary, usage(outputs), hashes=hashes,
                       comparisons=comparisons, seconds=time.perf_counter() - started, verdict=verdict,
                       cases=cases, tradeoffs=tradeoffs(summary, outputs, confidence=spec.confidence),
                       judges=judges, calibration=calibration,
                       label_counts=[c.counts.to_dict() for c in calibrations], safety=safety,
                       safety_failures=failures)
