"""The report's Robustness section (HTML and summary.md) on hand-built stress tables: present
only with the tables, numbers as in the tables, the worst drop, slices and examples chosen
as an independent computation says, user strings escaped, same input same bytes."""

from __future__ import annotations

import dataclasses
import math
import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import assay
from assay.report import render_html, render_summary
from assay.report._html_robustness import MAX_SLICES, pct, robustness_context
from assay.report._summary_robustness import MAX_PERTURBATIONS, robustness_lines
from assay.stats import wilson_interval

XSS = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
MODELS = ("lr", "gb")
NOISE, MISSING, SWAP, SHIFT = "noise(income)", "missing(age)", f"swap {XSS}", "shift(region=north)"
REGIONS = ("north", "south", "east", "west", "centre", "islands", "capital", "rural", "tiny")
SLICES = [("overall", "overall", "")] + [(f"region={r}", "region", r) for r in REGIONS]
Z = 1.959963984540054
N = 300
SHA = "ab12cd34ef56" + "0" * 52
ROBUSTNESS_COLUMNS = [
    "model", "perturbation", "kind", "slice", "dimension", "level", "metric", "clean_value",
    "perturbed_value", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "n", "method",
    "status", "note", "higher_is_better", "changed_rows", "errored_rows"]

#: overall roc_auc change of lr per perturbation: (delta, ci_low, ci_high)
LR_OVERALL = {NOISE: (-0.042, -0.061, -0.023), MISSING: (-0.010, -0.030, 0.010),
              SWAP: (0.004, 0.001, 0.007), SHIFT: (-0.020, -0.045, 0.005)}
LR_ERRORED = {NOISE: 0, MISSING: 37, SWAP: 0}


def _metric_row(model: str, pert: str, kind: str, sl: tuple[str, str, str], metric: str, clean: float,
                delta: float, low: float, high: float, n: int, hib: bool, *, status: str = "ok",
                changed: int = 0, errored: int = 0, method: str = "paired delong; two-sided",
                note: str = "") -> dict[str, Any]:
    return {"model": model, "perturbation": pert, "kind": kind, "slice": sl[0], "dimension": sl[1],
            "level": sl[2], "metric": metric, "clean_value": clean, "perturbed_value": clean + delta,
            "delta": delta, "ci_low": low, "ci_high": high, "p_value": 0.01, "p_adjusted": 0.02, "n": n,
            "method": method, "status": status, "note": note, "higher_is_better": hib,
            "changed_rows": changed, "errored_rows": errored}


def _rate_row(model: str, pert: str, kind: str, sl: tuple[str, str, str], metric: str, count: int,
              n: int, changed: int, errored: int) -> dict[str, Any]:
    p = count / n
    ci = wilson_interval(p, n, 0.95)
    row = _metric_row(model, pert, kind, sl, metric, math.nan, p, ci.low, ci.high, n, False,
                      changed=changed, errored=errored, method="wilson")
    row["perturbed_value"] = math.nan
    return row


