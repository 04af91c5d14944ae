"""Agents and tool use: tool calls through the providers (OpenAI-compatible server, Python
function, cache), the mock tool environment, the agent loop (max_steps, errors, multi-turn,
caching), case validation, every scorer against hand computations and independent references
(scikit-learn for precision/recall/F1, a brute-force LCS, the Wilson formula), the suite
runner, the report, and the support-desk example."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from assay._errors import InputError, SpecError
from assay.agents import (
    AgentCase,
    AgentSuiteSpec,
    ToolEnv,
    ToolSpec,
    agent_scorer_from_config,
    lcs_length,
    load_agent_cases,
    match_subset,
    parse_matcher,
    run_agent,
    run_agent_suite,
    state_diff,
)
from assay.agents._match import compare, json_equal
from assay.llm._runner import SCORE_COLUMNS
from assay.llm.providers import (
    CallableChat,
    ChatRequest,
    ChatResult,
    OpenAIChat,
    ResponseCache,
    complete_cached,
)
from assay.llm.providers._types import normalize_tool_call

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "agents"

# ---------------------------------------------------------------------------- fixtures

ORDERS = {"A1": {"status": "delivered", "total": 50.0, "refunded": 0}}
TOOLS = [
    {"name": "lookup", "description": "Look an order up.",
     "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"],
                    "additionalProperties": False},
     "responses": [{"when": {"id": "A1"}, "result": {"id": "{id}", "status": "delivered"}},
                   {"error": "no order {id}"}]},
    {"name": "refund", "description": "Refund an amount.",
     "parameters": {"type": "object", "properties": {"id": {"type": "string"}, "amount": {"type": "number"}},
                    "required": ["id", "amount"], "additionalProperties": False},
     "responses": [{"result": {"ok": True}, "effects": {"set": {"orders.{id}.refunded": "{amount}"},
                                                        "append": {"log": "refund {id}"}}}]},
    {"name": "cancel", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
     "responses": [{"result": {"ok": True}, "effects": {"set": {"orders.{id}.status": "cancelled"}}}]},
]


def call(name: str, args: Any, cid: str | None = None) -> dict[str, Any]:
    return {"id": cid, "name": name, "arguments": args}


class Scripted:
    """A Python agent that answers each request from a script: the n-th step of the case gets
    the n-th reply (the number of assistant messages so far picks it); it counts its calls."""

    def __init__(self, *replies: dict[str, Any] | str) -> None:
        self.replies = list(replies)
        self.calls = 0

    def __call__(self, request: ChatRequest) -> dict[str, Any]:
        self.calls += 1
        step = sum(m["role"] == "assistant" for m in request.messages)
        got = self.replies[min(step, len(self.replies) - 1)]
        if isinstance(got, str):
            return {"content": got, "prompt_tokens": 10, "completion_tokens": 2}
        return {"content": None, "tool_calls": got["calls"], "prompt_tokens": 10, "completion_tokens": 5}


def calls(*items: dict[str, Any]) -> dict[str, Any]:
    return {"calls": list(items)}


def run(agent: Scripted, case: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    return run_agent(CallableChat(agent, concurrency=1), case, TOOLS, model="m",
                     initial_state={"orders": json.loads(json.dumps(ORDERS))}, **kw)


def score(kind: str, case: dict[str, Any], trace: Any, **options: Any):  # type: ignore[no-untyped-def]
    return agent_scorer_from_config({"kind": kind, **options}).score(AgentCase.model_validate(case), trace)


LOOKUP_REFUND = {"id": "c", "input": "refund A1",
                 "expected_calls": [{"name": "lookup", "args": {"id": "A1"}},
                                    {"name": "refund", "args": {"id": "A1", "amount": 20}}]}

# ---------------------------------------------------------------------------- providers


def test_plain_request_keeps_its_cache_key() -> None:
    # the key of this request before tool calls existed (a fixture): answers cached by earlier
    # runs must still be found
    r = ChatRequest("m", ({"role": "system", "content": "be brief"}, {"role": "user", "content": "héllo"}),
                    {"temperature": 0, "seed": 3, "max_tokens": 16})
    assert r.key == "9ff61f624582b337d9537c1622adf0109d79fe57e231e13aa6c207c3bcf58dd5"
    with_tools = ChatRequest(r.model, r.messages, {**r.params, "tools": [{"type": "function"}]})
    assert with_tools.key != r.key


def test_normalize_tool_call_shapes_and_flags() -> None:
    openai = normalize_tool_call({"id": "x", "type": "function",
                                  "function": {"name": "lookup", "arguments": '{"id": "A1"}'}}, 0)
    assert openai == {"id": "x", "name": "lookup", "arguments": {"id": "A1"}, "raw_arguments": '{"id": "A1"}',
                      "error": None}
    flat = normalize_tool_call({"name": "lookup", "arguments": {"id": "é"}}, 3)
    assert flat["id"] == "call_3" and flat["arguments"] == {"id": "é"} and flat["error"] is None
    broken = '{"id": "A1", amount: 2}'
    bad = normalize_tool_call({"id": "y", "function": {"name": "refund", "arguments": broken}}, 0)
    assert bad["arguments"] is None and bad["raw_arguments"] == '{"id": "A1", amount: 2}'
    assert "not valid JSON" in bad["error"]
    listed = normalize_tool_call({"name": "lookup", "arguments": "[1, 2]"}, 0)
    assert listed["arguments"] is None and "JSON object" in listed["error"]
    nameless = normalize_tool_call({"arguments": {}}, 0)
    assert nameless["name"] == "" and "names no function" in nameless["error"]
    empty = normalize_tool_call({"name": "lookup", "arguments": ""}, 0)
    assert empty["arguments"] == {} and empty["error"] is None


def _tool_server(bodies: list[dict[str, Any]]) -> httpx.MockTransport:
    """An OpenAI-compatible server: the first answer asks for two tool calls (one with broken
    JSON), the answer after the tool results is text."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if body["messages"][-1]["role"] == "tool":
            message = {"role": "assistant", "content": "Refunded."}
            finish = "stop"
        else:
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function",
                 "function": {"name": "lookup", "arguments": '{"id":"A1"}'}},
                {"id": "t2", "type": "function",
                 "function": {"name": "refund", "arguments": '{"id": "A1",'}}]}
            finish = "tool_calls"
        return httpx.Response(200, json={"choices": [{"message": message, "finish_reason": finish}],
                                         "usage": {"prompt_tokens": 30, "completion_tokens": 7}})

    return httpx.MockTransport(handler)


