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
    """The log as the DuckDB relation ``mon_rows`` (``__w`` window key, ``__start``,
    ``__end``, ``__ts``, ``__label`` and the used columns), its windows, and exclusions."""

    #: key (= ``__w``: the window start in epoch seconds, or the window's number for row
    #: windows; increasing in time), window, start, end, n, n_labelled, row_hash, label_hash
    windows: pd.DataFrame
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
    """Create ``mon_rows`` from the view ``source`` and summarise its windows in one pass.

    Calendar windows stay a view (the key is computed per row, so every later read is one
    scan of the source and nothing is copied); row windows need a sort, so they are
    materialised once."""
    ts = timestamp_expr(ts_type, spec.timestamp)
    cols = ", ".join(selects)
    if spec.window.every:
        unit = spec.window.every
        con.execute(
            f"CREATE OR REPLACE VIEW mon_all AS SELECT epoch(date_trunc('{unit}', __ts))::BIGINT AS __w, "
            f"date_trunc('{unit}', __ts) AS __start, date_trunc('{unit}', __ts) + INTERVAL 1 {unit} "
            f"AS __end, * FROM (SELECT {ts} AS __ts, {cols} FROM {source})"
        ).fetchall()
        con.execute("CREATE OR REPLACE VIEW mon_rows AS SELECT * FROM mon_all WHERE __ts IS NOT NULL"
                    ).fetchall()
        summary_source = "mon_all"
    else:
        n_all = int(con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
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
        summary_source = "mon_rows"
    row_key = ", ".join(["__ts", *key_cols])
    windows = con.execute(
        "SELECT __w AS key, min(__start) AS start, min(__end) AS \"end\", count(*) AS n, "
        "count(__label) AS n_labelled, "
        f"bit_xor(hash({row_key}))::VARCHAR AS row_hash, "
        f"coalesce(bit_xor(hash({row_key}, __label)) FILTER (WHERE __label IS NOT NULL), 0)::VARCHAR "
        f"AS label_hash FROM {summary_source} GROUP BY __w ORDER BY __w NULLS LAST"
    ).df()
    if spec.window.every:
        missing = windows["key"].isna()
        n_missing = int(windows.loc[missing, "n"].sum())
        windows = windows[~missing].reset_index(drop=True)
        windows["key"] = windows["key"].astype("int64")
    else:
        n_missing = n_all - int(windows["n"].sum())
    excluded = {MISSING_TIMESTAMP: n_missing} if n_missing else {}
    windows["window"] = [_label(spec, s, i) for i, s in enumerate(windows["start"])]
    return LogRows(windows=windows, excluded=excluded)


def _label(spec: MonitorSpec, start: pd.Timestamp, w: int) -> str:
    if spec.window.every:
        return pd.Timestamp(start).strftime(LABELS[spec.window.every])
    return f"rows {int(w) * (spec.window.rows or 0) + 1}-{(int(w) + 1) * (spec.window.rows or 0)}"
