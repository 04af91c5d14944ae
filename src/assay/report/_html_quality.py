"""The report's "Data quality" section: every check with its status, numbers, threshold,
message and (privacy-filtered) examples; the failing and warning ones first and in full,
the rest folded. User text is escaped by the template's autoescape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.quality._table import FAIL, SEVERITY, WARN
from assay.quality._text import headline, label, value_text

if TYPE_CHECKING:
    from assay.results import EvaluationResult


def _row(r: Any) -> dict[str, Any]:
    ran = r.status != "skipped"
    return {"check": r.check, "name": label(r), "status": r.status, "value": value_text(r.check, r.value),
            "threshold": r.threshold, "count": int(r.count) if ran else None,
            "n": int(r.n) if ran else None, "message": r.message, "examples": r.examples}


def quality_context(result: EvaluationResult) -> dict[str, Any] | None:
    """Template context of the section (None when the checks did not run)."""
    table = result.analyses.get("quality")
    if table is None or table.empty:
        return None
    ordered = table.iloc[table.status.map(SEVERITY).argsort(kind="stable")]
    rows = [_row(r) for r in ordered.itertuples()]
    problems = [r for r in rows if r["status"] in (FAIL, WARN)]
    status = FAIL if any(r["status"] == FAIL for r in rows) else WARN if problems else "pass"
    return {"headline": headline(table), "status": status, "problems": problems, "rows": rows,
            "n": len(rows)}