def test_openai_chat_sends_tools_and_reads_tool_calls(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []
    client = OpenAIChat("http://agent.test/v1", transport=_tool_server(bodies))
    cache = ResponseCache(tmp_path / "cache")
    trace = run_agent(client, LOOKUP_REFUND, TOOLS, model="gpt-x", params={"temperature": 0},
                      initial_state={"orders": ORDERS}, cache=cache)
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["lookup", "refund", "cancel"]
    assert bodies[0]["temperature"] == 0 and bodies[0]["model"] == "gpt-x"
    # the second request carries the assistant's tool calls as written and one tool message each
    second = bodies[1]["messages"]
    assert second[1]["tool_calls"][1]["function"]["arguments"] == '{"id": "A1",'
    assert [m["tool_call_id"] for m in second if m["role"] == "tool"] == ["t1", "t2"]
    assert trace.stop_reason == "final" and trace.final_text == "Refunded." and trace.n_steps == 2
    lookup, refund = trace.calls
    assert lookup.result == {"id": "A1", "status": "delivered"} and lookup.error is None
    assert refund.error_kind == "invalid_json" and refund.raw_arguments == '{"id": "A1",'
    assert refund.arguments is None and not refund.schema_valid
    assert trace.prompt_tokens == 60 and trace.completion_tokens == 14 and trace.tokens == 74
    assert trace.final_state["orders"]["A1"]["refunded"] == 0  # the broken call changed nothing
    # a rerun replays the conversation from the cache: no request reaches the server
    n = len(bodies)
    again = run_agent(client, LOOKUP_REFUND, TOOLS, model="gpt-x", params={"temperature": 0},
                      initial_state={"orders": ORDERS}, cache=cache)
    assert len(bodies) == n and again.cached
    assert [c.to_dict() | {"latency_s": 0} for c in again.calls] == \
        [c.to_dict() | {"latency_s": 0} for c in trace.calls]


def test_suite_with_an_openai_compatible_agent(tmp_path: Path) -> None:
    """A ``base_url`` provider built from the spec (no injected client): tools go out, tool calls
    come back, and the prices give each case's cost."""
    import respx

    bodies: list[dict[str, Any]] = []
    server = _tool_server(bodies)
    spec = AgentSuiteSpec.model_validate({
        "cases": [LOOKUP_REFUND], "tools": TOOLS, "initial_state": {"orders": ORDERS}, "cache": False,
        "providers": [{"name": "api", "base_url": "http://agent.test/v1", "model": "gpt-x",
                       "prices": {"input_per_1k": 1.0, "output_per_1k": 2.0}}],
        "scorers": [{"kind": "cost", "measure": "cost", "max": 0.1}, {"kind": "tool_args"}]})
    with respx.mock(assert_all_called=True) as mock:
        mock.post("http://agent.test/v1/chat/completions").mock(side_effect=server.handle_request)
        result = run_agent_suite(spec, tmp_path)
    assert len(bodies) == 2 and bodies[0]["model"] == "gpt-x" and bodies[0]["seed"] == 0
    cost = result.scores.set_index("scorer").loc["cost"]
    assert cost["value"] == pytest.approx(2 * (30 * 1.0 + 7 * 2.0) / 1000) and cost["passed"]
    args = result.scores.set_index("scorer").loc["tool_args"]
    assert args["value"] == 0.5  # the refund's arguments were not JSON


def test_callable_chat_tool_calls_and_bad_returns() -> None:
    def fn(request: ChatRequest) -> Any:
        text = request.messages[-1]["content"]
        if text == "calls":
            return {"content": "", "tool_calls": [{"name": "lookup", "arguments": {"id": "A1"}}]}
        if text == "not a list":
            return {"content": None, "tool_calls": {"name": "lookup"}}
        if text == "bad content":
            return {"content": 3}
        return {"text": "plain"}

    reqs = [ChatRequest("m", ({"role": "user", "content": t},)) for t in
            ("calls", "not a list", "bad content", "old")]
    got = CallableChat(fn).complete(reqs)
    assert got[0].status == "ok" and got[0].tool_calls[0]["arguments"] == {"id": "A1"}
    assert got[0].finish_reason == "tool_calls"
    assert got[1].status == "error" and "tool_calls" in got[1].error
    assert got[2].status == "error" and "content" in got[2].error
    assert got[3].text == "plain" and got[3].tool_calls is None


def test_cache_stores_tool_calls_and_reads_old_answers(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    req = ChatRequest("m", ({"role": "user", "content": "q"},), {"tools": []})
    result = ChatResult(None, tool_calls=[normalize_tool_call({"name": "a", "arguments": "{x"}, 0)])
    cache.put(req, result)
    hit = cache.get(req)
    assert hit is not None and hit.cached and hit.tool_calls == result.tool_calls
    # an answer stored before tool calls existed has no such key
    old = ChatResult.from_dict({"text": "t", "status": "ok"})
    assert old.tool_calls is None
    assert complete_cached(CallableChat(lambda r: "x"), [req], cache)[0].tool_calls == result.tool_calls

# ---------------------------------------------------------------------------- matchers


def test_matchers() -> None:
    assert parse_matcher("numeric(0.01)").tolerance == 0.01 and parse_matcher("numeric").kind == "numeric"
    for bad in ("numerik", "numeric(-1)", "numeric(x)", 3):
        with pytest.raises(ValueError, match="matcher|tolerance"):
            parse_matcher(bad)
    num = parse_matcher("numeric(0.01)")
    assert compare(num, 20, 20.005) is None and compare(num, 20, 20.02) is not None
    assert compare(num, 20, "20") is not None and compare(num, 1, True) is not None
    assert compare(parse_matcher("regex"), r"^A\d+$", "A12") is None
    assert compare(parse_matcher("regex"), r"^A\d+$", "xA12") is not None
    assert compare(parse_matcher("contains"), "REFUND", "your refund is done") is None
    assert compare(parse_matcher("contains"), 2, [1, 2.0]) is None
    assert compare(parse_matcher("contains"), [1, 3], [1, 2]) is not None
    assert compare(parse_matcher("any"), None, {"x": 1}) is None
    assert json_equal(1, 1.0) and not json_equal(True, 1) and not json_equal("5", 5)
    assert json_equal({"a": [1, {"b": None}]}, {"a": (1.0, {"b": None})})


def test_match_subset_and_state_diff() -> None:
    actual = {"orders": {"A1": {"status": "refunded", "refunded": 19.999}, "A2": {}}, "log": ["x"]}
    assert match_subset({"orders": {"A1": {"status": "refunded"}}}, actual) == []
    got = match_subset({"orders": {"A1": {"refunded": 20, "note": "x"}}}, actual)
    assert [m.path for m in got] == ["orders.A1.refunded", "orders.A1.note"]
    assert match_subset({"orders": {"A1": {"refunded": 20}}}, actual,
                        {"orders.A1.refunded": parse_matcher("numeric(0.01)")}) == []
    assert match_subset({"log": ["x"]}, actual) == [] and match_subset({"log": []}, actual) != []
    assert match_subset({"a": 1}, "not a mapping")[0].path == ""
    diff = state_diff({"a": 1, "b": {"c": 2, "d": 3}, "gone": 0}, {"a": 1, "b": {"c": 5, "d": 3}, "new": [1]})
    assert diff == [{"path": "b.c", "change": "changed", "before": 2, "after": 5},
                    {"path": "gone", "change": "removed", "before": 0, "after": None},
                    {"path": "new", "change": "added", "before": None, "after": [1]}]

# ---------------------------------------------------------------------------- the tool environment


def test_tool_env_validates_executes_and_records(tmp_path: Path) -> None:
    initial = {"orders": {"A1": {"refunded": 0}}}
    env = ToolEnv(TOOLS, initial)
    wrong_type = env.call("refund", {"id": "A1", "amount": "20"}, turn=0, step=0, call_id="c1")
    assert wrong_type.error_kind == "schema" and "amount" in wrong_type.error and not wrong_type.schema_valid
    assert env.state["orders"]["A1"]["refunded"] == 0 and "log" not in env.state
    ok = env.call("refund", {"id": "A1", "amount": 20}, turn=0, step=1)
    assert ok.error is None and ok.result == {"ok": True}
    # "{amount}" keeps the argument's type; "refund {id}" is text
    assert env.state["orders"]["A1"]["refunded"] == 20 and env.state["log"] == ["refund A1"]
    assert initial == {"orders": {"A1": {"refunded": 0}}}  # the case's state is copied, not changed
    missing = env.call("lookup", {"id": "A9"})
    assert missing.error == "no order A9" and missing.error_kind == "tool_error" and missing.schema_valid
    unknown = env.call("delete_all", {})
    assert unknown.error_kind == "unknown_tool" and "lookup, refund, cancel" in unknown.error
    unread = env.call("lookup", None, raw_arguments="{id", parse_error="not valid JSON")
    assert unread.error_kind == "invalid_json" and unread.raw_arguments == "{id"
    assert [c.seq for c in env.calls] == [0, 1, 2, 3, 4] and all(c.latency_s >= 0 for c in env.calls)
    assert json.loads(missing.content()) == {"error": "no order A9"}
    assert json.loads(ok.content()) == {"ok": True}


def test_function_tools_and_response_rules(tmp_path: Path) -> None:
    (tmp_path / "impl.py").write_text(
        "def add(state, n):\n    state['total'] = state.get('total', 0) + n\n    return state['total']\n"
        "def boom(state, n):\n    state['total'] = -1\n    raise RuntimeError('disk full')\n")
    tools = [{"name": "add", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
              "function": "impl.py:add"},
             {"name": "boom", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
              "function": "impl.py:boom"},
             {"name": "find", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
              "responses": [{"when": {"q": "^ord"}, "match": {"q": "regex"}, "result": "order"},
                            {"when": {"q": "x"}, "result": "exact x"}]}]
    env = ToolEnv(tools, {}, base_dir=tmp_path)
    assert env.call("add", {"n": 2}).result == 2 and env.call("add", {"n": 3}).result == 5
    failed = env.call("boom", {"n": 1})
    assert failed.error == "RuntimeError: disk full" and env.state == {"total": 5}  # no half-done change
    assert env.call("find", {"q": "orders"}).result == "order"
    assert env.call("find", {"q": "x"}).result == "exact x"
    none = env.call("find", {"q": "y"})
    assert none.error_kind == "no_response" and '"q":"y"' in none.error
    with pytest.raises(InputError, match="missing.py"):
        ToolEnv([{"name": "t", "function": "missing.py:f"}], base_dir=tmp_path)
    with pytest.raises(ValueError, match="exactly one of 'function'"):
        ToolSpec.model_validate({"name": "t"})
    with pytest.raises(ValueError, match="not a valid JSON schema"):
        ToolSpec.model_validate({"name": "t", "parameters": {"type": "object", "properties": 3},
                                 "responses": []})

# ---------------------------------------------------------------------------- the loop


def test_loop_messages_steps_and_tokens() -> None:
    agent = Scripted(calls(call("lookup", {"id": "A1"}, "a")),
                     calls(call("refund", {"id": "A1", "amount": 20}, "b")), "Refunded 20.")
    trace = run(agent, LOOKUP_REFUND, system="be kind")
    assert [m["role"] for m in trace.messages] == ["system", "user", "assistant", "tool", "assistant", "tool",
                                                  "assistant"]
    assert trace.messages[2]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"id":"A1"}'}
    assert trace.messages[3]["tool_call_id"] == "a"
    assert trace.n_steps == 3 and [c.step for c in trace.calls] == [0, 1] and trace.stop_reason == "final"
    assert trace.prompt_tokens == 30 and trace.completion_tokens == 12
    assert trace.final_state["orders"]["A1"]["refunded"] == 20
    assert trace.state_diff() == [
        {"path": "orders.A1.refunded", "change": "changed", "before": 0, "after": 20},
        {"path": "log", "change": "added", "before": None, "after": ["refund A1"]}]
    for kind in ("tool_selection", "tool_args", "tool_order"):
        s = score(kind, LOOKUP_REFUND, trace)
        assert (s.value, s.passed) == (1.0, True), (kind, s)


def test_max_steps_exhaustion() -> None:
    agent = Scripted(calls(call("lookup", {"id": "A9"})))
    trace = run(agent, LOOKUP_REFUND, max_steps=3)
    assert trace.stop_reason == "max_steps" and trace.n_steps == 3 and len(trace.calls) == 3
    assert trace.final_text is None and "3 steps" in trace.error
    s = score("steps", LOOKUP_REFUND, trace)
    assert s.value == 3 and s.passed is False and "without a final reply" in s.reason
    # a case's own max_steps wins over the run's
    short = run(Scripted(calls(call("lookup", {"id": "A9"}))), LOOKUP_REFUND | {"max_steps": 1}, max_steps=3)
    assert short.n_steps == 1 and short.stop_reason == "max_steps"
    sel = score("tool_selection", LOOKUP_REFUND, trace)  # expected lookup+refund, got lookup x3
    assert sel.details["tp"] == 1 and sel.details["fp"] == 2 and sel.details["fn"] == 1
    ts = score("task_success", LOOKUP_REFUND | {"expected_answer": "refund"}, trace)
    assert ts.passed is False and "no final reply" in ts.reason


def test_provider_error_stops_the_case_and_scores_error() -> None:
    def fn(request: ChatRequest) -> Any:
        if any(m["role"] == "tool" for m in request.messages):
            raise TimeoutError("gateway timeout")
        return {"content": None, "tool_calls": [call("lookup", {"id": "A1"})]}

    trace = run_agent(CallableChat(fn), LOOKUP_REFUND, TOOLS, model="m")
    assert trace.stop_reason == "error" and "gateway timeout" in trace.error and len(trace.calls) == 1
    for kind in ("tool_selection", "tool_args", "tool_order", "task_success", "steps", "cost"):
        s = score(kind, LOOKUP_REFUND, trace)
        assert s.status == "error" and s.value is None


def test_multi_turn_runs_each_turn_to_its_reply() -> None:
    def fn(request: ChatRequest) -> Any:
        user = [m["content"] for m in request.messages if m["role"] == "user"][-1]
        after = request.messages[max(i for i, m in enumerate(request.messages) if m["role"] == "user") + 1:]
        if user == "where is A1" and not after:
            return {"content": None, "tool_calls": [call("lookup", {"id": "A1"})]}
        if user == "cancel it" and not after:
            # the right tool in the wrong turn: it looks the order up again and refunds
            return {"content": None, "tool_calls": [call("lookup", {"id": "A1"}),
                                                    call("refund", {"id": "A1", "amount": 50})]}
        return {"content": f"done: {user}"}

    case = {"id": "mt", "turns": ["where is A1", "cancel it", "thanks"],
            "expected_calls": [[{"name": "lookup", "args": {"id": "A1"}}],
                               [{"name": "cancel", "args": {"id": "A1"}}], []],
            "expected_state": {"orders": {"A1": {"status": "cancelled"}}}}
    trace = run_agent(CallableChat(fn), case, TOOLS, model="m", initial_state={"orders": ORDERS})
    assert trace.finals == ["done: where is A1", "done: cancel it", "done: thanks"]
    assert [(c.turn, c.name) for c in trace.calls] == [(0, "lookup"), (1, "lookup"), (1, "refund")]
    assert [trace.steps_in(t) for t in range(3)] == [2, 2, 1]
    users = [i for i, m in enumerate(trace.messages) if m["role"] == "user"]
    assert all(trace.messages[i - 1]["role"] == "assistant" and "tool_calls" not in trace.messages[i - 1]
               for i in users[1:])  # a new turn follows the previous final reply
    sel = score("tool_selection", case, trace)
    # per turn: t1 tp1; t2 expected {cancel} got {lookup, refund}: fp2 fn1; t3 nothing
    assert (sel.details["tp"], sel.details["fp"], sel.details["fn"]) == (1, 2, 1)
    assert sel.value == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    args = score("tool_args", case, trace)
    assert args.value == 0.5 and "turn 2: cancel: not called" in args.reason
    order = score("tool_order", case, trace)
    assert order.value == 0.5
    task = score("task_success", case, trace)
    assert task.passed is False and "orders.A1.status" in task.reason
    # a flat list is checked over the whole conversation: lookup is expected once, made twice
    flat = case | {"expected_calls": [{"name": "lookup"}]}
    assert score("tool_selection", flat, trace).details == {"precision": 1 / 3, "recall": 1.0, "tp": 1,
                                                           "fp": 2, "fn": 0}

# ---------------------------------------------------------------------------- scorers


def _trace_of(*names_and_args: tuple[str, Any]):  # type: ignore[no-untyped-def]
    agent = Scripted(*[calls(call(n, a)) for n, a in names_and_args], "ok")
    return run(agent, {"id": "x", "input": "go"})


def test_tool_selection_wrong_tool_and_extra_calls() -> None:
    wrong = _trace_of(("lookup", {"id": "A1"}), ("cancel", {"id": "A1"}))
    s = score("tool_selection", LOOKUP_REFUND, wrong)
    assert (s.details["precision"], s.details["recall"], s.value, s.passed) == (0.5, 0.5, 0.5, False)
    assert "missing refund" in s.reason and "unexpected cancel" in s.reason
    extra = _trace_of(("lookup", {"id": "A1"}), ("lookup", {"id": "A1"}),
                      ("refund", {"id": "A1", "amount": 20}), ("cancel", {"id": "A1"}))
    s = score("tool_selection", LOOKUP_REFUND, extra)
    assert (s.details["precision"], s.details["recall"]) == (0.5, 1.0) and s.value == pytest.approx(2 / 3)
    assert "lookup ×1" not in s.reason and "cancel" in s.reason
    none = _trace_of()
    assert score("tool_selection", {"id": "n", "input": "hi", "expected_calls": []}, none).passed is True
    some = score("tool_selection", {"id": "n", "input": "hi", "expected_calls": []}, wrong)
    assert (some.value, some.passed) == (0.0, False)
    assert (some.details["precision"], some.details["recall"]) == (0.0, 1.0)
    assert score("tool_selection", {"id": "n", "input": "hi"}, wrong).status == "undetermined"


def test_tool_selection_matches_sklearn_on_sets() -> None:
    """Without repeated names the multiset counts are the micro-averaged counts over binary
    indicators of the tools, which scikit-learn computes independently."""
    rng = random.Random(7)
    names = ["lookup", "refund", "cancel"]
    for _ in range(40):
        exp = rng.sample(names, rng.randint(1, 3))
        act = rng.sample(names, rng.randint(1, 3))
        trace = _trace_of(*[(n, {"id": "A1", "amount": 1} if n == "refund" else {"id": "A1"}) for n in act])
        case = {"id": "r", "input": "go", "expected_calls": [{"name": n} for n in exp]}
        s = score("tool_selection", case, trace)
        y_true = [[int(n in exp) for n in names]]
        y_pred = [[int(n in act) for n in names]]
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0)
        assert (s.details["precision"], s.details["recall"], s.value) == pytest.approx((p, r, f))


