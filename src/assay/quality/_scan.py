"""Checks that one aggregate query answers: row count, null rates, value ranges, category
sets and freshness.

Every column's null count (and NaN count, for float columns), every range's out-of-range
count and observed min/max, every category set's unseen count and the freshness column's
newest, future and stale counts are select items of a single ``SELECT ... FROM view``: the
data is read once, whatever its source. Queries for examples run only for checks that warn
or fail, and stop at ``privacy.examples`` rows.

DuckDB orders NaN above every number, so ``NaN > max`` is true there: NaN counts as a
missing value (in ``nulls``) and never as out of range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from assay._errors import SpecError
from assay.data._files import quote_ident, sql_string
from assay.data._sources import _is_numeric
from assay.quality._config import QualitySpec, RangeSpec
from assay.quality._redact import NUMBERED, Shown
from assay.quality._table import FAIL, PASS, WARN, Row, by_share, limits, pct, share

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ISO text with a UTC offset or Z: read as TIMESTAMPTZ (else as a naive, UTC, TIMESTAMP)
_OFFSET = r"([Zz]|[+-]\d\d(:?\d\d)?)$"


def is_float(duck_type: str) -> bool:
    return duck_type.upper() in ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8")


def is_number(duck_type: str) -> bool:
    return _is_numeric(duck_type) and duck_type.upper() != "BOOLEAN"


def is_temporal(duck_type: str) -> bool:
    u = duck_type.upper()
    return u == "DATE" or u.startswith("TIMESTAMP")


def present(column: str, duck_type: str) -> str:
    """SQL: the value is neither null nor NaN."""
    c = quote_ident(column)
    return f"({c} IS NOT NULL AND NOT isnan({c}))" if is_float(duck_type) else f"({c} IS NOT NULL)"


def micros(t: datetime) -> int:
    """Microseconds since the Unix epoch (exact integer arithmetic)."""
    return (t - EPOCH) // timedelta(microseconds=1)


def from_micros(us: int) -> str:
    return (EPOCH + timedelta(microseconds=int(us))).strftime("%Y-%m-%d %H:%M:%S UTC")


def timestamp_sql(column: str, duck_type: str) -> str:
    """SQL: the column as microseconds since the epoch (UTC), NULL where not a time."""
    c = quote_ident(column)
    if is_temporal(duck_type):
        return f"epoch_us({c})"
    return (f"CASE WHEN regexp_matches({c}, {sql_string(_OFFSET)}) "
            f"THEN epoch_us(try_cast({c} AS TIMESTAMPTZ)) ELSE epoch_us(try_cast({c} AS TIMESTAMP)) END")


@dataclass
class Pass:
    """Aggregate expressions gathered from every check, answered by one query."""

    exprs: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, sql: str) -> int:
        self.exprs.append(sql)
        return len(self.exprs) - 1

    def run(self, con: duckdb.DuckDBPyConnection, view: str) -> None:
        got = con.execute(f"SELECT {', '.join(self.exprs)} FROM {view}").fetchall()[0]
        self.values = list(got)

    def __getitem__(self, i: int) -> Any:
        return self.values[i]

    def count(self, i: int) -> int:
        return int(self.values[i] or 0)


@dataclass
class Context:
    """What every check reads: the connection and view, the columns and the spec."""

    con: duckdb.DuckDBPyConnection
    view: str
    columns: dict[str, str]
    quality: QualitySpec
    shown: Shown
    source: str
    as_of: datetime

    def examples(self, where: str, value: str | None = None, column: str = "") -> str:
        """The first rows matching ``where`` (scan order): ``row 3: -5; row 9: 140``."""
        k = self.shown.limit
        if k <= 0:
            return ""
        extra = f", {value}" if value else ""
        got = self.con.execute(
            f"SELECT {self.shown.row_select()}{extra} FROM {NUMBERED.format(view=self.view)} "
            f"WHERE {where} ORDER BY __qrow LIMIT {k}").fetchall()
        out = []
        for r in got:
            name = self.shown.row(int(r[0]), r[1])
            out.append(f"{name}: {self.shown.value(column, r[2])}" if value else name)
        return "; ".join(out)


# ---------------------------------------------------------------------------- typed bounds


def _bound(ctx: Context, column: str, key: str, value: float | str) -> str:
    """A range bound as a SQL literal of the column's type; errors name the key and fix."""
    t = ctx.columns[column]
    where = f"quality.ranges.{column}.{key}"
    if is_number(t):
        if isinstance(value, str):
            raise SpecError(f"{where}: {value!r} is text, but column {column!r} is {t}; give a number")
        return f"CAST('{value!r}' AS DOUBLE)"
    if is_temporal(t):
        if not isinstance(value, str):
            raise SpecError(f"{where}: column {column!r} is {t}; give the bound as an ISO date or time "
                            f"in quotes (e.g. \"2025-01-01\"), not {value!r}")
        lit = f"CAST({sql_string(value)} AS {t})"
        try:
            ctx.con.execute(f"SELECT {lit}").fetchall()
        except duckdb.Error:
            raise SpecError(f"{where}: {value!r} is not a {t}; give an ISO date or time such as "
                            "2025-01-01 or 2025-01-01T09:30:00") from None
        return lit
    raise SpecError(f"quality.ranges.{column}: column {column!r} is {t}; ranges apply to numeric and "
                    "date/time columns (use quality.categories for text)")


