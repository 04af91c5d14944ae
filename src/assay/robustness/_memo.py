"""Stress results kept next to the prediction cache, so a rerun that changes nothing
recomputes nothing.

A perturbation's (or behavioural test's) outcome is a deterministic function of the model
(its cache key: fingerprint and input schema), the evaluation rows it ran on (their
features, labels, weights, slice codes and positions), the perturbation's settings and
seed, and the statistics' settings. Its key is the SHA-256 of all of these and of assay's
version; the tables and examples are stored under ``<cache>/stress/<key>/`` (each file
written to a temporary name and renamed, the examples last, so a half-written entry is
never read). Any change to any input gives a new key: the entry is never stale, only
unused. ``assay cache clear`` removes these entries with the predictions.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MEMO_FOLDER = "stress"


def rows_digest(frame: pd.DataFrame, *arrays: np.ndarray | None) -> str:
    """SHA-256 of a frame's rows (128-bit row hashes, column names and dtypes) and of arrays."""
    from assay.models import row_hashes

    h = hashlib.sha256()
    h1, h2 = row_hashes(frame)
    h.update(h1.tobytes())
    h.update(h2.tobytes())
    h.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    for a in arrays:
        if a is None:
            h.update(b"none")
        else:
            a = np.ascontiguousarray(a)
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes() if a.dtype != object else json.dumps(a.astype(str).tolist()).encode())
    return h.hexdigest()


def memo_key(*parts: Any) -> str:
    from assay import __version__

    payload = json.dumps([__version__, *parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class StressMemo:
    """Stored outcomes of perturbations and behavioural tests, by key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / MEMO_FOLDER

    def _folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> tuple[pd.DataFrame, pd.DataFrame | None, Any] | None:
        """(table, errors or None, examples) stored under ``key``, or None."""
        d = self._folder(key)
        done = d / "examples.json"
        if not done.is_file():
            return None
        try:
            table = pd.read_parquet(d / "table.parquet")
            errors = pd.read_parquet(d / "errors.parquet") if (d / "errors.parquet").is_file() else None
            examples = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # removed or damaged meanwhile: recompute
        return table, errors, examples

    def put(self, key: str, table: pd.DataFrame, errors: pd.DataFrame | None, examples: Any) -> None:
        d = self._folder(key)
        d.mkdir(parents=True, exist_ok=True)

        def write(name: str, save) -> None:
            tmp = d / f".{name}.{uuid.uuid4().hex}"
            save(tmp)
            os.replace(tmp, d / name)

        write("table.parquet", lambda p: table.to_parquet(p, index=False))
        if errors is not None:
            write("errors.parquet", lambda p: errors.to_parquet(p, index=False))
        write("examples.json", lambda p: p.write_text(json.dumps(examples, default=_json), encoding="utf-8"))


def _json(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
