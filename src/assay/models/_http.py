"""A model behind an HTTP JSON endpoint, as a model adapter.

Method:

* **Requests.** ``predict`` splits the frame into requests of ``batch_size`` rows (256 by
  default) and POSTs each as ``{input_key: [row records]}``: one JSON object per row, keys
  in feature order. Missing values (NaN, NaT, None, pd.NA) become ``null``; NumPy scalars
  become plain numbers; timestamps, dates and durations become ISO 8601 strings; ±inf is
  sent as ``Infinity``/``-Infinity`` (Python and JavaScript servers read it; a strict one
  answers 4xx and those rows count as model errors).
* **Concurrency.** One ``httpx.Client`` per adapter (its connection pool holds at most
  ``concurrency`` connections) shared by a thread pool of at most ``concurrency`` workers
  that exists only during the call: no event loop, and no thread outlives ``predict``, so
  it works from any thread. Results are placed by request position, so row order holds
  whatever order the answers arrive in.
* **Responses.** ``{output_key: [...]}`` with one entry per row: a number (binary
  probability of the positive class, regression value), or for multiclass a list of k
  numbers in the evaluation's class order or a mapping class -> probability (reordered to
  the evaluation's classes). A binary entry may also be a two-class list or mapping; the
  positive class is taken. ``null`` entries become NaN (the predictor counts them).
* **Retries.** Connection errors, timeouts, 429 and 5xx answers are retried up to
  ``retries`` times, waiting ``min(8, 0.25 * 2**attempt)`` seconds scaled by a jitter in
  [0.5, 1] drawn from a hash of the request body and the attempt (deterministic: the same
  request waits the same), or the server's ``Retry-After`` (seconds or an HTTP date,
  capped at 8 s). Other 4xx answers and malformed answers are not retried. When a request
  fails for good, the other requests of the call are abandoned and ``predict`` raises
  :class:`EndpointError` naming the URL, the status and the first 200 characters of the
  answer; the caller narrows the failure down to rows by predicting on sub-frames.
* **Identity.** The fingerprint is SHA-256 of the URL (secrets in it masked), the declared
  ``version`` and the input and output keys. Without a version the predictions are not
  cacheable: the model behind a URL can change unseen. Errors are never cached
  (``deterministic`` is false): they may be transient.

Header values may be ``${ENV_VAR}`` references, expanded when the adapter is built, so a
token need not be written into a spec (which is stored with the run). Header values are
never logged nor put in messages.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import math
import os
import re
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import numpy as np
import pandas as pd

from assay._errors import InputError, repeated
from assay.models._adapter import AdapterSpec, OutputShape

__all__ = ["DEFAULT_BATCH_SIZE", "EndpointError", "HttpAdapter", "retry_after_seconds", "retry_wait"]

log = logging.getLogger(__name__)

#: rows per request when the spec gives no ``batch_size``
DEFAULT_BATCH_SIZE = 256
#: first retry waits up to this many seconds; each further retry doubles it
BACKOFF_BASE_S = 0.25
#: no wait between attempts is longer than this (Retry-After included)
BACKOFF_CAP_S = 8.0
#: characters of an answer's body quoted in an error
EXCERPT_CHARS = 200

_SECRET_QUERY = re.compile(r"key|token|secret|passw|sig|auth|credential", re.IGNORECASE)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class EndpointError(Exception):
    """An HTTP endpoint failed to predict a request's rows: an error answer, a timeout, a
    connection failure after the retries, or a malformed answer.

    An ordinary exception (not an assay input error): the predictor counts it as a model
    failure of the rows it was given. ``status`` is the HTTP status (None when there was no
    answer); ``rows`` is the ``(start, stop)`` positions, within the frame given to
    ``predict``, of the request that failed.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None, body: str = "",
                 rows: tuple[int, int] = (0, 0)) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body
        self.rows = rows


class _Abandoned(Exception):
    """Another request of the same call failed; this one was given up."""


def retry_wait(key: bytes, attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    ``retry_after`` (the server's Retry-After) wins when given, capped at 8 s; otherwise
    ``min(8, 0.25 * 2**attempt)`` scaled by a jitter in [0.5, 1] drawn from SHA-256 of
    ``key`` (the request body) and the attempt, so concurrent requests spread out while a
    rerun waits exactly as long.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), BACKOFF_CAP_S)
    digest = hashlib.sha256(key + b"\0" + str(attempt).encode()).digest()
    jitter = 0.5 + 0.5 * int.from_bytes(digest[:8], "big") / 2**64
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0**attempt) * jitter


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP date (RFC 9110); None when
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)


