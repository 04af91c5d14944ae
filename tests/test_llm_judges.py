"""LLM-as-judge: strict parsing with a bounded re-ask, what the requests carry, caching, the
fingerprint, pairwise judging and the position-swap and verbosity probes (against scripted
judges with known biases, intervals checked against statsmodels and SciPy), and one run
against a real model (SmolLM2 served by llama.cpp) with a JSON-schema constraint."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import jsonschema
import pytest
from scipy import stats as st
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError, SpecError
from assay.llm import CaseView
from assay.llm.judges import (
    PROBE_COLUMNS,
    JudgeConfig,
    JudgeOutputError,
    PairView,
    PairwiseJudgeConfig,
    judge_cases,
    judge_fingerprint,
    judge_from_config,
    pad,
    pairwise_judge,
    position_swap_probe,
    verbosity_probe,
)
from assay.llm.providers import CallableChat, ChatRequest, ResponseCache

ORDINAL = {"min": 1, "max": 5, "pass_at": 4}


def judge(**kw: object) -> JudgeConfig:
    return JudgeConfig(**{"rubric": "Correct and concise answers score high.", "model": "judge-m",
                          "scale": ORDINAL, **kw})


def pairwise(**kw: object) -> PairwiseJudgeConfig:
    return PairwiseJudgeConfig(**{"rubric": "Prefer the more helpful output.", "model": "judge-m", **kw})


CASES = [CaseView("c1", "Paris", expected="Paris", input="Capital of France?",
                  context=[{"id": "d1", "text": "France's capital is Paris."}], tags=("geo",)),
         CaseView("c2", "5", expected="4", input="2+2?"),
         CaseView("c3", "Blue.", input="Sky colour?")]


class Script:
    """A CallableChat judge from a function of (request, section texts); records every request."""

    def __init__(self, answer):  # type: ignore[no-untyped-def]
        self.answer, self.requests, self._lock = answer, [], threading.Lock()

    def __call__(self, request: ChatRequest) -> object:
        with self._lock:
            self.requests.append(request)
        return self.answer(request, sections(request.messages[1]["content"]))

    @property
    def chat(self) -> CallableChat:
        return CallableChat(self, concurrency=2)


def sections(text: str) -> dict[str, str]:
    """The '## Header' sections of a rendered judge prompt."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def reply(score: object, reason: str = "Because.") -> str:
    return json.dumps({"score": score, "reason": reason})


# ---------------------------------------------------------------- pointwise: outcomes and details


def test_valid_ordinal_scores_values_pass_rule_and_details() -> None:
    scores_by_output = {"Paris": 5, "5": 1, "Blue.": 4}
    script = Script(lambda r, s: {"text": reply(scores_by_output[s["Output to evaluate"]], "Short reason."),
                                  "prompt_tokens": 100, "completion_tokens": 12, "cost": 0.25})
    j = judge(temperature=0.3, seed=7, max_tokens=64)
    got = judge_cases(j, CASES, script.chat)
    assert [(s.status, s.value, s.passed) for s in got] == [("ok", 5.0, True), ("ok", 1.0, False),
                                                            ("ok", 4.0, True)]
    assert all(s.scorer == "judge" and s.reason == "Short reason." for s in got)
    d = got[0].details
    assert (d["model"], d["temperature"], d["seed"], d["constrain"]) == ("judge-m", 0.3, 7, "json_schema")
    assert d["prompt_sha256"] == j.prompt_sha256() and d["fingerprint"] == judge_fingerprint(j)
    assert (d["attempts"], d["judge_score"], d["parse_errors"], d["cache_hits"]) == (1, 5, [], 0)
    assert (d["prompt_tokens"], d["completion_tokens"], d["cost"]) == (100, 12, 0.25)
    assert d["raw_output"] == reply(5, "Short reason.") and d["latency_s"] >= 0
    assert len(script.requests) == 3


def test_ordinal_without_pass_at_has_no_pass_rule() -> None:
    got = judge_cases(judge(scale={"min": 0, "max": 10}), CASES[:1], Script(lambda r, s: reply(0)).chat)
    assert (got[0].value, got[0].passed) == (0.0, None)


