"""Slice specs -> dimensions with per-row integer codes (as SQL over ``assay_rows``).

The codes are computed by DuckDB for both engines, so a row lands in the same slice
whichever engine aggregates it. Levels are labelled with DuckDB's text form of the value.
"""

from __future__ import annotations

import duckdb

from assay._errors import InputError
from assay.data._files import quote_ident, sql_string
from assay.data._sources import EvalRows
from assay.engine import Dimension, Partition
from assay.spec import ColumnSlice, CrossSlice, WhereSlice

MAX_LEVELS = 1000
MISSING = "(missing)"
OUTSIDE = "(outside bins)"


def _edge_labels(edges: list[float]) -> list[str]:
    """Edges as short text, with as many digits as it takes to keep distinct edges distinct
    (``:g`` alone writes 10000003 and 10000005 both as 1e+07, so two bins shared a label)."""
    for digits in range(6, 18):
        labels = [f"{e:.{digits}g}" for e in edges]
        if len(set(labels)) == len(set(edges)):
            return labels
    return [repr(e) for e in edges]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    rows = con.execute(sql).fetchall()
    return rows[0][0] if rows else None


def _column_dimension(rows: EvalRows, s: ColumnSlice) -> Dimension:
    con, rel = rows.con, rows.relation
    cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {rel}").fetchall()}
    if s.column not in cols or s.column.startswith("__"):
        raise InputError(f"slices: column {s.column!r} not found in the dataset. "
                         f"Available: {', '.join(c for c in cols if not c.startswith('__'))}")
    c = quote_ident(s.column)
    n_missing = int(_scalar(con, f"SELECT count(*) FROM {rel} WHERE {c} IS NULL") or 0)  # type: ignore[arg-type]
    if s.bins is None and s.quantiles is None:
        levels = [r[0] for r in con.execute(
            f"SELECT {c}::VARCHAR FROM (SELECT DISTINCT {c} FROM {rel} WHERE {c} IS NOT NULL) "
            f"ORDER BY {c} LIMIT {MAX_LEVELS + 1}").fetchall()]
        if len(levels) > MAX_LEVELS:
            raise InputError(
                f"slices: column {s.column!r} has more than {MAX_LEVELS} distinct values; slice it "
                "with 'bins: [edges]' or 'quantiles: N' instead")
        if not levels and not n_missing:
            raise InputError(f"slices: column {s.column!r} has no values")
        lits = ", ".join(sql_string(v) for v in levels)
        sql = (f"CASE WHEN {c} IS NULL THEN {len(levels)} "
               f"ELSE list_position([{lits}]::VARCHAR[], {c}::VARCHAR) - 1 END")
        labels = [*levels, MISSING]
        reported = list(range(len(levels))) + ([len(levels)] if n_missing else [])
        return Dimension(s.label, labels, reported, sql=sql)
    ctype = cols[s.column].upper()
    if not ctype.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE",
                             "DECIMAL", "HUGEINT", "U")):
        raise InputError(f"slices: column {s.column!r} has type {ctype}; bins and quantiles need "
                         "a numeric column")
    x = f"{c}::DOUBLE"
    if s.bins is not None:
        edges = list(s.bins)
        closed_last = False
    else:
        q = s.quantiles or 2
        probs = ", ".join(str(i / q) for i in range(q + 1))
        got = _scalar(con, f"SELECT quantile_disc({x}, [{probs}]) FROM {rel} "
                           f"WHERE {c} IS NOT NULL AND NOT isnan({x})")
        if not got:
            raise InputError(f"slices: column {s.column!r} has no numeric values to take quantiles of")
        edges = sorted(set(float(e) for e in got))  # type: ignore[union-attr]
        if len(edges) < 2:
            edges = [edges[0], edges[0]]
        closed_last = True
    k = len(edges) - 1
    text = _edge_labels(edges)
    labels = []
    ladder = []
    for i in range(k):
        last = closed_last and i == k - 1
        labels.append(f"[{text[i]}, {text[i + 1]}{']' if last else ')'}")
        op = "<=" if last else "<"
        ladder.append(f"WHEN {x} {op} CAST('{edges[i + 1]!r}' AS DOUBLE) THEN {i}")
    lo = f"CAST('{edges[0]!r}' AS DOUBLE)"
    sql = (f"CASE WHEN {c} IS NULL OR isnan({x}) THEN {k + 1} WHEN {x} < {lo} THEN {k} "
           f"{' '.join(ladder)} ELSE {k} END")
    n_out = int(_scalar(con, f"SELECT count(*) FROM {rel} WHERE ({sql}) = {k}") or 0)  # type: ignore[arg-type]
    # NaN lands in (missing) too; every row must be in a reported level of the dimension
    n_missing = int(_scalar(con, f"SELECT count(*) FROM {rel} WHERE ({sql}) = {k + 1}") or 0)  # type: ignore[arg-type]
    labels += [OUTSIDE, MISSING]
    reported = list(range(k)) + ([k] if n_out else []) + ([k + 1] if n_missing else [])
    return Dimension(s.label, labels, reported, sql=sql)


def _where_dimension(rows: EvalRows, s: WhereSlice) -> Dimension:
    con, rel = rows.con, rows.relation
    try:
        n = int(_scalar(con, f"SELECT count(*) FROM {rel} WHERE ({s.where})") or 0)  # type: ignore[arg-type]
    except duckdb.Error as exc:
        raise InputError(f"slices: the predicate of slice {s.label!r} failed in DuckDB: {exc}. "
                         "Write a DuckDB SQL boolean expression over the dataset's columns.") from None
    if n == 0:
        raise InputError(f"slices: slice {s.label!r} ({s.where}) selects no rows; fix the "
                         "predicate or remove the slice")
    return Dimension(s.label, ["false", ""], [1], sql=f"CASE WHEN ({s.where}) THEN 1 ELSE 0 END")


def build_partition(rows: EvalRows) -> Partition:
    """Turn the spec's slices into a :class:`Partition` with SQL codes."""
    base: list[Dimension] = []
    crosses: list[Dimension] = []
    index: dict[str, int] = {}
    for s in rows.spec.effective_slices:
        if isinstance(s, ColumnSlice):
            index[s.label] = len(base)
            base.append(_column_dimension(rows, s))
        elif isinstance(s, WhereSlice):
            index[s.label] = len(base)
            base.append(_where_dimension(rows, s))
    for s in rows.spec.effective_slices:
        if not isinstance(s, CrossSlice):
            continue
        missing = [p for p in s.cross if p not in index]
        if missing:
            raise InputError(f"slices: cross {s.label!r} can only combine column or predicate "
                             f"slices; {missing} are not")
        parts = tuple(index[p] for p in s.cross)
        labels = [""]
        for p in parts:
            dim = base[p]
            if dim.levels == ["false", ""]:
                names = ["not " + dim.label, dim.label]
            else:
                names = [f"{dim.label}={lv}" for lv in dim.levels]
            labels = [f"{a} & {b}" if a else b for a in labels for b in names]
        crosses.append(Dimension(s.label, labels, list(range(len(labels))), parts=parts))
    return Partition(base, crosses)
