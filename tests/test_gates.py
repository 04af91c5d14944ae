"""Release gates: rule semantics on hand-built tables and on small evaluations.

Hand-built tables pin down the decision of each rule kind exactly (an estimate and its
interval against a bound); small evaluations check the same through ``assay.evaluate`` and
``EvaluationResult.gate``. The statistical error rates of the gates are checked by
simulation in ``test_gate_simulations.py``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import assay
from assay._errors import SpecError
from assay.compare import COMPARE_COLUMNS
from assay.gates import (
    FAIL,
    GUARDRAILS,
    HOLD,
    PASS,
    SHIP,
    SKIPPED,
    UNDECIDED,
    GateTables,
    Verdict,
    gate,
    parse_rules,
)
from assay.gates._rules import RuleError
from assay.results import COLUMNS

Z = float(stats.norm.ppf(0.975))


# ---------------------------------------------------------------------------- hand-built tables


def _dimension(label: str) -> str:
    return "overall" if label == "overall" else label.split("=")[0]


def comparison(slice: str = "overall", delta: float = 0.0, low: float = math.nan,
               high: float = math.nan, n: int = 1000, metric: str = "accuracy",
               higher_is_better: bool = True, candidate: str = "cand",
               status: str = "ok", mdd: float = 0.02) -> dict[str, Any]:
    """One row of a comparison table (candidate - baseline = ``delta`` with [low, high])."""
    return {"baseline": "base", "candidate": candidate, "slice": slice,
            "dimension": _dimension(slice), "level": slice.partition("=")[2] or "all",
            "metric": metric, "baseline_value": 0.8, "candidate_value": 0.8 + delta,
            "delta": delta, "ci_low": low, "ci_high": high, "p_value": math.nan,
            "p_adjusted": math.nan, "n": n, "method": "hand-built", "status": status, "note": "",
            "higher_is_better": higher_is_better, "se": (high - low) / 2 / Z, "discordance": 0.1,
            "mdd": mdd}


def around(slice: str, delta: float, se: float, **kw: Any) -> dict[str, Any]:
    """A comparison row with a symmetric 95% interval delta +- z se."""
    return comparison(slice, delta, delta - Z * se, delta + Z * se, **kw)


def result_row(slice: str = "overall", value: float = 0.8, low: float = math.nan,
               high: float = math.nan, n: int = 1000, metric: str = "roc_auc",
               model: str = "cand", status: str = "ok") -> dict[str, Any]:
    return {"model": model, "slice": slice, "dimension": _dimension(slice),
            "level": slice.partition("=")[2] or "all", "metric": metric, "value": value,
            "ci_low": low, "ci_high": high, "n": n, "method": "hand-built", "status": status,
            "note": "", "gap": math.nan, "gap_low": math.nan, "gap_high": math.nan}


def tables(comparisons: list[dict[str, Any]] = (), results: list[dict[str, Any]] = (), *,
           min_slice_size: int = 30) -> GateTables:
    """Gate tables from hand-built rows; the result table defaults to the candidate's side of
    the comparisons (the gates read slice names and sizes from it)."""
    comp = pd.DataFrame.from_records(list(comparisons), columns=COMPARE_COLUMNS)
    if not results:
        results = [result_row(c["slice"], c["candidate_value"], n=c["n"], metric=c["metric"],
                              model=c["candidate"]) for c in comparisons]
    res = pd.DataFrame.from_records(list(results), columns=COLUMNS)
    return GateTables(results=res, comparisons=comp, confidence=0.95, baseline="base",
                      candidates=["cand"], models=["base", "cand"], min_slice_size=min_slice_size)


def decide(rule: dict[str, Any], t: GateTables) -> Verdict:
    return gate(parse_rules([rule]), t)


NI = {"rule": "non_inferiority", "metric": "accuracy", "margin": 0.01}


# ---------------------------------------------------------------------------- each rule kind


@pytest.mark.parametrize("delta, low, high, status, verdict", [
    (0.002, -0.005, 0.009, PASS, SHIP),       # the interval clears -margin
    (-0.03, -0.04, -0.02, FAIL, HOLD),        # the interval is wholly below -margin
    (-0.005, -0.02, 0.01, UNDECIDED, GUARDRAILS),  # straddles -margin
])
def test_non_inferiority(delta: float, low: float, high: float, status: str, verdict: str) -> None:
    v = decide(NI, tables([comparison("overall", delta, low, high)]))
    (r,) = v.rules
    assert r.status == status and v.decision == verdict
    t = r.targets[0]
    assert (t.observed, t.low, t.high, t.bound, t.direction) == (delta, low, high, -0.01, ">=")
    # the reason carries the numbers that decided it
    assert f"delta {delta:+.4g} [{low:.4g}, {high:.4g}] vs >= -0.01" in r.reason
    assert r.reason.startswith("overall:")


@pytest.mark.parametrize("delta, low, high, status", [
    (0.02, 0.01, 0.03, PASS),        # better by more than the margin 0.005
    (-0.01, -0.02, 0.0, FAIL),       # evidence that it is not better by 0.005
    (0.01, 0.0, 0.02, UNDECIDED),
])
def test_superiority(delta: float, low: float, high: float, status: str) -> None:
    rule = {"rule": "superiority", "metric": "accuracy", "margin": 0.005}
    (r,) = decide(rule, tables([comparison("overall", delta, low, high)])).rules
    assert r.status == status
    assert r.targets[0].bound == 0.005 and "vs >= +0.005" in r.reason


def test_superiority_default_margin_is_zero() -> None:
    (r,) = decide({"rule": "superiority", "metric": "accuracy"},
                  tables([comparison("overall", 0.004, 0.001, 0.007)])).rules
    assert r.status == PASS and r.targets[0].bound == 0.0


# value 0.75 with 95% interval [0.70, 0.80]
@pytest.mark.parametrize("bound, judge, status", [
    ({"min": 0.72}, "value", PASS),
    ({"min": 0.72}, "ci_low", FAIL),     # needs evidence above the floor; 0.70 < 0.72
    ({"min": 0.72}, "ci_high", PASS),    # fails only on evidence below; 0.80 >= 0.72
    ({"min": 0.69}, "ci_low", PASS),
    ({"min": 0.82}, "value", FAIL),
    ({"min": 0.82}, "ci_high", FAIL),    # evidence below: the whole interval is under 0.82
    ({"max": 0.78}, "value", PASS),
    ({"max": 0.78}, "ci_high", FAIL),    # needs evidence below the cap
    ({"max": 0.78}, "ci_low", PASS),     # fails only on evidence above the cap
    ({"max": 0.65}, "ci_low", FAIL),
    ({"min": 0.72, "max": 0.78}, "value", PASS),
    ({"min": 0.76, "max": 0.78}, "value", FAIL),
])
def test_threshold(bound: dict[str, float], judge: str, status: str) -> None:
    rule = {"rule": "threshold", "metric": "roc_auc", "judge": judge, **bound}
    t = tables(results=[result_row("overall", 0.75, 0.70, 0.80)])
    (r,) = decide(rule, t).rules
    assert r.status == status
    assert "0.75 [0.7, 0.8] vs" in r.reason


def test_threshold_on_key_from_yaml() -> None:
    """YAML 1.1 reads ``on:`` as the boolean true; the rule still gets its ``judge``."""
    (rule,) = parse_rules(yaml.safe_load("- {rule: threshold, metric: roc_auc, min: 0.7, on: ci_high}"))
    assert rule.judge == "ci_high"
    assert rule.describe() == "ci_high(roc_auc) >= 0.7"
    # JSON specs and Python mappings keep the string key "on"
    (rule,) = parse_rules([{"rule": "threshold", "metric": "roc_auc", "min": 0.7, "on": "ci_low"}])
    assert rule.judge == "ci_low"
    with pytest.raises(SpecError, match=r"gates\[0\]: give 'judge' once \(or its alias 'on'\)"):
        parse_rules([{"rule": "threshold", "metric": "roc_auc", "min": 0.7, "on": "ci_low",
                      "judge": "value"}])
    with pytest.raises(SpecError, match=r"gates\[0\]\.on: unknown key; allowed keys of a min_rows"):
        parse_rules(yaml.safe_load("- {rule: min_rows, min: 3, on: ci_low}"))


def test_threshold_ci_high_fails_only_on_evidence() -> None:
    """``judge: ci_high`` with ``min``: a value under the floor whose interval still reaches it
    passes (no evidence it is below); an interval wholly under the floor fails. ``value``
    fails both."""
    rule = {"rule": "threshold", "metric": "roc_auc", "min": 0.7, "judge": "ci_high"}
    no_evidence = tables(results=[result_row("overall", 0.68, 0.64, 0.72)])
    evidence = tables(results=[result_row("overall", 0.60, 0.55, 0.65)])
    assert decide(rule, no_evidence).rules[0].status == PASS
    (r,) = decide(rule, evidence).rules
    assert r.status == FAIL and "0.6 [0.55, 0.65] vs >= 0.7" in r.reason
    assert r.targets[0].p_fail < 0.025
    value = {**rule, "judge": "value"}
    assert decide(value, no_evidence).rules[0].status == FAIL


def test_threshold_ci_high_is_holm_adjusted_across_slices() -> None:
    """Over several slices the evidence-only threshold is a family: one slice just under the
    floor (p ~ 0.01) is not a hold among five once Holm is applied, but is without it."""
    se = 0.02
    rows = [result_row(f"region={k}", 0.80, 0.80 - Z * se, 0.80 + Z * se) for k in "abcd"]
    x = 0.7 - 2.326 * se  # one-sided p = 0.01 against the floor 0.7
    rows.append(result_row("region=e", x, x - Z * se, x + Z * se))
    rule = {"rule": "threshold", "metric": "roc_auc", "min": 0.7, "judge": "ci_high",
            "slices": ["region"]}
    held = decide({**rule, "simultaneous": "none"}, tables(results=rows))
    guarded = decide(rule, tables(results=rows))
    assert held.rules[0].status == FAIL and held.decision == HOLD
    assert guarded.rules[0].status == PASS and guarded.decision == SHIP
    e = next(t for t in guarded.rules[0].targets if t.slice == "region=e")
    assert e.p_fail == pytest.approx(5 * 0.01, rel=1e-3)


def test_threshold_on_every_candidate_or_one_model() -> None:
    res = [result_row("overall", 0.9, model="base"), result_row("overall", 0.6, model="cand")]
    t = tables(results=res)
    (r,) = decide({"rule": "threshold", "metric": "roc_auc", "min": 0.7}, t).rules
    assert r.status == FAIL and [x.model for x in r.targets] == ["cand"]
    (r,) = decide({"rule": "threshold", "metric": "roc_auc", "min": 0.7, "model": "base"}, t).rules
    assert r.status == PASS


def test_min_rows() -> None:
    res = [result_row("overall", n=1500), result_row("channel=web", n=1200),
           result_row("channel=shop", n=300)]
    t = tables(results=res)
    (r,) = decide({"rule": "min_rows", "min": 1000}, t).rules
    assert r.status == PASS and "overall: 1,500 rows vs >= 1,000" in r.reason
    (r,) = decide({"rule": "min_rows", "min": 1000, "slices": ["channel"]}, t).rules
    assert r.status == FAIL and "channel=shop: 300 rows vs >= 1,000" in r.reason
    assert [x.status for x in r.targets] == [PASS, FAIL]


# ---------------------------------------------------------------------------- the verdict


def test_severity_decides_hold_or_guardrails() -> None:
    t = tables([comparison("overall", -0.03, -0.04, -0.02)])  # fails the non-inferiority rule
    held = decide({**NI, "severity": "hold"}, t)
    warned = decide({**NI, "severity": "warn"}, t)
    assert (held.decision, held.exit_code, held.headline) == (HOLD, 1, "HOLD")
    assert (warned.decision, warned.exit_code) == (GUARDRAILS, 3)
    assert warned.rules[0].status == FAIL and warned.rules[0].severity == "warn"
    ok = decide(NI, tables([comparison("overall", 0.0, -0.005, 0.005)]))
    assert (ok.decision, ok.exit_code) == (SHIP, 0)


def test_verdict_combines_rules() -> None:
    t = tables([comparison("overall", -0.005, -0.02, 0.01)])  # undecided at margin 0.01
    rules = [{**NI, "name": "ni"}, {"rule": "min_rows", "min": 10, "name": "rows"}]
    v = gate(parse_rules(rules), t)
    assert [r.status for r in v.rules] == [UNDECIDED, PASS]
    assert v.decision == GUARDRAILS  # an undecided hold rule: ship, with guardrails
    assert any(w.startswith("ni [cand / overall]: cannot be decided with 1000 rows") for w in v.warnings)
    rules.append({"rule": "min_rows", "min": 5000, "name": "more rows", "severity": "warn"})
    assert gate(parse_rules(rules), t).decision == GUARDRAILS
    rules.append({"rule": "min_rows", "min": 5000, "name": "hold rows"})
    v = gate(parse_rules(rules), t)
    assert v.decision == HOLD and [r.name for r in v.rules if r.status == FAIL] == ["more rows",
                                                                                   "hold rows"]
    assert gate([], t).decision == SHIP


def test_undecided_target_says_how_many_rows_would_decide() -> None:
    # observed -0.005, 0.005 from the -0.01 margin, and an mdd of 0.02 at 1000 rows: if the
    # observed difference holds, 1000 * (0.02 / 0.005)^2 = 16,000 rows decide it
    v = decide(NI, tables([comparison("overall", -0.005, -0.02, 0.01, mdd=0.02)]))
    t = v.rules[0].targets[0]
    assert t.rows_needed == 16000
    assert ("the minimum detectable difference here is 0.02; about 16,000 rows would decide it "
            "if the observed difference holds") in v.warnings[0]


def test_every_slice_too_small_is_undecided_and_listed() -> None:
    comps = [around("overall", 0.0, 0.005, n=150), around("channel=web", 0.0, 0.01, n=80),
             around("channel=shop", 0.0, 0.01, n=70)]
    rule = {**NI, "name": "by channel", "slices": ["channel"], "min_slice_size": 100}
    v = decide(rule, tables(comps))
    (r,) = v.rules
    assert r.status == UNDECIDED and v.decision == GUARDRAILS
    assert [(t.slice, t.status) for t in r.targets] == [("channel=web", SKIPPED),
                                                        ("channel=shop", SKIPPED)]
    assert r.reason.startswith("no slice large enough to decide")
    assert "channel=web: 80 rows < min_slice_size 100" in r.reason
    assert "channel=shop: 70 rows < min_slice_size 100" in r.reason
    assert len(v.warnings) == 1 and v.warnings[0].startswith("by channel: cannot be decided")
    # the spec's min_slice_size is the default
    assert decide({**NI, "slices": ["channel"]}, tables(comps, min_slice_size=75)).rules[0] \
        .targets[1].status == SKIPPED


def test_small_slices_are_skipped_and_the_rest_decide() -> None:
    comps = [around("channel=web", 0.01, 0.004, n=2000), around("channel=shop", -0.2, 0.01, n=20)]
    (r,) = decide({**NI, "slices": ["channel"]}, tables(comps)).rules
    assert r.status == PASS  # the tiny failing slice is skipped, not a hold
    assert "1 slice(s) skipped (too small)" in r.reason


def test_slices_all_and_slice_labels() -> None:
    comps = [around("overall", 0.01, 0.004), around("channel=web", 0.01, 0.005),
             around("channel=shop", -0.05, 0.005), around("region=north", 0.01, 0.005)]
    t = tables(comps)
    assert [x.slice for x in decide({**NI, "slices": "all"}, t).rules[0].targets] == \
        ["overall", "channel=web", "channel=shop", "region=north"]
    (r,) = decide({**NI, "slices": ["channel=shop", "region"]}, t).rules
    assert [x.slice for x in r.targets] == ["channel=shop", "region=north"]
    assert r.status == FAIL and r.reason.startswith("channel=shop: delta -0.05")


def test_holm_avoids_a_fail_that_none_makes() -> None:
    """Five slices, four clearly fine and one with one-sided p = 0.01 below the margin.
    Unadjusted, 0.01 < 0.025 holds the release; Holm multiplies the smallest p by 5 (0.05),
    so the family shows no evidence of harm and the slice is only undecided."""
    se = 0.01
    comps = [around(f"segment={k}", 0.05, se) for k in "abcd"]
    comps.append(around("segment=e", -2.326 * se, se))  # p_fail = 0.01 at margin 0
    rule = {"rule": "non_inferiority", "metric": "accuracy", "margin": 0, "slices": ["segment"]}
    none = decide({**rule, "simultaneous": "none"}, tables(comps))
    holm = decide({**rule, "simultaneous": "holm"}, tables(comps))
    assert decide(rule, tables(comps)).decision == holm.decision  # holm is the default
    assert none.rules[0].status == FAIL and none.decision == HOLD
    assert holm.rules[0].status == UNDECIDED and holm.decision == GUARDRAILS
    e_none, e_holm = none.rules[0].targets[-1], holm.rules[0].targets[-1]
    assert e_none.p_fail == pytest.approx(0.01, rel=1e-3)
    assert e_holm.p_fail == pytest.approx(0.05, rel=1e-3)
    # strong evidence still fails under Holm
    comps[-1] = around("segment=e", -4 * se, se)
    assert decide(rule, tables(comps)).rules[0].status == FAIL


def test_pass_needs_every_slice() -> None:
    """Intersection-union: the rule passes only when every slice shows non-inferiority."""
    comps = [around("segment=a", 0.02, 0.004), around("segment=b", 0.0, 0.01)]
    (r,) = decide({**NI, "slices": ["segment"]}, tables(comps)).rules
    assert [t.status for t in r.targets] == [PASS, UNDECIDED] and r.status == UNDECIDED


def test_lower_is_better_flips_direction() -> None:
    """log loss: candidate - baseline > 0 is worse. Non-inferiority bounds delta above by
    +margin; superiority needs it below -margin."""
    ll = {"metric": "log_loss", "higher_is_better": False}
    worse = tables([comparison("overall", 0.03, 0.02, 0.04, **ll)])
    better = tables([comparison("overall", -0.03, -0.04, -0.02, **ll)])
    close = tables([comparison("overall", 0.005, -0.004, 0.009, **ll)])
    ni = {"rule": "non_inferiority", "metric": "log_loss", "margin": 0.01}
    sup = {"rule": "superiority", "metric": "log_loss", "margin": 0.01}
    (r,) = decide(ni, worse).rules
    assert r.status == FAIL and "delta +0.03 [0.02, 0.04] vs <= +0.01" in r.reason
    assert (r.targets[0].bound, r.targets[0].direction) == (0.01, "<=")
    assert decide(ni, better).rules[0].status == PASS
    assert decide(ni, close).rules[0].status == PASS  # 0.009 < +0.01
    (r,) = decide(sup, better).rules
    assert r.status == PASS and "vs <= -0.01" in r.reason
    assert decide(sup, worse).rules[0].status == FAIL
    assert decide(sup, close).rules[0].status == FAIL  # 0.009 > -0.01: evidence it is not better


def test_comparison_that_cannot_be_estimated_is_undecided() -> None:
    comps = [comparison("overall", math.nan, status="undefined")]
    v = decide(NI, tables(comps))
    assert v.rules[0].status == UNDECIDED and v.decision == GUARDRAILS
    assert "cannot be decided: undefined" in v.rules[0].reason


def test_no_comparison_is_undecided() -> None:
    t = tables(results=[result_row("overall", 0.8, metric="accuracy")])
    v = decide(NI, t)
    assert v.rules[0].status == UNDECIDED and "no comparison" in v.rules[0].reason
    assert v.decision == GUARDRAILS and v.warnings


# ---------------------------------------------------------------------------- errors


def test_unknown_rule_kind_names_index_and_allowed() -> None:
    with pytest.raises(SpecError) as info:
        parse_rules([{"rule": "min_rows", "min": 5}, {"rule": "non_inferiorty", "metric": "x",
                                                      "margin": 0}])
    msg = str(info.value)
    assert "gates[1].rule" in msg and "'non_inferiorty'" in msg
    assert "did you mean 'non_inferiority'" in msg
    assert "threshold, non_inferiority, superiority, min_rows" in msg
    assert isinstance(info.value, RuleError)


def test_unknown_key_names_index_and_allowed_keys() -> None:
    with pytest.raises(SpecError, match=r"gates\[0\]\.slize: unknown key; allowed keys of a "
                                        r"non_inferiority rule: rule, name, severity, slices"):
        parse_rules([{**NI, "slize": ["channel"]}])


@pytest.mark.parametrize("rule, match", [
    ({"rule": "threshold", "metric": "roc_auc"}, r"gates\[0\]: a threshold rule needs 'min' or 'max'"),
    ({**NI, "margin": -0.1}, r"gates\[0\]\.margin: Input should be greater than or equal to 0"),
    ({**NI, "severity": "block"}, r"gates\[0\]\.severity: Input should be 'hold' or 'warn'"),
    ({**NI, "simultaneous": "bonferroni"}, r"gates\[0\]\.simultaneous: Input should be 'holm' or 'none'"),
    ({"metric": "accuracy"}, r"gates\[0\]: each rule is a mapping with a 'rule' key"),
])
def test_invalid_rule_values(rule: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        parse_rules([rule])


def test_gates_must_be_a_list() -> None:
    with pytest.raises(SpecError, match="gates must be a list of rules"):
        parse_rules({"rule": "min_rows", "min": 3})


def test_unknown_slice_names_rule_and_known_slices() -> None:
    t = tables([around("overall", 0.0, 0.01), around("channel=web", 0.0, 0.01)])
    with pytest.raises(SpecError) as info:
        decide({**NI, "name": "by chanel", "slices": ["chanel"]}, t)
    msg = str(info.value)
    assert "'by chanel'" in msg and "'chanel'" in msg
    assert "Slices: overall, channel=web" in msg and "dimensions: channel" in msg


def test_unknown_metric_names_rule_and_compared_metrics() -> None:
    t = tables([around("overall", 0.0, 0.01), around("overall", 0.0, 0.01, metric="roc_auc")])
    with pytest.raises(SpecError, match=r"rule 'rocauc: candidate no worse.*' compares metric "
                                        r"'rocauc', which was not compared\. Compared metrics: "
                                        r"accuracy, roc_auc"):
        decide({**NI, "metric": "rocauc"}, t)
    with pytest.raises(SpecError, match=r"needs metric 'auc', which was not computed\. "
                                        r"Metrics: accuracy, roc_auc"):
        decide({"rule": "threshold", "metric": "auc", "min": 0.5}, t)


# ---------------------------------------------------------------------------- evaluated data


def _frame(n: int = 3000, seed: int = 7) -> dict[str, np.ndarray]:
    """A baseline, a slightly different candidate, and an under-confident copy of the
    baseline (same decisions, worse log loss and Brier score)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * x))).astype(np.int64)
    base = 1 / (1 + np.exp(-(1.4 * x + rng.normal(scale=0.5, size=n))))
    cand = 1 / (1 + np.exp(-(1.4 * x + rng.normal(scale=0.5, size=n))))
    soft = 0.5 + 0.4 * (base - 0.5)
    return {"y": y, "base": base, "cand": cand, "soft": soft,
            "channel": rng.choice(["web", "shop", "app"], n, p=[0.5, 0.4, 0.1])}


