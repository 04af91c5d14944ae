"""Span and entity overlap for extraction tasks.

``mode: tokens`` is SQuAD's token-level F1 (the official v2.0 evaluation script): both texts
are normalized with ``normalize_answer`` (lower-case, no ASCII punctuation, no articles),
split on whitespace, and F1 is computed on the multiset of common tokens; when either side
has no tokens, F1 is 1 if both are empty, else 0. With several references (``expected`` a
list) the best F1 counts, as in SQuAD.

``mode: entities`` is set F1 for extraction: ``expected`` is a list of entities, the output
a list split on ``delimiters`` (a regex; default newlines, commas and semicolons, with list
bullets removed); both sides are normalized (``normalize_answer`` when ``normalize``,
otherwise NFC and stripped) and de-duplicated. Precision = |found ∩ expected| / |found|,
recall = |found ∩ expected| / |expected|; an empty expected list with an empty output is a
perfect 1.0, one empty side alone is 0.

Pass rule: ``min`` / ``max`` on the F1 value.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Literal

from pydantic import field_validator

from assay.llm._score import (
    BoundScorer,
    CaseView,
    Score,
    compile_pattern,
    describe_expected,
    register_scorer,
    text_references,
)
from assay.llm.scorers._match import normalize_answer

_BULLET = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+")


def squad_f1(prediction: str, truth: str) -> tuple[float, float, float]:
    """SQuAD token F1 of one prediction against one answer: (f1, precision, recall)."""
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(truth).split()
    if not pred or not gold:
        same = float(pred == gold)
        return same, same, same
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0, 0.0, 0.0
    p, r = common / len(pred), common / len(gold)
    return 2 * p * r / (p + r), p, r


def set_f1(found: set[str], expected: set[str]) -> tuple[float, float, float]:
    """F1, precision and recall of a found set against an expected set (both empty: 1.0)."""
    if not found and not expected:
        return 1.0, 1.0, 1.0
    hit = len(found & expected)
    p = hit / len(found) if found else 0.0
    r = hit / len(expected) if expected else 0.0
    return (2 * p * r / (p + r) if hit else 0.0), p, r


@register_scorer
class SpanF1(BoundScorer):
    """Token F1 (SQuAD) or entity-set F1 of the output against the expected span(s)/entities."""

    kind: Literal["span_f1"] = "span_f1"
    mode: Literal["tokens", "entities"] = "tokens"
    delimiters: str = r"[\n,;]"
    normalize: bool = True

    @field_validator("delimiters")
    @classmethod
    def _compiles(cls, v: str) -> str:
        compile_pattern(v, "delimiters")
        return v

    def _norm(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return normalize_answer(text) if self.normalize else text.strip()

    def _score(self, case: CaseView, output: str) -> Score:
        if self.mode == "tokens":
            refs = text_references(case)
            if refs is None:
                return self._undetermined(f"{describe_expected(case)}; span_f1 needs the expected span(s)")
            scored = [squad_f1(unicodedata.normalize("NFC", output), unicodedata.normalize("NFC", r))
                      for r in refs]
            best = max(range(len(refs)), key=lambda i: scored[i][0])
            f1, p, r = scored[best]
            return self._ok(f1, self._passed(f1), f"token F1 {f1:.3f} (P {p:.3f}, R {r:.3f}) against "
                            f"{refs[best]!r}{self._rule_text()}", precision=p, recall=r, best_reference=best)
        exp = case.expected
        if exp is None:
            return self._undetermined(f"case {case.id!r} has no 'expected'; span_f1 (entities) needs the "
                                      "expected entity list")
        if isinstance(exp, str):
            exp = [exp]
        if not isinstance(exp, list | tuple) or not all(isinstance(e, str) for e in exp):
            return self._undetermined(f"case {case.id!r}: 'expected' must be a list of entity strings for "
                                      f"span_f1 (entities), got {type(case.expected).__name__}")
        expected = {self._norm(e) for e in exp} - {""}
        found = {self._norm(_BULLET.sub("", part)) for part in re.split(self.delimiters, output)} - {""}
        f1, p, r = set_f1(found, expected)
        missing = sorted(expected - found)
        extra = sorted(found - expected)
        return self._ok(f1, self._passed(f1),
                        f"entity F1 {f1:.3f} ({len(found & expected)} of {len(expected)} expected found, "
                        f"{len(extra)} extra){self._rule_text()}",
                        precision=p, recall=r, matched=sorted(found & expected), missing=missing, extra=extra)
