"""Deep links: every page's address, opened as the first request of a fresh server.

Streamlit runs a page of ``pages/`` on its own, without ``app.py``, so a page opened by
its address before anything else has run must set itself up: its wide layout and tab
title, the sidebar's menu and its data set / model section, its own content. Each
case starts a server of its own (a first request can come only once per server) and
opens the page in a new browser context of the shared Chromium. The seconds from
starting the server to the settled page are written to
``test-artifacts/deep_links/seconds.json``, with a screenshot of each page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from _journey_steps import ARTIFACTS, EXCEPTION, main_text, menu_labels, sidebar_text, watch
from _launch import full_page_screenshot, running_app, wait_settled

pytestmark = pytest.mark.browser

OUT = ARTIFACTS / "deep_links"
MENU = ["Home", "Data", "Train", "Attention", "Explain", "Predict & what-if", "Report"]
FIRST_RUN_TIMEOUT_MS = 180_000  # the first run of a fresh server imports torch and plotly

# (address, heading, browser tab title, what the page itself says with no data or model)
PAGES = [
    ("", "neuromkt", "neuromkt", "Start with a sample"),
    ("Data", "Data", "Data · neuromkt", "Upload a file or load a sample to begin."),
    ("Train", "Train", "Train · neuromkt", "No data yet: upload a table or load a sample"),
    ("Attention", "Attention", "Attention · neuromkt", "No data yet: upload a table"),
    ("Explain", "Explain", "Explain · neuromkt", "No data yet: upload a table"),
    ("Predict", "Predict & what-if", "Predict & what-if · neuromkt", "No model yet: train one"),
    ("Report", "Report", "Report · neuromkt", "No data yet: upload a table"),
]


@pytest.fixture(scope="module")
def seconds() -> Iterator[dict[str, float]]:
    """Seconds from starting the server to the settled page, per page; written at the end."""
    measured: dict[str, float] = {}
    yield measured
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "seconds.json").write_text(json.dumps(measured, indent=2), encoding="utf-8")
    print("\ndeep links, fresh server to settled page (s):", json.dumps(measured))


@pytest.mark.parametrize(("path", "heading", "tab_title", "says"), PAGES, ids=[p[1] for p in PAGES])
def test_a_deep_link_to_a_fresh_server_shows_the_whole_page(
    browser: Any,
    tmp_path: Any,
    seconds: dict[str, float],
    path: str,
    heading: str,
    tab_title: str,
    says: str,
) -> None:
    started = time.perf_counter()
    with running_app(home=tmp_path / "home") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            errors = watch(page, [])
            page.goto(f"{url}/{path}")  # the server's very first page request
            page.get_by_role("heading", name=heading, exact=True).wait_for(
                timeout=FIRST_RUN_TIMEOUT_MS
            )
            wait_settled(page)
            seconds[heading] = round(time.perf_counter() - started, 1)
            full_page_screenshot(page, OUT / f"{path or 'Home'}.png")

            # served where it was asked for, not Home; the private workspace key is added
            assert page.url.split("?")[0] == f"{url}/{path}"
            assert "ws=" in page.url
            assert page.title() == tab_title
            assert page.locator(".streamlit-wide").count() == 1  # the wide layout
            sidebar = sidebar_text(page)
            assert menu_labels(page) == MENU, sidebar
            assert "Data set" in sidebar and "None yet — upload a table" in sidebar, sidebar
            assert "Model" in sidebar and "None yet — train one" in sidebar, sidebar
            assert says in main_text(page)
            shown = page.locator(EXCEPTION).all_inner_texts()
            assert not shown, shown[0][:1500]
            assert errors == []
        finally:
            context.close()
