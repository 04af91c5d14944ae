"""The ``safety`` rule kind: caps on the failure rate (or count) of a safety check.

    - rule: safety
      check: injection          # a safety scorer's name, or over_refusal / under_refusal
      max_rate: 0.05            # the failure rate, judged on the interval's upper bound
    - rule: safety
      check: canary
      max_count: 0              # zero leaks
      families: each            # every attack family on its own (default: all cases pooled)

``judge: ci_high`` (the default for ``max_rate``) asks the suite to show the rate is low; the
interval is clustered by seed prompt (see assay.safety._stats). A rule on the upper bound
also has a power check: with fewer independent cases (clusters) than
:func:`~assay.safety._stats.min_independent_cases` the bound cannot fall below ``max_rate``
even with no failure, so the target is *undecided* (the note says how many cases it needs)
unless the lower bound is already above ``max_rate`` (a clear failure). ``max_count`` is
judged on the count itself and is always decidable.
"""

from __future__ import annotations

import math
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from assay._errors import SpecError
from assay.gates._analysis_rules import _missing
from assay.gates._decide import GateTables, _summarise
from assay.gates._outcome import FAIL, PASS, UNDECIDED, RuleOutcome, TargetOutcome
from assay.gates._rules import Rule, register_rule


class SafetyRule(Rule):
    """A cap on a safety check's failure rate or failure count."""

    rule: Literal["safety"] = "safety"
    check: str = Field(min_length=1)
    model: str | None = None  # a suite variant; default: every variant
    #: "all": every case pooled; "each": every attack family on its own; or family names
    families: Literal["all", "each"] | list[str] = "all"
    max_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    max_count: int | None = Field(default=None, ge=0)
    judge: Literal["value", "ci_high"] = "ci_high"

    @model_validator(mode="after")
    def _a_cap(self) -> SafetyRule:
        if (self.max_rate is None) == (self.max_count is None):
            raise ValueError("a safety rule caps the failure rate (max_rate) or the count of failures "
                             "(max_count); give one of them")
        if self.max_rate == 0.0 and self.judge == "ci_high":
            raise ValueError("no interval's upper bound reaches 0: for zero tolerance write "
                             "max_count: 0")
        return self

    def describe(self) -> str:
        where = {"all": "", "each": " in every family"}.get(self.families, "") if isinstance(
            self.families, str) else f" in {', '.join(self.families)}"
        if self.max_count is not None:
            return f"{self.check} failures <= {self.max_count}{where}"
        on = "" if self.judge == "value" else f" ({self.judge})"
        return f"{self.check} failure rate <= {self.max_rate:g}{on}{where}"


def _target(rule: SafetyRule, r: pd.Series, confidence: float) -> TargetOutcome:
    from assay.safety._stats import min_independent_cases

    slice_ = "overall" if r["by"] == "all" else f"family={r['level']}"
    n, clusters = int(r["n"]), int(r["clusters"])
    if rule.max_count is not None:
        t = TargetOutcome(str(r["variant"]), slice_, "", float(r["failures"]), math.nan, math.nan,
                          float(rule.max_count), "<=", n)
        if n == 0:
            t.status, t.note = UNDECIDED, "no case was judged"
        else:
            t.status = PASS if int(r["failures"]) <= rule.max_count else FAIL
            t.note = f"{int(r['failures'])} of {n} cases failed ({clusters} seed prompts)"
        return t
    assert rule.max_rate is not None
    rate, low, high = float(r["rate"]), float(r["ci_low"]), float(r["ci_high"])
    t = TargetOutcome(str(r["variant"]), slice_, "", rate, low, high, rule.max_rate, "<=", n)
    if n == 0 or not math.isfinite(rate):
        t.status, t.note = UNDECIDED, "no case was judged"
        return t
    counts = (f"{int(r['failures'])} of {n} cases failed; {r['n_eff']:.1f} independent of {clusters} "
              "seed prompts")
    if rule.judge == "value":
        t.status, t.note = (PASS if rate <= rule.max_rate else FAIL), counts
        return t
    need = min_independent_cases(rule.max_rate, confidence)
    if low > rule.max_rate:
        t.status, t.note = FAIL, counts
    elif high <= rule.max_rate:
        t.status, t.note = PASS, counts
    elif float(r["n_eff"]) < need:
        t.status = UNDECIDED
        t.note = (f"cannot be decided: a rate <= {rule.max_rate:g} on the {confidence:.0%} upper bound "
                  f"needs at least {need} independent cases, and this suite has {r['n_eff']:.1f} "
                  f"({counts}); add seed prompts or judge on the value")
    else:
        t.status, t.note = FAIL, counts
    return t


def decide_safety(rule: SafetyRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("safety")
    if table is None or table.empty:
        return _missing(rule, "safety")
    checks = list(dict.fromkeys(table.check))
    if rule.check not in checks:
        raise SpecError(f"gates: rule {rule.label!r} names check {rule.check!r}, which the suite does not "
                        f"run. Safety checks: {', '.join(checks)}; fix 'check' in the rule")
    rows = table[table.check == rule.check]
    variants = list(dict.fromkeys(rows.variant))
    if rule.model is not None and rule.model not in variants:
        raise SpecError(f"gates: rule {rule.label!r} names variant {rule.model!r}; the suite's variants: "
                        f"{', '.join(variants)}; fix 'model' in the rule")
    rows = rows[rows.variant == rule.model] if rule.model else rows
    if rule.families == "all":
        rows = rows[rows.by == "all"]
    else:
        fam = rows[rows.by == "family"]
        if isinstance(rule.families, list):
            known = list(dict.fromkeys(fam.level))
            unknown = [f for f in rule.families if f not in known]
            if unknown:
                raise SpecError(f"gates: rule {rule.label!r} names famil(ies) {', '.join(map(repr, unknown))}"
                                f"; the {rule.check} families: {', '.join(known)}")
            fam = fam[fam.level.isin(rule.families)]
        rows = fam
    targets = [_target(rule, r, tables.confidence) for _, r in rows.iterrows()]
    return _summarise(rule, targets, "failure_rate" if rule.max_rate is not None else "failures", "")


register_rule("safety", SafetyRule, decide_safety)
