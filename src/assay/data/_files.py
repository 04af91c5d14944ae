"""Reading tables from files and registering them with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb

from assay._errors import InputError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "jsonl"}


def sql_string(value: str) -> str:
    """Quote a string literal for SQL."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """Quote an identifier (column name) for SQL."""
    return '"' + name.replace('"', '""') + '"'


def file_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: cannot tell the file format from the extension {path.suffix!r}; "
            f"use .parquet, .csv or .jsonl, or set 'format' in the spec"
        )
    return fmt


def scan_sql(path: Path, fmt: str) -> str:
    """A DuckDB table function that scans the file."""
    p = sql_string(str(path))
    if fmt == "parquet":
        # Parquet min/max statistics leave NaN out (as the format says), and DuckDB would
        # otherwise trust them and fold isnan() to false, so NaN labels and scores went
        # uncounted. can_have_nan makes the reader assume NaN may be present.
        return f"read_parquet({p}, can_have_nan=true)"
    if fmt == "csv":
        return f"read_csv({p}, header=true)"
    return f"read_json({p}, format='newline_delimited')"


def register_file(con: duckdb.DuckDBPyConnection, name: str, path: Path, fmt: str) -> None:
    """Create a view ``name`` over a file; errors name the file and the cause."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; check 'path' in the spec (relative to the spec file)")
    try:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {scan_sql(path, fmt)}").fetchall()
        con.execute(f"SELECT * FROM {name} LIMIT 0").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read it as {fmt}: {exc}") from None


def columns_of(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """Column name -> DuckDB type of a view or table."""
    rows = con.execute(f"DESCRIBE {name}").fetchall()
    return {r[0]: r[1] for r in rows}
