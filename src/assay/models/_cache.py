"""The on-disk prediction cache: predictions keyed by model and input row.

A *model key* is SHA-256 over the adapter's fingerprint, kind and output settings, the
evaluation's output shape, and the frame's column names and dtypes in order: any change to
the model or to what it is given starts a new key. A *row hash* is 128 bits per row, two
independent 64-bit hashes of the row's values (``pandas.util.hash_pandas_object`` with two
keys; the column order is part of the hash, NaN hashes like NaN).

Layout: ``<root>/<key[:2]>/<key>/<uuid>.parquet``; each shard holds columns ``h1``, ``h2``,
``v0..v{k-1}`` (float64) and ``error`` (a message, or null). A shard is written to a hidden
temporary file in the same folder and renamed into place (``os.replace`` is atomic), so
readers never see a partial shard and concurrent runs never corrupt each other; the same
row in two shards is harmless (the first error-free copy wins). When a key has more than
``COMPACT_AT`` shards, the writer that notices merges them into one under a lock file in
the key's folder; a reader whose shard disappears meanwhile lists the folder again.

Lookups read the key's shards and join on ``h1`` through a pandas hash index, then check
``h2``: about 0.2 s for a million cached rows. A cache object keeps the indexed shards of
its recent keys in memory and on the next lookup reads only shards it has not seen, so
the many lookups of one run (a clean pass, then each perturbation) read each shard once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay._errors import InputError

#: bump when the key's recipe or the shard format changes
CACHE_VERSION = "assay-prediction-cache-v1"
#: two different 16-character keys for the two 64-bit halves of a row hash
HASH_KEYS = ("assay-rowhash-k1", "assay-rowhash-k2")
#: shards per key above which a writer merges them
COMPACT_AT = 32
#: keys, and stored rows, whose indexed shards a cache object keeps in memory between lookups
MEMO_KEYS = 4
MEMO_ROWS = 20_000_000
#: indexed pieces per key before they are merged into one
MAX_SEGMENTS = 8
_KEY = re.compile(r"[0-9a-f]{16,128}")
_RETRIES = 8


def default_cache_dir() -> Path:
    """``$ASSAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/assay/predictions``, else
    ``~/.cache/assay/predictions``."""
    if os.environ.get("ASSAY_CACHE_DIR"):
        return Path(os.environ["ASSAY_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "assay" / "predictions"


def row_hashes(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Two uint64 arrays: a 128-bit hash of each row's values, in column order (equal rows,
    equal hashes; the same values in another column order hash differently)."""
    n = len(frame)
    if frame.shape[1] == 0:
        return np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    try:
        return tuple(  # type: ignore[return-value]
            pd.util.hash_pandas_object(frame, index=False, hash_key=k).to_numpy(np.uint64)
            for k in HASH_KEYS)
    except TypeError as exc:
        for c in frame.columns:
            try:
                pd.util.hash_pandas_object(frame[[c]], index=False)
            except TypeError:
                raise InputError(f"column {c!r} holds values that cannot be hashed ({exc}); give the "
                                 "model plain numbers, strings or categories") from None
        raise


def _label(value: Any) -> list[str]:
    v = value.item() if isinstance(value, np.generic) else value
    return [type(v).__name__, str(v)]


