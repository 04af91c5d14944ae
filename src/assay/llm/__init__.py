"""LLM evaluation (being built; issue 7): suite cases and prompt templates, providers
(``assay.llm.providers``), the score outcome, the scorer registry and the deterministic scorers.

    Case, load_cases         a suite's cases (inline, JSONL, CSV, Parquet), validated and hashed
    PromptSpec, render_messages  Jinja2 prompt templates -> the chat messages a model receives
    Score, CaseView          one scorer's outcome on one case, and what a scorer sees of a case
    ScorerConfig             base of every scorer config (frozen pydantic; kind, name, options)
    register_scorer          class decorator registering a kind
    scorer_from_config       rebuild a scorer from its config mapping (suite YAML, run record)
    OK / UNDETERMINED / ERROR  the three score statuses
"""

from assay.llm._cases import Case, cases_sha256, load_cases
from assay.llm._prompts import PromptSpec, render_messages
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
from assay.llm.scorers import (
    REFUSAL_PATTERNS,
    Bleu,
    ChoiceMatch,
    Chrf,
    Citations,
    Contains,
    ExactMatch,
    FormatCheck,
    JsonSchema,
    JsonValid,
    LengthCheck,
    NumericMatch,
    Refusal,
    RegexMatch,
    Rouge,
    SpanF1,
    normalize_answer,
    squad_f1,
)

__all__ = ["ERROR", "OK", "REFUSAL_PATTERNS", "UNDETERMINED", "Bleu", "Case", "CaseView", "ChoiceMatch",
           "Chrf", "PromptSpec", "cases_sha256", "load_cases", "render_messages",
           "Citations", "Contains", "ExactMatch", "FormatCheck", "JsonSchema", "JsonValid", "LengthCheck",
           "NumericMatch", "RegexMatch", "Refusal", "Rouge", "Score", "ScorerConfig", "SpanF1",
           "normalize_answer", "register_scorer", "scorer_from_config", "scorer_kinds", "squad_f1"]