def test_tool_args_schema_type_values_and_matching() -> None:
    # a wrong argument type is a schema error: not executed, not matched; the retry matches
    retry = _trace_of(("lookup", {"id": "A1"}), ("refund", {"id": "A1", "amount": "20"}),
                      ("refund", {"id": "A1", "amount": 20.0}))
    assert retry.calls[1].error_kind == "schema"
    assert score("tool_args", LOOKUP_REFUND, retry).value == 1.0
    only_bad = _trace_of(("lookup", {"id": "A1"}), ("refund", {"id": "A1", "amount": "20"}))
    s = score("tool_args", LOOKUP_REFUND, only_bad)
    assert (s.value, s.passed) == (0.5, False) and "invalid arguments" in s.reason
    wrong_value = _trace_of(("lookup", {"id": "A1"}), ("refund", {"id": "A1", "amount": 20.4}))
    s = score("tool_args", LOOKUP_REFUND, wrong_value)
    assert s.value == 0.5 and "amount: expected 20, got 20.4" in s.reason
    tolerant = {**LOOKUP_REFUND, "expected_calls": [LOOKUP_REFUND["expected_calls"][0],
                                                    {"name": "refund", "args": {"id": "A1", "amount": 20},
                                                     "match": {"amount": "numeric(0.5)"}}]}
    assert score("tool_args", tolerant, wrong_value).value == 1.0
    # maximum matching: a greedy pass would give the any-id call the only "B" call
    case = {"id": "m", "input": "go",
            "expected_calls": [{"name": "lookup", "args": {"id": "?"}, "match": {"id": "any"}},
                               {"name": "lookup", "args": {"id": "B"}}]}
    two = _trace_of(("lookup", {"id": "B"}), ("lookup", {"id": "C"}))
    assert score("tool_args", case, two).value == 1.0
    assert score("tool_args", {"id": "n", "input": "x", "expected_calls": []}, two).status == "undetermined"


