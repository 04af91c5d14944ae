"""The ``quality`` rule kind: hold (or warn) on failed data-quality checks.

``{rule: quality, checks: all | [names], fail_on: fail | warn}`` fails when any selected
check (a check name, or a family such as ``duplicates`` or ``leakage``) has status
``fail`` (or, with ``fail_on: warn``, ``warn`` too). It is undecided when none of the
selected checks ran (skipped, not configured, or quality checks turned off), since then
the data says nothing either way.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from assay.gates._decide import GateTables
from assay.gates._outcome import FAIL, PASS, UNDECIDED, RuleOutcome, TargetOutcome
from assay.gates._rules import Rule, register_rule


class QualityRule(Rule):
    """Data-quality checks (see ``assay.quality``) must not fail (or warn)."""

    rule: Literal["quality"] = "quality"
    checks: Literal["all"] | list[str] = "all"
    fail_on: Literal["fail", "warn"] = "fail"

    @field_validator("checks", mode="before")
    @classmethod
    def _known(cls, v: Any) -> Any:
        from assay.quality._config import check_names

        return check_names(v)

    def describe(self) -> str:
        what = "every data-quality check" if self.checks == "all" else \
            f"data-quality checks {', '.join(self.checks)}"
        return f"{what} without {'failures' if self.fail_on == 'fail' else 'warnings or failures'}"


def decide_quality(rule: QualityRule, tables: GateTables) -> RuleOutcome:
    from assay.quality import expand_checks

    config = rule.model_dump(mode="json")

    def outcome(status: str, reason: str, targets: list[TargetOutcome] | None = None) -> RuleOutcome:
        return RuleOutcome(rule.label, rule.rule, rule.severity, status, reason, "", targets or [], config)

    table = tables.analyses.get("quality")
    if table is None or table.empty:
        return outcome(UNDECIDED, "no data-quality table: the checks did not run (quality.enabled is false)")
    wanted = expand_checks(rule.checks, "")
    rows = table[table.check.isin(wanted)]
    ran = rows[rows.status != "skipped"]
    if ran.empty:
        why = "; ".join(f"{r.check}: {r.message}" for r in rows.itertuples()) or \
            "they are not in quality.checks"
        return outcome(UNDECIDED, f"none of the selected checks ran ({why})")
    bad_status = {"fail"} if rule.fail_on == "fail" else {"fail", "warn"}
    bad = ran[ran.status.isin(bad_status)]
    targets = [TargetOutcome(model="", slice=" ".join(x for x in (r.check, r.column, r.level) if x),
                             status=FAIL, observed=float(r.value), n=int(r.n), note=r.message)
               for r in bad.itertuples()]
    skipped = len(rows) - len(ran)
    tail = f" ({skipped} skipped)" if skipped else ""
    if targets:
        names = ", ".join(t.slice for t in targets[:4]) + (f", … {len(targets) - 4} more" if len(targets) > 4
                                                             else "")
        return outcome(FAIL, f"{len(targets)} of {len(ran)} check(s) {' or '.join(sorted(bad_status))}: "
                       f"{names}{tail}", targets)
    warned = int((ran.status == "warn").sum())
    note = f", {warned} warn" if warned and rule.fail_on == "fail" else ""
    return outcome(PASS, f"{len(ran)} check(s) ran, none {' or '.join(sorted(bad_status))}{note}{tail}")


register_rule("quality", QualityRule, decide_quality)
