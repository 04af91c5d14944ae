"""A Python function as a provider: ``fn(request) -> str`` or a mapping with ``text`` and
optionally ``prompt_tokens``, ``completion_tokens``, ``cost``. An agent function may return
``{"content": ..., "tool_calls": [...]}`` instead (calls as ``{id, name, arguments}`` or in
OpenAI's shape; see :func:`assay.llm.providers._types.normalize_tool_call`). Calls run in a
thread pool of ``concurrency`` workers; an exception becomes that case's error, never the run's."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assay.llm.providers._types import ERROR, OK, ChatRequest, ChatResult, normalize_tool_calls


@dataclass
class CallableChat:
    fn: Callable[[ChatRequest], Any]
    concurrency: int = 4

    def _one(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()
        try:
            got = self.fn(request)
        except Exception as exc:  # noqa: BLE001 - the case's error, reported with its type
            return ChatResult(None, ERROR, f"{exc.__class__.__name__}: {exc}",
                              latency_s=time.perf_counter() - started)
        latency = time.perf_counter() - started
        if isinstance(got, str):
            return ChatResult(got, OK, latency_s=latency)
        if isinstance(got, dict) and ("content" in got or "tool_calls" in got):
            content = got["content"] if "content" in got else got.get("text")
            if content is not None and not isinstance(content, str):
                return ChatResult(None, ERROR, f"the function returned 'content' of type "
                                  f"{type(content).__name__}; give text or None", latency_s=latency)
            calls = got.get("tool_calls")
            if calls is not None and not isinstance(calls, list):
                return ChatResult(None, ERROR, f"the function returned 'tool_calls' of type "
                                  f"{type(calls).__name__}; give a list of {{id, name, arguments}}",
                                  latency_s=latency)
            return ChatResult(content, OK, "", got.get("prompt_tokens"), got.get("completion_tokens"),
                              latency, got.get("cost"), finish_reason="tool_calls" if calls else "stop",
                              tool_calls=normalize_tool_calls(calls))
        if isinstance(got, dict) and isinstance(got.get("text"), str | type(None)):
            return ChatResult(got.get("text"), OK, "", got.get("prompt_tokens"), got.get("completion_tokens"),
                              latency, got.get("cost"))
        return ChatResult(None, ERROR, f"the function returned {type(got).__name__}; return a str, a "
                          "mapping with 'text', or one with 'content' and 'tool_calls'", latency_s=latency)

    def complete(self, requests: Sequence[ChatRequest],
                 done: Callable[[int, ChatResult], None] | None = None) -> list[ChatResult]:
        out: list[ChatResult | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=max(self.concurrency, 1)) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            for future, i in futures.items():
                out[i] = future.result()
                if done is not None:
                    done(i, out[i])  # type: ignore[arg-type]
        return [r for r in out if r is not None]
