"""Hostile input in the real browser: injected markup stays text, broken files are refused.

A table whose column names, category values, text, target and file name carry script,
``<img onerror>``, ``javascript:`` links, markdown and very long tokens goes through
every page — Data, Train, Attention, Explain, Predict, Report — and into the
downloaded HTML report, opened as a file. At every stop the test checks, in the page
and in every frame inside it, that no payload ran (``window.__pwned`` unset, the title
untouched, no alert dialog, no inline event handler or ``javascript:`` URL in the
DOM) and that the text reads as typed: no entity such as ``&quot;`` shown, nothing read
as markdown (a link, bold, LaTeX), no markdown escape showing through, and no long
token widening the page. Broken data files and a pickle posing as a model bundle go in
through the file chooser and are refused with a message.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _journey_steps import (
    ARTIFACTS,
    TRAINING_TIMEOUT_MS,
    Journey,
    click,
    download,
    error_text,
    grid_cells,
    main_text,
    number,
    open_tab,
    pick,
    segment,
    upload,
    watch,
    within,
)
from _launch import wait_settled
from test_data import BAD  # the data-intake corpus (tests/test_data.py)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEG = 'seg<img src=x onerror="window.__pwned=1">'
SPEND = "spend<script>window.__pwned=2</script>"
NOTES = "notes[x](javascript:window.__pwned=3)"
LONG_NAME = "L" * 300
TARGET = 'bought"><svg onload=window.__pwned=4>'
FILE_NAME = "leads<img src=x onerror=window.__pwned=10>.csv"
BROKEN_NAME = "notes[x](javascript:window.__pwned=3) **bold** page.csv"
LEVELS = ['<img src=x onerror="window.__pwned=5">', "javascript:window.__pwned=6",
          '=HYPERLINK("http://example.invalid","open")', "**bold** :smile: $x$"]  # fmt: skip
WORDS = ["<script>window.__pwned=7</script>", "<img/src=x/onerror=alert(8)>", "A" * 3000,
         "javascript:alert(9)", "good", "deal", "<b>bold</b>", "</div></span>", "x**bold**x",
         "<script>document.title='pwned'</script>"]  # fmt: skip

_INERT = """() => {
    const found = [];
    if (window.__pwned !== undefined) found.push(`window.__pwned = ${window.__pwned}`);
    if (document.title === 'pwned') found.push('the title was set by a payload');
    for (const el of document.querySelectorAll('*')) {
        for (const attr of el.attributes) {
            const name = attr.name.toLowerCase();
            const value = (attr.value || '').replace(/\\s/g, '').toLowerCase();
            if (name.startsWith('on') && /pwned|alert/.test(value))
                found.push(`<${el.tagName} ${attr.name}="${attr.value}">`);
            if (/(^|:)(href|src|action|formaction|data)$/.test(name)
                    && value.startsWith('javascript:'))
                found.push(`<${el.tagName} ${attr.name}="${attr.value}">`);
        }
    }
    return found;
}"""


_UNREADABLE = """() => {
    const found = [];
    const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEXTAREA']);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
        acceptNode: (n) => skip.has(n.parentNode.nodeName)
            ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    const entity = /&(quot|#x27|#39|#34|lt|gt|amp);/;
    const escape = /\\\\[!-\\/:-@\\[-`{-~]/;  // a markdown escape that shows through
    while (walker.nextNode()) {
        const text = walker.currentNode.nodeValue;
        const at = text.search(entity);
        if (at >= 0) found.push(`entity: ${text.slice(Math.max(0, at - 40), at + 20)}`);
        const slash = text.search(escape);  // (the hostile text has no backslash)
        if (slash >= 0)
            found.push(`escape shown: ${text.slice(Math.max(0, slash - 40), slash + 20)}`);
    }
    // user text read as markdown: a link made of "[x](javascript:...)", bold, LaTeX
    const where = (e) => {  // the Streamlit elements around e, innermost first
        const names = [];
        for (let n = e.closest('[data-testid]'); n && names.length < 3;
             n = n.parentElement?.closest('[data-testid]'))
            names.push(n.getAttribute('data-testid'));
        return names.join(' < ');
    };
    for (const a of document.querySelectorAll('a'))
        if (a.textContent === 'x')
            found.push(`markdown link in ${where(a)}: ${a.parentNode.textContent}`);
    for (const b of document.querySelectorAll('strong, b'))
        if (b.textContent === 'bold')
            found.push(`markdown bold in ${where(b)}: ${b.parentNode.textContent}`);
    // a long token or name must wrap or scroll inside its element, not widen the page
    const main = document.querySelector('[data-testid="stMainBlockContainer"]')
        || document.documentElement;
    if (main.scrollWidth > main.clientWidth + 2)
        found.push(`overflow: the page is ${main.scrollWidth - main.clientWidth}px too wide`);
    for (const k of document.querySelectorAll('.katex'))
        found.push(`LaTeX: ${k.parentNode.textContent.slice(0, 60)}`);
    return found;
}"""
UNREADABLE: dict[str, list[str]] = {}  # where -> user text not shown as typed


def hostile_table(n: int = 300) -> pd.DataFrame:
    """A small table with a learnable outcome, hostile in every name and value."""
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 10.0, n).round(2)
    notes = [" ".join(rng.choice(WORDS, rng.integers(2, 6))) for _ in range(n)]
    return pd.DataFrame({
        SEG: rng.choice(LEVELS, n), SPEND: spend, NOTES: notes,
        LONG_NAME: rng.normal(size=n).round(3),
        TARGET: ((spend > 20) ^ (rng.random(n) < 0.2)).astype(int),
    })  # fmt: skip


def assert_inert(page: Any, errors: list[str], where: str) -> None:
    """No payload ran in the page or any frame in it, and no dialog opened."""
    for frame in page.frames:
        found = frame.evaluate(_INERT)
        assert found == [], f"{where}: injected markup is live in {frame.url[:80]}: {found}"
    dialogs = [e for e in errors if "dialog" in e]
    assert dialogs == [], f"{where}: {dialogs}"
    shown = [text for frame in page.frames for text in frame.evaluate(_UNREADABLE)]
    if shown:  # inert but unreadable; reported once, by the last test
        kinds: dict[str, list[str]] = {}
        for text in dict.fromkeys(shown):  # a few of each kind, in order
            kinds.setdefault(text.split(":")[0], []).append(text)
        UNREADABLE[where] = [text for texts in kinds.values() for text in texts[:3]]


@pytest.fixture(scope="module")
def walk(browser: Any, app_url: str) -> Iterator[Journey]:
    """One tab for the hostile walk through every page."""
    shutil.rmtree(ARTIFACTS / "hostile", ignore_errors=True)  # no stale screenshots
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield Journey(page, app_url, watch(page, []), ARTIFACTS / "hostile")
    context.close()


@pytest.fixture(scope="module")
def passed() -> set[str]:
    return set()


def _after(passed: set[str], step: str) -> None:
    if step not in passed:
        pytest.skip(f"needs the step '{step}', which did not pass")


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_01_data_page_shows_hostile_names_as_text(walk: Journey, passed: set[str]) -> None:
    page = walk.page
    page.goto(walk.url)
    wait_settled(page)
    walk.go("Data", "Data")
    upload(page, "data_upload", FILE_NAME, _csv(hostile_table()))
    assert page.get_by_role("heading", name=FILE_NAME).is_visible()
    pick(page, "data_target_", TARGET)
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert FILE_NAME in sidebar and f"Outcome: {TARGET}" in sidebar
    cells = grid_cells(page, "data_roles_")
    assert {SEG, SPEND, NOTES, LONG_NAME, TARGET} <= set(cells)
    assert_inert(page, walk.console_errors, "Data")
    walk.done("data")
    passed.add("data")


def test_02_train_page(walk: Journey, passed: set[str]) -> None:
    _after(passed, "data")
    walk.go("Train", "Train")
    page = walk.page
    learns = page.get_by_text("Learns from:").inner_text()
    assert SEG in learns and NOTES in learns and SPEND in learns
    number(page, "train_epochs", 1)
    click(page, "train_start", settle=False)
    success = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Trained in")
    success.wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_settled(page)
    assert TARGET in main_text(page)
    assert_inert(page, walk.console_errors, "Train")
    walk.done("train")
    passed.add("train")


def test_03_pickle_posing_as_a_bundle_is_refused(
    walk: Journey, passed: set[str], tmp_path: Path
) -> None:
    _after(passed, "train")
    page = walk.page
    sentinel = tmp_path / "payload-ran"
    payload = pickle.dumps(_Payload(sentinel), protocol=4)
    page.get_by_role("tab", name="Upload a bundle").click()
    upload(page, "train_upload", "model.zip", payload, "application/zip")
    error = error_text(page, "pickle", "still in use")
    assert "pickle" in error and "still in use" in error
    upload(page, "train_upload", "model.safetensors", payload, "application/octet-stream")
    chip = '[data-testid="stFileChip"][aria-invalid="true"]'  # a file the chooser refused
    refused = within(page, "train_upload").locator(chip)
    assert refused.filter(has_text="model.safetensors").count() == 1
    assert "files are not allowed" in refused.get_by_role("alert").inner_text()
    assert page.get_by_role("heading", name=f"Model: {TARGET}").count() == 1  # model kept
    assert not sentinel.exists(), "the pickle payload ran"
    assert_inert(page, walk.console_errors, "Train upload")
    walk.done("train-upload")


class _Payload:
    """Unpickling this creates ``sentinel`` (so the test sees whether it ran)."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.sentinel), "w"))


def test_04_attention_page(walk: Journey, passed: set[str]) -> None:
    """Every tab of the page: names, categories, tokens and one row's text stay text."""
    _after(passed, "train")
    walk.go("Attention", "Attention")
    page = walk.page
    assert "__pwned" in main_text(page)  # the payloads are there, as text
    assert_inert(page, walk.console_errors, "Attention, Overview")
    walk.done("attention")
    open_tab(page, "By segment")
    pick(page, "att_segment", SEG)  # the hostile categories label the heatmap
    assert "__pwned" in (within(page, "att_segments").text_content() or "")
    assert_inert(page, walk.console_errors, "Attention, By segment")
    walk.done("attention-segments")
    open_tab(page, "Words and events")  # the hostile tokens of the text column
    assert page.get_by_role("tab", name=NOTES, exact=True).count() == 1
    assert_inert(page, walk.console_errors, "Attention, Words and events")
    walk.done("attention-words")
    open_tab(page, "One row up close")
    segment(page, "att_row_mode", "By row number")
    number(page, "att_row_index", 3)
    assert within(page, "att_matrix").count() == 1  # the row's tokens, every one to every one
    assert_inert(page, walk.console_errors, "Attention, One row up close")
    walk.done("attention-row")


def test_05_explain_page(walk: Journey, passed: set[str]) -> None:
    _after(passed, "train")
    walk.go("Explain", "Explain")
    page = walk.page
    assert "__pwned" in main_text(page)
    assert_inert(page, walk.console_errors, "Explain")
    walk.done("explain")


def test_06_predict_page_broken_then_hostile_file(walk: Journey, passed: set[str]) -> None:
    _after(passed, "train")
    walk.go("Predict", "Predict & what-if")
    page = walk.page
    segment(page, "predict_source", "Upload a file")
    _, content, words = next(b for b in BAD if b[0] == "page.csv")
    upload(page, "predict_upload", BROKEN_NAME, content)
    error = error_text(page, *words)
    assert all(w in error for w in words), error
    if BROKEN_NAME not in error:  # the file name must read as typed, not as markdown
        UNREADABLE["Predict, the error about a broken file"] = [error]
    walk.assert_no_exception("Predict, broken file")
    assert_inert(page, walk.console_errors, "Predict, broken file")
    frame = hostile_table().head(25)
    upload(page, "predict_upload", FILE_NAME, _csv(frame))
    click(page, "predict_score")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
    assert_inert(page, walk.console_errors, "Predict")
    for tab in ("Who to contact", "What-if"):
        page.get_by_role("tab", name=tab).click()
        wait_settled(page)
        assert_inert(page, walk.console_errors, f"Predict, {tab}")
    page.get_by_role("tab", name="Score a file").click()
    _, data = download(page, "predict_dl_scores")
    scores = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert set(frame.columns) <= set(scores.columns)  # every hostile name survives, as text
    formulas = scores[SEG][scores[SEG].str.contains("HYPERLINK")]
    assert len(formulas) and not formulas.str.startswith("=").any()  # neutralised for Excel
    walk.done("predict")


def test_07_report_in_the_app_and_as_a_file(walk: Journey, passed: set[str]) -> None:
    _after(passed, "train")
    walk.go("Report", "Report")
    page = walk.page
    click(page, "report_build")
    within(page, "report_download").wait_for(timeout=180_000)
    wait_settled(page)
    assert_inert(page, walk.console_errors, "Report preview")
    walk.done("report")
    _, html = download(page, "report_download")
    path = walk.artifacts / "hostile-report.html"
    path.write_bytes(html)
    report = page.context.new_page()
    errors = watch(report, [])
    report.goto(path.as_uri())
    report.wait_for_load_state("load")
    report.wait_for_timeout(1000)  # let the charts draw
    assert_inert(report, errors, "the downloaded report")
    assert "__pwned" in report.locator("body").inner_text()
    report.screenshot(path=str(walk.artifacts / "hostile-report.png"))  # the window only
    report.close()
    assert errors == []


def test_08_hostile_text_reads_as_typed(passed: set[str]) -> None:
    """User text is shown as typed: not ``&quot;`` for a quote, not read as markdown."""
    _after(passed, "train")
    assert UNREADABLE == {}, json.dumps(UNREADABLE, indent=1, ensure_ascii=False)


def test_the_checks_see_a_live_payload(browser: Any) -> None:
    """The inertness and readability checks themselves catch a payload that runs."""
    page = browser.new_page()
    try:
        errors = watch(page, [])
        page.set_content(f"<p>{SEG}</p><p>{LEVELS[1]}</p><script>alert(1)</script>")
        page.wait_for_timeout(300)
        with pytest.raises(AssertionError, match="__pwned"):
            assert_inert(page, [], "a live page")
        with pytest.raises(AssertionError, match="dialog"):
            page.evaluate("() => { delete window.__pwned; }")
            page.locator("img").evaluate("e => e.removeAttribute('onerror')")
            assert_inert(page, errors, "a page that opened a dialog")
        page.set_content("<p>bought&amp;quot;</p><p>notes<a href=''>x</a></p><p>a\\_b</p>")
        assert page.evaluate(_UNREADABLE) == [
            "entity: bought&quot;",
            "escape shown: a\\_b",
            "markdown link in : notesx",
        ]
    finally:
        page.close()


# ---------------------------------------------------------------- broken files, file chooser

_BROWSER_BAD = ["garbage.csv", "page.csv", "nested.jsonl", "cut.csv.gz", "two.zip"]


def test_broken_files_through_the_file_chooser(page: Any, app_url: str, console_errors) -> None:
    page.goto(app_url)
    wait_settled(page)
    Journey(page, app_url, console_errors, ARTIFACTS).go("Data", "Data")
    good = pd.DataFrame({"spend": [1.5, 2.5, 3.0], "channel": ["web", "app", "web"]})
    upload(page, "data_upload", "good.csv", _csv(good))
    assert page.get_by_role("heading", name="good.csv").is_visible()
    for name, content, words in (b for b in BAD if b[0] in _BROWSER_BAD):
        upload(page, "data_upload", name, content, "application/octet-stream")
        error = error_text(page, *words, "still in use")
        assert all(w in error for w in words), (name, error)
        assert "still in use" in error
        assert page.get_by_role("heading", name="good.csv").is_visible(), name
        assert page.locator('[data-testid="stException"]').count() == 0, name
    _, content, words = next(b for b in BAD if b[0] == "page.csv")
    upload(page, "data_upload", BROKEN_NAME, content)
    error = error_text(page, BROKEN_NAME, *words)
    assert BROKEN_NAME in error and all(w in error for w in words), error
    assert page.evaluate(_UNREADABLE) == []
    name, content, words = next(b for b in BAD if b[0] == "old.xls")
    upload(page, "data_upload", name, content, "application/vnd.ms-excel")
    error = error_text(page, *words, "still in use")  # the chooser took it; the loader says why
    assert all(w in error for w in words) and "still in use" in error, error
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("heading", name="good.csv").is_visible()
    assert console_errors == []
