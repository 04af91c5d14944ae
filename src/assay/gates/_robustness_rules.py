"""Rule kinds on the stress run: robustness, behavioural tests and latency.

* ``robustness``: a cap on how much a metric may drop under each perturbation (``metric:
  roc_auc, max: 0.02``: the drop, clean minus perturbed for a higher-is-better metric, at
  most 0.02), or on the ``flip_rate`` or ``error_rate`` themselves. Judged by default on the
  interval's pessimistic bound (``judge: ci_high``): the model must show it is robust.
* ``behaviour``: the behavioural tests pass: each test's failure rate at most its
  ``max_failure_rate``, on the value (default) or the interval's upper bound.
* ``latency``: a bound on ``latency_p50_ms``, ``latency_p95_ms``, ``latency_mean_ms`` or
  ``throughput_rows_per_s``, like a ``threshold`` rule on the latency table.
"""

from __future__ import annotations

import math
from typing import Literal

import pandas as pd
from pydantic import model_validator

from assay._errors import SpecError
from assay.gates._analysis_rules import _missing
from assay.gates._decide import GateTables, _summarise, decide_bounds
from assay.gates._outcome import FAIL, PASS, UNDECIDED, RuleOutcome, TargetOutcome
from assay.gates._rules import BoundRule, Rule, register_rule

RATES = ("flip_rate", "error_rate")


class RobustnessRule(BoundRule):
    """A cap on a metric's drop (or on the flip or error rate) under perturbations."""

    rule: Literal["robustness"] = "robustness"
    #: the perturbations judged (their names or labels), or all of them
    perturbations: Literal["all"] | list[str] = "all"
    judge: Literal["value", "ci_low", "ci_high"] = "ci_high"

    @model_validator(mode="after")
    def _a_cap(self) -> RobustnessRule:
        if self.min is not None:
            raise ValueError("a robustness rule caps a drop or a rate: give 'max' (e.g. max: 0.02), "
                             "not 'min'")
        return self

    def describe(self) -> str:
        what = self.metric if self.metric in RATES else f"{self.metric} drop"
        on = "" if self.judge == "value" else f" ({self.judge})"
        under = "every perturbation" if self.perturbations == "all" else ", ".join(self.perturbations)
        return f"{what} <= {self.max:g}{on} under {under}"


class BehaviourRule(Rule):
    """The behavioural tests pass (each within its ``max_failure_rate``)."""

    rule: Literal["behaviour"] = "behaviour"
    tests: Literal["all"] | list[str] = "all"
    model: str | None = None
    judge: Literal["value", "ci_high"] = "value"

    def describe(self) -> str:
        which = ("every behavioural test" if self.tests == "all"
                 else f"behavioural tests {', '.join(self.tests)}")
        return f"{which} passes" + ("" if self.judge == "value" else " (ci_high)")


class LatencyRule(BoundRule):
    """A bound on inference latency (ms) or throughput (rows/s) of an adapter model."""

    rule: Literal["latency"] = "latency"


def _models_in(table: pd.DataFrame, rule: Rule, what: str = "stressed") -> list[str]:
    """The rule's model, checked against the table's (default: every model in it)."""
    known = list(dict.fromkeys(table.model))
    model = getattr(rule, "model", None)
    if model is not None and model not in known:
        raise SpecError(f"gates: rule {rule.label!r} names model {model!r}, which was not {what}. "
                        f"{what.capitalize()} models: {', '.join(known)}; fix 'model' in the rule")
    return [model] if model else known


def decide_robustness(rule: RobustnessRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("robustness")
    if table is None or table.empty:
        return _missing(rule, "stress")
    if rule.metric not in set(table.metric):
        raise SpecError(f"gates: rule {rule.label!r} needs metric {rule.metric!r} under stress, which "
                        f"was not computed. Stress metrics: {', '.join(dict.fromkeys(table.metric))}; "
                        "fix 'metric' in the rule or add it to stress.metrics")
    labels = list(dict.fromkeys(table.perturbation))
    wanted = labels if rule.perturbations == "all" else list(rule.perturbations)
    unknown = [p for p in wanted if p not in labels]
    if unknown:
        raise SpecError(f"gates: rule {rule.label!r} names perturbation(s) {', '.join(map(repr, unknown))}"
                        f", which the stress run does not have. Perturbations: {', '.join(labels)}")
    models = _models_in(table, rule)
    rows = table[(table.metric == rule.metric) & table.perturbation.isin(wanted)
                 & table.model.isin(models)]
    rate = rule.metric in RATES
    hib = rows.higher_is_better.astype(bool).to_numpy() & (not rate)
    d, lo, hi = (rows[c].to_numpy(dtype=float) for c in ("delta", "ci_low", "ci_high"))
    view = pd.DataFrame({
        "model": [f"{m} under {p}" for m, p in zip(rows.model, rows.perturbation, strict=True)],
        "slice": rows.slice.to_numpy(), "metric": rule.metric,
        # the judged number: the drop (positive = worse) or the rate itself
        "value": [-x if h else x for x, h in zip(d, hib, strict=True)],
        "ci_low": [-b if h else a for a, b, h in zip(lo, hi, hib, strict=True)],
        "ci_high": [-a if h else b for a, b, h in zip(lo, hi, hib, strict=True)],
        "n": rows.n.to_numpy(), "status": rows.status.to_numpy(), "note": rows.note.fillna("").to_numpy()})
    order = list(dict.fromkeys(view.model))
    return decide_bounds(rule, view, order, tables.slices_for(rule), tables.min_size(rule), tables)


def decide_behaviour(rule: BehaviourRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("behaviour")
    if table is None or table.empty:
        return _missing(rule, "stress")
    names = list(dict.fromkeys(table.test))
    wanted = names if rule.tests == "all" else list(rule.tests)
    unknown = [t for t in wanted if t not in names]
    if unknown:
        raise SpecError(f"gates: rule {rule.label!r} names behavioural test(s) "
                        f"{', '.join(map(repr, unknown))}; the stress run has: {', '.join(names)}")
    models = _models_in(table, rule)
    targets = []
    for r in table[table.test.isin(wanted) & table.model.isin(models)].itertuples(index=False):
        x = r.failure_rate if rule.judge == "value" else r.ci_high
        t = TargetOutcome(r.model, r.test, "", float(r.failure_rate), float(r.ci_low), float(r.ci_high),
                          float(r.max_failure_rate), "<=", int(r.n))
        if r.n == 0 or not math.isfinite(x):
            t.status, t.note = UNDECIDED, f"no row to check ({r.note})" if r.note else "no row to check"
        else:
            t.status = PASS if x <= r.max_failure_rate else FAIL
            t.note = f"{int(r.failures)} of {int(r.n)} rows failed"
        targets.append(t)
    return _summarise(rule, targets, "failure_rate", "")


def decide_latency(rule: LatencyRule, tables: GateTables) -> RuleOutcome:
    table = tables.analyses.get("latency")
    if table is None or table.empty:
        return _missing(rule, "latency")
    if rule.metric not in set(table.metric):
        raise SpecError(f"gates: rule {rule.label!r} needs {rule.metric!r}; latency metrics: "
                        f"{', '.join(dict.fromkeys(table.metric))}; fix 'metric' in the rule")
    models = _models_in(table, rule, "timed")
    return decide_bounds(rule, table, models, ["overall"], 1, tables)


register_rule("robustness", RobustnessRule, decide_robustness)
register_rule("behaviour", BehaviourRule, decide_behaviour)
register_rule("latency", LatencyRule, decide_latency)
