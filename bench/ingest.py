"""Benchmark: ``neuromkt.load_table`` against plain ``pandas.read_csv``.

Writes (once, cached by size in the temp directory) a CSV of 1,000,000 rows × 30
columns (integers, floats, short categories, a few missing values), then reads it
with each method in a fresh subprocess, best of N runs, and prints wall and CPU time of
the read call (CPU time is the steadier figure on a busy machine), peak resident
memory of the process and the ratios against pandas.

Targets: load_table ≤ 1.2 × pandas time, peak memory < 3 GB.

Usage: ``.venv/bin/python bench/ingest.py [--rows N] [--repeats N]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TIME_RATIO_TARGET = 1.2
PEAK_MB_TARGET = 3_000

_CHILD = """
import json, resource, sys, time
import pandas as pd
from neuromkt.data.load import load_table
path, method = sys.argv[1], sys.argv[2]
start, cpu_start = time.perf_counter(), time.process_time()
frame = load_table(path) if method == "load_table" else pd.read_csv(path)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_kb / 1024,
                  "shape": list(frame.shape)}))
"""


def make_csv(rows: int, cols: int = 30, seed: int = 0) -> Path:
    """Write the benchmark CSV unless a file of this size is already cached."""
    path = Path(tempfile.gettempdir()) / "neuromkt_bench" / f"ingest_{rows}x{cols}.csv"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    words = np.array(["home", "search", "product", "cart", "checkout", "blog", "faq", "deal"])
    regions = np.array(["north", "south", "east", "west", "central"])
    for i in range(cols):
        kind = i % 3
        if kind == 0:
            columns[f"count_{i}"] = rng.integers(0, 1_000, rows)
        elif kind == 1:
            values = rng.normal(50, 20, rows).round(3)
            values[rng.random(rows) < 0.01] = np.nan
            columns[f"amount_{i}"] = values
        else:
            pool = words if i % 2 else regions
            values = pool[rng.integers(0, len(pool), rows)].astype(object)
            values[rng.random(rows) < 0.01] = None
            columns[f"label_{i}"] = values
    tmp = path.with_suffix(".tmp")
    pd.DataFrame(columns).to_csv(tmp, index=False)
    tmp.rename(path)
    return path


def measure(path: Path, method: str, repeats: int) -> dict:
    """Best-of-``repeats`` read time and the largest peak memory, each run a new process."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), method],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": min(r["seconds"] for r in runs),
        "cpu": min(r["cpu"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "shape": runs[0]["shape"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = make_csv(args.rows)
    print(
        f"file: {path} ({path.stat().st_size / 1e6:,.0f} MB), ready in "
        f"{time.perf_counter() - started:.1f} s"
    )
    base = measure(path, "pandas", args.repeats)
    ours = measure(path, "load_table", args.repeats)
    print(f"{'method':<12} {'seconds':>8} {'ratio':>6} {'cpu s':>7} {'ratio':>6} {'peak MB':>8}")
    for label, r in (("pandas", base), ("load_table", ours)):
        ratio, cpu_ratio = r["seconds"] / base["seconds"], r["cpu"] / base["cpu"]
        print(
            f"{label:<12} {r['seconds']:8.2f} {ratio:6.2f} {r['cpu']:7.2f} {cpu_ratio:6.2f} "
            f"{r['peak_mb']:8.0f}  {r['shape'][0]:,} × {r['shape'][1]}"
        )
    ratio = ours["seconds"] / base["seconds"]
    time_ok = ratio <= TIME_RATIO_TARGET
    mem_ok = ours["peak_mb"] < PEAK_MB_TARGET
    print(f"time  ≤ {TIME_RATIO_TARGET}× pandas: {ratio:.2f}× {'PASS' if time_ok else 'FAIL'}")
    print(
        f"peak  < {PEAK_MB_TARGET:,} MB: {ours['peak_mb']:,.0f} MB {'PASS' if mem_ok else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