def test_invalid_json_arguments_reply_is_recorded_and_scored() -> None:
    agent = Scripted(calls(call("lookup", {"id": "A1"})), calls(call("refund", '{"id": "A1", "amount": 20')),
                     "done")
    trace = run(agent, LOOKUP_REFUND)
    bad = trace.calls[1]
    assert bad.error_kind == "invalid_json" and bad.raw_arguments == '{"id": "A1", "amount": 20'
    assert "not valid JSON" in bad.error and trace.final_state["orders"]["A1"]["refunded"] == 0
    assert score("tool_selection", LOOKUP_REFUND, trace).passed is True  # the attempt names the right tool
    args = score("tool_args", LOOKUP_REFUND, trace)
    assert args.value == 0.5 and "invalid arguments" in args.reason


def test_lcs_against_brute_force() -> None:
    def brute(a: list[str], b: list[str]) -> int:
        for k in range(len(a), 0, -1):
            for sub in itertools.combinations(a, k):
                it = iter(b)
                if all(x in it for x in sub):
                    return k
        return 0

    rng = random.Random(3)
    for _ in range(200):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 6))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 6))]
        assert lcs_length(a, b) == brute(a, b), (a, b)


def test_tool_order_swapped_extra_pairs_and_any() -> None:
    swapped = _trace_of(("refund", {"id": "A1", "amount": 20}), ("lookup", {"id": "A1"}))
    s = score("tool_order", LOOKUP_REFUND, swapped)
    assert (s.value, s.passed) == (0.5, False) and "lookup → refund" in s.reason
    between = _trace_of(("lookup", {"id": "A1"}), ("cancel", {"id": "A1"}),
                        ("refund", {"id": "A1", "amount": 1}))
    assert score("tool_order", LOOKUP_REFUND, between).passed is True
    pairs = LOOKUP_REFUND | {"order": [["lookup", "refund"], ["lookup", "cancel"]]}
    s = score("tool_order", pairs, swapped)
    assert s.value == 0.0 and "refund came first" in s.reason and "cancel not called" in s.reason
    assert score("tool_order", pairs, between).value == 1.0
    assert score("tool_order", LOOKUP_REFUND | {"order": "any"}, swapped).status == "undetermined"


