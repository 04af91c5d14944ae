"""Citation scorer: the output cites its sources with markers such as ``[doc1]``, ``[1]`` or
``[1, 3]``, every cited id exists among the case's context documents, and which share of the
context documents is cited.

Markers: ``pattern`` (a regex whose first group holds one or more ids separated by ``,`` or
``;``); the default finds ``[...]`` groups of ids made of letters, digits, ``_ . : -``, not
followed by ``(`` (so Markdown links ``[text](url)`` are not citations). Ids are matched to the
context by ``match``: ``id`` (the document's ``id``), ``position`` (a 1-based number into the
context list), or ``auto`` (the id first; a number that is no document's id is read as a
position).

Value: the share of context documents cited (0..1). Passed: at least one citation (when
``require_citation``), no cited id unknown to the context, and the share >= ``min_coverage``
when given. A case without context documents is undetermined (nothing to check against).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from assay.llm._score import CaseView, Score, ScorerConfig, compile_pattern, register_scorer

DEFAULT_PATTERN = r"\[\s*([A-Za-z0-9_.:\-]+(?:\s*[,;]\s*[A-Za-z0-9_.:\-]+)*)\s*\](?!\()"


@register_scorer
class Citations(ScorerConfig):
    """Citation markers present, cited ids exist in the context, share of the context cited."""

    kind: Literal["citations"] = "citations"
    pattern: str = DEFAULT_PATTERN
    match: Literal["auto", "id", "position"] = "auto"
    require_citation: bool = True
    min_coverage: float | None = Field(default=None, ge=0, le=1)

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, v: str) -> str:
        rx = compile_pattern(v)
        if rx.groups < 1:
            raise ValueError(f"pattern {v!r} needs a group that captures the cited id(s)")
        return v

    def cited_ids(self, output: str) -> list[str]:
        """The ids cited in the output, distinct, in order of first appearance."""
        out: list[str] = []
        for m in re.finditer(self.pattern, output):
            for part in re.split(r"\s*[,;]\s*", (m.group(1) or "").strip()):
                if part and part not in out:
                    out.append(part)
        return out

    def _resolve(self, cited: str, ids: list[str]) -> str | None:
        if self.match in ("auto", "id") and cited in ids:
            return cited
        if self.match in ("auto", "position") and cited.isdigit() and 1 <= int(cited) <= len(ids):
            return ids[int(cited) - 1]
        return None

    def _score(self, case: CaseView, output: str) -> Score:
        if not case.context:
            return self._undetermined(f"case {case.id!r} has no context documents; citations need them")
        ids = [str(doc.get("id", i + 1)) for i, doc in enumerate(case.context)]
        cited = self.cited_ids(output)
        resolved: dict[str, str] = {}
        unknown: list[str] = []
        for c in cited:
            r = self._resolve(c, ids)
            if r is None:
                unknown.append(c)
            else:
                resolved[c] = r
        covered = sorted(set(resolved.values()), key=ids.index)
        coverage = len(covered) / len(set(ids))
        failures = []
        if self.require_citation and not cited:
            failures.append("no citation markers")
        if unknown:
            failures.append(f"cited ids not in the context: {', '.join(unknown)}")
        if self.min_coverage is not None and coverage < self.min_coverage:
            failures.append(f"cites {len(covered)} of {len(set(ids))} context documents "
                            f"({coverage:.0%} < min_coverage {self.min_coverage:.0%})")
        passed = not failures
        listed = ", ".join(covered) or "none"
        reason = (f"cites {len(covered)} of {len(set(ids))} context documents ({listed})"
                  if passed else "; ".join(failures))
        return self._ok(coverage, passed, reason, cited=cited, unknown=unknown, covered=covered)
