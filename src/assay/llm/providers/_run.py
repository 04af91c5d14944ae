"""Answer many requests through the cache: hits cost nothing, misses go to the provider, and
successful answers are stored as they arrive, so an interrupted run resumes where it stopped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from assay.llm.providers._cache import ResponseCache
from assay.llm.providers._types import ChatRequest, ChatResult


class Provider(Protocol):
    def complete(self, requests: Sequence[ChatRequest],
                 done: Callable[[int, ChatResult], None] | None = None) -> list[ChatResult]: ...


def complete_cached(provider: Provider, requests: Sequence[ChatRequest], cache: ResponseCache | None,
                    progress: Callable[[int, int], None] | None = None) -> list[ChatResult]:
    """Answers in request order; ``progress(done, total)`` after each answer."""
    total = len(requests)
    results: list[ChatResult | None] = [None] * total
    todo: list[int] = []
    for i, request in enumerate(requests):
        hit = cache.get(request) if cache is not None else None
        if hit is not None:
            results[i] = hit
        else:
            todo.append(i)
    finished = total - len(todo)
    if progress is not None:
        progress(finished, total)

    def done(j: int, result: ChatResult) -> None:
        nonlocal finished
        if cache is not None:
            cache.put(requests[todo[j]], result)
        finished += 1
        if progress is not None:
            progress(finished, total)

    answers = provider.complete([requests[i] for i in todo], done) if todo else []
    for i, result in zip(todo, answers, strict=True):
        results[i] = result
    return [r for r in results if r is not None]
