"""Behavioural tests: pass/fail rules on hand-built predictions (ties at the tolerance
included), Wilson intervals against statsmodels, the edited frames, and a real
scikit-learn model whose monotone direction is known from its coefficient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError, SpecError
from assay.robustness import (
    BehaviourTest,
    DirectionalTest,
    InvarianceTest,
    Noise,
    apply_perturbation,
    behaviour_frame,
    check_behaviour,
)

DELTAS = np.array([-0.5, -0.25, 0.0, 0.25, 0.5])  # exact in binary, so ties are exact


def directional(expect: str, **kw: object) -> DirectionalTest:
    return DirectionalTest(name=f"t-{expect}", column="x", change={"add": 1.0}, expect=expect, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("expect", "fails"), [
    ("increase", [True, True, True, True, False]),      # fails when delta <= 0.25
    ("decrease", [False, True, True, True, True]),      # fails when delta >= -0.25
    ("not_increase", [False, False, False, False, True]),  # fails when delta > 0.25
    ("not_decrease", [True, False, False, False, False]),  # fails when delta < -0.25
])
def test_directional_rules_with_ties_at_the_tolerance(expect: str, fails: list[bool]) -> None:
    before = np.full(5, 0.5)
    res = check_behaviour(directional(expect, tolerance=0.25), before, before + DELTAS)
    assert res.failed.tolist() == fails
    assert res.n == 5 and res.failures == sum(fails) and res.failure_rate == sum(fails) / 5
    np.testing.assert_array_equal(res.delta, DELTAS)
    # worst first by |delta|, ties by row index
    want = sorted(np.flatnonzero(fails), key=lambda i: (-abs(DELTAS[i]), i))
    assert res.order.tolist() == want


def test_directional_zero_tolerance() -> None:
    before = np.array([0.2, 0.2, 0.2])
    after = np.array([0.2, 0.3, 0.1])
    assert check_behaviour(directional("increase"), before, after).failed.tolist() == [True, False, True]
    assert check_behaviour(directional("not_increase"), before, after).failed.tolist() == [False, True, False]
    assert check_behaviour(directional("not_decrease"), before, after).failed.tolist() == [False, False, True]


def test_invariance_tolerance_order_and_classes() -> None:
    test = InvarianceTest(name="inv", perturbation=Noise(), tolerance=0.25)
    before = np.zeros(6)
    after = np.array([0.0, 0.125, -0.25, 0.375, -0.5, 0.375])
    res = check_behaviour(test, before, after)
    assert res.failed.tolist() == [False, False, False, True, True, True]
    assert res.order.tolist() == [4, 3, 5]  # 0.5 first; the two 0.375 by row
    np.testing.assert_array_equal(res.delta, np.abs(after))
    b2 = np.array([[0.5, 0.5], [0.2, 0.8], [0.1, 0.9]])
    a2 = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 1.0]])
    res2 = check_behaviour(InvarianceTest(name="i2", perturbation=Noise(), tolerance=0.125), b2, a2)
    np.testing.assert_allclose(res2.delta, [0.0, 0.3, 0.1])
    assert res2.failed.tolist() == [False, True, False]


def test_exclusions_rates_and_wilson_against_statsmodels() -> None:
    rng = np.random.default_rng(0)
    n = 400
    before = rng.random(n)
    after = before + rng.normal(0, 0.1, n)
    valid = rng.random(n) > 0.1
    changed = rng.random(n) > 0.2
    after[:7] = np.nan
    test = InvarianceTest(name="inv", perturbation=Noise(), tolerance=0.1, max_failure_rate=0.5)
    res = check_behaviour(test, before, after, changed=changed, valid=valid, confidence=0.9)
    finite = np.isfinite(after)
    checked = valid & finite & changed
    bad = checked & (np.abs(after - before) > 0.1)
    assert res.excluded == {"invalid": int((~valid).sum()), "non_finite": int((valid & ~finite).sum()),
                            "unchanged": int((valid & finite & ~changed).sum())}
    assert res.n + sum(res.excluded.values()) == n
    assert res.n == checked.sum() and res.failures == bad.sum()
    np.testing.assert_array_equal(res.failed, bad)
    assert np.isnan(res.delta[~checked]).all()
    lo, hi = proportion_confint(res.failures, res.n, alpha=0.1, method="wilson")
    assert res.ci_low == pytest.approx(lo, abs=1e-12) and res.ci_high == pytest.approx(hi, abs=1e-12)
    assert res.passed == (res.failures / res.n <= 0.5)
    for k, m in [(0, 20), (20, 20), (1, 3), (37, 1000)]:
        r = check_behaviour(InvarianceTest(name="w", perturbation=Noise()), np.zeros(m),
                            np.r_[np.ones(k), np.zeros(m - k)])
        lo, hi = proportion_confint(k, m, alpha=0.05, method="wilson")
        assert (r.ci_low, r.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


def test_pass_at_the_max_failure_rate_and_nothing_checked() -> None:
    before = np.zeros(4)
    after = np.array([1.0, 0.0, 0.0, 0.0])
    at = check_behaviour(InvarianceTest(name="a", perturbation=Noise(), max_failure_rate=0.25), before, after)
    assert at.failure_rate == 0.25 and at.passed
    below = check_behaviour(InvarianceTest(name="b", perturbation=Noise(), max_failure_rate=0.24),
                            before, after)
    assert not below.passed
    none = check_behaviour(InvarianceTest(name="c", perturbation=Noise()), before, after,
                           changed=np.zeros(4, dtype=bool))
    assert none.n == 0 and not none.passed and np.isnan(none.failure_rate) and none.excluded["unchanged"] == 4
    assert "no rows checked" in none.note


def test_multiclass_class_selection_and_shape_errors() -> None:
    before = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    after = np.array([[0.1, 0.5, 0.4], [0.1, 0.05, 0.85]])
    with pytest.raises(SpecError, match="3 classes.*'class'"):
        check_behaviour(directional("increase"), before, after)
    by_label = check_behaviour(directional("increase", class_="b"), before, after, classes=["a", "b", "c"])
    assert by_label.failed.tolist() == [False, True]
    by_index = check_behaviour(directional("increase", class_=1), before, after)
    assert by_index.failed.tolist() == [False, True]
    with pytest.raises(SpecError, match="'z' is not one of"):
        check_behaviour(directional("increase", class_="z"), before, after, classes=["a", "b", "c"])
    with pytest.raises(SpecError, match="remove 'class'"):
        check_behaviour(directional("increase", class_=1), before[:, 0], after[:, 0])
    with pytest.raises(InputError, match="same shape"):
        check_behaviour(directional("increase"), before[:, 0], after[:1, 0])
    with pytest.raises(InputError, match="'valid' has shape"):
        check_behaviour(directional("increase"), before[:, 0], after[:, 0], valid=np.ones(3, dtype=bool))


def credit(n: int = 3000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.5, n)
    loan = rng.lognormal(9.0, 0.7, n)
    age = rng.integers(18, 80, n)
    logit = -1.0 - 1.5 * (np.log(income) - 10.5) + 1.0 * (np.log(loan) - 9.0) - 0.01 * (age - 45)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.03] = np.nan
    frame = pd.DataFrame({"income": income, "loan_amount": loan, "age": age,
                          "channel": pd.array(rng.choice(["web", "branch", "broker"], n), dtype="str")})
    return frame, y


def test_directional_and_invariance_on_a_real_model() -> None:
    frame, y = credit()
    feats = ["income", "loan_amount", "age"]
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(frame[feats], y)
    coef = model[-1].coef_[0][0]
    assert coef < 0  # the generated risk falls with income
    snapshot = frame.copy(deep=True)

    def predict(f: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(f[feats])[:, 1]

    clean = predict(frame)
    up = DirectionalTest(name="income up", column="income", change={"add": 10000}, expect="not_increase")
    edited = behaviour_frame(up, frame, 0)
    pd.testing.assert_frame_equal(frame, snapshot)
    missing = frame["income"].isna().to_numpy()
    np.testing.assert_array_equal(edited.changed, ~missing)
    np.testing.assert_allclose(edited.frame["income"][~missing], frame["income"][~missing] + 10000)
    after = predict(edited.frame)
    res = check_behaviour(up, clean, after, changed=edited.changed)
    assert res.n == (~missing).sum() and res.excluded["unchanged"] == missing.sum()
    assert res.failures == 0 and res.passed
    wrong = DirectionalTest(name="income up raises risk", column="income", change={"multiply": 1.5},
                            expect="increase")
    e2 = behaviour_frame(wrong, frame, 0)
    r2 = check_behaviour(wrong, clean, predict(e2.frame), changed=e2.changed)
    assert r2.failures == r2.n == (~missing).sum() and not r2.passed
    big = np.abs(predict(e2.frame) - clean)
    assert r2.order[0] == int(np.nanargmax(np.where(missing, -1, big)))
    inv = InvarianceTest(name="noise", perturbation=Noise(columns=["loan_amount"], scale=0.3), tolerance=0.02,
                         max_failure_rate=0.5)
    e3 = behaviour_frame(inv, frame, 9)
    same = apply_perturbation(inv.perturbation, frame, 9)
    pd.testing.assert_frame_equal(e3.frame, same.frame)
    a3 = predict(e3.frame)
    r3 = check_behaviour(inv, clean, a3, changed=e3.changed)
    assert r3.failures == int((np.abs(a3 - clean) > 0.02).sum()) and r3.n == len(frame)


def test_directional_frames_and_their_errors() -> None:
    frame, _ = credit(50)
    snapshot = frame.copy(deep=True)
    web = DirectionalTest(name="web", column="channel", change={"set": "web"}, expect="decrease")
    s = behaviour_frame(web, frame, 0)
    assert (s.frame["channel"] == "web").all()
    np.testing.assert_array_equal(s.changed, (frame["channel"] != "web").to_numpy())
    assert s.frame["channel"].dtype == frame["channel"].dtype
    ages = behaviour_frame(DirectionalTest(name="older", column="age", change={"add": 5}, expect="increase"),
                           frame, 0)
    assert ages.frame["age"].dtype == np.int64 and (ages.frame["age"] == frame["age"] + 5).all()
    half = behaviour_frame(DirectionalTest(name="h", column="age", change={"add": 0.5}, expect="increase"),
                           frame, 0)
    assert half.frame["age"].dtype == np.float64 and "became float64" in half.note
    cap = behaviour_frame(DirectionalTest(name="cap", column="age", change={"set": 30}, expect="increase"),
                          frame, 0)
    np.testing.assert_array_equal(cap.changed, (frame["age"] != 30).to_numpy())
    pd.testing.assert_frame_equal(frame, snapshot)
    with pytest.raises(SpecError, match=r"stress.tests\[1\] \(c\): 'change: \{add: \.\.\.\}' needs a numeric "
                                        r"column; 'channel' is categorical \(str\)\. Use 'change: \{set"):
        behaviour_frame(DirectionalTest(name="c", column="channel", change={"add": 1}, expect="increase"),
                        frame, 0, where="stress.tests[1]")
    with pytest.raises(SpecError, match="'incme' is not in the data"):
        behaviour_frame(DirectionalTest(name="c", column="incme", change={"add": 1}, expect="increase"),
                        frame, 0)
    with pytest.raises(SpecError, match="'set: 'old'' needs a number"):
        behaviour_frame(DirectionalTest(name="c", column="age", change={"set": "old"}, expect="increase"),
                        frame, 0)


def test_behaviour_specs_parse_from_yaml_shapes() -> None:
    parse = TypeAdapter(list[BehaviourTest]).validate_python
    tests = parse([
        {"kind": "invariance", "name": "noise", "perturbation": {"kind": "noise", "scale": 0.05},
         "tolerance": 0.02, "max_failure_rate": 0.05},
        {"kind": "directional", "name": "income", "column": "income", "change": {"add": 1000},
         "expect": "not_increase", "class": 1},
    ])
    assert isinstance(tests[0], InvarianceTest) and isinstance(tests[0].perturbation, Noise)
    assert isinstance(tests[1], DirectionalTest) and tests[1].class_ == 1
    assert parse([tests[1].model_dump(by_alias=True)])[0] == tests[1]
    for bad in [
        {"kind": "directional", "name": "a", "column": "c", "change": {"add": 1, "multiply": 2},
         "expect": "increase"},
        {"kind": "directional", "name": "a", "column": "c", "change": {"set": None}, "expect": "increase"},
        {"kind": "directional", "name": "a", "column": "c", "change": {}, "expect": "increase"},
        {"kind": "directional", "name": "a", "column": "c", "change": {"add": 1}, "expect": "up"},
        {"kind": "invariance", "name": "a", "perturbation": {"kind": "shift", "where": "x", "factor": 2}},
        {"kind": "invariance", "perturbation": {"kind": "noise"}},
        {"kind": "invariance", "name": "a", "perturbation": {"kind": "noise"}, "tolerance": -1},
    ]:
        with pytest.raises(ValidationError):
            parse([bad])