def model_key(adapter: Any, shape: Any, frame: pd.DataFrame) -> str:
    """SHA-256 hex keying ``adapter``'s predictions on frames shaped like ``frame``: the
    adapter's fingerprint, kind and output settings, the output shape, and the column names
    and dtypes in order."""
    spec = getattr(adapter, "spec", None)
    settings = {}
    if spec is not None and hasattr(spec, "model_dump"):
        settings = spec.model_dump(include={"output", "onnx_output", "input_key", "output_key", "version"})
    payload = {
        "version": CACHE_VERSION,
        "fingerprint": str(adapter.fingerprint),
        "kind": str(adapter.kind),
        "output": [str(getattr(adapter, "output_config", "")), settings],
        "shape": {"task": shape.task, "classes": [_label(c) for c in shape.classes],
                  "positive": _label(shape.positive)},
        "columns": [[str(c), str(t)] for c, t in frame.dtypes.items()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InputError(f"cache key {key!r} is not a model key (a lowercase hex string, as "
                         "'assay cache info' lists them)")
    return key


class PredictionCache:
    """Predictions on disk under ``root`` (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self._memo: dict[str, _Memo] = {}

    def __repr__(self) -> str:
        return f"PredictionCache({str(self.root)!r})"

    def folder(self, key: str) -> Path:
        """The folder holding ``key``'s shards."""
        return self.root / _check_key(key)[:2] / key

    def shards(self, key: str) -> list[Path]:
        """The key's shard files, sorted by name."""
        d = self.folder(key)
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    # ---- reading ----------------------------------------------------------------------

    def _read(self, key: str, skip: frozenset[str] = frozenset()) -> tuple[pa.Table | None, list[Path]]:
        """The key's shards not named in ``skip`` as one table (None when there are none), and
        every shard file listed; lists again when a shard vanishes mid-read (a compaction
        removed it)."""
        for _ in range(_RETRIES):
            files = self.shards(key)
            tables = []
            try:
                for f in files:
                    if f.name in skip:
                        continue
                    try:
                        tables.append(pq.read_table(f))
                    except (pa.ArrowInvalid, OSError) as exc:
                        if isinstance(exc, FileNotFoundError) or not f.exists():
                            raise FileNotFoundError(f) from None
                        warnings.warn(f"prediction cache: shard {f} is unreadable ({exc}); ignored "
                                      "(remove it or run 'assay cache clear')", stacklevel=3)
            except FileNotFoundError:
                continue
            if not tables:
                return None, files
            return pa.concat_tables(tables, promote_options="default"), files
        raise InputError(f"prediction cache {self.folder(key)}: shards keep disappearing while read; "
                         "is another process clearing the cache?")

    def _segments(self, key: str) -> _Memo:
        """The key's stored rows as indexed segments, kept in memory between lookups: only
        shards not read before are read (all again when one was removed by a compaction or
        a clear)."""
        memo = self._memo.pop(key, None)
        names = {f.name for f in self.shards(key)}
        if memo is None or not memo.files <= names:
            memo = _Memo()
        table, files = self._read(key, frozenset(memo.files))
        if not {f.name for f in files} >= memo.files:  # removed while reading: start over
            memo = _Memo()
            table, files = self._read(key)
        memo.files = {f.name for f in files}
        if table is not None:
            memo.segments.append(_indexed(table))
        if len(memo.segments) > MAX_SEGMENTS:
            memo.segments = [_merge(memo.segments)]
        self._memo[key] = memo
        while len(self._memo) > MEMO_KEYS or (len(self._memo) > 1 and sum(
                m.rows for m in self._memo.values()) > MEMO_ROWS):
            self._memo.pop(next(iter(self._memo)))
        return memo

    def lookup(self, key: str, h1: np.ndarray, h2: np.ndarray, *,
               width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """For each row hash ``(h1, h2)``: whether it is cached, its values (n, k) (NaN where not
        found) and its error message (an object array with None where there is none, or None
        when no found row has one). ``width`` k defaults to the stored width (1 when empty)."""
        h1 = np.asarray(h1, dtype=np.uint64)
        h2 = np.asarray(h2, dtype=np.uint64)
        n = len(h1)
        memo = self._segments(key)
        stored = memo.segments[0].values.shape[1] if memo.segments else 1
        k = width if width is not None else stored
        values = np.full((n, k), np.nan)
        found = np.zeros(n, dtype=bool)
        errors: np.ndarray | None = None  # allocated when a segment holds errors
        has_error = np.zeros(n, dtype=bool)
        if n == 0 or not memo.segments or stored != k:
            return found, values, None
        for seg in memo.segments:  # a value found in any segment beats an error found in one
            open_rows = np.flatnonzero(~found | has_error) if has_error.any() else np.flatnonzero(~found)
            if len(open_rows) == 0:
                break
            pos = seg.index.get_indexer(h1[open_rows])
            hit = pos >= 0
            hit[hit] = seg.h2[pos[hit]] == h2[open_rows[hit]]
            rows, pos = open_rows[hit], pos[hit]
            if seg.errors is not None:
                err = seg.errors[pos]
                bad = np.not_equal(err, None)
                keep = ~bad | ~found[rows]  # an error never replaces a value
                rows, pos, err, bad = rows[keep], pos[keep], err[keep], bad[keep]
                if errors is None:
                    errors = np.full(n, None, dtype=object)
                errors[rows] = err
                has_error[rows] = bad
            elif errors is not None:
                errors[rows] = None
                has_error[rows] = False
            found[rows] = True
            values[rows] = seg.values[pos]
        return found, values, (errors if errors is not None and has_error.any() else None)

    # ---- writing ----------------------------------------------------------------------

    def store(self, key: str, h1: np.ndarray, h2: np.ndarray, values: np.ndarray,
              errors: np.ndarray | list[str | None] | None = None) -> None:
        """Add rows to ``key``: their values (n,) or (n, k) and optional error messages."""
        n = len(h1)
        if n == 0:
            return
        vals = np.asarray(values, dtype=np.float64).reshape(n, -1)
        columns: dict[str, pa.Array] = {
            "h1": pa.array(np.asarray(h1, np.uint64)), "h2": pa.array(np.asarray(h2, np.uint64))}
        for j in range(vals.shape[1]):
            columns[f"v{j}"] = pa.array(vals[:, j])
        if errors is None:
            columns["error"] = pa.nulls(n, pa.string())
        else:
            columns["error"] = pa.array([None if e is None else str(e) for e in errors], pa.string())
        self._write(key, pa.table(columns))
        if len(self.shards(key)) > COMPACT_AT:
            self.compact(key)

    def _write(self, key: str, table: pa.Table) -> Path:
        d = self.folder(key)
        name = uuid.uuid4().hex
        for attempt in range(2):
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{name}.tmp"
            try:
                pq.write_table(table, tmp, compression="snappy")
                target = d / f"{name}.parquet"
                os.replace(tmp, target)
                return target
            except FileNotFoundError:  # the folder was cleared meanwhile: write it again
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def compact(self, key: str) -> bool:
        """Merge ``key``'s shards into one, without duplicates; False when another process is
        compacting it already or there is nothing to merge."""
        from filelock import FileLock, Timeout

        d = self.folder(key)
        if not d.is_dir():
            return False
        lock = FileLock(str(d / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        try:
            table, files = self._read(key)
            if table is None or len(files) < 2:
                return False
            self._write(key, _deduplicated(table))
            for f in files:
                f.unlink(missing_ok=True)
            return True
        finally:
            lock.release()

    # ---- housekeeping -----------------------------------------------------------------

    def _keys(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(k for p in self.root.iterdir() if p.is_dir() and len(p.name) == 2
                      for k in p.iterdir() if k.is_dir() and _KEY.fullmatch(k.name) and k.name[:2] == p.name)

    def clear(self, key: str | None = None) -> tuple[int, int]:
        """Remove one key's entries, or all of them (and the stored stress outcomes): (entries,
        bytes) removed. Entries count stored rows (a row cached twice, before compaction,
        counts twice)."""
        folders = [self.folder(key)] if key is not None else self._keys()
        if key is None:
            self._memo.clear()
        else:
            self._memo.pop(key, None)
        entries = size = 0
        for d in folders:
            if not d.is_dir():
                continue
            rows, _, nbytes, _ = _folder_stats(d)
            entries += rows
            size += nbytes
            shutil.rmtree(d, ignore_errors=True)
            try:
                d.parent.rmdir()
            except OSError:
                pass  # other keys share the prefix folder
        memo = self.root / "stress"  # stored stress outcomes (assay.robustness._memo)
        if key is None and memo.is_dir():
            size += sum(f.stat().st_size for f in memo.rglob("*") if f.is_file())
            shutil.rmtree(memo, ignore_errors=True)
        return entries, size

    def info(self) -> pd.DataFrame:
        """One row per key: key, rows, shards, bytes, modified (UTC), newest first."""
        rows = []
        for d in self._keys():
            n, shards, nbytes, mtime = _folder_stats(d)
            rows.append({"key": d.name, "rows": n, "shards": shards, "bytes": nbytes,
                         "modified": pd.Timestamp(datetime.fromtimestamp(mtime, UTC))})
        out = pd.DataFrame(rows, columns=["key", "rows", "shards", "bytes", "modified"])
        return out.sort_values(["modified", "key"], ascending=[False, True], ignore_index=True)


def _width(table: pa.Table) -> int:
    return sum(1 for c in table.column_names if c.startswith("v"))


def _columns(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(h1, h2, values, errors) of stored rows, rows with a value before rows with an error."""
    h1 = table.column("h1").to_numpy()
    h2 = table.column("h2").to_numpy()
    k = _width(table)
    vals = np.empty((len(h1), k))
    for j in range(k):
        vals[:, j] = table.column(f"v{j}").to_numpy()
    err_col = table.column("error")
    if err_col.null_count == len(err_col):
        return h1, h2, vals, None
    errors = np.asarray(err_col.to_pylist(), dtype=object)
    order = np.argsort(err_col.is_valid().to_numpy(zero_copy_only=False), kind="stable")
    return h1[order], h2[order], vals[order], errors[order]


def _first(keep: np.ndarray, *arrays: np.ndarray | None) -> list[Any]:
    return [None if a is None else a[keep] for a in arrays]


@dataclass
class _Segment:
    """Stored rows with a unique hash index on h1 and the matching h2, values and errors."""

    index: pd.Index
    h2: np.ndarray
    values: np.ndarray
    errors: np.ndarray | None


@dataclass
class _Memo:
    """What a cache object remembers of one key: the shard files read and their segments."""

    files: set[str] = field(default_factory=set)
    segments: list[_Segment] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(s.index) for s in self.segments)


def _segment(h1: np.ndarray, h2: np.ndarray, vals: np.ndarray, errors: np.ndarray | None) -> _Segment:
    """Index the rows on h1, first copy kept. An h1 shared by two different rows (a 2^-64
    event) keeps one of them; the other then fails the h2 check and is predicted again."""
    index = pd.Index(h1)
    if not index.is_unique:
        keep = ~index.duplicated()
        h1, h2, vals, errors = _first(keep, h1, h2, vals, errors)
        index = pd.Index(h1)
    return _Segment(index, h2, vals, errors)


def _indexed(table: pa.Table) -> _Segment:
    """A table of stored rows as a segment, rows with a value preferred."""
    return _segment(*_columns(table))


def _merge(segments: list[_Segment]) -> _Segment:
    """One segment from several (earlier ones first, values before errors)."""
    h1 = np.concatenate([s.index.to_numpy() for s in segments])
    h2 = np.concatenate([s.h2 for s in segments])
    vals = np.concatenate([s.values for s in segments])
    errors = None
    if any(s.errors is not None for s in segments):
        errors = np.concatenate([s.errors if s.errors is not None else np.full(len(s.h2), None, object)
                                 for s in segments])
        order = np.argsort(np.not_equal(errors, None), kind="stable")
        h1, h2, vals, errors = h1[order], h2[order], vals[order], errors[order]
    return _segment(h1, h2, vals, errors)


def _deduplicated(table: pa.Table) -> pa.Table:
    """The table with one row per (h1, h2), rows with a value preferred."""
    h1, h2, vals, errors = _columns(table)
    keep = ~pd.DataFrame({"h1": h1, "h2": h2}).duplicated().to_numpy()
    h1, h2, vals, errors = _first(keep, h1, h2, vals, errors)
    merged = {"h1": pa.array(h1), "h2": pa.array(h2)}
    for j in range(vals.shape[1]):
        merged[f"v{j}"] = pa.array(vals[:, j])
    merged["error"] = pa.array(errors if errors is not None else [None] * len(h1), pa.string())
    return pa.table(merged)


def _folder_stats(d: Path) -> tuple[int, int, int, float]:
    """(rows, shards, bytes, newest modification time) of a key folder."""
    rows = shards = nbytes = 0
    mtime = d.stat().st_mtime
    for f in d.iterdir():
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        nbytes += st.st_size
        mtime = max(mtime, st.st_mtime)
        if f.suffix == ".parquet" and not f.name.startswith("."):
            shards += 1
            try:
                rows += pq.read_metadata(f).num_rows
            except (OSError, pa.ArrowInvalid):
                pass
    return rows, shards, nbytes, mtime
