"""The whole journey of a new user, end to end, in headless Chromium.

Home → "Try the sample" → Data (change a role) → Train (a small model, watch it
train, save it, download it as a bundle and load it back) → Attention (layer, head,
segment, one row) → Explain (Integrated Gradients, agreement with attention) → Predict
(upload a file, download the scores) → Report (download it, open it). One browser tab
walks through all of it; each step is a test of its own, run in order, that waits for
the page to settle, checks what is shown, checks that the console stayed clean and no
exception is shown, and saves a full-page screenshot under ``test-artifacts/journey/``.
A step after one that failed is skipped, naming the failed step. The README's
screenshots are copies of these (``make screenshot`` runs the steps and copies them).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _journey_steps import (
    ARTIFACTS,
    TRAINING_TIMEOUT_MS,
    Journey,
    PlaywrightError,
    alerts,
    click,
    download,
    edit_cell,
    error_text,
    expect,
    grid_cells,
    main_text,
    menu_link,
    number,
    open_for_analysts,
    open_tab,
    pick,
    segment,
    upload,
    watch,
    within,
)
from _launch import wait_settled

from neuromkt.data.samples import SAMPLES, load_sample
from neuromkt.model.bundle import load_bundle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = "search_cn"  # the smallest sample: 12,000 rows, one text column
ROLE_CHANGE = ("weekday", "ignore")  # the role the user changes on the Data page
MODEL_NAME = "journey model"
N_SCORED = 40  # rows of the file scored on the Predict page
CARDS = ["AUC", "PR-AUC", "Accuracy", "F1", "Log loss"]  # the Train page's metric cards


@pytest.fixture(scope="module")
def journey(browser: Any, app_url: str) -> Iterator[Journey]:
    """One tab, kept for the whole journey, with its console watched."""
    shutil.rmtree(ARTIFACTS / "journey", ignore_errors=True)  # no stale screenshots
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield Journey(page, app_url, watch(page, []), ARTIFACTS / "journey")
    context.close()


@pytest.fixture(scope="module")
def done() -> set[str]:
    """The steps that have passed so far."""
    return set()


def _after(done: set[str], *steps: str) -> None:
    missing = [step for step in steps if step not in done]
    if missing:
        pytest.skip(f"needs the earlier step(s) {', '.join(missing)}, which did not pass")


def test_01_home(journey: Journey, done: set[str]) -> None:
    page = journey.page
    page.goto(journey.url)
    wait_settled(page)
    assert page.get_by_role("heading", name="neuromkt").is_visible()
    assert page.get_by_role("button", name="Try the sample").count() == len(SAMPLES)
    assert "None yet" in page.locator('[data-testid="stSidebar"]').inner_text()
    journey.done("home")
    click(page, f"home_try_{SAMPLE}", settle=False)
    page.wait_for_url(re.compile(r"/Data(\?|$)"))
    wait_settled(page)
    done.add("home")


def test_02_data_change_a_role(journey: Journey, done: set[str]) -> None:
    _after(done, "home")
    page = journey.page
    spec = SAMPLES[SAMPLE]
    assert page.get_by_role("heading", name=spec.title).is_visible()
    assert any(spec.title in text for text in alerts(page, "Success"))
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert f"{spec.n_rows:,} rows" in sidebar and f"Outcome: {spec.target}" in sidebar
    columns = list(load_sample(SAMPLE).columns)
    column, role = ROLE_CHANGE
    wait_settled(page)  # the sample's project id reaches the address in one more run
    for _attempt in range(2):  # an edit typed while that run replaces the grid is lost
        edit_cell(page, "data_roles_", columns.index(column), 1, role)
        for _ in range(30):  # the grid redraws after the rerun the edit starts
            cells = grid_cells(page, "data_roles_")
            at = cells.index(column)
            if cells[at + 1] == role:
                break
            page.wait_for_timeout(500)
        if cells[at + 1] == role:
            break
        wait_settled(page)
    assert cells[at + 1] == role, cells[at : at + 3]
    assert not alerts(page, "Error")
    journey.done("data")
    done.add("data")


def test_03_train_a_small_model_and_save_it(journey: Journey, done: set[str]) -> None:
    _after(done, "data")
    journey.go("Train", "Train")
    page = journey.page
    learns = page.get_by_text(re.compile("^Learns from:")).inner_text()
    assert ROLE_CHANGE[0] not in learns and "keyword" in learns  # the role change counts
    number(page, "train_epochs", 1)
    assert within(page, "train_size").locator("button").filter(has_text="Small").count() == 1
    click(page, "train_start", settle=False)
    within(page, "train_stop").wait_for(timeout=30_000)  # the live monitor, with Stop
    seen = _watch_training(page, journey.artifacts / "03a-train-progress.png")
    assert seen, "no progress was shown while training"
    success = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Trained in")
    assert "1 epoch(s)" in success.inner_text()
    assert _card_labels(page) == CARDS
    assert 0.0 <= float(page.locator('[data-testid="stMetricValue"]').first.inner_text()) <= 1.0
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 7  # cards, curves, history
    assert page.get_by_role("heading", name=re.compile("^Model: clicked · small")).is_visible()
    field = within(page, "train_save_name").locator("input")
    field.fill(MODEL_NAME)
    field.press("Enter")
    wait_settled(page)
    click(page, "train_save")
    assert any(MODEL_NAME in text for text in alerts(page, "Success")), alerts(page, "Success")
    page.get_by_role("tab", name="Saved models").click()
    expect(_tables(page).filter(has_text=MODEL_NAME)).to_have_count(1)
    assert MODEL_NAME in page.locator('[data-testid="stSidebar"]').inner_text()
    journey.done("train")
    _round_trip_the_bundle(page)
    done.add("train")


def _round_trip_the_bundle(page: Any) -> None:
    """Download the model as a bundle, refuse a broken one, then load the download back."""
    name, data = download(page, "train_download")
    assert name == "journey-model.zip" and data[:2] == b"PK"
    assert load_bundle(data).name == MODEL_NAME  # a valid bundle, readable outside the app
    page.get_by_role("tab", name="Upload a bundle").click()
    upload(page, "train_upload", "model.zip", b"not a zip at all", "application/zip")
    error = error_text(page, "not a neuromkt model", "still in use")
    assert "not a neuromkt model" in error and "still in use" in error, error
    assert page.get_by_role("heading", name=f"Model: {MODEL_NAME}").is_visible()  # kept
    upload(page, "train_upload", name, data, "application/zip")
    assert any("from the uploaded file" in text for text in alerts(page, "Success"))
    assert _card_labels(page) == CARDS
    assert MODEL_NAME in page.locator('[data-testid="stSidebar"]').inner_text()


def _card_labels(page: Any) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]


def _watch_training(page: Any, shot: Path) -> list[str]:
    """Follow the live monitor until training ends; the progress texts seen on the way.

    A screenshot is taken when progress first shows, and again once the live loss chart
    is up (on a fast machine training may end before the chart appears)."""
    success = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Trained in")
    progress = page.locator('[data-testid="stProgress"]')
    chart = within(page, "train_live_chart")
    seen: list[str] = []
    charted = False
    deadline = time.monotonic() + TRAINING_TIMEOUT_MS / 1000
    shot.parent.mkdir(parents=True, exist_ok=True)
    while success.count() == 0:
        assert time.monotonic() < deadline, f"training did not finish; last seen: {seen[-1:]}"
        with contextlib.suppress(PlaywrightError):  # the monitor redraws every second
            text = progress.first.inner_text(timeout=1000) if progress.count() else ""
            if text and text not in seen:
                seen.append(text)
                if len(seen) == 1:
                    page.screenshot(path=str(shot))
            if not charted and chart.count():
                page.screenshot(path=str(shot))
                charted = True
        page.wait_for_timeout(250)
    wait_settled(page)
    return seen


def _tables(page: Any) -> Any:
    """The read-only tables on the page (they carry no key class)."""
    return page.locator('[data-testid="stDataFrame"]')


def _chart_title(page: Any, key: str) -> str:
    return within(page, key).locator(".gtitle").first.text_content() or ""


def test_04_attention_layer_head_segment_row(journey: Journey, done: set[str]) -> None:
    _after(done, "train")
    journey.go("Attention", "Attention")
    page = journey.page
    assert "Top column" in main_text(page)
    assert _chart_title(page, "att_layer_heads") == "Every layer and head"  # the Overview tab
    before = _chart_title(page, "att_feature_bar")
    pick(page, "att_layer", "Layer 1")
    pick(page, "att_head", "Head 2")
    after = _chart_title(page, "att_feature_bar")
    assert after != before and "head 2" in after.lower(), (before, after)
    open_tab(page, "By segment")
    pick(page, "att_segment", "platform")
    assert "Attention by segment" in _chart_title(page, "att_segments")
    open_tab(page, "One row up close")
    segment(page, "att_row_mode", "By row number")
    number(page, "att_row_index", 7)
    assert _chart_title(page, "att_row_bar") == "Row 7: attention per column"
    assert page.locator('[data-testid="stHtml"]').filter(has_text="keyword").count() >= 1
    open_tab(page, "Overview")  # the README's screenshot shows the overview
    assert "head 2" in _chart_title(page, "att_feature_bar").lower()
    journey.done("attention")
    done.add("attention")


def test_05_explain_integrated_gradients_and_agreement(journey: Journey, done: set[str]) -> None:
    _after(done, "train")
    journey.go("Explain", "Explain")
    page = journey.page
    method = within(page, "exp_method").get_by_role("combobox")
    assert "Integrated Gradients" in (method.input_value() or method.inner_text())
    open_for_analysts(page)  # the completeness check is analysts' detail
    checks = alerts(page, "Success") + alerts(page, "Warning")
    assert any("add up to the score difference" in text for text in checks), checks
    heading = page.get_by_role("heading", name="Does the attention heatmap tell the truth?")
    heading.scroll_into_view_if_needed()
    assert heading.is_visible()
    assert page.locator('[data-testid="stMetric"]').count() >= 2
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 6
    journey.done("explain")
    done.add("explain")


def test_06_predict_upload_and_download_scores(journey: Journey, done: set[str]) -> None:
    _after(done, "train")
    journey.go("Predict", "Predict & what-if")
    page = journey.page
    rows = load_sample(SAMPLE).tail(N_SCORED)
    segment(page, "predict_source", "Upload a file")
    upload(page, "predict_upload", "new_queries.csv", rows.to_csv(index=False).encode())
    assert not alerts(page, "Error"), alerts(page, "Error")
    click(page, "predict_score")
    _tables(page).filter(has_text="top drivers").wait_for(timeout=120_000)
    name, data = download(page, "predict_dl_scores")
    assert name == "scores.csv"
    scores = pd.read_csv(io.BytesIO(data))
    assert len(scores) == N_SCORED
    assert scores["score"].between(0, 1).all()
    assert scores["query_id"].tolist() == rows["query_id"].tolist()
    journey.done("predict")
    done.add("predict")


def test_07_report_download_and_open(journey: Journey, done: set[str]) -> None:
    _after(done, "train")
    journey.go("Report", "Report")
    page = journey.page
    click(page, "report_build")
    within(page, "report_download").wait_for(timeout=180_000)
    name, data = download(page, "report_download")
    assert name.endswith(".html")
    path = journey.artifacts / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    journey.done("report")
    report = page.context.new_page()
    errors = watch(report, [])
    report.goto(path.as_uri())
    report.wait_for_load_state("load")
    assert SAMPLES[SAMPLE].target in report.title()
    assert report.locator("h1, h2").count() >= 3
    assert report.locator(".plotly-graph-div, .js-plotly-plot").count() >= 1
    report.screenshot(path=str(journey.artifacts / f"{len(journey.steps):02d}-report-file.png"),
                      full_page=True)  # fmt: skip
    report.close()
    assert errors == []
    done.add("report")


# ---------------------------------------------------------------- off the main path


def test_sidebar_names_an_uploaded_table_at_once(
    page: Any, app_url: str, console_errors: list[str]
) -> None:
    """The sidebar (drawn before the page) names a table as soon as it is uploaded, and
    the page says it loaded."""
    page.goto(app_url)
    wait_settled(page)
    menu_link(page, "Data").click()
    page.wait_for_url(re.compile(r"/Data(\?|$)"))
    wait_settled(page)
    upload(page, "data_upload", "spend.csv", b"spend,bought\n1.5,0\n2.5,1\n3.5,0\n4.5,1\n")
    page.get_by_role("heading", name="spend.csv").wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "spend.csv" in sidebar and "4 rows × 2 columns" in sidebar, sidebar
    assert "None yet — upload" not in sidebar
    said = alerts(page, "Success")
    assert len(said) == 1 and said[0].endswith("Loaded “spend.csv”: 4 rows × 2 columns."), said
    assert console_errors == []
