"""Agreement between two raters (a judge and a human, two annotators): exact agreement and
Cohen's kappa, and the judge-calibration table built from them.

Methods and references:

- Exact agreement: the share of pairs with equal labels, with the Wilson (1927) score interval.
- Cohen's kappa (1960) and weighted kappa (Cohen 1968): kappa = (p_o - p_e) / (1 - p_e) with
  agreement weights w_ij = 1 - d_ij / max d, where d_ij = [i != j] (unweighted), |i - j|
  ("linear") or (i - j)^2 ("quadratic") on the positions of the categories in ``labels``.
  The value equals ``sklearn.metrics.cohen_kappa_score``.
- Its interval: kappa +- z * SE with the large-sample (non-null) standard error of Fleiss,
  Cohen & Everitt (1969), in its general weighted form (the one SAS PROC FREQ and
  ``statsmodels.stats.inter_rater.cohens_kappa`` use); with identity weights it reduces to
  the unweighted formula. The same analytic framework serves weighted and unweighted kappa.

Missing ratings (None, NaN, pd.NA) leave their pair out; the count is reported as
``n_excluded``. Kappa is undefined when p_e = 1 (both raters use one and the same single
category): the value is NaN with status "undefined" and a note, never a silent 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from assay._errors import InputError, sample_values
from assay.stats._intervals import normal_interval, wilson_interval

OK = "ok"
UNDEFINED = "undefined"
OVERALL = "overall"
JUDGE_COLUMNS = ("group", "statistic", "value", "ci_low", "ci_high", "n", "n_excluded", "method",
                 "status", "note")
_WEIGHTS = (None, "linear", "quadratic")


@dataclass(frozen=True)
class Agreement:
    """One agreement (or correlation) estimate with its interval.

    ``n`` counts what the statistic used (pairs, units or groups, per ``statistic``) and
    ``n_excluded`` what was left out (missing ratings, units rated once, undefined groups).
    ``observed``/``expected`` are kappa's (weighted) observed and chance agreement, and
    ``parts`` holds per-group values where a statistic averages over groups.
    """

    statistic: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    n_excluded: int
    method: str
    status: str = OK
    note: str = ""
    se: float = math.nan
    observed: float = math.nan
    expected: float = math.nan
    parts: dict[Hashable, float] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The estimate as a flat dict (without ``parts``), for long-format tables."""
        out = asdict(self)
        out.pop("parts")
        return out


# --------------------------------------------------------------------------- validation


def check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise InputError(f"confidence must be strictly between 0 and 1 (e.g. 0.95). Got {confidence!r}.")


def check_bootstrap(replicates: int, seed: int) -> None:
    if not isinstance(replicates, int | np.integer) or isinstance(replicates, bool) or replicates < 0:
        raise InputError(f"replicates must be a whole number >= 0 (0 gives no interval). Got {replicates!r}.")
    if 0 < replicates < 100:
        raise InputError(f"replicates={replicates} is too few for a percentile interval; use >= 100 "
                         "(1000 is a good default) or 0 for no interval.")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0. Got {seed!r}.")


def as_series(values: Any, name: str) -> pd.Series:
    """A 1-d input as an object Series (keeps labels of any type; missing stays missing)."""
    if isinstance(values, pd.Series):
        return pd.Series(values.to_numpy(dtype=object), dtype=object)
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise InputError(f"'{name}' must be one-dimensional (one rating per item); got shape {arr.shape}.")
    return pd.Series(arr, dtype=object)


def _pairs(a: Any, b: Any, names: tuple[str, str]) -> tuple[pd.Series, pd.Series, int]:
    sa, sb = as_series(a, names[0]), as_series(b, names[1])
    if len(sa) != len(sb):
        raise InputError(f"'{names[0]}' has {len(sa)} ratings and '{names[1]}' has {len(sb)}; they must "
                         "rate the same items in the same order.")
    if len(sa) == 0:
        raise InputError(f"'{names[0]}' and '{names[1]}' are empty; agreement needs at least one rated item.")
    keep = ~(sa.isna().to_numpy() | sb.isna().to_numpy())
    return sa[keep].reset_index(drop=True), sb[keep].reset_index(drop=True), int((~keep).sum())


