"""Choice extraction: which of a fixed set of labels (A/B/C/D, or words such as
positive/negative) the output chose, compared with the expected label.

Two passes, the first that finds anything decides:

1. explicit answer statements: ``Answer: B``, ``The answer is (B)``, ``correct option is B``,
   ``**Answer:** B``, ``Final answer: B`` (the keyword is matched case-insensitively);
2. label markers: the whole output is the label (``B``, ``(B)``, ``B.``, ``**B**``), a label in
   parentheses anywhere (``(B)``), or a label starting a line followed by ``.``, ``)`` or ``:``.
   For word labels (any label longer than one character) the second pass is every whole-word
   occurrence of a label instead.

Exactly one distinct label found: ok (value 1.0 when it equals ``expected``). None or several
distinct labels: undetermined with the candidates in the reason (``missing: fail`` scores the
"none found" case 0 instead). Single-letter labels are matched case-sensitively (so the
article "a" is not read as choice A) unless ``case_sensitive: false``; word labels are matched
case-insensitively unless ``case_sensitive: true``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator

from assay.llm._score import CaseView, Score, ScorerConfig, register_scorer

_KEYWORD = r"(?i:(?:final\s+|correct\s+|best\s+)?(?:answer|option|choice))"


@register_scorer
class ChoiceMatch(ScorerConfig):
    """Extract the chosen label and compare it with the expected label; value 1.0 or 0.0."""

    kind: Literal["choice"] = "choice"
    choices: tuple[str, ...] = ("A", "B", "C", "D")
    case_sensitive: bool | None = None  # None: letters case-sensitive, words not
    missing: Literal["undetermined", "fail"] = "undetermined"

    @field_validator("choices")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) < 2:
            raise ValueError("choices needs at least two labels")
        stripped = [c.strip() for c in v]
        if any(not c for c in stripped):
            raise ValueError("choices must be non-empty labels")
        if len({c.casefold() for c in stripped}) != len(stripped):
            raise ValueError(f"choices must be distinct (ignoring case): {list(v)}")
        return tuple(stripped)

    @property
    def _letters(self) -> bool:
        return all(len(c) == 1 for c in self.choices)

    @property
    def _sensitive(self) -> bool:
        return self._letters if self.case_sensitive is None else self.case_sensitive

    def _canon(self, text: str) -> str | None:
        """The configured label that ``text`` names, or None."""
        for c in self.choices:
            if (text == c) if self._sensitive else (text.casefold() == c.casefold()):
                return c
        return None

    def extract(self, output: str) -> tuple[list[str], str]:
        """The distinct labels found (in order of appearance) and which pass found them."""
        alt = "|".join(re.escape(c) for c in sorted(self.choices, key=len, reverse=True))
        lab = f"(?:{alt})" if self._sensitive else f"(?i:{alt})"
        b = r"(?<![\w])"  # a label is not the tail of a word
        e = r"(?![\w])"
        strong = re.compile(
            rf"{_KEYWORD}\s*(?:is|would be|:|=|-)?\s*(?:is\s*)?:?\s*[*_]*\s*[(\[]?\s*{b}({lab}){e}")
        found = self._unique(m.group(1) for m in strong.finditer(output))
        if found:
            return found, "answer statement"
        bare = re.fullmatch(rf"\s*[*_]*\s*[(\[]?\s*({lab})\s*[)\].:]?\s*[*_]*\s*", output)
        if bare:
            return self._unique([bare.group(1)]), "whole output"
        if self._letters:
            markers = re.compile(rf"[(\[]\s*({lab})\s*[)\]]|(?m:^\s*[*_]*({lab})[*_]*\s*[.):])")
            found = self._unique(m.group(1) or m.group(2) for m in markers.finditer(output))
            return found, "label markers"
        words = re.compile(rf"{b}({lab}){e}")
        return self._unique(m.group(1) for m in words.finditer(output)), "label words"

    def _unique(self, labels: object) -> list[str]:
        out: list[str] = []
        for text in labels:  # type: ignore[attr-defined]
            c = self._canon(text)
            if c is not None and c not in out:
                out.append(c)
        return out

    def _score(self, case: CaseView, output: str) -> Score:
        if case.expected is None:
            return self._undetermined(f"case {case.id!r} has no 'expected'; choice needs the expected label")
        expected = self._canon(str(case.expected).strip())
        if expected is None:
            return self._undetermined(f"case {case.id!r}: 'expected' {case.expected!r} is not one of the "
                                      f"choices {', '.join(self.choices)}")
        found, how = self.extract(output)
        if not found:
            why = f"no choice label ({', '.join(self.choices)}) found in the output"
            if self.missing == "fail":
                return self._ok(0.0, False, why + " (scored as a failure: missing=fail)", extracted=None)
            return self._undetermined(why)
        if len(found) > 1:
            return self._undetermined(f"ambiguous: several labels found by {how}: {', '.join(found)}",
                                      candidates=found)
        passed = found[0] == expected
        return self._ok(float(passed), passed, f"chose {found[0]} ({how}); expected {expected}",
                        extracted=found[0], expected=expected)
