"""Deciding rules from the result tables alone (so a stored run can be re-gated).

Every statistical rule reads an estimate and its two-sided interval at the run's
confidence level c. The one-sided p-value of "the true value is beyond the bound" comes
from the interval's half-width on that side (se = half-width / z), so at level c a rule
decides exactly as the interval does, and other levels (Holm's) follow the same scale.

Over several slices a rule is a family of tests:

* it **fails** when any slice shows evidence against it; with ``simultaneous: holm`` (the
  default) those one-sided p-values are Holm-adjusted across the slices, so healthy
  slices do not add up to a false hold (family-wise error <= (1 - c) / 2);
* it **passes** when every slice shows evidence for it, an intersection-union test that
  needs no adjustment;
* otherwise it is **undecided**: this data cannot tell, and the verdict says how many rows
  would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special as _sp
from scipy import stats as _st

from assay._errors import SpecError
from assay.gates._outcome import FAIL, PASS, SKIPPED, UNDECIDED, RuleOutcome, TargetOutcome
from assay.gates._rules import (
    RULES,
    MinRowsRule,
    NonInferiorityRule,
    Rule,
    SuperiorityRule,
    ThresholdRule,
    register_rule,
)
from assay.stats import holm


@dataclass
class GateTables:
    """What rules are decided on: the result and comparison tables and run settings."""

    results: pd.DataFrame
    comparisons: pd.DataFrame
    confidence: float
    baseline: str
    candidates: list[str]
    models: list[str]
    min_slice_size: int
    #: the analyses' tables by name (``fairness``, ``calibration``, ...), for their rule kinds
    analyses: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def alpha_one_sided(self) -> float:
        return (1 - self.confidence) / 2

    @property
    def z(self) -> float:
        return float(_st.norm.ppf(0.5 + self.confidence / 2))

    def slices_for(self, rule: Rule) -> list[str]:
        """Slice labels a rule covers; unknown names stop with the list of known ones."""
        table = self.results
        if rule.slices == "overall":
            return ["overall"]
        known = list(dict.fromkeys(table.slice))
        if rule.slices == "all":
            return known
        by_dim: dict[str, list[str]] = {}
        for s, d in zip(table.slice, table.dimension, strict=True):
            if s != "overall":
                by_dim.setdefault(d, [])
                if s not in by_dim[d]:
                    by_dim[d].append(s)
        out: list[str] = []
        for name in rule.slices:
            if name in known:
                out.append(name)
            elif name in by_dim:
                out.extend(by_dim[name])
            else:
                raise SpecError(f"gates: rule {rule.label!r} names slice {name!r}, which this "
                                f"evaluation does not have. Slices: {', '.join(known)}; dimensions: "
                                f"{', '.join(by_dim) or 'none'}")
        return list(dict.fromkeys(out))

    def min_size(self, rule: Rule) -> int:
        return rule.min_slice_size or self.min_slice_size


def _by_slice(table: pd.DataFrame) -> dict[str, Any]:
    """Rows of one model (or candidate) and metric by slice label, as named tuples."""
    return {r.slice: r for r in table.itertuples(index=False)}


def _require_metric(rule: Rule, table: pd.DataFrame, compared: bool) -> None:
    """Stop with the metrics that exist when a rule names one the table does not have."""
    metric = rule.metric  # type: ignore[attr-defined]
    if metric not in set(table.metric):
        verb, done, known = ("compares", "compared", "Compared metrics") if compared else \
            ("needs", "computed", "Metrics")
        raise SpecError(f"gates: rule {rule.label!r} {verb} metric {metric!r}, which was not {done}. "
                        f"{known}: {', '.join(dict.fromkeys(table.metric))}; fix 'metric' in the rule")


def _precheck(t: TargetOutcome, row: Any, min_size: int) -> None:
    """Skip a target below the rule's minimum slice size; mark one without a usable estimate
    undecided. Otherwise the target stays open (status "") for the family decision."""
    if t.n < min_size and t.slice != "overall":
        t.status, t.note = SKIPPED, f"{t.n} rows < min_slice_size {min_size}"
    elif row.status != "ok" or not math.isfinite(t.observed):
        t.status, t.note = UNDECIDED, f"cannot be decided: {row.note or row.status}"


def _side_p(estimate: float, low: float, high: float, bound: float, z: float) -> tuple[float, float]:
    """One-sided p-values (true value above bound, true value below bound) from the
    interval's half-widths; (1, 1) when there is no interval."""
    if not all(math.isfinite(x) for x in (estimate, low, high)):
        return 1.0, 1.0
    se_lo, se_hi = (estimate - low) / z, (high - estimate) / z
    # normal upper tail Phi(-x) (scipy.special.ndtr: the same values as norm.sf, far faster
    # on scalars, which matters when a policy is decided over many slices or simulations)
    above = float(_sp.ndtr((bound - estimate) / se_lo)) if se_lo > 0 else float(estimate <= bound)
    below = float(_sp.ndtr((estimate - bound) / se_hi)) if se_hi > 0 else float(estimate >= bound)
    return above, below


