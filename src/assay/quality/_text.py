"""The quality table in words: Markdown lines for ``summary.md`` and the terminal.

Only what needs attention is listed (failures first, then warnings, each with its
message); when every check passes, one line says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.quality._table import FAIL, SEVERITY, SKIPPED, WARN

MARKS = {FAIL: "❌", WARN: "⚠️"}


def headline(table: pd.DataFrame) -> str:
    """``14 check(s) ran: 1 fail, 2 warn, 11 pass; 3 skipped``."""
    ran = table[table.status != SKIPPED]
    parts = [f"{int((ran.status == s).sum())} {s}" for s in (FAIL, WARN) if (ran.status == s).any()]
    passed = int((ran.status == "pass").sum())
    skipped = len(table) - len(ran)
    text = f"{len(ran)} check(s) ran: " + ", ".join([*parts, f"{passed} pass"])
    return text + (f"; {skipped} skipped" if skipped else "")


def label(row: object) -> str:
    """A row's name: ``nulls income``, ``labels defaulted=1``, ``duplicate_rows``."""
    check, column, level = (getattr(row, k) for k in ("check", "column", "level"))
    if level:
        return f"{check} {column}={level}"
    return f"{check} {column}".strip()


def problems(table: pd.DataFrame) -> pd.DataFrame:
    bad = table[table.status.isin([FAIL, WARN])]
    return bad.iloc[bad.status.map(SEVERITY).argsort(kind="stable")]


def summary_note(table: pd.DataFrame | None) -> str:
    """A clause for the summary's header line when every check passes (else "")."""
    if table is None or table.empty or not problems(table).empty:
        return ""
    return f" · data quality ✅ {headline(table)}"


def summary_lines(table: pd.DataFrame | None, limit: int = 8) -> list[str]:
    """The summary's data-quality section when a check fails or warns (Markdown, user text
    escaped); nothing when every check passes (see :func:`summary_note`)."""
    from assay.report._summary import md

    if table is None or table.empty:
        return []
    bad = problems(table)
    if bad.empty:
        return []
    out = ["", "### Data quality", "", f"{headline(table)}:", ""]
    for r in bad.head(limit).itertuples():
        out.append(f"- {MARKS[r.status]} **{md(label(r))}**: {md(r.message)}")
    if len(bad) > limit:
        out.append(f"- … {len(bad) - limit} more (quality.json)")
    return out


#: checks whose value is a share of rows
SHARE_CHECKS = ("nulls", "ranges", "categories", "duplicate_ids", "duplicate_rows", "labels",
                "future_timestamps", "leakage_rows", "leakage_ids")


def value_text(check: str, value: float) -> str:
    """The judged number for people: a share as a percentage, an age in days, a row count."""
    from assay.quality._table import pct

    if value != value:  # NaN
        return ""
    if check in SHARE_CHECKS:
        return pct(value)
    if check == "freshness":
        return f"{value:,.2f} d"
    if check == "rows":
        return f"{value:,.0f}"
    return f"{value:.4g}"


def compact(table: pd.DataFrame) -> pd.DataFrame:
    """The table for a terminal: passing per-column null checks folded into one row."""
    from assay.quality._table import PASS, pct

    fold = (table.check == "nulls") & (table.status == PASS)
    if fold.sum() < 2:
        return table
    rows = table[fold]
    top = rows.iloc[int(rows.value.to_numpy().argmax())]
    one = {"check": "nulls", "column": f"({int(fold.sum())} columns)", "level": "", "status": PASS,
           "value": float(top.value), "threshold": str(top.threshold), "count": int(rows["count"].sum()),
           "n": int(top.n), "message": f"every one at or below {pct(float(top.value))} missing (highest: "
                                       f"{top.column})", "examples": ""}
    at = int(np.flatnonzero(fold.to_numpy())[0])
    head, tail = table.iloc[:at][~fold.iloc[:at]], table.iloc[at:][~fold.iloc[at:]]
    return pd.concat([head, pd.DataFrame([one]), tail], ignore_index=True)
