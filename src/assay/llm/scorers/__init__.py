"""The deterministic scorers and the embedding-based ones (semantic_similarity, grounding: they
load torch only when they score); importing this package registers every kind."""

from assay.llm.scorers._choice import ChoiceMatch
from assay.llm.scorers._citations import Citations
from assay.llm.scorers._format import FormatCheck, LengthCheck
from assay.llm.scorers._grounding import Grounding, split_sentences
from assay.llm.scorers._json import JsonSchema, JsonValid
from assay.llm.scorers._match import Contains, ExactMatch, RegexMatch, normalize_answer
from assay.llm.scorers._numeric import NumericMatch
from assay.llm.scorers._reference import Bleu, Chrf, Rouge
from assay.llm.scorers._refusal import REFUSAL_PATTERNS, Refusal
from assay.llm.scorers._semantic import SemanticSimilarity
from assay.llm.scorers._spans import SpanF1, squad_f1

__all__ = ["REFUSAL_PATTERNS", "Bleu", "ChoiceMatch", "Chrf", "Citations", "Contains", "ExactMatch",
           "FormatCheck", "Grounding", "JsonSchema", "JsonValid", "LengthCheck", "NumericMatch", "RegexMatch",
           "Refusal", "Rouge", "SemanticSimilarity", "SpanF1", "normalize_answer", "split_sentences",
           "squad_f1"]
