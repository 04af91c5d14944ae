"""Inference latency and throughput of an adapter.

``measure_latency`` times ``requests`` calls of ``batch_size`` rows each, drawn with a
seeded generator from the frame (with replacement), after ``warmup`` untimed calls; only
the model call is inside the timer. Percentiles are NumPy's (linear interpolation) over the
timed durations; their intervals are distribution-free: the order statistics
``[x_(l), x_(u)]`` that cover the true quantile with probability at least ``confidence``
(the count of durations below it is Binomial(n, q); see
``assay.stats.order_statistic_interval``), NaN when too few requests reach the level. The
mean has a Student-t interval. Throughput is rows / seconds over the timed calls. Failed
calls are counted, not timed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import AssayError, InputError
from assay.models._adapter import ModelAdapter
from assay.models._predict import Predictions, error_message

METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms", "throughput_rows_per_s")
ORDER_METHOD = "order statistics (distribution-free)"


@dataclass
class LatencyProfile:
    """Timed calls of one adapter and the statistics over them."""

    #: milliseconds of each successful timed call, in call order
    durations_ms: np.ndarray
    batch_size: int
    #: timed calls attempted (failed ones included)
    requests: int
    #: timed calls that raised
    failed: int = 0
    warmup: int = 0
    confidence: float = 0.95
    seed: int = 0
    #: distinct messages of the failed calls -> count
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Successful timed calls."""
        return len(self.durations_ms)

    def percentile(self, q: float) -> tuple[float, float, float]:
        """(value, ci_low, ci_high) of the ``q``-th percentile (0-100) in milliseconds."""
        from assay.stats import order_statistic_interval

        if self.n == 0:
            return math.nan, math.nan, math.nan
        value = float(np.percentile(self.durations_ms, q))
        ranks = order_statistic_interval(self.n, q / 100.0, self.confidence)
        if ranks is None:
            return value, math.nan, math.nan
        ordered = np.sort(self.durations_ms)
        return value, float(ordered[ranks[0]]), float(ordered[ranks[1]])

    @property
    def mean_ms(self) -> float:
        """Mean milliseconds per call."""
        return float(np.mean(self.durations_ms)) if self.n else math.nan

    @property
    def throughput_rows_per_s(self) -> float:
        """Rows per second over the timed calls."""
        seconds = float(np.sum(self.durations_ms)) / 1000.0
        return self.n * self.batch_size / seconds if self.n and seconds > 0 else math.nan

    def to_rows(self, model: str) -> list[dict[str, Any]]:
        """Result-shaped rows: model, metric, value, ci_low, ci_high, n, method, status, note."""
        from assay.stats import t_interval

        level = f"{self.confidence:.0%}"
        base = f"{self.n} timed calls of {self.batch_size} row(s) after {self.warmup} warm-up"
        if self.failed:
            base += f"; {self.failed} of {self.requests} calls failed (not timed)"
        rows = []
        for metric, q in (("latency_p50_ms", 50.0), ("latency_p95_ms", 95.0)):
            value, low, high = self.percentile(q)
            note = base
            if self.n and math.isnan(low):
                note += f"; too few calls for a distribution-free {level} interval"
            rows.append(self._row(model, metric, value, low, high, ORDER_METHOD, note))
        mean = self.mean_ms
        sd = float(np.std(self.durations_ms, ddof=1)) if self.n > 1 else math.nan
        ci = t_interval(mean, sd, self.n, self.confidence)
        rows.append(self._row(model, "latency_mean_ms", mean, ci.low, ci.high, "t", base))
        rows.append(self._row(model, "throughput_rows_per_s", self.throughput_rows_per_s, math.nan,
                              math.nan, "rows / seconds", base + "; no interval"))
        return rows

    def _row(self, model: str, metric: str, value: float, low: float, high: float, method: str,
             note: str) -> dict[str, Any]:
        ok = math.isfinite(value)
        if not ok:
            note = "no successful timed call" + (f" ({self.failed} failed)" if self.failed else "")
        return {"model": model, "metric": metric, "value": value, "ci_low": low, "ci_high": high,
                "n": self.n, "method": method, "status": "ok" if ok else "undefined", "note": note}


def measure_latency(adapter: ModelAdapter, frame: pd.DataFrame, *, requests: int = 200,
                    batch_size: int = 1, warmup: int = 5, seed: int = 0,
                    confidence: float = 0.95) -> LatencyProfile:
    """Time ``requests`` calls of ``adapter.predict`` on ``batch_size`` rows drawn from ``frame``
    (see the module docstring)."""
    if len(frame) == 0:
        raise InputError("measure_latency: the frame has no rows to draw requests from")
    if requests < 1 or batch_size < 1 or warmup < 0:
        raise InputError(f"measure_latency: requests ({requests}) and batch_size ({batch_size}) must "
                         f"be at least 1 and warmup ({warmup}) at least 0")
    if not 0.0 < confidence < 1.0:
        raise InputError(f"measure_latency: confidence must be between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(frame), size=(warmup + requests, batch_size))
    durations: list[float] = []
    errors: dict[str, int] = {}
    for i, rows in enumerate(draws):
        batch = frame.iloc[rows]
        t = time.perf_counter_ns()
        try:
            adapter.predict(batch)
        except AssayError:
            raise
        except Exception as exc:
            if i >= warmup:
                msg = error_message(exc)
                errors[msg] = errors.get(msg, 0) + 1
            continue
        elapsed = (time.perf_counter_ns() - t) / 1e6
        if i >= warmup:
            durations.append(elapsed)
    return LatencyProfile(np.asarray(durations, dtype=np.float64), batch_size, requests,
                          failed=sum(errors.values()), warmup=warmup, confidence=confidence, seed=seed,
                          errors=errors)


def bulk_throughput(predictions: Predictions) -> float:
    """Rows per second of the predictor's successful model calls (NaN when none ran)."""
    rows = sum(r for r, _ in predictions.batches)
    seconds = sum(s for _, s in predictions.batches)
    return rows / seconds if rows and seconds > 0 else math.nan
