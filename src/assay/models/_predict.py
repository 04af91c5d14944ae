"""Predict with an adapter: deduplicated, cached, batched, with failing rows isolated.

``Predictor.predict`` hashes every row (128 bits, see ``row_hashes``), looks the unique
rows up in the prediction cache, and sends only the unique rows not cached to the model,
``batch_size`` rows per call. A call that raises is split in halves, breadth first (every
failing chunk is halved before any is halved again, so the budget narrows all of them
evenly), until the failing rows are found; each extra call spends one unit of
``error_budget``, and when it is spent a chunk that still fails counts all its rows as
errored with its message and the suffix ``UNSPLIT`` (its rows may not all fail on their
own, so the count is an upper bound, and such errors are not cached). Rows whose output is
NaN are errored too ("returned NaN"). New predictions, and for deterministic adapters the
errors of isolated rows, are written to the cache.

An adapter raises ``InputError`` (an ``AssayError``) for problems of its setup, which stop
the run; any other exception is a failure of the model on those rows, counted and shown.
The returned array is checked: its length must equal the rows given and its shape the
evaluation's (``(n,)``, or ``(n, k)`` for multiclass).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay._errors import AssayError, InputError
from assay.models._adapter import ModelAdapter, OutputShape
from assay.models._cache import PredictionCache, model_key, row_hashes

#: rows per call when neither the predictor nor the adapter spec says
DEFAULT_BATCH = {"http": 256}
LOCAL_BATCH = 65536
NAN_MESSAGE = "returned NaN"
#: appended to the message of rows counted failed because their chunk failed when the error
#: budget ran out (an upper bound: some of them may predict on their own)
UNSPLIT = " [in a failing chunk not split further: the error budget is spent; raise adapter.error_budget]"
ERROR_COLUMNS = ["message", "rows", "example_rows"]


def error_message(exc: BaseException) -> str:
    """The exception's type and the first line of its message: "ValueError: Input X contains NaN."."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def check_output(raw: object, n: int, shape: OutputShape, who: str) -> np.ndarray:
    """The adapter's answer as float64 ``(n,)`` or ``(n, k)``, or an InputError naming the
    adapter and what is wrong (length, shape, non-numeric values)."""
    arr = np.asarray(raw)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{who}: returned non-numeric values (dtype {arr.dtype}, e.g. "
                             f"{arr.ravel()[:3].tolist()}); a model must return numbers") from None
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 0 or len(arr) != n:
        got = "a scalar" if arr.ndim == 0 else f"{len(arr)} rows"
        raise InputError(f"{who}: returned {got} for {n} rows; an adapter must return one "
                         "prediction per row, in row order")
    k = shape.width
    if shape.task == "multiclass":
        if arr.ndim != 2 or arr.shape[1] != k:
            raise InputError(f"{who}: returned shape {arr.shape}; a multiclass model must return "
                             f"({n}, {k}) probabilities, one column per class {list(shape.classes)}")
        return arr
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{who}: returned shape {arr.shape}; a {shape.task} model must return one "
                         f"number per row, shape ({n},)")
    return arr


@dataclass
class Predictions:
    """A model's predictions on a frame, with what failed and what it cost."""

    #: float64 ``(n,)`` or ``(n, k)``; NaN where the row errored
    values: np.ndarray
    #: bool ``(n,)``: the model failed on the row (or returned NaN)
    errored: np.ndarray
    #: one row per distinct message: message, rows (count), example_rows (first 5 positions)
    errors: pd.DataFrame
    n_rows: int = 0
    n_unique: int = 0
    #: unique rows answered by the cache (values or cached errors)
    n_cached: int = 0
    #: unique rows sent to the model
    n_predicted: int = 0
    #: seconds inside ``adapter.predict`` (every call, failed ones too)
    model_seconds: float = 0.0
    total_seconds: float = 0.0
    #: (rows, seconds) of each successful model call
    batches: list[tuple[int, float]] = field(default_factory=list)
    #: the cache key used (None without a cache)
    cache_key: str | None = None

    @property
    def n_errored(self) -> int:
        """Rows the model failed on."""
        return int(self.errored.sum())