# ---------------------------------------------------------------------------- checks


def plan_rows(p: Pass) -> int:
    return p.add("count(*)")


def rows_row(ctx: Context, n: int) -> Row:
    lo = ctx.quality.min_rows
    if n < lo:
        return Row("rows", FAIL, f"{n:,} rows, fewer than quality.min_rows={lo}: check the file, or "
                   "the WHERE clause of data.sql", value=float(n), threshold=f"fail < {lo}", count=n, n=n)
    return Row("rows", PASS, f"{n:,} rows in {ctx.source}", value=float(n), threshold=f"fail < {lo}",
               count=n, n=n)


def plan_nulls(ctx: Context, p: Pass) -> dict[str, tuple[int, int | None]]:
    out = {}
    for c, t in ctx.columns.items():
        q = quote_ident(c)
        out[c] = (p.add(f"count({q})"), p.add(f"count_if(isnan({q}))") if is_float(t) else None)
    return out


def null_rows(ctx: Context, p: Pass, plan: dict[str, tuple[int, int | None]], n: int) -> list[Row]:
    rows = []
    for c, (i_count, i_nan) in plan.items():
        nulls = n - p.count(i_count)
        nans = p.count(i_nan) if i_nan is not None else 0
        missing = nulls + nans
        sh = share(missing, n)
        thr = ctx.quality.nulls.for_column(c)
        status = by_share(sh, thr.warn, thr.fail)
        parts = f": {nulls:,} null, {nans:,} NaN" if nans else ""
        msg = f"{c}: {missing:,} of {n:,} rows missing ({pct(sh)}{parts})"
        examples = ""
        if status != PASS:
            limit = thr.fail if status == FAIL else thr.warn
            msg += (f", above the {status} threshold {pct(limit)}; fill or drop them at the source, or "
                    f"set quality.nulls.columns.{c}")
            examples = ctx.examples(f"NOT {present(c, ctx.columns[c])}")
        rows.append(Row("nulls", status, msg, column=c, value=sh, threshold=limits(thr.warn, thr.fail),
                        count=missing, n=n, examples=examples))
    return rows


def plan_ranges(ctx: Context, p: Pass) -> dict[str, tuple[str, int, int, int, int]]:
    out = {}
    for c, r in ctx.quality.ranges.items():
        q = quote_ident(c)
        conds = []
        if r.min is not None:
            conds.append(f"{q} < {_bound(ctx, c, 'min', r.min)}")
        if r.max is not None:
            conds.append(f"{q} > {_bound(ctx, c, 'max', r.max)}")
        valid = present(c, ctx.columns[c])
        bad = f"{valid} AND ({' OR '.join(conds)})"
        out[c] = (bad, p.add(f"count_if({bad})"), p.add(f"count_if({valid})"),
                  p.add(f"min({q}) FILTER (WHERE {valid})::VARCHAR"),
                  p.add(f"max({q}) FILTER (WHERE {valid})::VARCHAR"))
    return out


