"""Benchmark the attention views: speed on 10,000 rows, peak memory on 100,000, re-render.

    python bench/attention.py                 # speed and memory (a few minutes on 2 cores)
    python bench/attention.py --browser       # also the page's re-render time in Chromium
    python bench/attention.py --rows 2000 --big-rows 10000   # a quick run
    python bench/attention.py --threads 1     # one torch thread (steadier on a busy machine)

Every case runs in a fresh subprocess on the CPU, so its peak memory is its own. The
model has the default architecture (d_model 64, 1 layer, 4 heads) with encoders fitted
on the e-commerce sample; its weights are random, which does not change the work done.
Baselines are measured in the same run:

- speed: ``predict`` on the same rows (the plain forward pass, no attention kept);
- memory: the naive approach that keeps every layer's (B, H, T, T) tensor for all rows.

Peak memory is the largest resident set seen by a 5 ms sampler during the case, minus
the resident set before it (model and data already loaded).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

from _common import print_table, timed  # noqa: E402

PAGE = ROOT / "pages" / "3_Attention.py"
SPEED_TARGET_S = 2.0  # attention maps of 10,000 rows on CPU
RERENDER_TARGET_S = 0.5  # page re-render after a control change
# browser_s: the click (pointerdown) that changes a control until the rerun's result is
# painted (Chromium);
# server_s: the script run itself, timed inside the server ("-": only a fragment reran).
_BROWSER_COLUMNS = ["step", "browser_s", "server_s", "target_s"]

# The Attention page with a data set and a model already in the session: the browser
# test and --browser serve this (as Home of a copy of the app, see _launch.harness_app)
# instead of clicking through Data and Train. The page runs in full, setup_page and all.
HARNESS = """
import os
import runpy
import time
import streamlit as st
from neuromkt.model.bundle import load_bundle
from neuromkt.data.samples import SAMPLES
from neuromkt.ui.server import freeze_startup_objects
from neuromkt.ui.state import (current_bundle, current_dataset, init_state, sample_dataset,
                               set_bundle, set_dataset)

@st.cache_resource
def _bundle(path):
    return load_bundle(path)

freeze_startup_objects()  # as setup_page does first, before any session state exists
init_state()
key = os.environ["NM_ATT_SAMPLE"]
if current_dataset() is None:
    frame, schema = sample_dataset(key)
    rows = int(os.environ.get("NM_ATT_ROWS", "0"))
    set_dataset(frame.head(rows) if rows else frame, SAMPLES[key].title, schema, sample_key=key)
if current_bundle() is None:
    set_bundle(_bundle(os.environ["NM_ATT_BUNDLE"]))
started = time.perf_counter()
runpy.run_path(os.environ["NM_ATT_PAGE"], run_name="__main__")
with open(os.environ["NM_ATT_RUNS"], "a") as runs:  # the server's own time per script run
    print(f"{time.perf_counter() - started:.4f}", file=runs)
"""


# ---------------------------------------------------------------- one case (subprocess)


def _frame(n_rows: int):
    import pandas as pd

    from neuromkt.data.samples import SAMPLE_SEED, SAMPLES

    spec = SAMPLES["ecommerce"]
    raw = spec.generate(n_rows, SAMPLE_SEED).to_csv(index=False)
    return pd.read_csv(io.StringIO(raw))  # typed as a user's CSV would be


def random_bundle(frame: Any, *, preset: str = "default"):
    """A bundle of the given size with random weights, encoders fitted on ``frame``."""
    import torch

    from neuromkt.data.samples import SAMPLES
    from neuromkt.data.schema import infer_schema
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import AttentionModel, ModelConfig
    from neuromkt.model.train_config import TrainConfig

    spec = SAMPLES["ecommerce"]
    schema = infer_schema(frame, target=spec.target)
    for column in spec.text_columns:
        if schema.role_of(column) != "text":
            schema = schema.with_role(column, "text", frame)
    encoders = Encoders.fit(frame, schema)
    torch.manual_seed(0)
    model = AttentionModel(config=ModelConfig.preset(preset), spec=encoders.spec()).eval()
    return ModelBundle(model, encoders, schema, TrainConfig(), {}, "bench", "2026-01-01", "bench")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def _peak_rss() -> Iterator[dict[str, float]]:
    """Sample the resident set every 5 ms; yields a dict filled with the peak delta in MB."""
    result, stop = {"base": _rss_mb(), "peak": _rss_mb()}, threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak"] = max(result["peak"], _rss_mb())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak"] = max(result["peak"], _rss_mb())
        result["delta"] = result["peak"] - result["base"]


def _naive(bundle: Any, frame: Any) -> list:
    """Keep every layer's full (B, H, T, T) attention of every row (the baseline)."""
    import torch

    kept = []
    with torch.no_grad():
        inputs = bundle.encoders.transform(frame)
        for start in range(0, len(frame), 512):
            batch = {k: v[start : start + 512] for k, v in inputs.items()}
            _, attentions = bundle.model(**batch, return_attention=True)
            kept.append(attentions)
    return kept