def test_task_success_steps_and_cost() -> None:
    agent = Scripted(calls(call("refund", {"id": "A1", "amount": 20})), "Your refund of 20 is on its way.")
    trace = run(agent, LOOKUP_REFUND)
    case = LOOKUP_REFUND | {"expected_state": {"orders": {"A1": {"refunded": 20}}},
                            "expected_answer": "refund"}
    assert score("task_success", case, trace).passed is True
    wrong_state = case | {"expected_state": {"orders": {"A1": {"status": "refunded"}}}}
    s = score("task_success", wrong_state, trace)
    assert s.value == 0.0 and "orders.A1.status: expected 'refunded', got 'delivered'" in s.reason
    assert score("task_success", case | {"expected_answer": ["refund", "£"]}, trace).passed is False
    assert score("task_success", case | {"expected_answer": r"\b20\b", "answer_match": "regex"}, trace).passed
    no_answer_check = score("task_success", case | {"expected_answer": "nope"}, trace, check_answer=False)
    assert no_answer_check.passed is True
    assert score("task_success", LOOKUP_REFUND, trace).status == "undetermined"
    steps = score("steps", case, trace, max=1)
    assert steps.value == 2 and steps.passed is False
    cost = score("cost", case, trace, max=40)
    assert cost.value == 10 + 5 + 10 + 2 and cost.passed is True
    assert score("cost", case, trace, measure="cost").status == "undetermined"
    with pytest.raises(SpecError, match="did you mean 'tool_args'"):
        agent_scorer_from_config({"kind": "tool_arg"})
    with pytest.raises(SpecError, match="measure"):
        agent_scorer_from_config({"kind": "cost", "measure": "euros"})

