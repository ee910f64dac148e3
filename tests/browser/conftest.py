"""Fixtures for the end-to-end tests: the real app in a subprocess, headless Chromium.

The browser tests are skipped, not failed, where Chromium or Playwright is missing.
The app launcher is shared with ``scripts/screenshot.py`` (``scripts/_launch.py``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(ROOT / "scripts"))

from _launch import (  # noqa: E402 - the launcher lives in scripts/
    CHROMIUM,
    full_page_screenshot,
    launch_kwargs,
    running_app,
    wait_settled,
)

__all__ = ["wait_settled"]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app served by ``streamlit run app.py`` for the whole session."""
    with running_app(home=tmp_path_factory.mktemp("neuromkt-home")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless system Chromium, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(**launch_kwargs())
        yield chromium
        chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught page errors seen by ``page`` during the test."""
    return []


@pytest.fixture
def page(
    browser: Any, app_url: str, console_errors: list[str], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh browser page (its own Streamlit session); a screenshot is kept afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("console", lambda msg: _collect_console(msg, console_errors))
    page.on("pageerror", lambda exc: console_errors.append(f"page error: {exc}"))
    yield page
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        full_page_screenshot(page, ARTIFACTS / f"{name}.png")
    finally:
        context.close()


def _collect_console(message: Any, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(f"console error: {message.text}")
