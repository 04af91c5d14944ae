"""Scores and the scorer registry: what every deterministic or model-based scorer returns.

A scorer is a frozen pydantic config (its YAML keys: ``kind``, an optional ``name`` and its
options) whose :meth:`ScorerConfig.score` turns one :class:`CaseView` (a case and one model
output) into one :class:`Score`. A score has one of three statuses:

    ok            value (and, where the scorer has a pass rule, passed) are set
    undetermined  the scorer cannot decide (no choice label found, the case has no context,
                  the expected value is missing): value and passed are None, the reason says why
    error         the provider gave no output: value and passed are None

Undetermined and error scores are counted and reported by the run; they are never averaged
in as NaN or zero (``Score`` refuses a value on them). Kinds are registered once with
:func:`register_scorer`; :func:`scorer_from_config` rebuilds any scorer from its dumped
config, and :meth:`ScorerConfig.config_hash` fingerprints it for the run record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from assay._errors import SpecError

OK, UNDETERMINED, ERROR = "ok", "undetermined", "error"
STATUSES = (OK, UNDETERMINED, ERROR)
NO_OUTPUT = "no output (provider error)"


@dataclass(frozen=True)
class Score:
    """The outcome of one scorer on one case: a value in the scorer's units, pass/fail where
    the scorer has a pass rule, a status and a one-line reason for the reviewer."""

    scorer: str
    value: float | None
    passed: bool | None
    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Score.status must be one of {', '.join(STATUSES)}; got {self.status!r}")
        if self.status != OK and (self.value is not None or self.passed is not None):
            raise ValueError(f"a {self.status} score carries no value and no pass/fail "
                             f"(scorer {self.scorer!r}); got value={self.value!r}, passed={self.passed!r}")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"scorer {self.scorer!r} produced a non-finite value {self.value!r}; "
                             "return an undetermined score instead")


@dataclass(frozen=True)
class CaseView:
    """What a scorer sees of one case and one output. ``output`` None: the provider failed."""

    id: str
    output: str | None
    expected: Any = None
    input: str | None = None
    context: list[dict[str, str]] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    #: the case's extra values (a canary token, detection strings, expected tool calls, ...)
    vars: dict[str, Any] = field(default_factory=dict)
    #: the chat the model received (system prompt included), as rendered
    messages: tuple[dict[str, str], ...] = ()


class ScorerConfig(BaseModel):
    """Base of every scorer config: ``kind`` (the registry key), an optional ``name``.

    Subclasses declare ``kind: Literal["..."] = "..."`` and their options as fields, and
    implement ``_score(case, output)``; :meth:`score` handles a missing output.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: str | None = None
    #: score only the cases carrying at least one of these tags; the others get no score row
    #: (they are not this scorer's cases, which is different from undetermined)
    only_tags: list[str] | None = None

    def applies(self, tags: tuple[str, ...]) -> bool:
        """Whether a case with ``tags`` is one of this scorer's cases."""
        return self.only_tags is None or any(t in self.only_tags for t in tags)

    @property
    def label(self) -> str:
        """The scorer's name in results: ``name`` if given, else ``kind``."""
        return self.name or self.kind

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the full config (defaults included, ``only_tags`` only
        when set, so earlier scorers keep their hash), for the run record."""
        text = json.dumps(self.model_dump(mode="json", exclude={"only_tags"} if self.only_tags is None
                                          else set()), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def score(self, case: CaseView) -> Score:
        """Score one output; a missing output (provider error) gives an ``error`` score."""
        if case.output is None:
            return Score(self.label, None, None, ERROR, NO_OUTPUT)
        return self._score(case, case.output)

    def _score(self, case: CaseView, output: str) -> Score:
        raise NotImplementedError(f"{type(self).__name__} must implement _score(case, output)")

    # helpers for subclasses: one place that builds each kind of outcome
    def _ok(self, value: float, passed: bool | None, reason: str, **details: Any) -> Score:
        return Score(self.label, float(value), passed, OK, reason, details)

    def _undetermined(self, reason: str, **details: Any) -> Score:
        return Score(self.label, None, None, UNDETERMINED, reason, details)

    def _missing_expected(self, case: CaseView, what: str) -> Score:
        return self._undetermined(f"case {case.id!r} has no 'expected' ({self.kind} needs {what})")


class BoundScorer(ScorerConfig):
    """A scorer with an optional pass rule on its value: ``min <= value <= max`` (either bound
    may be absent; with neither, ``passed`` is None)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BoundScorer:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self

    def _passed(self, value: float) -> bool | None:
        if self.min is None and self.max is None:
            return None
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def _rule_text(self) -> str:
        parts = [f">= {self.min:g}" if self.min is not None else "",
                 f"<= {self.max:g}" if self.max is not None else ""]
        text = " and ".join(p for p in parts if p)
        return f" (pass: {text})" if text else ""


