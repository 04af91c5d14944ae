"""Running judges: every case of one judge in one cached batch, with a bounded re-ask on invalid
replies.

Round 1 sends one request per case through :func:`assay.llm.providers.complete_cached` (so a
re-run or re-score costs nothing). A reply that fails the strict parse is re-asked in the next
round: the first request's messages, the invalid reply as the assistant turn and a user turn
naming the parse error and the attempt number, so each retry is a distinct request with its own
cache key. After ``1 + max_retries_invalid`` attempts a case that never parsed is
``undetermined`` ("judge output invalid after N attempts: <error>"), counted and never averaged.
A judge-provider failure is an ``error`` score naming the failure; a case whose output is
missing (the model under test failed) is an ``error`` score and costs no judge call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.llm._score import ERROR, NO_OUTPUT, OK, STATUSES, UNDETERMINED, CaseView, Score
from assay.llm.judges._rubric import (
    JudgeConfig,
    JudgeOutputError,
    PairwiseJudgeConfig,
    _JudgeBase,
    expected_text,
    judge_fingerprint,
    truncate,
)
from assay.llm.providers._cache import ResponseCache
from assay.llm.providers._run import Provider, complete_cached
from assay.llm.providers._types import ChatRequest

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PairView:
    """What a pairwise judge sees: one case and two outputs (``a`` shown first as "Output A").
    An output None means its provider failed."""

    id: str
    a: str | None
    b: str | None
    input: str | None = None
    expected: Any = None
    context: list[dict[str, str]] = field(default_factory=list)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairVerdict:
    """A pairwise judge's verdict on one pair: ``winner`` is the position ("A", "B" or "tie") and
    is set only when ``status`` is ok; undetermined and error verdicts say why in ``reason``."""

    id: str
    judge: str
    winner: str | None
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"PairVerdict.status must be one of {', '.join(STATUSES)}; got {self.status!r}")
        if (self.status == OK) != (self.winner is not None):
            raise ValueError(f"pair {self.id!r}: a winner is set exactly when the status is ok; "
                             f"got status={self.status!r}, winner={self.winner!r}")


@dataclass
class _Outcome:
    """One item's way through the rounds."""

    verdict: Any = None
    status: str = OK
    reason: str = ""
    attempts: int = 0
    raw: str | None = None
    errors: list[str] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    latency_s: float = 0.0
    cache_hits: int = 0

    def details(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "raw_output": truncate(self.raw),
                "parse_errors": list(self.errors),
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost": self.cost, "latency_s": self.latency_s, "cache_hits": self.cache_hits}


def _add(total: Any, part: Any) -> Any:
    if part is None:
        return total
    return part if total is None else total + part


def _ask(judge: _JudgeBase, base: Sequence[tuple[dict[str, str], ...] | None], provider: Provider,
         cache: ResponseCache | None, progress: Progress | None) -> list[_Outcome | None]:
    """Ask the judge about every item (None: skip it), re-asking invalid replies in later rounds."""
    outcomes: list[_Outcome | None] = [None if m is None else _Outcome() for m in base]
    pending: dict[int, tuple[dict[str, str], ...]] = {i: m for i, m in enumerate(base) if m is not None}
    total = judge.max_retries_invalid + 1
    params = judge.request_params()
    for attempt in range(1, total + 1):
        if not pending:
            break
        order = sorted(pending)
        requests = [ChatRequest(judge.model, pending[i], dict(params)) for i in order]
        results = complete_cached(provider, requests, cache, progress)
        pending = {}
        for i, result in zip(order, results, strict=True):
            out = outcomes[i]
            assert out is not None
            out.attempts = attempt
            out.prompt_tokens = _add(out.prompt_tokens, result.prompt_tokens)
            out.completion_tokens = _add(out.completion_tokens, result.completion_tokens)
            out.cost = _add(out.cost, result.cost)
            out.latency_s += result.latency_s
            out.cache_hits += int(result.cached)
            if result.status != OK or result.text is None:
                out.status = ERROR
                out.reason = (f"judge provider error on attempt {attempt}: "
                              f"{result.error or 'the provider returned no text'}")
                continue
            out.raw = result.text
            try:
                out.verdict = judge.parse(result.text)
            except JudgeOutputError as exc:
                error = str(exc)
                if result.finish_reason == "length":
                    error += f" (the reply was cut at max_tokens={judge.max_tokens})"
                out.errors.append(error)
                if attempt < total:
                    base_messages = base[i]
                    assert base_messages is not None
                    pending[i] = (*base_messages,
                                  {"role": "assistant", "content": truncate(result.text) or ""},
                                  {"role": "user", "content": judge.retry_message(error, attempt + 1)})
                else:
                    out.status = UNDETERMINED
                    out.reason = f"judge output invalid after {attempt} attempts: {error}"
    return outcomes


def _common(judge: _JudgeBase) -> dict[str, Any]:
    return {"model": judge.model, "temperature": judge.temperature, "seed": judge.seed,
            "constrain": judge.constrain, "prompt_sha256": judge.prompt_sha256(),
            "fingerprint": judge_fingerprint(judge)}  # type: ignore[arg-type]


def _case_variables(case: CaseView | PairView) -> dict[str, Any]:
    return {"id": case.id, "input": case.input, "expected": expected_text(case.expected),
            "context": [dict(d) for d in case.context], "tags": list(case.tags)}


def judge_messages(judge: JudgeConfig, case: CaseView) -> tuple[dict[str, str], ...]:
    """The first-attempt chat messages the judge receives for one case (output must be set)."""
    return judge.render({**_case_variables(case), "output": case.output}, f"case {case.id!r}")


def judge_cases(judge: JudgeConfig, cases: Sequence[CaseView], provider: Provider,
                cache: ResponseCache | None = None, progress: Progress | None = None) -> list[Score]:
    """Score every case with a pointwise judge, in case order: one batch of requests per round
    (``1 + max_retries_invalid`` rounds at most), all through the cache.

    ``Score.details`` records the judge model, temperature, seed, constraint, the prompt hash and
    fingerprint, the judge's raw score, attempts, the last raw reply (truncated), the parse
    errors, tokens, cost, latency and cache hits (summed over attempts).
    """
    if not isinstance(judge, JudgeConfig):
        raise TypeError(f"judge_cases needs a JudgeConfig, got {type(judge).__name__}; "
                        "pairwise judges go through pairwise_judge")
    base = [None if c.output is None else judge_messages(judge, c) for c in cases]
    outcomes = _ask(judge, base, provider, cache, progress)
    common = _common(judge)
    scores = []
    for out in outcomes:
        if out is None:
            scores.append(Score(judge.label, None, None, ERROR, NO_OUTPUT, dict(common)))
            continue
        details = {**common, **out.details()}
        if out.status == OK:
            score, reason = out.verdict
            value, passed = judge.value_of(score)
            scores.append(Score(judge.label, value, passed, OK, reason, {**details, "judge_score": score}))
        else:
            scores.append(Score(judge.label, None, None, out.status, out.reason, details))
    return scores


def pairwise_messages(judge: PairwiseJudgeConfig, pair: PairView) -> tuple[dict[str, str], ...]:
    """The first-attempt chat messages the pairwise judge receives for one pair."""
    variables = {**_case_variables(pair), "output_a": pair.a, "output_b": pair.b}
    return judge.render(variables, f"pair {pair.id!r}")


def pairwise_judge(judge: PairwiseJudgeConfig, pairs: Sequence[PairView], provider: Provider,
                   cache: ResponseCache | None = None, progress: Progress | None = None) -> list[PairVerdict]:
    """Ask which output of each pair better meets the rubric, in pair order, with the same strict
    parsing, bounded re-ask and batching as :func:`judge_cases`. A pair with a missing output
    is an ``error`` verdict and costs no judge call."""
    if not isinstance(judge, PairwiseJudgeConfig):
        raise TypeError(f"pairwise_judge needs a PairwiseJudgeConfig, got {type(judge).__name__}")
    base = [None if p.a is None or p.b is None else pairwise_messages(judge, p) for p in pairs]
    outcomes = _ask(judge, base, provider, cache, progress)
    common = _common(judge)
    verdicts = []
    for pair, out in zip(pairs, outcomes, strict=True):
        if out is None:
            which = " and ".join(w for w, o in (("A", pair.a), ("B", pair.b)) if o is None)
            verdicts.append(PairVerdict(pair.id, judge.label, None, ERROR,
                                        f"{NO_OUTPUT}: output {which} is missing", dict(common)))
        elif out.status == OK:
            winner, reason = out.verdict
            verdicts.append(PairVerdict(pair.id, judge.label, winner, OK, reason,
                                        {**common, **out.details()}))
        else:
            verdicts.append(PairVerdict(pair.id, judge.label, None, out.status, out.reason,
                                        {**common, **out.details()}))
    return verdicts
