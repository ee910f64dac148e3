"""Projects in real Chromium: a reload keeps the work; without the link there is nothing.

The first browser context tries the sample (a project with its pre-trained model),
names the project and the model uniquely, and reloads the Data, Train and Attention
pages; a second context without the link walks every page and must not see either
name; a crafted link with the first context's project id is refused in plain words.
The seconds from a reload to the settled Attention page are written to
``test-artifacts/projects/seconds.json``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from _journey_steps import ARTIFACTS, alerts, click, main_text, sidebar_text, within
from _launch import wait_settled

pytestmark = pytest.mark.browser

PROJECT_NAME = "zq-secret-project-4471"
MODEL_NAME = "zq-secret-model-4471"
PAGES = ["", "Data", "Train", "Attention", "Explain", "Predict", "Report"]
OUT = ARTIFACTS / "projects"


def _params(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _goto(page: Any, url: str) -> None:
    page.goto(url)
    page.locator('[data-testid="stSidebar"]').wait_for(timeout=180_000)
    wait_settled(page, timeout_ms=240_000)


def test_reload_keeps_the_work_and_others_see_nothing(browser: Any, app_url: str) -> None:
    owner = browser.new_context(viewport={"width": 1400, "height": 900})
    stranger = browser.new_context(viewport={"width": 1400, "height": 900})
    seconds: dict[str, float] = {}
    try:
        page = owner.new_page()
        _goto(page, app_url)
        page.get_by_role("button", name="Try the sample").first.click()
        page.wait_for_url(re.compile(r"/Data\?"))
        wait_settled(page)
        params = _params(page)
        assert set(params) == {"ws", "project"}, page.url
        assert "whoever has the link" in sidebar_text(page).lower()

        # Name the model (Train → Save) and the project (Home → Rename) uniquely.
        _goto(page, f"{app_url}/Train?ws={params['ws']}&project={params['project']}")
        within(page, "train_save_name").locator("input").fill(MODEL_NAME)
        click(page, "train_save")
        assert MODEL_NAME in sidebar_text(page) or MODEL_NAME in main_text(page)
        _goto(page, f"{app_url}/?ws={params['ws']}")
        page.get_by_role("button", name="Rename").first.click()  # opens the popover
        within(page, f"home_project_rename_to_{params['project']}").locator("input").fill(
            PROJECT_NAME
        )
        within(page, f"home_project_rename_{params['project']}").locator("button").click()
        wait_settled(page)
        assert PROJECT_NAME in main_text(page)

        # F5 on Data, Train and Attention: the data set and the model are back.
        for path in ("Data", "Train", "Attention"):
            _goto(page, f"{app_url}/{path}?ws={params['ws']}&project={params['project']}")
            started = time.perf_counter()
            page.reload()
            page.locator('[data-testid="stSidebar"]').wait_for(timeout=180_000)
            wait_settled(page, timeout_ms=240_000)
            seconds[path] = round(time.perf_counter() - started, 1)
            side = sidebar_text(page)
            assert "E-commerce sessions" in side and MODEL_NAME in side, (path, side)
            assert "No data yet" not in main_text(page) and "No model yet" not in main_text(page)
            assert _params(page) == params

        # Another browser without the link: a workspace of its own, none of the names.
        other = stranger.new_page()
        for path in PAGES:
            _goto(other, f"{app_url}/{path}")
            text = main_text(other) + sidebar_text(other)
            assert PROJECT_NAME not in text and MODEL_NAME not in text, path
            assert _params(other).get("ws") not in (None, params["ws"])
        # A crafted link with the owner's project id but not the owner's workspace.
        _goto(other, f"{app_url}/Data?project={params['project']}")
        refused = " ".join(alerts(other, "Error"))
        assert "does not exist in your workspace" in refused, refused
        text = main_text(other) + sidebar_text(other)
        assert PROJECT_NAME not in text and MODEL_NAME not in text
        assert "E-commerce sessions → purchased" not in sidebar_text(other)
    finally:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "seconds.json").write_text(json.dumps(seconds, indent=2), encoding="utf-8")
        print("\nreload to settled page (s):", json.dumps(seconds))
        owner.close()
        stranger.close()
