"""The LLM suite's report (assay.report._llm): report.html and summary.md of a SuiteResult.

Suites run end to end with Python-callable providers (two model variants, one named with
markup, and a judge). Checks: the page is self-contained and escapes every user string
(case input, output, reason, tag, variant name); every number on the page equals the
result's tables as the page formats them (and one pass rate equals a Wilson interval from
statsmodels); the banners (verdict, comparability) appear exactly when they should; the
per-case drill-down lists every case with its input, context, expected output and each
variant's output and scores, problem cases first, capped at MAX_CASES; the Markdown
summary; same inputs give the same bytes (also under another hash seed); bad tables stop
with an error naming them; and the page in headless Chromium.
"""

from __future__ import annotations

import copy
import html
import json
import math
import pickle
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _browser import assert_charts_drawn, open_page
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError
from assay.llm._cases import load_cases
from assay.llm._runner import SuiteResult, judges_table, run_suite
from assay.llm._suite import SuiteSpec
from assay.llm._tradeoffs import tradeoffs
from assay.llm.providers import CallableChat
from assay.report import render_suite_html, render_suite_summary
from assay.report._llm import MAX_CASES
from assay.report._summary import format_p
from assay.report._svg import fmt
from assay.stats import judge_agreement

XSS = "<script>window.__pwned = 1</script>"
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
LONG = "Answer: A. " + " ".join(f"word{i}" for i in range(400)) + " THE-END"
BAD = XSS  # the candidate variant's name (its provider's name)


# ---------------------------------------------------------------------------- a tiny DOM


