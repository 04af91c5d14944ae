"""What a provider is asked and what it answers: one chat completion request and result.

A request is keyed by its full content (model, messages, parameters, seed), so a re-run or a
re-score of the same case finds its answer in the cache and costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

OK, ERROR = "ok", "error"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion: the model, the messages and the sampling parameters (temperature,
    max_tokens, seed, top_p, stop, response_format, ...)."""

    model: str
    messages: tuple[dict[str, str], ...]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """SHA-256 of the canonical request: the cache key."""
        body = {"model": self.model, "messages": list(self.messages), "params": self.params}
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()

    def body(self) -> dict[str, Any]:
        """The OpenAI-compatible request body."""
        return {"model": self.model, "messages": list(self.messages), **self.params}


@dataclass
class ChatResult:
    """A provider's answer to one request, or why there is none.

    ``status`` is ok or error (with ``error`` saying what failed: HTTP status and message,
    timeout, invalid response); tokens and cost are None when the provider did not report
    them; ``attempts`` counts HTTP attempts (0 for a cache hit).
    """

    text: str | None
    status: str = OK
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    cost: float | None = None
    attempts: int = 1
    cached: bool = False
    finish_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatResult:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
