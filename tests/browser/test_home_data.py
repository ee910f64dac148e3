"""End to end in headless Chromium: Home → Try the sample → Data page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from _journey_steps import chart_text
from _launch import wait_settled

pytestmark = pytest.mark.browser

BROKEN = {"name": "broken.parquet", "mimeType": "application/octet-stream", "buffer": b"nope"}


def _open_sample(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_settled(page)
    assert page.get_by_role("heading", name="neuromkt").is_visible()
    page.get_by_role("button", name="Try the sample").first.click()
    page.wait_for_url(re.compile(r"/Data(\?|$)"))
    wait_settled(page)


def _picked(page: Any, label: str) -> str:
    """The value a select box shows (it lives in the box's text input)."""
    return page.get_by_role("combobox", name=label).input_value()


def test_try_the_sample_shows_preview_and_rate_chart(
    page: Any, app_url: str, console_errors: list[str]
) -> None:
    _open_sample(page, app_url)
    assert page.get_by_role("heading", name="Data", exact=True).is_visible()
    assert page.locator('[data-testid="stDataFrame"]').first.is_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() == 3
    rate_chart = charts.filter(has_text=chart_text("Rate of purchased = 1 by channel"))
    assert rate_chart.count() == 1
    assert rate_chart.locator("g.bars path").count() >= 3  # one bar per channel
    assert _picked(page, "Outcome to predict (target)") == "purchased"
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "20,000 rows × 13 columns" in sidebar.inner_text()
    assert console_errors == []


def test_broken_upload_shows_error_and_keeps_the_sample(
    page: Any, app_url: str, console_errors: list[str]
) -> None:
    _open_sample(page, app_url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(BROKEN)
    wait_settled(page)
    error = page.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for()
    assert "broken.parquet" in error.first.inner_text()
    assert "still in use" in error.first.inner_text()
    heading = page.get_by_role("heading", name="E-commerce sessions → purchased")
    assert heading.is_visible()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
    assert console_errors == []


def test_new_upload_resets_the_pickers_of_the_old_data(
    page: Any, app_url: str, console_errors: list[str]
) -> None:
    _open_sample(page, app_url)
    csv = b"spend,channel,bought\n" + b"".join(
        f"{i * 1.5 + 0.25},{'web' if i % 3 else 'app'},{i % 2}\n".encode() for i in range(40)
    )
    upload = {"name": "mine.csv", "mimeType": "text/csv", "buffer": csv}
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(upload)
    # The upload starts a project, whose id goes into the address: a second page run.
    page.get_by_role("heading", name="mine.csv").wait_for(timeout=60_000)
    wait_settled(page)
    assert page.get_by_role("heading", name="mine.csv").is_visible()
    assert _picked(page, "Outcome to predict (target)") == ""  # not "purchased" from the sample
    assert _picked(page, "Distribution of") == "spend"  # not "channel" from the sample
    assert console_errors == []