# ---------------------------------------------------------------------------- cases


def test_case_errors_name_file_row_and_field(tmp_path: Path) -> None:
    good = {"id": "a", "input": "x", "expected_calls": [{"name": "lookup"}]}
    path = tmp_path / "cases.jsonl"

    def fails(row: dict[str, Any], *needles: str) -> None:
        path.write_text(json.dumps(good) + "\n" + json.dumps(row) + "\n")
        with pytest.raises(InputError) as info:
            load_agent_cases("cases.jsonl", tmp_path)
        msg = str(info.value)
        assert str(path) in msg and "row 2" in msg, msg
        for n in needles:
            assert n in msg, msg

    fails({"id": "b", "input": "x", "expected_calls": [{"name": "lookup", "match": {"id": "fuzzy"}}]},
          "case 'b'", "expected_calls", "unknown matcher 'fuzzy'")
    fails({"id": "b", "input": "x", "turns": ["y"]}, "'input'", "'turns'")
    fails({"id": "b", "turns": ["y", "z"], "expected_calls": [[{"name": "a"}]]},
          "1 per-turn lists", "2 turn(s)")
    fails({"id": "b", "input": "x", "expectd_calls": []}, "expectd_calls", "unknown field")
    fails({"id": "b", "input": "x", "order": "loose"}, "order")
    fails({"id": "b", "input": "x",
           "expected_calls": [{"name": "a", "args": {"q": "("}, "match": {"q": "regex"}}]},
          "not a valid regular expression")
    fails({"id": "a", "input": "again"}, "repeats")
    (tmp_path / "cases.yaml").write_text("- {id: 1, input: hi, expected_calls: []}\n"
                                         "- id: 2\n  turns: [a, b]\n")
    cases = load_agent_cases("cases.yaml", tmp_path)
    assert [c.id for c in cases] == ["1", "2"] and cases[1].user_turns == ["a", "b"]
    with pytest.raises(InputError, match=r"\.csv"):
        load_agent_cases("cases.csv", tmp_path)
    spec = AgentSuiteSpec.model_validate({"cases": [good | {"expected_calls": [{"name": "lookp"}]}],
                                          "tools": TOOLS, "providers": [{"name": "a", "callable": "x:y"}]})
    with pytest.raises(InputError, match="case 'a' expects tool.*'lookp'.*lookup, refund, cancel"):
        run_agent_suite(spec, tmp_path, providers={"a": CallableChat(lambda r: "x")})

