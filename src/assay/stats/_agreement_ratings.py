"""Agreement of several raters on many units: Krippendorff's alpha and ICC(1).

Input is a raters x units array with NaN for a missing rating, or a long table with one
row per (unit, rater, value).

- Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's alpha-reliability";
  Hayes & Krippendorff 2007): alpha = 1 - D_o / D_e from the coincidence matrix, with the
  nominal, ordinal, interval and ratio distances. Values equal the ``krippendorff``
  package. Units with fewer than 2 ratings carry no pairable values: they are left out and
  counted. The interval is a percentile bootstrap over units (all of a unit's ratings move
  together: the clustered choice). Krippendorff's own bootstrap resamples pairable values,
  which treats the ratings of one unit as independent; we do not.
- ICC(1) and ICC(1,k): one-way random effects, single rater and the mean of k raters
  (Shrout & Fleiss 1979, case 1; McGraw & Wong 1996, ICC(1) and ICC(k)), from the one-way
  ANOVA mean squares, with the exact F-distribution interval. Values and 95% intervals
  equal pingouin's ``intraclass_corr`` rows ICC1 and ICC1k. The one-way model needs the
  same k raters per unit: units missing any rating are left out and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from assay._errors import InputError, sample_values
from assay.stats._agreement import OK, UNDEFINED, Agreement, check_bootstrap, check_confidence
from assay.stats._bootstrap import percentile_interval

_LEVELS = ("nominal", "ordinal", "interval", "ratio")
_DENSE_LIMIT = 20_000_000  # units x values^2 cells held for the ordinal/nominal/ratio bootstrap


def ratings_matrix(ratings: Any, *, unit: str = "unit", rater: str = "rater", value: str = "value",
                   numeric: bool = True) -> np.ndarray:
    """Normalise ratings to a float raters x units array (NaN = missing).

    A DataFrame is read as a long table with columns ``unit``, ``rater``, ``value``; any
    other array-like as raters x units. With ``numeric=False`` non-numeric labels are coded
    by their sorted order (fine for nominal data only).
    """
    if isinstance(ratings, pd.DataFrame):
        missing = [c for c in (unit, rater, value) if c not in ratings.columns]
        if missing:
            raise InputError(f"the ratings table has no column {missing[0]!r} (columns: "
                             f"{list(ratings.columns)}). A DataFrame is read as a long table with one "
                             f"row per rating (unit={unit!r}, rater={rater!r}, value={value!r}); name the "
                             "columns with unit=/rater=/value=, or pass a raters x units array.")
        dup = ratings.duplicated([unit, rater])
        if dup.any():
            first = ratings.loc[dup, [unit, rater]].iloc[0].tolist()
            raise InputError(f"the ratings table has {int(dup.sum())} duplicate (unit, rater) rows, e.g. "
                             f"{first!r}; each rater rates a unit once.")
        vals = ratings[value]
        if not pd.api.types.is_numeric_dtype(vals):
            vals = _codes(vals, numeric)
        wide = pd.DataFrame({"u": ratings[unit].to_numpy(), "r": ratings[rater].to_numpy(),
                             "v": np.asarray(vals, dtype=np.float64)})
        return wide.pivot(index="r", columns="u", values="v").to_numpy(dtype=np.float64)
    arr = np.asarray(ratings)
    if arr.dtype.kind in "US":  # a str array would turn NaN into the label "nan"
        arr = np.asarray(ratings, dtype=object)
    if arr.ndim != 2:
        raise InputError(f"ratings must be a raters x units array (2-d); got shape {arr.shape}. For one row "
                         "per rating pass a DataFrame with unit, rater and value columns.")
    if arr.dtype.kind not in "biuf":
        flat = pd.Series(arr.ravel(), dtype=object)
        arr = np.asarray(_codes(flat, numeric), dtype=np.float64).reshape(arr.shape)
    arr = arr.astype(np.float64)
    if np.isinf(arr).any():
        raise InputError("ratings contain infinite values; use NaN for a missing rating.")
    return arr


def _codes(values: pd.Series, numeric: bool) -> np.ndarray:
    s = pd.Series(values, dtype=object)
    ok = s.notna()
    if numeric:
        try:
            return pd.to_numeric(s).to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            bad = [v for v in s[ok] if not isinstance(v, int | float | np.number)]
            raise InputError(f"ratings must be numbers for this level; got {sample_values(bad)}. Use "
                             "level='nominal' for labels.") from exc
    uniq = sorted(set(s[ok].tolist()), key=lambda v: (str(type(v)), v))
    index = {v: float(i) for i, v in enumerate(uniq)}
    return np.array([index[v] if k else np.nan for v, k in zip(s, ok, strict=True)], dtype=np.float64)


# --------------------------------------------------------------------------- Krippendorff


def _distance(level: str, domain: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Distance matrix(es); ``n_v`` is (V,) or (R, V) for the ordinal metric."""
    if level == "nominal":
        return 1.0 - np.eye(domain.size)
    if level == "interval":
        return (domain[:, None] - domain[None, :]) ** 2
    if level == "ratio":
        s = domain[:, None] + domain[None, :]
        d = np.divide(domain[:, None] - domain[None, :], s, out=np.zeros((domain.size,) * 2), where=s != 0)
        return d**2
    cs = np.concatenate([np.zeros(n_v.shape[:-1] + (1,)), np.cumsum(n_v, axis=-1)], axis=-1)
    i = np.arange(domain.size)
    lo, hi = np.minimum(i[:, None], i[None, :]), np.maximum(i[:, None], i[None, :])
    between = cs[..., hi + 1] - cs[..., lo]
    return (between - (n_v[..., lo] + n_v[..., hi]) / 2.0) ** 2


