"""Benchmark attributions: Integrated Gradients on 1,000 rows, a naive loop, 10,000 rows.

    python bench/explain.py                      # the full run (a few minutes on 2 cores)
    python bench/explain.py --rows 200 --big-rows 2000 --naive-rows 10   # a quick run

Every case runs in a fresh subprocess on the CPU (one torch thread unless the table says
otherwise: on a busy 2-core machine a second thread can make it several times slower), so
its peak memory is its own. The
model is the e-commerce sample's pre-trained bundle when it is shipped, else a model
of the default architecture (d_model 64, 1 layer, 4 heads) with encoders fitted on
the sample and seeded random weights: the work Integrated Gradients does does not
depend on the weights.

- ``ig``: ``neuromkt.explain.attributions.attribute(method="ig", steps=32)`` on ``--rows`` rows:
  batched (2,048 model evaluations per pass), rows of similar length chunked
  together, padding left out.
- ``naive``: Captum's ``LayerIntegratedGradients(model, model.embed)`` called once per
  row (32 steps, with its convergence delta), timed on ``--naive-rows`` rows and
  extrapolated linearly to ``--rows`` rows (the output says so).
- ``ig_big``: the batched path on ``--big-rows`` rows, for memory: peak resident set
  above the resident set before the case, and the peak of Python allocations
  (tracemalloc; tensors allocated by PyTorch's C++ side are not in it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import peak_rss_mb, print_table, timed  # noqa: E402

SPEED_TARGET_S = 5.0  # Integrated Gradients, 32 steps, 1,000 rows, CPU


def _model(sample: str):
    """The sample's pre-trained bundle, or a default-architecture model with random weights."""
    import torch

    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import AttentionModel, ModelConfig
    from neuromkt.model.sample_models import load_sample_bundle, sample_frame_and_schema
    from neuromkt.model.train_config import TrainConfig

    frame, schema = sample_frame_and_schema(sample)
    shipped = load_sample_bundle(sample)
    if shipped is not None:
        return shipped, frame, "pre-trained bundle"
    torch.manual_seed(0)
    encoders = Encoders.fit(frame, schema)
    model = AttentionModel(config=ModelConfig(), spec=encoders.spec()).eval()
    bundle = ModelBundle(model, encoders, schema, TrainConfig(), {}, "", "", "bench")
    return bundle, frame, "default architecture, random weights"


def _naive(bundle, rows, steps: int) -> None:
    """One Captum call per row: LayerIntegratedGradients at model.embed, neutral-like baseline."""
    from captum.attr import LayerIntegratedGradients

    model, encoders = bundle.model, bundle.encoders

    def forward(numeric, numeric_missing, categorical, tokens):
        return model(numeric, numeric_missing, categorical, tokens)[:, 0]

    layer = LayerIntegratedGradients(forward, model.embed)
    names = ("numeric", "numeric_missing", "categorical", "tokens")
    for i in range(len(rows)):
        inputs = encoders.transform(rows.iloc[i : i + 1])
        baseline = {
            **inputs,
            "numeric": inputs["numeric"] * 0,
            "tokens": (inputs["tokens"] > 0).long(),
        }
        layer.attribute(
            tuple(inputs[k] for k in names),
            baselines=tuple(baseline[k] for k in names),
            n_steps=steps,
            return_convergence_delta=True,
        )


def run_case(case: str, sample: str, n_rows: int, steps: int) -> dict[str, Any]:
    """Run one case in this process and return its measurements."""
    import tracemalloc

    import torch

    from neuromkt.explain.attributions import attribute

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    bundle, frame, model_kind = _model(sample)
    rows = frame.sample(n_rows, random_state=0, replace=n_rows > len(frame))
    rows = rows.reset_index(drop=True)
    attribute(bundle, rows.head(8), "ig", steps=steps)  # warm up (first calls are slower)
    before = peak_rss_mb()
    tracemalloc.start()
    with timed() as t:
        if case == "naive":
            _naive(bundle, rows, steps)
        else:
            result = attribute(bundle, rows, "ig", steps=steps)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = {
        "case": case,
        "rows": n_rows,
        "seconds": t.seconds,
        "cpu_seconds": t.cpu_seconds,
        "peak_rss_mb": peak_rss_mb() - before,
        "tracemalloc_mb": traced / 1024**2,
        "model": model_kind,
        "threads": torch.get_num_threads(),
        "positions": bundle.encoders.spec().n_positions,
    }
    if case != "naive":
        gap = abs(result.score - result.baseline_score).sum()
        out["delta_error"] = float(abs(result.delta).sum() / max(gap, 1e-12))
    return out


def _in_subprocess(
    case: str, sample: str, n_rows: int, steps: int, threads: int = 1
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, "--sample", sample,
               "--rows", str(n_rows), "--steps", str(steps)]  # fmt: skip
    env = {**os.environ, "BENCH_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"case {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="ecommerce")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--naive-rows", type=int, default=50)
    parser.add_argument("--big-rows", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case, args.sample, args.rows, args.steps)))
        return 0
    ig = _in_subprocess("ig", args.sample, args.rows, args.steps)
    ig2 = _in_subprocess("ig", args.sample, args.rows, args.steps, threads=2)
    naive = _in_subprocess("naive", args.sample, args.naive_rows, args.steps)
    big = _in_subprocess("ig_big", args.sample, args.big_rows, args.steps)
    scale = args.rows / args.naive_rows
    naive_full = {**naive, "case": f"naive (×{scale:g} from {args.naive_rows} rows)",
                  "rows": args.rows, "seconds": naive["seconds"] * scale,
                  "cpu_seconds": naive["cpu_seconds"] * scale}  # fmt: skip
    table = [ig, ig2, naive_full, big]
    for row in table:
        row["rows_per_s"] = row["rows"] / row["seconds"]
    for row in (ig, ig2):
        row["target_s"] = SPEED_TARGET_S
    ig["speedup"] = naive_full["seconds"] / ig["seconds"]  # both on one thread
    print(
        f"Integrated Gradients, {args.steps} steps, {args.sample} sample "
        f"({ig['positions']} positions per row; model: {ig['model']}); CPU, torch "
        f"threads as listed (the naive loop and ig_big on one)."
    )
    columns = ["case", "threads", "rows", "seconds", "cpu_seconds", "rows_per_s", "peak_rss_mb",
               "tracemalloc_mb", "delta_error", "target_s", "speedup"]  # fmt: skip
    print_table(table, columns, digits=2)
    print(
        f"The naive loop was timed on {args.naive_rows} rows ({naive['seconds']:.2f} s) and "
        f"extrapolated to {args.rows:,}; batched IG is {ig['speedup']:.1f}× faster. "
        f"delta_error = Σ|δ| / Σ|F(x) − F(baseline)|."
    )
    best = min(ig["seconds"], ig2["seconds"])
    ok = best <= SPEED_TARGET_S
    print(f"{'PASS' if ok else 'MISS'}: {args.rows:,} rows in {best:.2f} s "
          f"(target < {SPEED_TARGET_S:.0f} s).")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
