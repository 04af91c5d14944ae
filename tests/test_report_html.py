"""The HTML report (assay.report.render_html): sections, escaping, self-containment, size,
every task, and numbers and curves that agree with the result table and scikit-learn."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from scipy.special import expit
from sklearn import metrics as skm

import assay
from assay.report import render_html
from assay.report._svg import fmt

XSS = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
CANDIDATE = "c<b>&co"
RULE = "<u>guard</u> & co"


def binary_frame(n: int = 2000, seed: int = 0, tiny: bool = True) -> pd.DataFrame:
    """Label y, scores of two models, a slice column g whose levels include markup (and a
    level under min_slice_size when ``tiny``), a second slice column h and a free-text
    column that example rows show."""
    rng = np.random.default_rng(seed)
    levels, p = (["a", "b", XSS, "tiny"], [0.5, 0.3, 0.195, 0.005]) if tiny else (["a", "b", XSS],
                                                                                 [0.5, 0.3, 0.2])
    g = rng.choice(levels, n, p=p)
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(1.5 * x)).astype(np.int64)
    return pd.DataFrame({
        "y": y, "s_a": expit(x + rng.normal(size=n)), "s_b": expit(1.3 * x + rng.normal(size=n)),
        "g": g, "h": rng.choice(["u", "v"], n), "comment": np.where(rng.uniform(size=n) < 0.5, IMG, "ok")})


def binary_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "credit <&> risk", "task": "binary", "label": "y",
        "models": [{"name": "base", "score": "s_a"}, {"name": CANDIDATE, "score": "s_b"}],
        "slices": [{"column": "g"}, {"column": "h"}], "bootstrap": 200, "min_slice_size": 30,
        "seed": 0,
        "gates": [{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.01, "name": RULE},
                  {"rule": "threshold", "metric": "accuracy", "min": 0.75, "slices": ["g"]}]}
    spec.update(overrides)
    return spec


Binary = tuple[pd.DataFrame, assay.EvaluationResult, str]


@pytest.fixture(scope="module")
def binary() -> Binary:
    df = binary_frame()
    df.loc[:4, "s_a"] = np.nan  # five rows excluded for base only: counted and unpaired
    result = assay.evaluate(binary_spec(), data=df, exclude_invalid=True)
    return df, result, render_html(result)


def _row(doc: str, metric: str, table: str = "metrics") -> str:
    """The HTML of one metric's row in the overall metric (or comparison) table."""
    part = doc.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    match = re.search(rf'<tr data-metric="{re.escape(metric)}">(.*?)</tr>', part, re.S)
    assert match, metric
    return match.group(1)


# ---------------------------------------------------------------------------- content


def test_sections_and_verdict(binary: Binary) -> None:
    _, result, doc = binary
    assert doc.startswith("<!doctype html>") and doc.rstrip().endswith("</html>")
    for section in ("verdict", "metrics", "curves", "slices", "comparison", "excluded", "lineage"):
        assert f'<section id="{section}">' in doc, section
    v = result.verdict
    assert v is not None
    css = {"ship": "ship", "ship_with_guardrails": "guardrails", "hold": "hold"}[v.decision]
    assert f'<div class="banner {css}"' in doc and f'<span class="headline">{v.headline}</span>' in doc
    for rule in v.rules:
        assert html.escape(rule.name, quote=False) in doc
        assert html.escape(rule.reason, quote=False) in doc
    failing = [t for r in v.rules for t in r.failing]
    assert failing and all(html.escape(t.slice, quote=False) in doc for t in failing)
    for title in ("ROC curve", "Precision-recall curve", "Reliability diagram", "Confusion matrix: base"):
        assert f"<title>{title}</title>" in doc
    # forest plots: the gated metrics first, then the task's key metrics
    for metric in ("roc_auc", "accuracy", "recall"):
        assert f"<title>{metric} per slice</title>" in doc
        assert f"<title>{metric}: {html.escape(CANDIDATE)} minus base</title>" in doc
    assert doc.count("<svg ") >= 2 + 1 + 2 + 3 + 3
    assert "g=tiny (n=" in doc and "Too small to evaluate" in doc
    assert "5 row(s) usable for only one of base and" in doc
    assert "missing or NaN score" in doc


def test_numbers_match_the_table(binary: Binary) -> None:
    _, result, doc = binary
    t = result.table
    overall = t[t.slice == "overall"]
    assert doc.count('<tr data-metric="', doc.index('<table class="metrics">'),
                     doc.index("</table>", doc.index('<table class="metrics">'))) == overall.metric.nunique()
    for metric in ("roc_auc", "accuracy", "log_loss"):
        row = _row(doc, metric)
        for model in ("base", CANDIDATE):
            r = result.row(metric, model)
            assert f"{r['value']:.3f}" in row
            assert f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" in row
    c = result.comparisons
    hit = c[(c.metric == "roc_auc") & (c.slice == "overall")].iloc[0]
    row = _row(doc, "roc_auc", "deltas")
    assert f"{hit.delta:+.3f}" in row
    assert f"[{fmt(hit.ci_low, sign=True)}, {fmt(hit.ci_high, sign=True)}]" in row
    # a slice value in its forest plot, with its interval
    s = t[(t.metric == "accuracy") & (t.slice == "g=a") & (t.model == "base")].iloc[0]
    assert f"{s.value:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]</text>" in doc
    # the confusion matrix counts
    cm = result.curves["base"]["confusion"]["matrix"]
    assert all(f">{int(v):,}</text>" in doc for row_ in cm for v in row_)


