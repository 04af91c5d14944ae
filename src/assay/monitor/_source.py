"""Open a prediction log (or a labels table, or a reference dataset) as a DuckDB view.

Files and globs are scanned in place; a DuckDB database file is attached read-only; a
PostgreSQL table is read through psycopg into Arrow (DuckDB's postgres extension would have
to be downloaded, which an offline machine cannot do) and registered without a copy.
"""

from __future__ import annotations

import glob as globlib
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from assay._errors import InputError
from assay.data._files import FORMATS, quote_ident, scan_sql, sql_string

#: rows per batch read from PostgreSQL
PG_BATCH = 100_000


def _files(base_dir: Path, pattern: str) -> list[Path]:
    p = Path(pattern)
    full = p if p.is_absolute() else base_dir / p
    found = sorted(Path(f) for f in globlib.glob(str(full)) if Path(f).is_file())
    return found


def register_source(con: duckdb.DuckDBPyConnection, name: str, src: Any, base_dir: Path,
                    where: str, columns: list[str] | None = None) -> str:
    """Create the view ``name`` over ``src`` (a LogSpec/LabelSpec/ReferenceSpec-like object
    with path/format, duckdb/table, postgres/table or sql) and return a description of it
    for lineage ("3 Parquet files: data/log/scores-*.parquet")."""
    if getattr(src, "path", None):
        files = _files(base_dir, src.path)
        if not files:
            raise InputError(f"{where}.path: no file matches {src.path!r} (relative to "
                             f"{base_dir.resolve()}); check the path or glob")
        fmts = {src.format or FORMATS.get(f.suffix.lower()) for f in files}
        if None in fmts or len(fmts) > 1:
            raise InputError(f"{where}.path: cannot tell one format for {src.path!r} (extensions "
                             f"{sorted({f.suffix for f in files})}); set '{where}.format'")
        fmt = fmts.pop()
        assert fmt is not None
        if len(files) == 1:
            scan = scan_sql(files[0], fmt)
        else:
            listed = "[" + ", ".join(sql_string(str(f)) for f in files) + "]"
            scan = {"parquet": f"read_parquet({listed}, can_have_nan=true, union_by_name=true)",
                    "csv": f"read_csv({listed}, header=true, union_by_name=true)",
                    "jsonl": f"read_json({listed}, format='newline_delimited')"}[fmt]
        _create(con, name, f"SELECT * FROM {scan}", f"{where}.path {src.path!r}")
        return f"{len(files)} {fmt} file(s): {src.path}"
    if getattr(src, "duckdb", None):
        db = Path(src.duckdb)
        db = db if db.is_absolute() else base_dir / db
        if not db.is_file():
            raise InputError(f"{where}.duckdb: {db} not found; give the DuckDB database file")
        alias = f"{name}_db"
        try:
            con.execute(f"ATTACH {sql_string(str(db))} AS {alias} (READ_ONLY)").fetchall()
        except duckdb.Error as exc:
            raise InputError(f"{where}.duckdb: cannot open {db}: {exc}") from None
        _create(con, name, f"SELECT * FROM {alias}.{_qualified(src.table)}",
                f"{where}.table {src.table!r} in {db}")
        return f"DuckDB table {src.table} in {db}"
    if getattr(src, "postgres", None):
        table = _read_postgres(src.postgres, src.table, where, columns)
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_arrow").fetchall()
        return f"PostgreSQL table {src.table}"
    sql = getattr(src, "sql", None)
    assert sql, "the spec validator guarantees one source"
    _create(con, name, sql, f"{where}.sql")
    return "DuckDB SQL query"


def _qualified(table: str) -> str:
    return ".".join(quote_ident(p) for p in table.split("."))


def _create(con: duckdb.DuckDBPyConnection, name: str, select: str, what: str) -> None:
    try:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}").fetchall()
        con.execute(f"SELECT * FROM {name} LIMIT 0").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{what}: cannot read it: {exc}") from None


def _read_postgres(url: str, table: str, where: str, columns: list[str] | None) -> pa.Table:
    """The table's columns (all, or ``columns``) as Arrow, read in batches over psycopg."""
    try:
        import psycopg
    except ImportError:
        raise InputError(f"{where}.postgres needs psycopg: pip install 'assay[postgres]'") from None
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    try:
        with psycopg.connect(conninfo) as conn, conn.cursor(name="assay_monitor") as cur:
            cur.itersize = PG_BATCH
            cur.execute(f"SELECT {cols} FROM {_qualified(table)}")  # noqa: S608 - quoted identifiers
            batches: list[pa.RecordBatch] = []
            names: list[str] | None = None
            while True:
                rows = cur.fetchmany(PG_BATCH)
                if names is None:
                    names = [d.name for d in cur.description or []]
                if not rows:
                    break
                batches.append(pa.RecordBatch.from_pydict(
                    {n: [r[i] for r in rows] for i, n in enumerate(names)}))
    except psycopg.Error as exc:
        raise InputError(f"{where}: cannot read PostgreSQL table {table!r}: "
                         f"{str(exc).strip()}. Check the URL, the table name and the server") from None
    if not batches:
        return pa.table({n: pa.array([], pa.null()) for n in names or []})
    return pa.Table.from_batches(batches).combine_chunks() if len(batches) == 1 else \
        pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="default")
