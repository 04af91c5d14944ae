"""Content fingerprints of a run's inputs: the dataset, prediction files, model artifacts.

Hashes are SHA-256 of the bytes. A file is hashed once per process for a given size and
modification time (a run hashes its inputs when it starts and again in its manifest).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.spec import EvalSpec


@lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    st = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def path_sha256(path: str | Path) -> tuple[str, int]:
    """(SHA-256, bytes) of a file, or of a folder: every file's relative path and hash, in
    sorted order, so renaming or changing any file changes the fingerprint."""
    p = Path(path)
    if p.is_file():
        return file_sha256(p), p.stat().st_size
    h = hashlib.sha256()
    total = 0
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(f.relative_to(p).as_posix().encode() + b"\0" + file_sha256(f).encode() + b"\n")
        total += f.stat().st_size
    return h.hexdigest(), total


def table_sha256(table: pa.Table) -> str:
    """SHA-256 of an in-memory table's Arrow IPC stream (schema and values), written in
    batches into the hash, not into memory."""

    class _Sink:
        def __init__(self) -> None:
            self.h = hashlib.sha256()
            self.closed = False

        def write(self, data: Any) -> int:
            view = memoryview(data)
            self.h.update(view)
            return view.nbytes

        def flush(self) -> None:
            pass

    sink = _Sink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table)
    return sink.h.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def input_fingerprints(spec: EvalSpec, base_dir: str | Path) -> dict[str, dict[str, Any]]:
    """role -> {path, sha256, bytes} of everything the spec reads: ``data``, each model's
    predictions file or adapter model file (``model:<name>``) and artifacts
    (``artifact:<name>:<path>``).

    A ``data.sql`` source is fingerprinted by its query text only (the files it reads are
    named inside the SQL and not hashed). A missing artifact is recorded as missing.
    """
    base = Path(base_dir).resolve()
    out: dict[str, dict[str, Any]] = {}

    def add(role: str, rel: str) -> None:
        path = (base / rel).resolve()
        if path.exists():
            digest, size = path_sha256(path)
            out[role] = {"path": str(path), "sha256": digest, "bytes": size}
        else:
            out[role] = {"path": str(path), "sha256": None, "bytes": None, "missing": True}

    if spec.data is not None and spec.data.path:
        add("data", spec.data.path)
    elif spec.data is not None and spec.data.sql:
        out["data.sql"] = {"sql": spec.data.sql, "sha256": text_sha256(spec.data.sql)}
    for m in spec.models:
        if m.path:
            add(f"model:{m.name}", m.path)
        for art in m.artifacts:
            add(f"artifact:{m.name}:{art}", art)
        if m.adapter is not None:  # a function's or endpoint's fingerprint comes from the run
            if m.adapter.path:
                add(f"model:{m.name}", m.adapter.path)
            for art in m.adapter.artifacts:
                add(f"artifact:{m.name}:{art}", art)
    quality = getattr(spec, "quality", None)
    leakage = getattr(quality, "leakage", None)
    if leakage is not None and getattr(leakage, "train", None):
        add("quality:train", leakage.train)  # the leakage check's training file
    return out
