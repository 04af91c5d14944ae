"""Suite statistics: per variant, scorer and slice (overall and each tag), the pass rate and
the mean score with intervals, and the undetermined and error counts.

Only ``ok`` scores enter a rate or a mean; undetermined and error scores are counted beside
them, never averaged in. A scorer whose value is 1 when it passes and 0 when it fails (exact
match, a pass/fail judge) has only its pass rate: its mean would be the same number. With one
sample per case the pass rate has a Wilson interval and the mean a t interval. With several
samples per case (repeated generations), or cases that share a ``cluster`` (variants of one
seed prompt), the rows of one unit are not independent: the interval is a seeded percentile
bootstrap over units (cases, or clusters where the scores table has a ``cluster`` column).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assay.stats import percentile_interval, t_interval, wilson_interval

SUMMARY_COLUMNS = ["variant", "slice", "scorer", "metric", "value", "ci_low", "ci_high", "n", "n_cases",
                   "n_undetermined", "n_error", "method", "status", "note"]


def _cluster_boot(values: np.ndarray, cases: np.ndarray, replicates: int, seed: tuple[int, ...],
                  confidence: float) -> tuple[float, float]:
    """Percentile bootstrap of the mean, resampling whole cases."""
    codes, inverse = np.unique(cases, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=codes.size)
    counts = np.bincount(inverse, minlength=codes.size).astype(float)
    rng = np.random.default_rng(list(seed))
    draws = rng.multinomial(codes.size, np.full(codes.size, 1.0 / codes.size), size=replicates)
    reps = (draws @ sums) / np.maximum(draws @ counts, 1.0)
    iv = percentile_interval(reps, confidence)
    return iv.low, iv.high


def _estimate(metric: str, values: np.ndarray, cases: np.ndarray, samples: int, confidence: float,
              replicates: int, seed: tuple[int, ...]) -> dict[str, Any]:
    n = int(values.size)
    if n == 0:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "method": "",
                "status": "undefined", "note": "no ok score"}
    value = float(values.mean())
    if np.unique(cases).size < n:
        lo, hi = _cluster_boot(values, cases, replicates, seed, confidence)
        method = "cluster bootstrap (cases)"
    elif metric == "pass_rate":
        iv = wilson_interval(value, n, confidence)
        lo, hi, method = iv.low, iv.high, "wilson"
    elif n > 1:
        iv = t_interval(value, float(values.std(ddof=1)), n, confidence)
        lo, hi, method = iv.low, iv.high, "t"
    else:
        lo = hi = math.nan
        method, note = "t", "one score: no interval"
        return {"value": value, "ci_low": lo, "ci_high": hi, "method": method, "status": "ok", "note": note}
    return {"value": value, "ci_low": lo, "ci_high": hi, "method": method, "status": "ok", "note": ""}


def pass_indicators(scores: pd.DataFrame) -> set[str]:
    """The scorers whose value is their own pass/fail (1 when passed, 0 when not) on every ok
    score: for them the mean adds nothing to the pass rate."""
    ok = scores[scores["status"] == "ok"]
    out = set()
    for scorer, g in ok.groupby("scorer", sort=False):
        if g["passed"].notna().all() and \
                (g["value"].to_numpy(dtype=float) == g["passed"].astype(float).to_numpy()).all():
            out.add(str(scorer))
    return out


def summarize(scores: pd.DataFrame, *, samples: int, confidence: float, replicates: int,
              seed: int) -> pd.DataFrame:
    """The summary table (``SUMMARY_COLUMNS``) of a scores table."""
    rows: list[dict[str, Any]] = []
    if scores.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    slices = [("overall", np.ones(len(scores), dtype=bool))]
    tags = sorted({t for ts in scores["tags"] for t in ts})
    slices += [(f"tag={t}", scores["tags"].map(lambda ts, t=t: t in ts).to_numpy()) for t in tags]
    variants = list(dict.fromkeys(scores["variant"]))
    scorers = list(dict.fromkeys(scores["scorer"]))
    indicators = pass_indicators(scores)
    for vi, variant in enumerate(variants):
        for si, scorer in enumerate(scorers):
            base = (scores["variant"] == variant).to_numpy() & (scores["scorer"] == scorer).to_numpy()
            for li, (label, mask) in enumerate(slices):
                sel = scores[base & mask]
                if sel.empty:
                    continue
                ok = sel[sel["status"] == "ok"]
                unit = "cluster" if "cluster" in sel.columns else "case_id"
                counts = {"n_cases": int(sel["case_id"].nunique()),
                          "n_undetermined": int((sel["status"] == "undetermined").sum()),
                          "n_error": int((sel["status"] == "error").sum())}
                judged = ok[ok["passed"].notna()]
                metrics = []
                if len(judged) or scorer in indicators:
                    metrics.append(("pass_rate", judged["passed"].astype(float).to_numpy(),
                                    judged[unit].to_numpy()))
                if scorer not in indicators:  # a 0/1 score that is its own pass/fail: mean = pass rate
                    metrics.append(("mean", ok["value"].to_numpy(dtype=float), ok[unit].to_numpy()))
                for mi, (metric, values, cases) in enumerate(metrics):
                    est = _estimate(metric, values, cases, samples, confidence, replicates,
                                    (seed, vi, si, li, mi))
                    rows.append({"variant": variant, "slice": label, "scorer": scorer, "metric": metric,
                                 "n": int(values.size), **counts, **est})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def usage(outputs: pd.DataFrame) -> pd.DataFrame:
    """Per variant: calls, errors, cache hits, tokens, cost and latency p50/p95 of the answers.

    Latency and cost are the answer's own, as measured and priced when it was made (a cache
    hit keeps them), so a cached rerun reports the same figures; ``cost_spent`` is what this
    run paid, for the calls that reached the provider."""
    rows = []
    for variant, g in outputs.groupby("variant", sort=False):
        ok = g[g["status"] == "ok"]
        live = ok["latency_s"].to_numpy(dtype=float)
        cost = pd.to_numeric(g["cost"], errors="coerce")
        spent = cost[~g["cached"].astype(bool)]
        rows.append({
            "variant": variant, "calls": len(g), "errors": int((g["status"] != "ok").sum()),
            "cached": int(g["cached"].sum()),
            "prompt_tokens": int(pd.to_numeric(g["prompt_tokens"], errors="coerce").fillna(0).sum()),
            "completion_tokens": int(pd.to_numeric(g["completion_tokens"], errors="coerce").fillna(0).sum()),
            "cost": float(cost.sum()) if cost.notna().any() else math.nan,
            "cost_spent": (float(spent.sum()) if spent.notna().any()
                           else 0.0 if cost.notna().any() else math.nan),
            "latency_p50": float(np.percentile(live, 50)) if live.size else math.nan,
            "latency_p95": float(np.percentile(live, 95)) if live.size else math.nan})
    return pd.DataFrame(rows)
