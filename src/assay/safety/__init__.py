"""LLM safety: PII and secret detectors, prompt-injection, canary and refusal suites,
toxicity, and the clustered statistics that judge them.

    find_pii, find_leaks, mask_text    personal data and secrets (assay.safety.pii)
    SafetySpec, build_safety           a suite's ``safety:`` section (assay.safety.attacks)
    load_detector, measure_detector    toxicity detectors (assay.safety.toxicity)
    clustered_rate, min_independent_cases  failure rates clustered by seed prompt, power
    safety_table, safety_failures      the run's safety tables

The names are loaded on first use, so ``import assay.safety`` stays cheap and the LLM layer,
which these parts build on, can import the statistics without a cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "find_pii": "assay.safety.pii", "find_leaks": "assay.safety.pii", "mask_text": "assay.safety.pii",
    "mask_value": "assay.safety.pii", "evaluate_detector": "assay.safety.pii",
    "SafetySpec": "assay.safety.attacks", "build_safety": "assay.safety.attacks",
    "load_injection_csv": "assay.safety.attacks", "refusal_detection_report": "assay.safety.attacks",
    "load_detector": "assay.safety.toxicity", "measure_detector": "assay.safety.toxicity",
    "check_overlap": "assay.safety.toxicity", "toxicity_judge_config": "assay.safety.toxicity",
    "clustered_rate": "assay.safety._stats", "min_independent_cases": "assay.safety._stats",
    "ClusteredRate": "assay.safety._stats",
    "safety_table": "assay.safety._summary", "safety_failures": "assay.safety._summary",
    "SAFETY_COLUMNS": "assay.safety._summary", "SAFETY_KINDS": "assay.safety._summary",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'assay.safety' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


def __dir__() -> list[str]:
    return __all__
