"""End to end in headless Chromium: the Explain page with a data set and a model loaded.

The page is served by a small launcher that puts the e-commerce sample and a trained
model (the shared ``tiny_bundle``) in the session, the way the Data and Train pages
would, and then runs ``pages/4_Explain.py``. A second test opens the page in the app
itself, by its address.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _journey_steps import chart_text, open_for_analysts
from _launch import full_page_screenshot, harness_app, running_app, wait_settled

from neuromkt.model.bundle import save_bundle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ROWS = 150  # rows of the sample the page explains (kept small: the test stays quick)

LAUNCHER = """
import runpy
from neuromkt.model.bundle import load_bundle
from neuromkt.ui.server import freeze_startup_objects
from neuromkt.ui.state import current_bundle, init_state, sample_dataset, set_bundle, set_dataset

freeze_startup_objects()  # as setup_page does first, before any session state exists
init_state()
if current_bundle() is None:
    frame, schema = sample_dataset("ecommerce")
    set_dataset(frame.head({rows}), "E-commerce sample", schema, sample_key="ecommerce")
    set_bundle(load_bundle({bundle!r}))
runpy.run_path({page!r}, run_name="__main__")
"""


@pytest.fixture(scope="module")
def explain_url(tiny_bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Explain page served with the sample and the tiny model in every session."""
    folder = tmp_path_factory.mktemp("explain-app")
    bundle = save_bundle(tiny_bundle, folder / "model.zip")
    page = str(ROOT / "pages" / "4_Explain.py")
    app = harness_app(folder / "app", LAUNCHER.format(rows=ROWS, bundle=str(bundle), page=page))
    with running_app(folder / "home", entry=app) as url:
        yield url


@pytest.fixture
def errors() -> list[str]:
    """Console errors and uncaught page errors seen by ``tab``."""
    return []


@pytest.fixture
def tab(browser: Any, errors: list[str]) -> Iterator[Any]:
    """A fresh browser tab (its own Streamlit session) on the Explain launcher."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()


def test_explain_page_renders_with_a_model(tab: Any, explain_url: str, errors: list) -> None:
    tab.goto(explain_url)
    wait_settled(tab, timeout_ms=300_000)
    for heading in (
        "Explain",
        "What drives the predictions",
        "By segment",
        "One prediction, step by step",
        "Does the attention heatmap tell the truth?",
    ):
        assert tab.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    charts = tab.locator('[data-testid="stPlotlyChart"]')
    assert charts.count() == 9
    assert charts.filter(has_text=chart_text("Columns ranked by Integrated Gradients")).count() == 1
    assert charts.filter(has_text=chart_text("From the baseline row to this row")).count() == 1
    verdict = tab.locator('[data-testid="stAlertContentInfo"]').first
    assert "attention agrees with Integrated Gradients" in verdict.inner_text()
    shaded = tab.locator('[data-testid="stHtml"] span[title*="attribution"]')
    assert shaded.count() >= 2  # the row's events, shaded by attribution
    full_page_screenshot(tab, ARTIFACTS / "explain_page.png")
    assert errors == []


def test_switching_method_recomputes_and_rerenders(
    tab: Any, explain_url: str, errors: list
) -> None:
    tab.goto(explain_url)
    wait_settled(tab, timeout_ms=300_000)
    tab.get_by_role("combobox", name="Method").click()
    tab.get_by_role("option", name="Feature ablation").click()
    wait_settled(tab, timeout_ms=300_000)
    charts = tab.locator('[data-testid="stPlotlyChart"]')
    assert charts.filter(has_text=chart_text("Columns ranked by Feature ablation")).count() == 1
    open_for_analysts(tab)  # the completeness check is analysts' detail
    assert tab.get_by_text("Feature ablation has no completeness check").is_visible()
    assert errors == []


def test_app_navigation_reaches_the_page(page: Any, app_url: str) -> None:
    page.goto(f"{app_url}/Explain")
    wait_settled(page)
    assert page.get_by_role("heading", name="Explain", exact=True).is_visible()
    assert "No data yet" in page.locator('[data-testid="stAlertContentInfo"]').first.inner_text()
