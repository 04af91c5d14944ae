"""A Python function as a provider: ``fn(request) -> str`` or a mapping with ``text`` and
optionally ``prompt_tokens``, ``completion_tokens``, ``cost``. Calls run in a thread pool of
``concurrency`` workers; an exception becomes that case's error, never the run's."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assay.llm.providers._types import ERROR, OK, ChatRequest, ChatResult


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
        if isinstance(got, dict) and isinstance(got.get("text"), str | type(None)):
            return ChatResult(got.get("text"), OK, "", got.get("prompt_tokens"), got.get("completion_tokens"),
                              latency, got.get("cost"))
        return ChatResult(None, ERROR, f"the function returned {type(got).__name__}; return a str or a "
                          "mapping with 'text'", latency_s=latency)

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
