"""Reading the analyses' inputs: extra columns in the engine's row read, then one
:class:`AnalysisRows` per model."""

from __future__ import annotations

from difflib import get_close_matches

import numpy as np

from assay._errors import InputError
from assay.analysis._rows import AnalysisRows
from assay.data._files import quote_ident
from assay.data._sources import EvalRows
from assay.engine import Partition
from assay.engine._partition import SliceKey

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
_TEMPORAL = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")


def _dataset_columns(rows: EvalRows) -> dict[str, str]:
    return {r[0]: r[1] for r in rows.con.execute("DESCRIBE assay_data").fetchall()}


def segment_columns(rows: EvalRows) -> list[tuple[str, str]]:
    """(column, "numeric" | "text") candidate columns of the error analysis.

    Default: every dataset column except the id, label, weight and prediction columns, the
    privacy-hidden or hashed ones, and dates/times (whose bins would read as numbers)."""
    spec = rows.spec
    cfg = spec.error_analysis
    assert cfg is not None
    types = _dataset_columns(rows)
    if cfg.columns is not None:
        missing = [c for c in cfg.columns if c not in types]
        if missing:
            hint = get_close_matches(missing[0], list(types), n=1)
            raise InputError(
                f"error_analysis.columns: {', '.join(map(repr, missing))} not in the dataset"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f". Columns: {', '.join(types)}; fix the list in the spec")
        names = list(cfg.columns)
    else:
        reserved = {spec.id, spec.label, spec.weight, *spec.privacy.hide, *spec.privacy.hash}
        for m in spec.models:
            if m.path is None:
                reserved |= {m.score, m.prediction, *(m.scores or {}).values()}
        names = [c for c, t in types.items() if c not in reserved and not c.startswith("__")
                 and not t.upper().startswith(_TEMPORAL)]
    return [(c, "numeric" if types[c].upper().startswith(_NUMERIC) else "text") for c in names]


def extra_selects(rows: EvalRows, columns: list[tuple[str, str]]) -> list[str]:
    """SQL select items added to the engine's row read when analyses run: the row number,
    a stable row key, and the error analysis's candidate columns."""
    key = f"hash({quote_ident(rows.spec.id)})" if rows.spec.id else "__row::UBIGINT"
    out = ["__row", f"{key} AS __rowkey"]
    for k, (c, kind) in enumerate(columns):
        cast = "DOUBLE" if kind == "numeric" else "VARCHAR"
        out.append(f"{quote_ident(c)}::{cast} AS __col{k}")
    return out


def _level_names(partition: Partition) -> list[list[str]]:
    """Per base dimension, the group name of each level (its value as text)."""
    return [list(d.levels) for d in partition.base]


def analysis_rows(rows: EvalRows, partition: Partition, raw: dict[str, np.ndarray], i: int,
                  columns: list[tuple[str, str]], replicates: int) -> AnalysisRows:
    """Model ``i``'s usable rows, with group labels, slice labels and candidate columns."""
    spec = rows.spec
    ok = raw[f"__ok{i}"]
    keep = None if ok.all() else ok

    def take(a: np.ndarray) -> np.ndarray:
        return a if keep is None else a[keep]

    cols = rows.score_columns[i]
    if spec.task == "multiclass":
        scores = np.column_stack([take(raw[c]).astype(np.float64, copy=False) for c in cols])
    else:
        scores = take(raw[cols[0]]).astype(np.float64, copy=False)
    y = take(raw["__y"])
    y = y.astype(np.float64) if spec.task == "regression" else y
    codes = [take(raw[f"__d{j}"]).astype(np.int64) for j in range(len(partition.base))]
    out = AnalysisRows(
        model=spec.models[i].name, task=spec.task, y=y, scores=scores,
        w=take(raw["__w"]).astype(np.float64, copy=False) if spec.weight else None,
        key=take(raw["__rowkey"]).astype(np.uint64, copy=False),
        row_number=take(raw["__row"]).astype(np.int64, copy=False),
        classes=[str(c) for c in rows.classes], threshold=spec.threshold,
        confidence=spec.confidence, replicates=replicates, seed=(spec.seed, i),
        min_slice_size=spec.min_slice_size)
    names = _level_names(partition)
    by_label = {d.label: (k, d) for k, d in enumerate(partition.all_dimensions)}
    per_slice = spec.calibration is not None and spec.calibration.slices
    for k, dim in enumerate(partition.all_dimensions if per_slice else []):
        if dim.is_cross:
            code = np.zeros(y.size, dtype=np.int64)
            for p in dim.parts:
                code = code * len(partition.base[p].levels) + codes[p]
        else:
            code = codes[k]
        kind = "cross" if dim.is_cross else ("where" if dim.levels == ["false", ""] else "column")
        labels = np.array([SliceKey(dim.label, lv, kind).label if j in dim.reported else ""
                           for j, lv in enumerate(dim.levels)], dtype=object)
        out.slices[dim.label] = labels[code]
    for label in spec.fairness_dimensions:
        _, dim = by_label[label]
        if dim.is_cross:
            parts = [np.array(names[p], dtype=object)[codes[p]] for p in dim.parts]
            group = parts[0].astype(str)
            for part in parts[1:]:
                group = np.char.add(np.char.add(group, " & "), part.astype(str))
            out.groups[label] = group.astype(object)
        else:
            k = by_label[label][0]
            out.groups[label] = np.array(names[k], dtype=object)[codes[k]]
    for k, (c, kind) in enumerate(columns):
        values = take(raw[f"__col{k}"])
        out.columns[c] = values.astype(np.float64) if kind == "numeric" else values.astype(object)
    return out
