"""Suite runs in the run store (results, comparisons, tables, inputs), the flag that marks a
run whose judge changed as not comparable with earlier runs, and the quality x cost x
latency table (checked against SciPy's t quantiles and a brute-force order-statistic
interval)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay.llm._record import comparability, record_suite
from assay.llm._runner import run_suite
from assay.llm._suite import SuiteSpec
from assay.llm._tradeoffs import TRADEOFF_COLUMNS, tradeoffs
from assay.llm.providers import CallableChat
from assay.store import open_store

CASES = [{"id": f"q{i}", "input": f"question {i}", "expected": "A", "tags": ["odd" if i % 2 else "even"]}
         for i in range(8)]


def _spec(judge_model: str = "j1", rubric: str = "pass if it names A", cases=CASES, **over) -> SuiteSpec:
    raw = {"name": "rec", "cases": cases, "cache": False, "bootstrap": 200,
           "providers": [{"name": "small", "callable": "x:y"}, {"name": "big", "callable": "x:y"},
                         {"name": "judge", "callable": "x:z", "role": "judge"}],
           "scorers": [{"kind": "exact"},
                       {"kind": "judge", "name": "quality", "provider": "judge", "model": judge_model,
                        "rubric": rubric}],
           "gates": [{"rule": "threshold", "metric": "exact.pass_rate", "min": 0.5}]} | over
    return SuiteSpec.model_validate(raw)


def _answer(request):
    i = int(request.messages[-1]["content"].split()[-1])
    wrong = request.model == "small" and i % 4 == 3
    return {"text": "B" if wrong else "A", "prompt_tokens": 5, "completion_tokens": 1,
            "cost": 0.002 if request.model == "big" else 0.0005}


def _judge(request):
    good = "## Output to evaluate\nA\n" in request.messages[-1]["content"]
    return json.dumps({"score": "pass" if good else "fail", "reason": "names A" if good else "other"})


def _providers():
    return {"small": CallableChat(_answer), "big": CallableChat(_answer), "judge": CallableChat(_judge)}


def _record(store, spec, tmp_path, name):
    return record_suite(store, spec, tmp_path, lambda: run_suite(spec, tmp_path, providers=_providers()),
                        out=tmp_path / name, command="test")


def test_a_suite_run_is_recorded_with_its_results_inputs_and_tables(tmp_path) -> None:
    store = open_store(tmp_path / "runs.db")
    res = _record(store, _spec(), tmp_path, "r1")
    assert res.run_id and res.comparability is None  # nothing earlier to compare with
    runs = store.list_runs(task="llm")
    assert [r["id"] for r in runs] == [res.run_id] and runs[0]["status"] == "complete"
    assert runs[0]["verdict"] == res.verdict.decision and runs[0]["n_rows"] == 8
    stored = store.get_run(res.run_id)
    t = stored.table
    # every summary row is a result row: model = variant, metric = scorer.metric
    assert len(t) == len(res.summary)
    row = t[(t["model"] == "small") & (t["metric"] == "exact.pass_rate") & (t["slice"] == "overall")]
    s = res.summary[(res.summary["variant"] == "small") & (res.summary["scorer"] == "exact")
                    & (res.summary["metric"] == "pass_rate") & (res.summary["slice"] == "overall")].iloc[0]
    assert row.iloc[0]["value"] == s["value"] == 6 / 8
    assert (row.iloc[0]["ci_low"], row.iloc[0]["ci_high"]) == (s["ci_low"], s["ci_high"])
    odd = t[(t["slice"] == "tag=odd") & (t["model"] == "small") & (t["metric"] == "exact.pass_rate")]
    assert (odd.iloc[0]["dimension"], odd.iloc[0]["level"], odd.iloc[0]["value"]) == ("tag", "odd", 0.5)
    comp = stored.comparisons
    assert comp is not None and set(comp["metric"]) >= {"exact.pass_rate", "quality.pass_rate"}
    inputs = stored.record["inputs"]
    assert inputs["cases"]["sha256"] == res.hashes["cases"]
    assert inputs["judge:quality"]["sha256"] == res.judges.iloc[0]["fingerprint"]
    assert inputs["judge:quality"]["model"] == "j1"
    tables = stored.record["analyses"]["tables"]
    assert set(tables) == {"usage", "tradeoffs", "judges"}
    assert stored.record["folder"] == str((tmp_path / "r1").resolve())
    meta = json.loads((tmp_path / "r1" / "suite.json").read_text())
    assert meta["run_id"] == res.run_id and meta["comparability"] is None
    for name in ("cases", "outputs", "scores", "summary", "usage", "tradeoffs", "judges"):
        assert (tmp_path / "r1" / f"{name}.parquet").exists()
    cases = pd.read_parquet(tmp_path / "r1" / "cases.parquet")
    assert list(cases["case_id"]) == [c["id"] for c in CASES] and json.loads(cases["expected"][0]) == "A"


def test_a_changed_judge_makes_the_run_not_comparable(tmp_path) -> None:
    store = open_store(tmp_path / "runs.db")
    first = _record(store, _spec(), tmp_path, "r1")
    same = _record(store, _spec(), tmp_path, "r2")
    assert same.comparability == {"previous_run": first.run_id,
                                  "previous_started": same.comparability["previous_started"],
                                  "comparable": True, "changes": []}
    model = _record(store, _spec(judge_model="j2"), tmp_path, "r3")
    c = model.comparability
    assert c["previous_run"] == same.run_id and c["comparable"] is False
    [change] = c["changes"]
    assert change["what"] == "judge:quality" and change["breaks"] and "model j1 -> j2" in change["note"]
    prompt = _record(store, _spec(judge_model="j2", rubric="pass if the answer is the letter A"),
                     tmp_path, "r4")
    [change] = prompt.comparability["changes"]
    assert change["breaks"] and "judge prompt changed" in change["note"]
    # new cases change what is measured (listed) but the judge is the same: still comparable
    cases = _record(store, _spec(judge_model="j2", rubric="pass if the answer is the letter A",
                                 cases=CASES[:6]), tmp_path, "r5")
    assert cases.comparability["comparable"] is True
    assert [ch["what"] for ch in cases.comparability["changes"]] == ["cases"]
    assert not cases.comparability["changes"][0]["breaks"]
    stored = store.get_run(model.run_id).record
    assert stored["manifest"]["comparability"]["comparable"] is False
    assert json.loads((tmp_path / "r3" / "suite.json").read_text())["comparability"]["comparable"] is False


def test_comparability_of_added_and_removed_judges() -> None:
    before = {"id": "a", "started_at": None, "inputs": {"judge:x": {"sha256": "1", "model": "m"}}}
    c = comparability(before, {"judge:y": {"sha256": "2", "model": "m"}})
    assert c["comparable"] is True  # a new judge has no earlier scores to be compared with
    assert {ch["what"]: ch["breaks"] for ch in c["changes"]} == {"judge:x": False, "judge:y": False}
    assert comparability(None, {}) is None


def test_a_failed_suite_run_is_marked_failed(tmp_path) -> None:
    store = open_store(tmp_path / "runs.db")
    spec = _spec()

    def boom():
        raise RuntimeError("provider exploded")

    with pytest.raises(RuntimeError):
        record_suite(store, spec, tmp_path, boom)
    [r] = store.list_runs(task="llm")
    assert r["status"] == "failed" and "provider exploded" in r["error"]


def test_rerun_of_a_suite_run_says_how(tmp_path) -> None:
    from assay._errors import InputError
    from assay.store import rerun

    store = open_store(tmp_path / "runs.db")
    res = _record(store, _spec(), tmp_path, "r1")
    with pytest.raises(InputError, match="assay llm run SUITE"):
        rerun(store, res.run_id)


def _order_ranks(n: int, q: float, conf: float) -> tuple[int, int]:
    """0-based ranks (a, b) of the narrowest interval [x_(a+1), x_(b+1)] whose tails
    P(B <= a) and P(B > b), B ~ Binomial(n, q), are each at most (1 - conf) / 2."""
    k = np.arange(n)
    tail = (1 - conf) / 2
    a = int(k[stats.binom.cdf(k, n, q) <= tail].max())
    b = int(k[stats.binom.sf(k, n, q) <= tail].min())
    return a, b


def test_tradeoffs_against_scipy() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for variant, speed, price in (("fast", 0.1, 0.001), ("slow", 0.5, 0.004)):
        for case in range(40):
            for sample in range(2):
                ok = not (variant == "fast" and case == 5 and sample == 1)
                rows.append({"variant": variant, "case_id": f"c{case}", "sample": sample,
                             "status": "ok" if ok else "error",
                             "latency_s": float(rng.gamma(2.0, speed)) if ok else 0.0,
                             "cost": price * (1 + case % 3) if ok else None})
    outputs = pd.DataFrame(rows)
    summary = pd.DataFrame([
        {"variant": "fast", "slice": "overall", "scorer": "em", "metric": "pass_rate", "value": 0.7,
         "ci_low": 0.6, "ci_high": 0.8, "status": "ok"},
        {"variant": "slow", "slice": "overall", "scorer": "em", "metric": "pass_rate", "value": 0.9,
         "ci_low": 0.8, "ci_high": 0.95, "status": "ok"}])
    t = tradeoffs(summary, outputs, confidence=0.95)
    assert list(t.columns) == TRADEOFF_COLUMNS and len(t) == 2
    for r in t.itertuples():
        ok = outputs[(outputs["variant"] == r.variant) & (outputs["status"] == "ok")]
        per_case = ok.groupby("case_id")["cost"].mean().to_numpy()
        half = stats.t.ppf(0.975, per_case.size - 1) * per_case.std(ddof=1) / math.sqrt(per_case.size)
        assert r.cost_per_case == pytest.approx(per_case.mean())
        assert (r.cost_low, r.cost_high) == pytest.approx((per_case.mean() - half, per_case.mean() + half))
        lat = np.sort(ok["latency_s"].to_numpy())
        assert r.latency_p50 == pytest.approx(np.percentile(lat, 50))
        for q, lo, hi in ((0.5, r.p50_low, r.p50_high), (0.95, r.p95_low, r.p95_high)):
            ranks = _order_ranks(lat.size, q, 0.95)
            assert (lo, hi) == (lat[ranks[0]], lat[ranks[1]])
        assert r.n_answers == len(ok) and r.n_cases == 40
    fast, slow = t.iloc[0], t.iloc[1]
    assert fast["n_errors"] == 1 and slow["n_errors"] == 0
    # fast is cheaper and quicker, slow is better: neither dominates
    assert bool(fast["pareto"]) and bool(slow["pareto"])
    dominated = summary.assign(value=[0.95, 0.9])
    t2 = tradeoffs(dominated, outputs, confidence=0.95)
    assert list(t2["pareto"]) == [True, False]
    # an unknown cost (no prices) is not "free": it is left out of the comparison
    from assay.llm._tradeoffs import _pareto

    rows = [{"scorer": "em", "quality": 0.9, "cost_per_case": math.nan, "latency_p50": 0.5},
            {"scorer": "em", "quality": 0.9, "cost_per_case": 0.002, "latency_p50": 0.5}]
    _pareto(rows)
    assert [r["pareto"] for r in rows] == [True, True]


def test_tradeoffs_of_a_suite_and_small_samples() -> None:
    res = run_suite(_spec(gates=[]), providers=_providers())
    t = res.tradeoffs
    assert set(t["variant"]) == {"small", "big"} and set(t["scorer"]) == {"exact", "quality"}
    big = t[(t["variant"] == "big") & (t["scorer"] == "exact")].iloc[0]
    assert big["quality"] == 1.0 and big["cost_per_case"] == pytest.approx(0.002)
    # 8 answers: the order-statistic interval of the 95th percentile cannot reach 95%
    assert math.isnan(big["p95_low"]) and math.isfinite(big["p50_low"])
    small = t[(t["variant"] == "small") & (t["scorer"] == "exact")].iloc[0]
    assert small["quality"] == 6 / 8 and small["cost_per_case"] == pytest.approx(0.0005)


def test_calibration_labels_travel_with_the_run(tmp_path) -> None:
    from sklearn.metrics import cohen_kappa_score

    # humans say pass for every case but q3 and q7 on the small model; q5 has no label row
    rows = [f"q{i},small,{'fail' if i in (3, 7) else 'pass'}" for i in range(8) if i != 5] + ["zz,small,pass"]
    (tmp_path / "labels.csv").write_text("case_id,variant,quality\n" + "\n".join(rows) + "\n")
    spec = _spec(calibration=[{"labels": "labels.csv", "scorers": ["quality"], "min_items": 2}])
    store = open_store(tmp_path / "runs.db")
    res = _record(store, spec, tmp_path, "r1")
    c = res.calibration
    overall = c[(c["slice"] == "overall") & (c["scorer"] == "quality")].set_index("statistic")
    judged = res.scores[(res.scores["scorer"] == "quality") & (res.scores["variant"] == "small")]
    judged = judged.set_index("case_id").loc[[f"q{i}" for i in range(8) if i != 5]]
    human = [i not in (3, 7) for i in range(8) if i != 5]
    assert overall.loc["accuracy", "value"] == pytest.approx(np.mean(judged["passed"].to_numpy() == human))
    kappa = [s for s in overall.index if "kappa" in s][0]
    expect = cohen_kappa_score(judged["passed"].astype(bool), human)
    got = overall.loc[kappa, "value"]
    assert got == pytest.approx(expect) or (math.isnan(expect) and math.isnan(got))
    [counts] = res.label_counts
    assert counts["unmatched_rows"] == 1 and counts["unmatched_ids"] == ["zz"]
    inputs = store.get_run(res.run_id).record["inputs"]
    assert inputs["labels:labels.csv"]["sha256"] == counts["sha256"]
    assert "calibration" in store.get_run(res.run_id).record["analyses"]["tables"]
    assert (tmp_path / "r1" / "calibration.parquet").exists()
    with pytest.raises(ValueError, match="unknown scorer"):
        _spec(calibration=[{"labels": "labels.csv", "scorers": ["nope"]}])
