"""The HTML report in headless Chromium: it opens offline, draws every chart, runs no
injected script."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from neuromkt.data.schema import infer_schema
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit
from neuromkt.report.document import build_report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def report_file(ecommerce_frame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report on a model whose column name, text and categories carry hostile HTML."""
    frame = ecommerce_frame.head(500).copy()
    frame["events"] = frame["events"] + f" {SCRIPT} {IMG}"
    frame.loc[frame.index[::3], "channel"] = "<b>bold</b>"
    frame = frame.rename(columns={"ad_slot_score": IMG})
    schema = infer_schema(frame, target="purchased").with_role("events", "text", frame)
    config = TrainConfig(epochs=2, seed=0)
    bundle = fit(frame, schema, ModelConfig.preset("small"), config, name=SCRIPT).bundle
    page = build_report(
        bundle, frame, title=f"Report {SCRIPT}", dataset_name=IMG, max_rows=200,
        now=datetime(2025, 3, 14),
    )  # fmt: skip
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_report_renders_offline_with_no_script_errors(browser: Any, report_file: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(report_file.as_uri())
        page.wait_for_function(
            "document.querySelectorAll('.chart .plotly').length"
            " === document.querySelectorAll('.chart').length",
            timeout=30_000,
        )
        page.wait_for_timeout(500)
        n_charts = page.locator(".chart").count()
        assert n_charts >= 15
        assert page.locator(".plotly .main-svg").count() >= n_charts
        assert page.locator(".plotly .main-svg .barlayer, .plotly .main-svg .scatterlayer").count()
        assert errors == [] and dialogs == []
        # hostile text is shown as text, never as elements
        assert page.locator("img").count() == 0
        assert page.locator("[onerror]").count() == 0
        assert page.locator("main b", has_text="bold").count() == 0
        assert page.get_by_text(SCRIPT, exact=False).count() >= 1
        assert page.title() == f"Report {SCRIPT}"
        # the only scripts are plotly.js and one per chart: none came from user text
        assert page.evaluate("document.scripts.length") == 1 + n_charts
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report_browser.png"), full_page=True)
    finally:
        context.close()
