"""The HTTP provider against a real server and a real model: SmolLM2-135M-Instruct served by
llama-cpp-python over loopback. Assertions are about structure and behaviour (statuses,
token counts, cache hits, schema-valid constrained output), never an exact model text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from assay.llm.providers import OK, ChatRequest, OpenAIChat, ResponseCache, complete_cached

QUESTIONS = ["What is the capital of France?", "What is 2+2? Answer with a number.", "Say hello.",
             "Name a color.", "Is the sky blue? Answer yes or no.", "Translate 'cat' to French."]
JUDGE_SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                                                 "reason": {"type": "string"}},
                "required": ["score", "reason"]}


@pytest.fixture(scope="module")
def server() -> str:
    from _llama_server import Unavailable, llama_server

    try:
        with llama_server() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(f"no local model server: {exc}")


def _requests(**params: object) -> list[ChatRequest]:
    return [ChatRequest("smollm2", ({"role": "user", "content": q},),
                        {"temperature": 0, "max_tokens": 24, "seed": 0, **params}) for q in QUESTIONS]


def test_real_answers_then_cache_hits(server: str, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache")
    client = OpenAIChat(server, concurrency=2, timeout=60)
    first = complete_cached(client, _requests(), cache)
    assert all(r.status == OK and isinstance(r.text, str) and r.text.strip() for r in first)
    assert all(r.prompt_tokens and r.prompt_tokens > 5 for r in first)
    assert all(0 < (r.completion_tokens or 0) <= 24 for r in first)
    assert all(r.attempts == 1 and not r.cached and r.latency_s > 0 for r in first)
    again = complete_cached(OpenAIChat("http://127.0.0.1:9/v1", timeout=1), _requests(), cache)
    # the second run never reaches a server (port 9 is closed): every answer is a cache hit
    assert all(r.cached and r.attempts == 0 for r in again)
    assert [r.text for r in again] == [r.text for r in first]


def test_schema_constrained_judge_output_is_valid(server: str) -> None:
    fmt = {"type": "json_object", "schema": JUDGE_SCHEMA}
    ask = "Rate this answer from 1 to 5 and say why. Question: {q} Answer: Paris. Reply in JSON."
    reqs = [ChatRequest("smollm2", ({"role": "user", "content": ask.format(q=q)},),
                        {"temperature": 0, "max_tokens": 60, "seed": 0, "response_format": fmt})
            for q in QUESTIONS[:3]]
    for r in OpenAIChat(server, concurrency=2, timeout=60).complete(reqs):
        assert r.status == OK
        jsonschema.validate(json.loads(r.text), JUDGE_SCHEMA)


def test_a_closed_port_is_a_per_case_error_not_a_crash() -> None:
    from assay.llm.providers import RetryPolicy

    got = OpenAIChat("http://127.0.0.1:9/v1", timeout=1, retry=RetryPolicy(max_attempts=2, base=0.01)
                     ).complete(_requests()[:2])
    assert all(r.status == "error" and "connection failed" in r.error and r.attempts == 2 for r in got)


def test_a_suite_end_to_end_against_the_real_model(server: str, tmp_path: Path) -> None:
    from assay.llm._runner import run_suite
    from assay.llm._suite import SuiteSpec

    cases = [{"id": "paris", "input": "What is the capital of France? Answer in one word.",
              "expected": "Paris", "tags": ["geo"]},
             {"id": "sum", "input": "What is 2+2? Answer with a number.", "expected": "4", "tags": ["math"]},
             {"id": "json", "input": "Reply with a JSON object with a key 'ok' set to true.",
              "tags": ["format"]}]
    spec = SuiteSpec.model_validate({
        "name": "smoke", "cases": cases,
        "providers": [{"name": "smollm2", "base_url": server, "concurrency": 2}],
        "params": {"temperature": [0], "max_tokens": [24]}, "cache": str(tmp_path / "cache"),
        "scorers": [{"kind": "contains", "case_sensitive": False}, {"kind": "numeric", "abs_tol": 0},
                    {"kind": "json_valid"}, {"kind": "length", "unit": "words", "max": 40},
                    {"kind": "judge", "name": "judge", "provider": "smollm2", "model": "smollm2",
                     "rubric": "5: correct and brief; 1: wrong or off topic.", "max_tokens": 80,
                     "scale": {"min": 1, "max": 5, "pass_at": 4}}]})
    first = run_suite(spec, tmp_path)
    assert (first.outputs["status"] == "ok").all() and not first.outputs["cached"].any()
    assert len(first.scores) == 15 and set(first.scores["status"]) <= {"ok", "undetermined"}
    judge = first.scores[first.scores["scorer"] == "judge"]
    assert (judge["status"] == "ok").any()  # schema-constrained: the strict parser accepts it
    assert judge.loc[judge["status"] == "ok", "value"].between(1, 5).all()
    # cases without an expected value are undetermined for contains/numeric, never scored 0
    no_expected = first.scores[(first.scores["case_id"] == "json")
                               & first.scores["scorer"].isin(["contains", "numeric"])]
    assert (no_expected["status"] == "undetermined").all()
    second = run_suite(spec, tmp_path)
    assert second.outputs["cached"].all() and second.scores.equals(first.scores)