def _categories(sa: pd.Series, sb: pd.Series, labels: Sequence[Hashable] | None) -> list[Hashable]:
    seen = pd.unique(pd.concat([sa, sb], ignore_index=True))
    if labels is None:
        try:
            return sorted(seen.tolist())
        except TypeError as exc:
            raise InputError(f"ratings mix types that cannot be ordered ({sample_values(seen)}); pass "
                             "labels=[...] in the intended order.") from exc
    cats = list(labels)
    if len(set(cats)) != len(cats):
        raise InputError(f"labels has duplicates: {cats!r}; list each category once.")
    unknown = [v for v in seen.tolist() if v not in set(cats)]
    if unknown:
        raise InputError(f"ratings {sample_values(unknown)} are not in labels={cats!r}; add them to labels "
                         "or fix the ratings (nothing is dropped silently).")
    return cats


# --------------------------------------------------------------------------- kappa


def _kappa_from_table(table: np.ndarray, weights: str | None) -> tuple[float, float, float, float]:
    """(kappa, se, p_o, p_e) of a K x K count table; NaN kappa when p_e = 1."""
    k = table.shape[0]
    n = float(table.sum())
    i = np.arange(k, dtype=np.float64)
    diff = np.abs(i[:, None] - i[None, :])
    dist = (diff > 0).astype(np.float64) if weights is None else diff if weights == "linear" else diff**2
    w = 1.0 - dist / dist.max() if k > 1 else np.ones((1, 1))
    p = table / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    po = float((w * p).sum())
    pe = float((w * np.outer(row, col)).sum())
    if pe >= 1.0 - 1e-12:
        return math.nan, math.nan, po, pe
    kappa = (po - pe) / (1.0 - pe)
    w_row = w @ col  # mean weight of row category i against the second rater's margins
    w_col = row @ w
    term = (p * (w - (w_row[:, None] + w_col[None, :]) * (1.0 - kappa)) ** 2).sum()
    var = (term - (kappa - pe * (1.0 - kappa)) ** 2) / (n * (1.0 - pe) ** 2)
    return kappa, math.sqrt(max(var, 0.0)), po, pe


def cohen_kappa(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    weights: Literal["linear", "quadratic"] | None = None,
    labels: Sequence[Hashable] | None = None,
    confidence: float = 0.95,
) -> Agreement:
    """Cohen's kappa of two raters on the same items, with its Fleiss-Cohen-Everitt interval.

    ``weights`` None gives Cohen's kappa; "linear"/"quadratic" the weighted kappa for
    ordinal labels, whose distances are positions in ``labels`` (default: the sorted
    labels seen). Pairs with a missing rating are left out and counted in ``n_excluded``.
    """
    if weights not in _WEIGHTS:
        raise InputError(f"The 'weights' parameter of cohen_kappa must be one of None, 'linear', "
                         f"'quadratic'. Got {weights!r} instead.")
    check_confidence(confidence)
    sa, sb, dropped = _pairs(a, b, ("a", "b"))
    name = "cohen_kappa" if weights is None else f"weighted_kappa_{weights}"
    method = "Fleiss-Cohen-Everitt (1969) large-sample SE, normal interval"
    if len(sa) == 0:
        return Agreement(name, math.nan, math.nan, math.nan, 0, dropped, method, UNDEFINED,
                         f"no item has both ratings ({dropped} pairs with a missing rating left out)")
    cats = _categories(sa, sb, labels)
    index = {c: j for j, c in enumerate(cats)}
    ia = np.fromiter((index[v] for v in sa), dtype=np.int64, count=len(sa))
    ib = np.fromiter((index[v] for v in sb), dtype=np.int64, count=len(sb))
    table = np.bincount(ia * len(cats) + ib, minlength=len(cats) ** 2).reshape(len(cats), len(cats))
    kappa, se, po, pe = _kappa_from_table(table.astype(np.float64), weights)
    notes = [f"{dropped} pairs with a missing rating left out"] if dropped else []
    if math.isnan(kappa):
        notes.insert(0, f"kappa is undefined: both raters used only {cats[int(ia[0])]!r}, so chance "
                        "agreement is 1")
        return Agreement(name, math.nan, math.nan, math.nan, len(sa), dropped, method, UNDEFINED,
                         "; ".join(notes), observed=po, expected=pe)
    ci = normal_interval(kappa, se, confidence, -1.0, 1.0)
    if se == 0.0:
        notes.append("zero standard error (perfect agreement): the interval has no width")
    return Agreement(name, kappa, ci.low, ci.high, len(sa), dropped, method, OK, "; ".join(notes),
                     se=se, observed=po, expected=pe)


