"""Cut a prediction log into fixed windows, in DuckDB: calendar units of the timestamp or
N rows in time order, with one pass that gives every window's rows, labelled rows and the
hashes that tell a later run whether a stored window is still current."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from assay.data._files import quote_ident
from assay.monitor._spec import MonitorSpec

#: label formats of calendar windows (strftime); weeks are ISO weeks, starting Monday
LABELS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}
MISSING_TIMESTAMP = "missing or unparseable timestamp"


@dataclass
class LogRows:
    """The log as the DuckDB table ``mon_rows`` (``__w`` window ordinal, ``__start``,
    ``__end``, ``__ts``, ``__label`` and the used columns), its windows, and exclusions."""

    windows: pd.DataFrame  # ordinal (= __w), window, start, end, n, n_labelled, row_hash, label_hash
    excluded: dict[str, int]


def timestamp_expr(duck_type: str, column: str) -> str:
    """The timestamp as TIMESTAMP (UTC for zone-aware types); text is parsed, and what does
    not parse becomes NULL (counted as excluded)."""
    col = quote_ident(column)
    t = duck_type.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return f"timezone('UTC', {col})"
    if t.startswith(("TIMESTAMP", "DATE")):
        return f"{col}::TIMESTAMP"
    if t.startswith(("BIGINT", "INTEGER", "DOUBLE", "FLOAT", "HUGEINT", "UBIGINT")):
        return f"to_timestamp({col}::DOUBLE)::TIMESTAMP"  # epoch seconds
    return f"TRY_CAST({col} AS TIMESTAMP)"


def cut_windows(con: duckdb.DuckDBPyConnection, spec: MonitorSpec, source: str, ts_type: str,
                selects: list[str], key_cols: list[str]) -> LogRows:
    """Create ``mon_rows`` from the view ``source`` and summarise its windows in one pass."""
    ts = timestamp_expr(ts_type, spec.timestamp)
    n_all = int(con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
    cols = ", ".join(selects)
    if spec.window.every:
        unit = spec.window.every
        window = (f"date_trunc('{unit}', __ts) AS __start, "
                  f"date_trunc('{unit}', __ts) + INTERVAL 1 {unit} AS __end")
        con.execute(
            f"CREATE OR REPLACE TABLE mon_base AS SELECT {ts} AS __ts, {cols} FROM {source}"
        ).fetchall()
        con.execute(
            f"CREATE OR REPLACE TABLE mon_rows AS SELECT dense_rank() OVER (ORDER BY __start) - 1 "
            f"AS __w, * FROM (SELECT {window}, * FROM mon_base WHERE __ts IS NOT NULL)"
        ).fetchall()
    else:
        size = spec.window.rows
        order = ", ".join(["__ts", *key_cols])
        con.execute(
            f"CREATE OR REPLACE TABLE mon_base AS SELECT {ts} AS __ts, {cols} FROM {source}"
        ).fetchall()
        con.execute(
            f"CREATE OR REPLACE TABLE mon_rows AS SELECT __w, min(__ts) OVER (PARTITION BY __w) "
            f"AS __start, max(__ts) OVER (PARTITION BY __w) AS __end, * EXCLUDE (__w) FROM ("
            f"SELECT (row_number() OVER (ORDER BY {order}) - 1) // {size} AS __w, * "
            f"FROM mon_base WHERE __ts IS NOT NULL)"
        ).fetchall()
    con.execute("DROP TABLE mon_base").fetchall()
    n_kept = int(con.execute("SELECT count(*) FROM mon_rows").fetchall()[0][0])
    excluded = {MISSING_TIMESTAMP: n_all - n_kept} if n_all - n_kept else {}
    row_key = ", ".join(["__ts", *key_cols])
    windows = con.execute(
        "SELECT __w AS ordinal, min(__start) AS start, min(__end) AS \"end\", count(*) AS n, "
        "count(__label) AS n_labelled, "
        f"bit_xor(hash({row_key}))::VARCHAR AS row_hash, "
        f"coalesce(bit_xor(hash({row_key}, __label)) FILTER (WHERE __label IS NOT NULL), 0)::VARCHAR "
        "AS label_hash FROM mon_rows GROUP BY __w ORDER BY __w"
    ).df()
    windows["window"] = [_label(spec, s, w) for s, w in zip(windows["start"], windows["ordinal"],
                                                              strict=True)]
    return LogRows(windows=windows, excluded=excluded)


def _label(spec: MonitorSpec, start: pd.Timestamp, w: int) -> str:
    if spec.window.every:
        return pd.Timestamp(start).strftime(LABELS[spec.window.every])
    return f"rows {int(w) * (spec.window.rows or 0) + 1}-{(int(w) + 1) * (spec.window.rows or 0)}"
