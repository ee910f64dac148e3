"""Many users at once: eight browser sessions against one Streamlit process.

Streamlit serves every tab from one Python process, so whatever one session keeps in a
module global, or caches under a key that does not name its content, leaks into the
others. Eight browser contexts (eight users) upload tables of their own — all called
``leads.csv``, each with its own column names and values — choose their outcome and
train a small model, all at the same time: each step is sent to every tab before the
test waits for any of them, so the server handles the eight sessions' work together.
Each user must see only their own data, model and results. Meanwhile a ninth user
moves a picker on the Data page: the time until the page answers is measured while
the server trains, and compared with the time when it is idle. The server's peak
resident memory is sampled throughout. The figures are printed and written to
``test-artifacts/concurrency/metrics.json``.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _journey_steps import (
    ARTIFACTS,
    TRAINING_TIMEOUT_MS,
    chart_text,
    main_text,
    menu_labels,
    menu_link,
    pick,
    show_option,
    sidebar_text,
    upload,
    watch,
    within,
)
from _launch import free_port, running_app, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP_PAGES = ["Home", "Data", "Train", "Attention", "Explain", "Predict & what-if", "Report"]
N_USERS = 8
N_ROWS = 300
PEAK_RSS_LIMIT_MB = 1500  # one server, torch loaded, eight small models: ~550 MB seen
BUSY_LATENCY_LIMIT_S = 20.0  # a picker must answer within this even while 8 users train
VIEWPORT = {"width": 1000, "height": 700}  # small windows: nine tabs share two cores
OUT = ARTIFACTS / "concurrency"


def user_table(i: int, n: int = N_ROWS) -> pd.DataFrame:
    """User ``i``'s own table: every column name and category carries the tag ``zz<i>``."""
    rng = np.random.default_rng(100 + i)
    tag = f"zz{i}"
    spend = rng.gamma(2.0, 10.0 + i, n).round(2)
    return pd.DataFrame({
        f"spend_{tag}": spend,
        f"channel_{tag}": rng.choice([f"web_{tag}", f"app_{tag}", f"mail_{tag}"], n),
        f"visits_{tag}": rng.integers(1, 20, n),
        f"bought_{tag}": ((spend > 20 + i) ^ (rng.random(n) < 0.15)).astype(int),
    })  # fmt: skip


def _others(i: int) -> list[str]:
    return [f"zz{j}" for j in range(N_USERS) if j != i]


@dataclass
class User:
    """One browser context (one Streamlit session) and what its console reported."""

    index: int
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)

    def assert_alone(self, where: str) -> None:
        """The page shows this user's tag and no other user's, and no exception."""
        shown = main_text(self.page) + sidebar_text(self.page)
        assert f"zz{self.index}" in shown, f"user {self.index} at {where}: own data missing"
        leaked = [tag for tag in _others(self.index) if tag in shown]
        assert leaked == [], f"user {self.index} at {where} sees other users' data: {leaked}"
        assert self.page.locator('[data-testid="stException"]').count() == 0, where


