"""Benchmark: ``neuromkt train`` beyond one frame — in memory, streamed, and DDP.

Generates (once, cached by size in the temp directory) Parquet folders of the
e-commerce sample's shape (``neuromkt.data.samples``, 100,000-row files of 65,536-row
row groups, each file its own seed) and a separate held-out file, then times, each in
a fresh process tree:

- ``memory``: today's path, ``neuromkt train FILE.parquet`` on the same rows as one
  Parquet file, loaded whole (only where it fits: at most 5M rows);
- ``stream``: ``neuromkt train FOLDER --stream`` on one process;
- ``ddp``: ``neuromkt train FOLDER --workers 2`` (torchrun, gloo on CPU).

Every run uses the defaults (one epoch at these sizes: the row budget) and one torch
thread per process. It prints rows per second (input rows over the wall time of the
whole command, and over the fit alone as the bundle records it), the CPU seconds of
the command's processes (the fairer figure on a machine shared with other jobs), peak
resident memory of the largest process (sampled every 0.2 s), and the AUC on the validation
split and on 100,000 held-out rows of the same generator.

Targets (issue 16): peak RSS per process under 2 GB at 10M rows and flat from 1M; 2
processes at least 1.5x the rows per second of 1; streamed AUC within 0.005 of the
in-memory model at 1M rows.

Usage: ``.venv/bin/python bench/scale.py [--rows 1000000]… [--paths memory,stream,ddp]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]  # this checkout's neuromkt, and _common
from _common import print_table  # noqa: E402

FILE_ROWS = 100_000
GROUP_ROWS = 65_536
HELD_OUT_ROWS = 100_000
HELD_OUT_SEED = 999_999


def _write_parts(folder: Path, rows: int, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from neuromkt.data.samples import SAMPLES

    folder.mkdir(parents=True, exist_ok=True)
    generate = SAMPLES["ecommerce"].generate
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        path = folder / f"part-{i:05d}.parquet"
        if path.exists():
            continue
        frame = generate(min(FILE_ROWS, rows - start), seed + i)
        frame["session_id"] = [f"S{seed + i:06d}-{j:06d}" for j in range(len(frame))]
        tmp = path.with_suffix(".tmp")
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), tmp, row_group_size=GROUP_ROWS
        )
        os.replace(tmp, path)


def make_data(rows: int) -> dict[str, Path]:
    """The folder, the same rows as one file, and the held-out file (cached)."""
    import pyarrow.parquet as pq

    root = Path(tempfile.gettempdir()) / "neuromkt_bench" / "scale"
    folder = root / f"sessions_{rows}"
    _write_parts(folder, rows, seed=0)
    single = root / f"sessions_{rows}.parquet"
    if not single.exists() and rows <= 5_000_000:
        parts = sorted(folder.glob("*.parquet"))
        with pq.ParquetWriter(single.with_suffix(".tmp"), pq.read_schema(parts[0])) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part))
        os.replace(single.with_suffix(".tmp"), single)
    held = root / "held_out"
    _write_parts(held, HELD_OUT_ROWS, seed=HELD_OUT_SEED)
    return {"folder": folder, "single": single, "held_out": held}


def _peak_rss(job: subprocess.Popen) -> tuple[dict[int, float], dict[int, float]]:
    """Wait for ``job``, sampling resident memory (MB) and CPU seconds of its process tree."""
    peaks: dict[int, float] = {}
    cpu: dict[int, float] = {}
    parent = psutil.Process(job.pid)
    while job.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for proc in tree:
            try:
                rss = proc.memory_info().rss / 1024**2
                times = proc.cpu_times()
            except psutil.Error:
                continue
            peaks[proc.pid] = max(peaks.get(proc.pid, 0.0), rss)
            cpu[proc.pid] = times.user + times.system
        time.sleep(0.2)
    return peaks, cpu


def run(path: str, data: dict[str, Path], rows: int, out: Path) -> dict[str, object]:
    """One ``neuromkt train`` command; its timing, memory and metrics."""
    source = data["single"] if path == "memory" else data["folder"]
    command = [sys.executable, "-m", "neuromkt", "train", str(source), "--target", "purchased"]
    command += ["--out", str(out)]
    command += {"memory": [], "stream": ["--stream"], "ddp": ["--workers", "2"]}[path]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEUROMKT_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if path == "memory":
        env["NEUROMKT_MEMORY_BUDGET_MB"] = str(1024**2)  # never stream (the file is one file)
    # Files, not pipes: a progress bar would fill a pipe nobody reads while we sample.
    with tempfile.TemporaryFile() as stdout_file, tempfile.TemporaryFile() as stderr_file:
        started = time.perf_counter()
        job = subprocess.Popen(command, env=env, stdout=stdout_file, stderr=stderr_file)
        peaks, cpu = _peak_rss(job)
        job.wait()
        seconds = time.perf_counter() - started
        stdout_file.seek(0)
        stderr_file.seek(0)
        stdout, stderr = stdout_file.read(), stderr_file.read()
    if job.returncode:
        raise SystemExit(f"{path} failed:\n{stderr.decode()[-3000:]}")
    # The torchrun agent and the launcher hold little; the largest process is a trainer.
    validation = json.loads(stdout.decode().strip().splitlines()[-1])
    meta = json.loads((out / "bundle.json").read_text())
    fit_s = float(meta["metrics"].get("training", {}).get("seconds", float("nan")))
    return {
        "rows": rows,
        "path": path,
        "processes": 2 if path == "ddp" else 1,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "fit_rows_per_s": rows / fit_s if fit_s == fit_s else float("nan"),
        "peak_rss_mb": max(peaks.values()),
        "cpu_s": sum(cpu.values()),  # all processes of the command, as last sampled
        "val_auc": float(validation["roc_auc"]),
    }


def held_out_auc(model: Path, held_out: Path) -> float:
    from neuromkt.data.stream import iter_chunks, open_source
    from neuromkt.model.bundle import load_bundle
    from neuromkt.model.inference import predict
    from neuromkt.model.metrics import task_metrics

    bundle = load_bundle(model)
    scores, labels = [], []
    for chunk in iter_chunks(open_source(held_out), batch_rows=20_000):
        scores.append(predict(bundle, chunk.frame))
        labels.append(chunk.frame["purchased"].to_numpy())
    y, p = np.concatenate(labels), np.concatenate(scores)
    return float(task_metrics("binary", y, p, list(bundle.encoders.classes))["roc_auc"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable; 1M)")
    parser.add_argument("--paths", default="memory,stream,ddp", help="which runs")
    args = parser.parse_args(argv)
    from neuromkt.model.threads import configure_threads

    configure_threads(1)
    results = []
    for rows in args.rows or [1_000_000]:
        started = time.perf_counter()
        data = make_data(rows)
        print(f"data for {rows:,} rows ready ({time.perf_counter() - started:.0f}s)", flush=True)
        for path in args.paths.split(","):
            if path == "memory" and rows > 5_000_000:
                continue  # over load_table's row limit: today's path refuses it
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "model"
                result = run(path, data, rows, out)
                result["held_out_auc"] = held_out_auc(out, data["held_out"])
            results.append(result)
            print(json.dumps(result), flush=True)
    print()
    columns = ["rows", "path", "processes", "seconds", "rows_per_s", "fit_rows_per_s"]
    columns += ["cpu_s", "peak_rss_mb", "val_auc", "held_out_auc"]
    print_table(
        results,
        columns,
        digits={
            "seconds": 0,
            "cpu_s": 0,
            "rows_per_s": 0,
            "fit_rows_per_s": 0,
            "peak_rss_mb": 0,
            "val_auc": 4,
        }
        | {"held_out_auc": 4},
    )
    frame = pd.DataFrame(results)
    for rows, group in frame.groupby("rows"):
        by = group.set_index("path")
        if {"stream", "ddp"} <= set(by.index):
            ratio = by.loc["ddp", "rows_per_s"] / by.loc["stream", "rows_per_s"]
            print(f"{rows:,} rows: 2 processes / 1 = {ratio:.2f}x rows per second (target 1.5x)")
        if {"stream", "memory"} <= set(by.index):
            gap = by.loc["stream", "held_out_auc"] - by.loc["memory", "held_out_auc"]
            print(f"{rows:,} rows: held-out AUC streamed - in memory = {gap:+.4f} (target ±0.005)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
