"""The quality table: one row per check (and column, and label class), with its status.

A row is ``(check, column, level, status, value, threshold, count, n, message, examples)``:
``value`` is the judged number (a share of rows, an age in days), ``count`` the offending
rows out of ``n``, ``threshold`` the rule in words, ``message`` one line with the numbers and
the fix, and ``examples`` a few rows (by row number, or id where the privacy settings show
it) with their values as the privacy settings allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

PASS, WARN, FAIL, SKIPPED = "pass", "warn", "fail", "skipped"
#: worst first
SEVERITY = {FAIL: 0, WARN: 1, PASS: 2, SKIPPED: 3}
#: status -> exit code of ``assay check`` (the same meanings as ``assay evaluate``'s)
EXIT_CODES = {FAIL: 1, WARN: 3, PASS: 0, SKIPPED: 0}

#: Columns of the quality table, in order.
QUALITY_COLUMNS = ["check", "column", "level", "status", "value", "threshold", "count", "n",
                   "message", "examples"]
#: The columns that identify a row (for reruns and diffs).
QUALITY_KEYS = ["check", "column", "level"]


@dataclass
class Row:
    """One check's outcome (see the module docstring)."""

    check: str
    status: str
    message: str
    column: str = ""
    level: str = ""
    value: float = math.nan
    threshold: str = ""
    count: int = 0
    n: int = 0
    examples: str = ""

    def record(self) -> dict[str, Any]:
        return {"check": self.check, "column": self.column, "level": self.level,
                "status": self.status, "value": float(self.value), "threshold": self.threshold,
                "count": int(self.count), "n": int(self.n), "message": self.message,
                "examples": self.examples}


def frame(rows: list[Row]) -> pd.DataFrame:
    """The rows as the quality table (fixed column types, also when empty)."""
    table = pd.DataFrame([r.record() for r in rows], columns=QUALITY_COLUMNS)
    return table.astype({"value": "float64", "count": "int64", "n": "int64"})


def by_share(share: float, warn: float | None, fail: float | None) -> str:
    """fail above ``fail``, else warn above ``warn``, else pass (None: never)."""
    if math.isnan(share):
        return PASS
    if fail is not None and share > fail:
        return FAIL
    if warn is not None and share > warn:
        return WARN
    return PASS


def share(count: int, n: int) -> float:
    return count / n if n else math.nan


def pct(x: float) -> str:
    """A share for people: 0%, <0.01%, 0.37%, 12.5%."""
    if x is None or math.isnan(x):
        return "—"
    if x == 0:
        return "0%"
    if x < 1e-4:
        return "<0.01%"
    return f"{100 * x:.2f}%".replace(".00%", "%")


def limits(warn: float | None, fail: float | None, above: str = ">") -> str:
    """The threshold text of a share rule: "warn > 5%, fail > 50%"."""
    parts = []
    if warn is not None and (fail is None or warn < fail):
        parts.append(f"warn {above} {pct(warn)}")
    if fail is not None and fail < 1:
        parts.append(f"fail {above} {pct(fail)}")
    return ", ".join(parts) or "never fails"


def worst(statuses: list[str] | pd.Series) -> str:
    """The worst status of a list (skipped only when nothing ran)."""
    got = list(statuses)
    return min(got, key=lambda s: SEVERITY.get(s, 9)) if got else SKIPPED


@dataclass
class QualityReport:
    """The quality table of one dataset, its overall status and what it was judged against."""

    table: pd.DataFrame
    #: the time freshness was judged at (UTC)
    as_of: datetime
    #: where the rows came from (a file, "the data.sql query", "the data table")
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``fail``, ``warn`` or ``pass`` (``pass`` also when every check was skipped)."""
        got = worst(self.table.status)
        return PASS if got == SKIPPED else got

    @property
    def exit_code(self) -> int:
        """1 when a check fails, 3 when one warns, else 0 (as ``assay evaluate``'s codes)."""
        return EXIT_CODES[self.status]

    @property
    def problems(self) -> pd.DataFrame:
        """The failing and warning rows, failures first."""
        t = self.table
        bad = t[t.status.isin([FAIL, WARN])]
        return bad.iloc[bad.status.map(SEVERITY).argsort(kind="stable")]

    def counts(self) -> dict[str, int]:
        return {s: int((self.table.status == s).sum()) for s in (FAIL, WARN, PASS, SKIPPED)}


#: checks whose outcome depends on when they run (unless quality.as_of pins the time)
CLOCK_CHECKS = ("freshness", "future_timestamps")


def without_clock(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """The table with what depends on the wall clock blanked (the freshness rows' age, status,
    counts, message and examples), for comparing a rerun with its original run."""
    if table is None or table.empty:
        return table
    out = table.copy()
    clock = out.check.isin(CLOCK_CHECKS)
    out.loc[clock, "value"] = float("nan")
    out.loc[clock, ["count", "n"]] = 0
    out.loc[clock, ["status", "message", "examples"]] = ""
    return out
