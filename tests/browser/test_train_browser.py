"""End to end in headless Chromium: sample → Train page → train → metric cards →
download the bundle → upload it back (and a broken file, which is refused)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _launch import wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAIN_TIMEOUT_MS = 420_000  # one epoch of the smallest sample on a busy 2-core machine
CARDS = ["AUC", "PR-AUC", "Accuracy", "F1", "Log loss"]
BROKEN = {"name": "model.zip", "mimeType": "application/zip", "buffer": b"not a zip at all"}


def _open_train_page(page: Any, url: str) -> None:
    page.goto(url)
    wait_settled(page)
    page.locator(".st-key-home_try_search_cn button").click()
    page.wait_for_url("**/data")
    wait_settled(page)
    page.get_by_role("link", name="Train").click()
    page.wait_for_url("**/train")
    wait_settled(page)


def _set_number(page: Any, label: str, value: str) -> None:
    field = page.get_by_role("spinbutton", name=label)
    field.fill(value)
    field.press("Enter")
    wait_settled(page)


def _card_labels(page: Any) -> list[str]:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    return [label.strip() for label in labels]


def test_train_shows_cards_then_round_trips_the_bundle(
    page: Any, app_url: str, console_errors: list[str], tmp_path: Path
) -> None:
    _open_train_page(page, app_url)
    assert page.get_by_role("heading", name="Train a model").is_visible()
    _set_number(page, "Epochs (passes over the data)", "1")
    page.get_by_text("Advanced settings").click()
    _set_number(page, "Max tokens per text column", "8")

    page.get_by_role("button", name="Train model").click()
    page.get_by_role("button", name="Stop").wait_for()  # the live monitor
    page.locator('[data-testid="stProgress"]').first.wait_for()
    page.get_by_text(re.compile(r"Trained in \d+:\d\d")).wait_for(timeout=TRAIN_TIMEOUT_MS)
    wait_settled(page)

    assert _card_labels(page) == CARDS
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert 0.0 <= float(values[0]) <= 1.0
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 7
    heading = page.get_by_role("heading", name=re.compile(r"^Model: clicked · small"))
    assert heading.is_visible()
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "clicked · small" in sidebar

    with page.expect_download() as download:
        page.get_by_role("button", name="Download bundle").click()
    bundle_zip = tmp_path / "bundle.zip"
    download.value.save_as(bundle_zip)
    assert bundle_zip.read_bytes()[:2] == b"PK"

    page.get_by_role("tab", name="Upload a bundle").click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(BROKEN)
    wait_settled(page)
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "not a neuromkt model" in error.inner_text()
    assert "still in use" in error.inner_text()
    assert heading.is_visible()  # the trained model is kept

    uploader.set_input_files(str(bundle_zip))
    wait_settled(page)
    page.get_by_text("from the uploaded file").wait_for()
    assert _card_labels(page) == CARDS
    assert console_errors == []
