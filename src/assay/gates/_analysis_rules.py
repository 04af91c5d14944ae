"""Rule kinds on the analyses' tables: fairness disparities and calibration errors.

Both are absolute bounds like ``threshold`` rules (``min``/``max`` judged on the value or a
CI bound), decided by the same code on a result-shaped view of their table.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from assay._errors import SpecError
from assay.gates._decide import GateTables, decide_bounds
from assay.gates._outcome import UNDECIDED, RuleOutcome
from assay.gates._rules import BoundRule, Rule, register_rule


class FairnessRule(BoundRule):
    """A bound on a fairness disparity (e.g. ``equalized_odds_difference <= 0.05`` on the CI's
    upper bound), per fairness attribute (default: every attribute and the intersection)."""

    rule: Literal["fairness"] = "fairness"
    attributes: list[str] | None = None
    variant: Literal["original", "reweighed"] = "original"


class CalibrationRule(BoundRule):
    """A bound on a calibration metric of the calibration analysis (e.g. ``ece_equal_mass``),
    per slice like a threshold rule; ``variant`` gates a what-if remedy instead."""

    rule: Literal["calibration"] = "calibration"
    variant: Literal["original", "platt", "isotonic", "temperature"] = "original"


def _missing(rule: Rule, what: str) -> RuleOutcome:
    return RuleOutcome(rule.label, rule.rule, rule.severity, UNDECIDED,
                       f"no {what} table: add a '{what}' section to the spec",
                       getattr(rule, "metric", ""), [], rule.model_dump(mode="json"))


def _check_metric(rule: BoundRule, table: pd.DataFrame, what: str) -> None:
    if rule.metric not in set(table.metric):
        raise SpecError(f"gates: rule {rule.label!r} needs {what} metric {rule.metric!r}, which was "
                        f"not computed. {what.capitalize()} metrics: "
                        f"{', '.join(dict.fromkeys(table.metric))}; fix 'metric' in the rule")


def _models(rule: BoundRule, tables: GateTables) -> list[str]:
    return [rule.model] if rule.model else (tables.candidates or tables.models)


def decide_fairness(rule: FairnessRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("fairness")
    if table is None or table.empty:
        return _missing(rule, "fairness")
    _check_metric(rule, table, "fairness")
    view = table[table.variant == rule.variant].rename(columns={"attribute": "slice"})
    groups = tables.analyses.get("fairness_groups")
    if groups is not None and not groups.empty:  # a disparity's n: the rows of its groups
        sizes = groups.drop_duplicates(["model", "attribute", "group"]).groupby(
            ["model", "attribute"]).n.sum()
        view = view.assign(n=[int(sizes.get((m, a), 0)) for m, a in zip(view.model, view.slice,
                                                                           strict=True)])
    else:
        view = view.assign(n=0)
    known = list(dict.fromkeys(view.slice))
    attrs = rule.attributes or known
    unknown = [a for a in attrs if a not in known]
    if unknown:
        raise SpecError(f"gates: rule {rule.label!r} names fairness attribute(s) "
                        f"{', '.join(map(repr, unknown))}, which the fairness analysis does not have. "
                        f"Attributes: {', '.join(known)}; fix 'attributes' in the rule")
    return decide_bounds(rule, view, _models(rule, tables), attrs, 1, tables)


def decide_calibration(rule: CalibrationRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("calibration")
    if table is None or table.empty:
        return _missing(rule, "calibration")
    _check_metric(rule, table, "calibration")
    view = table[table.variant == rule.variant]
    return decide_bounds(rule, view, _models(rule, tables), tables.slices_for(rule),
                         tables.min_size(rule), tables)


register_rule("fairness", FairnessRule, decide_fairness)
register_rule("calibration", CalibrationRule, decide_calibration)
