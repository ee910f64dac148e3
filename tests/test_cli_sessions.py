"""``neuromkt sessions``: an event log in, one row per session out, a JSON summary last."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.cli import main

REPO = Path(__file__).resolve().parents[1]
EPOCH_US = 1_714_557_600 * 1_000_000  # 2024-05-01 10:00:00 UTC


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    """Three users; b's first session begins with a purchase; one row has no time."""
    rows = [
        ("a", 0, "page_view", "home", "email"),
        ("a", 30, "view_item", "shoes", "email"),
        ("a", 95, "add_to_cart", "shoes", "email"),
        ("a", 100, "purchase", "shoes", "email"),
        ("a", 110, "page_view", "thanks", "email"),  # after the purchase: left out
        ("b", 0, "purchase", "socks", "cpc"),  # begins with it: set aside
        ("b", 4000, "page_view", "home", "cpc"),  # a new session after 66 minutes
        ("b", 4010, "search", None, "cpc"),
        ("c", 50, "page_view", "home", "organic"),
        ("c", None, "page_view", "home", "organic"),  # no time
    ]
    frame = pd.DataFrame(rows, columns=["user_pseudo_id", "t", "event_name", "item", "medium"])
    frame["event_timestamp"] = (EPOCH_US + frame["t"] * 1_000_000).astype("Int64")
    path = tmp_path / "events.csv"
    frame.drop(columns="t").to_csv(path, index=False)
    return path


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neuromkt", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_sessions_end_to_end_as_python_m(log_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "sessions.parquet"
    done = _python_m(
        "sessions", str(log_csv), "--id", "user_pseudo_id", "--time", "event_timestamp",
        "--event", "event_name", "--item", "item", "--keep", "medium", "--outcome", "purchase",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["events_read"] == 10
    assert summary["events_dropped"] == {"missing_time": 1, "at_or_after_outcome": 3}
    assert (summary["sessions"], summary["sessions_set_aside"], summary["users"]) == (3, 1, 3)
    assert summary["outcome"] == "purchase" and summary["outcome_rate"] == pytest.approx(1 / 3)
    assert summary["time_format"] == "epoch microseconds"
    assert "1 session set aside" in done.stderr and "wrote 3 sessions" in done.stderr
    sessions = pd.read_parquet(out).set_index("session_id")
    assert sessions.loc["a-1", "events"] == "page_view:home view_item:shoes add_to_cart:shoes"
    assert sessions.loc["a-1", "events_gap_s"] == "0 30 65"
    assert sessions["purchase"].to_dict() == {"a-1": 1, "c-1": 0, "b-2": 0}
    assert sessions.loc["b-2", "events"] == "page_view:home search"
    assert sessions.loc["b-2", "frequency"] == 2  # the set-aside session counts as a visit
    assert sessions.loc["b-2", "medium"] == "cpc"


def test_sessions_in_process_to_csv_with_a_session_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    n = 200
    log = pd.DataFrame({
        "uid": rng.choice(["u1", "u2", "u3"], n),
        "sid": rng.choice(["s1", "s2"], n),
        "when": pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        "what": rng.choice(["a", "b", "c"], n),
    })  # fmt: skip
    log.to_parquet(tmp_path / "log.parquet", index=False)
    out = tmp_path / "s.csv"
    argv = ["sessions", str(tmp_path / "log.parquet"), "--id", "uid", "--time", "when",
            "--event", "what", "--session-col", "sid", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["sessions"] == len(log.groupby(["uid", "sid"])) == len(pd.read_csv(out))
    assert summary["outcome"] is None and summary["outcome_rate"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--time", "nope"], "There is no time column 'nope'"),
        (["--outcome", "refund"], "The outcome event 'refund' never occurs in 'event_name'"),
        (["--gap-minutes", "0"], "must be above 0 minutes"),
        (["--out-format"], "unrecognized arguments"),
    ],
)
def test_sessions_bad_input_is_exit_2_and_one_line(
    log_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, message
) -> None:
    argv = ["sessions", str(log_csv), "--id", "user_pseudo_id", "--time", "event_timestamp",
            "--event", "event_name", "--out", str(tmp_path / "s.parquet"), *extra]  # fmt: skip
    if extra[0] == "--out-format":
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    else:
        assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert not (tmp_path / "s.parquet").exists()
