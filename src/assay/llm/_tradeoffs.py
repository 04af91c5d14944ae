"""Quality x cost x latency across the suite's matrix, each with an interval.

One row per variant and scorer (overall slice): the scorer's pass rate (or mean, for a
scorer without a pass rule) with the summary's interval; the cost per case with a t
interval over cases (a case's cost is the mean over its samples, so repeated samples are
one cluster); latency p50 and p95 over the answers with distribution-free order-statistic
intervals (Conover, ch. 3.2; NaN where too few answers reach the level). A variant is on the
Pareto front for a scorer when no other variant is at least as good on all three (quality
up, cost per case down, latency p50 down) and better on one; a cost or latency that is
unknown for either of two variants is left out of their comparison.

Latency and cost are the answers' own, as measured when they were made (cache hits keep
them), so a cached rerun gives the same table. Answers that failed have no latency and no
cost and are counted in ``n_errors``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assay.stats import order_statistic_interval, t_interval

TRADEOFF_COLUMNS = ["variant", "scorer", "metric", "quality", "quality_low", "quality_high",
                    "cost_per_case", "cost_low", "cost_high", "latency_p50", "p50_low", "p50_high",
                    "latency_p95", "p95_low", "p95_high", "n_cases", "n_answers", "n_errors", "pareto"]


def _quantile(values: np.ndarray, q: float, confidence: float) -> tuple[float, float, float]:
    """The q quantile (NumPy's linear rule) and its order-statistic interval."""
    if values.size == 0:
        return math.nan, math.nan, math.nan
    point = float(np.percentile(values, 100 * q))
    ranks = order_statistic_interval(int(values.size), q, confidence)
    if ranks is None:
        return point, math.nan, math.nan
    s = np.sort(values)
    return point, float(s[ranks[0]]), float(s[ranks[1]])


def _cost(ok: pd.DataFrame, confidence: float) -> tuple[float, float, float]:
    """Mean cost per case (a case's cost: the mean over its priced answers) with a t interval."""
    cost = pd.to_numeric(ok["cost"], errors="coerce")
    priced = ok.assign(cost=cost)[cost.notna()]
    if priced.empty:
        return math.nan, math.nan, math.nan
    per_case = priced.groupby("case_id", sort=False)["cost"].mean().to_numpy(dtype=float)
    mean = float(per_case.mean())
    if per_case.size < 2:
        return mean, math.nan, math.nan
    iv = t_interval(mean, float(per_case.std(ddof=1)), int(per_case.size), confidence)
    return mean, iv.low, iv.high


def _dominates(o: dict[str, Any], r: dict[str, Any]) -> bool:
    """``o`` is at least as good as ``r`` on quality, cost per case and latency p50, and better
    on one. A cost or latency unknown on either side (no prices, no answers) is not compared."""
    pairs = [(o["quality"], r["quality"])]  # higher is better
    for key in ("cost_per_case", "latency_p50"):  # lower is better: compare negated
        if math.isfinite(o[key]) and math.isfinite(r[key]):
            pairs.append((-o[key], -r[key]))
    return all(a >= b for a, b in pairs) and any(a > b for a, b in pairs)


def _pareto(rows: list[dict[str, Any]]) -> None:
    """Mark each row that no other row of the same scorer dominates (no quality: not marked)."""
    for r in rows:
        r["pareto"] = math.isfinite(r["quality"]) and not any(
            o is not r and o["scorer"] == r["scorer"] and math.isfinite(o["quality"]) and _dominates(o, r)
            for o in rows)


def tradeoffs(summary: pd.DataFrame, outputs: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    """The table ``TRADEOFF_COLUMNS`` from a suite's summary and outputs tables."""
    if summary.empty or outputs.empty:
        return pd.DataFrame(columns=TRADEOFF_COLUMNS)
    overall = summary[summary["slice"] == "overall"]
    rows: list[dict[str, Any]] = []
    for variant, answers in outputs.groupby("variant", sort=False):
        ok = answers[answers["status"] == "ok"]
        latency = ok["latency_s"].to_numpy(dtype=float)
        p50 = _quantile(latency, 0.5, confidence)
        p95 = _quantile(latency, 0.95, confidence)
        cost = _cost(ok, confidence)
        mine = overall[overall["variant"] == variant]
        for scorer in dict.fromkeys(mine["scorer"]):
            s = mine[mine["scorer"] == scorer]
            pick = s[s["metric"] == "pass_rate"] if (s["metric"] == "pass_rate").any() else s
            r = pick.iloc[0]
            ok_est = r["status"] == "ok"
            rows.append({
                "variant": variant, "scorer": scorer, "metric": r["metric"],
                "quality": float(r["value"]) if ok_est else math.nan,
                "quality_low": float(r["ci_low"]) if ok_est else math.nan,
                "quality_high": float(r["ci_high"]) if ok_est else math.nan,
                "cost_per_case": cost[0], "cost_low": cost[1], "cost_high": cost[2],
                "latency_p50": p50[0], "p50_low": p50[1], "p50_high": p50[2],
                "latency_p95": p95[0], "p95_low": p95[1], "p95_high": p95[2],
                "n_cases": int(answers["case_id"].nunique()), "n_answers": int(len(ok)),
                "n_errors": int((answers["status"] != "ok").sum()), "pareto": False})
    _pareto(rows)
    return pd.DataFrame(rows, columns=TRADEOFF_COLUMNS)