def test_pass_fail_scale() -> None:
    verdict = {"Paris": "pass", "5": "fail", "Blue.": "pass"}
    j = judge(scale="pass_fail")
    got = judge_cases(j, CASES, Script(lambda r, s: reply(verdict[s["Output to evaluate"]])).chat)
    assert [(s.value, s.passed) for s in got] == [(1.0, True), (0.0, False), (1.0, True)]
    assert j.output_schema()["properties"]["score"] == {"type": "string", "enum": ["pass", "fail"]}
    # an ordinal reply to a pass/fail judge is invalid, and vice versa
    with pytest.raises(JudgeOutputError, match='must be "pass" or "fail"'):
        j.parse(reply(5))
    with pytest.raises(JudgeOutputError, match="must be an integer"):
        judge().parse(reply("pass"))


def test_invalid_then_valid_is_reasked_with_the_error_and_succeeds() -> None:
    def answer(request: ChatRequest, s: dict[str, str]) -> str:
        return "Score: 4" if len(request.messages) == 2 else reply(4)

    script = Script(answer)
    j = judge()
    got = judge_cases(j, CASES, script.chat)
    assert all(s.status == "ok" and s.value == 4.0 for s in got)
    assert all(s.details["attempts"] == 2 and len(s.details["parse_errors"]) == 1 for s in got)
    assert "not a JSON object" in got[0].details["parse_errors"][0]
    assert len(script.requests) == 6
    retry = [r for r in script.requests if len(r.messages) == 4]
    assert len(retry) == 3
    first = next(r for r in script.requests if r.messages[1] == retry[0].messages[1] and len(r.messages) == 2)
    assert retry[0].messages[:2] == first.messages  # the same prompt, then the bad answer and the re-ask
    assert retry[0].messages[2] == {"role": "assistant", "content": "Score: 4"}
    ask = retry[0].messages[3]["content"]
    assert ask.startswith("Your reply was invalid: not a JSON object") and "attempt 2 of 3" in ask
    assert retry[0].key != first.key and retry[0].params == first.params


def test_always_invalid_is_undetermined_after_n_plus_one_attempts() -> None:
    for retries in (0, 2):
        script = Script(lambda r, s: '{"score": 9, "reason": "too high"}')
        got = judge_cases(judge(max_retries_invalid=retries), CASES, script.chat)
        assert len(script.requests) == 3 * (retries + 1)
        assert len({r.key for r in script.requests}) == 3 * (retries + 1)  # every retry is a new request
        for s in got:
            assert (s.status, s.value, s.passed) == ("undetermined", None, None)
            assert s.reason == f"judge output invalid after {retries + 1} attempts: 'score' 9 is outside 1..5"
            assert s.details["attempts"] == retries + 1 and len(s.details["parse_errors"]) == retries + 1


def test_a_cut_reply_says_so() -> None:
    chat = CallableChat(lambda r: '{"score": 4, "rea')

    class Cut:
        def complete(self, requests, done=None):  # type: ignore[no-untyped-def]
            out = chat.complete(requests, done)
            for r in out:
                r.finish_reason = "length"
            return out

    got = judge_cases(judge(max_retries_invalid=0, max_tokens=9), CASES[:1], Cut())
    assert got[0].reason.endswith("(the reply was cut at max_tokens=9)")


BAD_REPLIES = [
    ("", "the reply is empty"),
    ("   \n", "the reply is empty"),
    ("Score: 4", "not a JSON object"),
    ('```json\n{"score": 4, "reason": "x"}\n```', "not a JSON object"),
    ('{"score": 4, "reason": "x"} and more', "not a JSON object (Extra data"),
    ('[4, "x"]', "a JSON list instead of an object"),
    ('"4"', "a JSON str instead of an object"),
    ('{"score": 4}', "missing key(s) 'reason'"),
    ('{"score": 4, "reason": "x", "confidence": 0.9}', "unexpected key(s) 'confidence'"),
    ('{"Score": 4, "reason": "x"}', "missing key(s) 'score'; unexpected key(s) 'Score'"),
    ('{"score": 4, "score": 5, "reason": "x"}', "key 'score' appears twice"),
    ('{"score": 6, "reason": "x"}', "'score' 6 is outside 1..5"),
    ('{"score": 0, "reason": "x"}', "'score' 0 is outside 1..5"),
    ('{"score": 4.0, "reason": "x"}', "'score' must be an integer, got 4.0"),
    ('{"score": 4.5, "reason": "x"}', "'score' must be an integer"),
    ('{"score": "4", "reason": "x"}', "'score' must be an integer, got '4'"),
    ('{"score": true, "reason": "x"}', "'score' must be an integer, got True"),
    ('{"score": NaN, "reason": "x"}', "NaN is not valid JSON"),
    ('{"score": null, "reason": "x"}', "'score' must be an integer, got None"),
    ('{"score": 4, "reason": ""}', "'reason' must be a non-empty string"),
    ('{"score": 4, "reason": "  "}', "'reason' must be a non-empty string"),
    ('{"score": 4, "reason": 3}', "'reason' must be a non-empty string, got 3"),
]