class PeakMemory:
    """Samples a process's resident memory in a background thread; keeps the peak (and
    notes the CPU time the process used meanwhile)."""

    def __init__(self, pid: int, every_s: float = 0.1) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._every = every_s
        self._stop = threading.Event()
        self.start_bytes = self._process.memory_info().rss
        self.peak_bytes = self.start_bytes
        self.start_cpu_s = self._cpu_s()
        self.cpu_s = 0.0  # CPU time the process used while sampled (set by stop)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            except psutil.Error:  # the process ended
                return
            self._stop.wait(self._every)

    def _cpu_s(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.cpu_s = self._cpu_s() - self.start_cpu_s
        return self.peak_bytes / 1024**2


def _server_pid(port: int) -> int:
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if "streamlit" in " ".join(command) and str(port) in command:
            return child.pid
    raise RuntimeError(f"no streamlit process serving port {port}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A server of its own (so that its memory is this test's alone): URL and process id."""
    port = free_port()
    with running_app(home=tmp_path_factory.mktemp("concurrency-home"), port=port) as url:
        yield url, _server_pid(port)


def _open(browser: Any, url: str, n: int) -> list[User]:
    """``n`` users, each in a fresh context, following a link to the Data page at once.

    These are the server's first visits, and they arrive at a page's own address: each
    must get the app around the page — its menu and sidebar, its wide layout — which
    Streamlit runs alone, without ``app.py``: the page sets itself up (``setup_page``).
    """
    users = []
    for i in range(n):
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        user = User(i, context, page)
        watch(page, user.errors)
        page.goto(f"{url}/Data")  # waits for the HTML only, not for the script run
        users.append(user)
    for user in users:  # the first run of a fresh server imports torch: allow time
        page = user.page
        page.get_by_role("heading", name="Data", exact=True).wait_for(timeout=120_000)
        wait_settled(page)
        sidebar = sidebar_text(page)
        assert "Data set" in sidebar and "None yet" in sidebar, sidebar[:300]
        assert menu_labels(page) == APP_PAGES
        assert page.locator(".streamlit-wide").count() == 1  # the page's own setup_page()
    return users


def _sidebar(page: Any) -> Any:
    return page.locator('[data-testid="stSidebar"]')


def _dist_latency(page: Any, column: str) -> float:
    """Seconds from choosing ``column`` in "Distribution of" to its chart being drawn."""
    option = show_option(page, within(page, "data_dist_column_").get_by_role("combobox"), column)
    started = time.perf_counter()
    option.click()
    title = within(page, "data_dist_chart").locator(".gtitle")
    title.filter(has_text=chart_text(f"Distribution of {column}")).wait_for(timeout=120_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'",
        timeout=120_000,
    )
    return time.perf_counter() - started


def _latencies(page: Any, columns: list[str], rounds: int) -> list[float]:
    return [_dist_latency(page, columns[k % len(columns)]) for k in range(rounds)]


def _upload_and_pick_target(users: list[User]) -> None:
    """Every user uploads their ``leads.csv`` and picks their outcome, all at once."""
    for user in users:
        data = user_table(user.index).to_csv(index=False).encode()
        chooser = within(user.page, "data_upload").locator('input[type="file"]')
        chooser.set_input_files({"name": "leads.csv", "mimeType": "text/csv", "buffer": data})
    for user in users:
        user.page.get_by_role("heading", name="leads.csv").wait_for(timeout=120_000)
        wait_settled(user.page)
        assert f"{N_ROWS} rows × 4 columns" in sidebar_text(user.page)
    for user in users:
        pick(user.page, "data_target_", f"bought_zz{user.index}", settle=False)
    for user in users:
        outcome = f"Outcome: bought_zz{user.index}"
        _sidebar(user.page).get_by_text(outcome).wait_for(timeout=120_000)
        wait_settled(user.page)
        user.assert_alone("the Data page")


def _start_training(users: list[User]) -> None:
    """Every user opens the Train page, sets one epoch and presses "Train model"."""
    for user in users:
        menu_link(user.page, "Train").click()
    for user in users:
        page = user.page
        page.wait_for_url(re.compile(r"/Train(\?|$)"))
        page.get_by_role("heading", name="Train a model").wait_for(timeout=120_000)
        wait_settled(page)
        learns = page.get_by_text("Learns from:").inner_text()
        assert f"spend_zz{user.index}" in learns, learns
        field_ = within(page, "train_epochs").locator("input")
        field_.fill("1")
        field_.press("Enter")
    for user in users:
        wait_settled(user.page)
        within(user.page, "train_start").locator("button").click()


def _check_own_results(user: User) -> None:
    page = user.page
    done = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Trained in")
    done.wait_for(timeout=TRAINING_TIMEOUT_MS)
    wait_settled(page)
    heading = page.get_by_role("heading", name=f"Model: bought_zz{user.index} · small")
    assert heading.count() == 1, f"user {user.index} does not see their own model"
    assert page.locator('[data-testid="stMetric"]').filter(has_text="AUC").count() >= 1
    assert f"bought_zz{user.index} · small" in sidebar_text(page)
    user.assert_alone("the Train page after training")


@pytest.mark.xfail(
    reason="known regression (issue 14, open): with training in worker processes, a picker "
    "can wait 37-49 s (limit 20 s) while 8 jobs start on a 2-core machine; the isolation "
    "and all-trained checks pass",
    strict=False,
)
def test_eight_users_upload_and_train_at_once(browser: Any, server: tuple[str, int]) -> None:
    url, pid = server
    memory = PeakMemory(pid)
    everyone: list[User] = []
    try:
        everyone = _open(browser, url, N_USERS + 1)
        users, watcher = everyone[:N_USERS], everyone[N_USERS]
        _upload_and_pick_target(users)
        probe = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2, "c": ["x"] * 50})
        upload(watcher.page, "data_upload", "probe.csv", probe.to_csv(index=False).encode())
        watcher.page.get_by_role("heading", name="probe.csv").wait_for()
        idle = _latencies(watcher.page, ["b", "c", "a"], rounds=3)
        started = time.perf_counter()
        _start_training(users)
        busy = _latencies(watcher.page, ["b", "c", "a", "b", "c"], rounds=5)
        for user in users:
            _check_own_results(user)
        all_trained_s = time.perf_counter() - started
        for user in everyone:
            assert user.errors == [], f"user {user.index}: {user.errors}"
    finally:
        peak_mb = memory.stop()
        for user in everyone:
            user.context.close()
    _report(memory, peak_mb, idle, busy, all_trained_s)
    assert peak_mb < PEAK_RSS_LIMIT_MB
    assert max(busy) < BUSY_LATENCY_LIMIT_S


def _report(memory: PeakMemory, peak_mb: float, idle: list[float], busy: list[float],
            all_trained_s: float) -> None:  # fmt: skip
    figures = {
        "users": N_USERS,
        "rows_per_user": N_ROWS,
        "server_rss_at_start_mb": round(memory.start_bytes / 1024**2, 1),
        "server_rss_peak_mb": round(peak_mb, 1),
        "server_cpu_s": round(memory.cpu_s, 1),
        "picker_latency_idle_s": [round(x, 3) for x in idle],
        "picker_latency_while_training_s": [round(x, 3) for x in busy],
        "picker_latency_idle_median_s": round(statistics.median(idle), 3),
        "picker_latency_busy_median_s": round(statistics.median(busy), 3),
        "picker_latency_busy_max_s": round(max(busy), 3),
        "all_trained_after_s": round(all_trained_s, 1),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    Path(OUT / "metrics.json").write_text(json.dumps(figures, indent=1))
    print("\nconcurrency:", json.dumps(figures))
