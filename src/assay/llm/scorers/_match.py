"""String match scorers: ``exact`` (optionally SQuAD-normalized), ``contains`` and ``regex``.

Normalization (``exact`` with ``normalize: true``) is SQuAD v1.1's ``normalize_answer``
(Rajpurkar et al., 2016, the official evaluation script): lower-case, remove ASCII
punctuation (``string.punctuation``), remove the articles a/an/the, collapse whitespace.
Non-ASCII punctuation (``¿``, ``«``, ``…``) is kept, as in SQuAD. Every comparison first
puts both texts in Unicode NFC, so composed and decomposed accents compare equal.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Literal

from pydantic import field_validator

from assay.llm._score import (
    CaseView,
    Score,
    ScorerConfig,
    compile_pattern,
    describe_expected,
    register_scorer,
    text_references,
)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 ``normalize_answer``: lower, drop ASCII punctuation and articles, fix whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@register_scorer
class ExactMatch(ScorerConfig):
    """The output equals the expected answer (or one of a list of them); value 1.0 or 0.0,
    passed = matched. ``strip`` trims surrounding whitespace; ``normalize`` applies SQuAD's
    normalize_answer (implies strip)."""

    kind: Literal["exact"] = "exact"
    normalize: bool = False
    strip: bool = True

    def _prep(self, text: str) -> str:
        text = _nfc(text)
        if self.normalize:
            return normalize_answer(text)
        return text.strip() if self.strip else text

    def _score(self, case: CaseView, output: str) -> Score:
        refs = text_references(case)
        if refs is None:
            return self._undetermined(f"{describe_expected(case)}; exact needs the expected answer")
        got = self._prep(output)
        for ref in refs:
            if got == self._prep(ref):
                return self._ok(1.0, True, f"output matches expected {_short(ref)}", compared=got)
        how = " after normalization" if self.normalize else ""
        return self._ok(0.0, False, f"output {_short(got)} differs from expected {_short(refs[0])}{how}"
                        + (f" (and {len(refs) - 1} other answers)" if len(refs) > 1 else ""), compared=got)


@register_scorer
class Contains(ScorerConfig):
    """The output contains given substrings: ``mode`` any (at least one), all, or none (none of
    them). ``text`` is the substring or list; when absent, the case's expected value is used.
    Value 1.0 when the rule holds, else 0.0."""

    kind: Literal["contains"] = "contains"
    text: str | tuple[str, ...] | None = None
    mode: Literal["any", "all", "none"] = "any"
    case_sensitive: bool = True

    @field_validator("text")
    @classmethod
    def _not_empty(cls, v: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        items = [v] if isinstance(v, str) else list(v or ())
        if v is not None and (not items or any(t == "" for t in items)):
            raise ValueError("text must be a non-empty string or a list of non-empty strings")
        return v

    def _score(self, case: CaseView, output: str) -> Score:
        if self.text is not None:
            needles = [self.text] if isinstance(self.text, str) else list(self.text)
        else:
            refs = text_references(case)
            if refs is None:
                return self._undetermined(f"{describe_expected(case)}; contains needs 'text' in its "
                                          "config or the expected substring(s)")
            needles = refs
        hay = _nfc(output) if self.case_sensitive else _nfc(output).casefold()
        found = [n for n in needles if (_nfc(n) if self.case_sensitive else _nfc(n).casefold()) in hay]
        missing = [n for n in needles if n not in found]
        passed = {"any": bool(found), "all": not missing, "none": not found}[self.mode]
        if self.mode == "none":
            reason = (f"found forbidden {found[0]!r}" if found
                      else f"none of {len(needles)} forbidden strings found")
        elif passed:
            reason = f"found {', '.join(map(repr, found[:3]))}" + (" (all)" if self.mode == "all" else "")
        else:
            reason = f"missing {', '.join(map(repr, missing[:3]))}" + (
                f" ({len(missing)} of {len(needles)})" if len(needles) > 1 else "")
        return self._ok(float(passed), passed, reason, found=found, missing=missing)


_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL}


@register_scorer
class RegexMatch(ScorerConfig):
    """The output matches (``expect: match``) or does not match (``expect: no_match``) a
    regular expression (Python ``re``; ``fullmatch`` anchors it to the whole output).
    Value 1.0 when the rule holds, else 0.0."""

    kind: Literal["regex"] = "regex"
    pattern: str
    expect: Literal["match", "no_match"] = "match"
    fullmatch: bool = False
    flags: tuple[Literal["IGNORECASE", "MULTILINE", "DOTALL"], ...] = ()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        compile_pattern(v)
        return v

    def _score(self, case: CaseView, output: str) -> Score:
        flags = 0
        for f in self.flags:
            flags |= _FLAGS[f]
        rx = re.compile(self.pattern, flags)
        m = rx.fullmatch(output) if self.fullmatch else rx.search(output)
        passed = (m is not None) == (self.expect == "match")
        if m is not None:
            reason = f"pattern matched {_short(m.group(0))} at {m.start()}"
        else:
            reason = "pattern did not match" + (" the whole output" if self.fullmatch else "")
        if not passed:
            reason += f" (expected {self.expect.replace('_', ' ')})"
        return self._ok(float(passed), passed, reason, match=None if m is None else m.group(0))
