"""The run store's tables (SQLAlchemy Core). The migrations in ``migrations/versions`` build
exactly these; a test compares the two, so a change here needs a new migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: running -> complete | failed | interrupted; only a finished, fully written run is complete
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"
STATUSES = (RUNNING, COMPLETE, FAILED, INTERRUPTED)

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("task", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("spec", JSON, nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("assay_version", String(40), nullable=False),
    Column("python_version", String(40), nullable=False),
    Column("platform", String(200), nullable=False),
    Column("packages", JSON, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", Text),
    Column("base_dir", Text, nullable=False),
    Column("folder", Text),
    Column("n_rows", Integer),
    Column("excluded", JSON),
    Column("verdict", String(40)),
    Column("exit_code", Integer),
    Column("verdict_detail", JSON),
    Column("curves", JSON),
    Column("examples", JSON),
    Column("manifest", JSON),
    #: {"tables": {name: {"columns": [...], "rows": [[...], ...]}}, "charts": {...}}
    Column("analyses", JSON),
    Column("dataset_id", Integer, ForeignKey("datasets.id")),
    Column("rerun_of", String(32)),
    Column("reproduced", Boolean),
    Column("error", Text),
    Index("ix_runs_name_started", "name", "started_at"),
    Index("ix_runs_status", "status"),
)

results = Table(
    "results", metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("model", Text, nullable=False),
    Column("slice", Text, nullable=False),
    Column("dimension", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("metric", String(100), nullable=False),
    Column("value", Float(53)),
    Column("ci_low", Float(53)),
    Column("ci_high", Float(53)),
    Column("n", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("status", String(40), nullable=False),
    Column("note", Text, nullable=False),
    Column("gap", Float(53)),
    Column("gap_low", Float(53)),
    Column("gap_high", Float(53)),
    Index("ix_results_run", "run_id", "position"),
)

comparisons = Table(
    "comparisons", metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("baseline", Text, nullable=False),
    Column("candidate", Text, nullable=False),
    Column("slice", Text, nullable=False),
    Column("dimension", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("metric", String(100), nullable=False),
    Column("baseline_value", Float(53)),
    Column("candidate_value", Float(53)),
    Column("delta", Float(53)),
    Column("ci_low", Float(53)),
    Column("ci_high", Float(53)),
    Column("p_value", Float(53)),
    Column("p_adjusted", Float(53)),
    Column("n", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("status", String(40), nullable=False),
    Column("note", Text, nullable=False),
    Column("higher_is_better", Boolean),
    Column("se", Float(53)),
    Column("discordance", Float(53)),
    Column("mdd", Float(53)),
    Index("ix_comparisons_run", "run_id", "position"),
)

datasets = Table(
    "datasets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("location", Text, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("card", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_run_id", String(32)),
    UniqueConstraint("name", "fingerprint", name="uq_datasets_name_fingerprint"),
    UniqueConstraint("name", "version", name="uq_datasets_name_version"),
)

#: A monitor's computed windows (see ``assay.monitor``): one row per (monitor, configuration,
#: window). A later run reads a window back while its rows and labels are unchanged
#: (``n_rows``/``row_hash``, ``n_labelled``/``label_hash``) and computes only the others.
monitor_windows = Table(
    "monitor_windows", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("monitor", String(200), nullable=False),
    Column("config_sha256", String(64), nullable=False),
    Column("window", String(64), nullable=False),
    Column("start", DateTime(timezone=True)),
    Column("end", DateTime(timezone=True)),
    Column("role", String(20), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("row_hash", String(40), nullable=False),
    Column("n_labelled", Integer, nullable=False),
    Column("label_hash", String(40), nullable=False),
    #: {"drift": {columns, dtypes, rows}, "performance": {...}} (as runs.analyses tables)
    Column("tables", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("monitor", "config_sha256", "window", name="uq_monitor_windows_window"),
    Index("ix_monitor_windows_monitor", "monitor", "config_sha256"),
)