def range_rows(ctx: Context, p: Pass, plan: dict[str, tuple[str, int, int, int, int]]) -> list[Row]:
    rows = []
    for c, (bad, i_bad, i_n, i_min, i_max) in plan.items():
        r: RangeSpec = ctx.quality.ranges[c]
        count, n = p.count(i_bad), p.count(i_n)
        sh = share(count, n)
        status = by_share(sh, r.warn, r.fail)
        msg = f"{c}: {count:,} of {n:,} values ({pct(sh)}) outside {r.describe()}"
        if n and ctx.shown.visible(c):
            msg += (f"; observed min {ctx.shown.value(c, p[i_min])}, "
                    f"max {ctx.shown.value(c, p[i_max])}")
        examples = ""
        if status != PASS:
            msg += f"; fix those rows at the source, or widen quality.ranges.{c}"
            examples = ctx.examples(bad, f"{quote_ident(c)}::VARCHAR", c)
        rows.append(Row("ranges", status, msg, column=c, value=sh,
                        threshold=f"{r.describe()}; {limits(r.warn, r.fail)}", count=count, n=n,
                        examples=examples))
    return rows


def category_rows(ctx: Context) -> list[Row]:
    """Per category set, one query that groups the column's raw values (dictionary-encoded
    strings group far faster than each row compares with a list), then judges the groups."""
    rows = []
    k = max(ctx.shown.limit, 1)
    for c, spec in ctx.quality.categories.items():
        q = quote_ident(c)
        allowed = ", ".join(sql_string(v) for v in spec.texts)
        got = ctx.con.execute(
            "SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE bad), 0), "
            "count(*) FILTER (WHERE bad), "
            f"list(v ORDER BY n DESC, v) FILTER (WHERE bad)[1:{k}], "
            f"list(n ORDER BY n DESC, v) FILTER (WHERE bad)[1:{k}] "
            f"FROM (SELECT v::VARCHAR AS v, n, NOT (v::VARCHAR IN ({allowed})) AS bad FROM "
            f"(SELECT {q} AS v, count(*) AS n FROM {ctx.view} WHERE {present(c, ctx.columns[c])} GROUP BY 1))"
        ).fetchall()[0]
        n, count, distinct = int(got[0]), int(got[1]), int(got[2])
        sh = share(count, n)
        status = by_share(sh, spec.warn, spec.fail)
        msg = f"{c}: {count:,} of {n:,} values ({pct(sh)}) outside the {len(spec.values)} allowed"
        examples = ""
        if count:
            msg += f" ({distinct:,} unseen value(s))"
            if ctx.shown.limit > 0:
                if ctx.shown.visible(c):
                    examples = "; ".join(f"{ctx.shown.value(c, v)!r} ×{int(m):,}"
                                         for v, m in zip(got[3], got[4], strict=True))
                else:
                    examples = "values withheld (privacy settings)"
        if status != PASS:
            msg += f"; fix those rows, or add the values to quality.categories.{c} if they are valid"
        rows.append(Row("categories", status, msg, column=c, value=sh,
                        threshold=f"{len(spec.values)} allowed; {limits(spec.warn, spec.fail)}",
                        count=count, n=n, examples=examples))
    return rows