@pytest.mark.parametrize(("text", "message"), BAD_REPLIES)
def test_strict_parser_rejects(text: str, message: str) -> None:
    with pytest.raises(JudgeOutputError) as info:
        judge().parse(text)
    assert message in str(info.value)
    got = judge_cases(judge(max_retries_invalid=1), CASES[:1], CallableChat(lambda r: text))
    assert got[0].status == "undetermined" and message in got[0].reason
    assert got[0].reason.startswith("judge output invalid after 2 attempts: ")


def test_strict_parser_accepts_and_schema_agrees() -> None:
    j = judge()
    assert j.parse('  {"reason": " Fine. ", "score": 3}\n') == (3, "Fine.")
    assert j.parse('{"score":1,"reason":"a"}') == (1, "a")
    # the JSON schema sent to the server accepts and rejects what the parser does
    schema = j.output_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for text, _ in BAD_REPLIES:
        try:
            obj = json.loads(text, object_pairs_hook=lambda p: dict(p) if len({k for k, _ in p}) == len(p)
                             else None)
        except ValueError:
            continue
        # stricter than JSON Schema on two points: a whitespace-only reason and 4.0 (an "integer"
        # in JSON Schema, a float here)
        if isinstance(obj, dict) and obj.get("reason") != "  " and text != '{"score": 4.0, "reason": "x"}':
            assert not jsonschema.Draft202012Validator(schema).is_valid(obj), text
    jsonschema.validate({"score": 5, "reason": "ok"}, schema)


# ---------------------------------------------------------------- what the requests carry


def test_requests_carry_rubric_case_and_parameters() -> None:
    script = Script(lambda r, s: reply(3))
    j = judge(rubric="RUBRIC-TEXT: correctness only.", temperature=0.0, seed=11, max_tokens=50)
    judge_cases(j, CASES, script.chat)
    by_case = {r.messages[1]["content"]: r for r in script.requests}
    assert len(by_case) == 3
    for request in script.requests:
        assert request.model == "judge-m" and request.messages[0]["role"] == "system"
        assert request.params == {"temperature": 0.0, "max_tokens": 50, "seed": 11,
                                  "response_format": {"type": "json_object", "schema": j.output_schema()}}
        body = request.body()
        assert body["response_format"]["schema"]["properties"]["score"] == {"type": "integer", "minimum": 1,
                                                                            "maximum": 5}
    one = sections(next(t for t in by_case if "Capital of France?" in t))
    assert one["Rubric"] == "RUBRIC-TEXT: correctness only."
    assert (one["Input"], one["Output to evaluate"]) == ("Capital of France?", "Paris")
    assert one["Reference answer"] == "Paris"
    assert one["Context documents"] == "[d1] France's capital is Paris."
    assert '"score": <an integer from 1 to 5>' in one["Your answer"]
    three = sections(next(t for t in by_case if "Sky colour?" in t))
    assert "Reference answer" not in three and "Context documents" not in three  # only when present


def test_constrain_none_sends_no_response_format_and_seed_none_no_seed() -> None:
    script = Script(lambda r, s: reply(3))
    judge_cases(judge(constrain="none", seed=None), CASES[:1], script.chat)
    assert script.requests[0].params == {"temperature": 0.0, "max_tokens": 256}