SPEC: dict[str, Any] = {
    "task": "binary", "label": "y", "bootstrap": 200, "min_slice_size": 30,
    "metrics": ["accuracy", "roc_auc", "log_loss", "brier_score"],
    "slices": [{"column": "channel"}],
    "models": [{"name": "base", "score": "base"}, {"name": "cand", "score": "cand"},
               {"name": "soft", "score": "soft"}],
}


@pytest.fixture(scope="module")
def evaluated() -> assay.EvaluationResult:
    gates = [{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.05, "slices": ["channel"],
              "candidate": "cand", "name": "auc guard"},
             {"rule": "min_rows", "min": 1000}]
    return assay.evaluate({**SPEC, "gates": gates}, data=_frame())


def test_evaluate_attaches_a_verdict(evaluated: assay.EvaluationResult) -> None:
    v = evaluated.verdict
    assert v is not None and [r.name for r in v.rules] == ["auc guard", "at least 1000 evaluated rows"]
    assert v.rules[0].status == PASS and v.decision == SHIP and v.exit_code == 0
    assert [t.slice for t in v.rules[0].targets] == ["channel=app", "channel=shop", "channel=web"]
    no_gates = assay.evaluate(SPEC, data=_frame(400))
    assert no_gates.verdict is None


def test_result_gate_re_decides_without_re_evaluating(evaluated: assay.EvaluationResult,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("re-gating must not evaluate again")

    import assay._evaluate as ev
    import assay.compare._compare as cc

    monkeypatch.setattr(ev, "evaluate_spec", boom)
    monkeypatch.setattr(ev, "_compare_models", boom)
    monkeypatch.setattr(cc, "compare_pair", boom)
    before = evaluated.verdict
    table, comps = evaluated.table.copy(), evaluated.comparisons.copy()
    strict = evaluated.gate([{"rule": "min_rows", "min": 10_000}])
    assert strict.decision == HOLD and "overall: 3,000 rows vs >= 10,000" in strict.rules[0].reason
    warn = evaluated.gate([{"rule": "min_rows", "min": 10_000, "severity": "warn"}])
    assert warn.decision == GUARDRAILS
    assert evaluated.gate(parse_rules([{"rule": "min_rows", "min": 10}])).decision == SHIP
    assert evaluated.verdict is before and before.decision == SHIP
    pd.testing.assert_frame_equal(evaluated.table, table)
    pd.testing.assert_frame_equal(evaluated.comparisons, comps)


def test_result_gate_errors_are_spec_errors(evaluated: assay.EvaluationResult) -> None:
    with pytest.raises(SpecError, match=r"gates\[0\]\.rule: unknown rule kind 'treshold'"):
        evaluated.gate([{"rule": "treshold", "metric": "roc_auc", "min": 0.5}])
    with pytest.raises(SpecError, match=r"names slice 'region'.*Slices: overall, channel=app, "
                                         r"channel=shop, channel=web; dimensions: channel"):
        evaluated.gate([{**NI, "slices": ["region"]}])
    with pytest.raises(SpecError, match=r"'ece', which was not compared.*accuracy, roc_auc, log_loss"):
        evaluated.gate([{**NI, "metric": "ece"}])


def test_spec_errors_through_evaluate() -> None:
    data = _frame(200)
    with pytest.raises(SpecError, match=r"gates\[0\]\.rule: unknown rule kind 'superior'.*Allowed: "
                                        r"threshold, non_inferiority, superiority, min_rows"):
        assay.evaluate({**SPEC, "gates": [{"rule": "superior", "metric": "accuracy"}]}, data=data)
    with pytest.raises(SpecError, match=r"gates\[0\]\.margins: unknown key"):
        assay.evaluate({**SPEC, "gates": [{**NI, "margins": 0.1}]}, data=data)
    with pytest.raises(SpecError, match=r"gates\[0\]\.candidate: unknown model 'nope'; models: "
                                        r"base, cand, soft"):
        assay.evaluate({**SPEC, "gates": [{**NI, "candidate": "nope"}]}, data=data)
    with pytest.raises(SpecError, match=r"names slice 'region'"):
        assay.evaluate({**SPEC, "gates": [{**NI, "slices": ["region"]}]}, data=data)


def test_lower_is_better_on_evaluated_data(evaluated: assay.EvaluationResult) -> None:
    """The under-confident copy has the baseline's decisions but a higher log loss and Brier
    score: non-inferiority on them fails (worse), and flipped round it passes."""
    comps = evaluated.comparisons
    for metric in ("log_loss", "brier_score"):
        row = comps[(comps.candidate == "soft") & (comps.metric == metric)
                    & (comps.slice == "overall")].iloc[0]
        assert row.delta > 0 and row.ci_low > 0 and not row.higher_is_better
        rule = {"rule": "non_inferiority", "metric": metric, "margin": row.ci_low / 2,
                "candidate": "soft"}
        v = evaluated.gate([rule])
        assert v.rules[0].status == FAIL and v.decision == HOLD
        assert v.rules[0].targets[0].direction == "<="
        assert evaluated.gate([{**rule, "rule": "superiority", "margin": 0}]).rules[0].status == FAIL
    # the same data with the roles swapped: the sharper model is clearly better
    swapped = assay.evaluate({**SPEC, "compare": {"baseline": "soft", "candidates": ["base"]},
                              "metrics": ["log_loss", "brier_score"], "slices": []},
                             data=_frame())
    for metric in ("log_loss", "brier_score"):
        v = swapped.gate([{"rule": "superiority", "metric": metric},
                          {"rule": "non_inferiority", "metric": metric, "margin": 0}])
        assert [r.status for r in v.rules] == [PASS, PASS] and v.decision == SHIP


def test_verdict_to_dict_is_json(evaluated: assay.EvaluationResult) -> None:
    rules = [{**NI, "slices": "all"}, {"rule": "threshold", "metric": "roc_auc", "min": 0.99},
             {"rule": "superiority", "metric": "roc_auc", "candidate": "cand", "severity": "warn"},
             {"rule": "min_rows", "min": 10, "slices": ["channel"]},
             {**NI, "slices": ["channel"], "min_slice_size": 100_000}]
    v = evaluated.gate(rules)
    d = v.to_dict()
    text = json.dumps(d, allow_nan=False)  # no NaN or infinity anywhere
    back = json.loads(text)
    assert back["decision"] == v.decision and back["exit_code"] == v.exit_code
    assert [r["status"] for r in back["rules"]] == [r.status for r in v.rules]
    assert back["rules"][0]["config"]["rule"] == "non_inferiority"
    assert back["warnings"] == v.warnings
    target = back["rules"][1]["targets"][0]
    assert set(target) >= {"model", "slice", "status", "observed", "low", "high", "bound", "n"}
    # every rule parses back from its dumped config
    assert [r.rule for r in parse_rules([r["config"] for r in back["rules"]])] == \
        [r.rule for r in v.rules]
    # hand-built outcomes full of NaN (no interval, no mdd) serialise too
    nan_v = decide(NI, tables([comparison("overall", math.nan, status="undefined", mdd=math.nan)]))
    json.dumps(nan_v.to_dict(), allow_nan=False)
