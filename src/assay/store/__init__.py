"""The run store: every evaluation recorded with its spec, input fingerprints, environment,
status, verdict and results, in SQLite (default) or PostgreSQL; reruns and diffs."""

from assay.store._diff import TableDiff, mapping_changes, table_diff
from assay.store._record import record_evaluation
from assay.store._rerun import RerunReport, rerun
from assay.store._schema import COMPLETE, FAILED, INTERRUPTED, RUNNING, STATUSES
from assay.store._store import (
    DEFAULT_LOCATION,
    STORE_ENV,
    RunStore,
    StoredRun,
    analysis_tables,
    dataset_name,
    open_store,
    store_url,
)

__all__ = [
    "COMPLETE", "DEFAULT_LOCATION", "FAILED", "INTERRUPTED", "RUNNING", "STATUSES", "STORE_ENV",
    "RerunReport", "RunStore", "StoredRun", "TableDiff", "analysis_tables",
    "dataset_name", "mapping_changes", "open_store",
    "record_evaluation", "rerun", "store_url", "table_diff",
]
