"""Headless Chromium for the report tests: the executable (Debian's, installed by
scripts/test-services.sh) and Playwright, or a skip that says which is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: flags for a closed network: no background requests, no sandbox as root
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.skip("Chromium is missing (no 'chromium' on PATH); scripts/test-services.sh installs it")
    return path


def playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Python package playwright is missing (pip install playwright, part of the "
                    "test extra); Chromium itself comes from scripts/test-services.sh")
    return sync_playwright


@dataclass
class PageLog:
    """What a page did while open: console and page errors, failed requests, every URL asked."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)


@contextmanager
def open_page(path: Path, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, PageLog]]:
    """``path`` loaded in headless Chromium; yields the page and its log (skips, saying why,
    without Chromium or Playwright)."""
    executable = chromium()
    sync_playwright = playwright()
    log = PageLog()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: log.errors.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: log.errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: log.failed.append(f"{r.url} ({r.failure})"))
            page.on("request", lambda r: log.requested.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            yield page, log
        finally:
            browser.close()


def assert_charts_drawn(page: Any, selector: str = "svg.chart") -> int:
    """Every chart has a real size on the page; returns how many there are."""
    charts = page.locator(selector)
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 60, (i, box)
    return charts.count()