def run_case(case: str, n_rows: int, threads: int = 0) -> dict[str, Any]:
    """Run one case in this process and return its figures (``threads``: torch's, 0 = its own)."""
    import gc

    import torch

    if threads:
        torch.set_num_threads(threads)
    from neuromkt.explain.attention import compute_attention
    from neuromkt.model.inference import predict

    frame = _frame(n_rows)
    bundle = random_bundle(frame.head(20_000))
    compute_attention(bundle, frame.head(64))  # warm up kernels and allocator
    gc.collect()
    out: dict[str, Any] = {"threads": torch.get_num_threads()}
    if case == "speed":
        for name, fn in (("attention", compute_attention), ("predict", predict)):
            runs = []
            for _ in range(3):
                with timed() as t:
                    fn(bundle, frame)
                runs.append((t.seconds, t.cpu_seconds))
            out[name] = min(runs)
        return out
    fn = {"memory": compute_attention, "naive": _naive}[case]
    with _peak_rss() as rss, timed() as t:
        kept = fn(bundle, frame)
    out |= {"delta_mb": rss["delta"], "seconds": t.seconds, "kept_mb": _kept_mb(kept)}
    return out


def _kept_mb(kept: Any) -> float:
    if isinstance(kept, list):
        return sum(a.numel() * a.element_size() for layers in kept for a in layers) / 2**20
    return (kept.cls.nbytes + kept.rollout.nbytes + kept.scores.nbytes) / 2**20


