"""The HTTP endpoint adapter against a real local HTTP server serving a real scikit-learn model.

The server (``http.server.ThreadingHTTPServer`` on a free loopback port) parses the JSON rows
into a DataFrame and answers with the estimator's own ``predict_proba``; each test sets how it
behaves (delays, failures, malformed answers) and reads what it received.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import respx
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from assay._errors import InputError
from assay.models._adapter import AdapterSpec, ModelAdapter, OutputShape
from assay.models._http import (
    BACKOFF_CAP_S,
    EndpointError,
    HttpAdapter,
    retry_after_seconds,
    retry_wait,
)

FEATURES = ["income", "age", "region"]
BINARY = OutputShape("binary", (0, 1), 1)
ABC = OutputShape("multiclass", ("a", "b", "c"))

# ---- data and models --------------------------------------------------------------------


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "income": rng.normal(50_000, 15_000, n).round(2),
        "age": rng.integers(18, 80, n),
        "region": rng.choice(["north", "south", "east"], n),
    })


def _pipe(estimator: Any) -> Pipeline:
    pre = ColumnTransformer([("num", StandardScaler(), ["income", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])])
    return make_pipeline(pre, estimator)


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    X = make_frame(600, seed=1)
    z = (X["income"] - 50_000) / 15_000 - (X["age"] - 50) / 20 + (X["region"] == "north") * 0.7
    y_bin = (z + np.random.default_rng(2).normal(0, 0.8, len(X)) > 0).astype(int)
    y_multi = np.select([z < -0.5, z < 0.5], ["a", "b"], "c")
    return {
        "binary": _pipe(LogisticRegression()).fit(X, y_bin),
        "multi": _pipe(LogisticRegression()).fit(X, y_multi),
        "regression": _pipe(LinearRegression()).fit(X, z),
    }


# ---- the server ---------------------------------------------------------------------------

Reply = tuple[int, dict[str, str], bytes]


class Endpoint:
    """What the server received, and how it answers: ``behave(endpoint, payload, raw, headers)``
    returns (status, headers, body bytes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.attempts: Counter[str] = Counter()
        self.inflight = 0
        self.max_inflight = 0
        self.completed: list[int] = []  # first row's "i" (or request number) in completion order
        self.behave: Callable[[Endpoint, Any, bytes, dict[str, str]], Reply] = lambda *a: (500, {}, b"")
        self.url = ""

    @property
    def count(self) -> int:
        return len(self.raw)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.raw]


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


def rows_frame(payload: Any) -> pd.DataFrame:
    return pd.DataFrame.from_records(payload["instances"], columns=FEATURES)


def proba_server(model: Any, *, income_required: bool = True) -> Callable[..., Reply]:
    """Answer with the positive-class probability, or 422 for a row without income."""
    def behave(ep: Endpoint, payload: Any, raw: bytes, headers: dict[str, str]) -> Reply:
        frame = rows_frame(payload)
        if income_required and frame["income"].isna().any():
            return json_reply({"detail": "income is null"}, status=422)
        return json_reply({"predictions": model.predict_proba(frame)[:, 1].tolist()})
    return behave


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with ep.lock:
                ep.raw.append(raw)
                ep.headers.append(headers)
                ep.inflight += 1
                ep.max_inflight = max(ep.max_inflight, ep.inflight)
            try:
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = None
                status, extra, body = ep.behave(ep, payload, raw, headers)
            finally:
                with ep.lock:
                    ep.inflight -= 1
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (timeout tests) closes the socket under the handler

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    ep.url = f"http://127.0.0.1:{server.server_address[1]}/predict"
    try:
        yield ep
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def adapter(url: str, shape: OutputShape = BINARY, features: list[str] | None = None,
            **spec: Any) -> HttpAdapter:
    return HttpAdapter(AdapterSpec(url=url, **spec), shape, FEATURES if features is None else features,
                       "models[0].adapter")


