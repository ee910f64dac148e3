"""Nothing cut off, nothing overlapping: every page and tab at 1024, 1280 and 1920 px.

After "Try the sample", the test visits every page (and every tab of a page) at three
window widths and measures, in the browser:

- **cut-off UI text**: an element that hides its overflow (``overflow: hidden/clip``
  or an ellipsis) whose text is wider than its box;
- **chart text outside its chart**: a title, axis title, tick label, legend entry,
  annotation or colour-bar title whose box leaves the chart's box;
- **overlapping chart texts**: two of those texts in one chart whose boxes overlap.

Every finding is written to ``test-artifacts/layout-findings.json`` (page, tab,
width, kind, the texts). The test fails when there are more findings than
``MAX_FINDINGS`` — the count measured after the last round of fixes — so a change
that cuts off or overlaps more text fails; lower it as fixes land (the goal is 0).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from _journey_steps import ARTIFACTS, click, menu_link, open_tab, within
from _launch import full_page_screenshot, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1024, 1280, 1920)
# (menu path, page title, tabs to open: None for a page without tabs)
PAGES: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("", "neuromkt", None),
    ("Data", "Data", None),
    ("Train", "Train", None),
    ("Attention", "Attention", ("Overview", "By segment", "Words and events", "One row up close")),
    ("Explain", "Explain", None),
    ("Predict", "Predict & what-if", ("Score a file", "Who to contact", "What-if")),
    ("Report", "Report", None),
)
# Measured on the e-commerce sample: before the fixes 29 cut-off texts, 45 chart texts
# outside their chart and 253 overlapping pairs (327); after them 15, 10 and 15 (40, of
# them 37 at 1024 px and none at 1920 px). Projects then added 7 cut-off button labels at
# 1024 px (Home's Open/Rename/Delete, Train's Load/Rename/Delete): 22 cut-off texts.
# The goal is 0 for each; lower as fixes land.
MAX_FINDINGS = {"cut-off text": 22, "chart text outside": 10, "overlapping chart text": 15}

# Runs in the page: every finding on the page as it is drawn now.
_MEASURE = r"""
() => {
  const found = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && s.opacity !== '0';
  };
  const skip = '[data-testid="stDataFrame"], [data-testid="stDataFrameResizable"], '
    + '.js-plotly-plot, [data-testid="stCode"], [data-testid="stExpanderDetails"] pre, '
    + '[role="listbox"], [data-baseweb="popover"], [data-testid="stTooltipContent"]';
  // 1. UI text cut off by an element that hides its overflow
  for (const el of document.querySelectorAll('[data-testid="stApp"] *')) {
    if (el.closest(skip) || !visible(el)) continue;
    const s = getComputedStyle(el);
    const hides = ['hidden', 'clip'].includes(s.overflowX) || s.textOverflow === 'ellipsis';
    if (!hides) continue;
    const text = (el.innerText || '').trim();
    if (!text || text.length > 300) continue;
    if (el.clientWidth <= 2) continue;  // visually hidden on purpose (a skip link)
    if (el.scrollWidth > el.clientWidth + 1 && el.childElementCount <= 3) {
      // a scrolling container whose own box is wide enough is not "cut off"
      if (el.closest('[data-testid="stSidebar"]') && el.clientWidth > 240
          && s.overflowX === 'auto') continue;
      found.push({kind: 'cut-off text', texts: [text.slice(0, 80)],
                  detail: `${el.scrollWidth}px text in a ${el.clientWidth}px box`});
    }
  }
  // 2, 3. chart texts outside the chart, and chart texts overlapping each other
  const parts = ['.gtitle', '.xtitle', '.ytitle', '.x2title', '.y2title',
    '.xtick text', '.ytick text', '.x2tick text', '.y2tick text', '.legendtext',
    '.annotation-text', '.cbtitle text'];
  document.querySelectorAll('.js-plotly-plot').forEach((chart, index) => {
    if (!visible(chart)) return;
    const box = chart.getBoundingClientRect();
    const title = (chart.querySelector('.gtitle') || {}).textContent || `chart ${index}`;
    const seen = new Set();
    const texts = [];
    for (const sel of parts) {
      for (const el of chart.querySelectorAll(sel)) {
        if (seen.has(el)) continue;
        seen.add(el);
        const t = (el.textContent || '').trim();
        if (!t || !visible(el)) continue;
        const r = el.getBoundingClientRect();
        texts.push({t, r, sel});
        if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
            || r.bottom > box.bottom + 1) {
          found.push({kind: 'chart text outside', texts: [t.slice(0, 80)], chart: title,
                      detail: sel});
        }
      }
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].r, b = texts[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) {
          found.push({kind: 'overlapping chart text', chart: title,
                      texts: [texts[i].t.slice(0, 40), texts[j].t.slice(0, 40)],
                      detail: `${texts[i].sel} / ${texts[j].sel}`});
        }
      }
    }
  });
  return found;
}
"""


def _open_sample(page: Any, app_url: str) -> None:
    page.goto(app_url)
    wait_settled(page)
    page.get_by_role("button", name="Try the sample").first.click()
    page.wait_for_url(re.compile(r"/Data(\?|$)"))  # the link keeps ?ws=…
    wait_settled(page, timeout_ms=300_000)


def _go(page: Any, path: str) -> None:
    menu_link(page, path).first.click()
    if path:
        page.wait_for_url(re.compile(rf"/{re.escape(path)}(\?|$)"))
    wait_settled(page, timeout_ms=300_000)


def _views(page: Any, path: str, tabs: tuple[str, ...] | None):
    """Yield the name of each view of the page once it is drawn."""
    if tabs is None:
        yield ""
        return
    for tab in tabs:
        open_tab(page, tab)
        if tab == "Score a file" and within(page, "predict_score").count():
            click(page, "predict_score")  # so that "Who to contact" has scores
        page.wait_for_timeout(500)
        yield tab


def test_nothing_is_cut_off_or_overlapping(browser: Any, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    findings: list[dict[str, Any]] = []
    try:
        _open_sample(page, app_url)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path, title, tabs in PAGES:
                _go(page, path)
                for view in _views(page, path, tabs):
                    wait_settled(page, timeout_ms=300_000)
                    for finding in page.evaluate(_MEASURE):
                        findings.append({"width": width, "page": title, "tab": view, **finding})
                    if width == 1280:  # what a projector shows, for a person to look at
                        name = f"{title}-{view}".strip("-").replace(" ", "_").replace("&", "and")
                        full_page_screenshot(page, ARTIFACTS / "layout" / f"1280-{name}.png")
    finally:
        context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "layout-findings.json").write_text(json.dumps(findings, indent=1))
    counts = Counter(f["kind"] for f in findings)
    by_width = Counter((f["width"], f["kind"]) for f in findings)
    print("layout findings:", dict(counts), dict(by_width))
    too_many = {k: counts[k] for k, limit in MAX_FINDINGS.items() if counts[k] > limit}
    examples = [f for f in findings if f["kind"] in too_many][:15]
    assert not too_many, f"{too_many} (at most {MAX_FINDINGS}); e.g. {examples}"
