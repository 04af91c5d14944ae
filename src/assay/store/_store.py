"""The run store: every evaluation's spec, input fingerprints, environment, status, verdict
and result tables, in SQLite (embedded, the default) or PostgreSQL (shared).

A run is inserted as ``running`` before any work starts and becomes ``complete`` in one
transaction that also writes its result rows, so a crash, a kill or an interrupt can never
leave a run marked complete, or complete without its results. Schema changes go through
versioned Alembic migrations, applied when a store is opened.
"""

from __future__ import annotations

import json
import math
import os
import platform
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from assay._errors import InputError
from assay._json import jsonable
from assay.store import _schema as S

if TYPE_CHECKING:
    from assay.results import EvaluationResult
    from assay.spec import EvalSpec

#: where runs go when neither the command line, the environment nor the spec says
DEFAULT_LOCATION = Path(".assay") / "runs.db"
#: environment variable naming the store (a path or a database URL)
STORE_ENV = "ASSAY_STORE"
#: PostgreSQL advisory lock keys: migrations, data card versions
_PG_MIGRATE_LOCK, _PG_DATASET_LOCK = 0x4153_5341_0001, 0x4153_5341_0002
#: seconds a SQLite writer waits for another one before giving up
SQLITE_BUSY_TIMEOUT = 60


_jsonable = jsonable

_dumps = partial(json.dumps, allow_nan=False, default=str)


def store_url(location: str | Path | None) -> str:
    """The database URL for a location: a URL as given (``postgresql://`` uses psycopg 3),
    a file path as SQLite; None means ``$ASSAY_STORE``, else ``.assay/runs.db``."""
    loc = str(location) if location is not None else os.environ.get(STORE_ENV) or str(DEFAULT_LOCATION)
    if "://" not in loc:
        path = Path(loc).expanduser().resolve()
        return f"sqlite:///{path}"
    if loc.startswith(("postgresql://", "postgres://")):
        loc = "postgresql+psycopg://" + loc.split("://", 1)[1]
    return loc


def _new_id() -> str:
    return secrets.token_hex(6)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes (stored as UTC): mark them as UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


@dataclass
class StoredRun:
    """One run as recorded: its record (the ``runs`` row), result tables and data card."""

    record: dict[str, Any]
    table: pd.DataFrame
    comparisons: pd.DataFrame | None
    dataset: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def spec(self) -> EvalSpec:
        from assay.spec import parse_spec

        return parse_spec(self.record["spec"], source=f"run {self.id}")


