"""What a monitor run found: windows, drift per window and column, performance per window,
and the alerts its rules raised, as long-format tables (written to a folder, stored per
window in the run store)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay._json import jsonable, write_table

#: one row per window. ``role``: reference (defines the normal variation) or analysis;
#: ``computed``: new, recomputed (its rows or labels changed) or stored (read back)
WINDOW_COLUMNS = ["window", "start", "end", "role", "n", "n_labelled", "computed"]
#: one row per window x column x statistic (the drift table of ``assay.drift`` plus the
#: window and the reference band of the statistic: mean and SD over the reference windows,
#: each compared with the reference without it, and ``band_high`` = mean + k SD)
WINDOW_DRIFT_COLUMNS = ["window", "start", "role", "column", "kind", "statistic", "value", "p_value",
                        "threshold", "drifted", "default", "n_ref", "n_cur", "missing_ref",
                        "missing_cur", "error_bound", "method", "status", "note",
                        "band_mean", "band_sd", "band_high"]
#: one row per window x metric, with the interval (the engine's, as in ``assay evaluate``)
WINDOW_PERFORMANCE_COLUMNS = ["window", "start", "role", "metric", "value", "ci_low", "ci_high",
                              "n", "method", "status", "note"]
#: one row per alert: the rule, the window, what it looked at and the numbers behind it
ALERT_COLUMNS = ["rule", "kind", "severity", "window", "start", "target", "statistic", "value",
                 "bound", "direction", "new", "message"]

#: alert severities -> exit code: 0 nothing fired, 3 only warnings, 1 an alert
ALERT, WARN = "alert", "warn"


@dataclass
class MonitorResult:
    """The tables of one monitor run, its alerts and exit code."""

    spec: Any  # MonitorSpec
    windows: pd.DataFrame
    drift: pd.DataFrame
    performance: pd.DataFrame
    alerts: pd.DataFrame
    #: rows of the log left out (no timestamp, ...) by reason, counted, never dropped silently
    excluded: dict[str, int] = field(default_factory=dict)
    #: lineage and timings: log location and fingerprint, reference, config hash, seconds
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when no rule fired on a window computed in this run, 3 when only warnings did,
        1 when an alert did (``--all-windows`` counts every window; see the CLI)."""
        return exit_code(self.alerts, new_only=True)

    def write(self, folder: str | Path) -> Path:
        """windows/drift/performance/alerts as Parquet and JSON, monitor.json (lineage),
        monitor.html (the trend report) and monitor.md (a summary)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("windows", "drift", "performance", "alerts"):
            write_table(getattr(self, name), out, name)
        meta = {"name": self.spec.name, "excluded": self.excluded, "exit_code": self.exit_code,
                "extra": jsonable(self.extra)}
        (out / "monitor.json").write_text(json.dumps(meta, indent=2, default=str) + "\n",
                                          encoding="utf-8")
        from assay.report._monitor import render_monitor_html, render_monitor_summary

        (out / "monitor.html").write_text(render_monitor_html(self), encoding="utf-8")
        (out / "monitor.md").write_text(render_monitor_summary(self), encoding="utf-8")
        return out


def exit_code(alerts: pd.DataFrame, new_only: bool = True) -> int:
    """1 if an alert-severity rule fired, else 3 if a warning did, else 0."""
    rows = alerts[alerts["new"]] if new_only and len(alerts) else alerts
    if (rows["severity"] == ALERT).any():
        return 1
    if len(rows):
        return 3
    return 0
