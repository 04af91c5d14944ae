"""The deterministic scorers; importing this package registers every kind."""

from assay.llm.scorers._choice import ChoiceMatch
from assay.llm.scorers._citations import Citations
from assay.llm.scorers._format import FormatCheck, LengthCheck
from assay.llm.scorers._json import JsonSchema, JsonValid
from assay.llm.scorers._match import Contains, ExactMatch, RegexMatch, normalize_answer
from assay.llm.scorers._numeric import NumericMatch
from assay.llm.scorers._reference import Bleu, Chrf, Rouge
from assay.llm.scorers._refusal import REFUSAL_PATTERNS, Refusal
from assay.llm.scorers._spans import SpanF1, squad_f1

__all__ = ["REFUSAL_PATTERNS", "Bleu", "ChoiceMatch", "Chrf", "Citations", "Contains", "ExactMatch",
           "FormatCheck", "JsonSchema", "JsonValid", "LengthCheck", "NumericMatch", "RegexMatch", "Refusal",
           "Rouge", "SpanF1", "normalize_answer", "squad_f1"]