def robustness_table(perturbations: dict[str, str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows like the stress runner's: per model, perturbation, slice and metric (roc_auc
    higher is better, log_loss lower), the flip and error rates; a shift only overall."""
    rng = np.random.default_rng(seed)
    perts = perturbations or {NOISE: "noise", MISSING: "missing", SWAP: "swap", SHIFT: "shift"}
    rows = []
    for model in MODELS:
        for pert, kind in perts.items():
            for sl in SLICES if kind != "shift" else SLICES[:1]:
                n = N if sl[0] == "overall" else int(rng.integers(40, 90))
                errored = (LR_ERRORED.get(pert, 0) if model == "lr" else 2 * (pert == MISSING)) \
                    if sl[0] == "overall" else int(rng.integers(0, 3)) * (pert == MISSING)
                changed = n if kind != "shift" else 0
                if model == "lr" and sl[0] == "overall" and pert in LR_OVERALL:
                    d, lo, hi = LR_OVERALL[pert]
                else:
                    d = float(np.round(rng.normal(-0.02, 0.03), 3))
                    lo, hi = d - Z * 0.015, d + Z * 0.015
                status = "too_small" if sl[0] == "region=tiny" else "ok"
                if status != "ok":
                    d = lo = hi = math.nan
                rows.append(_metric_row(model, pert, kind, sl, "roc_auc", 0.81, d, lo, hi, n - errored,
                                        True, status=status, changed=changed, errored=errored))
                ll = float(np.round(rng.normal(0.02, 0.01), 4)) if sl[0] != "overall" or model != "lr" \
                    else 0.031
                rows.append(_metric_row(model, pert, kind, sl, "log_loss", 0.45, ll, ll - 0.019,
                                        ll + 0.019, n - errored, False, changed=changed, errored=errored,
                                        method="paired bootstrap (200 replicates)"))
                if kind == "shift":
                    continue
                flips = int(rng.integers(0, n // 8))
                rows.append(_rate_row(model, pert, kind, sl, "flip_rate", flips, n - errored, changed,
                                      errored))
                rows.append(_rate_row(model, pert, kind, sl, "error_rate", errored, n, changed, errored))
    return pd.DataFrame(rows, columns=ROBUSTNESS_COLUMNS)


def behaviour_table() -> pd.DataFrame:
    rows = []
    for model, test, kind, n, failures, allowed in (
            ("lr", "income up <b>lowers</b> risk", "directional", 250, 40, 0.05),
            ("lr", "name invariance", "invariance", 250, 1, 0.02),
            ("gb", "income up <b>lowers</b> risk", "directional", 250, 3, 0.05)):
        ci = wilson_interval(failures / n, n, 0.95)
        rows.append({"model": model, "test": test, "kind": kind, "n": n, "failures": failures,
                     "failure_rate": failures / n, "ci_low": ci.low, "ci_high": ci.high,
                     "max_failure_rate": allowed, "passed": failures / n <= allowed,
                     "errored_rows": 4 if model == "gb" else 0, "skipped_rows": 0, "note": ""})
    return pd.DataFrame(rows)


def latency_table() -> pd.DataFrame:
    rows = []
    for i, model in enumerate(MODELS):
        for metric, v in (("latency_p50_ms", 0.42), ("latency_p95_ms", 1.87), ("latency_mean_ms", 0.61),
                          ("throughput_rows_per_s", 12345.6)):
            v = v * (i + 1) if metric != "throughput_rows_per_s" else v / (i + 1)
            rows.append({"model": model, "slice": "overall", "dimension": "overall", "level": "",
                         "metric": metric, "value": v, "ci_low": v * 0.9, "ci_high": v * 1.1, "n": 200,
                         "method": "order-statistic interval; 200 requests", "status": "ok", "note": ""})
    return pd.DataFrame(rows)


def errors_table() -> pd.DataFrame:
    return pd.DataFrame([
        {"model": "lr", "input": MISSING, "message": f"ValueError: Input X contains NaN {IMG}", "rows": 37,
         "example_rows": "3, 9, 12"},
        {"model": "gb", "input": "test: income up <b>lowers</b> risk", "message": "TimeoutError", "rows": 4,
         "example_rows": "7"}])


def charts() -> dict[str, Any]:
    def example(i: int, error: bool = False) -> dict[str, Any]:
        return {"row": f"id C{100 + i}", "label": str(i % 2), "before": {"income": "52000", "region": XSS},
                "after": {"income": "" if error else str(52000 + 1000 * i), "region": XSS},
                "clean": "0.213", "perturbed": "error" if error else f"{0.213 + 0.05 * i:.3f}",
                "change": math.nan if error else 0.05 * i, "error": error}
    return {"perturbations": [
        {"model": "lr", "perturbation": NOISE, "columns": ["income", "region"],
         "rows": [example(3), example(2), example(1)]},
        {"model": "lr", "perturbation": MISSING, "columns": ["income"],
         "rows": [example(1), example(9, True)]},
        {"model": "gb", "perturbation": NOISE, "columns": ["income"], "rows": []}],
        "tests": [{"model": "lr", "test": "income up <b>lowers</b> risk", "columns": ["income"],
                   "rows": [example(4), example(5)]}]}


ADAPTERS = {"lr": {"kind": "sklearn", "sha256": SHA, "description": f"models/lr.skops {XSS}",
                   "features": ["income", "age"], "rows": 300, "unique_rows": 298, "cached": 120,
                   "predicted": 178, "errored": 0, "model_seconds": 0.1234, "cacheable": True},
            "gb": {"kind": "http", "sha256": "f" * 64, "description": "https endpoint",
                   "features": ["income"], "rows": 300, "unique_rows": 300, "cached": 0, "predicted": 300,
                   "errored": 4, "model_seconds": 2.5, "cacheable": False}}


@pytest.fixture(scope="module")
def base() -> assay.EvaluationResult:
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-x))).astype(np.int64)
    data = pd.DataFrame({"y": y, "s1": 1 / (1 + np.exp(-x)), "s2": 1 / (1 + np.exp(-x - rng.normal(size=N)))})
    return assay.evaluate({"task": "binary", "label": "y", "bootstrap": 100, "seed": 0,
                           "models": [{"name": "lr", "score": "s1"}, {"name": "gb", "score": "s2"}]},
                          data=data)


def stressed(base: assay.EvaluationResult, **tables: pd.DataFrame) -> assay.EvaluationResult:
    analyses = {"robustness": robustness_table(), "behaviour": behaviour_table(),
                "latency": latency_table(), "prediction_errors": errors_table()} if not tables else tables
    return dataclasses.replace(base, analyses={**base.analyses, **analyses},
                               analysis_charts={**base.analysis_charts, "robustness": charts()},
                               extra={**base.extra, "adapters": ADAPTERS})


@pytest.fixture(scope="module")
def doc(base: assay.EvaluationResult) -> str:
    return render_html(stressed(base))


def _pct(share: float) -> str:
    """A share in percent: one decimal, two significant digits below 0.1%."""
    p = share * 100
    return f"{p:.2g}%" if 0 < p < 0.1 else f"{p:.1f}%"


def esc(text: str) -> str:
    """Text as the template's autoescape writes it."""
    return str(escape(text))


def _section(doc: str) -> str:
    return doc.split('<section id="robustness">', 1)[1].split("</section>", 1)[0]


def _table(part: str, cls: str, model: str | None = None) -> str:
    head = f'<table class="{cls}"' + (f' data-model="{esc(model)}"' if model else "")
    return part.split(head, 1)[1].split("</table>", 1)[0]


def _between(part: str, start: str, end: str) -> str:
    return part.split(start, 1)[1].split(end, 1)[0]


def _tr(table: str, pert: str) -> str:
    match = re.search(rf'<tr data-perturbation="{re.escape(esc(pert))}">(.*?)</tr>', table, re.S)
    assert match, pert
    return match.group(1)


def _cells(row: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)


# ---------------------------------------------------------------------------- presence


def test_absent_without_stress_tables(base: assay.EvaluationResult) -> None:
    doc = render_html(base)
    assert '<section id="robustness">' not in doc and 'href="#robustness"' not in doc
    assert robustness_context(base, {}) is None and robustness_lines(base) == []
    assert "Robustness" not in render_summary(base)
    empty = dataclasses.replace(base, analyses={"robustness": robustness_table().iloc[:0]})
    assert robustness_context(empty, {}) is None
    # the adapters table alone (a model run without a stress suite) adds no section
    assert '<section id="robustness">' not in render_html(dataclasses.replace(
        base, extra={**base.extra, "adapters": ADAPTERS}))


def test_section_and_nav_entry(doc: str) -> None:
    assert doc.count('<section id="robustness">') == 1
    nav = doc.split("<nav", 1)[1].split("</nav>", 1)[0]
    anchors = re.findall(r'href="#([a-z-]+)"', nav)
    assert anchors.index("robustness") == anchors.index("excluded") - 1
    assert doc.index('<section id="robustness">') < doc.index('<section id="excluded">')
    part = _section(doc)
    for title in ("Model errors", "lr under perturbations", "gb under perturbations", "Behavioural tests",
                  "Latency", "Models run by assay"):
        assert title in part, title


def test_only_behaviour_table(base: assay.EvaluationResult) -> None:
    res = stressed(base, behaviour=behaviour_table())
    part = _section(render_html(res))
    assert "under perturbations" not in part and "Behavioural tests" in part
    assert part.count('<span class="badge fail">fail</span>') == 1
    lines = robustness_lines(res)
    assert lines[1].startswith("### Robustness · ❌ 1 failing behavioural test(s)")
    assert "| perturbation |" not in "\n".join(lines)


# ---------------------------------------------------------------------------- numbers


def test_perturbation_table_numbers_and_tones(doc: str) -> None:
    t = robustness_table()
    table = _table(_section(doc), "robustness", "lr")
    lr = t[(t.model == "lr") & (t.slice == "overall")]
    for pert in (NOISE, MISSING, SWAP, SHIFT):
        cells = _cells(_tr(table, pert))
        by = {r.metric: r for r in lr[lr.perturbation == pert].itertuples()}
        k = by["roc_auc"]
        assert f"{k.clean_value:.3f} → {k.perturbed_value:.3f}" in cells[2]
        assert f"{k.delta:+.3f}" in cells[3] and f"[{k.ci_low:+.3f}, {k.ci_high:+.3f}]" in cells[3]
        ll = by["log_loss"]
        assert f"{ll.delta:+.3f}" in cells[4] and f"[{ll.ci_low:+.3f}, {ll.ci_high:+.3f}]" in cells[4]
        if pert == SHIFT:  # a shift changes no prediction: no flips, no errors, no changed rows
            assert cells[1] == cells[5] == cells[6] == "—"
            continue
        f = by["flip_rate"]
        assert f"{f.delta * 100:.1f}%" in cells[5]
        assert f"[{f.ci_low * 100:.1f}%, {f.ci_high * 100:.1f}%]" in cells[5]
        assert f"{int(f.changed_rows):,}" in cells[1] and f"of {int(by['error_rate'].n):,}" in cells[1]
    rows = re.findall(r"<tr data-perturbation=.*?</tr>", table, re.S)
    tones = {pert: re.findall(r'<td class="num ([a-z]*)"', r)[:2] for pert, r in zip(
        (NOISE, MISSING, SWAP, SHIFT), rows, strict=True)}
    # roc_auc: higher is better; log_loss (+0.031 [0.012, 0.050]): lower is better, so worse
    assert tones[NOISE] == ["worse", "worse"]
    assert tones[MISSING][0] == "" and tones[SHIFT][0] == ""  # the interval includes zero
    assert tones[SWAP][0] == "better"


def test_model_errors_are_findings(doc: str) -> None:
    part = _section(doc)
    err_cell = _cells(_tr(_table(part, "robustness", "lr"), MISSING))[6]
    assert "worse" in _tr(_table(part, "robustness", "lr"), MISSING).split(err_cell)[0].rsplit("<td", 1)[1]
    assert "failed on 37 row(s)" in err_cell
    assert f"{37 / N * 100:.1f}%" in err_cell
    assert "failed on" not in _cells(_tr(_table(part, "robustness", "lr"), NOISE))[6]
    errors = _table(part, "model-errors")
    for r in errors_table().itertuples():
        assert esc(r.message) in errors
        assert f'<td class="num">{r.rows}</td>' in errors and r.example_rows in errors
    assert "lr failed on 37 row(s); gb failed on 4 row(s)" in part
    # the headline names the perturbation with model errors
    head = part.split('<ul class="plain headlines">', 1)[1].split("</ul>", 1)[0]
    lr_line = head.split("<li>")[1]
    assert f"model errors under {MISSING} (37 rows)" in lr_line


def test_headline_worst_drop_and_flip(doc: str) -> None:
    t = robustness_table()
    head = _section(doc).split('<ul class="plain headlines">', 1)[1].split("</ul>", 1)[0]
    for i, model in enumerate(MODELS):
        line = head.split("<li>")[i + 1]
        o = t[(t.model == model) & (t.slice == "overall") & (t.status == "ok")]
        auc = o[o.metric == "roc_auc"]
        worst = auc.loc[auc.delta.idxmin()]  # higher is better: the most negative change
        assert f"worsens most under <strong>{esc(worst.perturbation)}</strong>" in line
        assert f"{worst.delta:+.3f}" in line
        flips = o[o.metric == "flip_rate"]
        top = flips.loc[flips.delta.idxmax()]
        assert f"highest flip rate {top.delta * 100:.1f}%" in line
        assert f"under <strong>{esc(top.perturbation)}</strong>" in line.split("highest flip rate")[1]


def test_per_slice_degradation(doc: str) -> None:
    t = robustness_table()
    part = _section(doc)
    lr_part = part.split("lr under perturbations", 1)[1].split("gb under perturbations", 1)[0]
    details = lr_part.split('<details class="slice-degradation">', 1)[1].split("</details>", 1)[0]
    blocks = details.split("<h4>")[1:]
    s = t[(t.model == "lr") & (t.metric == "roc_auc") & (t.slice != "overall")]
    assert [b.split("</h4>")[0] for b in blocks] == [esc(p) for p in dict.fromkeys(s.perturbation)]
    for block, pert in zip(blocks, dict.fromkeys(s.perturbation), strict=True):
        g = s[(s.perturbation == pert) & (s.status == "ok") & (s.delta < 0)]
        expected = g.sort_values(["delta", "slice"]).slice.head(MAX_SLICES).tolist()
        shown = re.findall(r'<tr><td class="name">(.*?)</td>', block)
        assert shown == expected, (pert, shown, expected)
        measured = int(((s.perturbation == pert) & (s.status == "ok")).sum())
        assert f"{len(g)} of {measured} slice(s) worse" in block
        assert len(g) > MAX_SLICES  # the data has more worse slices than the list shows
        assert f"the {MAX_SLICES} largest drops shown" in block
        for sl in expected:
            r = g[g.slice == sl].iloc[0]
            assert f"{r.delta:+.3f}" in block
        assert "region=tiny (n=" in block and "too small" in block


def test_worst_examples(doc: str) -> None:
    part = _section(doc)
    details = part.split('<details class="worst-examples">', 1)[1].split("</details>", 1)[0]
    assert f"<h4>{NOISE}</h4>" in details and f"<h4>{MISSING}</h4>" in details
    noise = details.split(f"<h4>{NOISE}</h4>", 1)[1].split("<h4>", 1)[0]
    assert "id C103" in noise and "52000 → <strong>55000</strong>" in noise
    assert esc(XSS) in noise  # unchanged column shown once, escaped
    assert "0.213 → 0.363" in noise and "0.150" in noise
    missing = details.split(f"<h4>{MISSING}</h4>", 1)[1]
    assert '<tr class="flagged"><td class="name mono">id C109</td>' in missing
    assert '<span class="badge fail">model error</span>' in missing and "0.213 → error" in missing


def test_behaviour_tests(doc: str) -> None:
    table = _between(_section(doc), '<table class="behaviour">', "<h3>Latency</h3>")
    rows = re.findall(r'<tr class="test (\w+)">(.*?)</tr>', table, re.S)
    b = behaviour_table()
    assert [s for s, _ in rows] == ["fail" if not p else "pass" for p in b.passed]
    for (status, row), r in zip(rows, b.itertuples(), strict=True):
        assert f'<span class="badge {status}">{status}</span>' in row
        assert esc(r.test) in row
        assert f"{r.failure_rate * 100:.1f}%" in row and f"≤ {r.max_failure_rate * 100:.1f}%" in row
        assert f"[{_pct(r.ci_low)}, {_pct(r.ci_high)}]" in row
    assert "the model failed on 4 edited row(s)" in rows[2][1]
    assert "failing rows (2 shown)" in table and "id C104" in table


def test_latency_and_adapters(doc: str) -> None:
    part = _section(doc)
    lat = _table(part, "latency")
    for r in latency_table().itertuples():
        text = f"{r.value:,.0f}" if r.metric == "throughput_rows_per_s" else f"{r.value:.3f}"
        text += f'<span class="ci">[{r.ci_low:,.0f}, {r.ci_high:,.0f}]' if r.metric == \
            "throughput_rows_per_s" else f'<span class="ci">[{r.ci_low:.3f}, {r.ci_high:.3f}]'

        assert text in lat, (r.model, r.metric, text)
    assert "[0.378, 0.462]" in lat  # lr p50 0.42 ± 10%
    ad = _table(part, "adapters")
    assert f">{SHA[:12]}</td>" in ad and f'title="sha256 {SHA}"' in ad and SHA not in ad.replace(
        f'title="sha256 {SHA}"', "")
    assert "120 / 178" in ad and "not cached / 300" in ad and "0.12" in ad and "2.50" in ad
    assert esc(f"models/lr.skops {XSS}") in ad


# ---------------------------------------------------------------------------- safety


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert not any(name.startswith("on") for name, _ in attrs), (tag, attrs)


def test_user_strings_escaped_and_no_script(doc: str) -> None:
    low = doc.lower()
    assert "<script" not in low and "<img" not in low and "<b>" not in low
    part = _section(doc)
    assert esc(SWAP) in part  # a perturbation name
    assert esc(IMG) in part  # an error message
    assert esc("income up <b>lowers</b> risk") in part  # a test name
    parser = _Tags()
    parser.feed(doc)
    assert not set(parser.tags) & {"script", "img", "iframe", "object", "embed", "link"}
    # inside the SVG forest plots too
    svgs = re.findall(r"<svg .*?</svg>", part, re.S)
    assert len(svgs) == 4 and all("<script" not in s for s in svgs)
    assert any(esc(SWAP) in s for s in svgs)


def test_same_input_same_bytes(base: assay.EvaluationResult, doc: str) -> None:
    assert render_html(stressed(base)) == doc
    assert render_summary(stressed(base)) == render_summary(stressed(base))


def test_without_chart_data_or_adapters(base: assay.EvaluationResult) -> None:
    res = dataclasses.replace(stressed(base), analysis_charts={}, extra={})
    part = _section(render_html(res))
    assert "worst-examples" not in part and "Models run by assay" not in part
    assert "lr under perturbations" in part


def test_undefined_key_metric(base: assay.EvaluationResult) -> None:
    t = robustness_table()
    t.loc[t.metric == "roc_auc", ["status", "note"]] = ["undefined", "one class <only>"]
    t.loc[t.metric == "roc_auc", ["delta", "ci_low", "ci_high"]] = math.nan
    part = _section(render_html(stressed(base, robustness=t)))
    assert "roc_auc is undefined under every perturbation" in part
    assert '<span class="status-cell">undefined</span>' in part and "one class &lt;only&gt;" in part


def test_pct() -> None:
    assert [pct(v) for v in (0.041, 0.0002, 0.0, 1.0, math.nan, None)] == \
        ["4.1%", "0.02%", "0.0%", "100.0%", "—", "—"]


# ---------------------------------------------------------------------------- summary.md


def test_markdown_summary(base: assay.EvaluationResult) -> None:
    res = stressed(base)
    md = render_summary(res)
    title = "Robustness · ❌ 1 failing behavioural test(s) · ❌ model errors on 41 row(s)"
    assert f"<summary><b>{title}</b>" in md
    assert "| perturbation | roc\\_auc change [CI] | flip rate [CI] | errors |" in md
    t = robustness_table()
    lr = t[(t.model == "lr") & (t.slice == "overall")]
    noise = lr[(lr.perturbation == NOISE) & (lr.metric == "roc_auc")].iloc[0]
    assert f"| noise(income) | ⚠️ {noise.delta:+.3f} [{noise.ci_low:+.3f}, {noise.ci_high:+.3f}] |" in md
    assert f"| missing(age) | {LR_OVERALL[MISSING][0]:+.3f}" in md and f"❌ 37 ({37 / N * 100:.1f}%)" in md
    assert "**lr**" in md and "**gb**" in md
    # failing tests only, escaped
    assert "Failing behavioural tests (1 of 3):" in md
    assert "income up &lt;b&gt;lowers&lt;/b&gt; risk" in md and "name invariance" not in md
    p95 = latency_table().query("metric == 'latency_p95_ms'")
    assert "Latency p95: " + "; ".join(f"{r.model} {r.value:.3f} ms [{r.ci_low:.3f}, {r.ci_high:.3f}]"
                                       for r in p95.itertuples()) + "." in md
    assert "- lr · missing(age): 37 row(s): ValueError: Input X contains NaN &lt;img" in md
    assert "(rows 3, 9, 12)" in md
    assert "<script" not in md.lower() and "<img" not in md.lower() and "<b>lowers" not in md
    # unfolded: the section's own heading level
    lines = robustness_lines(res, level="####")
    assert lines[:2] == ["", f"#### {title}"]


def test_markdown_stays_short(base: assay.EvaluationResult) -> None:
    perts = {f"noise(x{i})": "noise" for i in range(MAX_PERTURBATIONS + 7)}
    res = stressed(base, robustness=robustness_table(perts), behaviour=behaviour_table(),
                   latency=latency_table(), prediction_errors=errors_table())
    text = "\n".join(robustness_lines(res))
    assert text.count("| noise(x") == 2 * MAX_PERTURBATIONS
    assert text.count("… 7 more perturbation(s) in report.html") == 2
    assert len(text) < 6000
    long = errors_table()
    long["message"] = "Traceback " * 200
    text = "\n".join(robustness_lines(stressed(base, prediction_errors=long)))
    assert len(text) < 1000 and "…" in text


# ---------------------------------------------------------------------------- shapes


def test_string_dtypes_give_the_same_page(base: assay.EvaluationResult, doc: str) -> None:
    """pandas str, object and category columns render alike."""
    for dtype in ("object", "category"):
        t = robustness_table()
        for c in ("model", "perturbation", "kind", "slice", "dimension", "level", "metric", "method",
                  "status", "note"):
            t[c] = t[c].astype(dtype)
        b = behaviour_table().astype({"model": dtype, "test": dtype, "kind": dtype, "passed": "object"})
        res = stressed(base, robustness=t, behaviour=b, latency=latency_table(),
                       prediction_errors=errors_table())
        assert render_html(res) == doc, dtype


def test_lower_is_better_key_metric(base: assay.EvaluationResult) -> None:
    """With an error metric first, the worst change is the largest increase."""
    t = robustness_table()
    t = pd.concat([t[t.metric == "log_loss"], t[t.metric != "log_loss"]], ignore_index=True)
    part = _section(render_html(stressed(base, robustness=t)))
    head = part.split('<ul class="plain headlines">', 1)[1].split("</ul>", 1)[0]
    for i, model in enumerate(MODELS):
        o = t[(t.model == model) & (t.slice == "overall") & (t.metric == "log_loss")]
        worst = o.loc[o.delta.idxmax()]
        line = head.split("<li>")[i + 1]
        assert f"log_loss worsens most under <strong>{esc(worst.perturbation)}</strong>" in line
        assert f"{worst.delta:+.3f}" in line
    assert "<th class=\"num\">log_loss change [CI]</th><th class=\"num\">roc_auc change [CI]</th>" in part


def test_undecided_behaviour_test(base: assay.EvaluationResult) -> None:
    b = behaviour_table().astype({"passed": "object"})
    b.loc[1, ["passed", "n", "failures", "failure_rate", "ci_low", "ci_high"]] = [None, 0, 0] + [math.nan] * 3
    b.loc[1, "note"] = "250 rows skipped: no <edit> applies"
    part = _section(render_html(stressed(base, behaviour=b)))
    assert part.count('<span class="badge skipped">skipped</span>') == 1
    assert esc("250 rows skipped: no <edit> applies") in part
    text = "\n".join(robustness_lines(stressed(base, behaviour=b)))
    assert "Failing behavioural tests (1 of 3):" in text and "name invariance" not in text


def test_model_errors_alone(base: assay.EvaluationResult) -> None:
    """Errors on the clean rows are a finding even without a stress suite."""
    clean = pd.DataFrame([{"model": "lr", "input": "clean", "message": "ValueError: <NaN>", "rows": 3,
                           "example_rows": "1, 2, 5"}])
    res = stressed(base, prediction_errors=clean)
    doc = render_html(res)
    assert 'href="#robustness"' in doc
    part = _section(doc)
    assert "Model errors" in part and "lr failed on 3 row(s)" in part and esc("ValueError: <NaN>") in part
    assert "under perturbations" not in part and "Behavioural tests" not in part
    text = "\n".join(robustness_lines(res))
    assert "- lr · clean: 3 row(s): ValueError: &lt;NaN&gt; (rows 1, 2, 5)" in text