def _family(targets: list[TargetOutcome], p_pass: list[float], p_fail: list[float],
            rule: Rule, tables: GateTables) -> None:
    """Set each decidable target's status: fail on (Holm-adjusted) evidence against the rule,
    pass on evidence for it, else undecided."""
    live = [i for i, t in enumerate(targets) if t.status == ""]
    if not live:
        return
    fails = np.array([p_fail[i] for i in live])
    if rule.simultaneous == "holm" and len(live) > 1:
        fails = holm(fails)
    a = tables.alpha_one_sided
    for i, pf in zip(live, fails, strict=True):
        t = targets[i]
        t.p_fail = float(pf)
        t.status = FAIL if pf < a else PASS if p_pass[i] < a else UNDECIDED


def _summarise(rule: Rule, targets: list[TargetOutcome], metric: str, what: str) -> RuleOutcome:
    statuses = {t.status for t in targets}
    if FAIL in statuses:
        status = FAIL
    elif UNDECIDED in statuses or not (statuses - {SKIPPED}):
        status = UNDECIDED
    else:
        status = PASS
    shown = [t for t in targets if t.status == status] or targets
    parts = []
    for t in shown[:3]:
        where = t.slice if len({x.model for x in targets}) == 1 else f"{t.model} / {t.slice}"
        if isinstance(rule, MinRowsRule):
            parts.append(f"{where}: {t.n:,} rows vs {t.direction} {rule.min:,}")
        elif t.status == SKIPPED:  # only shown when every slice is too small
            parts.append(f"{where}: {t.note}")
        elif math.isfinite(t.observed):
            ci = f" [{t.low:.4g}, {t.high:.4g}]" if math.isfinite(t.low) else ""
            parts.append(f"{where}: {what} {t.observed:+.4g}{ci} vs {t.direction} {t.bound:+.4g}"
                         if what else f"{where}: {t.observed:.4g}{ci} vs {t.direction} {t.bound:.4g}")
        else:
            parts.append(f"{where}: {t.note}")
    more = f" (+{len(shown) - 3} more)" if len(shown) > 3 else ""
    skipped = sum(t.status == SKIPPED for t in targets)
    tail = f"; {skipped} slice(s) skipped (too small)" if skipped else ""
    if not targets or not (statuses - {SKIPPED}):
        reason = "no slice large enough to decide" + (f": {'; '.join(parts)}{more}" if parts else "")
    else:
        reason = "; ".join(parts) + more + tail
    return RuleOutcome(rule.label, rule.rule, rule.severity, status, reason, metric, targets,
                       rule.model_dump(mode="json"))


# ---------------------------------------------------------------------------- comparisons


def _compared(rule: NonInferiorityRule | SuperiorityRule, tables: GateTables,
              offset: float) -> RuleOutcome:
    """Candidate - baseline must stay above ``offset`` in the metric's better direction."""
    comp = tables.comparisons
    candidates = [rule.candidate] if rule.candidate else tables.candidates
    if comp.empty or not candidates:
        return RuleOutcome(rule.label, rule.rule, rule.severity, UNDECIDED,
                           "no comparison: evaluate a baseline and a candidate on the same rows",
                           rule.metric, [], rule.model_dump(mode="json"))
    _require_metric(rule, comp, compared=True)
    slices = tables.slices_for(rule)
    min_size = tables.min_size(rule)
    z = tables.z
    targets: list[TargetOutcome] = []
    p_pass: list[float] = []
    p_fail: list[float] = []
    for cand in candidates:
        rows = _by_slice(comp[(comp.candidate == cand) & (comp.metric == rule.metric)])
        for s in slices:
            r = rows.get(s)
            if r is None:
                continue  # e.g. a cross combination that does not occur
            sign = 1.0 if bool(r.higher_is_better) else -1.0
            bound = sign * offset  # in the metric's own units
            t = TargetOutcome(cand, s, "", r.delta, r.ci_low, r.ci_high, bound,
                              ">=" if sign > 0 else "<=", int(r.n), mdd=float(r.mdd))
            _precheck(t, r, min_size)
            # better-oriented estimate, interval and bound
            d, lo, hi = sign * r.delta, min(sign * r.ci_low, sign * r.ci_high), \
                max(sign * r.ci_low, sign * r.ci_high)
            up, down = _side_p(d, lo, hi, offset, z)
            p_pass.append(up)
            p_fail.append(down)
            targets.append(t)
    _family(targets, p_pass, p_fail, rule, tables)
    for t in targets:
        if t.status == UNDECIDED and math.isfinite(t.observed) and math.isfinite(t.mdd):
            # planning with the observed difference as the truth: rows at which the interval
            # would clear the line on whichever side the estimate lies
            gap = abs(t.observed * (1 if t.direction == ">=" else -1) - offset)
            if gap > 0:
                t.rows_needed = float(math.ceil(t.n * (t.mdd / gap) ** 2))
    return _summarise(rule, targets, rule.metric, "delta")


