"""Numeric answer scorer: extract a number from the output and compare it with the expected
number within a tolerance.

Extraction: with ``pattern`` (a regex), its first group (or the whole match) of the first
match; otherwise every number in the text (optional sign including the Unicode minus ``−``,
digits with optional thousands separators ``1,234,567``, optional decimals and exponent, a
leading ``.5``), of which ``pick`` chooses the last (the GSM8K convention: the final answer
comes last), the first, or the only one (several distinct numbers: undetermined).

Tolerance: passed when ``|x - expected| <= max(abs_tol, rel_tol * |expected|)`` (relative to
the expected value, not symmetric as in ``math.isclose``). Value 1.0 or 0.0.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, field_validator

from assay.llm._score import CaseView, Score, ScorerConfig, compile_pattern, register_scorer

NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+|(?<=\d))"
                    r"(?:[eE][-+]?\d+)?(?![\w])")


def parse_number(text: str) -> float | None:
    """One number from its text (thousands commas, Unicode minus); None if it is not one."""
    t = text.strip().replace("\u2212", "-").replace(",", "").replace("_", "")
    t = t.rstrip("%").strip()
    try:
        x = float(t)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def find_numbers(text: str) -> list[tuple[str, float]]:
    """Every number in the text, in order, as (matched text, value)."""
    out = []
    for m in NUMBER.finditer(text):
        x = parse_number(m.group(0))
        if x is not None:
            out.append((m.group(0), x))
    return out


@register_scorer
class NumericMatch(ScorerConfig):
    """The number in the output equals the expected number within ``abs_tol``/``rel_tol``.
    No number found: undetermined (``missing: fail`` scores it 0 instead)."""

    kind: Literal["numeric"] = "numeric"
    abs_tol: float = Field(default=1e-9, ge=0)
    rel_tol: float = Field(default=0.0, ge=0)
    pick: Literal["last", "first", "only"] = "last"
    pattern: str | None = None
    missing: Literal["undetermined", "fail"] = "undetermined"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            compile_pattern(v)
        return v

    def _expected(self, case: CaseView) -> float | None:
        exp = case.expected
        if isinstance(exp, bool):
            return None
        if isinstance(exp, int | float):
            return float(exp) if math.isfinite(exp) else None
        if isinstance(exp, str):
            return parse_number(exp)
        return None

    def _no_number(self, why: str) -> Score:
        if self.missing == "fail":
            return self._ok(0.0, False, why + " (scored as a failure: missing=fail)", extracted=None)
        return self._undetermined(why)

    def _score(self, case: CaseView, output: str) -> Score:
        expected = self._expected(case)
        if expected is None:
            if case.expected is None:
                return self._undetermined(f"case {case.id!r} has no 'expected'; "
                                          "numeric needs the expected number")
            return self._undetermined(f"case {case.id!r}: 'expected' {case.expected!r} "
                                      "is not a finite number")
        if self.pattern is not None:
            m = re.search(self.pattern, output)
            if m is None:
                return self._no_number(f"pattern {self.pattern!r} did not match the output")
            text = m.group(1) if m.re.groups else m.group(0)
            x = parse_number(text or "")
            if x is None:
                return self._no_number(f"pattern matched {text!r}, which is not a number")
        else:
            numbers = find_numbers(output)
            if not numbers:
                return self._no_number("no number in the output")
            if self.pick == "only" and len({v for _, v in numbers}) > 1:
                shown = ", ".join(t for t, _ in numbers[:5])
                return self._undetermined(f"several numbers in the output ({shown}) and pick=only",
                                          candidates=[v for _, v in numbers])
            text, x = numbers[-1] if self.pick == "last" else numbers[0]
        error = abs(x - expected)
        tol = max(self.abs_tol, self.rel_tol * abs(expected))
        passed = error <= tol
        verdict = "within" if passed else "outside"
        return self._ok(float(passed), passed,
                        f"extracted {x:g} vs expected {expected:g}: "
                        f"|diff| {error:.6g} {verdict} tolerance {tol:.6g}",
                        extracted=x, expected=expected, abs_error=error)
