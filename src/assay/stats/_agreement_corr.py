"""Correlation of an automatic score with human ratings, at story and at system level.

Definitions follow HANNA (Chhun et al., COLING 2022, "Of Human Criteria and Automatic
Metrics: A Benchmark of the Evaluation of Story Generation", section 5):

- Within-group ("story-level") correlation: for each prompt (group), correlate the metric
  with the human score over the stories generated for that prompt, then average the
  per-prompt correlations. Kendall's tau-b, Spearman's rho and Pearson's r are SciPy's
  (``kendalltau``, ``spearmanr``, ``pearsonr``). A group with fewer than 2 complete pairs,
  or constant x or y, has no correlation: it is left out and counted. The interval is a
  percentile bootstrap over groups (prompts), or over ``cluster`` when groups nest in
  larger clusters.
- System-level correlation: average each system's scores over prompts, then correlate the
  per-system means. The interval resamples prompts (each replicate recomputes every
  system's mean over the drawn prompts) or, with ``resample="systems"``, systems.

Pairs with a missing x or y are left out and counted in the note.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from assay._errors import InputError
from assay.stats._agreement import OK, UNDEFINED, Agreement, check_bootstrap, check_confidence
from assay.stats._bootstrap import percentile_interval

_METHODS = ("kendall", "spearman", "pearson")


def _corr_fn(method: str) -> Callable[[np.ndarray, np.ndarray], float]:
    if method not in _METHODS:
        raise InputError(f"The 'method' parameter must be one of {_METHODS}. Got {method!r} instead.")
    fn = {"kendall": _st.kendalltau, "spearman": _st.spearmanr, "pearson": _st.pearsonr}[method]

    def corr(x: np.ndarray, y: np.ndarray) -> float:
        if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
            return math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(fn(x, y)[0])

    return corr


def _frame(x: Any, y: Any, **keys: Any) -> tuple[pd.DataFrame, int]:
    cols: dict[str, Any] = {}
    n = None
    for name, values in {"x": x, "y": y, **keys}.items():
        arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
        if arr.ndim != 1:
            raise InputError(f"'{name}' must be one-dimensional; got shape {arr.shape}.")
        if n is not None and arr.size != n:
            raise InputError(f"'{name}' has {arr.size} entries but 'x' has {n}; give one per item.")
        n = arr.size
        cols[name] = arr
    if not n:
        raise InputError("x and y are empty; a correlation needs scored items.")
    df = pd.DataFrame(cols)
    for name in ("x", "y"):
        try:
            df[name] = pd.to_numeric(df[name]).astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise InputError(f"'{name}' must be numeric scores.") from exc
    for name in keys:
        if df[name].isna().any():
            raise InputError(f"'{name}' has {int(df[name].isna().sum())} missing entries; every item "
                             "needs one.")
    keep = df["x"].notna() & df["y"].notna() & np.isfinite(df["x"]) & np.isfinite(df["y"])
    return df[keep].reset_index(drop=True), int((~keep).sum())


def _draws(rng: np.random.Generator, n: int, replicates: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)


def within_group_correlation(
    x: Any,
    y: Any,
    groups: Any,
    *,
    method: Literal["kendall", "spearman", "pearson"] = "kendall",
    cluster: Any = None,
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
) -> Agreement:
    """Mean over groups of the correlation of x and y within each group (HANNA's story level).

    ``parts`` holds each group's correlation (NaN where undefined). The interval resamples
    groups, or ``cluster`` labels (one per item, constant within a group) when given.
    """
    corr = _corr_fn(method)
    check_confidence(confidence)
    check_bootstrap(replicates, seed)
    keys: dict[str, Any] = {"g": groups} if cluster is None else {"g": groups, "c": cluster}
    df, dropped = _frame(x, y, **keys)
    name = f"within_group_{method}"
    method_txt = ("percentile bootstrap over " + ("groups" if cluster is None else "clusters")
                  if replicates else "no interval (replicates=0)")
    parts: dict[Hashable, float] = {}
    for g, sub in df.groupby("g", sort=True):
        parts[g] = corr(sub["x"].to_numpy(), sub["y"].to_numpy())
    r = pd.Series(parts, dtype=np.float64)
    good = r.notna()
    notes = [f"{dropped} pairs with a missing score left out"] if dropped else []
    if (~good).any():
        notes.insert(0, f"{int((~good).sum())} groups without a defined correlation (fewer than 2 pairs "
                        "or a constant score) left out")
    n_used, n_bad = int(good.sum()), int((~good).sum())
    if n_used == 0:
        return Agreement(name, math.nan, math.nan, math.nan, 0, n_bad, method_txt, UNDEFINED,
                         "; ".join(notes), parts=parts)
    value = float(r[good].mean())
    low = high = math.nan
    if replicates:
        if cluster is None:
            units = r[good].to_numpy()
            sums, cnts = units, np.ones_like(units)
        else:
            of = df.groupby("g", sort=True)["c"].nunique()
            if (of > 1).any():
                raise InputError(f"group {of[of > 1].index[0]!r} spans {int(of.max())} clusters; each group "
                                 "must lie inside one cluster.")
            cl = df.groupby("g", sort=True)["c"].first()[good]
            agg = pd.DataFrame({"c": cl.to_numpy(), "r": r[good].to_numpy()}).groupby("c", sort=True)["r"]
            sums, cnts = agg.sum().to_numpy(), agg.size().to_numpy(dtype=np.float64)
        w = _draws(np.random.default_rng(seed), sums.size, replicates)
        reps = (w @ sums) / (w @ cnts)
        ci = percentile_interval(reps, confidence, -1.0, 1.0)
        low, high = ci.low, ci.high
    return Agreement(name, value, low, high, n_used, n_bad, method_txt, OK, "; ".join(notes), parts=parts)


def system_correlation(
    x: Any,
    y: Any,
    systems: Any,
    groups: Any,
    *,
    method: Literal["kendall", "spearman", "pearson"] = "kendall",
    resample: Literal["groups", "systems"] = "groups",
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
) -> Agreement:
    """Correlation of per-system mean scores (HANNA's system level), x against y.

    Each system's mean is over its items with both scores. The interval resamples groups
    (prompts: every system's mean is recomputed on the drawn prompts) or systems.
    ``parts`` holds the per-system means of x; ``n`` counts systems.
    """
    corr = _corr_fn(method)
    if resample not in ("groups", "systems"):
        raise InputError(f"The 'resample' parameter of system_correlation must be one of 'groups', "
                         f"'systems'. Got {resample!r} instead.")
    check_confidence(confidence)
    check_bootstrap(replicates, seed)
    df, dropped = _frame(x, y, s=systems, g=groups)
    name = f"system_{method}"
    method_txt = f"percentile bootstrap over {resample}" if replicates else "no interval (replicates=0)"
    notes = [f"{dropped} pairs with a missing score left out"] if dropped else []
    cells = df.groupby(["g", "s"], sort=True).agg(sx=("x", "sum"), sy=("y", "sum"), n=("x", "size"))
    sx = cells["sx"].unstack(fill_value=0.0)
    sy = cells["sy"].unstack(fill_value=0.0).reindex_like(sx)
    cnt = cells["n"].unstack(fill_value=0).reindex_like(sx).astype(np.float64)
    mx = sx.sum() / cnt.sum()
    my = sy.sum() / cnt.sum()
    value = corr(mx.to_numpy(), my.to_numpy())
    parts: dict[Hashable, float] = {k: float(v) for k, v in mx.items()}
    n_sys = int(mx.size)
    if math.isnan(value):
        return Agreement(name, math.nan, math.nan, math.nan, n_sys, 0, method_txt, UNDEFINED,
                         "; ".join(["no defined correlation (fewer than 2 systems or a constant mean)",
                                    *notes]), parts=parts)
    low = high = math.nan
    if replicates:
        rng = np.random.default_rng(seed)
        reps = np.empty(replicates)
        if resample == "groups":
            w = _draws(rng, sx.shape[0], replicates)
            with np.errstate(invalid="ignore", divide="ignore"):
                bx = (w @ sx.to_numpy()) / (w @ cnt.to_numpy())
                by = (w @ sy.to_numpy()) / (w @ cnt.to_numpy())
            for i in range(replicates):
                ok = np.isfinite(bx[i]) & np.isfinite(by[i])
                reps[i] = corr(bx[i][ok], by[i][ok]) if ok.sum() >= 2 else math.nan
        else:
            ax, ay = mx.to_numpy(), my.to_numpy()
            for i in range(replicates):
                pick = rng.integers(0, n_sys, n_sys)
                reps[i] = corr(ax[pick], ay[pick])
        ci = percentile_interval(reps, confidence, -1.0, 1.0)
        low, high = ci.low, ci.high
    return Agreement(name, value, low, high, n_sys, 0, method_txt, OK, "; ".join(notes), parts=parts)
