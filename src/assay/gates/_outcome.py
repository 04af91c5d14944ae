"""What a gate decided: per target (model x slice), per rule, and the verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, UNDECIDED, SKIPPED = "pass", "fail", "undecided", "skipped"

SHIP, GUARDRAILS, HOLD = "ship", "ship_with_guardrails", "hold"
#: verdict -> process exit code (2 usage/input error and 4 internal error are raised elsewhere)
EXIT_CODES = {SHIP: 0, GUARDRAILS: 3, HOLD: 1}
HEADLINES = {SHIP: "SHIP", GUARDRAILS: "SHIP WITH GUARDRAILS", HOLD: "HOLD"}


@dataclass
class TargetOutcome:
    """One rule on one (model, slice): the numbers that decided it.

    ``observed`` is the judged number (a metric value, or candidate - baseline), with its
    interval; ``bound`` the line it must stay on the right side of (``direction`` ">=" or
    "<="); ``p_fail`` the (adjusted, when the rule spans slices) one-sided p-value of the
    evidence against the rule. ``mdd`` is the minimum detectable difference at this size and
    ``rows_needed`` roughly how many rows would decide an undecided target.
    """

    model: str
    slice: str
    status: str
    observed: float = math.nan
    low: float = math.nan
    high: float = math.nan
    bound: float = math.nan
    direction: str = ">="
    n: int = 0
    p_fail: float = math.nan
    mdd: float = math.nan
    rows_needed: float = math.nan
    note: str = ""


@dataclass
class RuleOutcome:
    """One rule's status (the worst of its targets) and a one-line reason with numbers."""

    name: str
    rule: str
    severity: str
    status: str
    reason: str
    metric: str = ""
    targets: list[TargetOutcome] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> list[TargetOutcome]:
        return [t for t in self.targets if t.status == FAIL]

    @property
    def undecided(self) -> list[TargetOutcome]:
        return [t for t in self.targets if t.status == UNDECIDED]


@dataclass
class Verdict:
    """ship / ship_with_guardrails / hold, every rule's outcome, and power warnings."""

    decision: str
    rules: list[RuleOutcome]
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    @property
    def headline(self) -> str:
        return HEADLINES[self.decision]

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return clean({"decision": self.decision, "exit_code": self.exit_code,
                      "rules": [asdict(r) for r in self.rules], "warnings": self.warnings})


def decide_verdict(rules: list[RuleOutcome], warnings: list[str]) -> Verdict:
    """Any failing hold rule: hold. Otherwise any failing warn rule or any rule that cannot
    be decided with this data: ship with guardrails. Otherwise ship."""
    if any(r.status == FAIL and r.severity == "hold" for r in rules):
        decision = HOLD
    elif any(r.status in (FAIL, UNDECIDED) for r in rules):
        decision = GUARDRAILS
    else:
        decision = SHIP
    return Verdict(decision, rules, warnings)