# ---------------------------------------------------------------------------- suites


def _suite(tmp_path: Path, **extra: Any) -> AgentSuiteSpec:
    cases = [LOOKUP_REFUND | {"id": f"c{i}", "tags": ["refund"] if i % 2 else ["other"],
                              "expected_state": {"orders": {"A1": {"refunded": 20}}}} for i in range(6)]
    cases[0]["cluster"] = cases[1]["cluster"] = "same-seed"
    raw = {"name": "t", "cases": cases, "tools": TOOLS, "initial_state": {"orders": ORDERS},
           "providers": [{"name": "good", "callable": "x:y"}, {"name": "sloppy", "callable": "x:y"}],
           "cache": str(tmp_path / "cache"), "max_steps": 4} | extra
    return AgentSuiteSpec.model_validate(raw)


def _agents() -> dict[str, CallableChat]:
    """Two agents: one looks the order up and refunds; the sloppy one refunds without looking."""
    refund = calls(call("refund", {"id": "A1", "amount": 20}))
    good = Scripted(calls(call("lookup", {"id": "A1"})), refund, "done")
    sloppy = Scripted(refund, "done")
    return {"good": CallableChat(good, concurrency=1), "sloppy": CallableChat(sloppy, concurrency=1)}


def test_suite_tables_summary_and_gates(tmp_path: Path) -> None:
    spec = _suite(tmp_path, gates=[{"rule": "threshold", "name": "selection", "min": 0.9, "judge": "value",
                                    "metric": "tool_selection.pass_rate"}])
    result = run_agent_suite(spec, tmp_path, providers=_agents())
    assert list(result.scores.columns) == SCORE_COLUMNS
    assert len(result.outputs) == 12 and set(result.outputs["stop_reason"]) == {"final"}
    assert len(result.traces) == 6 * 2 + 6 and len(result.requests) == 6 * 3 + 6 * 2
    s = result.summary.set_index(["variant", "slice", "scorer", "metric"])
    assert s.loc[("good", "overall", "tool_selection", "pass_rate"), "value"] == 1.0
    sloppy = s.loc[("sloppy", "overall", "tool_order", "pass_rate")]
    assert sloppy["value"] == 0.0 and sloppy["n"] == 6
    # cases c0 and c1 share a cluster: the interval resamples clusters
    assert sloppy["method"] == "cluster bootstrap (cases)"
    # tool_selection of sloppy: expected 2 calls, made 1 (refund): P=1, R=0.5, F1=2/3 on every case
    assert s.loc[("sloppy", "overall", "tool_selection", "mean"), "value"] == pytest.approx(2 / 3)
    assert s.loc[("sloppy", "tag=refund", "task_success", "pass_rate"), "n"] == 3
    assert result.comparisons is not None and set(result.comparisons["candidate"]) == {"sloppy"}
    assert result.verdict is not None and result.verdict.decision == "hold"
    assert {r.status for r in result.verdict.rules} == {"fail"}
    usage = result.usage.set_index("variant")
    assert usage.loc["good", "calls"] == 18 and usage.loc["good", "prompt_tokens"] == 180