def test_non_text_expected_is_shown_as_json_and_custom_template_variables() -> None:
    script = Script(lambda r, s: reply(2))
    template = "## Rubric\n{{ rubric }}\n## Exp\n{{ expected }}\n## Tags\n{{ tags|join(',') }} {{ id }}"
    j = judge(template=template, system=None)
    judge_cases(j, [CaseView("x", "out", expected={"b": 1, "a": [1, 2]}, tags=("t1", "t2"))], script.chat)
    (request,) = script.requests
    assert len(request.messages) == 1 and request.messages[0]["role"] == "user"
    s = sections(request.messages[0]["content"])
    assert s["Exp"] == '{"a": [1, 2], "b": 1}' and s["Tags"] == "t1,t2 x"


def test_undefined_template_variable_is_an_input_error_naming_judge_and_case() -> None:
    j = judge(name="tone", template="{{ rubric }} {{ output }} {{ audience }}")
    message = r"judge 'tone', case 'c1': 'audience' is undefined in its user template"
    with pytest.raises(InputError, match=message):
        judge_cases(j, CASES, CallableChat(lambda r: reply(3)))


# ---------------------------------------------------------------- missing outputs, provider errors


def test_missing_output_is_an_error_without_a_call_and_provider_errors_are_errors() -> None:
    script = Script(lambda r, s: reply(3))
    got = judge_cases(judge(), [CaseView("gone", None), *CASES[:1]], script.chat)
    assert (got[0].status, got[0].reason) == ("error", "no output (provider error)")
    assert len(script.requests) == 1

    def boom(request: ChatRequest) -> str:
        raise TimeoutError("judge server down")

    got = judge_cases(judge(), CASES[:2], CallableChat(boom))
    assert all(s.status == "error" and s.value is None for s in got)
    assert got[0].reason == "judge provider error on attempt 1: TimeoutError: judge server down"
    got = judge_cases(judge(), CASES[:1], CallableChat(lambda r: {"text": None}))
    assert got[0].status == "error" and "returned no text" in got[0].reason


# ---------------------------------------------------------------- cache


def test_cache_second_run_makes_no_calls_including_retries(tmp_path: Path) -> None:
    def answer(request: ChatRequest, s: dict[str, str]) -> str:
        if s["Output to evaluate"] == "5":
            return "not json"  # always invalid: 3 attempts, none stored as valid, all cached as answers
        return "bad" if len(request.messages) == 2 else reply(4)

    cache = ResponseCache(tmp_path / "cache")
    script = Script(answer)
    first = judge_cases(judge(), CASES, script.chat, cache)
    assert len(script.requests) == 2 + 3 + 2
    again = Script(answer)
    second = judge_cases(judge(), CASES, again.chat, cache)
    assert again.requests == []
    assert [(s.status, s.value, s.reason) for s in second] == [(s.status, s.value, s.reason) for s in first]
    assert [s.details["cache_hits"] for s in second] == [2, 3, 2]
    assert [s.details["attempts"] for s in second] == [2, 3, 2]
    # another rubric is another request: no reuse
    other = Script(answer)
    judge_cases(judge(rubric="Something else."), CASES, other.chat, cache)
    assert len(other.requests) == 7


# ---------------------------------------------------------------- config, hashes, fingerprint


def test_fingerprint_changes_with_what_makes_scores_comparable() -> None:
    base = judge()
    fp = judge_fingerprint(base)
    assert fp == judge_fingerprint(judge()) and len(fp) == 64
    changed = [judge(model="other"), judge(rubric="Different rubric."), judge(scale={"min": 1, "max": 7}),
               judge(scale={"min": 1, "max": 5, "pass_at": 3}), judge(scale="pass_fail"),
               judge(temperature=0.7), judge(constrain="none"), judge(system="Be kind."),
               judge(template="{{ rubric }} {{ output }} {{ instructions }}")]
    fps = [judge_fingerprint(j) for j in changed]
    assert fp not in fps and len(set(fps)) == len(fps)
    same = [judge(name="named"), judge(seed=3), judge(max_tokens=99), judge(max_retries_invalid=0),
            judge(provider="local")]
    assert all(judge_fingerprint(j) == fp for j in same)
    assert judge(seed=3).config_hash() != base.config_hash()  # the full config hash sees every key
    assert judge_fingerprint(pairwise()) != judge_fingerprint(pairwise(allow_tie=True))
    # the prompt hash is of the prompt's definition, not of a rendered prompt
    assert base.prompt_sha256() == judge(model="other", temperature=0.9).prompt_sha256()
    assert base.prompt_sha256() != judge(rubric="Different rubric.").prompt_sha256()


