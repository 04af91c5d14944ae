"""Paired comparison of suite variants on the same cases.

For each candidate variant against the baseline, per scorer and slice (overall and each tag):

* **pass rate** with one sample per case: the 2 x 2 table of the cases both variants scored
  (candidate first), Tango's score interval for the difference (Fagerland et al. 2014
  recommend it) and the exact McNemar p-value;
* **mean score** with one sample per case: the paired t interval and p-value of the
  per-case differences;
* with several samples per case, each case's samples are averaged first and the paired t
  runs over cases: samples of one case are not independent, cases are. Cases that share a
  ``cluster`` (the variants of one seed prompt) are averaged the same way and the paired t
  runs over clusters.

Only cases where both variants have an ok score are paired; the others are counted in the
note. p-values are adjusted across the slices of one candidate, scorer and metric with
Benjamini-Hochberg (discovery across tags), and the overall row is reported unadjusted
too, as ``p_value``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from assay.llm._aggregate import pass_indicators
from assay.stats import benjamini_hochberg, mcnemar_exact, paired_t, tango_interval

LLM_COMPARE_COLUMNS = ["baseline", "candidate", "slice", "scorer", "metric", "baseline_value",
                       "candidate_value", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "n",
                       "method", "status", "note"]


def _paired(base: pd.DataFrame, cand: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (case, sample) the two values, where both are present, and the case's unit of
    independence (its cluster, or the case)."""
    unit = base["cluster"] if "cluster" in base.columns else base["case_id"]
    a = base[["case_id", "sample", column]].rename(columns={column: "a"}).assign(unit=unit.to_numpy())
    b = cand[["case_id", "sample", column]].rename(columns={column: "b"})
    both = a.merge(b, on=["case_id", "sample"], how="inner")
    return both[both["a"].notna() & both["b"].notna()]


def _row(metric: str, pairs: pd.DataFrame, samples: int, confidence: float) -> dict[str, Any]:
    n = len(pairs)
    if n == 0:
        return {"baseline_value": math.nan, "candidate_value": math.nan, "delta": math.nan,
                "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "n": 0, "method": "",
                "status": "undefined", "note": "no case scored ok by both variants"}
    a = pairs["a"].astype(float).to_numpy()
    b = pairs["b"].astype(float).to_numpy()
    out = {"baseline_value": float(a.mean()), "candidate_value": float(b.mean()),
           "delta": float(b.mean() - a.mean()), "n": n, "status": "ok", "note": ""}
    clustered = pairs["unit"].nunique() < pairs["case_id"].nunique()
    if samples > 1 or clustered:
        key, what = ("unit", "cluster") if clustered else ("case_id", "case")
        by_unit = pairs.assign(d=b - a).groupby(key)["d"].mean().to_numpy()
        if by_unit.size < 2:
            return out | {"ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "method": "",
                          "status": "undefined", "note": f"fewer than 2 paired {what}s"}
        iv, p = paired_t(float(by_unit.mean()), float(by_unit.std(ddof=1)), by_unit.size, confidence)
        return out | {"delta": float(by_unit.mean()), "ci_low": iv.low, "ci_high": iv.high,
                      "p_value": p, "method": f"paired t over {what} means", "n": int(by_unit.size)}
    if metric == "pass_rate":
        n11 = float(((b == 1) & (a == 1)).sum())
        n10 = float(((b == 1) & (a == 0)).sum())
        n01 = float(((b == 0) & (a == 1)).sum())
        n00 = float(((b == 0) & (a == 0)).sum())
        iv = tango_interval(n11, n10, n01, n00, confidence)
        return out | {"ci_low": iv.low, "ci_high": iv.high, "p_value": mcnemar_exact(int(n10), int(n01)),
                      "method": "tango; mcnemar exact"}
    if n < 2:
        return out | {"ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan, "method": "paired t",
                      "status": "undefined", "note": "fewer than 2 paired cases"}
    d = b - a
    iv, p = paired_t(float(d.mean()), float(d.std(ddof=1)), n, confidence)
    return out | {"ci_low": iv.low, "ci_high": iv.high, "p_value": p, "method": "paired t"}


def compare_variants(scores: pd.DataFrame, baseline: str, candidates: list[str], *, samples: int,
                     confidence: float) -> pd.DataFrame:
    """The comparison table (``LLM_COMPARE_COLUMNS``) of each candidate against the baseline."""
    rows: list[dict[str, Any]] = []
    tags = sorted({t for ts in scores["tags"] for t in ts})
    slices = [("overall", None)] + [(f"tag={t}", t) for t in tags]
    indicators = pass_indicators(scores)
    for cand in candidates:
        for scorer in dict.fromkeys(scores["scorer"]):
            for metric, column in (("pass_rate", "passed"), ("mean", "value")):
                if metric == "mean" and scorer in indicators:
                    continue  # the mean of a pass/fail indicator is its pass rate
                group: list[dict[str, Any]] = []
                for label, tag in slices:
                    sel = scores[(scores["scorer"] == scorer) & (scores["status"] == "ok")]
                    if tag is not None:
                        sel = sel[sel["tags"].map(lambda ts, t=tag: t in ts)]
                    base, other = sel[sel["variant"] == baseline], sel[sel["variant"] == cand]
                    if metric == "pass_rate" and base["passed"].isna().all():
                        break  # the scorer has no pass rule
                    both = scores[(scores["scorer"] == scorer) & scores["variant"].isin([baseline, cand])]
                    if tag is not None:
                        both = both[both["tags"].map(lambda ts, t=tag: t in ts)]
                    pairs = _paired(base, other, column)
                    row = {"baseline": baseline, "candidate": cand, "slice": label, "scorer": scorer,
                           "metric": metric} | _row(metric, pairs, samples, confidence)
                    unpaired = both[["case_id", "sample"]].drop_duplicates().shape[0] - len(pairs)
                    if unpaired > 0 and row["status"] == "ok":
                        row["note"] = (f"{unpaired} case(s) left out: not scored ok by both variants")
                    group.append(row)
                ps = np.array([r["p_value"] for r in group], dtype=float)
                adjusted = np.full(ps.shape, math.nan)
                finite = np.isfinite(ps)
                if finite.any():
                    adjusted[finite] = benjamini_hochberg(ps[finite])
                for r, q in zip(group, adjusted, strict=True):
                    rows.append(r | {"p_adjusted": float(q)})
    return pd.DataFrame(rows, columns=LLM_COMPARE_COLUMNS)