# ---------------------------------------------------------------------------- escaping


def test_user_strings_are_escaped(binary: Binary) -> None:
    _, result, doc = binary
    low = doc.lower()
    assert "<script" not in low and "<img" not in low and "<u>" not in low and "<b>" not in low
    assert html.escape(f"g={XSS}", quote=False) in doc  # the slice level, as text
    assert html.escape(CANDIDATE, quote=False) in doc
    assert html.escape(RULE, quote=False) in doc
    assert html.escape("credit <&> risk", quote=False) in doc
    # example rows show the data's text, escaped
    assert getattr(result, "examples", None), "the evaluation should carry example rows"
    assert str(escape(IMG)) in doc


def test_example_rows_and_run_id(binary: Binary) -> None:
    _, result, _ = binary
    examples = [{"section": "excluded", "model": CANDIDATE, "reason": "missing <label>", "row": 7,
                 "label": None, "prediction": "0.42", "values": {"g": XSS, "email": "hash:3fa9c0"}},
                {"section": "errors", "model": "base", "reason": "most confident errors", "row": 12,
                 "label": "1", "prediction": "0.01", "values": {"g": "a"}}]
    res = dataclasses.replace(result, examples=examples, extra={**result.extra, "run_id": "run<42>"})
    doc = render_html(res)
    assert "<script" not in doc.lower()
    assert "Excluded: c&lt;b&gt;&amp;co · missing &lt;label&gt;" in doc
    assert "Largest errors: base · most confident errors" in doc
    assert "hash:3fa9c0" in doc and ">email</th>" in doc
    assert "run&lt;42&gt;" in doc


def test_store_credentials_stay_out(binary: Binary) -> None:
    _, result, _ = binary
    spec = result.spec.model_copy(update={"store": "postgresql://ops:s3cret@db.internal/runs",
                                          "mlflow": "https://mlflow.internal"})
    doc = render_html(dataclasses.replace(result, spec=spec))
    assert "s3cret" not in doc and "db.internal" not in doc and "mlflow.internal" not in doc


def test_renders_without_example_rows(binary: Binary) -> None:
    """A result with no example rows (privacy.examples: 0) has no examples section."""
    _, result, _ = binary
    doc = render_html(dataclasses.replace(result, examples=[]))
    assert "Example rows" not in doc and '<section id="lineage">' in doc


# ---------------------------------------------------------------------------- self-contained


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_no_external_resources(binary: Binary) -> None:
    _, _, doc = binary
    parser = _Tags()
    parser.feed(doc)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "base"}, tags
    for tag, attrs in parser.tags:
        for name, value in attrs:
            value = value or ""
            if name in ("src", "href", "xlink:href", "action", "poster", "srcset", "data"):
                assert value.startswith("#"), (tag, name, value)  # in-page anchors only
            assert not name.startswith("on"), (tag, name)  # no event handlers
            if name == "xmlns":
                assert value == "http://www.w3.org/2000/svg"
            elif name != "content":
                assert "://" not in value and "url(" not in value.lower(), (tag, name, value)
    style = doc.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "url(" not in style and "@import" not in style and "://" not in style
    assert "default-src 'none'" in doc  # the page's CSP forbids any load as well


def test_size_grows_with_slices_not_rows() -> None:
    spec = binary_spec(gates=[{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.01}])
    sizes = []
    for n in (2_000, 200_000):
        result = assay.evaluate(spec, data=binary_frame(n, tiny=False))
        sizes.append(len(render_html(result).encode()))
    assert abs(sizes[1] - sizes[0]) / sizes[0] < 0.10, sizes
    assert sizes[0] < 400_000


def test_same_result_same_bytes(binary: Binary) -> None:
    _, result, doc = binary
    assert render_html(result) == doc


# ---------------------------------------------------------------------------- every task