def plan_freshness(ctx: Context, p: Pass) -> dict[str, Any] | None:
    spec = ctx.quality.freshness
    if spec is None:
        return None
    c, t = spec.column, ctx.columns[spec.column]
    if not (is_temporal(t) or t.upper() == "VARCHAR"):
        raise SpecError(f"quality.freshness.column: column {c!r} is {t}; freshness needs a DATE, "
                        "TIMESTAMP or ISO text column (cast epoch numbers in data.sql, e.g. "
                        "to_timestamp(ts) AS ts)")
    ts = timestamp_sql(c, t)
    now = micros(ctx.as_of)
    oldest_ok = now - spec.age // timedelta(microseconds=1)
    plan = {"ts": ts, "now": now, "max": p.add(f"max({ts}) FILTER (WHERE {ts} <= {now})"),
            "n": p.add(f"count({ts})"),
            "future": p.add(f"count_if({ts} > {now})"), "stale": p.add(f"count_if({ts} < {oldest_ok})"),
            "bad": p.add(f"count_if({quote_ident(c)} IS NOT NULL AND ({ts}) IS NULL)")}
    return plan


def freshness_rows(ctx: Context, p: Pass, plan: dict[str, Any], selected: list[str]) -> list[Row]:
    spec = ctx.quality.freshness
    assert spec is not None
    c = spec.column
    n, bad, now = p.count(plan["n"]), p.count(plan["bad"]), plan["now"]
    rows = []
    if "freshness" in selected:
        threshold = f"fail: newest older than {spec.max_age}"
        unparsed = (f"; {bad:,} value(s) are not dates or times (ISO 8601 expected): fix them at the "
                    "source") if bad else ""
        if n == 0 or p[plan["max"]] is None:
            why = f"every one of the {n:,} timestamps is after {from_micros(now)}" if n else \
                "no timestamps" + (unparsed or " (every value missing)")
            rows.append(Row("freshness", FAIL, f"{c}: {why}; fix the column, or set quality.as_of",
                            column=c, threshold=threshold, n=n))
        else:
            newest = int(p[plan["max"]])
            age_us = now - newest
            days = age_us / 86_400_000_000
            stale = p.count(plan["stale"])
            status = FAIL if age_us > spec.age // timedelta(microseconds=1) else WARN if bad else PASS
            when = f"newest {from_micros(newest)}" if ctx.shown.visible(c) else "newest value"
            msg = f"{c}: {when} up to {from_micros(now)} is {days:,.2f} days old (max_age {spec.max_age})"
            if status == FAIL:
                msg += ("; refresh the evaluation set, or set quality.as_of to the snapshot date it "
                        "stands for")
            msg += f"; {stale:,} of {n:,} rows older than max_age{unparsed}"
            rows.append(Row("freshness", status, msg, column=c, value=days, threshold=threshold,
                            count=stale, n=n))
    if "future_timestamps" in selected and spec.future != "off":
        future = p.count(plan["future"])
        status = (FAIL if spec.future == "fail" else WARN) if future else PASS
        msg = f"{c}: {future:,} of {n:,} timestamps after {from_micros(now)}"
        examples = ""
        if future:
            msg += ("; check clocks and time zones (naive times are read as UTC), or set "
                    "quality.as_of")
            examples = ctx.examples(f"({plan['ts']}) > {now}", f"{quote_ident(c)}::VARCHAR", c)
        rows.append(Row("future_timestamps", status, msg, column=c, value=share(future, n),
                        threshold=f"{spec.future} > 0", count=future, n=n, examples=examples))
    return rows


_TYPE_TEXT = re.compile(r"^[A-Za-z0-9_(), ]+$")


def normalise_type(con: duckdb.DuckDBPyConnection, text: str, where: str) -> str:
    """A type name as DuckDB spells it (``int`` -> ``INTEGER``); bad names raise SpecError."""
    if not _TYPE_TEXT.match(text):
        raise SpecError(f"{where}: {text!r} is not a type name; use DuckDB types such as BIGINT, DOUBLE, "
                        "VARCHAR, DATE, TIMESTAMP")
    try:
        return str(con.execute(f"SELECT typeof(CAST(NULL AS {text}))").fetchall()[0][0])
    except duckdb.Error:
        raise SpecError(f"{where}: {text!r} is not a DuckDB type; use e.g. BIGINT, DOUBLE, VARCHAR, "
                        "BOOLEAN, DATE, TIMESTAMP") from None