def test_config_round_trip_and_validation_errors() -> None:
    j = judge(name="helpful", provider="local")
    assert judge_from_config(j.model_dump()) == j
    assert judge_from_config(json.loads(json.dumps(j.model_dump(mode="json")))) == j
    assert judge_from_config({"rubric": "r", "model": "m"}).scale == "pass_fail"
    p = pairwise(allow_tie=True)
    assert judge_from_config(p.model_dump(mode="json")) == p
    with pytest.raises(Exception, match="frozen"):
        j.rubric = "x"  # type: ignore[misc]
    rm = {"rubric": "r", "model": "m"}
    bad = [({**rm, "temprature": 0}, "temprature: unknown key; allowed keys of a judge"),
           ({"rubric": "r"}, "judge judge: model: required key is missing"),
           ({**rm, "rubric": "  "}, "rubric is blank"),
           ({**rm, "scale": {"min": 5, "max": 5}}, "scale min (5) must be below max (5)"),
           ({**rm, "scale": {"min": 1, "max": 5, "pass_at": 6}}, "pass_at (6) must lie"),
           ({**rm, "scale": "likert"}, "scale"),
           ({**rm, "max_retries_invalid": -1}, "max_retries_invalid"),
           ({**rm, "template": "{% if %}"}, "template: template syntax error at line 1"),
           ({**rm, "kind": "judg"}, "unknown judge kind 'judg'; did you mean 'judge'?"),
           ("judge", "a judge is a mapping")]
    for raw, message in bad:
        with pytest.raises(SpecError, match=re.escape(message)):
            judge_from_config(raw)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pairwise judges go through pairwise_judge"):
        judge_cases(pairwise(), CASES, CallableChat(lambda r: ""))  # type: ignore[arg-type]


# ---------------------------------------------------------------- pairwise judging


def pair_judge(choose):  # type: ignore[no-untyped-def]
    """A scripted pairwise judge: ``choose(a, b, id_text) -> "A" | "B" | "tie" | raw text``."""
    def answer(request: ChatRequest, s: dict[str, str]) -> str:
        got = choose(s["Output A"], s["Output B"], s.get("Input", ""))
        return got if got not in ("A", "B", "tie") else json.dumps({"winner": got, "reason": "Because."})
    return Script(answer)


PAIRS = [PairView(f"p{i}", a=f"answer {i} " + "x" * i, b=f"reply {i} " + "y" * (12 - i), input=f"q{i}")
         for i in range(1, 6)]


def test_pairwise_judge_strict_parsing_and_ties() -> None:
    script = pair_judge(lambda a, b, q: "A" if len(a) > len(b) else "B")
    got = pairwise_judge(pairwise(), PAIRS, script.chat)
    assert [v.winner for v in got] == ["B", "B", "B", "B", "B"]  # lengths a: 10..14, b: 19..15
    assert all(v.status == "ok" and v.judge == "pairwise_judge" for v in got)
    req = script.requests[0]
    assert req.params["response_format"]["schema"]["properties"]["winner"]["enum"] == ["A", "B"]
    tie = pair_judge(lambda a, b, q: "tie")
    invalid = pairwise_judge(pairwise(max_retries_invalid=1), PAIRS[:1], tie.chat)
    assert invalid[0].status == "undetermined"
    assert "'winner' must be one of 'A', 'B', got 'tie'" in invalid[0].reason
    ties = pairwise_judge(pairwise(allow_tie=True), PAIRS[:1], pair_judge(lambda a, b, q: "tie").chat)
    assert ties[0].winner == "tie"
    with pytest.raises(JudgeOutputError, match="unexpected key"):
        pairwise().parse('{"winner": "A", "reason": "x", "score": 1}')
    missing = pairwise_judge(pairwise(), [PairView("m", a="x", b=None)], pair_judge(lambda a, b, q: "A").chat)
    assert missing[0].status == "error" and missing[0].reason.endswith("output B is missing")
    with pytest.raises(ValueError, match="a winner is set exactly when the status is ok"):
        type(missing[0])("x", "j", "A", "undetermined", "r")


