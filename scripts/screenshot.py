"""Take the README's screenshots of the running dashboard in headless Chromium.

Starts the app, opens Home, clicks "Try the sample" on the first sample and saves
full-page screenshots of Home and of the Data page under ``docs/``.

Usage: ``python scripts/screenshot.py [--out docs] [--width 1400]`` (``make screenshot``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from _launch import ROOT, full_page_screenshot, launch_kwargs, running_app, wait_settled


def take_screenshots(out_dir: Path, width: int = 1400) -> list[Path]:
    """Drive Home → Try the sample → Data and save a screenshot of each page.

    Args:
        out_dir: Folder for the PNG files (created if needed).
        width: Browser window width in pixels.

    Returns:
        The files written.
    """
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with running_app() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_kwargs())
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            wait_settled(page)
            written.append(full_page_screenshot(page, out_dir / "screenshot-home.png"))
            page.get_by_role("button", name="Try the sample").first.click()
            page.wait_for_url("**/data")
            wait_settled(page)
            page.wait_for_selector('[data-testid="stPlotlyChart"]')
            wait_settled(page)
            written.append(full_page_screenshot(page, out_dir / "screenshot-data.png"))
        finally:
            browser.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, take the screenshots, print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder")
    parser.add_argument("--width", type=int, default=1400, help="window width in pixels")
    args = parser.parse_args(argv)
    for path in take_screenshots(args.out, args.width):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
