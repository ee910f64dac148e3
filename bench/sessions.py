"""Benchmark: event log → sessions with DuckDB (``build_sessions``) against pandas ``groupby``.

Writes (once, cached by size in the temp directory) a synthetic event log as Parquet:
users with several sessions, events at millisecond resolution, some gaps of exactly
30 minutes and 30 minutes + 1 s, a few purchases, a traffic medium per session. Then
builds the sessions table (30-minute inactivity limit, outcome ``purchase`` cut before
it, the session's first medium, counts per event, recency and frequency; duplicates
kept, as the pandas side does not look for them) twice, each
in a fresh subprocess: with :func:`neuromkt.data.sessions.build_sessions`, and with a
straightforward pandas implementation of the same rules (sort, shift, cumsum,
``groupby`` aggregation). On the smallest log the two tables are checked equal.

Prints wall time, CPU time (all threads), events per second, peak resident memory of
each process and the time ratio pandas / DuckDB.

Targets (2-core machine): 10M events in under 60 s, peak RSS under 2 GB, at least 3×
faster than pandas.

Usage: ``.venv/bin/python bench/sessions.py [--sizes 1000000 5000000 10000000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS_10M = 60.0
TARGET_PEAK_MB = 2_000
TARGET_SPEEDUP = 3.0
_EVENTS = np.array(["page_view", "view_item", "search", "scroll", "add_to_cart", "purchase"])
_EVENT_P = np.array([0.40, 0.28, 0.10, 0.12, 0.07, 0.03])
_MEDIUMS = np.array(["organic", "cpc", "email", "referral", "(none)"])

_CHILD = """
import json, resource, sys, time
path, out, method = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from neuromkt.data.sessions import SessionConfig, build_sessions  # imports are not timed
from sessions import pandas_sessions
start, cpu_start = time.perf_counter(), time.process_time()
if method == "duckdb":
    config = SessionConfig("user_id", "ts", "event", keep=("medium",), outcome="purchase",
                           drop_duplicates=False)  # as the pandas baseline
    n = build_sessions(path, config, out=out).summary.sessions
else:
    n = pandas_sessions(path, out)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_kb / 1024, "sessions": n}))
