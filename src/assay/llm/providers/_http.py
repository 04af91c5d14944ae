"""An OpenAI-compatible chat-completions client (``POST {base_url}/chat/completions``).

Async httpx with a concurrency limit. Retries use exponential backoff with full jitter
(seeded by the request key and attempt, so a rerun waits the same), honour ``429`` and
``503`` ``Retry-After`` (seconds or an HTTP date), and are bounded by ``max_attempts``.
Timeouts and connection errors are retried; other 4xx answers are not (the request itself
is wrong). Every failure ends as a ChatResult with status error and the cause: a run never
crashes on one case. Tool definitions in the request parameters (``tools``) are sent as they
are, and ``choices[0].message.tool_calls`` comes back as the result's normalised tool calls.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from assay.llm.providers._types import ERROR, OK, ChatRequest, ChatResult, normalize_tool_calls

#: statuses worth another attempt: rate limits, timeouts on the server, overload
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` HTTP attempts per request; waits of
    ``min(max_wait, base * 2**(attempt-1))`` scaled by a jitter in [0.5, 1], or the server's
    Retry-After when it says so (capped at ``max_wait``)."""

    max_attempts: int = 4
    base: float = 0.5
    max_wait: float = 30.0

    def wait(self, key: str, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
        jitter = 0.5 + 0.5 * int.from_bytes(digest[:4], "big") / 2**32
        return min(self.max_wait, self.base * 2 ** (attempt - 1)) * jitter


@dataclass(frozen=True)
class Prices:
    """Currency units per 1,000 prompt and completion tokens (from the price table in config)."""

    input_per_1k: float = 0.0
    output_per_1k: float = 0.0

    def cost(self, prompt: int | None, completion: int | None) -> float | None:
        if prompt is None and completion is None:
            return None
        return ((prompt or 0) * self.input_per_1k + (completion or 0) * self.output_per_1k) / 1000.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _parse(payload: Any) -> tuple[str | None, int | None, int | None, str | None]:
    """(text, prompt tokens, completion tokens, finish reason) of a chat-completions answer;
    raises ValueError naming what is missing."""
    if not isinstance(payload, dict) or not payload.get("choices"):
        raise ValueError("the answer has no 'choices'")
    choice = payload["choices"][0]
    message = choice.get("message") or {}
    text = message.get("content")
    if text is None and "text" in choice:
        text = choice["text"]
    if text is not None and not isinstance(text, str):
        raise ValueError("choices[0].message.content is not text")
    usage = payload.get("usage") or {}
    return text, usage.get("prompt_tokens"), usage.get("completion_tokens"), choice.get("finish_reason")


def _tool_calls(payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The normalised tool calls of a chat-completions answer (``choices[0].message.tool_calls``;
    the older single ``function_call`` as one call), None when it has none."""
    message = payload["choices"][0].get("message") or {}
    raw = message.get("tool_calls")
    if not raw and isinstance(message.get("function_call"), dict):
        raw = [{"function": message["function_call"]}]
    return normalize_tool_calls(raw)


@dataclass
class OpenAIChat:
    """Send chat requests to an OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, ...)."""

    base_url: str
    api_key: str | None = None
    timeout: float = 60.0
    concurrency: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    prices: Prices = field(default_factory=Prices)
    #: for tests: an httpx transport (e.g. httpx.MockTransport) and a sleep function
    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    async def _one(self, client: httpx.AsyncClient, gate: asyncio.Semaphore,
                   request: ChatRequest) -> ChatResult:
        attempts, last = 0, ""
        started = time.perf_counter()
        while attempts < self.retry.max_attempts:
            attempts += 1
            retry_after: float | None = None
            async with gate:
                try:
                    response = await client.post(self.url, json=request.body())
                except httpx.TimeoutException:
                    last = f"timed out after {self.timeout:g} s"
                except httpx.TransportError as exc:
                    last = f"connection failed: {exc.__class__.__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        try:
                            payload = response.json()
                            text, p_tok, c_tok, finish = _parse(payload)
                        except ValueError as exc:
                            return ChatResult(None, ERROR, f"invalid answer: {exc}", attempts=attempts,
                                              latency_s=time.perf_counter() - started)
                        return ChatResult(text, OK, "", p_tok, c_tok, time.perf_counter() - started,
                                          self.prices.cost(p_tok, c_tok), attempts, False, finish,
                                          _tool_calls(payload))
                    last = f"HTTP {response.status_code}: {response.text[:300].strip()}"
                    if response.status_code not in RETRY_STATUSES:
                        break
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if attempts < self.retry.max_attempts:
                await self.sleep(self.retry.wait(request.key, attempts, retry_after))
        return ChatResult(None, ERROR, f"{last} (after {attempts} attempt(s))", attempts=attempts,
                          latency_s=time.perf_counter() - started)

    async def _all(self, requests: Sequence[ChatRequest],
                   done: Callable[[int, ChatResult], None]) -> list[ChatResult]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers,
                                     transport=self.transport) as client:
            async def one(i: int, r: ChatRequest) -> ChatResult:
                result = await self._one(client, gate, r)
                done(i, result)
                return result

            return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    def complete(self, requests: Sequence[ChatRequest],
                 done: Callable[[int, ChatResult], None] | None = None) -> list[ChatResult]:
        """Answers in request order; ``done(i, result)`` is called as each one finishes."""
        return asyncio.run(self._all(requests, done or (lambda i, r: None)))