class Predictor:
    """Runs an adapter on DataFrames (see the module docstring)."""

    def __init__(self, adapter: ModelAdapter, *, cache: PredictionCache | None, shape: OutputShape,
                 batch_size: int | None = None, error_budget: int = 256,
                 progress: Callable[[int, int], None] | None = None) -> None:
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        if error_budget < 0:
            raise InputError(f"error_budget must be at least 0, got {error_budget}")
        self.adapter = adapter
        self.cache = cache if (cache is not None and adapter.cacheable) else None
        self.shape = shape
        self.batch_size = batch_size or DEFAULT_BATCH.get(adapter.kind, LOCAL_BATCH)
        self.error_budget = error_budget
        self.progress = progress
        self._who = f"{getattr(adapter, 'description', adapter.kind)}"

    def _empty(self, n: int) -> np.ndarray:
        multi = self.shape.task == "multiclass"
        return np.full((n, self.shape.width), np.nan) if multi else np.full(n, np.nan)

    def predict(self, frame: pd.DataFrame) -> Predictions:
        """Predictions for every row of ``frame``, in row order."""
        t0 = time.perf_counter()
        n = len(frame)
        if n == 0:
            return Predictions(self._empty(0), np.zeros(0, bool), pd.DataFrame(columns=ERROR_COLUMNS),
                               total_seconds=time.perf_counter() - t0)
        h1, h2 = row_hashes(frame)
        codes, first = _unique_rows(h1, h2)
        u = len(first)
        uh1, uh2 = h1[first], h2[first]
        k = self.shape.width
        uvals = np.full((u, k), np.nan)
        umsg = np.full(u, None, dtype=object)  # a message where ubad
        ubad = np.zeros(u, dtype=bool)
        done = np.zeros(u, dtype=bool)
        key = None
        if self.cache is not None:
            key = model_key(self.adapter, self.shape, frame)
            done, cvals, cerr = self.cache.lookup(key, uh1, uh2, width=k)
            uvals[done] = cvals[done]
            if cerr is not None:
                ubad = done & np.not_equal(cerr, None)
                umsg[ubad] = cerr[ubad]
        n_cached = int(done.sum())
        todo = np.flatnonzero(~done)
        run = _Run(self, frame, first, len(todo))
        for start in range(0, len(todo), self.batch_size):
            run.solve(todo[start:start + self.batch_size])
        run.isolate()
        uvals[todo] = run.values[todo]
        ubad[todo] = run.failed[todo]
        umsg[run.failed] = run.messages[run.failed]
        isolated = run.isolated
        nan_rows = np.isnan(uvals).any(axis=1) & ~ubad
        umsg[nan_rows] = NAN_MESSAGE
        ubad |= nan_rows
        isolated |= nan_rows
        if self.cache is not None and len(todo):
            self._store(key, uh1, uh2, uvals, umsg, ubad, todo, isolated)
        values = uvals[codes]
        if self.shape.task != "multiclass":
            values = values[:, 0]
        errored = ubad[codes]
        bad_rows = np.flatnonzero(errored)
        values[bad_rows] = np.nan
        return Predictions(
            values=values, errored=errored, errors=_error_table(bad_rows, umsg[codes[bad_rows]]), n_rows=n,
            n_unique=u, n_cached=n_cached, n_predicted=len(todo), model_seconds=run.model_seconds,
            total_seconds=time.perf_counter() - t0, batches=run.batches, cache_key=key)

    def _store(self, key: str | None, uh1: np.ndarray, uh2: np.ndarray, uvals: np.ndarray,
               umsg: np.ndarray, ubad: np.ndarray, todo: np.ndarray, isolated: np.ndarray) -> None:
        """Cache the new predictions and, for deterministic adapters, the isolated errors."""
        assert self.cache is not None and key is not None
        keep = ~ubad[todo]
        if self.adapter.deterministic:
            keep |= isolated[todo]
        rows = todo[keep]
        if len(rows) == 0:
            return
        self.cache.store(key, uh1[rows], uh2[rows], uvals[rows], umsg[rows] if ubad[rows].any() else None)


