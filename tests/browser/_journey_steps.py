"""Driving the dashboard in Chromium the way a user does: widgets found by their key.

Streamlit gives the element of every keyed widget the CSS class ``st-key-<key>``, so
the tests address widgets by the same keys the pages declare, not by layout. The
helpers click, pick, type, upload and download, and each waits for the app to settle
afterwards. A :class:`Journey` adds what every step of an end-to-end test does: go to
a page from the menu, check that the browser console stayed clean and no exception is
shown, and save a screenshot.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _launch import full_page_screenshot, wait_settled

_sync_api = pytest.importorskip("playwright.sync_api")  # browser tests skip without it
PlaywrightTimeout = _sync_api.TimeoutError
PlaywrightError = _sync_api.Error
expect = _sync_api.expect

__all__ = [
    "ARTIFACTS",
    "Journey",
    "PlaywrightError",
    "alerts",
    "click",
    "download",
    "edit_cell",
    "error_text",
    "expect",
    "grid_cells",
    "main_text",
    "number",
    "open_tab",
    "pick",
    "segment",
    "show_option",
    "sidebar_text",
    "upload",
    "watch",
    "within",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TRAINING_TIMEOUT_MS = 300_000  # a small model on the smallest sample, on 2 busy cores
EXCEPTION = '[data-testid="stException"]'
_PICK_ATTEMPTS = 3
_GRID_ROW_PX = 35  # height of a data editor's header and rows


def chart_text(text: str) -> re.Pattern[str]:
    """A pattern for text drawn in a chart: long titles wrap onto several lines, and the
    SVG lines join with or without a space, so words may be split anywhere a space is."""
    return re.compile(r"\s*".join(re.escape(word) for word in text.split()))


def open_for_analysts(page: Any) -> None:
    """Open the "For analysts" expander, where the jargon and the δ check live."""
    page.locator('[data-testid="stExpander"] summary').filter(has_text="For analysts").first.click()
    page.wait_for_timeout(300)


def within(page: Any, key: str) -> Any:
    """The element of the widget with ``key``; a key ending in ``_`` is a prefix (for
    widgets whose key carries a version number, like the Data page's ``data_target_3``)."""
    if key.endswith("_"):
        return page.locator(f'[class*="st-key-{key}"]')
    return page.locator(f".st-key-{key}")


def click(page: Any, key: str, *, settle: bool = True) -> None:
    """Press the button with ``key``."""
    within(page, key).locator("button").first.click()
    if settle:
        wait_settled(page)


def pick(page: Any, key: str, option: str, *, settle: bool = True) -> None:
    """Choose ``option`` (its shown text) in the select box with ``key``."""
    box = within(page, key).get_by_role("combobox")
    for attempt in range(_PICK_ATTEMPTS):
        try:
            show_option(page, box, option).click(timeout=10_000)
            break
        except PlaywrightTimeout:  # the list was redrawn under the pointer: try again
            if attempt == _PICK_ATTEMPTS - 1:
                raise
            box.press("Escape")
            wait_settled(page)
    if settle:
        wait_settled(page)


def show_option(page: Any, box: Any, option: str) -> Any:
    """Open the list of the select box ``box`` (a combobox locator) at ``option``; return
    the option, ready to be clicked."""
    box.click()
    if box.get_attribute("aria-expanded") != "true":
        box.fill("")  # typing into the box opens its list, filtered by what is typed
        box.press_sequentially(option)
    return page.get_by_role("option", name=option, exact=True)


def segment(page: Any, key: str, option: str) -> None:
    """Press the option shown as ``option`` of the segmented control with ``key``."""
    exact = re.compile(f"^{re.escape(option)}$")
    within(page, key).locator("button").filter(has_text=exact).click()
    wait_settled(page)


def number(page: Any, key: str, value: float) -> None:
    """Type ``value`` into the number input with ``key`` and confirm it."""
    field_ = within(page, key).locator("input")
    field_.fill(str(value))
    field_.press("Enter")
    wait_settled(page)


def open_tab(page: Any, name: str) -> None:
    """Open the tab labelled ``name`` (exactly) and wait until its content is drawn."""
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_settled(page)


def upload(page: Any, key: str, name: str, data: bytes, mime: str = "text/csv") -> None:
    """Hand a file to the file uploader with ``key``, as the file chooser does."""
    chooser = within(page, key).locator('input[type="file"]')
    chooser.set_input_files({"name": name, "mimeType": mime, "buffer": data})
    wait_settled(page)


def download(page: Any, key: str, timeout_ms: float = 120_000) -> tuple[str, bytes]:
    """Press the download button with ``key``; the file's suggested name and its bytes."""
    with page.expect_download(timeout=timeout_ms) as event:
        within(page, key).locator("button").first.click()
    item = event.value
    return item.suggested_filename, Path(item.path()).read_bytes()


def edit_cell(page: Any, key: str, row: int, column: int, option: str) -> None:
    """Choose ``option`` in a select-box cell of the data editor with ``key`` (``row`` and
    ``column`` count from 0, header excluded), with the keyboard, as a user does after
    one click into the table."""
    editor = within(page, key)
    for attempt in range(_PICK_ATTEMPTS):
        editor.scroll_into_view_if_needed()
        box = editor.bounding_box()
        page.mouse.click(box["x"] + 20, box["y"] + _GRID_ROW_PX * 1.5)  # the first cell
        for _ in range(column):
            page.keyboard.press("ArrowRight")
        for _ in range(row):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")  # opens the cell's editor
        try:
            page.locator("#portal").get_by_text(option, exact=True).click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == _PICK_ATTEMPTS - 1:
                raise
            page.keyboard.press("Escape")
            wait_settled(page)
    wait_settled(page)


def grid_cells(page: Any, key: str) -> list[str]:
    """The texts of a data editor's cells (from its accessible table, drawn once visible)."""
    editor = within(page, key)
    editor.scroll_into_view_if_needed()
    cells = editor.locator('[role="gridcell"]')
    cells.first.wait_for(state="attached", timeout=15_000)
    return cells.all_inner_texts()


def main_text(page: Any) -> str:
    """The text of the page's main area (not the sidebar)."""
    return page.locator('[data-testid="stMain"]').inner_text()


def sidebar_text(page: Any) -> str:
    """The text of the sidebar (navigation, current data set and model)."""
    return page.locator('[data-testid="stSidebar"]').inner_text()


# The sidebar's menu: the app draws it with st.page_link (neuromkt/ui/sidebar.py).
MENU_LINK = '[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]'


def menu_link(page: Any, path: str) -> Any:
    """The sidebar menu's link to the page served at ``/<path>`` ("" for Home); the
    link carries the workspace and project as ``?ws=…&project=…``."""
    return page.locator(f'{MENU_LINK}[href="{path}"], {MENU_LINK}[href^="{path}?"]')


def menu_labels(page: Any) -> list[str]:
    """The labels of the sidebar's menu, in order."""
    texts = page.locator(MENU_LINK).all_inner_texts()
    return [text.split("\n")[-1].strip() for text in texts]  # the icon's name comes first


def alerts(page: Any, kind: str) -> list[str]:
    """Texts of the alerts of one kind shown now: "Error", "Warning", "Info" or "Success"."""
    return page.locator(f'[data-testid="stAlertContent{kind}"]').all_inner_texts()


def error_text(page: Any, *words: str, timeout_s: float = 30) -> str:
    """The error alerts' text once it holds every one of ``words`` (or at the timeout).

    An upload's rerun can start after the page looked settled, so the error about the
    file may come a moment after :func:`upload` returns.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        text = " ".join(alerts(page, "Error"))
        if all(w in text for w in words) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


# Opened at a page's own address (``/train``), Streamlit's client first probes
# ``/train/_stcore/health`` and ``…/host-config``, which answer 404, before it finds the
# server at ``/_stcore/``: a known Streamlit issue (streamlit/streamlit#7074), not ours.
_BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def watch(page: Any, errors: list[str]) -> list[str]:
    """Collect the page's console errors, uncaught errors and dialogs (dismissed) in
    ``errors``, which is returned. Streamlit's own base-path probes are left out."""

    def console(message: Any) -> None:
        url = (message.location or {}).get("url", "")
        if message.type == "error" and not _BASE_PATH_PROBE.search(url):
            errors.append(f"console error: {message.text}")

    def dialog(event: Any) -> None:
        errors.append(f"{event.type} dialog: {event.message}")
        event.dismiss()

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("dialog", dialog)
    return errors


@dataclass
class Journey:
    """One user's walk through the app, a screenshot and a clean console at every step.

    Attributes:
        page: The Playwright page.
        url: The app's base URL.
        console_errors: Console errors, page errors and dialogs (see :func:`watch`).
        artifacts: Folder for the screenshots.
        steps: Names of the steps done so far (numbering the screenshots).
    """

    page: Any
    url: str
    console_errors: list[str]
    artifacts: Path
    steps: list[str] = field(default_factory=list)

    def has_page(self, path: str) -> bool:
        """Whether the app's navigation has the page served at ``/<path>``."""
        return menu_link(self.page, path).count() > 0

    def go(self, path: str, title: str) -> None:
        """Open a page from the sidebar menu and check its heading."""
        assert self.has_page(path), f"the menu has no link to the {title} page ('/{path}')"
        menu_link(self.page, path).click()
        self.page.wait_for_url(re.compile(rf"/{path}(\?|$)"))  # the link keeps ?ws=…
        wait_settled(self.page)
        heading = self.page.get_by_role("heading", name=title, exact=True)
        assert heading.first.is_visible(), f"no '{title}' heading on /{path}"
        self.assert_no_exception(title)

    def assert_no_exception(self, where: str) -> None:
        """Fail, quoting it, when the page shows an exception (a traceback)."""
        shown = self.page.locator(EXCEPTION).all_inner_texts()
        assert not shown, f"{where}: the page shows an exception: {shown[0][:1500]}"

    def done(self, name: str) -> Path:
        """End a step: no exception shown, no console error, a screenshot saved."""
        self.steps.append(name)
        shot = full_page_screenshot(self.page, self.artifacts / f"{len(self.steps):02d}-{name}.png")
        self.assert_no_exception(f"step {name}")
        errors = list(self.console_errors)
        self.console_errors.clear()  # so that the next step reports only its own
        assert errors == [], f"step {name}: {errors}"
        return shot
