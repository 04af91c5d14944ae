"""Data-quality checks on any dataset source, run before any metric.

Checks (each a row of the quality table, see :data:`QUALITY_COLUMNS`): ``rows``;
``schema`` (columns and types against ``quality.schema`` or the run store's data card);
``nulls`` per column; ``ranges`` and ``categories`` of named columns; ``duplicate_ids`` and
``duplicate_rows``; ``labels`` (the class distribution); ``freshness`` and
``future_timestamps`` of a timestamp column; ``leakage_rows`` and ``leakage_ids`` against a
training file. Each is pass / warn / fail (or skipped, with the reason) with counts, a
one-line message with the fix, and a few example rows under the spec's privacy rules.

Everything runs in DuckDB over the registered dataset view: one aggregate query for the
per-column counts, one ``GROUP BY`` for the labels, and one hash column per row for the
repeat and overlap checks (see ``_hashes`` for why they are exact).
"""

from assay.quality._config import (
    CHECKS,
    FAMILIES,
    CategorySpec,
    DuplicateSpec,
    FreshnessSpec,
    LabelSpec,
    LeakageSpec,
    NullSpec,
    NullThresholds,
    QualitySpec,
    RangeSpec,
    expand_checks,
)
from assay.quality._table import (
    EXIT_CODES,
    FAIL,
    PASS,
    QUALITY_COLUMNS,
    QUALITY_KEYS,
    SKIPPED,
    WARN,
    QualityReport,
)


def __getattr__(name: str):  # the checks import the spec module, which imports QualitySpec
    if name in ("check_dataset", "data_fingerprint", "run_checks"):
        from assay.quality import _run

        return getattr(_run, name)
    raise AttributeError(f"module 'assay.quality' has no attribute {name!r}")


__all__ = [
    "CHECKS", "EXIT_CODES", "FAIL", "FAMILIES", "PASS", "QUALITY_COLUMNS", "QUALITY_KEYS", "SKIPPED",
    "WARN", "CategorySpec", "DuplicateSpec", "FreshnessSpec", "LabelSpec", "LeakageSpec", "NullSpec",
    "NullThresholds", "QualityReport", "QualitySpec", "RangeSpec", "check_dataset", "data_fingerprint",
    "expand_checks", "run_checks",
]