class Node:
    """An element: tag, attributes, children; ``text`` is its text with entities decoded."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self) -> Any:
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        hits = self.find_all(tag, cls, **attrs)
        assert hits, (tag, cls, attrs)
        return hits[0]


VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        node = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None and node.parent is not None, f"</{tag}> closes nothing"
        self.cur = node.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def parse(doc: str) -> Node:
    b = _Builder()
    b.feed(doc)
    b.close()
    assert b.cur is b.root, f"unclosed <{b.cur.tag}>"
    return b.root


def squash(text: str) -> str:
    return " ".join(text.split())


def shown(cell: Node) -> str:
    """A number cell as read: its value, a space, its interval (the page sets them apart with CSS)."""
    interval = "".join(n.text for n in cell.find_all("span", "ci"))
    value = "".join(c for c in cell.children if isinstance(c, str))
    return f"{squash(value)} {interval}".strip()


def ci(lo: float, hi: float, sign: bool = False) -> str:
    return f"[{fmt(lo, sign=sign)}, {fmt(hi, sign=sign)}]" if math.isfinite(lo) and math.isfinite(hi) else ""


# ---------------------------------------------------------------------------- suites


def case_list(n: int = 20) -> list[dict[str, Any]]:
    cases = []
    for i in range(n):
        c: dict[str, Any] = {"id": f"c{i:02d}", "input": f"q {i}", "expected": "B" if i % 3 == 0 else "A",
                             "tags": ["t1"] if i < n // 2 else ["t2"],
                             "context": [{"id": "d1", "text": f"document for case {i}"}]}
        if i == 3:
            c["input"] = f"q 3 {XSS}"
        if i == 4:
            c["tags"] = ["t1", XSS]
        if i == 5:
            del c["input"]
            c["messages"] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q 5"}]
        if i == 8:
            c["context"] = [{"id": "d1", "text": "first"}, {"id": f"d2{XSS}", "text": f"second {XSS}"}]
        cases.append(c)
    return cases


def _number(request: Any) -> int:
    return int(request.messages[-1]["content"].split()[1])


def baseline(request: Any) -> dict[str, Any]:
    return {"text": "Answer: A", "prompt_tokens": 10, "completion_tokens": 3, "cost": 0.0001}


def candidate(request: Any) -> dict[str, Any]:
    """Right on multiples of 3 (answers B with markup), vague on other multiples of 4, a long
    answer on case 2, a timeout on case 7."""
    i = _number(request)
    if i == 7:
        raise TimeoutError("the model timed out")
    text = f"Answer: B {XSS}" if i % 3 == 0 else "maybe" if i % 4 == 0 else LONG if i == 2 else "Answer: A"
    return {"text": text, "prompt_tokens": 12, "completion_tokens": 5, "cost": 0.0002}


def judge(request: Any) -> str:
    good = "Answer: A" in request.messages[-1]["content"]
    return json.dumps({"score": 5 if good else 2, "reason": f"judged {XSS}"})


def make_spec(n: int = 20, **over: Any) -> SuiteSpec:
    raw: dict[str, Any] = {
        "name": f"support bot {XSS}", "cases": case_list(n),
        "providers": [{"name": "base", "callable": "m:a"}, {"name": BAD, "callable": "m:b"},
                      {"name": "j", "callable": "m:j", "role": "judge"}],
        "scorers": [{"kind": "choice", "choices": ["A", "B"]}, {"kind": "length", "unit": "words", "max": 3},
                    {"kind": "judge", "name": "quality", "provider": "j", "model": "judge-m",
                     "rubric": "5 if A", "scale": {"min": 1, "max": 5, "pass_at": 4}}],
        "cache": False, "bootstrap": 200,
        "gates": [{"rule": "threshold", "metric": "choice.pass_rate", "min": 0.5},
                  {"rule": "non_inferiority", "metric": "quality.pass_rate", "margin": 0.1}]}
    return SuiteSpec.model_validate(raw | over)


def complete(res: SuiteResult, base: Path = Path(".")) -> SuiteResult:
    """Fill the fields a runner without them leaves empty (cases, tradeoffs, judges)."""
    if not res.cases:
        res.cases = load_cases(res.spec.cases, base)
    if res.tradeoffs is None:
        res.tradeoffs = tradeoffs(res.summary, res.outputs, confidence=res.spec.confidence)
    if res.judges is None:
        res.judges = judges_table(res.spec.scorer_configs(), res.spec)
    return res


def run(spec: SuiteSpec, providers: dict[str, Any] | None = None) -> SuiteResult:
    providers = providers or {"base": CallableChat(baseline), BAD: CallableChat(candidate),
                              "j": CallableChat(judge)}
    return complete(run_suite(spec, providers=providers))


def calibration_table(res: SuiteResult) -> pd.DataFrame:
    """The judge's pass/fail on the candidate's first 12 judged answers against human labels."""
    q = res.scores[(res.scores.scorer == "quality") & (res.scores.variant == BAD)
                   & (res.scores.status == "ok")].head(12)
    human = ["pass", "fail"] * 6
    got = judge_agreement(["pass" if p else "fail" for p in q.passed], human,
                          groups=[list(t) for t in q.tags])
    undefined = {"slice": "tag=t9", "statistic": "cohen_kappa", "value": math.nan, "ci_low": math.nan,
                 "ci_high": math.nan, "n": 2, "n_excluded": 0, "method": "", "status": "undefined",
                 "note": "kappa is undefined: both raters used only 'pass'"}
    got = got.rename(columns={"group": "slice"})
    got["slice"] = got["slice"].map(lambda g: g if g == "overall" else f"tag={g}")
    got = pd.concat([got, pd.DataFrame([undefined])], ignore_index=True)
    return got.assign(scorer="quality")[["scorer", *got.columns]]


@pytest.fixture(scope="module")
def result() -> SuiteResult:
    res = run(make_spec())
    res.calibration = calibration_table(res)
    res.run_id = "run-0042"
    res.store = "postgresql://alice:hunter2@db.internal/runs"
    return res


@pytest.fixture(scope="module")
def page(result: SuiteResult) -> str:
    return render_suite_html(result)


@pytest.fixture(scope="module")
def dom(page: str) -> Node:
    return parse(page)


def section(dom: Node, sid: str) -> Node:
    return dom.find("section", id=sid)


# ---------------------------------------------------------------------------- page


def test_self_contained_and_escaped(result: SuiteResult, page: str, dom: Node) -> None:
    assert page.startswith("<!doctype html>")
    csp = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].attrs["content"].startswith("default-src 'none'")
    assert "<script" not in page.lower() and XSS not in page
    assert all(not n.attrs.get("src") for n in dom.iter())
    assert all(n.attrs["href"].startswith("#") for n in dom.find_all("a"))
    # each kind of user string is on the page as text (the parser decodes what was escaped)
    assert XSS in dom.find("h1").text  # suite name
    assert any(XSS in th.text for th in section(dom, "scores").find_all("th"))  # variant name
    c03 = dom.find("details", data_case="c03")
    assert c03.find("pre", "input").text == f"q 3 {XSS}"  # case input
    c04 = dom.find("details", data_case="c04")
    assert XSS in [b.text for b in c04.find_all("span", "tag")]  # tag
    bad = c03.find("div", "answer", data_variant=BAD)
    assert bad.find("pre", "output").text == f"Answer: B {XSS}"  # output
    reason = bad.find("tr", "score", data_scorer="quality").find("td", "reason")
    assert reason.text == f"judged {XSS}"  # reason
    assert "hunter2" not in page and "alice" not in page  # store URL without credentials
    assert "postgresql://db.internal/runs" in page


def test_header(result: SuiteResult, dom: Node) -> None:
    meta = squash(dom.find("p", "meta").text)
    assert "20 case(s) × 2 variant(s) × 1 sample(s)" in meta and "95% intervals" in meta
    assert "run run-0042" in meta
    assert [squash(li.text) for li in dom.find("header").find("ul", "legend").find_all("li")] == ["base", BAD]


def test_scores_table_matches_the_summary(result: SuiteResult, dom: Node) -> None:
    s = result.summary[result.summary.slice == "overall"]
    rows = section(dom, "scores").find("table", "scores").find("tbody").find_all("tr")
    # choice scores 1 on pass, 0 on fail: one row; length and the judge have a mean of their own
    assert [(r.attrs["data-scorer"], r.attrs["data-metric"]) for r in rows] == [
        ("choice", "pass_rate"), ("length", "pass_rate"), ("length", "mean"), ("quality", "pass_rate"),
        ("quality", "mean")]
    for r in rows:
        values, ns = r.find_all("td", "value"), r.find_all("td", "n")
        und, err = r.find_all("td", "undetermined"), r.find_all("td", "error")
        for k, variant in enumerate(["base", BAD]):
            want = s[(s.variant == variant) & (s.scorer == r.attrs["data-scorer"])
                     & (s.metric == r.attrs["data-metric"])].iloc[0]
            assert shown(values[k]) == f"{fmt(want.value)} {ci(want.ci_low, want.ci_high)}".strip()
            assert ns[k].text == str(want.n)
            assert (und[k].text, err[k].text) == (str(want.n_undetermined), str(want.n_error))
    # an independent check of one cell: base answers A everywhere, right on 13 of 20
    lo, hi = proportion_confint(13, 20, alpha=0.05, method="wilson")
    first = shown(rows[0].find_all("td", "value")[0])
    assert first == f"0.650 [{lo:.3f}, {hi:.3f}]"
    cand = rows[0].find_all("td", "value")[1]
    # the candidate: case 7 timed out (error), cases 4, 8, 16 vague (undetermined), never averaged in
    counts = (rows[0].find_all("td", "undetermined")[1].text, rows[0].find_all("td", "error")[1].text)
    assert counts == ("3", "1")
    assert rows[0].find_all("td", "n")[1].text == "16" and cand.text.startswith("1.000")


def test_tags_table_and_charts(result: SuiteResult, dom: Node) -> None:
    tags = section(dom, "tags")
    s = result.summary
    rows = tags.find("table", "tags").find("tbody").find_all("tr")
    assert {r.attrs["data-slice"] for r in rows} == {"tag=t1", "tag=t2", f"tag={XSS}"}
    for r in rows:
        for k, variant in enumerate(["base", BAD]):
            metric = r.attrs["data-metric"]
            want = s[(s.variant == variant) & (s.scorer == r.attrs["data-scorer"]) & (s.metric == metric)
                     & (s.slice == r.attrs["data-slice"])]
            cell = r.find_all("td", "value")[k]
            if want.empty:  # no ok score: the cell says so and keeps the counts
                other = s[(s.variant == variant) & (s.scorer == r.attrs["data-scorer"])
                          & (s.slice == r.attrs["data-slice"])].iloc[0]
                assert cell.text == "undefined"
                assert r.find_all("td", "undetermined")[k].text == str(other.n_undetermined)
                continue
            w = want.iloc[0]
            if w.status != "ok":  # a row without an ok score: said so, with its counts
                assert cell.text == "undefined"
                assert r.find_all("td", "undetermined")[k].text == str(w.n_undetermined)
                continue
            assert shown(cell) == f"{fmt(w.value)} {ci(w.ci_low, w.ci_high)}".strip()
    # the candidate's only tag-XSS case (4) was vague: choice undetermined, not a blank cell
    xss_choice = [r for r in rows
                  if r.attrs["data-slice"] == f"tag={XSS}" and r.attrs["data-scorer"] == "choice"][0]
    assert xss_choice.find_all("td", "value")[1].text == "undefined"
    assert xss_choice.find_all("td", "undetermined")[1].text == "1"
    charts = tags.find_all("figure", "tag-chart")
    assert [f.attrs["data-scorer"] for f in charts] == ["choice", "quality", "length"]  # gated first
    # one marker per (slice, variant) with an ok value: overall squares plus tag circles
    choice = s[(s.scorer == "choice") & (s.metric == "pass_rate") & (s.status == "ok")]
    svg = charts[0].find("svg")
    assert len(svg.find_all("rect")) - 1 + len(svg.find_all("circle")) == len(choice)  # minus the frame


def test_comparison_numbers(result: SuiteResult, dom: Node) -> None:
    comp = result.comparisons
    sec = section(dom, "comparison")
    assert squash(sec.find("h3").text) == f"{BAD} vs base"
    overall = sec.find("table", "deltas").find("tbody").find_all("tr")
    by_tag = sec.find("table", "tag-deltas").find("tbody").find_all("tr")
    assert len(overall) == int((comp.slice == "overall").sum())
    assert len(by_tag) == int((comp.slice != "overall").sum())
    label = {"pass rate": "pass_rate", "mean": "mean"}
    for r in overall + by_tag:
        want = comp[(comp.scorer == r.attrs["data-scorer"]) & (comp.metric == label[r.attrs["data-metric"]])
                    & (comp.slice == r.attrs["data-slice"])].iloc[0]
        delta = r.find("td", "delta")
        if want.status == "ok":
            assert shown(delta) == f"{fmt(want.delta, sign=True)} {ci(want.ci_low, want.ci_high, True)}"
        assert r.find("td", "p").text == format_p(want.p_value)
        assert r.find("td", "p-adj").text == format_p(want.p_adjusted)
        excludes_zero = want.status == "ok" and (want.ci_low > 0 or want.ci_high < 0)
        tone = None
        if excludes_zero and want.metric == "pass_rate":
            tone = "better" if want.delta > 0 else "worse"
        assert ("better" in delta.classes, "worse" in delta.classes) == (tone == "better", tone == "worse")
    # quality's pass rate fell: red in the table; its chart has the gate's bound as a dashed line
    q = [r for r in overall
         if r.attrs["data-scorer"] == "quality" and r.attrs["data-metric"] == "pass rate"][0]
    assert "worse" in q.find("td", "delta").classes
    chart = sec.find("figure", "delta-chart", data_scorer="quality")
    assert any("-0.100" in t.text for t in chart.find_all("title"))


def test_tradeoffs_judges_usage(result: SuiteResult, dom: Node) -> None:
    t = result.tradeoffs
    rows = section(dom, "tradeoffs").find("tbody").find_all("tr")
    assert len(rows) == len(t)
    for r, w in zip(rows, t.itertuples(), strict=True):
        assert (r.attrs["data-variant"], r.attrs["data-scorer"]) == (w.variant, w.scorer)
        assert shown(r.find("td", "quality")) == f"{fmt(w.quality)} {ci(w.quality_low, w.quality_high)}"
        assert shown(r.find("td", "cost")) == f"{w.cost_per_case:.4g} [{w.cost_low:.4g}, {w.cost_high:.4g}]"
        assert shown(r.find("td", "p50")) == f"{fmt(w.latency_p50)} {ci(w.p50_low, w.p50_high)}".strip()
        assert ("pareto" in r.classes) == bool(w.pareto)
    assert sum("pareto" in r.classes for r in rows) == int(t.pareto.sum()) > 0
    j = result.judges.iloc[0]
    row = section(dom, "judges").find("tr", data_scorer="quality")
    fp = row.find("td", "fingerprint")
    assert fp.text == j.fingerprint[:12] and fp.attrs["title"] == j.fingerprint
    assert "judge-m" in row.text and "0.00" in row.text
    usage = section(dom, "usage").find("tbody").find_all("tr")
    for r, w in zip(usage, result.usage.itertuples(), strict=True):
        cells = [c.text for c in r.find_all("td")]
        assert cells[:6] == [w.variant, f"{w.calls:,}", f"{w.errors:,}", f"{w.cached:,}",
                             f"{w.prompt_tokens:,}", f"{w.completion_tokens:,}"]
        assert cells[6] == f"{w.cost:.4g}"
    assert [c.text for c in usage[0].find_all("td")][6] == "0.002"  # 20 answers at 0.0001


def test_calibration_section(result: SuiteResult, dom: Node) -> None:
    sec = section(dom, "calibration")
    table = sec.find("table", "calibration", data_scorer="quality")
    heads = [th.text for th in table.find("thead").find_all("th")]
    assert heads[:4] == ["slice", "statistic", "value [CI]", "n"]
    assert "n_excluded" in heads and "method" in heads  # other columns, shown as they come
    cal = result.calibration
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == len(cal)
    for r, w in zip(rows, cal.itertuples(), strict=True):
        assert (r.attrs["data-slice"], r.attrs["data-statistic"]) == (w.slice, w.statistic)
        want = f"{fmt(w.value)} {ci(w.ci_low, w.ci_high)}".strip() if w.status == "ok" else w.status
        assert shown(r.find("td", "value")) == want
    # a group whose labels are all one category has no kappa: said so, not a number
    assert (cal.status != "ok").any() and any(r.find("td", "value").text == "undefined" for r in rows)
    none = copy.copy(result)
    none.calibration = None
    assert 'id="calibration"' not in render_suite_html(none)


def _flagged(scores: pd.DataFrame) -> set[str]:
    bad = (scores.status != "ok") | ((scores.status == "ok") & (scores.passed.map(lambda p: p is False)))
    return set(scores[bad].case_id)


def test_drilldown_every_case_problems_first(result: SuiteResult, dom: Node) -> None:
    details = section(dom, "cases").find_all("details", "case")
    ids = [c.id for c in result.cases]
    flagged = _flagged(result.scores)
    want = [i for i in ids if i in flagged] + [i for i in ids if i not in flagged]
    assert [d.attrs["data-case"] for d in details] == want and len(details) == 20
    assert [("flagged" in d.classes) for d in details] == [i in flagged for i in want]
    assert "left out" not in section(dom, "cases").text
    for d in details:
        answers = d.find_all("div", "answer")
        assert [a.attrs["data-variant"] for a in answers] == ["base", BAD]
        for a in answers:
            got = [(r.attrs["data-scorer"], squash(r.find("td", "status").text), r.find("td", "value").text,
                    squash(r.find("td", "passed").text), r.find("td", "reason").text)
                   for r in a.find_all("tr", "score")]
            s = result.scores[(result.scores.case_id == d.attrs["data-case"])
                              & (result.scores.variant == a.attrs["data-variant"])]
            expect = [(w.scorer, w.status, "—" if w.status != "ok" else
                       (f"{w.value:.0f}" if w.value == round(w.value) else fmt(w.value)),
                       "—" if w.passed is None or w.status != "ok" else ("pass" if w.passed else "fail"),
                       w.reason) for w in s.itertuples()]
            assert got == expect


def test_drilldown_content(result: SuiteResult, dom: Node) -> None:
    c02 = dom.find("details", data_case="c02")
    assert c02.find("div", "answer", data_variant=BAD).find("pre", "output").text == LONG  # in full
    assert c02.find("pre", "expected").text == "A"
    assert c02.find("pre", "context").text == "document for case 2"
    c05 = dom.find("details", data_case="c05")
    msgs = [(m.find("span", "role").text, m.find("pre").text) for m in c05.find_all("div", "message")]
    assert msgs == [("system", "Be brief."), ("user", "q 5")] and not c05.find_all("pre", "input")[2:]
    c07 = dom.find("details", data_case="c07")
    bad = c07.find("div", "answer", data_variant=BAD)
    assert "TimeoutError: the model timed out" in bad.find("p", "error-text").text
    assert {r.find("td", "status").text for r in bad.find_all("tr", "score")} == {"error"}
    c08 = dom.find("details", data_case="c08")
    docs = [(d.find("span", "role").text, d.find("pre").text) for d in c08.find_all("div", "context-doc")]
    assert docs == [("[d1]", "first"), (f"[d2{XSS}]", f"second {XSS}")]
    summary = squash(dom.find("details", data_case="c00").find("summary").text)
    assert summary.startswith("needs review c00 t1") and "failed" in summary


def test_drilldown_non_text_expected_and_unknown_case(result: SuiteResult) -> None:
    spec = make_spec(4, scorers=[{"kind": "json_valid"}], gates=[])
    res = run(spec)
    cases = list(res.cases)
    res.cases = [type(cases[0])(**{**cases[0].__dict__, "expected": {"answer": "A", "why": XSS}}), *cases[2:]]
    dom = parse(render_suite_html(res))
    exp = dom.find("details", data_case="c00").find("pre", "expected").text
    assert json.loads(exp) == {"answer": "A", "why": XSS}
    # c01 is in the outputs but not in the case list: still shown, and said to be unrecorded
    c01 = dom.find("details", data_case="c01")
    assert "not in the run's case list" in c01.text and len(c01.find_all("div", "answer")) == 2
    assert [t.text for t in c01.find_all("span", "tag")] == ["t1"]  # its tags, from its scores
    assert len(dom.find_all("details", "case")) == 4


def test_drilldown_is_capped() -> None:
    n = MAX_CASES + 5
    spec = make_spec(n, scorers=[{"kind": "choice", "choices": ["A", "B"]}], gates=[],
                     providers=[{"name": "base", "callable": "m:a"}])
    res = run(spec, {"base": CallableChat(baseline)})
    dom = parse(render_suite_html(res))
    details = dom.find_all("details", "case")
    assert len(details) == MAX_CASES
    flagged = _flagged(res.scores)  # every case expecting B (a third) fails: all of them shown first
    first = [d.attrs["data-case"] for d in details[:len(flagged)]]
    assert first == [c.id for c in res.cases if c.id in flagged]
    line = squash(dom.find("p", "left-out").text)
    assert f"Showing {MAX_CASES} of {n} cases" in line and "5 case(s) left out" in line
    assert "scores.parquet" in line


def test_samples_and_all_errors() -> None:
    res = run(make_spec(6, samples=3, gates=[]))
    dom = parse(render_suite_html(res))
    assert "6 case(s) × 2 variant(s) × 3 sample(s)" in squash(dom.find("p", "meta").text)
    n = section(dom, "scores").find("tr", data_scorer="choice").find_all("td", "n")[0].text
    assert n == "18 (6 cases)"
    answers = dom.find("details", data_case="c01").find_all("div", "answer")
    assert [(a.attrs["data-variant"], a.attrs["data-sample"]) for a in answers] == [
        (v, str(k)) for v in ("base", BAD) for k in range(3)]

    def down(request: Any) -> str:
        raise ConnectionError("refused")

    dead = run(make_spec(3, gates=[], providers=[{"name": "base", "callable": "m:a"},
                                                 {"name": "j", "callable": "m:j", "role": "judge"}]),
               {"base": CallableChat(down), "j": CallableChat(judge)})
    doc = render_suite_html(dead)
    d = parse(doc)
    row = section(d, "scores").find("tr", data_scorer="choice")
    assert row.find("td", "value").text == "undefined" and row.find("td", "error").text == "3"
    assert 'id="comparison"' not in doc  # one variant: nothing to compare
    md = render_suite_summary(dead)
    assert "0 failed, 0 undetermined and 9 error score(s)" in md


# ---------------------------------------------------------------------------- banners


def test_verdict_banner(result: SuiteResult, dom: Node) -> None:
    banner = section(dom, "verdict").find("div", "banner", role="status")
    assert banner.attrs["data-decision"] == result.verdict.decision == "hold"
    assert "hold" in banner.classes and "HOLD" in banner.text
    rules = section(dom, "verdict").find("table", "rules").find_all("tr", "rule")
    assert len(rules) == len(result.verdict.rules)
    ungated = copy.copy(result)
    ungated.verdict = None
    d = parse(render_suite_html(ungated))
    assert section(d, "verdict").find("div", "banner").attrs["data-decision"] == "none"
    title = f"## assay llm: support bot {html.escape(XSS, quote=False)}".replace("_", "\\_")
    assert render_suite_summary(ungated).startswith(title)


def _with(result: SuiteResult, comparability: dict[str, Any] | None) -> SuiteResult:
    other = copy.copy(result)
    other.comparability = comparability
    return other


BREAKING = {"previous_run": "run-0041", "previous_started": "2026-03-01T10:00:00+00:00", "comparable": False,
            "changes": [{"what": "judge quality: model", "before": "judge-m", "after": f"judge-n{XSS}",
                         "breaks": True, "note": "a new judge model scores differently"},
                        {"what": "cases", "before": "aa", "after": "bb", "breaks": False,
                         "note": "2 cases added"}]}
INFO = {"previous_run": "run-0041", "previous_started": "2026-03-01T10:00:00+00:00", "comparable": True,
        "changes": [{"what": "prompt default", "before": "11", "after": "22", "breaks": False, "note": ""}]}


def test_comparability_banners(result: SuiteResult, dom: Node) -> None:
    assert not dom.find_all(cls="comparability")  # no earlier run: no banner
    d = parse(render_suite_html(_with(result, BREAKING)))
    alert = d.find("div", "comparability")
    assert alert.attrs["data-comparable"] == "false" and "hold" in alert.classes
    assert alert.attrs["role"] == "alert"
    items = [squash(li.text) for li in alert.find("ul", "breaking").find_all("li")]
    assert items == [f"judge quality: model: judge-m → judge-n{XSS} (a new judge model scores differently)"]
    assert "NOT COMPARABLE" in alert.text and "run-0041" in alert.text
    info = d.find("table", "changes").find("tbody").find_all("tr")
    assert [r.find("td").text for r in info] == ["cases"]  # the non-breaking change, as information
    md = render_suite_summary(_with(result, BREAKING))
    assert "> ⚠️ **Not comparable with the previous run run-0041" in md
    assert "judge-n&lt;script&gt;" in md and XSS not in md
    ok = parse(render_suite_html(_with(result, INFO)))
    notice = ok.find("div", "comparability")
    assert notice.attrs["data-comparable"] == "true" and "hold" not in notice.classes
    assert "NOT COMPARABLE" not in ok.text
    changes = ok.find("table", "changes").find("tbody").find_all("tr")
    assert [r.find("td").text for r in changes] == ["prompt default"]
    md_ok = render_suite_summary(_with(result, INFO))
    assert "Not comparable" not in md_ok and "Comparable with the previous run run-0041" in md_ok
    assert "Not comparable" not in render_suite_summary(result)


# ---------------------------------------------------------------------------- summary


def test_summary_markdown(result: SuiteResult) -> None:
    md = render_suite_summary(result)
    assert XSS not in md and "<script" not in md
    assert md.startswith("## ❌ assay llm: **HOLD** — support bot &lt;script&gt;")
    assert "20 cases × 2 variant(s) × 1 sample(s) · 95% intervals · seed 0 · run run-0042" in md
    s = result.summary[result.summary.slice == "overall"]
    w = s[(s.variant == BAD) & (s.scorer == "choice") & (s.metric == "pass_rate")].iloc[0]
    assert (f"| choice | pass rate | &lt;script&gt;window.\\_\\_pwned = 1&lt;/script&gt; | {fmt(w.value)} "
            f"{ci(w.ci_low, w.ci_high)} | 16 | 3 | 1 |") in md
    assert "| choice | mean |" not in md and "| length | mean | base |" in md
    # comparisons: ok rows, pass rates first, each by |delta|, at most 8
    block = md.split("### Largest differences")[1].split("###")[0]
    rows = [r for r in block.splitlines() if r.startswith("| ") and "candidate vs baseline" not in r]
    comp = result.comparisons[result.comparisons.status == "ok"]
    order = comp.assign(m=comp.metric != "pass_rate", a=-comp.delta.abs())
    order = order.sort_values(["m", "a"], kind="stable")
    assert len(rows) == 8
    for row, w in zip(rows, order.head(8).itertuples(), strict=True):
        delta = f"{fmt(w.delta, sign=True)} {ci(w.ci_low, w.ci_high, True)}"
        assert f"| {delta} | {format_p(w.p_value)} | " in row
    trade = md.split("### Quality × cost × latency")[1].split("###")[0]
    assert trade.count("★") == int(result.tradeoffs.pareto.sum())
    cal = md.split("### Judge calibration")[1].split("###")[0]
    overall = result.calibration[result.calibration.slice == "overall"]
    assert sum(r.startswith("| quality |") for r in cal.splitlines()) == len(overall)
    acc = overall[overall.statistic == "accuracy"].iloc[0]
    assert f"| quality | accuracy | {fmt(acc.value)} {ci(acc.ci_low, acc.ci_high)} | {int(acc.n)} |" in cal
    # failing cases: failed first, then undetermined, then error, each in run order; 10 listed
    fail = md.split("### Failing cases")[1]
    sc = result.scores
    failed = sc[(sc.status == "ok") & sc.passed.map(lambda p: p is False)]
    und, err = sc[sc.status == "undetermined"], sc[sc.status == "error"]
    assert f"{len(failed)} failed, {len(und)} undetermined and {len(err)} error score(s) in all" in fail
    listed = [r for r in fail.splitlines() if r.startswith("| c") and not r.startswith("| case")]
    want = pd.concat([failed, und, err]).head(10)
    assert [r.split(" | ")[0][2:] for r in listed] == list(want.case_id)
    assert f"… and {len(failed) + len(und) + len(err) - 10} more in scores.parquet" in fail
    assert md.count("\n### ") <= 8  # short: a PR comment


# ---------------------------------------------------------------------------- determinism, bad input


def test_same_bytes(result: SuiteResult, page: str, tmp_path: Path) -> None:
    assert render_suite_html(result) == page
    assert render_suite_html(copy.deepcopy(result)) == page
    md = render_suite_summary(result)
    assert render_suite_summary(copy.deepcopy(result)) == md
    # another process with another hash seed: no set or dict order leaks into the bytes
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(result))
    code = ("import pickle,sys; from assay.report import render_suite_html as h, render_suite_summary as s; "
            "r=pickle.load(open(sys.argv[1],'rb')); sys.stdout.buffer.write((h(r)+s(r)).encode())")
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(REPO / "src") + ":" + str(REPO / "tests")}
    got = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.pkl")], capture_output=True, env=env,
                         check=True, timeout=120).stdout
    assert got == (page + md).encode()


def test_bad_tables_name_the_column(result: SuiteResult) -> None:
    broken = copy.copy(result)
    broken.summary = result.summary.drop(columns=["n_error"])
    with pytest.raises(InputError, match=r"SuiteResult\.summary lacks column\(s\) n_error"):
        render_suite_html(broken)
    with pytest.raises(InputError, match=r"SuiteResult\.summary lacks column\(s\) n_error"):
        render_suite_summary(broken)
    cal = copy.copy(result)
    cal.calibration = result.calibration.drop(columns=["scorer"])
    with pytest.raises(InputError, match=r"SuiteResult\.calibration lacks column\(s\) scorer"):
        render_suite_html(cal)


# ---------------------------------------------------------------------------- browser


def test_suite_report_in_chromium(tmp_path: Path, result: SuiteResult, dom: Node) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_suite_html(_with(result, BREAKING)), encoding="utf-8")
    charts = len(dom.find_all("figure", "tag-chart")) + len(dom.find_all("figure", "delta-chart"))
    with open_page(path) as (page, log):
        assert assert_charts_drawn(page) == charts > 0
        assert page.locator(".banner.hold.comparability").is_visible()
        assert page.locator("details.case").count() == 20
        first = page.locator("details.case").first
        assert not first.locator("pre.output").first.is_visible()  # closed until opened
        first.locator("summary").click()
        assert first.locator("pre.output").first.is_visible()
        c03 = page.locator('details.case[data-case="c03"]')
        c03.locator("summary").click()
        assert c03.get_by_text(f"Answer: B {XSS}").is_visible()  # the output, as text
        c02 = page.locator('details.case[data-case="c02"]')
        c02.locator("summary").click()
        assert c02.get_by_text("THE-END").is_visible()  # the long output wraps, in full
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "llm-report.png"), full_page=True)
    assert not log.errors, log.errors
    assert all(u.startswith("file://") for u in log.requested), log.requested
