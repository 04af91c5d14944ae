"""Running a suite: the variant matrix, samples and seeds, provider errors per case, cache
reuse, scores per case and scorer, and the summary's rates and means with intervals
(checked against statsmodels and SciPy); undetermined scores are counted, never averaged."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from assay._errors import SpecError
from assay.llm._runner import run_suite
from assay.llm._suite import SuiteSpec
from assay.llm.providers import CallableChat

CASES = [{"id": f"q{i}", "input": f"question {i}", "expected": "B" if i % 2 else "A",
          "tags": ["odd"] if i % 2 else ["even"]} for i in range(10)]


def _suite(**over: object) -> SuiteSpec:
    raw = {"name": "t", "cases": CASES, "providers": [{"name": "fake", "callable": "x:y"}],
           "prompts": [{"name": "plain"}, {"name": "polite", "template": "Please: {{ input }}"}],
           "params": {"temperature": [0.0, 0.7], "max_tokens": [8]},
           "scorers": [{"kind": "choice", "choices": ["A", "B", "C", "D"]},
                       {"kind": "length", "unit": "chars", "max": 20}],
           "cache": False, "bootstrap": 200} | over
    return SuiteSpec.model_validate(raw)


class Fake:
    """Answers 'Answer: A' (right for even cases), fails on q9, and is vague on q7."""

    def __init__(self) -> None:
        self.calls = 0
        self.seeds: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.calls += 1
            self.seeds.append(request.params["seed"])
        text = request.messages[-1]["content"]
        if text.endswith("9"):
            raise TimeoutError("the model timed out")
        if text.endswith("7"):
            return "maybe"
        return "Answer: A"


def test_matrix_scores_and_summary() -> None:
    fake = Fake()
    res = run_suite(_suite(), providers={"fake": CallableChat(fake)})
    variants = ["plain/temperature=0.0", "plain/temperature=0.7", "polite/temperature=0.0",
                "polite/temperature=0.7"]
    assert list(dict.fromkeys(res.outputs["variant"])) == variants
    assert fake.calls == 40 and len(res.outputs) == 40 and len(res.scores) == 80
    errors = res.outputs[res.outputs["status"] == "error"]
    assert set(errors["case_id"]) == {"q9"} and (errors["error"] == "TimeoutError: the model timed out").all()
    choice = res.scores[(res.scores["scorer"] == "choice") & (res.scores["variant"] == variants[0])]
    assert dict(choice["status"].value_counts()) == {"ok": 8, "undetermined": 1, "error": 1}
    row = res.summary[(res.summary["variant"] == variants[0]) & (res.summary["slice"] == "overall")
                      & (res.summary["scorer"] == "choice") & (res.summary["metric"] == "pass_rate")].iloc[0]
    # ok cases: q0..q8 without q7; right when even: q0, q2, q4, q6, q8 -> 5 of 8
    assert (row["value"], row["n"], row["n_undetermined"], row["n_error"]) == (5 / 8, 8, 1, 1)
    lo, hi = proportion_confint(5, 8, alpha=0.05, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
    odd = res.summary[(res.summary["variant"] == variants[0]) & (res.summary["slice"] == "tag=odd")
                      & (res.summary["scorer"] == "choice") & (res.summary["metric"] == "pass_rate")].iloc[0]
    assert (odd["value"], odd["n"]) == (0.0, 3)  # q1, q3, q5 answered A, expected B
    length = res.scores[(res.scores["scorer"] == "length") & (res.scores["variant"] == variants[0])
                        & (res.scores["status"] == "ok")]["value"].to_numpy()
    mean = res.summary[(res.summary["variant"] == variants[0]) & (res.summary["slice"] == "overall")
                       & (res.summary["scorer"] == "length") & (res.summary["metric"] == "mean")].iloc[0]
    half = stats.t.ppf(0.975, length.size - 1) * length.std(ddof=1) / np.sqrt(length.size)
    assert mean["value"] == pytest.approx(length.mean())
    assert (mean["ci_low"], mean["ci_high"]) == pytest.approx((length.mean() - half, length.mean() + half))
    assert res.hashes["cases"] and set(res.hashes["prompts"]) == {"plain", "polite"}
    assert set(res.usage["variant"]) == set(variants) and (res.usage["errors"] == 1).all()


def test_samples_are_seeded_and_clustered() -> None:
    fake = Fake()
    res = run_suite(_suite(samples=3, seed=5, params={}, prompts=[{"name": "plain"}]),
                    providers={"fake": CallableChat(fake)})
    assert sorted(set(fake.seeds)) == [5, 6, 7] and fake.calls == 30
    row = res.summary[(res.summary["slice"] == "overall") & (res.summary["scorer"] == "choice")
                      & (res.summary["metric"] == "pass_rate")].iloc[0]
    assert row["method"] == "cluster bootstrap (cases)" and row["n"] == 24 and row["n_cases"] == 10
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    again = run_suite(_suite(samples=3, seed=5, params={}, prompts=[{"name": "plain"}]),
                      providers={"fake": CallableChat(Fake())})
    assert again.summary.equals(res.summary)  # seeded: same bytes


def test_the_cache_answers_a_rerun(tmp_path) -> None:
    first, second = Fake(), Fake()
    spec = _suite(cache=str(tmp_path / "cache"))
    a = run_suite(spec, tmp_path, providers={"fake": CallableChat(first)})
    b = run_suite(spec, tmp_path, providers={"fake": CallableChat(second)})
    assert first.calls == 40 and second.calls == 4  # only the failed q9 requests are asked again
    assert b.outputs["cached"].sum() == 36
    assert a.scores.drop(columns=[]).equals(b.scores)


def test_suite_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="unknown scorer kind 'choise'; did you mean 'choice'"):
        _suite(scorers=[{"kind": "choise"}])
    with pytest.raises(ValueError, match="provider names must be unique; repeated: a"):
        _suite(providers=[{"name": "a", "callable": "m:f"}, {"name": "a", "callable": "m:g"}])
    with pytest.raises(ValueError, match="give exactly one of 'base_url'.*'callable'.*'gguf'"):
        _suite(providers=[{"name": "a", "callable": "m:f", "base_url": "http://x"}])
    with pytest.raises(ValueError, match="scorer names must be unique"):
        _suite(scorers=[{"kind": "exact"}, {"kind": "exact"}])
    from assay.llm._suite import load_suite

    with pytest.raises(SpecError, match="suite file not found"):
        load_suite("missing.yaml")


def test_cli_runs_a_suite_file(tmp_path, cli, monkeypatch) -> None:
    import json

    import pandas as pd
    import yaml

    (tmp_path / "fake_provider.py").write_text(
        "def answer(request):\n"
        "    text = request.messages[-1]['content']\n"
        "    return 'Answer: A' if text.endswith(('0', '2', '4')) else 'Answer: B'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "cases.jsonl").write_text("\n".join(json.dumps(c) for c in CASES[:6]) + "\n")
    suite = {"name": "cli", "cases": "cases.jsonl",
             "providers": [{"name": "fake", "callable": "fake_provider:answer"}],
             "scorers": [{"kind": "choice", "choices": ["A", "B"]}], "cache": False}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    got = cli("llm", "run", tmp_path / "suite.yaml", "--out", tmp_path / "out")
    assert got.code == 0, got.text
    assert "pass 1.000" in got.out and "Usage per variant" in got.out
    summary = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert summary.query("slice == 'overall' and metric == 'pass_rate'")["value"].iloc[0] == 1.0
    meta = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert len(meta["hashes"]["cases"]) == 64
    suite["gates"] = [{"rule": "threshold", "metric": "choice.pass_rate", "min": 0.999, "judge": "ci_low"}]
    (tmp_path / "gated.yaml").write_text(yaml.safe_dump(suite))
    held = cli("llm", "run", tmp_path / "gated.yaml", "--out", tmp_path / "out2")
    assert held.code == 1 and "Verdict: HOLD" in held.out  # 6 of 6 pass, but the interval is wide
    assert json.loads((tmp_path / "out2" / "suite.json").read_text())["verdict"]["decision"] == "hold"
    bad = cli("llm", "run", tmp_path / "missing.yaml")
    assert bad.code == 2 and "suite file not found" in bad.text


def test_a_judge_scores_inside_a_suite() -> None:
    import json

    def judge(request):
        prompt = request.messages[-1]["content"]
        good = "Answer: A" in prompt
        return json.dumps({"score": 5 if good else 2, "reason": "names A" if good else "does not"})

    spec = _suite(params={}, prompts=[{"name": "plain"}],
                  providers=[{"name": "fake", "callable": "x:y"},
                             {"name": "judge", "callable": "x:z", "role": "judge"}],
                  scorers=[{"kind": "judge", "name": "quality", "provider": "judge", "model": "j",
                            "rubric": "5 if the answer names a choice", "scale": {"min": 1, "max": 5,
                                                                                  "pass_at": 4}}])
    res = run_suite(spec, providers={"fake": CallableChat(Fake()), "judge": CallableChat(judge)})
    q = res.scores[res.scores["scorer"] == "quality"].set_index("case_id")
    assert q.loc["q9", "status"] == "error"  # no output to judge
    assert q.loc["q7", "value"] == 2 and not q.loc["q7", "passed"]
    assert q.loc["q0", "value"] == 5 and q.loc["q0", "passed"]
    # only the variants' providers are asked for answers; the judge provider only judges
    assert set(res.outputs["variant"]) == {"fake"}
    with pytest.raises(ValueError, match="'provider' must name one of the suite's providers"):
        _suite(scorers=[{"kind": "judge", "provider": "nope", "model": "j", "rubric": "r"}])


def _two_models(samples: int = 1) -> tuple:
    """Model 'a' answers A everywhere; model 'b' answers right on 30 of 40 cases, mixed by tag."""
    cases = [{"id": f"c{i:02d}", "input": f"q {i}", "expected": "B" if i % 3 == 0 else "A",
              "tags": ["t1"] if i < 20 else ["t2"]} for i in range(40)]

    def a(request):
        return "Answer: A"

    def b(request):
        i = int(request.messages[-1]["content"].split()[-1])
        right = "B" if i % 3 == 0 else "A"
        wrong = "A" if right == "B" else "B"
        return f"Answer: {right if i % 4 else wrong}" + " so" * (i % 5 + request.params["seed"] % 2)

    spec = _suite(cases=cases, params={}, prompts=[{"name": "p"}], samples=samples,
                  providers=[{"name": "a", "callable": "x:y"}, {"name": "b", "callable": "x:z"}],
                  scorers=[{"kind": "choice", "choices": ["A", "B"]},
                           {"kind": "length", "unit": "words"}])
    return spec, {"a": CallableChat(a), "b": CallableChat(b)}, cases


def test_paired_comparison_against_scipy_and_statsmodels() -> None:
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests

    from assay.stats import tango_interval

    spec, providers, cases = _two_models()
    res = run_suite(spec, providers=providers)
    c = res.comparisons
    assert set(c["baseline"]) == {"a"} and set(c["candidate"]) == {"b"}
    sc = res.scores
    for label, ids in (("overall", [x["id"] for x in cases]),
                       ("tag=t1", [x["id"] for x in cases[:20]]), ("tag=t2", [x["id"] for x in cases[20:]])):
        ch = sc[(sc["scorer"] == "choice") & sc["case_id"].isin(ids)]
        pa_ = ch[ch["variant"] == "a"].set_index("case_id")["passed"].astype(int)
        pb_ = ch[ch["variant"] == "b"].set_index("case_id")["passed"].astype(int)
        n11, n10 = int(((pb_ == 1) & (pa_ == 1)).sum()), int(((pb_ == 1) & (pa_ == 0)).sum())
        n01, n00 = int(((pb_ == 0) & (pa_ == 1)).sum()), int(((pb_ == 0) & (pa_ == 0)).sum())
        row = c[(c["slice"] == label) & (c["scorer"] == "choice") & (c["metric"] == "pass_rate")].iloc[0]
        assert row["delta"] == pytest.approx((n10 - n01) / len(ids))
        assert row["p_value"] == pytest.approx(mcnemar([[n11, n10], [n01, n00]], exact=True).pvalue)
        iv = tango_interval(n11, n10, n01, n00, 0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((iv.low, iv.high))
        ln = sc[(sc["scorer"] == "length") & sc["case_id"].isin(ids)]
        la = ln[ln["variant"] == "a"].set_index("case_id")["value"]
        lb = ln[ln["variant"] == "b"].set_index("case_id")["value"].loc[la.index]
        mrow = c[(c["slice"] == label) & (c["scorer"] == "length") & (c["metric"] == "mean")].iloc[0]
        assert mrow["p_value"] == pytest.approx(stats.ttest_rel(lb, la).pvalue)
    grp = c[(c["scorer"] == "choice") & (c["metric"] == "pass_rate")]
    assert grp["p_adjusted"].to_numpy() == pytest.approx(
        multipletests(grp["p_value"].to_numpy(), method="fdr_bh")[1])


def test_paired_comparison_with_samples_runs_over_case_means() -> None:
    spec, providers, _ = _two_models(samples=2)
    res = run_suite(spec, providers=providers)
    row = res.comparisons[(res.comparisons["slice"] == "overall") & (res.comparisons["scorer"] == "length")
                          & (res.comparisons["metric"] == "mean")].iloc[0]
    ln = res.scores[res.scores["scorer"] == "length"]
    per_case = ln.pivot_table(index="case_id", columns="variant", values="value", aggfunc="mean")
    assert row["method"] == "paired t over case means" and row["n"] == 40
    assert row["p_value"] == pytest.approx(stats.ttest_rel(per_case["b"], per_case["a"]).pvalue)
    with pytest.raises(SpecError, match="compare names unknown variant"):
        _suite(compare={"baseline": "nope"}).comparison()


def test_classical_gate_rules_decide_llm_scores(tmp_path, cli, monkeypatch) -> None:
    spec, providers, _ = _two_models()
    gated = spec.model_copy(update={"gates": spec.model_validate({
        **spec.model_dump(mode="json"), "gates": [
            {"rule": "non_inferiority", "metric": "choice.pass_rate", "margin": 0.05},
            {"rule": "threshold", "name": "b is safe", "metric": "choice.pass_rate", "model": "b",
             "min": 0.99, "judge": "ci_low"},
            {"rule": "threshold", "name": "b on t2", "metric": "choice.pass_rate", "model": "b",
             "min": 0.3, "judge": "ci_low", "slices": ["tag=t2"]}]}).gates})
    res = run_suite(gated, providers=providers)
    rules = {r.name: r for r in res.verdict.rules}
    comp = res.comparisons.query("slice == 'overall' and scorer == 'choice' "
                                 "and metric == 'pass_rate'").iloc[0]
    ni = rules["choice.pass_rate: candidate no worse than baseline by more than 0.05"]
    assert ni.status == ("pass" if comp["ci_low"] > -0.05 else "fail" if comp["ci_high"] < -0.05
                         else "undecided")
    b = res.summary.query("variant == 'b' and slice == 'overall' and scorer == 'choice' "
                          "and metric == 'pass_rate'").iloc[0]
    assert b["ci_low"] < 0.99 and rules["b is safe"].status in ("fail", "undecided")
    t2 = res.summary.query("variant == 'b' and slice == 'tag=t2' and scorer == 'choice' "
                           "and metric == 'pass_rate'").iloc[0]
    assert rules["b on t2"].status == ("pass" if t2["ci_low"] >= 0.3 else "fail")
    assert res.verdict.decision == "hold" and res.verdict.exit_code == 1
    with pytest.raises(SpecError, match="metric 'choice.accuracy', which was not computed"):
        run_suite(spec.model_validate({**spec.model_dump(mode="json"), "gates": [
            {"rule": "threshold", "metric": "choice.accuracy", "min": 0.5}]}), providers=providers)


def test_usage_against_numpy() -> None:
    def costly(request):
        i = int(request.messages[-1]["content"].split()[-1])
        return {"text": "Answer: A", "prompt_tokens": 10 + i, "completion_tokens": i % 3, "cost": 0.001 * i}

    res = run_suite(_suite(params={}, prompts=[{"name": "plain"}]), providers={"fake": CallableChat(costly)})
    u = res.usage.iloc[0]
    out = res.outputs
    assert (u["calls"], u["errors"], u["cached"]) == (10, 0, 0)
    assert u["prompt_tokens"] == sum(10 + i for i in range(10))
    assert u["completion_tokens"] == sum(i % 3 for i in range(10))
    assert u["cost"] == pytest.approx(0.001 * sum(range(10)))
    assert u["latency_p50"] == pytest.approx(np.percentile(out["latency_s"], 50))
    assert u["latency_p95"] == pytest.approx(np.percentile(out["latency_s"], 95))
    assert u["cost_spent"] == pytest.approx(u["cost"])  # no cache: every answer was paid for


def test_a_cached_rerun_keeps_latency_and_cost_but_spends_nothing(tmp_path) -> None:
    def costly(request):
        i = int(request.messages[-1]["content"].split()[-1])
        return {"text": "Answer: A", "prompt_tokens": 10, "completion_tokens": 1, "cost": 0.001 * (i + 1)}

    spec = _suite(params={}, prompts=[{"name": "plain"}], cache=".cache")
    first = run_suite(spec, tmp_path, providers={"fake": CallableChat(costly)})
    again = run_suite(spec, tmp_path, providers={"fake": CallableChat(costly)})
    assert again.outputs["cached"].all() and not first.outputs["cached"].any()
    assert list(again.outputs["latency_s"]) == list(first.outputs["latency_s"])
    u1, u2 = first.usage.iloc[0], again.usage.iloc[0]
    assert u1["cost"] == u2["cost"] == pytest.approx(0.001 * sum(range(1, 11)))
    assert (u1["cost_spent"], u2["cost_spent"]) == (pytest.approx(u1["cost"]), 0.0)
    assert (u2["latency_p50"], u2["latency_p95"]) == (u1["latency_p50"], u1["latency_p95"])


def test_case_clustered_interval_matches_the_cluster_robust_standard_error() -> None:
    """With several samples per case, the bootstrap over cases must give the width of the
    cluster-robust normal interval (sd of case means / sqrt(cases)), not of the row count."""
    import pandas as pd

    from assay.llm._aggregate import summarize

    rng = np.random.default_rng(3)
    cases = np.repeat([f"c{i}" for i in range(200)], 5)
    case_effect = np.repeat(rng.normal(0, 1, 200), 5)
    values = case_effect + rng.normal(0, 0.2, cases.size)
    scores = pd.DataFrame({"variant": "v", "case_id": cases, "sample": np.tile(range(5), 200),
                           "tags": [()] * cases.size, "scorer": "s", "value": values, "passed": None,
                           "status": "ok", "reason": ""})
    row = summarize(scores, samples=5, confidence=0.95, replicates=4000, seed=0).iloc[0]
    means = pd.Series(values).groupby(cases).mean()
    se = means.std(ddof=1) / np.sqrt(means.size)
    assert row["method"] == "cluster bootstrap (cases)"
    assert (row["ci_high"] - row["ci_low"]) == pytest.approx(2 * stats.norm.ppf(0.975) * se, rel=0.08)
    naive = values.std(ddof=1) / np.sqrt(values.size)  # rows as if independent: far too narrow
    assert (row["ci_high"] - row["ci_low"]) > 1.8 * (2 * stats.norm.ppf(0.975) * naive)