def _display_url(url: str) -> str:
    """The URL with a password and secret-looking query values masked, for messages,
    descriptions and the fingerprint (rotating a token does not change the model)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")


def _json_default(value: Any) -> Any:
    """JSON for the cell values ``json`` does not know."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"a cell of type {type(value).__name__} cannot be sent as JSON; convert the "
                    "column to numbers or text before evaluating")


def _column_values(col: pd.Series) -> list[Any]:
    """A column as JSON-ready Python values, missing values as None."""
    dtype = col.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values: list[Any] = [None if pd.isna(v) else v.isoformat() for v in col]
        return values
    if pd.api.types.is_timedelta64_dtype(dtype):
        return [None if pd.isna(v) else v.isoformat() for v in col]
    mask = col.isna().to_numpy(dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = col.to_numpy().tolist()
    else:
        values = col.to_numpy(dtype=object).tolist()
    if mask.any():
        for i in np.flatnonzero(mask).tolist():
            values[i] = None
    return values


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Row records of ``frame``, keys in column order."""
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = repeated(names)
        raise InputError(f"the frame sent to the endpoint has duplicated columns {dupes}: each "
                         "feature must appear once")
    columns = [_column_values(frame.iloc[:, j]) for j in range(frame.shape[1])]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _number(value: Any) -> float:
    """A JSON number as float (NaN for null); raises ValueError for anything else."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


class HttpAdapter:
    """Predictions from an HTTP JSON endpoint (see the module docstring for the protocol).

    ``spec`` is the model's ``adapter:`` section, ``shape`` what the evaluation expects
    back, ``features`` the columns sent (in order; empty: every column of the frame) and
    ``where`` the spec key path used in error messages (e.g. ``models[0].adapter``).
    Counters ``requests_sent`` (HTTP attempts), ``retries_done`` and ``failures`` (requests
    that failed for good) are kept across calls.
    """

    kind = "http"
    deterministic = False

    def __init__(self, spec: AdapterSpec, shape: OutputShape, features: Sequence[str],
                 where: str = "adapter") -> None:
        self.spec = spec
        self.shape = shape
        self.where = where
        self.features = [str(f) for f in features]
        self.url = self._check_url(spec.url, where)
        self.display_url = _display_url(self.url)
        self.batch_size = spec.batch_size or DEFAULT_BATCH_SIZE
        self.headers = self._expand_headers(spec.headers, where)
        self.cacheable = spec.version is not None
        self.fingerprint = hashlib.sha256(json.dumps(
            {"kind": "http", "url": self.display_url, "version": spec.version,
             "input_key": spec.input_key, "output_key": spec.output_key},
            sort_keys=True).encode()).hexdigest()
        version = f"version {spec.version}" if spec.version is not None else "no version: not cached"
        self.description = f"HTTP endpoint {self.display_url} ({version})"
        self.requests_sent = 0
        self.retries_done = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._finalizer: weakref.finalize | None = None
        self._classes = self._class_lookup(shape)

    # ---- configuration -----------------------------------------------------------------

    @staticmethod
    def _check_url(url: str | None, where: str) -> str:
        if not url:
            raise InputError(f"{where}.url is missing: give the endpoint's URL, e.g. "
                             "'http://localhost:8080/predict'")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{where}.url: {_display_url(url)!r} is not an http:// or https:// URL "
                             "with a host; give the endpoint's full URL, e.g. "
                             "'http://localhost:8080/predict'")
        return url

    @staticmethod
    def _expand_headers(headers: dict[str, str], where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers.items():
            missing = [m for m in _ENV_REF.findall(value) if m not in os.environ]
            if missing:
                raise InputError(f"{where}.headers.{name} refers to the environment variable "
                                 f"{missing[0]}, which is not set; set it or write the value")
            out[name] = _ENV_REF.sub(lambda m: os.environ[m.group(1)], value)
        return out

    @staticmethod
    def _class_lookup(shape: OutputShape) -> dict[str, int]:
        lookup: dict[str, int] = {}
        for i, c in enumerate(shape.classes):
            value = c.item() if isinstance(c, np.generic) else c
            lookup[str(value)] = i
            if isinstance(value, bool):
                lookup["true" if value else "false"] = i
        return lookup

    # ---- client and counters -----------------------------------------------------------

    def _get_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Content-Type": "application/json", "Accept": "application/json"}
                headers.update(self.headers)
                limits = httpx.Limits(max_connections=self.spec.concurrency,
                                      max_keepalive_connections=self.spec.concurrency)
                # waiting for a free connection is not part of a request's time
                timeout = httpx.Timeout(self.spec.timeout, pool=None)
                self._client = httpx.Client(headers=headers, limits=limits, timeout=timeout)
                self._finalizer = weakref.finalize(self, self._client.close)
            return self._client

    def close(self) -> None:
        """Close the connection pool (a later ``predict`` opens a new one)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._client, self._finalizer = None, None

    def __enter__(self) -> HttpAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _client=None, _finalizer=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _count(self, sent: int = 0, retries: int = 0, failures: int = 0) -> None:
        with self._lock:
            self.requests_sent += sent
            self.retries_done += retries
            self.failures += failures

    def stats(self) -> dict[str, int]:
        """The counters, read together: ``requests_sent``, ``retries_done``, ``failures``."""
        with self._lock:
            return {"requests_sent": self.requests_sent, "retries_done": self.retries_done,
                    "failures": self.failures}

    # ---- prediction --------------------------------------------------------------------

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for every row of ``frame``: float64 ``(n,)``, or ``(n, k)`` for
        multiclass, in row order; raises :class:`EndpointError` when any request fails."""
        if self.features:
            missing = [f for f in self.features if f not in frame.columns]
            if missing:
                raise InputError(f"{self.where}: the frame has no column(s) {missing} among the "
                                 f"model's features; available: {[str(c) for c in frame.columns]}")
            frame = frame[self.features]
        n = len(frame)
        width = self.shape.width
        out = np.full((n, width) if self.shape.task == "multiclass" else (n,), np.nan, dtype=np.float64)
        if n == 0:
            return out
        bounds = [(start, min(start + self.batch_size, n)) for start in range(0, n, self.batch_size)]
        client = self._get_client()
        abandon = threading.Event()

        def one(start: int, stop: int) -> None:
            out[start:stop] = self._request(client, frame.iloc[start:stop], (start, stop), abandon)

        if len(bounds) == 1:
            one(*bounds[0])
            return out
        workers = min(self.spec.concurrency, len(bounds))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assay-http") as pool:
            futures: dict[Future[None], int] = {pool.submit(one, a, b): i for i, (a, b) in enumerate(bounds)}
            try:
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
                failed = any(f.exception() is not None for f in done)
            except BaseException:  # interrupted: give the rest up too
                failed, pending = True, set(futures)
                raise
            finally:
                if failed:
                    abandon.set()
                    for f in pending:
                        f.cancel()
        # the pool is shut down: every request has finished, failed or been cancelled
        errors = [(futures[f], f.exception()) for f in futures if not f.cancelled() and f.exception()]
        real = sorted(((i, e) for i, e in errors if not isinstance(e, _Abandoned)), key=lambda t: t[0])
        if real:
            raise real[0][1]  # type: ignore[misc]
        return out

    def _request(self, client: httpx.Client, rows: pd.DataFrame, span: tuple[int, int],
                 abandon: threading.Event) -> np.ndarray:
        """One request with its retries; the parsed predictions of ``rows``."""
        body = json.dumps({self.spec.input_key: _records(rows)}, default=_json_default,
                          separators=(",", ":"), allow_nan=True).encode()
        url, attempts = self.display_url, self.spec.retries + 1
        for attempt in range(attempts):
            if abandon.is_set():
                raise _Abandoned()
            retry_after: float | None = None
            self._count(sent=1)
            try:
                response = client.post(self.url, content=body)
            except httpx.TimeoutException:
                problem = (f"request to {url} timed out after {self.spec.timeout:g} s",
                           f"; raise {self.where}.timeout if the model needs longer")
                status, text = None, ""
            except httpx.TransportError as exc:
                problem = (f"could not reach {url}: {type(exc).__name__}: {exc}", "")
                status, text = None, ""
            else:
                status, text = response.status_code, response.text
                if 200 <= status < 300:
                    try:
                        return self._parse(response, len(rows))
                    except ValueError as exc:
                        self._count(failures=1)
                        raise EndpointError(f"malformed answer from {url} (HTTP {status}): {exc}; "
                                            f"the body starts: {_excerpt(text)}", url=url, status=status,
                                            body=text[:EXCERPT_CHARS], rows=span) from None
                if status != 429 and status < 500:
                    self._count(failures=1)
                    raise EndpointError(f"HTTP {status} from {url}: {_excerpt(text)}", url=url,
                                        status=status, body=text[:EXCERPT_CHARS], rows=span)
                if status in (429, 503):
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                problem = (f"HTTP {status} from {url}", "")
            if attempt + 1 < attempts:
                delay = retry_wait(body, attempt, retry_after)
                log.info("%s (attempt %d of %d); retrying in %.2f s", problem[0], attempt + 1,
                         attempts, delay)
                self._count(retries=1)
                if abandon.wait(delay):
                    raise _Abandoned()
        self._count(failures=1)
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        detail = f": {_excerpt(text)}" if status is not None else ""
        raise EndpointError(f"{problem[0]} ({tries}){detail}{problem[1]}", url=url, status=status,
                            body=text[:EXCERPT_CHARS], rows=span)

    def _parse(self, response: httpx.Response, n: int) -> np.ndarray:
        """The answer's predictions as float64 ``(n,)`` or ``(n, k)``; ValueError saying what
        was expected."""
        key = self.spec.output_key
        expected = f"a JSON object with {key!r}: a list of {n} prediction(s)"
        try:
            payload = response.json()
        except ValueError:
            raise ValueError(f"expected {expected}, got a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise ValueError(f"expected {expected}, got a JSON {type(payload).__name__}")
        if key not in payload:
            keys = sorted(str(k) for k in payload)[:10]
            raise ValueError(f"expected {expected}; the answer has no {key!r} (its keys: {keys}); set "
                             f"{self.where}.output_key to the key holding the predictions")
        entries = payload[key]
        if not isinstance(entries, list):
            raise ValueError(f"expected {expected}, got {key!r} as a JSON {type(entries).__name__}")
        if len(entries) != n:
            raise ValueError(f"expected {expected} (one per row sent), got {len(entries)}")
        multiclass = self.shape.task == "multiclass"
        out = np.empty((n, self.shape.width) if multiclass else (n,), dtype=np.float64)
        for i, entry in enumerate(entries):
            try:
                out[i] = self._entry(entry) if multiclass else self._scalar(entry)
            except ValueError as exc:
                raise ValueError(f"prediction {i} of the request: {exc}") from None
        return out

    def _scalar(self, entry: Any) -> float:
        """Binary or regression: a number; binary also takes two class probabilities."""
        if isinstance(entry, list | dict) and self.shape.task == "binary" and len(self.shape.classes) == 2:
            probs = self._entry(entry)
            pos = self._classes.get(str(self.shape.positive), len(self.shape.classes) - 1)
            return float(probs[pos])
        if isinstance(entry, list | dict):
            raise ValueError(f"expected a number or null, got {json.dumps(entry)[:60]}")
        return _number(entry)

    def _entry(self, entry: Any) -> np.ndarray:
        """Class probabilities in the evaluation's class order, from a list or a mapping."""
        k = len(self.shape.classes)
        if entry is None:
            return np.full(k, np.nan)
        if isinstance(entry, list):
            if len(entry) != k:
                raise ValueError(f"expected {k} class probabilities in the order "
                                 f"{list(self.shape.classes)}, got a list of {len(entry)}")
            return np.array([_number(v) for v in entry], dtype=np.float64)
        if isinstance(entry, dict):
            probs = np.full(k, np.nan)
            seen = np.zeros(k, dtype=bool)
            unknown = []
            for name, value in entry.items():
                j = self._classes.get(str(name))
                if j is None:
                    unknown.append(name)
                    continue
                probs[j] = _number(value)
                seen[j] = True
            if unknown:
                raise ValueError(f"classes {unknown[:5]} are not among the evaluation's classes "
                                 f"{list(self.shape.classes)}")
            if not seen.all():
                lost = [self.shape.classes[j] for j in np.flatnonzero(~seen)]
                raise ValueError(f"the mapping lacks classes {lost[:5]}; expected a probability for "
                                 f"each of {list(self.shape.classes)}")
            return probs
        raise ValueError(f"expected {k} class probabilities (a list, or a mapping class -> probability), "
                         f"got {json.dumps(entry)[:60]}")
