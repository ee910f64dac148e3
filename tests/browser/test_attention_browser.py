"""The Attention page in headless Chromium: each tab's charts, a control change, highlighted text.

The page is served by the harness of ``bench/attention.py`` (the data set and a model
already in the session), so this test does not depend on the Train page. The page's
sections are lazy tabs: only the open tab's charts are in the page, so the test opens
each tab in turn and checks that its charts, and only they, are drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _journey_steps import chart_text, open_tab, segment, within
from _launch import wait_settled

from neuromkt.model.bundle import save_bundle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from attention import serve_attention_page  # noqa: E402 - the harness lives in bench/

pytestmark = pytest.mark.browser

CHARTS = '[data-testid="stPlotlyChart"]'
N_COLUMNS = 11  # input columns of the e-commerce sample (id and target left out)
TABS = ["Overview", "By segment", "Words and events", "One row up close"]


@pytest.fixture(scope="module")
def attention_url(tiny_bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Attention page with 2,000 e-commerce rows and the tiny model loaded."""
    path = save_bundle(tiny_bundle, tmp_path_factory.mktemp("bundle") / "tiny")
    with serve_attention_page(path, sample="ecommerce", rows=2000) as served:
        yield served.url


def _chart(page: Any, title: str) -> Any:
    return page.locator(CHARTS).filter(has_text=chart_text(title))


def _title(page: Any, key: str) -> str:
    return within(page, key).locator(".gtitle").first.text_content() or ""


def _check_overview(page: Any) -> None:
    assert page.locator(CHARTS).count() == 2  # the other tabs' charts are not sent
    heads = _chart(page, "Every layer and head")
    assert heads.count() == 1
    heads.locator("g.hm image").first.wait_for()  # the heatmap is painted
    assert heads.locator("text", has_text="Layer 1").count() >= 1
    ranked = _chart(page, "Columns ranked by attention")
    assert ranked.locator("g.point").count() == N_COLUMNS  # one bar per input column


def _check_segments(page: Any) -> None:
    assert page.locator(CHARTS).count() == 1
    assert _chart(page, "Every layer and head").count() == 0
    heatmap = within(page, "att_segments")
    heatmap.locator("g.hm image").first.wait_for()
    assert "Attention by segment" in _title(page, "att_segments")
    assert within(page, "att_segment").get_by_role("combobox").count() == 1


def _check_words(page: Any) -> None:
    assert page.get_by_role("tab", name="events", exact=True).count() == 1  # one per text column
    tokens = within(page, "att_tokens_events")
    tokens.locator(".point").first.wait_for()  # the bars are drawn
    assert _title(page, "att_tokens_events").startswith("Top tokens of events")
    scatter = within(page, "att_scatter_events")
    assert scatter.locator(".point").count() >= 1
    assert page.locator(CHARTS).count() == 2
    assert page.locator('[data-testid="stDataFrame"]').count() == 1  # the vocabulary table


def _check_row(page: Any) -> None:
    assert within(page, "att_row_mode").count() == 1
    row_bar = within(page, "att_row_bar")
    row_bar.locator("g.point").first.wait_for()
    assert row_bar.locator("g.point").count() == N_COLUMNS
    assert _title(page, "att_row_bar").endswith(": attention per column")
    matrix = within(page, "att_matrix")
    matrix.locator("g.hm image").first.wait_for()
    assert _title(page, "att_matrix").startswith("Who attends to whom, row ")
    assert page.locator(CHARTS).count() == 2
    marks = page.locator('[data-testid="stHtml"] span[title*="attention"]')
    assert marks.count() >= 1
    assert "attention 0." in (marks.first.get_attribute("title") or "")


def test_attention_tabs_draw_their_charts_and_react(
    page: Any, attention_url: str, console_errors: list[str]
) -> None:
    page.goto(attention_url)
    wait_settled(page, timeout_ms=240_000)
    assert page.get_by_role("heading", name="Attention", exact=True).is_visible()
    assert [t.strip() for t in page.get_by_role("tab").all_inner_texts()] == TABS
    _check_overview(page)
    checks = {"By segment": _check_segments, "Words and events": _check_words}
    checks["One row up close"] = _check_row
    for name, check in checks.items():
        open_tab(page, name)
        check(page)

    # The view controls above the tabs drive the open tab, then the others.
    segment(page, "att_method", "Rollout")
    assert "(rollout)" in _title(page, "att_matrix")
    assert within(page, "att_head").locator("input").is_disabled()
    open_tab(page, "Overview")
    assert _chart(page, "Columns ranked by attention (rollout)").count() == 1
    assert console_errors == []
