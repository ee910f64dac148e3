"""Start the dashboard in a subprocess and drive it in headless Chromium.

Shared by the browser tests (``tests/browser/conftest.py``) and by
``scripts/screenshot.py``, so both start and wait for the app the same way.
Playwright is imported lazily: the launcher works without it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_MS = 60_000


def free_port() -> int:
    """A TCP port that is free on localhost right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"streamlit did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{log.read_text()}"
    )


def harness_app(folder: Path, code: str) -> Path:
    """Write an app whose pages are the dashboard's own, with ``code`` in place of Home.

    ``code`` goes to ``folder/app.py`` and ``folder/pages`` links to the dashboard's
    ``pages/``, so Streamlit serves the folder as it serves the dashboard (every
    link of the sidebar's menu resolves to the real page). A benchmark or a test uses
    it to put a data set and a model in the session, then run one page.

    Args:
        folder: A new folder, or an empty one (a temporary one).
        code: The entry script's source.

    Returns:
        The entry script, to pass to :func:`running_app`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / "app.py"
    entry.write_text(code, encoding="utf-8")
    (folder / "pages").symlink_to(ROOT / "pages", target_is_directory=True)
    return entry


@contextmanager
def running_app(
    home: Path | None = None,
    port: int | None = None,
    *,
    entry: Path = ROOT / "app.py",
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run ``streamlit run app.py`` headless until the block ends; yield its base URL.

    Args:
        home: The ``NEUROMKT_HOME`` folder for the app (a fresh temporary one if None).
        port: The port to serve on (a free one if None).
        entry: The script to run: the dashboard's ``app.py``, or a :func:`harness_app`.
        env: More environment variables for the server.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:8765``.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="neuromkt-app-") as tmp:
        env = {**os.environ, **(env or {}), "NEUROMKT_HOME": str(home or Path(tmp) / "home")}
        log = Path(tmp) / "streamlit.log"
        command = [
            sys.executable, "-m", "streamlit", "run", str(entry),
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            _wait_healthy(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def launch_kwargs() -> dict[str, Any]:
    """Keyword arguments for Playwright's ``chromium.launch`` (system Chromium)."""
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


def wait_settled(page: Any, timeout_ms: int = SETTLE_TIMEOUT_MS) -> None:
    """Wait until the app has finished running: no status widget, no skeleton.

    Args:
        page: A Playwright page showing the app.
        timeout_ms: How long to wait at most.
    """
    page.wait_for_timeout(300)  # let a rerun that was just triggered start
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stStatusWidget"]')
                && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(400)  # charts and tables draw after the run ends


def full_page_screenshot(page: Any, path: Path) -> Path:
    """Screenshot the whole page, including the part of the main area below the fold.

    Streamlit scrolls its main area inside the window, so Playwright's ``full_page``
    sees only one window's height; the window is made as tall as the content first.

    Args:
        page: A Playwright page showing the app.
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    size = page.viewport_size or {"width": 1400, "height": 900}
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return main ? main.scrollHeight : document.body.scrollHeight;
        }"""
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height))})
    try:
        wait_settled(page)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path
