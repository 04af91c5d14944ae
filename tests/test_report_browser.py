"""The HTML report in a real browser (headless Chromium through Playwright): it shows the
verdict, charts, tables and lineage, logs no error, requests nothing, and fits the window.

Chromium comes from the system (``scripts/test-services.sh`` installs it); Playwright never
downloads a browser here. A full-page screenshot is left in ``test-artifacts/report.png``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _browser import assert_charts_drawn, open_page
from scipy.special import expit

import assay
from assay.report import render_html

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
XSS = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 2">'






@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, assay.EvaluationResult, Path]:
    """A gated two-model evaluation read from files, its report written next to them."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(11)
    n = 3000
    g = rng.choice(["north", "south", XSS, "tiny"], n, p=[0.45, 0.3, 0.245, 0.005])
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(1.4 * x)).astype(np.int64)
    df = pd.DataFrame({"y": y, "base": expit(x + rng.normal(size=n)),
                       "cand": expit(1.3 * x + rng.normal(size=n)), "region": g,
                       "channel": rng.choice(["web", "branch"], n),
                       "note": np.where(rng.uniform(size=n) < 0.5, IMG, "-")})
    data = root / "data.parquet"
    df.to_parquet(data, index=False)
    spec = {"name": "browser <check>", "task": "binary", "label": "y", "data": {"path": str(data)},
            "models": [{"name": "base", "score": "base"}, {"name": "cand <b>&", "score": "cand"}],
            "slices": [{"column": "region"}, {"column": "channel"}], "bootstrap": 200,
            "min_slice_size": 30, "seed": 0,
            "gates": [{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.01},
                      {"rule": "threshold", "metric": "accuracy", "min": 0.72, "slices": ["region"]}]}
    result = assay.evaluate(spec)
    page = root / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    return page, result, data


def test_report_in_chromium(report: tuple[Path, assay.EvaluationResult, Path]) -> None:
    page_path, result, data = report
    with open_page(page_path) as (page, log):
        v = result.verdict
        assert v is not None
        css = {"ship": "ship", "ship_with_guardrails": "guardrails", "hold": "hold"}[v.decision]
        banner = page.locator(f".banner.{css}")
        assert banner.is_visible() and v.headline in banner.inner_text()
        colour = banner.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour not in ("", "transparent", "rgba(0, 0, 0, 0)"), colour
        assert page.locator("table.rules tr.rule").count() == len(v.rules)

        assert assert_charts_drawn(page) >= 2 + 1 + 2 + 3 + 3  # curves, reliability, confusion, forests

        overall = result.table[result.table.slice == "overall"]
        rows = page.locator("table.metrics tbody tr")
        assert rows.count() == overall.metric.nunique()
        auc = result.row("roc_auc", "base")
        auc_row = page.locator('table.metrics tr[data-metric="roc_auc"]').inner_text()
        assert f"{auc['value']:.3f}" in auc_row
        assert f"[{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]" in auc_row

        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        assert page.locator("td.sha", has_text=digest).is_visible()

        # data shown as text, never run or loaded
        assert page.get_by_text(f"region={XSS}").first.is_visible()
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.images.length") == 0
        assert page.evaluate("window.__pwned === undefined")
        assert page.locator("h1").inner_text() == "assay report: browser <check>"

        # the layout fits the window: nothing wider than the viewport
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert not log.errors, log.errors
    assert not log.failed, log.failed
    assert all(u.startswith("file://") for u in log.requested), log.requested
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