def test_multiclass_renders() -> None:
    rng = np.random.default_rng(3)
    n, classes = 1500, ["cat", "dog", "<bird>"]
    y = rng.choice(classes, n)
    p = rng.dirichlet([1, 1, 1], n)
    for i, c in enumerate(classes):
        p[y == c, i] += 0.4
    p /= p.sum(axis=1, keepdims=True)
    q = 0.7 * p + 0.1
    result = assay.evaluate(data={"y": y, "g": rng.choice(["x", "y"], n)}, task="multiclass", label="y",
                            classes=classes, predictions={"m1": p, "m2": q / q.sum(axis=1, keepdims=True)},
                            slices=[{"column": "g"}], bootstrap=200)
    doc = render_html(result)
    assert "<bird>" not in doc and "&lt;bird&gt;" in doc
    assert "One-vs-rest curves: m1" in doc and "<title>Confusion matrix: m2</title>" in doc
    assert "<title>accuracy per slice</title>" in doc and "<title>f1_macro per slice</title>" in doc
    assert '<section id="comparison">' in doc and "NO GATES" in doc
    r = result.row("f1_macro", "m1")
    assert f"{r['value']:.3f}" in _row(doc, "f1_macro")
    cm = result.curves["m1"]["confusion"]["matrix"]
    assert all(f">{int(v):,}</text>" in doc for row in cm for v in row)


def test_regression_renders_without_curves() -> None:
    rng = np.random.default_rng(4)
    n = 1000
    y = rng.normal(size=n)
    result = assay.evaluate(data={"y": y, "g": rng.choice(["x", "y"], n)}, task="regression", label="y",
                            predictions={"lin": y + rng.normal(size=n)}, slices=[{"column": "g"}],
                            bootstrap=200)
    doc = render_html(result)
    assert '<section id="curves">' not in doc and '<section id="comparison">' not in doc
    assert "<title>mae per slice</title>" in doc and "<title>rmse per slice</title>" in doc
    r = result.row("rmse", "lin")
    assert f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" in _row(doc, "rmse")


def test_single_model_without_slices_or_gates(tmp_path: Path) -> None:
    df = binary_frame(600)
    data = tmp_path / "data.parquet"
    df.to_parquet(data, index=False)
    result = assay.evaluate({"task": "binary", "label": "y", "data": {"path": str(data)},
                             "models": [{"name": "only", "score": "s_a"}], "bootstrap": 200})
    doc = render_html(result)
    assert "NO GATES" in doc
    assert '<section id="slices">' not in doc and '<section id="comparison">' not in doc
    assert "No row was excluded." in doc
    assert hashlib.sha256(data.read_bytes()).hexdigest() in doc
    assert html.escape(str(data.resolve()), quote=False) in doc


# ---------------------------------------------------------------------------- curves


def _distance_to_polyline(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Distance from each point (x, y) to the polyline through (px, py)."""
    ax, ay, bx, by = px[:-1], py[:-1], px[1:], py[1:]
    dx, dy = bx - ax, by - ay
    length2 = np.where(dx * dx + dy * dy > 0, dx * dx + dy * dy, 1.0)
    t = np.clip(((x[:, None] - ax) * dx + (y[:, None] - ay) * dy) / length2, 0.0, 1.0)
    return np.hypot(ax + t * dx - x[:, None], ay + t * dy - y[:, None]).min(axis=1)


def test_roc_curve_matches_the_table_and_sklearn(binary: Binary) -> None:
    df, result, _ = binary
    for model, col in (("base", "s_a"), (CANDIDATE, "s_b")):
        roc = result.curves[model]["roc"]
        fpr, tpr = np.asarray(roc["fpr"]), np.asarray(roc["tpr"])
        assert len(fpr) <= 200 and (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        # the thinned curve keeps the area: the trapezoid rule is within 0.01 of the table's AUC
        assert abs(np.trapezoid(tpr, fpr) - result.value("roc_auc", model)) < 0.01
        usable = df[col].notna()
        y, s = df.y[usable].to_numpy(), df[col][usable].to_numpy()
        sk_fpr, sk_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
        # every kept point lies on the exact curve (its scores are binned finely)
        assert _distance_to_polyline(fpr, tpr, sk_fpr, sk_tpr).max() < 1e-4
        # read the exact curve at the kept false positive rates: at a vertical step it spans
        # from its lowest to its highest true positive rate there
        first = np.unique(sk_fpr, return_index=True)[1]
        last = sk_fpr.size - 1 - np.unique(sk_fpr[::-1], return_index=True)[1]
        lo = np.interp(fpr, sk_fpr[first], sk_tpr[first])
        hi = np.interp(fpr, sk_fpr[last], sk_tpr[last])
        assert np.all(tpr >= lo - 1e-4) and np.all(tpr <= hi + 1e-4)
        pr = result.curves[model]["pr"]
        assert math.isclose(pr["prevalence"], y.mean(), abs_tol=1e-6)
        prec, rec, _ = skm.precision_recall_curve(y, s)
        order = np.argsort(rec, kind="stable")
        mid = (np.asarray(pr["recall"]) > 0.05) & (np.asarray(pr["recall"]) < 0.95)
        ours = np.asarray(pr["precision"])[mid]
        ref = np.interp(np.asarray(pr["recall"])[mid], rec[order], prec[order])
        assert np.median(np.abs(ours - ref)) < 0.01
        cm = np.asarray(result.curves[model]["confusion"]["matrix"])
        np.testing.assert_array_equal(cm, skm.confusion_matrix(y, (s >= 0.5).astype(int)))