# ---------------------------------------------------------------- probes


def stat(df, statistic: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rows = df[df["statistic"] == statistic]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def wilson(k: float, n: float) -> tuple[float, float]:
    return tuple(float(x) for x in proportion_confint(k, n, alpha=0.05, method="wilson"))  # type: ignore[return-value]


def test_position_swap_always_a_judge() -> None:
    script = pair_judge(lambda a, b, q: "A")
    df = position_swap_probe(pairwise(), PAIRS, script.chat)
    assert list(df.columns) == list(PROBE_COLUMNS) and len(script.requests) == 10
    c, a = stat(df, "consistency"), stat(df, "position_a_preference")
    assert (c["value"], c["n"], c["n_excluded"]) == (0.0, 5, 0)
    assert (c["ci_low"], c["ci_high"]) == pytest.approx(wilson(0, 5), abs=1e-12)
    assert (a["value"], a["n"]) == (1.0, 10)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(wilson(5, 5), abs=1e-12)  # effective n = 10 / 2
    assert "tie_rate" not in set(df["statistic"])


def test_position_swap_consistent_judge_and_a_mixed_one() -> None:
    by_content = pair_judge(lambda a, b, q: "A" if "answer" in a else "B")
    fair = position_swap_probe(pairwise(), PAIRS, by_content.chat)
    assert stat(fair, "consistency")["value"] == 1.0
    a = stat(fair, "position_a_preference")
    assert a["value"] == 0.5 and (a["ci_low"], a["ci_high"]) == pytest.approx(wilson(2.5, 5), abs=1e-12)

    # q1, q2: always A (position bias); q3, q4: the 'answer' output wins in both orders;
    # q5: undetermined in one order -> consistency 2/4, position A 6 of 8 verdicts
    def mixed(a: str, b: str, q: str) -> str:
        if q in ("q1", "q2"):
            return "A"
        if q == "q5" and "reply" in a:
            return "no idea"
        return "A" if "answer" in a else "B"

    df = position_swap_probe(pairwise(max_retries_invalid=0), PAIRS, pair_judge(mixed).chat)
    c, a = stat(df, "consistency"), stat(df, "position_a_preference")
    assert (c["value"], c["n"], c["n_excluded"]) == (0.5, 4, 1) and "1 pair(s) left out" in c["note"]
    assert (c["ci_low"], c["ci_high"]) == pytest.approx(wilson(2, 4), abs=1e-12)
    assert (a["value"], a["n"], a["n_excluded"]) == (0.75, 8, 1)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx(wilson(3, 4), abs=1e-12)


def test_position_swap_with_ties_and_nothing_left() -> None:
    df = position_swap_probe(pairwise(allow_tie=True), PAIRS, pair_judge(lambda a, b, q: "tie").chat)
    assert stat(df, "consistency")["value"] == 1.0 and stat(df, "tie_rate")["value"] == 1.0
    a = stat(df, "position_a_preference")
    assert a["n"] == 0 and all(a[k] != a[k] for k in ("value", "ci_low", "ci_high"))  # NaN: nothing decisive
    empty = position_swap_probe(pairwise(), [], pair_judge(lambda a, b, q: "A").chat)
    assert stat(empty, "consistency")["n"] == 0
    with pytest.raises(InputError, match="confidence must be between 0 and 1"):
        position_swap_probe(pairwise(), PAIRS, pair_judge(lambda a, b, q: "A").chat, confidence=95)


def test_verbosity_length_loving_and_fair_pointwise_judges() -> None:
    cases = [CaseView(f"c{i}", f"answer {i}", input=f"q{i}") for i in range(6)]
    lover = Script(lambda r, s: reply(5 if len(s["Output to evaluate"]) > 60 else 2))
    df = verbosity_probe(judge(), cases, lover.chat)
    assert len(lover.requests) == 12
    imp, wor, mean = stat(df, "improved"), stat(df, "worsened"), stat(df, "mean_change")
    assert (imp["value"], imp["n"], wor["value"]) == (1.0, 6, 0.0)
    assert (imp["ci_low"], imp["ci_high"]) == pytest.approx(wilson(6, 6), abs=1e-12)
    assert (mean["value"], mean["ci_low"], mean["ci_high"]) == (3.0, 3.0, 3.0)
    fair = verbosity_probe(judge(), cases, Script(lambda r, s: reply(3)).chat)
    assert (stat(fair, "improved")["value"], stat(fair, "mean_change")["value"]) == (0.0, 0.0)


def test_verbosity_mixed_judge_matches_wilson_and_t_and_counts_exclusions() -> None:
    # case i: original score 2; padded score 2 + delta[i]; c6 has no output (excluded)
    delta = {"q0": 2, "q1": 1, "q2": 0, "q3": -1, "q4": 0}
    cases = [CaseView(f"c{i}", f"answer {i}", input=f"q{i}") for i in range(5)] + [CaseView("c6", None)]

    def answer(request: ChatRequest, s: dict[str, str]) -> str:
        padded = s["Output to evaluate"] != s["Output to evaluate"].split("\n\n")[0]
        return reply(2 + (delta[s["Input"]] if padded else 0))

    df = verbosity_probe(judge(), cases, Script(answer).chat, repeats=2)
    imp, wor, mean = stat(df, "improved"), stat(df, "worsened"), stat(df, "mean_change")
    assert (imp["value"], imp["n"], imp["n_excluded"]) == (0.4, 5, 1)
    assert (imp["ci_low"], imp["ci_high"]) == pytest.approx(wilson(2, 5), abs=1e-12)
    assert (wor["value"], (wor["ci_low"], wor["ci_high"])) == (0.2, pytest.approx(wilson(1, 5), abs=1e-12))
    d = [2, 1, 0, -1, 0]
    ref = st.t.interval(0.95, df=4, loc=st.tmean(d), scale=st.sem(d))
    assert mean["value"] == pytest.approx(0.4) and (mean["ci_low"], mean["ci_high"]) == pytest.approx(ref)
    assert "1 left out" in imp["note"]


def test_verbosity_pairwise_length_lover_and_padding() -> None:
    assert pad("x", "F.", 3) == "x\n\nF. F. F."
    script = pair_judge(lambda a, b, q: "A" if len(a) > len(b) else "B")
    df = verbosity_probe(pairwise(), PAIRS, script.chat)
    assert (stat(df, "improved")["value"], stat(df, "improved")["n"]) == (1.0, 5)
    assert "mean_change" not in set(df["statistic"])
    unbiased = verbosity_probe(pairwise(), PAIRS, pair_judge(lambda a, b, q: "B").chat)
    assert stat(unbiased, "improved")["value"] == 0.0
    with pytest.raises(InputError, match="takes PairViews"):
        verbosity_probe(pairwise(), CASES, script.chat)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="non-blank filler"):
        verbosity_probe(judge(), CASES, script.chat, filler=" ")