class RunStore:
    """A run store at a database URL (see :func:`open_store`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InputError(f"run store {url!r}: not a database URL ({exc}); give a file path "
                             "or a URL such as postgresql://user@host/db") from None
        self.display_url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = self._engine(url)
            self._migrate()
        except NoSuchModuleError as exc:
            raise InputError(f"run store {self.display_url}: no driver for it ({exc}); for "
                             "PostgreSQL: pip install 'assay[postgres]'") from None
        except ModuleNotFoundError as exc:
            raise InputError(f"run store {self.display_url}: its driver is missing ({exc}); for "
                             "PostgreSQL: pip install 'assay[postgres]'") from None
        except OperationalError as exc:
            raise InputError(f"run store {self.display_url}: cannot open it ({exc.orig}). Check the "
                             "path or URL and that the server is running, or pass --no-store"
                             ) from None

    # ---- connection and schema --------------------------------------------------------

    def _engine(self, url: str) -> Engine:
        if self.dialect != "sqlite":
            return create_engine(url, pool_pre_ping=True, json_serializer=_dumps)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
                               json_serializer=_dumps)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Transactions are begun by hand (below), as BEGIN IMMEDIATE: a writer takes the
            # write lock up front and waits for it, instead of failing on upgrade from a read
            # lock. WAL lets readers go on while another process writes.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (SQLite: holding the database's write lock)."""
        with self.engine.begin() as conn:
            yield conn

    def _migrate(self) -> None:
        """Bring the schema to the newest migration; concurrent openers wait on a lock (the
        SQLite write lock, a PostgreSQL advisory lock) and find the work done."""
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        if self.schema_version() == head:
            return
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATE_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_version(self) -> str | None:
        """The applied migration (None for an empty database)."""
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:
                return None

    def close(self) -> None:
        self.engine.dispose()

    # ---- writing runs -----------------------------------------------------------------

    def start_run(self, spec: EvalSpec, base_dir: str | Path, *, command: str | None = None,
                  rerun_of: str | None = None) -> str:
        """Record a run as ``running`` (before any work) and return its id."""
        from assay.data import input_fingerprints
        from assay.results import absolute_paths

        base = Path(base_dir).resolve()
        return self.start_record(spec.name, spec.task, absolute_paths(spec.model_dump(mode="json"), base),
                                 input_fingerprints(spec, base), seed=spec.seed, base_dir=base,
                                 command=command, rerun_of=rerun_of)

    def start_record(self, name: str, task: str, spec: dict[str, Any], inputs: dict[str, Any], *,
                     seed: int, base_dir: str | Path, command: str | None = None,
                     rerun_of: str | None = None) -> str:
        """Record any kind of run (``task``: a classical task, ``llm`` for a suite) as
        ``running`` with its spec (JSON) and input fingerprints; returns its id."""
        from assay.data._fingerprint import text_sha256
        from assay.results import _version, package_versions

        spec_json = _dumps(_jsonable(spec), sort_keys=True)
        run_id = _new_id()
        row = {
            "id": run_id, "name": name, "task": task, "status": S.RUNNING,
            "started_at": _now(), "spec": _jsonable(spec), "spec_sha256": text_sha256(spec_json),
            "inputs": _jsonable(inputs),
            "assay_version": _version("assay"), "python_version": sys.version.split()[0],
            "platform": platform.platform(), "packages": package_versions(),
            "seed": seed, "host": socket.gethostname(), "pid": os.getpid(),
            "command": command, "base_dir": str(Path(base_dir).resolve()), "rerun_of": rerun_of,
        }
        with self.transaction() as conn:
            conn.execute(insert(S.runs).values(**row))
        return run_id

    def complete_record(self, run_id: str, *, results: pd.DataFrame | None = None,
                        comparisons: pd.DataFrame | None = None, verdict: Any = None,
                        tables: dict[str, pd.DataFrame] | None = None, manifest: dict[str, Any] | None = None,
                        n_rows: int | None = None, folder: str | Path | None = None,
                        inputs: dict[str, Any] | None = None) -> None:
        """Mark a run started with :meth:`start_record` complete, with its result rows (the
        ``results``/``comparisons`` columns), verdict, analysis tables, manifest and (when
        only known now) its input fingerprints, in one transaction."""
        extra = {"inputs": _jsonable(inputs)} if inputs is not None else {}
        with self.transaction() as conn:
            if results is not None and len(results):
                conn.execute(insert(S.results), _records(results, run_id))
            if comparisons is not None and len(comparisons):
                conn.execute(insert(S.comparisons), _records(comparisons, run_id))
            conn.execute(update(S.runs).where(S.runs.c.id == run_id).values(
                status=S.COMPLETE, finished_at=_now(), n_rows=n_rows,
                verdict=verdict.decision if verdict else None,
                exit_code=verdict.exit_code if verdict else None,
                verdict_detail=_jsonable(verdict.to_dict()) if verdict else None,
                analyses={"tables": {k: frame_json(f) for k, f in (tables or {}).items()}, "charts": {}},
                manifest=_jsonable(manifest) if manifest is not None else None,
                folder=str(Path(folder).resolve()) if folder else None, **extra))

    def complete_run(self, run_id: str, result: EvaluationResult, *, folder: str | Path | None = None,
                     reproduced: bool | None = None) -> None:
        """Write the result tables, the data card and the verdict, and mark the run complete,
        all in one transaction."""
        table = result.table
        manifest = _jsonable(result.manifest())
        with self.transaction() as conn:
            dataset_id = self._dataset_card(conn, result, manifest, run_id)
            if len(table):
                conn.execute(insert(S.results), _records(table, run_id))
            if result.comparisons is not None and len(result.comparisons):
                conn.execute(insert(S.comparisons), _records(result.comparisons, run_id))
            v = result.verdict
            conn.execute(update(S.runs).where(S.runs.c.id == run_id).values(
                status=S.COMPLETE, finished_at=_now(), n_rows=result.n_rows,
                excluded=_jsonable({"rows": result.excluded, "unpaired": result.unpaired}),
                verdict=v.decision if v else None, exit_code=v.exit_code if v else None,
                verdict_detail=_jsonable(v.to_dict()) if v else None,
                curves=_jsonable(result.curves), examples=_jsonable(result.examples),
                analyses=_analyses_json(result),
                manifest=manifest, dataset_id=dataset_id,  # inputs: as hashed for the manifest
                folder=str(Path(folder).resolve()) if folder else None, reproduced=reproduced,
                inputs=manifest["inputs"]))

    def fail_run(self, run_id: str, error: str, status: str = S.FAILED) -> None:
        """Mark a run failed (or interrupted) with its error; a complete run stays complete."""
        with self.transaction() as conn:
            conn.execute(update(S.runs).where(S.runs.c.id == run_id, S.runs.c.status == S.RUNNING)
                         .values(status=status, finished_at=_now(), error=error[:20000]))

    def _dataset_card(self, conn: Connection, result: EvaluationResult, manifest: dict,
                      run_id: str) -> int | None:
        """The evaluation set's data card: found by (name, fingerprint), or a new version."""
        spec = result.spec
        data_input = manifest["inputs"].get("data") or manifest["inputs"].get("data.sql") or {}
        fingerprint = data_input.get("sha256")
        prof = result.extra.get("profile")
        if not fingerprint or not prof:
            return None
        name = dataset_name(spec)
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_DATASET_LOCK})
        d = S.datasets.c
        found = conn.execute(select(d.id).where(d.name == name, d.fingerprint == fingerprint)).scalar()
        if found is not None:
            return int(found)
        version = (conn.execute(select(func.max(d.version)).where(d.name == name)).scalar() or 0) + 1
        card = spec.data.card.model_dump(exclude_none=True) if spec.data and spec.data.card else {}
        location = data_input.get("path") or data_input.get("sql") or "in-memory table"
        got = conn.execute(insert(S.datasets).values(
            name=name, version=version, fingerprint=fingerprint, location=location,
            n_rows=prof["rows"], schema=prof["schema"], labels=_jsonable(prof["labels"]),
            card=_jsonable(card), created_at=_now(), first_run_id=run_id).returning(d.id))
        return int(got.scalar_one())

    # ---- reading ----------------------------------------------------------------------

    def list_runs(self, *, name: str | None = None, status: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 50, task: str | None = None) -> list[dict[str, Any]]:
        """Run records, newest first, without their result tables."""
        c = S.runs.c
        cols = [c.id, c.name, c.task, c.status, c.started_at, c.finished_at, c.verdict, c.exit_code,
                c.n_rows, c.assay_version, c.host, c.pid, c.error, c.rerun_of, c.reproduced]
        q = select(*cols).order_by(c.started_at.desc(), c.id).limit(limit)
        if name:
            q = q.where(c.name.like(name.replace("*", "%")) if "*" in name else c.name == name)
        if status:
            q = q.where(c.status == status)
        if task:
            q = q.where(c.task == task)
        if since:
            q = q.where(c.started_at >= since)
        if until:
            q = q.where(c.started_at < until)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        for r in rows:
            r["started_at"], r["finished_at"] = _aware(r["started_at"]), _aware(r["finished_at"])
        return rows

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique id prefix, or ``latest`` / ``latest:<name>``."""
        c = S.runs.c
        with self.engine.connect() as conn:
            if ref == "latest" or ref.startswith("latest:"):
                q = select(c.id).order_by(c.started_at.desc()).limit(1)
                if ref.startswith("latest:"):
                    q = q.where(c.name == ref.split(":", 1)[1])
                got = conn.execute(q).scalar()
                if got is None:
                    raise InputError(f"run {ref!r}: the store {self.display_url} has no such run")
                return got
            hits = list(conn.execute(select(c.id).where(c.id.like(f"{ref}%")).limit(3)).scalars())
        if not hits:
            raise InputError(f"run {ref!r}: no run with this id in {self.display_url}; "
                             "'assay runs list' shows the ids")
        if len(hits) > 1:
            raise InputError(f"run {ref!r}: ambiguous id prefix ({', '.join(hits)}, ...); give more "
                             "characters")
        return hits[0]

    def get_run(self, ref: str) -> StoredRun:
        """One run with its result tables and data card."""
        from assay.compare import COMPARE_COLUMNS
        from assay.results import COLUMNS

        run_id = self.resolve(ref)
        with self.engine.connect() as conn:
            record = dict(conn.execute(select(S.runs).where(S.runs.c.id == run_id)).one()._mapping)
            table = _frame(conn, S.results, run_id, COLUMNS)
            comp = _frame(conn, S.comparisons, run_id, COMPARE_COLUMNS)
            dataset = None
            if record.get("dataset_id") is not None:
                d = conn.execute(select(S.datasets).where(S.datasets.c.id == record["dataset_id"])).one()
                dataset = dict(d._mapping)
        record["started_at"], record["finished_at"] = (_aware(record["started_at"]),
                                                       _aware(record["finished_at"]))
        return StoredRun(record=record, table=table,
                         comparisons=comp if len(comp) else None, dataset=dataset)

    def datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        """Data cards, by name then version, with how many runs used each."""
        d, r = S.datasets.c, S.runs.c
        runs_used = (select(func.count()).where(r.dataset_id == d.id).scalar_subquery())
        q = select(S.datasets, runs_used.label("runs")).order_by(d.name, d.version)
        if name:
            q = q.where(d.name == name)
        with self.engine.connect() as conn:
            rows = [dict(x._mapping) for x in conn.execute(q)]
        for x in rows:
            x["created_at"] = _aware(x["created_at"])
        return rows


def dataset_name(spec: EvalSpec) -> str:
    """A data card's name: ``data.name``, else the data file's name, else the spec's name."""
    if spec.data is not None and spec.data.name:
        return spec.data.name
    if spec.data is not None and spec.data.path:
        return Path(spec.data.path).name
    return spec.name