def _in_subprocess(case: str, n_rows: int, threads: int = 0) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, "--rows", str(n_rows),
               "--threads", str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise RuntimeError(f"case {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the page in Chromium


@dataclass(frozen=True)
class ServedPage:
    """The Attention page served by :func:`serve_attention_page`."""

    url: str
    runs: Path  # one line per script run: the server's seconds for it

    def last_run_s(self) -> float:
        """Server seconds of the latest full script run."""
        return float(self.runs.read_text().split()[-1])

    def n_runs(self) -> int:
        """Full script runs so far (a fragment's rerun is not one)."""
        return len(self.runs.read_text().split()) if self.runs.exists() else 0


@contextmanager
def serve_attention_page(
    bundle_dir: Path, *, sample: str = "ecommerce", rows: int = 0, page: Path = PAGE
) -> Iterator[ServedPage]:
    """Serve the Attention page (data set and model preloaded) until the block ends."""
    from _launch import harness_app, running_app

    with tempfile.TemporaryDirectory(prefix="nm-att-") as tmp:
        entry = harness_app(Path(tmp), HARNESS)
        runs = Path(tmp) / "runs.txt"
        env = {"NM_ATT_SAMPLE": sample, "NM_ATT_ROWS": str(rows),
               "NM_ATT_BUNDLE": str(bundle_dir), "NM_ATT_PAGE": str(page),
               "NM_ATT_RUNS": str(runs)}  # fmt: skip
        with running_app(Path(tmp) / "home", entry=entry, env=env) as url:
            yield ServedPage(url, runs)


# Armed just before the click that changes the control. The start is the click's
# pointerdown as the page sees it (Playwright's own checks before it clicks are not the
# user's wait); the end is the first frame painted after the script finished (two
# animation frames: React has committed what the last message brought and the browser
# has drawn it).
_WATCH = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__nm = {start: performance.now(), ran: false, end: null};
    document.addEventListener('pointerdown', () => { window.__nm.start = performance.now(); },
                              {capture: true, once: true});
    new MutationObserver(() => {
        const state = app.getAttribute('data-test-script-state');
        if (state === 'running') window.__nm.ran = true;
        if (state === 'notRunning' && window.__nm.ran && window.__nm.end === null) {
            window.__nm.end = 0;
            requestAnimationFrame(() => requestAnimationFrame(() => {
                window.__nm.end = performance.now();
            }));
        }
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def time_rerender(page: Any, change: tuple[Any, Any]) -> float:
    """Seconds from a control change until the rerun's result is painted.

    ``change`` is ``(prepare, commit)``: ``prepare`` gets the control ready (opens a
    drop-down) and is not timed; the clock starts just before ``commit`` clicks.
    """
    prepare, commit = change
    prepare()
    page.evaluate(_WATCH)
    commit()
    page.wait_for_function(
        "() => window.__nm.end && !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=120_000,
    )
    return page.evaluate("() => (window.__nm.end - window.__nm.start) / 1000")


def browser_case(n_rows: int) -> list[dict[str, Any]]:
    """Open the page in headless Chromium; time re-renders after control changes."""
    from _launch import launch_kwargs, wait_settled
    from playwright.sync_api import sync_playwright

    from neuromkt.model.bundle import save_bundle

    with tempfile.TemporaryDirectory(prefix="nm-att-bundle-") as tmp:
        save_bundle(random_bundle(_frame(20_000)), Path(tmp) / "model")
        with (
            serve_attention_page(Path(tmp) / "model", rows=n_rows) as served,
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(**launch_kwargs())
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            with timed() as first:
                page.goto(served.url)
                wait_settled(page, 300_000)
            rows = [{"step": f"first load ({n_rows:,} rows, computes attention)",
                     "browser_s": first.seconds, "server_s": served.last_run_s(),
                     "target_s": None}]  # fmt: skip
            for label, action in _changes(page):
                before = served.n_runs()
                seconds = time_rerender(page, action)
                wait_settled(page)
                full = served.n_runs() > before  # else only a fragment of the page reran
                rows.append({"step": label, "browser_s": seconds,
                             "server_s": served.last_run_s() if full else None,
                             "target_s": RERENDER_TARGET_S})  # fmt: skip
            browser.close()
    return rows


def _changes(page: Any) -> list[tuple[str, Any]]:
    def pick(label: str, option: str) -> tuple[Any, Any]:  # the selectbox labelled ``label``
        choice = page.get_by_role("option", name=option, exact=True)

        def open_list() -> None:
            box = page.get_by_role("combobox", name=label)
            box.scroll_into_view_if_needed()
            box.click()
            choice.wait_for(timeout=60_000)

        return open_list, choice.click

    def press(name: str) -> tuple[Any, Any]:
        button = page.get_by_role("radio", name=name, exact=True).first
        return button.scroll_into_view_if_needed, button.click

    def tab(name: str) -> tuple[Any, Any]:
        return lambda: None, page.get_by_role("tab", name=name, exact=True).click

    return [
        ("head → Head 2 (a new view)", pick("Head", "Head 2")),
        ("head → Mean of heads (seen before)", pick("Head", "Mean of heads")),
        ("aggregation → Rollout", press("Rollout")),
        ("aggregation → Mean (seen before)", press("Mean")),
        ("tab → By segment", tab("By segment")),
        ("segment → score decile (a fragment)", pick("Split rows by", "Predicted score decile")),
        ("head → Head 2, on this tab", pick("Head", "Head 2")),
        ("tab → One row up close", tab("One row up close")),
        ("row → a low-scoring non-converter (a fragment)", press("A low-scoring non-converter")),
    ]


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows for the speed case")
    parser.add_argument("--big-rows", type=int, default=100_000, help="rows for memory")
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium")
    parser.add_argument("--page-rows", type=int, default=20_000, help="rows shown by the page")
    parser.add_argument("--browser-only", action="store_true", help="only the page in Chromium")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.rows, args.threads)))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if args.browser_only:
        print_table(browser_case(args.page_rows), _BROWSER_COLUMNS)
        return
    speed = _in_subprocess("speed", args.rows, args.threads)
    (att_s, att_cpu), (base_s, base_cpu) = speed["attention"], speed["predict"]
    print_table([
        {"what": f"attention maps, {args.rows:,} rows", "wall_s": att_s, "cpu_s": att_cpu,
         "target_s": SPEED_TARGET_S, "vs_baseline": att_s / base_s},
        {"what": f"baseline: predict, {args.rows:,} rows", "wall_s": base_s, "cpu_s": base_cpu,
         "target_s": None, "vs_baseline": 1.0},
    ], ["what", "wall_s", "cpu_s", "target_s", "vs_baseline"])  # fmt: skip
    print(f"(torch threads: {speed['threads']})\n", flush=True)
    memory = _in_subprocess("memory", args.big_rows, args.threads)
    naive_rows = min(args.big_rows, 20_000)
    naive = _in_subprocess("naive", naive_rows, args.threads)
    scale = args.big_rows / naive_rows
    print_table([
        {"what": f"attention maps, {args.big_rows:,} rows (chunked)", "peak_mb": memory["delta_mb"],
         "kept_mb": memory["kept_mb"], "seconds": memory["seconds"], "vs_naive": None},
        {"what": f"naive, all (B,H,T,T) kept, {naive_rows:,} rows", "peak_mb": naive["delta_mb"],
         "kept_mb": naive["kept_mb"], "seconds": naive["seconds"], "vs_naive": None},
        {"what": f"naive scaled to {args.big_rows:,} rows (x{scale:g})",
         "peak_mb": naive["delta_mb"] * scale, "kept_mb": naive["kept_mb"] * scale,
         "seconds": None, "vs_naive": memory["delta_mb"] / (naive["delta_mb"] * scale)},
    ], ["what", "peak_mb", "kept_mb", "seconds", "vs_naive"], digits=1)  # fmt: skip
    if args.browser:
        print()
        print_table(browser_case(args.page_rows), _BROWSER_COLUMNS)


if __name__ == "__main__":
    main()
