"""Release gates: rules as data, decided on the result tables, combined into a verdict.

``gate(rules, tables)`` decides every rule and returns a :class:`Verdict`; new rule kinds
are added with :func:`register_rule`.
"""

from __future__ import annotations

import math

from assay.gates import _quality_rule  # noqa: F401  (registers the ``quality`` rule kind)
from assay.gates._analysis_rules import CalibrationRule, FairnessRule
from assay.gates._decide import GateTables, decide_rule
from assay.gates._outcome import (
    EXIT_CODES,
    FAIL,
    GUARDRAILS,
    HOLD,
    PASS,
    SHIP,
    SKIPPED,
    UNDECIDED,
    RuleOutcome,
    TargetOutcome,
    Verdict,
    decide_verdict,
)
from assay.gates._robustness_rules import BehaviourRule, LatencyRule, RobustnessRule
from assay.gates._rules import (
    RULES,
    MinRowsRule,
    NonInferiorityRule,
    Rule,
    RuleError,
    SuperiorityRule,
    ThresholdRule,
    parse_rules,
    register_rule,
)
from assay.gates._safety_rules import SafetyRule


def power_warnings(outcomes: list[RuleOutcome]) -> list[str]:
    """One line per target that this many rows cannot decide, with what would, and one per
    undecided rule with no target to decide (every slice below min_slice_size, or nothing
    to compare)."""
    out = []
    for r in outcomes:
        if r.status == UNDECIDED and not r.undecided:
            out.append(f"{r.name}: cannot be decided: {r.reason}")
        for t in r.undecided:
            where = t.slice if t.model in ("", None) else f"{t.model} / {t.slice}"
            line = f"{r.name} [{where}]: cannot be decided with {t.n} rows"
            if math.isfinite(t.mdd):
                line += f"; the minimum detectable difference here is {t.mdd:.3g}"
            if math.isfinite(t.rows_needed):
                line += (f"; about {int(t.rows_needed):,} rows would decide it if the observed "
                         "difference holds")
            elif t.note:
                line += f" ({t.note})"
            out.append(line)
    return out


def gate(rules: list[Rule], tables: GateTables) -> Verdict:
    """Decide every rule on the tables and combine the outcomes into a verdict."""
    outcomes = [decide_rule(r, tables) for r in rules]
    return decide_verdict(outcomes, power_warnings(outcomes))


__all__ = [
    "EXIT_CODES",
    "BehaviourRule",
    "CalibrationRule",
    "FairnessRule",
    "FAIL",
    "GUARDRAILS",
    "HOLD",
    "PASS",
    "RULES",
    "SHIP",
    "SKIPPED",
    "UNDECIDED",
    "GateTables",
    "LatencyRule",
    "MinRowsRule",
    "NonInferiorityRule",
    "RobustnessRule",
    "SafetyRule",
    "Rule",
    "RuleError",
    "RuleOutcome",
    "SuperiorityRule",
    "TargetOutcome",
    "ThresholdRule",
    "Verdict",
    "gate",
    "parse_rules",
    "power_warnings",
    "register_rule",
]