def body_key(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# ---- predictions, batching, concurrency, order ---------------------------------------------


def test_predictions_equal_the_estimators_and_batches(endpoint: Endpoint, models: dict[str, Any]) -> None:
    model = models["binary"]
    endpoint.behave = proba_server(model)
    X = make_frame(1000, seed=3)
    with adapter(endpoint.url, batch_size=64) as a:
        assert isinstance(a, ModelAdapter)
        got = a.predict(X)
        assert got.dtype == np.float64 and got.shape == (1000,)
        np.testing.assert_allclose(got, model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
        assert endpoint.count == 16 and a.requests_sent == 16
        assert a.retries_done == 0 and a.failures == 0
        sizes = sorted(len(b["instances"]) for b in endpoint.bodies())
        assert sizes == [40] + [64] * 15
        # a row record: keys in feature order, plain JSON values
        first = next(b for b in endpoint.bodies() if b["instances"][0]["income"] == X["income"].iloc[0])
        assert list(first["instances"][0]) == FEATURES
        assert first["instances"][0] == {"income": float(X["income"].iloc[0]), "age": int(X["age"].iloc[0]),
                                         "region": str(X["region"].iloc[0])}
        # default batch size: 256 rows per request
        endpoint.raw.clear()
    with adapter(endpoint.url) as a:
        a.predict(X)
        assert endpoint.count == 4


def test_regression_one_row_and_empty_frame(endpoint: Endpoint, models: dict[str, Any]) -> None:
    model = models["regression"]
    endpoint.behave = lambda ep, p, *_: json_reply({"predictions": model.predict(rows_frame(p)).tolist()})
    a = adapter(endpoint.url, OutputShape("regression"))
    X = make_frame(7, seed=4)
    np.testing.assert_allclose(a.predict(X.iloc[[3]]), model.predict(X.iloc[[3]]), rtol=0, atol=1e-12)
    # duplicated rows and a frame with extra columns (only the features are sent)
    dup = pd.concat([X, X]).assign(extra=1)
    np.testing.assert_allclose(a.predict(dup), model.predict(dup[FEATURES]), rtol=0, atol=1e-12)
    assert "extra" not in endpoint.bodies()[-1]["instances"][0]
    sent = endpoint.count
    assert a.predict(X.iloc[:0]).shape == (0,)
    multi = adapter(endpoint.url, OutputShape("multiclass", ("a", "b", "c")))
    assert multi.predict(X.iloc[:0]).shape == (0, 3)
    assert endpoint.count == sent  # nothing sent for no rows
    a.close()
    multi.close()


def test_concurrency_reaches_but_never_exceeds_the_limit(endpoint: Endpoint, models: dict[str, Any]) -> None:
    inner = proba_server(models["binary"])

    def slow(*args: Any) -> Reply:
        time.sleep(0.03)
        return inner(*args)

    endpoint.behave = slow
    X = make_frame(1000, seed=5)
    with adapter(endpoint.url, batch_size=64, concurrency=4) as a:
        a.predict(X)
    assert 1 < endpoint.max_inflight <= 4
    endpoint.max_inflight = 0
    with adapter(endpoint.url, batch_size=250, concurrency=1) as a:
        a.predict(X)
    assert endpoint.max_inflight == 1


def test_row_order_holds_when_answers_arrive_out_of_order(endpoint: Endpoint) -> None:
    def echo(ep: Endpoint, payload: Any, *_: Any) -> Reply:
        rows = payload["instances"]
        first = int(rows[0]["i"])
        time.sleep(float(np.random.default_rng(first).uniform(0, 0.06)))
        with ep.lock:
            ep.completed.append(first)
        return json_reply({"predictions": [r["i"] * 0.5 + r["x"] for r in rows]})

    endpoint.behave = echo
    n = 640
    X = pd.DataFrame({"i": np.arange(n), "x": np.random.default_rng(6).normal(size=n)})
    with adapter(endpoint.url, OutputShape("regression"), features=["i", "x"], batch_size=20,
                 concurrency=8) as a:
        got = a.predict(X)
    np.testing.assert_array_equal(got, X["i"] * 0.5 + X["x"])
    assert endpoint.completed != sorted(endpoint.completed)  # the answers really came out of order


# ---- retries, rate limits, timeouts, client errors ------------------------------------------


def fail_first(times: int, status: int, model: Any,
               headers: dict[str, str] | None = None) -> Callable[..., Reply]:
    ok = proba_server(model)

    def behave(ep: Endpoint, payload: Any, raw: bytes, hdrs: dict[str, str]) -> Reply:
        key = body_key(raw)
        with ep.lock:
            ep.attempts[key] += 1
            attempt = ep.attempts[key]
        if attempt <= times:
            return json_reply({"error": "overloaded"}, status=status, headers=headers)
        return ok(ep, payload, raw, hdrs)
    return behave


def test_5xx_is_retried_until_it_succeeds(endpoint: Endpoint, models: dict[str, Any]) -> None:
    endpoint.behave = fail_first(2, 503, models["binary"])
    X = make_frame(200, seed=7)
    with adapter(endpoint.url, batch_size=50, retries=3) as a:
        got = a.predict(X)
        np.testing.assert_allclose(got, models["binary"].predict_proba(X)[:, 1], rtol=0, atol=1e-12)
        assert a.stats() == {"requests_sent": 12, "retries_done": 8, "failures": 0}
    assert endpoint.count == 12 and set(endpoint.attempts.values()) == {3}


def test_retries_spent_raise_endpoint_error(endpoint: Endpoint, models: dict[str, Any]) -> None:
    endpoint.behave = fail_first(2, 503, models["binary"])
    with adapter(endpoint.url, retries=1) as a:
        with pytest.raises(EndpointError) as info:
            a.predict(make_frame(30))
        assert a.stats() == {"requests_sent": 2, "retries_done": 1, "failures": 1}
    err = info.value
    assert str(err).startswith(f"HTTP 503 from {endpoint.url} (2 attempts): ")
    assert '{"error": "overloaded"}' in str(err)
    assert err.status == 503 and err.url == endpoint.url and err.rows == (0, 30)
    assert not isinstance(err, InputError)


def test_429_waits_for_retry_after(endpoint: Endpoint, models: dict[str, Any]) -> None:
    endpoint.behave = fail_first(1, 429, models["binary"], headers={"Retry-After": "1"})
    X = make_frame(10)
    with adapter(endpoint.url, retries=2) as a:
        started = time.perf_counter()
        got = a.predict(X)
        elapsed = time.perf_counter() - started
        assert a.retries_done == 1 and a.requests_sent == 2
    np.testing.assert_allclose(got, models["binary"].predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert 0.95 <= elapsed < 3.0  # waited the second the server asked for, not the 0.25 s backoff


def test_timeout_raises_quickly(endpoint: Endpoint) -> None:
    def sleepy(*_: Any) -> Reply:
        time.sleep(1.5)
        return json_reply({"predictions": [0.5]})

    endpoint.behave = sleepy
    with adapter(endpoint.url, timeout=0.2, retries=1) as a:
        started = time.perf_counter()
        with pytest.raises(EndpointError, match="timed out after 0.2 s") as info:
            a.predict(make_frame(1))
        elapsed = time.perf_counter() - started
        assert a.stats() == {"requests_sent": 2, "retries_done": 1, "failures": 1}
    assert elapsed < 1.2  # two 0.2 s attempts and one backoff of at most 0.25 s, not the 1.5 s answer
    assert info.value.status is None and "models[0].adapter.timeout" in str(info.value)


def test_client_error_is_not_retried_and_bisection_finds_the_row(endpoint: Endpoint,
                                                                   models: dict[str, Any]) -> None:
    endpoint.behave = proba_server(models["binary"])
    X = make_frame(128, seed=8)
    X.loc[100, "income"] = np.nan
    with adapter(endpoint.url, batch_size=64, retries=3) as a:
        with pytest.raises(EndpointError) as info:
            a.predict(X.iloc[64:])
        assert str(info.value) == f'HTTP 422 from {endpoint.url}: {{"detail": "income is null"}}'
        assert endpoint.count == 1 and a.stats() == {"requests_sent": 1, "retries_done": 0, "failures": 1}
        # the null went over the wire as JSON null
        assert b'"income":null' in endpoint.raw[0]
        assert endpoint.bodies()[0]["instances"][100 - 64]["income"] is None
        # two requests: the failing one is named by its row positions
        with pytest.raises(EndpointError) as info:
            a.predict(X)
        assert info.value.rows == (64, 128)
        # what the predictor does: split until the failing row stands alone
        good = X.drop(index=100)
        np.testing.assert_allclose(a.predict(good), models["binary"].predict_proba(good)[:, 1],
                                   rtol=0, atol=1e-12)
        with pytest.raises(EndpointError):
            a.predict(X.loc[[100]])


def test_a_failed_request_abandons_the_rest_of_the_call(endpoint: Endpoint) -> None:
    def behave(ep: Endpoint, payload: Any, *_: Any) -> Reply:
        rows = payload["instances"]
        if rows[0]["i"] == 0:
            return json_reply({"detail": "bad row"}, status=400)
        time.sleep(0.1)
        return json_reply({"predictions": [0.0] * len(rows)})

    endpoint.behave = behave
    X = pd.DataFrame({"i": np.arange(200)})
    with adapter(endpoint.url, OutputShape("regression"), features=["i"], batch_size=10, concurrency=2) as a:
        started = time.perf_counter()
        with pytest.raises(EndpointError, match="HTTP 400") as info:
            a.predict(X)
        elapsed = time.perf_counter() - started
        assert a.failures == 1
    assert info.value.rows == (0, 10)
    assert endpoint.count < 20 and elapsed < 1.0  # 19 more requests at 0.1 s over 2 lanes would take ~1 s


def test_adapter_pickles_without_its_connections(endpoint: Endpoint) -> None:
    endpoint.behave = lambda ep, p, *_: json_reply({"predictions": [0.5] * len(p["instances"])})
    a = adapter(endpoint.url, version="1")
    a.predict(make_frame(2))
    b = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(b.predict(make_frame(3)), [0.5] * 3)
    assert b.fingerprint == a.fingerprint and b.requests_sent == 2
    a.close()
    b.close()


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with adapter(f"http://127.0.0.1:{port}/predict", retries=1) as a:
        with pytest.raises(EndpointError,
                           match=r"could not reach http://127\.0\.0\.1:\d+/predict: ConnectError"):
            a.predict(make_frame(3))
        assert a.stats() == {"requests_sent": 2, "retries_done": 1, "failures": 1}


@respx.mock
def test_read_error_mid_answer_is_retried() -> None:
    url = "http://model.test/predict"
    route = respx.post(url).mock(side_effect=[httpx.ReadError("connection reset"),
                                              httpx.Response(200, json={"predictions": [0.25, None]})])
    with adapter(url, retries=2) as a:
        got = a.predict(make_frame(2))
        assert a.retries_done == 1
    assert route.call_count == 2
    assert got[0] == 0.25 and np.isnan(got[1])


# ---- the request body -------------------------------------------------------------------


def test_missing_values_and_types_in_the_body(endpoint: Endpoint) -> None:
    endpoint.behave = lambda ep, p, *_: json_reply({"predictions": [0.0] * len(p["instances"])})
    frame = pd.DataFrame({
        "f": [1.5, np.nan, np.inf],
        "i": pd.array([1, None, 3], dtype="Int64"),
        "n": np.array([1, 2, 3], dtype=np.int64),
        "b": [True, False, True],
        "s": pd.Series(["x", None, "z"], dtype="str"),
        "o": pd.Series([np.float32(0.5), None, np.int16(2)], dtype=object),
        "c": pd.Categorical(["lo", None, "hi"]),
        "t": pd.to_datetime(["2024-01-02 03:04:05", None, "2024-12-31 00:00:00"]),
        "tz": pd.to_datetime(["2024-01-02", "2024-01-03", None]).tz_localize("UTC"),
        "d": [dt.date(2024, 5, 6), None, dt.date(2024, 5, 8)],
        "td": pd.to_timedelta(["1 days", None, "2h"]),
    })
    with adapter(endpoint.url, OutputShape("regression"), features=list(frame.columns)) as a:
        a.predict(frame)
    raw = endpoint.raw[0]
    assert b"NaN" not in raw and b"NaT" not in raw
    rows = json.loads(raw)["instances"]
    assert rows[0] == {"f": 1.5, "i": 1, "n": 1, "b": True, "s": "x", "o": 0.5, "c": "lo",
                       "t": "2024-01-02T03:04:05", "tz": "2024-01-02T00:00:00+00:00", "d": "2024-05-06",
                       "td": "P1DT0H0M0S"}
    assert rows[1] == {"f": None, "i": None, "n": 2, "b": False, "s": None, "o": None, "c": None,
                       "t": None, "tz": "2024-01-03T00:00:00+00:00", "d": None, "td": None}
    assert rows[2]["f"] == float("inf") and rows[2]["o"] == 2 and rows[2]["tz"] is None
    assert isinstance(rows[2]["o"], int)


def test_headers_are_sent_and_env_references_expanded(endpoint: Endpoint,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint.behave = lambda ep, p, raw, h: (json_reply({"detail": "bad token"}, status=401)
                                             if h.get("authorization") != "Bearer s3cret-token"
                                             else json_reply({"predictions": [0.1] * len(p["instances"])}))
    monkeypatch.setenv("ASSAY_TEST_TOKEN", "s3cret-token")
    headers = {"Authorization": "Bearer ${ASSAY_TEST_TOKEN}", "X-Team": "risk"}
    with adapter(endpoint.url, headers=headers) as a:
        np.testing.assert_array_equal(a.predict(make_frame(2)), [0.1, 0.1])
    assert endpoint.headers[0]["x-team"] == "risk"
    assert endpoint.headers[0]["content-type"] == "application/json"
    monkeypatch.setenv("ASSAY_TEST_TOKEN", "wrong-token")
    with adapter(endpoint.url, headers={"Authorization": "Bearer ${ASSAY_TEST_TOKEN}"}) as a:
        with pytest.raises(EndpointError, match="HTTP 401") as info:
            a.predict(make_frame(2))
    assert "wrong-token" not in str(info.value) and "wrong-token" not in a.description
    monkeypatch.delenv("ASSAY_TEST_TOKEN")
    with pytest.raises(InputError, match=r"models\[0\]\.adapter\.headers\.Authorization .*ASSAY_TEST_TOKEN"):
        adapter(endpoint.url, headers={"Authorization": "Bearer ${ASSAY_TEST_TOKEN}"})


# ---- the answer ---------------------------------------------------------------------------


def test_multiclass_list_and_mapping(endpoint: Endpoint, models: dict[str, Any]) -> None:
    model = models["multi"]
    assert list(model.classes_) == ["a", "b", "c"]
    X = make_frame(300, seed=9)
    expected = model.predict_proba(X)
    shape = OutputShape("multiclass", ("c", "a", "b"))  # the evaluation's order differs from the model's
    order = [2, 0, 1]

    endpoint.behave = lambda ep, p, *_: json_reply(
        {"predictions": model.predict_proba(rows_frame(p))[:, order].tolist()})
    with adapter(endpoint.url, shape, batch_size=100) as a:
        got = a.predict(X)
    assert got.shape == (300, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected[:, order], rtol=0, atol=1e-12)

    def mapping(ep: Endpoint, p: Any, *_: Any) -> Reply:
        probs = model.predict_proba(rows_frame(p))
        return json_reply({"predictions": [{"b": r[1], "c": r[2], "a": r[0]} for r in probs.tolist()]})

    endpoint.behave = mapping
    with adapter(endpoint.url, shape, batch_size=100) as a:
        np.testing.assert_allclose(a.predict(X), expected[:, order], rtol=0, atol=1e-12)

    # integer classes arrive as JSON string keys
    endpoint.behave = lambda ep, p, *_: json_reply(
        {"predictions": [{"2": 0.2, "0": 0.5, "1": 0.3}, None] * (len(p["instances"]) // 2)})
    with adapter(endpoint.url, OutputShape("multiclass", tuple(np.arange(3)))) as a:
        got = a.predict(make_frame(4))
    np.testing.assert_array_equal(got[0], [0.5, 0.3, 0.2])
    assert np.isnan(got[1]).all() and not np.isnan(got[2]).any()


def test_binary_accepts_two_class_lists_and_mappings(endpoint: Endpoint, models: dict[str, Any]) -> None:
    model = models["binary"]
    X = make_frame(50, seed=10)
    p = model.predict_proba(X)
    endpoint.behave = lambda ep, pl, *_: json_reply(
        {"predictions": model.predict_proba(rows_frame(pl)).tolist()})
    with adapter(endpoint.url) as a:
        np.testing.assert_allclose(a.predict(X), p[:, 1], rtol=0, atol=1e-12)
    endpoint.behave = lambda ep, pl, *_: json_reply(
        {"predictions": [{"1": r[1], "0": r[0]} for r in model.predict_proba(rows_frame(pl)).tolist()]})
    with adapter(endpoint.url) as a:
        np.testing.assert_allclose(a.predict(X), p[:, 1], rtol=0, atol=1e-12)
    # the positive class decides which probability is taken
    with adapter(endpoint.url, OutputShape("binary", ("no", "yes"), "no")) as a:
        endpoint.behave = lambda ep, pl, *_: json_reply({"predictions": [{"yes": 0.9, "no": 0.1}]})
        assert a.predict(X.iloc[:1])[0] == 0.1


def test_null_predictions_become_nan(endpoint: Endpoint) -> None:
    endpoint.behave = lambda ep, p, *_: json_reply({"predictions": [None, 0.75, None, 1]})
    with adapter(endpoint.url) as a:
        got = a.predict(make_frame(4))
        assert a.failures == 0
    assert np.isnan(got[[0, 2]]).all() and got[1] == 0.75 and got[3] == 1.0


MALFORMED = [
    ("not json", (200, {"Content-Type": "text/html"}, b"<html>oops</html>"), BINARY,
     "expected a JSON object with 'predictions': a list of 3 prediction(s), got a body that is not JSON"),
    ("key missing", json_reply({"scores": [1, 2, 3]}), BINARY,
     "the answer has no 'predictions' (its keys: ['scores'])"),
    ("a list at the top", json_reply([0.1, 0.2, 0.3]), BINARY, "got a JSON list"),
    ("not a list", json_reply({"predictions": 0.5}), BINARY, "got 'predictions' as a JSON float"),
    ("wrong length", json_reply({"predictions": [0.1, 0.2]}), BINARY, "(one per row sent), got 2"),
    ("text entry", json_reply({"predictions": [0.1, "0.2", 0.3]}), BINARY,
     "prediction 1 of the request: '0.2' is not a number"),
    ("boolean entry", json_reply({"predictions": [True, 0.2, 0.3]}), BINARY, "True is not a number"),
    ("list for regression", json_reply({"predictions": [[0.1], [0.2], [0.3]]}), OutputShape("regression"),
     "expected a number or null"),
    ("multiclass width", json_reply({"predictions": [[0.5, 0.5]] * 3}), ABC,
     "expected 3 class probabilities in the order ['a', 'b', 'c'], got a list of 2"),
    ("multiclass number", json_reply({"predictions": [0.5] * 3}), ABC,
     "expected 3 class probabilities (a list, or a mapping"),
    ("mapping lacks a class", json_reply({"predictions": [{"a": 0.5, "b": 0.5}] * 3}),
     ABC, "the mapping lacks classes ['c']"),
    ("mapping with an unknown class",
     json_reply({"predictions": [{"a": 0.5, "b": 0.2, "c": 0.1, "d": 0.2}] * 3}),
     ABC, "classes ['d'] are not among the evaluation's classes"),
]


@pytest.mark.parametrize(("reply", "shape", "message"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_answers_say_what_was_expected(endpoint: Endpoint, reply: Reply, shape: OutputShape,
                                                 message: str) -> None:
    endpoint.behave = lambda *_: reply
    with adapter(endpoint.url, shape, retries=3) as a:
        with pytest.raises(EndpointError) as info:
            a.predict(make_frame(3))
        assert a.stats() == {"requests_sent": 1, "retries_done": 0, "failures": 1}  # never retried
    assert message in str(info.value)
    assert str(info.value).startswith(f"malformed answer from {endpoint.url} (HTTP 200): ")


# ---- identity, configuration, threads -------------------------------------------------------


def test_fingerprint_flags_and_description() -> None:
    url = "http://models.internal:8080/v1/predict"
    base = adapter(url, version="2024-06")
    assert base.kind == "http" and base.cacheable and not base.deterministic
    same = adapter(url, version="2024-06", concurrency=9, timeout=3, headers={"A": "b"}, batch_size=5)
    assert base.fingerprint == same.fingerprint
    others = [adapter(url, version="2024-07"), adapter(url + "2", version="2024-06"),
              adapter(url, version="2024-06", output_key="scores"),
              adapter(url, version="2024-06", input_key="rows")]
    assert len({base.fingerprint, *(o.fingerprint for o in others)}) == 5
    assert len(base.fingerprint) == 64 and int(base.fingerprint, 16) >= 0
    assert base.description == f"HTTP endpoint {url} (version 2024-06)"
    unversioned = adapter(url)
    assert not unversioned.cacheable and "no version" in unversioned.description
    assert base.features == FEATURES
    # secrets in the URL are masked in messages and descriptions, and do not change the fingerprint
    secret = adapter("https://user:pw123@host.test/p?api_key=abc123&model=m1", version="1")
    rotated = adapter("https://user:zzz@host.test/p?api_key=xyz&model=m1", version="1")
    assert "abc123" not in secret.description and "pw123" not in secret.description
    assert "model=m1" in secret.description and secret.fingerprint == rotated.fingerprint


@pytest.mark.parametrize("url", ["ftp://example.test/predict", "http://", "localhost:8080/predict", ""])
def test_invalid_url_is_an_input_error(url: str) -> None:
    with pytest.raises(InputError, match=r"models\[0\]\.adapter\.url.*http://localhost:8080/predict"):
        HttpAdapter(AdapterSpec(url=url or None, path=None if url else "x.skops"), BINARY, FEATURES,
                    "models[0].adapter")


def test_missing_feature_column_is_an_input_error() -> None:
    with adapter("http://127.0.0.1:9/predict") as a:
        with pytest.raises(InputError, match=r"no column\(s\) \['region'\]"):
            a.predict(make_frame(3).drop(columns="region"))


def test_retry_wait_is_deterministic_bounded_and_capped() -> None:
    key = b'{"instances":[]}'
    waits = [retry_wait(key, k) for k in range(8)]
    assert waits == [retry_wait(key, k) for k in range(8)]
    for k, w in enumerate(waits):
        full = min(BACKOFF_CAP_S, 0.25 * 2**k)
        assert 0.5 * full <= w <= full
    assert max(waits) <= 8.0 and waits[-1] >= 4.0
    assert retry_wait(b"other", 0) != waits[0]  # jitter differs between requests
    assert retry_wait(key, 0, retry_after=3.0) == 3.0
    assert retry_wait(key, 0, retry_after=120.0) == 8.0
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("Mon, 01 Jan 2024 12:00:05 GMT", now=now) == 5.0


def test_predict_from_a_worker_thread_leaves_no_threads(endpoint: Endpoint, models: dict[str, Any]) -> None:
    endpoint.behave = proba_server(models["binary"])
    X = make_frame(300, seed=11)
    before = {t.ident for t in threading.enumerate()}
    results: list[np.ndarray] = []
    a = adapter(endpoint.url, batch_size=32, concurrency=4)
    workers = [threading.Thread(target=lambda: results.append(a.predict(X))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert len(results) == 2
    for r in results:
        np.testing.assert_allclose(r, models["binary"].predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert a.requests_sent == 20 and endpoint.max_inflight <= 4  # two calls share one pool of 4
    a.close()
    left = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("assay-http")]
    assert left == []
