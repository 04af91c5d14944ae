"""Analyses beyond the metric table: fairness, calibration, operating points, weak segments.

Each runs when its spec key is set, on the rows the engine read (one model at a time, see
:class:`AnalysisRows`), and returns tidy tables plus chart data (:class:`AnalysisOutput`).
The tables flow into the run folder, the run store, the report, the summary and the gates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from assay.analysis._rows import AnalysisOutput, AnalysisRows

if TYPE_CHECKING:
    from assay.spec import EvalSpec

#: Each analysis table's key columns (one row per key), for reruns and diffs.
TABLE_KEYS: dict[str, list[str]] = {
    "fairness_groups": ["model", "attribute", "group", "metric"],
    "fairness": ["model", "attribute", "metric", "variant"],
    "calibration": ["model", "slice", "metric", "variant"],
    "thresholds": ["model", "point", "metric"],
    "segments": ["model", "rank"],
    "quality": ["check", "column", "level"],  # the data-quality checks (assay.quality)
}


def requested(spec: EvalSpec) -> list[str]:
    """The analyses the spec asks for, in the order they run."""
    keys = ("fairness", "calibration", "thresholds", "error_analysis")
    return [k for k in keys if getattr(spec, k) is not None]


def run_analyses(spec: EvalSpec, models: list[AnalysisRows],
                 progress: Callable[[str, int, int], None] | None = None) -> AnalysisOutput:
    """Every requested analysis for every model; tables are concatenated over models and
    chart data is merged per chart (model names are the first level below each chart)."""
    report = progress or (lambda stage, done, total: None)
    steps = [(name, m) for name in requested(spec) for m in models]
    tables: dict[str, list[pd.DataFrame]] = {}
    charts: dict[str, dict] = {}
    for done, (name, rows) in enumerate(steps):
        report(f"{name.replace('_', ' ')}: {rows.model}", done, len(steps))
        out = _run_one(spec, name, rows)
        for t, frame in out.tables.items():
            tables.setdefault(t, []).append(frame)
        for c, data in out.charts.items():
            charts.setdefault(c, {}).update(data)
    merged = {t: pd.concat(frames, ignore_index=True) for t, frames in tables.items()}
    return AnalysisOutput(tables=merged, charts=charts)


def _run_one(spec: EvalSpec, name: str, rows: AnalysisRows) -> AnalysisOutput:
    if name == "fairness":
        from assay.analysis.fairness import analyse_fairness

        assert spec.fairness is not None
        return analyse_fairness(rows, spec.fairness, spec.fairness_dimensions)
    if name == "calibration":
        from assay.analysis.calibration import analyse_calibration

        assert spec.calibration is not None
        return analyse_calibration(rows, spec.calibration,
                                   spec.calibration.bins or spec.calibration_bins)
    if name == "thresholds":
        from assay.analysis.thresholds import analyse_thresholds

        assert spec.thresholds is not None
        return analyse_thresholds(rows, spec.thresholds)
    from assay.analysis.segments import analyse_segments

    assert spec.error_analysis is not None
    return analyse_segments(rows, spec.error_analysis)


def __getattr__(name: str):  # the analyses load on first use (they are not needed otherwise)
    modules = {"analyse_fairness": "fairness", "analyse_calibration": "calibration",
               "analyse_thresholds": "thresholds", "analyse_segments": "segments"}
    if name in modules:
        import importlib

        return getattr(importlib.import_module(f"assay.analysis.{modules[name]}"), name)
    raise AttributeError(f"module 'assay.analysis' has no attribute {name!r}")


__all__ = ["TABLE_KEYS", "AnalysisOutput", "AnalysisRows", "analyse_calibration", "analyse_fairness",
           "analyse_segments", "analyse_thresholds", "requested", "run_analyses"]
