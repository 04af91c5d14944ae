"""LLM evaluation: suites (cases x providers x prompts x parameters), providers
(``assay.llm.providers``), scorers, judges (``assay.llm.judges``), statistics, gates, judge
calibration, the run store record, and the report.

    SuiteSpec, load_suite    a suite file, validated
    run_suite, SuiteResult   ask, score, summarise, compare, gate; ``result.write(folder)``
    record_suite             run a suite as a recorded run of the run store (comparability flag)
    CalibrationSpec, calibrate, load_labels  judge agreement with human labels
    tradeoffs                quality x cost x latency with intervals, Pareto front

    Case, load_cases         a suite's cases (inline, JSONL, CSV, Parquet), validated and hashed
    PromptSpec, render_messages  Jinja2 prompt templates -> the chat messages a model receives
    Score, CaseView          one scorer's outcome on one case, and what a scorer sees of a case
    ScorerConfig             base of every scorer config (frozen pydantic; kind, name, options)
    register_scorer          class decorator registering a kind
    scorer_from_config       rebuild a scorer from its config mapping (suite YAML, run record)
    OK / UNDETERMINED / ERROR  the three score statuses
"""

from assay.llm._calibration import CALIBRATION_COLUMNS, Calibration, CalibrationSpec, calibrate, load_labels
from assay.llm._cases import Case, cases_sha256, load_cases
from assay.llm._prompts import PromptSpec, render_messages
from assay.llm._record import record_suite
from assay.llm._runner import SuiteResult, run_suite
from assay.llm._score import (
    ERROR,
    OK,
    UNDETERMINED,
    CaseView,
    Score,
    ScorerConfig,
    register_scorer,
    scorer_from_config,
    scorer_kinds,
)
from assay.llm._suite import SuiteSpec, load_suite
from assay.llm._tradeoffs import TRADEOFF_COLUMNS, tradeoffs
from assay.llm.scorers import (
    REFUSAL_PATTERNS,
    Bleu,
    ChoiceMatch,
    Chrf,
    Citations,
    Contains,
    ExactMatch,
    FormatCheck,
    Grounding,
    JsonSchema,
    JsonValid,
    LengthCheck,
    NumericMatch,
    Refusal,
    RegexMatch,
    Rouge,
    SemanticSimilarity,
    SpanF1,
    normalize_answer,
    squad_f1,
)

__all__ = ["CALIBRATION_COLUMNS", "Calibration", "CalibrationSpec", "Grounding", "SemanticSimilarity",
           "SuiteResult", "SuiteSpec", "TRADEOFF_COLUMNS", "calibrate", "load_labels", "load_suite",
           "record_suite", "run_suite", "tradeoffs",
"ERROR", "OK", "REFUSAL_PATTERNS", "UNDETERMINED", "Bleu", "Case", "CaseView", "ChoiceMatch",
           "Chrf", "PromptSpec", "cases_sha256", "load_cases", "render_messages",
           "Citations", "Contains", "ExactMatch", "FormatCheck", "JsonSchema", "JsonValid", "LengthCheck",
           "NumericMatch", "RegexMatch", "Refusal", "Rouge", "Score", "ScorerConfig", "SpanF1",
           "normalize_answer", "register_scorer", "scorer_from_config", "scorer_kinds", "squad_f1"]