def agreement_rate(a: Iterable[Any], b: Iterable[Any], *, confidence: float = 0.95) -> Agreement:
    """Share of items on which two raters give the same label, with a Wilson interval.

    The plainest calibration number (the judge's accuracy against human labels); pairs
    with a missing rating are left out and counted.
    """
    check_confidence(confidence)
    sa, sb, dropped = _pairs(a, b, ("a", "b"))
    method = "Wilson score interval"
    note = f"{dropped} pairs with a missing rating left out" if dropped else ""
    if len(sa) == 0:
        return Agreement("agreement_rate", math.nan, math.nan, math.nan, 0, dropped, method, UNDEFINED,
                         f"no item has both ratings ({dropped} pairs with a missing rating left out)")
    same = int(sum(x == y for x, y in zip(sa, sb, strict=True)))
    p = same / len(sa)
    ci = wilson_interval(p, len(sa), confidence)
    return Agreement("agreement_rate", p, ci.low, ci.high, len(sa), dropped, method, OK, note, se=ci.se)


# --------------------------------------------------------------------------- judge table


def _group_members(groups: Any, n: int) -> dict[Hashable, np.ndarray]:
    raw = groups.to_numpy(dtype=object) if isinstance(groups, pd.Series) else list(groups)
    if len(raw) != n:
        raise InputError(f"groups has {len(raw)} entries but there are {n} items; give one group (or a "
                         "list of tags) per item.")
    members: dict[Hashable, list[int]] = {}
    for i, g in enumerate(raw):
        tags = list(g) if isinstance(g, list | tuple | set | frozenset) else [g]
        for tag in tags:
            if tag is None or (isinstance(tag, float) and math.isnan(tag)):
                continue
            if tag == OVERALL:
                raise InputError(f"item {i} has the group {OVERALL!r}, which names the all-items rows of "
                                 "the table; rename that group.")
            members.setdefault(tag, []).append(i)
    try:
        order = sorted(members)
    except TypeError:
        order = sorted(members, key=str)
    return {g: np.asarray(members[g], dtype=np.int64) for g in order}


def judge_agreement(
    judge: Iterable[Any],
    human: Iterable[Any],
    *,
    groups: Iterable[Any] | None = None,
    kind: Literal["nominal", "ordinal"] = "nominal",
    weights: Literal["linear", "quadratic"] = "quadratic",
    labels: Sequence[Hashable] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Judge calibration against human labels: accuracy and kappa, overall and per group.

    Returns one long table with columns ``JUDGE_COLUMNS``: for each group (``"overall"``
    first, then each tag) the rows "accuracy" (Wilson interval) and "cohen_kappa"
    (``kind="nominal"``) or "weighted_kappa_<weights>" (``kind="ordinal"``). ``groups`` gives
    one tag or a list of tags per item; an item counts in every one of its tags. The
    categories (``labels``) are fixed over all groups, so ordinal distances agree.
    """
    if kind not in ("nominal", "ordinal"):
        raise InputError(f"The 'kind' parameter of judge_agreement must be one of 'nominal', 'ordinal'. "
                         f"Got {kind!r} instead.")
    if weights not in ("linear", "quadratic"):
        raise InputError(f"The 'weights' parameter of judge_agreement must be one of 'linear', 'quadratic'. "
                         f"Got {weights!r} instead.")
    check_confidence(confidence)
    sj, sh = as_series(judge, "judge"), as_series(human, "human")
    sa, sb, _ = _pairs(sj, sh, ("judge", "human"))
    cats = _categories(sa, sb, labels) if len(sa) else list(labels or [])
    parts: dict[Hashable, np.ndarray] = {OVERALL: np.arange(len(sj))}
    if groups is not None:
        parts.update(_group_members(groups, len(sj)))
    rows: list[dict[str, Any]] = []
    for g, idx in parts.items():
        a, b = sj.iloc[idx], sh.iloc[idx]
        stats = [agreement_rate(a, b, confidence=confidence),
                 cohen_kappa(a, b, weights=None if kind == "nominal" else weights, labels=cats or None,
                             confidence=confidence)]
        for est in stats:
            r = est.row()
            rows.append({"group": g, **{c: r[c] for c in JUDGE_COLUMNS if c != "group"}})
    table = pd.DataFrame(rows, columns=list(JUDGE_COLUMNS))
    table["statistic"] = table["statistic"].replace({"agreement_rate": "accuracy"})
    return table
