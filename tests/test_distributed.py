"""DDP on CPU: two ranks over gloo on localhost, started by torchrun as a subprocess.

One torchrun job (``tests/ddp_scenarios.py``) serves three tests; a second, started by
``neuromkt train --workers 2``, has one of its ranks killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from neuromkt.act.scoring import score_frame
from neuromkt.data.samples import load_sample
from neuromkt.data.stream import open_source, read_frame
from neuromkt.model.bundle import load_bundle

REPO = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "NEUROMKT_THREADS": "1", "OMP_NUM_THREADS": "1"}


def write_folder(folder: Path, frame: pd.DataFrame, files: int = 4, group: int = 400) -> Path:
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        table = pa.Table.from_pandas(frame.iloc[part], preserve_index=False)
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=group)
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = load_sample("ecommerce").head(3000)
    return write_folder(tmp_path_factory.mktemp("ddp") / "sessions", frame)


@pytest.fixture(scope="module")
def ddp_run(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp-out")
    script = REPO / "tests" / "ddp_scenarios.py"
    done = subprocess.run(
        [*TORCHRUN, str(script), str(folder), str(out)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.mark.parametrize(("scenario", "text"), [("step", True), ("step-notext", False)])
def test_one_step_on_two_ranks_equals_one_process_with_twice_the_batch(
    ddp_run: Path, scenario: str, text: bool
) -> None:
    from ddp_scenarios import fresh_model, one_step, step_inputs

    encoders, inputs, y = step_inputs(text)
    model = fresh_model(encoders)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    one_step(model, inputs, y)
    expected = model.state_dict()
    for rank in (0, 1):
        got = load_file(ddp_run / f"{scenario}-rank{rank}.safetensors")
        for name, value in expected.items():
            torch.testing.assert_close(got[name], value, rtol=1e-5, atol=1e-6, msg=name)
    moved = [k for k, v in expected.items() if not torch.equal(v, before[k])]
    assert len(moved) > len(expected) // 2  # the step really changed the weights


def test_parameters_identical_on_both_ranks_after_training(ddp_run: Path) -> None:
    first = load_file(ddp_run / "fit-rank0.safetensors")
    second = load_file(ddp_run / "fit-rank1.safetensors")
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name
    import json

    record = json.loads((ddp_run / "fit.json").read_text())
    assert record["processes"] == 2 and record["streamed"] is True
    assert record["rows"] == 3000  # every row read once, by one of the two ranks


def test_predict_split_between_ranks_writes_every_row_in_input_order(
    ddp_run: Path, folder: Path
) -> None:
    scores = pd.read_parquet(ddp_run / "scores.parquet")
    bundle = load_bundle(ddp_run / "model")
    expected = score_frame(bundle, read_frame(open_source(folder)), reasons=False)
    assert scores["session_id"].tolist() == expected["session_id"].tolist()
    np.testing.assert_allclose(scores["score"], expected["score"], rtol=0, atol=1e-6)


def _rank_process(parent: psutil.Process, rank: str) -> psutil.Process | None:
    for child in parent.children(recursive=True):
        try:
            if child.environ().get("RANK") == rank and child.environ().get("LOCAL_RANK"):
                return child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def test_killing_one_rank_ends_the_job_with_a_clear_message_and_no_bundle(
    folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    command = [sys.executable, "-m", "neuromkt", "train", str(folder), "--target", "purchased"]
    command += ["--out", str(out), "--epochs", "30", "--size", "small", "--workers", "2"]
    spools = tmp_path / "tmp"  # a killed rank cannot remove its spool: keep it here
    spools.mkdir()
    job = subprocess.Popen(
        command,
        env={**_env(), "TMPDIR": str(spools)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: job.stderr.read(64), "")))
    reader.start()
    try:
        parent = psutil.Process(job.pid)
        deadline = time.monotonic() + 120
        # Rank 0 draws its rows bar once the job has formed (after rendezvous).
        while "rows/s" not in "".join(chunks) and time.monotonic() < deadline:
            assert job.poll() is None, "".join(chunks)[-3000:]
            time.sleep(0.2)
        victim = _rank_process(parent, "1")
        assert victim is not None, "rank 1 is not running"
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        job.wait(timeout=60)
        assert time.monotonic() - killed < 60
    finally:
        if job.poll() is None:
            job.kill()
        job.wait()
        reader.join()
    err = "".join(chunks)
    assert job.returncode != 0
    assert "Process 0 of 2 stopped" in err, err[-3000:]
    assert "no model was saved" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
