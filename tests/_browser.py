"""Headless Chromium for the report tests: the executable (Debian's, installed by
scripts/test-services.sh) and Playwright, or a skip that says which is missing."""

from __future__ import annotations

import shutil
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