# ---------------------------------------------------------------- a real model


def test_real_model_judge_with_json_schema_constraint() -> None:
    from _llama_server import Unavailable, llama_server

    from assay.llm.providers import OpenAIChat

    rubric = "Score 5 if the output answers the input correctly and concisely, 1 if it is wrong."
    j = JudgeConfig(rubric=rubric, model="smollm2", scale=ORDINAL, max_tokens=80, constrain="json_schema")
    try:
        with llama_server() as url:
            got = judge_cases(j, CASES, OpenAIChat(url, concurrency=2, timeout=60))
    except Unavailable as exc:
        pytest.skip(f"no local model server: {exc}")
    assert len(got) == 3 and {s.status for s in got} <= {"ok", "undetermined"}
    for s in got:
        assert s.details["attempts"] >= 1 and s.details["prompt_sha256"] == j.prompt_sha256()
        if s.status == "undetermined":
            assert re.match(r"judge output invalid after \d attempts: .+", s.reason)
        else:
            raw = s.details["raw_output"]
            jsonschema.validate(json.loads(raw), j.output_schema())
            assert j.parse(raw)[0] == s.value and 1 <= s.value <= 5 and s.reason
            assert s.details["completion_tokens"] > 0
    assert any(s.status == "ok" for s in got), [s.reason for s in got]
