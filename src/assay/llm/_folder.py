"""A suite run's folder: every table as Parquet and JSON, ``suite.json`` (spec, hashes,
verdict, comparability), ``report.html`` (with the per-case drill-down) and ``summary.md``
(the PR comment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay._json import jsonable, write_table
from assay.llm.providers._types import canonical_json

if TYPE_CHECKING:
    from assay.llm._runner import SuiteResult

#: the tables of a suite run, in the order they are written
TABLES = ("cases", "outputs", "scores", "summary", "usage", "comparisons", "tradeoffs", "judges",
          "calibration", "safety", "safety_failures")
CASE_COLUMNS = ["case_id", "input", "messages", "expected", "context", "tags"]


def cases_table(result: SuiteResult) -> pd.DataFrame:
    """The cases as asked: structured fields (messages, expected, context) as canonical JSON text."""
    rows = [{"case_id": c.id, "input": c.input,
             "messages": canonical_json(list(c.messages)) if c.messages else None,
             "expected": None if c.expected is None else canonical_json(c.expected),
             "context": canonical_json(list(c.context)) if c.context else None,
             "tags": list(c.tags)} for c in result.cases]
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def suite_tables(result: SuiteResult) -> dict[str, pd.DataFrame]:
    """The run's tables by name (absent ones left out), in a form Parquet and JSON keep."""
    out: dict[str, pd.DataFrame] = {"cases": cases_table(result)}
    for name in TABLES[1:]:
        frame: pd.DataFrame | None = getattr(result, name)
        if frame is None:
            continue
        if name == "scores":
            frame = frame.assign(tags=frame["tags"].map(list))
        out[name] = frame
    return out


def suite_meta(result: SuiteResult) -> dict[str, Any]:
    """suite.json: the spec, the hashes, the verdict, comparability and the run's identity."""
    meta: dict[str, Any] = {"name": result.spec.name, "spec": result.spec.model_dump(mode="json"),
                            "hashes": result.hashes, "seconds": round(result.seconds, 3),
                            "run_id": result.run_id, "store": result.store,
                            "comparability": result.comparability, "labels": result.label_counts}
    if result.verdict is not None:
        meta["verdict"] = result.verdict.to_dict()
    return jsonable(meta)


def write_suite(result: SuiteResult, folder: Path) -> Path:
    """Write the folder (created if needed) and return it."""
    from assay.report import render_suite_html, render_suite_summary

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in suite_tables(result).items():
        write_table(frame, folder, name)
    (folder / "suite.json").write_text(json.dumps(suite_meta(result), indent=2) + "\n", encoding="utf-8")
    (folder / "report.html").write_text(render_suite_html(result), encoding="utf-8")
    (folder / "summary.md").write_text(render_suite_summary(result), encoding="utf-8")
    return folder
