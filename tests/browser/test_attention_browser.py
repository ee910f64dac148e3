"""The Attention page in headless Chromium: charts drawn, a control change, highlighted text.

The page is served by the harness of ``bench/attention.py`` (the data set and a model
already in the session), so this test does not depend on the Train page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _launch import wait_settled

from neuromkt.bundle import save_bundle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from attention import serve_attention_page  # noqa: E402 - the harness lives in bench/

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def attention_url(tiny_bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Attention page with 2,000 e-commerce rows and the tiny model loaded."""
    path = save_bundle(tiny_bundle, tmp_path_factory.mktemp("bundle") / "tiny")
    with serve_attention_page(path, sample="ecommerce", rows=2000) as served:
        yield served.url


def _chart(page: Any, title: str) -> Any:
    return page.locator('[data-testid="stPlotlyChart"]').filter(has_text=title)


def test_attention_page_draws_heatmaps_and_reacts(
    page: Any, attention_url: str, console_errors: list[str]
) -> None:
    page.goto(attention_url)
    wait_settled(page, timeout_ms=240_000)
    assert page.get_by_role("heading", name="Attention", exact=True).is_visible()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 7

    heads = _chart(page, "Every layer and head")
    assert heads.count() == 1
    heads.locator("g.hm image").first.wait_for()  # the heatmap is painted
    assert heads.locator("text", has_text="Layer 1").count() >= 1
    assert _chart(page, "Attention by segment").locator("g.hm image").count() == 1
    ranked = _chart(page, "Columns ranked by attention")
    assert ranked.locator("g.point").count() == 11  # one bar per input column

    page.get_by_role("radio", name="Rollout", exact=True).click()
    wait_settled(page)
    assert _chart(page, "Columns ranked by attention (rollout)").count() == 1
    assert page.locator('[data-testid="stSelectbox"]').nth(1).locator("input").is_disabled()

    marks = page.locator('[data-testid="stHtml"] span[title*="attention"]')
    assert marks.count() >= 1
    assert "attention 0." in marks.first.get_attribute("title")
    assert console_errors == []