def _analyses_json(result: EvaluationResult) -> dict[str, Any] | None:
    """The analyses' tables (columns and row lists; floats keep every bit through JSON's
    shortest repr) and chart data."""
    if not result.analyses and not result.analysis_charts:
        return None
    tables = {name: frame_json(f) for name, f in result.analyses.items()}
    return {"tables": tables, "charts": _jsonable(result.analysis_charts)}


def frame_json(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON: columns, dtypes and row lists (floats keep every bit through JSON's
    shortest repr; NaN is null)."""
    return {"columns": list(frame.columns), "dtypes": [str(t) for t in frame.dtypes],
            "rows": _jsonable(frame.astype(object).to_numpy().tolist())}


def frame_from_json(t: dict[str, Any]) -> pd.DataFrame:
    """The table :func:`frame_json` wrote, with its column types (null floats read back as NaN)."""
    frame = pd.DataFrame(t["rows"], columns=t["columns"])
    for c, dtype in zip(t["columns"], t.get("dtypes") or [], strict=False):
        if dtype.startswith("float"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        elif dtype.startswith(("int", "bool")):
            frame[c] = frame[c].astype(dtype)
        elif dtype.startswith("datetime64"):
            frame[c] = pd.to_datetime(frame[c])
    return frame


def analysis_tables(record: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """A stored run's analysis tables, with their column types (null floats read back
    as NaN)."""
    stored = (record.get("analyses") or {}).get("tables") or {}
    return {name: frame_from_json(t) for name, t in stored.items()}


def _records(frame: pd.DataFrame, run_id: str) -> list[dict[str, Any]]:
    out = []
    for pos, rec in enumerate(frame.to_dict("records")):
        row: dict[str, Any] = {"run_id": run_id, "position": pos}
        for k, v in rec.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None  # SQLite has no NaN; PostgreSQL would keep it, but both read back NaN
            row[k] = v
        out.append(row)
    return out


def _frame(conn: Connection, table: Any, run_id: str, columns: list[str]) -> pd.DataFrame:
    q = select(*[table.c[c] for c in columns]).where(table.c.run_id == run_id).order_by(table.c.position)
    frame = pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=columns)
    for c in columns:
        col = table.c[c]
        if col.type.python_type is float:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        elif col.type.python_type is int:
            frame[c] = frame[c].astype("int64")
    return frame


def open_store(location: str | Path | RunStore | None = None) -> RunStore:
    """The run store at ``location`` (a path, a URL, or an open store); None means
    ``$ASSAY_STORE`` or ``.assay/runs.db`` in the working directory."""
    if isinstance(location, RunStore):
        return location
    return RunStore(store_url(location))
