"""Providers: where LLM answers come from. An OpenAI-compatible HTTP client (async httpx,
concurrency limit, bounded retries honouring 429 and Retry-After, timeouts), a Python
function, a GGUF model in-process (llama-cpp-python), and an on-disk cache keyed by the
full request, so re-runs and re-scores cost nothing and an interrupted run resumes."""

from assay.llm.providers._cache import ResponseCache
from assay.llm.providers._callable import CallableChat
from assay.llm.providers._http import OpenAIChat, Prices, RetryPolicy, retry_after_seconds
from assay.llm.providers._local import LocalChat, gguf_path
from assay.llm.providers._run import Provider, complete_cached
from assay.llm.providers._types import ERROR, OK, ChatRequest, ChatResult, canonical_json

__all__ = ["ERROR", "OK", "CallableChat", "ChatRequest", "ChatResult", "LocalChat", "OpenAIChat", "Prices",
           "Provider", "ResponseCache", "RetryPolicy", "canonical_json", "complete_cached", "gguf_path",
           "retry_after_seconds"]
