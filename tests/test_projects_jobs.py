"""Training jobs in worker processes: progress, stop, crash, queue, same seed → same weights."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from neuromkt.errors import ProjectError
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.projects.jobs import attach, start_job
from neuromkt.projects.store import ProjectStore, new_workspace_key

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path, ecommerce_frame, ecommerce_schema):
    frame = ecommerce_frame.head(600).reset_index(drop=True)
    store = ProjectStore(tmp_path)
    ws = new_workspace_key()
    info = store.create_project(ws, frame, ecommerce_schema, dataset="shop.csv")
    return store, ws, info.project_id, frame, ecommerce_schema


def _start(project, *, epochs=2, seed=5, schema=None, **train):
    store, ws, pid, frame, default_schema = project
    return start_job(
        ws, pid, frame, schema or default_schema, ModelConfig.preset("small"),
        TrainConfig(epochs=epochs, seed=seed, **train), name=f"job seed {seed}",
        dataset_name="shop.csv", fingerprint="f", home=store.home,
    )  # fmt: skip


def test_two_jobs_at_once_with_the_same_seed_give_identical_weights(project):
    store, ws, pid, _, _ = project
    first, second = _start(project), _start(project)
    assert first.wait(240) and second.wait(240)
    assert (first.status, second.status) == ("done", "done"), (first.error, second.error)
    a, b = first.result().bundle, second.result().bundle
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    progress, steps, epochs = first.snapshot()
    assert progress is not None and progress.epoch == 2 and len(epochs) == 2
    assert all(len(step) == 2 for step in steps)
    assert first.result().split["test"].size > 0
    listed = set(store.list_models(ws, pid)["run_id"])
    assert listed == {first.run_id, second.run_id}
    assert not (store.home / "jobs" / first.job_id).exists()  # scratch rows removed


def test_stop_keeps_the_best_model_so_far(project):
    job = _start(project, epochs=200)
    deadline = time.monotonic() + 240
    while not job.snapshot()[2]:  # until the first epoch has ended
        assert not job.finished, job.error
        assert time.monotonic() < deadline
        time.sleep(0.2)
    stopped_at = time.monotonic()
    job.request_stop()
    assert job.wait(120)
    seconds = time.monotonic() - stopped_at
    assert job.status == "done", job.error
    result = job.result()
    assert result.cancelled and 1 <= result.best_epoch < 200
    assert seconds < 30, f"stop took {seconds:.1f} s"


def test_an_error_in_training_is_a_plain_message(project):
    _, _, _, frame, schema = project
    bad = schema.with_role("purchased", "ignore", frame)  # no target left
    job = _start(project, schema=bad)
    assert job.wait(120)
    assert job.status == "failed" and job.error and "Traceback" not in job.error


def test_a_killed_worker_is_reported_and_the_store_stays_usable(project):
    store, ws, pid, _, _ = project
    job = _start(project, epochs=200)
    deadline = time.monotonic() + 120
    while job.refresh().row.get("pid") is None or job.status == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(job.row["pid"], signal.SIGKILL)
    assert job.wait(60)
    assert job.status == "failed" and "ended unexpectedly" in job.error
    assert store.get_project(ws, pid).n_models == 0
    assert store.registry.check(grace_s=0) == []


def test_jobs_queue_beyond_the_limit(project, monkeypatch):
    monkeypatch.setenv("NEUROMKT_MAX_TRAINING_JOBS", "1")
    first = _start(project, epochs=200)
    second = _start(project, epochs=1)
    deadline = time.monotonic() + 120
    while first.refresh().status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert second.refresh().status == "queued" and second.queue_place() == 1
    first.request_stop()
    assert first.wait(120) and second.wait(240)
    assert second.status == "done", second.error


def test_a_job_is_private_to_its_workspace(project):
    store, ws, pid, _, _ = project
    job = _start(project, epochs=1)
    with pytest.raises(ProjectError):
        attach(new_workspace_key(), job.job_id, store.home)
    from neuromkt.projects.jobs import JobStore

    assert JobStore(store.home).latest_for_project(ws, pid) == job.job_id
    assert job.wait(240)
