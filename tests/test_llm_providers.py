"""Providers against an in-process OpenAI-compatible server (httpx.MockTransport): answers,
tokens and cost, retries that honour 429 and Retry-After, bounded attempts, timeouts, the
concurrency limit, errors per case, the response cache (hits cost nothing, interrupted runs
resume, several processes share one cache) and a Python function as provider."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from assay.llm.providers import (
    ERROR,
    OK,
    CallableChat,
    ChatRequest,
    OpenAIChat,
    Prices,
    ResponseCache,
    RetryPolicy,
    complete_cached,
    retry_after_seconds,
)


def _answer(text: str, prompt: int = 7, completion: int = 3) -> httpx.Response:
    return httpx.Response(200, json={
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion}})


def _requests(n: int, **params: object) -> list[ChatRequest]:
    return [ChatRequest("m", ({"role": "user", "content": f"q{i}"},), {"temperature": 0, **params})
            for i in range(n)]


class Server:
    """A scripted server: ``script[content]`` is a list of responses (or exceptions) given in
    turn to that prompt; every request body is recorded."""

    def __init__(self, script: dict[str, list] | None = None, delay: float = 0.0) -> None:
        self.script = script or {}
        self.bodies: list[dict] = []
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            content = body["messages"][-1]["content"]
            queue = self.script.get(content)
            item = queue.pop(0) if queue else _answer(f"answer to {content}")
            if isinstance(item, Exception):
                raise item
            return item
        finally:
            self.in_flight -= 1


def _client(server: Server, sleeps: list[float] | None = None, **kw: object) -> OpenAIChat:
    async def fake_sleep(s: float) -> None:
        if sleeps is not None:
            sleeps.append(s)

    return OpenAIChat("http://llm.test/v1", transport=httpx.MockTransport(server), sleep=fake_sleep,
                      **kw)  # type: ignore[arg-type]


def test_answers_tokens_cost_and_request_body() -> None:
    server = Server()
    client = _client(server, prices=Prices(input_per_1k=0.5, output_per_1k=2.0), api_key="k")
    reqs = _requests(3, max_tokens=16, seed=7)
    got = client.complete(reqs)
    assert [r.text for r in got] == ["answer to q0", "answer to q1", "answer to q2"]
    assert all(r.status == OK and r.attempts == 1 and not r.cached for r in got)
    r = got[0]
    assert (r.prompt_tokens, r.completion_tokens, r.finish_reason) == (7, 3, "stop")
    assert r.cost == pytest.approx((7 * 0.5 + 3 * 2.0) / 1000)
    assert r.latency_s >= 0
    assert sorted(b["messages"][0]["content"] for b in server.bodies) == ["q0", "q1", "q2"]
    assert all(b["model"] == "m" and b["seed"] == 7 and b["max_tokens"] == 16 for b in server.bodies)


def test_429_retry_after_is_honoured_and_attempts_counted() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server = Server({"q0": [httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"),
                            httpx.Response(503, headers={"Retry-After": later}), _answer("ok")]})
    sleeps: list[float] = []
    got = _client(server, sleeps).complete(_requests(1))[0]
    assert got.status == OK and got.text == "ok" and got.attempts == 3
    assert sleeps[0] == 2.0
    assert 25 <= sleeps[1] <= 30  # the HTTP date, capped at max_wait 30 s


def test_bounded_attempts_backoff_and_no_retry_on_client_errors() -> None:
    server = Server({"q0": [httpx.Response(500, text="boom")] * 5,
                     "q1": [httpx.Response(400, text="bad request: unknown parameter")]})
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, base=0.5, max_wait=30)
    got = _client(server, sleeps, retry=policy).complete(_requests(2))
    assert got[0].status == ERROR and got[0].attempts == 3
    assert got[0].error.startswith("HTTP 500: boom") and "after 3 attempt(s)" in got[0].error
    assert got[1].status == ERROR and got[1].attempts == 1 and "HTTP 400" in got[1].error
    assert len(sleeps) == 2  # between the three attempts of q0; none for q1
    for k, s in enumerate(sleeps, start=1):
        assert 0.5 * 0.5 * 2 ** (k - 1) <= s <= 0.5 * 2 ** (k - 1)
    # the jitter is seeded by the request: the same waits on a rerun
    again: list[float] = []
    _client(Server({"q0": [httpx.Response(500)] * 5}), again, retry=policy).complete(_requests(1))
    assert again == sleeps


def test_timeouts_connection_errors_and_invalid_answers() -> None:
    server = Server({"q0": [httpx.ReadTimeout("slow"), _answer("late")],
                     "q1": [httpx.ConnectError("refused")] * 4,
                     "q2": [httpx.Response(200, json={"unexpected": True})]})
    got = _client(server, [], timeout=5).complete(_requests(3))
    assert got[0].status == OK and got[0].attempts == 2
    assert got[1].status == ERROR and "connection failed" in got[1].error and got[1].attempts == 4
    assert got[2].status == ERROR and "invalid answer: the answer has no 'choices'" in got[2].error
    assert got[2].attempts == 1


def test_concurrency_limit() -> None:
    server = Server(delay=0.02)
    _client(server, concurrency=3).complete(_requests(12))
    assert server.max_in_flight == 3
    assert len(server.bodies) == 12


def test_cache_hits_cost_nothing_and_runs_resume(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache")
    failing = Server({"q1": [httpx.Response(500)] * 4, "q3": [httpx.Response(500)] * 4})
    first = complete_cached(_client(failing, []), _requests(4), cache)
    assert [r.status for r in first] == [OK, ERROR, OK, ERROR]
    assert len(cache) == 2  # errors are not stored
    server = Server()
    seen: list[tuple[int, int]] = []
    second = complete_cached(_client(server, []), _requests(4), cache,
                             progress=lambda d, t: seen.append((d, t)))
    assert sorted(b["messages"][0]["content"] for b in server.bodies) == ["q1", "q3"]  # only the misses
    assert [r.cached for r in second] == [True, False, True, False]
    assert all(r.status == OK for r in second) and second[0].attempts == 0
    assert second[0].text == first[0].text and second[0].prompt_tokens == 7
    assert seen[0] == (2, 4) and seen[-1] == (4, 4)
    third = complete_cached(_client(Server(), []), _requests(4), cache)
    assert all(r.cached for r in third)
    # a changed parameter is another request
    assert complete_cached(_client(Server(), []), _requests(1, seed=1), cache)[0].cached is False
    assert cache.clear("m") == 5 and len(cache) == 0


def test_request_key_is_the_full_request() -> None:
    base = ChatRequest("m", ({"role": "user", "content": "hi"},), {"temperature": 0, "seed": 1})
    same = ChatRequest("m", ({"content": "hi", "role": "user"},), {"seed": 1, "temperature": 0})
    assert base.key == same.key
    for other in (ChatRequest("m2", base.messages, base.params),
                  ChatRequest("m", ({"role": "user", "content": "hi!"},), base.params),
                  ChatRequest("m", base.messages, {"temperature": 0, "seed": 2})):
        assert other.key != base.key


def test_processes_share_one_cache(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from assay.llm.providers import ChatRequest, ChatResult, ResponseCache
        cache = ResponseCache({str(tmp_path / 'shared')!r})
        who = sys.argv[1]
        for i in range(150):
            r = ChatRequest("m", ({{"role": "user", "content": f"q{{i}}"}},), {{}})
            cache.put(r, ChatResult(f"{{who}}-{{i}}"))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, w]) for w in ("a", "b", "c")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    cache = ResponseCache(tmp_path / "shared")
    assert len(cache) == 150  # one answer per request: the first stored is kept
    texts = {cache.get(ChatRequest("m", ({"role": "user", "content": f"q{i}"},), {})).text.split("-")[0]
             for i in range(150)}
    assert texts <= {"a", "b", "c"}


def test_python_function_provider() -> None:
    def fn(request: ChatRequest):
        content = request.messages[-1]["content"]
        if content == "q1":
            raise RuntimeError("model crashed")
        if content == "q2":
            return {"text": "dict answer", "prompt_tokens": 4, "completion_tokens": 2, "cost": 0.01}
        if content == "q3":
            return 42
        return content.upper()

    got = CallableChat(fn, concurrency=2).complete(_requests(4))
    assert got[0].text == "Q0" and got[0].status == OK
    assert got[1].status == ERROR and got[1].error == "RuntimeError: model crashed"
    assert (got[2].text, got[2].prompt_tokens, got[2].cost) == ("dict answer", 4, 0.01)
    assert got[3].status == ERROR and "returned int" in got[3].error


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=10), usegmt=True), now) == 10.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=10), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