class _Run:
    """One ``predict`` call's model work: batches, bisection, timing and the error budget."""

    def __init__(self, owner: Predictor, frame: pd.DataFrame, first: np.ndarray, total: int) -> None:
        self.owner = owner
        self.frame = frame
        self.first = first
        u = len(first)
        self.values = np.full((u, owner.shape.width), np.nan)
        self.messages = np.full(u, None, dtype=object)
        self.failed = np.zeros(u, dtype=bool)
        #: the row's error was found on its own (a one-row call), so it may be cached
        self.isolated = np.zeros(u, dtype=bool)
        self.budget = owner.error_budget
        #: failing chunks of more than one row, waiting to be halved
        self.pending: deque[tuple[np.ndarray, str]] = deque()
        self.model_seconds = 0.0
        self.batches: list[tuple[int, float]] = []
        self.total = total
        self.resolved = 0

    def _call(self, rows: np.ndarray) -> np.ndarray:
        """The model on unique rows ``rows``; raises what the model raises."""
        sub = self.frame.iloc[self.first[rows]]
        t = time.perf_counter()
        try:
            out = self.owner.adapter.predict(sub)
        finally:
            self.model_seconds += time.perf_counter() - t
        dt = time.perf_counter() - t
        arr = check_output(out, len(rows), self.owner.shape, self.owner._who)
        self.batches.append((len(rows), dt))
        return arr

    def _resolve(self, rows: np.ndarray) -> None:
        self.resolved += len(rows)
        if self.owner.progress is not None:
            self.owner.progress(self.resolved, self.total)

    def solve(self, rows: np.ndarray) -> None:
        """Predict ``rows``; on failure bisect while the budget lasts."""
        try:
            arr = self._call(rows)
        except AssayError:
            raise
        except Exception as exc:
            self._failed(rows, error_message(exc))
            return
        self.values[rows] = arr.reshape(len(rows), -1)
        self._resolve(rows)

    def _failed(self, rows: np.ndarray, message: str) -> None:
        if len(rows) == 1:
            self.messages[rows] = message
            self.failed[rows] = True
            self.isolated[rows] = True
            self._resolve(rows)
            return
        self.pending.append((rows, message))

    def isolate(self) -> None:
        """Halve the failing chunks breadth first while the budget lasts; a chunk left when
        it is spent counts as failed as a whole (marked ``UNSPLIT``)."""
        while self.pending:
            rows, message = self.pending.popleft()
            mid = len(rows) // 2
            for half in (rows[:mid], rows[mid:]):
                if self.budget > 0:
                    self.budget -= 1
                    self.solve(half)
                else:
                    self.messages[half] = message + UNSPLIT
                    self.failed[half] = True
                    self._resolve(half)


def _unique_rows(h1: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first): each row's unique-row number and each unique row's first position,
    from the 128-bit hashes (a hash table on h1, checked against h2)."""
    codes, _ = pd.factorize(h1)
    first = _first_positions(codes)
    if np.array_equal(h2[first][codes], h2):
        return codes, first
    # two different rows share h1 (a 2^-64 event): fall back to the exact pair
    pairs = pd.MultiIndex.from_arrays([h1, h2])
    codes, _ = pd.factorize(pairs)
    return codes, _first_positions(codes)


def _first_positions(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears; ``pd.factorize`` numbers codes by first appearance, so a
    row is a first appearance exactly when its code exceeds every code before it."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.intp)
    seen = np.maximum.accumulate(codes)
    return np.flatnonzero(np.r_[True, codes[1:] > seen[:-1]])


def _error_table(rows: np.ndarray, messages: np.ndarray) -> pd.DataFrame:
    """message, rows, example_rows (first 5 positions) per distinct message of errored ``rows``."""
    if len(rows) == 0:
        return pd.DataFrame(columns=ERROR_COLUMNS)
    codes, uniq = pd.factorize(pd.Series(messages, dtype=object).astype(str))
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(uniq))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    table = pd.DataFrame({"message": list(uniq), "rows": counts.astype(np.int64),
                          "example_rows": [rows[order[b:b + min(5, c)]].tolist()
                                           for b, c in zip(starts, counts, strict=True)]})
    return table.sort_values(["rows", "message"], ascending=[False, True], ignore_index=True)
