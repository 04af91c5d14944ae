"""Encode candidate columns to small integer codes once, for the weak-segment search.

Each column becomes an int32 code per row plus, per code, one condition: its text
(``channel = broker``, ``income in [2.1e+04, 3.5e+04)``, ``age is missing``) and its JSON form
(``{"column", "op", "value"}``). Levels and bin edges are learnt on the discovery half only, so
nothing about the test half shapes the conditions that are tested on it.

* Text columns: the ``max_levels - 1`` most frequent values of the discovery half (ties by
  value) keep their own code, the others share one ``(other)`` code (op ``not in`` the kept
  values); a column with at most ``max_levels`` distinct values keeps them all.
* Numeric columns with at most ``max_levels`` distinct values are treated like text
  (``rooms = 3``). Others are cut at the ``quantiles``-quantiles of the discovery half's
  finite values; duplicate edges are merged and an edge at the minimum moves to the next
  distinct value, so a point mass (e.g. many zeros) gets a bin of its own. Bins are
  half-open ``[a, b)``; the outer ones read ``< a`` and ``>= b``.
* Missing values (None, NaN) get their own ``is missing`` code wherever the column has any.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay._errors import InputError


@dataclass
class EncodedColumn:
    """One candidate column as codes 0..levels-1 with a condition per code."""

    name: str
    codes: np.ndarray  # int32, one per row (all rows, both halves)
    texts: list[str]  # per code: the condition as text, e.g. "region = north"
    conditions: list[dict] = field(default_factory=list)  # per code: {"column","op","value"}
    kind: str = "categorical"  # "categorical" | "numeric bins"

    @property
    def levels(self) -> int:
        return len(self.texts)


def encode_column(name: str, values: np.ndarray, discovery: np.ndarray, max_levels: int,
                  quantiles: int) -> EncodedColumn:
    """Codes and conditions of one column; ``discovery`` is the boolean discovery-half mask."""
    values = np.asarray(values)
    if values.ndim != 1 or values.size != discovery.size:
        raise InputError(
            f"error_analysis: candidate column {name!r} has shape {values.shape}, expected "
            f"({discovery.size},) like the label; pass one value per row")
    if values.dtype.kind in "biuf":
        x = values.astype(np.float64, copy=False)
        if _few_values(x, discovery, max_levels):
            return _categorical(name, _numeric_as_objects(x), discovery, max_levels, numeric=True)
        return _binned(name, x, discovery, quantiles)
    if values.dtype.kind in "OUS":
        return _categorical(name, values.astype(object, copy=False), discovery, max_levels)
    raise InputError(
        f"error_analysis: candidate column {name!r} has dtype {values.dtype}; only numbers and "
        "text can form conditions. Cast it to a number or a string, or leave it out of "
        "error_analysis.columns")


def _few_values(x: np.ndarray, discovery: np.ndarray, max_levels: int) -> bool:
    """At most ``max_levels`` distinct finite values in all rows (the discovery half, sorted,
    rules most columns out cheaply)."""
    d = np.sort(x[discovery & np.isfinite(x)])
    if d.size and 1 + int(np.count_nonzero(np.diff(d))) > max_levels:
        return False
    return pd.unique(x[np.isfinite(x)]).size <= max_levels


def _numeric_as_objects(x: np.ndarray) -> np.ndarray:
    out = x.astype(object)
    out[np.isnan(x)] = None
    return out


def _value_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _json_value(v: object) -> object:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def _categorical(name: str, values: np.ndarray, discovery: np.ndarray, max_levels: int,
                 numeric: bool = False) -> EncodedColumn:
    raw, uniques = pd.factorize(values, use_na_sentinel=True)
    k = len(uniques)
    counts = np.bincount(raw[discovery & (raw >= 0)], minlength=k) if k else np.zeros(0, int)
    texts_of = [_value_text(u) for u in uniques]
    # most frequent first (discovery half), ties by text: independent of row order
    order = sorted(range(k), key=lambda j: (-counts[j], texts_of[j]))
    keep = order if k <= max_levels else order[: max_levels - 1]
    other = [] if k <= max_levels else order[max_levels - 1:]
    mapping = np.empty(k + 1, dtype=np.int32)  # last slot: the NA sentinel -1
    texts, conds = [], []
    for code, j in enumerate(keep):
        mapping[j] = code
        texts.append(f"{name} = {texts_of[j]}")
        conds.append({"column": name, "op": "=", "value": _json_value(uniques[j])})
    if other:
        mapping[other] = len(texts)
        texts.append(f"{name} = (other)")
        conds.append({"column": name, "op": "not in",
                      "value": [_json_value(uniques[j]) for j in keep]})
    if (raw < 0).any():
        mapping[k] = len(texts)
        texts.append(f"{name} is missing")
        conds.append({"column": name, "op": "is missing", "value": None})
    codes = mapping[raw]  # raw == -1 picks the last slot
    return EncodedColumn(name, codes.astype(np.int32, copy=False), texts, conds,
                         "categorical" if not numeric else "categorical (numeric values)")


def bin_edges(x: np.ndarray, quantiles: int) -> np.ndarray:
    """Interior bin edges: the 1/q .. (q-1)/q quantiles of the finite values, merged when
    equal; an edge at the minimum moves up to the next distinct value (a point mass at the
    minimum gets its own bin instead of an empty one)."""
    finite = np.sort(x[np.isfinite(x)])
    if finite.size == 0:
        return np.zeros(0)
    probs = np.arange(1, quantiles) / quantiles
    edges = np.unique(np.quantile(finite, probs))
    lo = finite[0]
    if edges.size and edges[0] <= lo:
        above = finite[finite > lo]
        edges = edges[1:] if above.size == 0 else np.unique(np.r_[above[0], edges[1:]])
    return edges[edges > lo]


def _edge_texts(edges: np.ndarray) -> list[str]:
    """Shortest %g texts (3 significant digits or more) that keep adjacent edges distinct."""
    for digits in range(3, 18):
        texts = [f"{e:.{digits}g}" for e in edges]
        if len(set(texts)) == len(texts):
            return texts
    return [repr(float(e)) for e in edges]


def _binned(name: str, x: np.ndarray, discovery: np.ndarray, quantiles: int) -> EncodedColumn:
    edges = bin_edges(x[discovery], quantiles)
    et = _edge_texts(edges)
    texts, conds = [], []
    if edges.size == 0:
        texts.append(f"{name} is present")
        conds.append({"column": name, "op": "is present", "value": None})
    else:
        texts.append(f"{name} < {et[0]}")
        conds.append({"column": name, "op": "<", "value": float(edges[0])})
        for j in range(1, edges.size):
            texts.append(f"{name} in [{et[j - 1]}, {et[j]})")
            conds.append({"column": name, "op": "in", "value": [float(edges[j - 1]), float(edges[j])]})
        texts.append(f"{name} >= {et[-1]}")
        conds.append({"column": name, "op": ">=", "value": float(edges[-1])})
    codes = np.searchsorted(edges, x, side="right").astype(np.int32)
    missing = np.isnan(x)
    if missing.any():
        codes[missing] = len(texts)
        texts.append(f"{name} is missing")
        conds.append({"column": name, "op": "is missing", "value": None})
    return EncodedColumn(name, codes, texts, conds, "numeric bins")