SCORERS: dict[str, type[ScorerConfig]] = {}
S = TypeVar("S", bound=type[ScorerConfig])


def register_kind(registry: dict[str, Any], cls: Any, noun: str) -> Any:
    """Register ``cls`` in ``registry`` under its ``kind`` default (scorers, agent scorers). A
    kind already registered by another class is an error (rename the kind)."""
    field_info = cls.model_fields.get("kind")
    kind = field_info.default if field_info is not None else None
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{cls.__name__} must declare `kind: Literal['<name>'] = '<name>'` to be registered")
    if kind in registry and registry[kind] is not cls:
        raise ValueError(f"{noun} kind {kind!r} is already registered by {registry[kind].__qualname__}; "
                         f"give {cls.__qualname__} another kind")
    registry[kind] = cls
    return cls


def kind_class(registry: dict[str, Any], raw: Any, noun: str) -> Any:
    """The registered class of a config mapping's ``kind``; errors list the known kinds and
    suggest the closest."""
    known = sorted(registry)
    if not isinstance(raw, dict) or "kind" not in raw:
        raise SpecError(f"a {noun} is a mapping with a 'kind' key, one of {', '.join(known)}; got {raw!r}")
    kind = raw["kind"]
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = get_close_matches(str(kind), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown {noun} kind {kind!r}{hint} Known kinds: {', '.join(known)}")
    return cls


def register_scorer(cls: S) -> S:
    """Class decorator: register a scorer config under its ``kind`` default. A kind already
    registered by another class is an error (rename the kind)."""
    return register_kind(SCORERS, cls, "scorer")  # type: ignore[no-any-return]


def scorer_kinds() -> list[str]:
    """The registered scorer kinds (the safety kinds included), sorted."""
    import assay.safety.scorers  # noqa: F401

    return sorted(SCORERS)


def scorer_from_config(raw: dict[str, Any] | ScorerConfig) -> ScorerConfig:
    """Build a scorer from its config mapping (a suite's YAML entry or a dumped run record).
    Errors name the kind or key and list what is allowed."""
    if isinstance(raw, ScorerConfig):
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("kind"), str) and raw["kind"] not in SCORERS:
        import assay.safety.scorers  # noqa: F401 - registers the safety kinds on first use
    cls = kind_class(SCORERS, raw, "scorer")
    kind = raw["kind"]
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        from assay.spec import config_problems

        label = f"scorer {raw.get('name') or kind}: "
        raise SpecError(config_problems(exc, cls, lambda at: label + (f"{at}: " if at else ""),
                                        f"the {kind} scorer")) from None


def compile_pattern(pattern: str, what: str = "pattern") -> re.Pattern[str]:
    """``pattern`` compiled; a bad one is a ValueError naming ``what`` and the regex error
    (for scorer config validators, which pydantic turns into the key's message)."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what} {pattern!r} is not a valid regular expression: {exc}") from None


def text_references(case: CaseView) -> list[str] | None:
    """The case's expected value as a list of reference texts: a string, a number or a list of
    them. None when the expected value is missing or not text (the caller reports why)."""
    exp = case.expected
    if exp is None:
        return None
    if isinstance(exp, bool):
        return None
    if isinstance(exp, str | int | float):
        return [str(exp)]
    scalar = (str, int, float)
    if isinstance(exp, list | tuple) and exp and all(isinstance(e, scalar) and not isinstance(e, bool)
                                                     for e in exp):
        return [str(e) for e in exp]
    return None


def describe_expected(case: CaseView) -> str:
    """Why ``expected`` cannot serve as reference text, for an undetermined reason."""
    if case.expected is None:
        return f"case {case.id!r} has no 'expected'"
    if isinstance(case.expected, list | tuple) and not case.expected:
        return f"case {case.id!r} has an empty 'expected' list"
    return (f"case {case.id!r}: 'expected' must be a string or a list of strings, "
            f"got {type(case.expected).__name__}")
