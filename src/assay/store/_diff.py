"""What differs between two runs: inputs, spec fields, environment and result numbers.

Used by ``assay runs diff`` and by ``assay rerun``, which says "identical" only when every
number of the result tables is the same double (NaN equal to NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Columns that identify a row of each result table.
RESULT_KEYS = ["model", "slice", "metric"]
COMPARE_KEYS = ["candidate", "slice", "metric"]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as dotted paths: {"models[1].path": ..., "threshold": ...}."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and obj and any(isinstance(v, dict | list) for v in obj):
        for i, v in enumerate(obj):
            out |= flatten(v, f"{prefix}[{i}]")
    else:
        out[prefix] = obj
    return out


def mapping_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, old, new) for every dotted path whose value differs (None = absent)."""
    a, b = flatten(old), flatten(new)
    return [(k, a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(role, old sha256, new sha256) for inputs whose content (or presence) changed."""
    roles = sorted(old.keys() | new.keys())
    return [(r, (old.get(r) or {}).get("sha256"), (new.get(r) or {}).get("sha256")) for r in roles
            if (old.get(r) or {}).get("sha256") != (new.get(r) or {}).get("sha256")]


@dataclass
class TableDiff:
    """How two result tables differ, value by value."""

    identical: bool
    only_old: list[dict[str, Any]] = field(default_factory=list)
    only_new: list[dict[str, Any]] = field(default_factory=list)
    #: rows whose numbers or texts differ: keys, column, old, new, |difference|; largest first
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def largest(self) -> dict[str, Any] | None:
        return self.changed[0] if self.changed else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        fa = math.nan if a is None else float(a)
        fb = math.nan if b is None else float(b)
        return (math.isnan(fa) and math.isnan(fb)) or fa == fb
    return a == b


def table_diff(old: pd.DataFrame | None, new: pd.DataFrame | None, keys: list[str]) -> TableDiff:
    """Compare two tables row by row on ``keys``: exact equality of every double (NaN equals
    NaN) and text. Differences are sorted by their size (text differences count as
    infinite)."""
    empty = pd.DataFrame(columns=keys)
    old = empty if old is None else old
    new = empty if new is None else new
    a = old.set_index(keys, drop=False)
    b = new.set_index(keys, drop=False)
    only_old = [r for k, r in zip(a.index, a.to_dict("records"), strict=True) if k not in b.index]
    only_new = [r for k, r in zip(b.index, b.to_dict("records"), strict=True) if k not in a.index]
    common = a.index.intersection(b.index, sort=False)
    cols = [c for c in old.columns if c in new.columns and c not in keys]
    changed = []
    if len(common):
        ra = a.loc[common]
        rb = b.loc[common]
        for c in cols:
            va, vb = ra[c].to_numpy(), rb[c].to_numpy()
            if va.dtype.kind == "f" and vb.dtype.kind == "f":
                same = (va == vb) | (np.isnan(va) & np.isnan(vb))
            else:
                same = np.array([_same(x, y) for x, y in zip(va, vb, strict=True)], dtype=bool)
            for i in np.nonzero(~same)[0]:
                x, y = va[i], vb[i]
                try:
                    size = abs(float(y) - float(x))
                    size = math.inf if math.isnan(size) else size
                except (TypeError, ValueError):
                    size = math.inf
                changed.append({**dict(zip(keys, common[i], strict=True)), "column": c,
                                "old": _plain(x), "new": _plain(y), "difference": size})
    changed.sort(key=lambda d: -d["difference"])
    return TableDiff(not (only_old or only_new or changed), only_old, only_new, changed)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
