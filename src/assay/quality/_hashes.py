"""Repeated ids, repeated rows and train/eval overlap, exact, at the cost of one hash column.

Method: DuckDB's 64-bit ``hash()`` of the id (or of the compared columns) is read for every
row, sorted with NumPy and scanned for equal neighbours (for overlap: looked up in the
sorted, distinct training hashes). Equal values always have equal hashes, so no repeat is
missed; the few candidate hashes are then confirmed by grouping (or joining) on the values
themselves, so a hash collision can never be counted. Nulls compare equal to nulls and NaN
to NaN, as in ``pandas.DataFrame.duplicated`` and ``pandas.merge``. Reading one hash per row
costs 8 bytes a row in memory and about one column scan; a ``count(DISTINCT ...)`` over the
rows would build a hash table of every row instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay._errors import SpecError
from assay.data._files import columns_of, file_format, quote_ident, register_file
from assay.quality._config import LeakageSpec
from assay.quality._redact import NUMBERED
from assay.quality._scan import Context, is_number, is_temporal
from assay.quality._table import FAIL, PASS, SKIPPED, WARN, Row, by_share, limits, pct, share
from assay.spec import EvalSpec

HASH_NOTE = "exact; candidates found by DuckDB's 64-bit hash()"
_CANDIDATES = "__quality_candidates"
_TRAIN = "__quality_train"


def _hashes(ctx: Context, expr: str, view: str | None = None, where: str = "") -> np.ndarray:
    """One 64-bit hash per row, as a writable array (the relation API fetches it without the
    extra copy a DB-API result makes)."""
    got = np.asarray(ctx.con.sql(f"SELECT {expr} AS h FROM {view or ctx.view}{where}").fetchnumpy()["h"],
                     dtype=np.uint64)
    return got if got.flags.writeable else got.copy()


def _repeated(h: np.ndarray) -> np.ndarray:
    """The hash values that occur more than once (sorts ``h`` in place)."""
    h.sort()
    same = h[1:] == h[:-1]
    return np.unique(h[1:][same]) if same.any() else h[:0]


class _Candidates:
    """Candidate hashes registered as a table for the confirming query."""

    def __init__(self, ctx: Context, values: np.ndarray) -> None:
        self.ctx = ctx
        self.values = values

    def __enter__(self) -> str:
        self.ctx.con.register(_CANDIDATES, pa.table({"h": pa.array(self.values, pa.uint64())}))
        return f"(SELECT h FROM {_CANDIDATES})"

    def __exit__(self, *exc: Any) -> None:
        self.ctx.con.unregister(_CANDIDATES)


def _row_lists(ctx: Context, lists: list[Any]) -> str:
    """Example groups of rows holding the same values: ``rows 3, 17 (ids C1, C9)``."""
    out = []
    for nums, ids in lists:
        text = "rows " + ", ".join(str(int(r)) for r in nums)
        if ids and ctx.shown.id:
            shown = list(dict.fromkeys(ctx.shown.redactor.value(ctx.shown.id, i) for i in ids))
            text += f" (id{'s' if len(shown) > 1 else ''} {', '.join(shown)})"
        out.append(text)
    return "; ".join(out)


def duplicate_id_row(ctx: Context, spec: EvalSpec) -> Row:
    mode = ctx.quality.duplicates.ids
    if not spec.id:
        return Row("duplicate_ids", SKIPPED,
                   "no id column: set 'id' in the spec to check that ids are unique")
    if mode == "off":
        return Row("duplicate_ids", SKIPPED, "quality.duplicates.ids is off", column=spec.id)
    i = quote_ident(spec.id)
    h = _hashes(ctx, f"hash({i})", where=f" WHERE {i} IS NOT NULL")
    n = int(h.size)
    cand = _repeated(h)
    del h
    groups, extra, examples = _repeat_groups(ctx, cand, f"{i} IS NOT NULL AND hash({i}) IN {{c}}", i,
                                             i if ctx.shown.id else None)
    severity = FAIL if mode == "fail" else WARN
    status = severity if extra else PASS
    msg = f"{spec.id}: {groups:,} id value(s) repeat, {extra:,} extra row(s) among {n:,} rows with an id"
    if extra:
        msg += "; ids must be unique: deduplicate the rows, or choose a unique id column"
    return Row("duplicate_ids", status, msg, column=spec.id, value=share(extra, n),
               threshold=f"{severity} > 0", count=extra, n=n, examples=examples)


def _repeat_groups(ctx: Context, cand: np.ndarray, match: str, group: str,
                   id_expr: str | None) -> tuple[int, int, str]:
    """Among the rows whose hash is a candidate (``match``, with ``{c}`` for the candidate
    list), the groups of equal ``group`` values: how many, the extra rows, and examples
    (row numbers, and ids when ``id_expr`` may be shown). The values decide, not the hashes."""
    if not cand.size:
        return 0, 0, ""
    examples = ""
    with _Candidates(ctx, cand) as c:
        where = match.replace("{c}", c)  # not str.format: column names may hold braces
        got = ctx.con.execute(
            f"SELECT count(*), coalesce(sum(k - 1), 0) FROM (SELECT count(*) AS k FROM {ctx.view} "
            f"WHERE {where} GROUP BY {group} HAVING count(*) > 1)").fetchall()[0]
        groups, extra = int(got[0]), int(got[1])
        if groups and ctx.shown.limit > 0:
            ids = f"list({id_expr}::VARCHAR ORDER BY __qrow)" if id_expr else "NULL"
            got = ctx.con.execute(
                f"SELECT list(__qrow ORDER BY __qrow)[1:5], {ids} FROM {NUMBERED.format(view=ctx.view)} "
                f"WHERE {where} GROUP BY {group} HAVING count(*) > 1 "
                f"ORDER BY min(__qrow) LIMIT {ctx.shown.limit}").fetchall()
            examples = _row_lists(ctx, [(r[0], (r[1] or [])[:5] or None) for r in got])
    return groups, extra, examples


def duplicate_row_row(ctx: Context, spec: EvalSpec, n: int) -> Row:
    cfg = ctx.quality.duplicates
    cols = cfg.columns or [c for c in ctx.columns if c != spec.id]
    what = (f"on {', '.join(cols)}" if cfg.columns else
            f"on all {len(cols)} columns" + (" but the id" if spec.id else ""))
    threshold = limits(cfg.rows_warn, cfg.rows_fail)
    if not cols:
        return Row("duplicate_rows", SKIPPED, "no column besides the id to compare", threshold=threshold)
    keys = ", ".join(quote_ident(c) for c in cols)
    cand = _repeated(_hashes(ctx, f"hash({keys})"))
    groups, extra, examples = _repeat_groups(ctx, cand, f"hash({keys}) IN {{c}}", keys,
                                             quote_ident(ctx.shown.id) if ctx.shown.id else None)
    sh = share(extra, n)
    status = by_share(sh, cfg.rows_warn, cfg.rows_fail)
    msg = (f"{extra:,} of {n:,} rows ({pct(sh)}) repeat an earlier row {what} ({groups:,} distinct "
           f"repeated row(s); {HASH_NOTE})")
    if status != PASS:
        msg += ("; repeats weigh those examples twice: drop them, or raise "
                f"quality.duplicates.rows_{'fail' if status == FAIL else 'warn'}")
    return Row("duplicate_rows", status, msg, value=sh, threshold=threshold, count=extra, n=n,
               examples=examples)


# ---------------------------------------------------------------------------- leakage


def _leak_columns(ctx: Context, spec: EvalSpec, cfg: LeakageSpec, train: dict[str, str],
                  where: str) -> list[str]:
    if cfg.columns:
        for cols, what in ((ctx.columns, "the evaluation set"), (train, where)):
            missing = [c for c in cfg.columns if c not in cols]
            if missing:
                raise SpecError(f"quality.leakage.columns: {', '.join(map(repr, missing))} not in {what}; "
                                f"its columns: {', '.join(cols)}. Fix the names, or leave 'columns' out to "
                                "compare every shared column")
        return list(cfg.columns)
    model_cols = {c for m in spec.models for c in
                  [m.score, m.prediction, *(m.scores or {}).values()] if c}
    skip = {spec.id, spec.label, spec.weight} | model_cols
    return [c for c in ctx.columns if c in train and c not in skip]


def _pair(column: str, eval_type: str, train_type: str) -> tuple[str, str]:
    """Expressions that compare a column across the files: as is when the types agree, as
    DOUBLE when both are numbers, as TIMESTAMP(TZ) when both are dates or times (a CSV
    reader may type midnight times as DATE), else as text."""
    q = quote_ident(column)
    if eval_type == train_type:
        return q, q
    if is_number(eval_type) and is_number(train_type):
        return f"{q}::DOUBLE", f"{q}::DOUBLE"
    if is_temporal(eval_type) and is_temporal(train_type):
        t = "TIMESTAMPTZ" if "TIME ZONE" in f"{eval_type} {train_type}".upper() else "TIMESTAMP"
        return f"{q}::{t}", f"{q}::{t}"
    return f"{q}::VARCHAR", f"{q}::VARCHAR"


def leakage_rows(ctx: Context, spec: EvalSpec, base_dir: Path, n: int, selected: list[str]) -> list[Row]:
    cfg = ctx.quality.leakage
    threshold = limits(None, ctx.quality.leakage.max_share if cfg else 0.0)
    if cfg is None:
        return [Row("leakage_rows", SKIPPED, "no training file: set quality.leakage.train to check that "
                    "evaluation rows do not occur in it", threshold=threshold)]
    path = (base_dir / cfg.train).resolve()
    register_file(ctx.con, _TRAIN, path, file_format(path, cfg.format))
    try:
        train = columns_of(ctx.con, _TRAIN)
        rows = []
        if "leakage_rows" in selected:
            rows.append(_row_overlap(ctx, spec, cfg, train, path, n, threshold))
        if "leakage_ids" in selected and cfg.ids:
            rows.append(_id_overlap(ctx, spec, cfg, train, path, threshold))
        return rows
    finally:
        ctx.con.execute(f"DROP VIEW IF EXISTS {_TRAIN}").fetchall()


def _row_overlap(ctx: Context, spec: EvalSpec, cfg: LeakageSpec, train: dict[str, str], path: Path,
                 n: int, threshold: str) -> Row:
    cols = _leak_columns(ctx, spec, cfg, train, str(path))
    if not cols:
        return Row("leakage_rows", SKIPPED, f"{path.name} shares no column with the evaluation set besides "
                   "the id, label, weight and model columns; name them in quality.leakage.columns",
                   threshold=threshold)
    pairs = [_pair(c, ctx.columns[c], train[c]) for c in cols]
    ev = ", ".join(e for e, _ in pairs)
    tr = ", ".join(t for _, t in pairs)
    known = np.unique(_hashes(ctx, f"hash({tr})", _TRAIN))
    h = _hashes(ctx, f"hash({ev})")
    if known.size:
        pos = np.minimum(np.searchsorted(known, h), known.size - 1)
        cand = np.unique(h[known[pos] == h])
    else:
        cand = h[:0]
    del h
    count = 0
    examples = ""
    if cand.size:
        on = " AND ".join(f"e.k{j} IS NOT DISTINCT FROM t.k{j}" for j in range(len(pairs)))
        e_keys = ", ".join(f"{e} AS k{j}" for j, (e, _) in enumerate(pairs))
        t_keys = ", ".join(f"{t} AS k{j}" for j, (_, t) in enumerate(pairs))
        with _Candidates(ctx, cand) as c:
            e_rel = (f"(SELECT {ctx.shown.row_select()}, {e_keys} FROM {NUMBERED.format(view=ctx.view)} "
                     f"WHERE hash({ev}) IN {c}) e")
            t_rel = f"(SELECT DISTINCT {t_keys} FROM {_TRAIN} WHERE hash({tr}) IN {c}) t"
            count = int(ctx.con.execute(f"SELECT count(*) FROM {e_rel} SEMI JOIN {t_rel} ON {on}"
                                        ).fetchall()[0][0])
            if count and ctx.shown.limit > 0:
                got = ctx.con.execute(f"SELECT e.* FROM {e_rel} SEMI JOIN {t_rel} ON {on} "
                                      f"ORDER BY e.__qrow LIMIT {ctx.shown.limit}").fetchall()
                examples = "; ".join(ctx.shown.row(int(r[0]), r[1]) for r in got)
    sh = share(count, n)
    status = FAIL if sh > cfg.max_share else PASS
    shown_cols = ", ".join(cols[:8]) + (f", … ({len(cols)} in all)" if len(cols) > 8 else "")
    msg = (f"{count:,} of {n:,} evaluation rows ({pct(sh)}) also occur in {path.name} on {len(cols)} "
           f"column(s) ({shown_cols}; {HASH_NOTE})")
    if status == FAIL:
        msg += ("; a model scored on rows it was trained on looks better than it is: remove them from "
                "one side, or raise quality.leakage.max_share")
    return Row("leakage_rows", status, msg, value=sh, threshold=threshold, count=count, n=n,
               examples=examples)


def _id_overlap(ctx: Context, spec: EvalSpec, cfg: LeakageSpec, train: dict[str, str], path: Path,
                threshold: str) -> Row:
    if not spec.id:
        return Row("leakage_ids", SKIPPED, "no id column in the spec", threshold=threshold)
    if spec.id not in train:
        return Row("leakage_ids", SKIPPED, f"{path.name} has no column {spec.id!r} (the id)",
                   column=spec.id, threshold=threshold)
    e, t = _pair(spec.id, ctx.columns[spec.id], train[spec.id])
    rel = (f"(SELECT {ctx.shown.row_select()}, {e} AS k FROM {NUMBERED.format(view=ctx.view)} "
           f"WHERE {quote_ident(spec.id)} IS NOT NULL) e "
           f"SEMI JOIN (SELECT DISTINCT {t} AS k FROM {_TRAIN}) t ON e.k = t.k")
    count = int(ctx.con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0])
    n = int(ctx.con.execute(f"SELECT count({quote_ident(spec.id)}) FROM {ctx.view}").fetchall()[0][0])
    examples = ""
    if count and ctx.shown.limit > 0:
        got = ctx.con.execute(f"SELECT e.* FROM {rel} ORDER BY e.__qrow LIMIT {ctx.shown.limit}").fetchall()
        examples = "; ".join(ctx.shown.row(int(r[0]), r[1]) for r in got)
    sh = share(count, n)
    status = FAIL if sh > cfg.max_share else PASS
    msg = f"{spec.id}: {count:,} of {n:,} evaluation ids ({pct(sh)}) also occur in {path.name}"
    if status == FAIL:
        msg += "; the same entity in training and evaluation leaks its outcome: split by id"
    return Row("leakage_ids", status, msg, column=spec.id, value=sh, threshold=threshold, count=count,
               n=n, examples=examples)