"""


def make_log(n_events: int, seed: int = 0) -> Path:
    """Write the benchmark log (Parquet) unless one of this size is already cached."""
    path = Path(tempfile.gettempdir()) / "neuromkt_bench" / f"sessions_{n_events}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_sessions = max(1, n_events // 8)
    lengths = 1 + rng.geometric(1 / 8, n_sessions)
    owner = np.repeat(np.arange(n_sessions), lengths)[:n_events]
    n_users = max(1, n_sessions // 3)
    user_of_session = rng.integers(0, n_users, n_sessions)
    start_us = 1_714_521_600_000_000 + rng.integers(0, 30 * 86_400, n_sessions) * 1_000_000
    gaps_ms = np.round(np.exp(rng.normal(np.log(20_000), 1.0, n_events)))
    edge = rng.random(n_events)  # gaps right at the inactivity limit
    gaps_ms[edge < 0.002] = 1_800_000
    gaps_ms[(edge >= 0.002) & (edge < 0.004)] = 1_801_000
    first = np.r_[True, owner[1:] != owner[:-1]]
    gaps_ms[first] = 0
    elapsed = np.cumsum(gaps_ms) - np.repeat(np.cumsum(gaps_ms)[first], np.bincount(owner))
    ts = start_us[owner] + (elapsed * 1000).astype(np.int64)
    event = _EVENTS[rng.choice(len(_EVENTS), n_events, p=_EVENT_P)]
    medium = _MEDIUMS[rng.integers(0, len(_MEDIUMS), n_sessions)][owner]
    user = np.char.add("u", user_of_session[owner].astype(str))
    order = np.argsort(ts, kind="stable")  # a log in time order, users interleaved
    table = pa.table({
        "user_id": user[order], "ts": ts[order], "event": event[order], "medium": medium[order],
    })  # fmt: skip
    pq.write_table(table, path, row_group_size=1_000_000)
    return path


def _gap_text(us: np.ndarray) -> np.ndarray:
    """Seconds as text the way the DuckDB side writes them: whole seconds bare, else 3 dp."""
    whole = us % 1_000_000 == 0
    out = np.where(whole, (us // 1_000_000).astype(str), "")
    rest = ~whole
    out[rest] = [repr(round(v, 3)) for v in (us[rest] / 1e6).tolist()]
    return out


def pandas_sessions(path: str, out: str, gap_minutes: float = 30.0) -> int:
    """The same sessions table with pandas: sort, shift, cumsum and ``groupby``."""
    df = pd.read_parquet(path, columns=["user_id", "ts", "event", "medium"])
    df["_row"] = np.arange(len(df))
    df = df.sort_values(["user_id", "ts", "_row"], kind="stable", ignore_index=True)
    same_user = df["user_id"].eq(df["user_id"].shift())
    gap = (df["ts"] - df["ts"].shift()).where(same_user)
    new = ~same_user | (gap > gap_minutes * 60_000_000)
    df["sess"] = new.cumsum()
    df["gap"] = gap.where(~new, 0).astype("int64")
    is_x = df["event"].eq("purchase")
    after = is_x.groupby(df["sess"]).cummax()
    sessions = df.groupby("sess").agg(
        user_id=("user_id", "first"), start_ts=("ts", "min"), last_ts=("ts", "max")
    )
    sessions["reached"] = is_x.groupby(df["sess"]).any()
    kept = df[~after]
    kept_gap = _gap_text(kept["gap"].to_numpy())
    grouped = kept.assign(gap_text=kept_gap).groupby("sess")
    agg = grouped.agg(
        n_events=("ts", "size"), end_ts=("ts", "max"), medium=("medium", "first"),
        events=("event", " ".join), events_gap_s=("gap_text", " ".join),
    )  # fmt: skip
    counts = pd.crosstab(kept["sess"], kept["event"])
    order = kept["event"].value_counts().index
    counts = counts[[e for e in order if e != "purchase"]].add_prefix("n_")
    sessions = sessions.join(agg).join(counts)
    sessions["n_events"] = sessions["n_events"].fillna(0).astype("int64")
    sessions = sessions.sort_values(["user_id", "start_ts", "sess"])
    by_user = sessions.groupby("user_id", sort=False)
    sessions["frequency"] = by_user.cumcount() + 1
    sessions["recency_s"] = (sessions["start_ts"] - by_user["last_ts"].shift()) / 1e6
    sessions["session_id"] = sessions["user_id"] + "-" + sessions["frequency"].astype(str)
    sessions = sessions[sessions["n_events"] > 0].copy()
    sessions["start_time"] = pd.to_datetime(sessions["start_ts"], unit="us")
    sessions["duration_s"] = (sessions["end_ts"] - sessions["start_ts"]) / 1e6
    sessions["purchase"] = sessions["reached"].astype("int64")
    n_cols = [c for c in sessions.columns if c.startswith("n_") and c != "n_events"]
    sessions[n_cols] = sessions[n_cols].fillna(0).astype("int64")
    columns = ["session_id", "user_id", "start_time", "n_events", "duration_s", "events",
               "events_gap_s", "medium", *n_cols, "recency_s", "frequency", "purchase"]  # fmt: skip
    sessions = sessions.sort_values(["start_ts", "user_id", "sess"])[columns]
    sessions.to_parquet(out, index=False)
    return len(sessions)


def check_equal(duck: Path, pandas_out: Path) -> str:
    """The two tables hold the same sessions (a message, or raises AssertionError)."""
    a = pd.read_parquet(duck).sort_values("session_id", ignore_index=True)
    b = pd.read_parquet(pandas_out).sort_values("session_id", ignore_index=True)
    assert list(a.columns) == list(b.columns), (list(a.columns), list(b.columns))
    a["start_time"] = a["start_time"].astype("datetime64[us]")
    b["start_time"] = b["start_time"].astype("datetime64[us]")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    return f"equal: {len(a):,} sessions × {a.shape[1]} columns"


def _run(path: Path, out: Path, method: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(out), method, str(Path(__file__).parent)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--skip-pandas-above", type=int, default=10_000_000,
                        help="run the pandas baseline only up to this many events")  # fmt: skip
    args = parser.parse_args(argv)
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="neuromkt-bench-") as tmp:
        for i, n in enumerate(sorted(args.sizes)):
            log = make_log(n)
            duck_out, pandas_out = Path(tmp) / f"duck_{n}.parquet", Path(tmp) / f"pd_{n}.parquet"
            duck = _run(log, duck_out, "duckdb")
            rows.append({"events": n, "method": "duckdb", **duck, "events_per_s":
                         n / duck["seconds"], "pandas_x": None})  # fmt: skip
            if n <= args.skip_pandas_above:
                pdr = _run(log, pandas_out, "pandas")
                rows.append({"events": n, "method": "pandas", **pdr,
                             "events_per_s": n / pdr["seconds"], "pandas_x": None})  # fmt: skip
                rows[-2]["pandas_x"] = pdr["seconds"] / duck["seconds"]
                if i == 0:
                    print(f"check on {n:,} events: {check_equal(duck_out, pandas_out)}")
            if n >= 10_000_000:
                verdicts.append(f"10M target (<{TARGET_SECONDS_10M:.0f} s): "
                                f"{duck['seconds']:.1f} s")  # fmt: skip
            verdicts.append(f"{n:,} events: peak RSS {duck['peak_mb']:,.0f} MB "
                            f"(target < {TARGET_PEAK_MB:,} MB)")  # fmt: skip
    columns = ["events", "method", "seconds", "cpu", "events_per_s", "peak_mb", "sessions",
               "pandas_x"]  # fmt: skip
    print_table(rows, columns, digits={"seconds": 1, "cpu": 1, "events_per_s": 0,
                                       "peak_mb": 0, "pandas_x": 1})  # fmt: skip
    for line in verdicts:
        print(line)
    print(f"speed-up target: pandas_x >= {TARGET_SPEEDUP:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
