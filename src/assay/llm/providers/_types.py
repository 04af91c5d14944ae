"""What a provider is asked and what it answers: one chat completion request and result.

A request is keyed by its full content (model, messages, parameters, seed), so a re-run or a
re-score of the same case finds its answer in the cache and costs nothing. Tool definitions
travel in the parameters (``params["tools"]``, OpenAI's format), and an agent's messages may
carry ``tool_calls`` (assistant) and ``tool_call_id`` (role ``tool``); a plain-text request
keeps the key it always had.

A tool call in a result is normalised by :func:`normalize_tool_call` to
``{id, name, arguments, raw_arguments, error}``: ``arguments`` is the parsed JSON object, or
None when the model's text is not a JSON object, in which case ``raw_arguments`` keeps the
text and ``error`` says what is wrong. A malformed call is recorded and flagged, never dropped.
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
    messages: tuple[dict[str, Any], ...]
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
    #: the tool calls the model asked for (see :func:`normalize_tool_call`), None when none
    tool_calls: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatResult:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


def normalize_tool_call(raw: Any, index: int) -> dict[str, Any]:
    """One tool call as ``{id, name, arguments, raw_arguments, error}``.

    Accepts OpenAI's shape (``{id, type, function: {name, arguments}}`` with ``arguments`` as
    JSON text) or a flat one (``{id, name, arguments}`` with a mapping or JSON text). A call
    without an id gets ``call_<index>``; arguments that are not a JSON object leave
    ``arguments`` None, keep the text in ``raw_arguments`` and say why in ``error``."""
    if not isinstance(raw, dict):
        return {"id": f"call_{index}", "name": "", "arguments": None, "raw_arguments": canonical_json(raw),
                "error": f"tool call {index} is not a mapping (got {type(raw).__name__})"}
    fn = raw.get("function") if isinstance(raw.get("function"), dict) else raw
    name = fn.get("name")
    args = fn.get("arguments", {})
    call_id = raw.get("id")
    out: dict[str, Any] = {"id": str(call_id) if call_id not in (None, "") else f"call_{index}",
                           "name": name if isinstance(name, str) else "", "arguments": None,
                           "raw_arguments": None, "error": None}
    problems = [] if isinstance(name, str) and name else ["the call names no function"]
    if args is None:
        args = {}
    if isinstance(args, str):
        out["raw_arguments"] = args
        try:
            parsed = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            problems.append(f"arguments are not valid JSON ({exc.msg} at character {exc.pos})")
            parsed = None
    else:
        out["raw_arguments"] = canonical_json(args)
        parsed = args
    if parsed is not None and not isinstance(parsed, dict):
        problems.append(f"arguments must be a JSON object, got {type(parsed).__name__}")
        parsed = None
    out["arguments"] = parsed
    out["error"] = "; ".join(problems) or None
    return out


def normalize_tool_calls(raw: Any) -> list[dict[str, Any]] | None:
    """A reply's tool calls normalised (None when there are none); a value that is not a list
    becomes one flagged call, so nothing the model sent is lost."""
    if raw is None or raw == []:
        return None
    items = raw if isinstance(raw, list) else [raw]
    return [normalize_tool_call(c, i) for i, c in enumerate(items)]