def decide_non_inferiority(rule: NonInferiorityRule, tables: GateTables) -> RuleOutcome:
    return _compared(rule, tables, -rule.margin)


def decide_superiority(rule: SuperiorityRule, tables: GateTables) -> RuleOutcome:
    return _compared(rule, tables, rule.margin)


# ---------------------------------------------------------------------------- absolute


def decide_threshold(rule: ThresholdRule, tables: GateTables) -> RuleOutcome:
    res = tables.results
    _require_metric(rule, res, compared=False)
    models = [rule.model] if rule.model else (tables.candidates or tables.models)
    return decide_bounds(rule, res, models, tables.slices_for(rule), tables.min_size(rule), tables)


def decide_bounds(rule: Any, table: pd.DataFrame, models: list[str], slices: list[str],
                  min_size: int, tables: GateTables) -> RuleOutcome:
    """An absolute ``min``/``max`` on ``rule.metric`` judged on ``rule.judge``, for every
    model and slice of a result-shaped table (model, slice, metric, value, ci_low, ci_high,
    n, status, note); rule kinds on other tables (fairness, calibration) reuse it."""
    z = tables.z
    targets: list[TargetOutcome] = []
    p_pass: list[float] = []
    p_fail: list[float] = []
    bounds = [(b, d) for b, d in ((rule.min, ">="), (rule.max, "<=")) if b is not None]
    for model in models:
        rows = _by_slice(table[(table.model == model) & (table.metric == rule.metric)])
        for s in slices:
            r = rows.get(s)
            if r is None:
                continue
            for bound, direction in bounds:
                t = TargetOutcome(model, s, "", r.value, r.ci_low, r.ci_high, bound, direction,
                                  int(r.n))
                up, down = _side_p(r.value, r.ci_low, r.ci_high, bound, z)
                if direction == "<=":
                    up, down = down, up  # "pass" = below the cap
                _precheck(t, r, min_size)
                burden = rule.judge == "value" or (rule.judge == "ci_low") == (direction == ">=")
                if t.status == "" and burden:
                    # the value, or the bound that must itself clear the line (burden on the
                    # model: every slice must show it, no adjustment needed)
                    x = {"value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high}[rule.judge]
                    ok = x >= bound if direction == ">=" else x <= bound
                    t.status = PASS if ok else (FAIL if math.isfinite(x) else UNDECIDED)
                    t.p_fail = math.nan if rule.judge == "value" else down
                # else: fails only on evidence against it, adjusted across slices below
                p_pass.append(0.0)
                p_fail.append(down)
                targets.append(t)
    _family(targets, p_pass, p_fail, rule, tables)
    return _summarise(rule, targets, rule.metric, "")


def decide_min_rows(rule: MinRowsRule, tables: GateTables) -> RuleOutcome:
    sizes = tables.results.drop_duplicates(["model", "slice"])
    models = tables.candidates or tables.models
    targets = []
    for s in tables.slices_for(rule):
        for model in models:
            hit = sizes[(sizes.model == model) & (sizes.slice == s)]
            n = int(hit.n.iloc[0]) if not hit.empty else 0
            targets.append(TargetOutcome(model, s, PASS if n >= rule.min else FAIL, float(n),
                                         bound=float(rule.min), n=n))
    return _summarise(rule, targets, "", "")


register_rule("threshold", ThresholdRule, decide_threshold)
register_rule("non_inferiority", NonInferiorityRule, decide_non_inferiority)
register_rule("superiority", SuperiorityRule, decide_superiority)
register_rule("min_rows", MinRowsRule, decide_min_rows)


def decide_rule(rule: Rule, tables: GateTables) -> RuleOutcome:
    return RULES[rule.rule].decide(rule, tables)
