"""Production monitoring: a prediction log cut into windows, drift of every watched column
and performance per window against a reference, alerts with an exit code, windows kept in
the run store so a later run computes only what is new or changed."""

from assay.monitor._monitor import run_monitor
from assay.monitor._result import (
    ALERT_COLUMNS,
    WINDOW_COLUMNS,
    WINDOW_DRIFT_COLUMNS,
    WINDOW_PERFORMANCE_COLUMNS,
    MonitorResult,
)
from assay.monitor._spec import MonitorSpec, load_monitor_spec, parse_monitor_spec

__all__ = ["ALERT_COLUMNS", "WINDOW_COLUMNS", "WINDOW_DRIFT_COLUMNS", "WINDOW_PERFORMANCE_COLUMNS",
           "MonitorResult", "MonitorSpec", "load_monitor_spec", "parse_monitor_spec", "run_monitor"]
