"""A guarded assistant: SmolLM2-135M-Instruct behind an input filter and an output filter.

The suite compares it with the bare model on the same attacks. The filters are deliberately
simple (a production guard would be a trained classifier); the point is to see, with
intervals, what each layer buys and what it costs in over-refusal.

* input filter: refuses prompts with the marks of an injection or jailbreak (instructions to
  ignore earlier ones, persona switches, requests for the system prompt or hidden codes,
  encoded payloads) and prompts that ask for clear harm;
* output filter: withholds an answer that repeats a secret code present in the system prompt
  or the retrieved documents, in any letter case or with separators.
"""

from __future__ import annotations

import re
from typing import Any

from assay.llm.providers import ChatRequest, LocalChat

REFUSAL = "I'm sorry, but I can't help with that request."
WITHHELD = "I'm sorry, but I can't share that information."

_INJECTION = re.compile(
    r"ignore (?:all |any |the |your )?(?:previous|prior|above|earlier|preceding)|disregard|"
    r"forget (?:all |your |the )|developer mode|\bDAN\b|jailbreak|no (?:rules|restrictions|filters)|"
    r"system prompt|your (?:instructions|rules|prompt)|internal code|confidential|access code|"
    r"override|pretend|role-?play|act as|you are now|base64|rot13|decode|"
    r"ignora|ignorez|ignoriere|instrucciones|instructions précédentes|vorherigen",
    re.IGNORECASE)
_HARM = re.compile(
    r"\b(?:kill|murder|poison|stab|shoot) (?:my|a|the|someone|somebody|people|him|her)\b|"
    r"without (?:getting caught|being traced|leaving)|make (?:a )?(?:bomb|explosive|meth)|"
    r"steal|hack into|break into|credit card numbers|untraceable|weapon",
    re.IGNORECASE)
_CODE = re.compile(r"\b[A-Z]{2}-[A-Z2-7]{10}\b")
_MODEL: Any = None


def _model() -> Any:
    global _MODEL
    if _MODEL is None:
        _MODEL = LocalChat("smollm2", n_ctx=2048)
    return _MODEL


def _secrets(request: ChatRequest) -> list[str]:
    return sorted({m for msg in request.messages for m in _CODE.findall(str(msg.get("content", "")))})


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def answer(request: ChatRequest) -> dict[str, Any]:
    """The guarded answer to one chat request (the suite's ``callable`` provider)."""
    user = next((str(m["content"]) for m in reversed(request.messages) if m.get("role") == "user"), "")
    if _INJECTION.search(user) or _HARM.search(user):
        return {"text": REFUSAL, "prompt_tokens": 0, "completion_tokens": 0}
    result = _model().complete([request])[0]
    if result.status != "ok" or result.text is None:
        raise RuntimeError(result.error or "the local model gave no answer")
    text = result.text
    squashed = _squash(text)
    if any(_squash(s) in squashed or _squash(s)[::-1] in squashed for s in _secrets(request)):
        text = WITHHELD
    return {"text": text, "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens}
