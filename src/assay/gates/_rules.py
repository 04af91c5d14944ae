"""Gate rules: what a release must satisfy, as data, each kind registered once.

A rule kind is a pydantic model (its YAML keys) plus a ``decide`` function that turns the
result tables into a :class:`~assay.gates._outcome.RuleOutcome`. Adding a kind (fairness,
robustness, drift, LLM scores) is one ``register_rule`` call next to the new capability;
the spec, the verdict, the summary and the exit codes need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator

from assay._errors import SpecError

Severity = Literal["hold", "warn"]


class Rule(BaseModel):
    """Keys every rule has. ``slices``: "overall", "all", or a list of slice labels
    (``channel=broker``) and dimension labels (``channel``: every level of it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    name: str | None = None
    severity: Severity = "hold"
    slices: Literal["overall", "all"] | list[str] = "overall"
    #: slices smaller than this are skipped and listed (default: the spec's min_slice_size)
    min_slice_size: int | None = Field(default=None, ge=1)
    #: how a rule over several slices controls false holds: Holm across the slices, or none
    simultaneous: Literal["holm", "none"] = "holm"

    @model_serializer(mode="wrap")
    def _keep_kind(self, handler: Any) -> dict[str, Any]:
        """Always write ``rule`` (even as a default), so a dumped rule parses back."""
        return {"rule": self.rule, **handler(self)}

    @property
    def label(self) -> str:
        return self.name or self.describe()

    def describe(self) -> str:
        return self.rule


class BoundRule(Rule):
    """An absolute ``min``/``max`` on a metric of a model, judged on the value or on a CI
    bound (the shared keys of ``threshold``, ``fairness`` and ``calibration`` rules)."""

    metric: str
    model: str | None = None  # default: every candidate (or the only model)
    min: float | None = None
    max: float | None = None
    #: what is compared with the bound (YAML 1.1 reads a key named ``on`` as true; it is
    #: accepted as ``judge``)
    judge: Literal["value", "ci_low", "ci_high"] = "value"

    @model_validator(mode="after")
    def _a_bound(self) -> BoundRule:
        if self.min is None and self.max is None:
            raise ValueError(f"a {self.rule} rule needs 'min' or 'max' (or both)")
        return self

    def describe(self) -> str:
        text = self.metric if self.judge == "value" else f"{self.judge}({self.metric})"
        bounds = [f">= {self.min:g}" if self.min is not None else "",
                  f"<= {self.max:g}" if self.max is not None else ""]
        return f"{text} {' and '.join(b for b in bounds if b)}"


class ThresholdRule(BoundRule):
    """An absolute bound on a metric of a model in the result table.

    ``judge: ci_low`` with ``min`` asks for evidence that the metric is above the floor;
    ``judge: ci_high`` with ``min`` fails only on evidence that it is below (and is the kind that a
    guard over many slices adjusts with Holm). ``max`` mirrors ``min``.
    """

    rule: Literal["threshold"] = "threshold"


class NonInferiorityRule(Rule):
    """The candidate may be worse than the baseline by at most ``margin`` (metric units),
    decided on the interval of the paired difference."""

    rule: Literal["non_inferiority"] = "non_inferiority"
    metric: str
    margin: float = Field(ge=0)
    candidate: str | None = None  # default: every candidate

    def describe(self) -> str:
        return f"{self.metric}: candidate no worse than baseline by more than {self.margin:g}"


class SuperiorityRule(Rule):
    """The candidate beats the baseline by more than ``margin`` (default 0)."""

    rule: Literal["superiority"] = "superiority"
    metric: str
    margin: float = Field(default=0.0, ge=0)
    candidate: str | None = None

    def describe(self) -> str:
        more = f" by more than {self.margin:g}" if self.margin else ""
        return f"{self.metric}: candidate better than baseline{more}"


class MinRowsRule(Rule):
    """At least ``min`` evaluated rows (overall, or in each named slice)."""

    rule: Literal["min_rows"] = "min_rows"
    min: int = Field(ge=1)

    def describe(self) -> str:
        return f"at least {self.min} evaluated rows"


class RuleError(SpecError, ValueError):
    """A gate rule does not validate. A :class:`~assay._errors.SpecError` (exit code 2) for
    callers that gate a stored result (``EvaluationResult.gate``), and a ``ValueError`` so
    that pydantic reports it with the rest of the spec when the rules are part of one."""


@dataclass(frozen=True)
class RuleKind:
    config: type[Rule]
    decide: Callable[..., Any]


RULES: dict[str, RuleKind] = {}


def register_rule(kind: str, config: type[Rule], decide: Callable[..., Any]) -> None:
    """Register a rule kind: its config model (the YAML keys) and its decide function,
    ``decide(rule, tables: GateTables) -> RuleOutcome``."""
    RULES[kind] = RuleKind(config, decide)


def parse_rules(raw: Any) -> list[Rule]:
    """Validate the ``gates:`` list; errors name the rule's index, key and the fix."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RuleError("gates must be a list of rules, e.g. [{rule: non_inferiority, metric: "
                        "roc_auc, margin: 0.01}]")
    out: list[Rule] = []
    for i, item in enumerate(raw):
        if isinstance(item, Rule):
            out.append(item)
            continue
        if not isinstance(item, dict) or "rule" not in item:
            raise RuleError(f"gates[{i}]: each rule is a mapping with a 'rule' key, one of "
                            f"{', '.join(RULES)}")
        kind = RULES.get(item["rule"])
        if kind is None:
            close = get_close_matches(str(item["rule"]), list(RULES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RuleError(f"gates[{i}].rule: unknown rule kind {item['rule']!r}{hint} "
                            f"Allowed: {', '.join(RULES)}")
        # `on` is accepted for `judge`: YAML 1.1 reads that key as the boolean true, while JSON
        # specs and Python mappings keep the string "on"
        aliases = [k for k in item if k is True or k == "on"]
        if aliases:
            key = "judge" if "judge" in kind.config.model_fields else "on"
            if key == "judge" and ("judge" in item or len(aliases) > 1):
                raise RuleError(f"gates[{i}]: give 'judge' once (or its alias 'on'), not both")
            item = {(key if k is True or k == "on" else k): v for k, v in item.items()}
        try:
            out.append(kind.config.model_validate(item))
        except ValidationError as exc:
            from assay.spec import config_problems

            # an empty key path is the rule as a whole: gates[i]: ...
            raise RuleError(config_problems(exc, kind.config,
                                            lambda at, i=i: f"gates[{i}]{'.' + at if at else ''}: ",
                                            f"a {item['rule']} rule")) from None
    return out
