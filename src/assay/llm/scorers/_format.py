"""Shape scorers: ``length`` (characters or words within bounds) and ``format`` (starts or
ends with given text, a number of lines, no Markdown).

Characters are Unicode code points after NFC normalization; words are whitespace-separated
tokens (``str.split``), so languages written without spaces count a run of text as one word.
Lines are ``str.splitlines`` of the stripped output (an empty output has 0 lines).

Markdown detection (``no_markdown``) looks for: ATX headings (``# ``), emphasis (``**x**``,
``__x__``), bullet and numbered list items at a line start, code fences and inline code,
links and images (``[x](y)``), and table rows (``| a | b |``). A single ``*`` or ``_`` is not
flagged (arithmetic, snake_case).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import Field, model_validator

from assay.llm._score import CaseView, Score, ScorerConfig, register_scorer

MARKDOWN = {
    "heading": re.compile(r"(?m)^\s{0,3}#{1,6}\s+\S"),
    "bold": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
    "bullet list": re.compile(r"(?m)^\s*[-*+]\s+\S"),
    "numbered list": re.compile(r"(?m)^\s*\d+[.)]\s+\S"),
    "code fence": re.compile(r"(?m)^\s*(```|~~~)"),
    "inline code": re.compile(r"`[^`\n]+`"),
    "link": re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)"),
    "table": re.compile(r"(?m)^\s*\|.*\|\s*$"),
}


def markdown_found(text: str) -> list[str]:
    """The Markdown constructs found in ``text`` (names from ``MARKDOWN``)."""
    return [name for name, rx in MARKDOWN.items() if rx.search(text)]


@register_scorer
class LengthCheck(ScorerConfig):
    """Value: the output's length in ``unit`` (chars or words); passed when within
    ``min``..``max`` (inclusive; None without bounds)."""

    kind: Literal["length"] = "length"
    unit: Literal["chars", "words"] = "words"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> LengthCheck:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def _score(self, case: CaseView, output: str) -> Score:
        text = unicodedata.normalize("NFC", output)
        n = len(text) if self.unit == "chars" else len(text.split())
        if self.min is None and self.max is None:
            return self._ok(n, None, f"{n} {self.unit}", length=n)
        too_short = self.min is not None and n < self.min
        too_long = self.max is not None and n > self.max
        passed = not (too_short or too_long)
        lo = self.min if self.min is not None else 0
        hi = self.max if self.max is not None else "∞"
        bound = (f"< min {self.min}" if too_short else f"> max {self.max}" if too_long
                 else f"within {lo}..{hi}")
        return self._ok(n, passed, f"{n} {self.unit} {bound}", length=n)


@register_scorer
class FormatCheck(ScorerConfig):
    """Checks the output's shape; value = share of the configured checks that hold, passed =
    all hold. At least one check must be configured."""

    kind: Literal["format"] = "format"
    starts_with: str | None = None
    ends_with: str | None = None
    min_lines: int | None = Field(default=None, ge=0)
    max_lines: int | None = Field(default=None, ge=0)
    no_markdown: bool = False
    strip: bool = True  # strip surrounding whitespace before starts_with / ends_with / lines
    case_sensitive: bool = True

    @model_validator(mode="after")
    def _some_check(self) -> FormatCheck:
        if (self.starts_with is None and self.ends_with is None and self.min_lines is None
                and self.max_lines is None and not self.no_markdown):
            raise ValueError("format needs at least one check: starts_with, ends_with, min_lines, max_lines "
                             "or no_markdown: true")
        if self.min_lines is not None and self.max_lines is not None and self.min_lines > self.max_lines:
            raise ValueError(f"min_lines ({self.min_lines}) is greater than max_lines ({self.max_lines})")
        return self

    def _score(self, case: CaseView, output: str) -> Score:
        text = unicodedata.normalize("NFC", output)
        if self.strip:
            text = text.strip()
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        checks: dict[str, bool] = {}
        failures: list[str] = []
        if self.starts_with is not None:
            ok = fold(text).startswith(fold(unicodedata.normalize("NFC", self.starts_with)))
            checks["starts_with"] = ok
            if not ok:
                failures.append(f"does not start with {self.starts_with!r}")
        if self.ends_with is not None:
            ok = fold(text).endswith(fold(unicodedata.normalize("NFC", self.ends_with)))
            checks["ends_with"] = ok
            if not ok:
                failures.append(f"does not end with {self.ends_with!r}")
        lines = len(text.splitlines())
        if self.min_lines is not None:
            checks["min_lines"] = lines >= self.min_lines
            if not checks["min_lines"]:
                failures.append(f"{lines} lines < min_lines {self.min_lines}")
        if self.max_lines is not None:
            checks["max_lines"] = lines <= self.max_lines
            if not checks["max_lines"]:
                failures.append(f"{lines} lines > max_lines {self.max_lines}")
        found: list[str] = []
        if self.no_markdown:
            found = markdown_found(text)
            checks["no_markdown"] = not found
            if found:
                failures.append(f"Markdown found: {', '.join(found)}")
        share = sum(checks.values()) / len(checks)
        passed = not failures
        reason = f"all {len(checks)} format checks hold" if passed else "; ".join(failures)
        return self._ok(share, passed, reason, checks=checks, lines=lines, markdown=found)