def test_suite_wilson_interval_without_clusters(tmp_path: Path) -> None:
    spec = _suite(tmp_path)
    cases = [dict(c) for c in spec.cases]  # type: ignore[union-attr]
    for c in cases:
        c.pop("cluster", None)
    spec = spec.model_copy(update={"cases": cases, "providers": spec.providers[1:]})
    result = run_agent_suite(spec, tmp_path, providers=_agents())
    s = result.summary
    row = s[(s["scorer"] == "task_success") & (s["slice"] == "overall")].iloc[0]
    # every sloppy case refunds: task success 6/6; the Wilson bounds by their formula
    n, p, z = 6, 1.0, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row["method"] == "wilson" and row["value"] == 1.0
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((centre - half, min(1.0, centre + half)))


def test_suite_spec_validation() -> None:
    base = {"cases": [LOOKUP_REFUND], "tools": TOOLS, "providers": [{"name": "a", "callable": "x:y"}]}
    AgentSuiteSpec.model_validate(base)
    for change, needle in (({"providers": [{"name": "s", "gguf": "smollm2"}]}, "cannot call tools"),
                           ({"params": {"tools": []}}, "params.tools"),
                           ({"scorers": [{"kind": "tool_selection"}, {"kind": "tool_selection"}]}, "unique"),
                           ({"scorers": [{"kind": "toolselection"}]}, "did you mean"),
                           ({"tools": TOOLS + TOOLS[:1]}, "tool names must be unique"),
                           ({"max_steps": 0}, "max_steps"),
                           ({"tools": [{"name": "bad name", "responses": []}]}, "name")):
        with pytest.raises(ValueError, match=needle):
            AgentSuiteSpec.model_validate(base | change)


def test_write_folder_and_escaped_report(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script>"
    agent = Scripted(calls(call("lookup", {"id": evil})), f"answer {evil}")
    spec = AgentSuiteSpec.model_validate({
        "name": f"n{evil}", "cases": [{"id": f"id{evil}", "input": f"hi {evil}", "tags": [evil],
                                       "expected_calls": [{"name": "lookup", "args": {"id": "A1"}}]}],
        "tools": TOOLS, "providers": [{"name": "a", "callable": "x:y"}], "cache": False})
    result = run_agent_suite(spec, tmp_path, providers={"a": CallableChat(agent)})
    folder = result.write(tmp_path / "run")
    for name in ("traces", "requests", "outputs", "scores", "summary", "usage", "cases"):
        assert (folder / f"{name}.parquet").is_file() and (folder / f"{name}.json").is_file()
    traces = pd.read_parquet(folder / "traces.parquet")
    assert traces.loc[0, "error"] == f"no order {evil}"
    meta = json.loads((folder / "suite.json").read_text())
    assert meta["stop_reasons"] == {"a": {"final": 1, "max_steps": 0, "error": 0}}
    html = (folder / "report.html").read_text()
    assert evil not in html and "&lt;script&gt;" in html
    assert "Content-Security-Policy" in html and not re.findall(r'(?:src|href)="(?!#)', html)
    assert 'data-tool="lookup"' in html and "tool error" in html


# ---------------------------------------------------------------------------- the example


def test_support_desk_example() -> None:
    from assay.agents import load_agent_suite

    spec = load_agent_suite(EXAMPLE / "suite.yaml")
    first = run_agent_suite(spec, EXAMPLE)
    second = run_agent_suite(spec, EXAMPLE)
    cols = ["variant", "case_id", "scorer", "value", "passed", "status", "reason"]
    pd.testing.assert_frame_equal(first.scores[cols], second.scores[cols])
    assert len(first.cases) >= 20 and sum(len(c.user_turns) > 1 for c in first.cases) >= 3
    got = {(r.case_id, r.scorer): r for r in first.scores.itertuples()}
    # the deliberate mistakes, each checked by hand
    assert got[("cancel-and-refund", "tool_selection")].value == 0.5  # refund_order for cancel_order
    assert got[("complaint", "tool_order")].value == 0.5  # escalated before the lookup
    assert got[("status-unknown", "steps")].passed is False  # loops until max_steps
    assert got[("refund-dollar", "tool_selection")].value == pytest.approx(0.8)  # "15.50" then 15.5
    assert got[("email-quoted-subject", "tool_args")].passed is True  # the retry after broken JSON
    assert got[("refund-email-typed", "task_success")].passed is False  # mailed the typed address
    assert got[("multi-policy-then-refund", "task_success")].passed is True
    kinds = first.traces["error_kind"].value_counts()
    assert kinds["schema"] >= 1 and kinds["invalid_json"] >= 1
    overall = first.summary[(first.summary["slice"] == "overall") & (first.summary["metric"] == "pass_rate")]
    rates = dict(zip(overall["scorer"], overall["value"], strict=True))
    assert 0.3 < rates["tool_selection"] < 1 and 0.5 < rates["task_success"] < 1
    assert first.verdict is not None and first.verdict.exit_code in (0, 1, 3)