def _alpha_from(o: np.ndarray, level: str, domain: np.ndarray) -> np.ndarray:
    """alpha from coincidence matrices ``o`` of shape (..., V, V); NaN where D_e = 0."""
    n_v = o.sum(axis=-2)
    total = n_v.sum(axis=-1)
    d = _distance(level, domain, n_v)
    d_o = (o * d).sum(axis=(-2, -1))
    d_e = np.einsum("...i,...ij,...j->...", n_v, d, n_v) / (total - 1.0)  # diag(d) = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d_e > 0, 1.0 - d_o / np.where(d_e > 0, d_e, 1.0), np.nan)


def _interval_alpha(vals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Interval alpha in closed form from raters x units ``vals`` (NaN missing) and unit
    weights of shape (R, U): sum_ab n_a n_b (a - b)^2 = 2 (N S2 - S1^2)."""
    ok = ~np.isnan(vals)
    x = np.where(ok, vals - np.nanmean(vals), 0.0)
    m = ok.sum(axis=0).astype(np.float64)
    s1, s2 = x.sum(axis=0), (x * x).sum(axis=0)
    d_o_unit = 2.0 * (m * s2 - s1 * s1) / (m - 1.0)
    n_tot, a1, a2 = weights @ m, weights @ s1, weights @ s2
    d_e = 2.0 * (n_tot * a2 - a1 * a1) / (n_tot - 1.0)
    d_o = weights @ d_o_unit
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d_e > 0, 1.0 - d_o / np.where(d_e > 0, d_e, 1.0), np.nan)


def krippendorff_alpha(
    ratings: Any,
    *,
    level: Literal["nominal", "ordinal", "interval", "ratio"] = "nominal",
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    unit: str = "unit",
    rater: str = "rater",
    value: str = "value",
) -> Agreement:
    """Krippendorff's alpha of several raters, any of whom may miss units.

    ``ratings``: raters x units (NaN = missing) or a long table (``unit``, ``rater``,
    ``value`` columns). Units rated fewer than twice are left out and counted. The interval
    is a seeded percentile bootstrap over units (``replicates=0``: no interval).
    """
    if level not in _LEVELS:
        raise InputError(f"The 'level' parameter of krippendorff_alpha must be one of {_LEVELS}. "
                         f"Got {level!r} instead.")
    check_confidence(confidence)
    check_bootstrap(replicates, seed)
    vals = ratings_matrix(ratings, unit=unit, rater=rater, value=value, numeric=level != "nominal")
    if vals.size == 0:
        raise InputError("ratings are empty; Krippendorff's alpha needs at least one unit rated twice.")
    counts_per_unit = (~np.isnan(vals)).sum(axis=0)
    keep = counts_per_unit >= 2
    vals = vals[:, keep]
    n_units, dropped = int(keep.sum()), int((~keep).sum())
    lone = int(counts_per_unit[~keep].sum())
    name = f"krippendorff_alpha_{level}"
    method = ("percentile bootstrap over units" if replicates else "no interval (replicates=0)")
    notes = [f"{dropped} units with fewer than 2 ratings left out ({lone} ratings)"] if dropped else []
    domain = np.unique(vals[~np.isnan(vals)])
    if n_units == 0 or domain.size < 2:
        why = "no unit has 2 ratings" if n_units == 0 else f"every rating is {domain[0]!r}: no variation"
        return Agreement(name, math.nan, math.nan, math.nan, n_units, dropped, method, UNDEFINED,
                         "; ".join([f"alpha is undefined: {why}", *notes]))
    rng = np.random.default_rng(seed)
    w_rep = (rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=replicates).astype(np.float64)
             if replicates else np.zeros((0, n_units)))
    if level == "interval":
        value_ = float(_interval_alpha(vals, np.ones((1, n_units)))[0])
        reps = _interval_alpha(vals, w_rep) if replicates else np.array([])
    else:
        size = domain.size
        if replicates and n_units * size * size > _DENSE_LIMIT:
            raise InputError(f"{size} distinct values over {n_units} units are too many for the {level} "
                             "bootstrap; round the ratings to a scale, or pass replicates=0.")
        code = np.searchsorted(domain, np.nan_to_num(vals, nan=domain[0]))
        ok = ~np.isnan(vals)
        cnt = np.zeros((n_units, size))
        u_idx = np.broadcast_to(np.arange(n_units), vals.shape)
        np.add.at(cnt, (u_idx[ok], code[ok]), 1.0)
        m = cnt.sum(axis=1)
        if replicates:
            pairs = cnt[:, :, None] * cnt[:, None, :] - cnt[:, :, None] * np.eye(size)
            o_unit = pairs / (m - 1.0)[:, None, None]
            o = o_unit.sum(axis=0)
            reps = _alpha_from((w_rep @ o_unit.reshape(n_units, -1)).reshape(-1, size, size), level, domain)
        else:
            scaled = cnt / np.sqrt(m - 1.0)[:, None]
            o = scaled.T @ scaled - np.diag((cnt / (m - 1.0)[:, None]).sum(axis=0))
            reps = np.array([])
        value_ = float(_alpha_from(o, level, domain))
    low = high = math.nan
    if replicates:
        ci = percentile_interval(reps, confidence, upper=1.0)
        low, high = ci.low, ci.high
        bad = int(np.isnan(reps).sum())
        if bad:
            notes.append(f"{bad} of {replicates} replicates undefined (no variation) and dropped")
    return Agreement(name, value_, low, high, n_units, dropped, method, OK, "; ".join(notes))


# --------------------------------------------------------------------------- ICC(1)


@dataclass(frozen=True)
class ICC1:
    """ICC(1) (single rater) and ICC(1,k) (mean of k raters) with the one-way ANOVA behind them."""

    single: Agreement
    average: Agreement
    k: int
    f: float
    df1: int
    df2: int
    p_value: float


def icc1(
    ratings: Any,
    *,
    confidence: float = 0.95,
    unit: str = "unit",
    rater: str = "rater",
    value: str = "value",
) -> ICC1:
    """One-way random-effects intraclass correlations ICC(1) and ICC(1,k), F-based intervals.

    Use it when each unit's raters are a different random draw (rating slots, not the same
    people), as in crowd-sourced labels. ``ratings``: raters x units (NaN = missing) or a
    long table. Units missing any rating are left out and counted (the model needs k per unit).
    """
    check_confidence(confidence)
    vals = ratings_matrix(ratings, unit=unit, rater=rater, value=value)
    if vals.shape[0] < 2:
        raise InputError(f"ICC needs at least 2 raters (rows); got {vals.shape[0]}. Pass ratings as "
                         "raters x units.")
    complete = ~np.isnan(vals).any(axis=0)
    x = vals[:, complete]
    k, n = x.shape
    dropped = int((~complete).sum())
    method = "F-distribution interval (Shrout & Fleiss 1979; McGraw & Wong 1996)"
    notes = [f"{dropped} units with a missing rating left out"] if dropped else []

    def _undefined(why: str) -> ICC1:
        note = "; ".join([f"ICC is undefined: {why}", *notes])
        one = Agreement("icc1", math.nan, math.nan, math.nan, n, dropped, method, UNDEFINED, note)
        avg = Agreement("icc1k", math.nan, math.nan, math.nan, n, dropped, method, UNDEFINED, note)
        return ICC1(one, avg, k, math.nan, max(n - 1, 0), n * (k - 1), math.nan)

    if n < 2:
        return _undefined(f"{n} complete units; it needs at least 2")
    means = x.mean(axis=0)
    msb = k * float(((means - means.mean()) ** 2).sum()) / (n - 1)
    msw = float(((x - means) ** 2).sum()) / (n * (k - 1))
    if msb == 0.0 and msw == 0.0:
        return _undefined("every rating is the same")
    df1, df2 = n - 1, n * (k - 1)
    single = (msb - msw) / (msb + (k - 1) * msw)
    average = (msb - msw) / msb if msb > 0 else -math.inf
    a = 1.0 - confidence
    if msw == 0.0:
        f = math.inf
        fl = fu = math.inf
        p = 0.0
        notes.append("raters agree exactly on every unit: the interval has no width")
    else:
        f = msb / msw
        fl = f / float(_st.f.ppf(1 - a / 2, df1, df2))
        fu = f * float(_st.f.ppf(1 - a / 2, df2, df1))
        p = float(_st.f.sf(f, df1, df2))

    def _single(fx: float) -> float:
        return 1.0 if math.isinf(fx) else (fx - 1.0) / (fx + k - 1.0)

    def _avg(fx: float) -> float:
        return 1.0 if math.isinf(fx) else 1.0 - 1.0 / fx

    note = "; ".join(notes)
    one = Agreement("icc1", single, _single(fl), _single(fu), n, dropped, method, OK, note)
    avg = Agreement("icc1k", average, _avg(fl), _avg(fu), n, dropped, method, OK, note)
    return ICC1(one, avg, k, f, df1, df2, p)
