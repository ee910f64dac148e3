"""Training jobs in worker processes, their progress kept in the project store.

:func:`start_job` writes the rows to ``jobs/<job_id>/data.parquet`` under
``$NEUROMKT_HOME``, inserts a ``jobs`` row and starts a worker process (``spawn``:
a fresh interpreter, its own torch generator, its own memory). The worker waits for
a free slot (``NEUROMKT_MAX_TRAINING_JOBS``, default 2, counted over the whole home
folder), runs ``fit``, writes its progress into the row as it goes, polls the row's
stop flag, and saves the bundle into the project (or the workspace) in the run
registry. The server only reads the row: a reload or a second tab finds the job
again by its project, and a worker that dies (out of memory, killed) leaves the
server untouched; the next look at the row notices the dead process and says so.

Like the store, a job is asked for per workspace: a job id from another workspace
gives the same ``ProjectError`` as one that does not exist.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neuromkt.errors import NeuromktError, ProjectError
from neuromkt.model.training import TrainProgress, TrainResult
from neuromkt.projects.store import ProjectStore

if TYPE_CHECKING:
    import pandas as pd

    from neuromkt.data.schema import Schema
    from neuromkt.model.network import ModelConfig
    from neuromkt.model.train_config import TrainConfig

__all__ = ["JobStore", "TrainingJob", "max_jobs", "start_job"]

_LOG = logging.getLogger(__name__)
_CREATE = (
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL,
        project_id TEXT,
        name TEXT NOT NULL,
        dataset TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        task TEXT NOT NULL,
        n_epochs INTEGER NOT NULL,
        time_budget_s REAL,
        status TEXT NOT NULL,
        stop INTEGER NOT NULL DEFAULT 0,
        collected INTEGER NOT NULL DEFAULT 0,
        progress_json TEXT,
        steps_json TEXT NOT NULL DEFAULT '[]',
        epochs_json TEXT NOT NULL DEFAULT '[]',
        result_json TEXT,
        run_id TEXT,
        error TEXT,
        pid INTEGER,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_project ON jobs (project_id)",
)
_OPEN = ("queued", "running")
_PROGRESS_EVERY_S = 0.5  # how often the worker writes steps and polls the stop flag
_QUEUE_POLL_S = 0.5
_PROCESSES: dict[str, Any] = {}  # job id -> its Process, for this server's own workers
_NO_JOB = "This training job does not exist in your workspace."


def max_jobs() -> int:
    """How many trainings may run at once (``NEUROMKT_MAX_TRAINING_JOBS``, default 2)."""
    try:
        return max(1, int(os.environ.get("NEUROMKT_MAX_TRAINING_JOBS", "2")))
    except ValueError:
        return 2


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore(ProjectStore):
    """The ``jobs`` table beside the projects and the run registry."""

    @property
    def jobs_dir(self) -> Path:
        """Scratch folders of jobs (their rows to train on), removed when they end."""
        return self.home / "jobs"

    def _prepare(self, con: sqlite3.Connection) -> None:
        super()._prepare(con)
        for statement in _CREATE:
            con.execute(statement)

    def row(self, workspace: str, job_id: str) -> dict[str, Any]:
        """The job's row, checked against the workspace."""
        self._key(workspace, "workspace key")
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            row = con.execute(
                "SELECT * FROM jobs WHERE job_id = ? AND workspace = ?", (str(job_id), workspace)
            ).fetchone()
        if row is None:
            raise ProjectError(_NO_JOB)
        return dict(row)

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of one job (no workspace check: the worker and this module only)."""
        names = ", ".join(f"{k} = ?" for k in values)
        with self._connect(write=True) as con:
            con.execute(f"UPDATE jobs SET {names} WHERE job_id = ?", [*values.values(), job_id])

    def latest_for_project(self, workspace: str, project_id: str) -> str | None:
        """The project's newest job not yet collected by a page, or None."""
        self._key(workspace, "workspace key")
        with self._connect() as con:
            row = con.execute(
                "SELECT job_id FROM jobs WHERE workspace = ? AND project_id = ? AND collected = 0 "
                "ORDER BY created_at DESC LIMIT 1",
                (workspace, project_id),
            ).fetchone()
        return None if row is None else row[0]

    def queue_place(self, job_id: str, created_at: float) -> int:
        """1 for the next queued job, 2 for the one after, …"""
        with self._connect() as con:
            ahead = con.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND created_at < ?",
                (created_at,),
            ).fetchone()[0]
        return int(ahead) + 1

    def try_claim_slot(self, job_id: str, limit: int) -> bool:
        """Mark the job running when fewer than ``limit`` live jobs run; True if it did."""
        with self._connect(write=True) as con:
            running = con.execute(
                "SELECT job_id, pid FROM jobs WHERE status = 'running'"
            ).fetchall()
            live = [j for j, pid in running if _alive(pid)]
            first = con.execute(
                "SELECT job_id FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT ?",
                (max(limit - len(live), 0),),
            ).fetchall()
            if job_id not in {j for (j,) in first}:
                return False
            con.execute("UPDATE jobs SET status = 'running' WHERE job_id = ?", (job_id,))
        return True


@dataclass
class TrainingJob:
    """A view of one job's row, for the page that polls it.

    Attributes mirror the row; :meth:`refresh` reads it again. ``status`` is
    "queued" (waiting for a slot), "running", "done" or "failed".
    """

    job_id: str
    workspace: str
    home: Path | None = None
    row: dict[str, Any] = field(default_factory=dict)
    _result: TrainResult | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- reading
    @property
    def store(self) -> JobStore:
        return JobStore(self.home)

    def refresh(self) -> TrainingJob:
        """Read the row again; a job whose process died is marked failed."""
        self.row = self.store.row(self.workspace, self.job_id)
        if self.row["status"] in _OPEN and not self._process_alive():
            self.row = self.store.row(self.workspace, self.job_id)  # it may just have ended
            if self.row["status"] in _OPEN:
                error = (
                    "The training process ended unexpectedly (it may have run out of memory "
                    "or been stopped by the system). Try a smaller model, fewer rows or "
                    "fewer columns; the dashboard and your saved models are unaffected."
                )
                self.store.update(self.job_id, status="failed", error=error)
                self.row = self.store.row(self.workspace, self.job_id)
        return self

    def _process_alive(self) -> bool:
        process = _PROCESSES.get(self.job_id)
        if process is not None:
            return process.is_alive()
        return _alive(self.row.get("pid"))

    @property
    def name(self) -> str:
        return self.row["name"]

    @property
    def dataset_name(self) -> str:
        return self.row["dataset"]

    @property
    def fingerprint(self) -> str:
        return self.row["fingerprint"]

    @property
    def task(self) -> str:
        return self.row["task"]

    @property
    def n_epochs(self) -> int:
        return int(self.row["n_epochs"])

    @property
    def time_budget_s(self) -> float | None:
        return self.row["time_budget_s"]

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def error(self) -> str | None:
        return self.row["error"]

    @property
    def run_id(self) -> str | None:
        return self.row["run_id"]

    @property
    def started_at(self) -> float:
        """Wall-clock time (``time.time()``) when the job was started."""
        return float(self.row["created_at"])

    @property
    def stop_requested(self) -> bool:
        return bool(self.row["stop"])

    @property
    def finished(self) -> bool:
        """True once the job is done or failed."""
        return self.status in ("done", "failed")

    @property
    def progress(self) -> TrainProgress | None:
        text = self.row.get("progress_json")
        return None if not text else TrainProgress(**json.loads(text))

    def snapshot(
        self,
    ) -> tuple[TrainProgress | None, list[tuple[float, float]], list[dict[str, Any]]]:
        """The latest progress, the running losses and the epoch records (read now)."""
        self.refresh()
        steps = [tuple(s) for s in json.loads(self.row["steps_json"])]
        return self.progress, steps, json.loads(self.row["epochs_json"])

    def queue_place(self) -> int | None:
        """Place in the queue (1 = next), or None when not queued."""
        if self.status != "queued":
            return None
        return self.store.queue_place(self.job_id, self.started_at)

    def fraction_done(self) -> float:
        """How far training is, 0..1: by rows, or by the time limit when that is nearer."""
        progress = self.progress
        if progress is None or not progress.total:
            return 0.0
        done = progress.fraction
        if self.time_budget_s:
            done = max(done, progress.elapsed_s / self.time_budget_s)
        return min(1.0, done)

    def seconds_left(self) -> float | None:
        """At most how long training still takes (planned epochs or time limit)."""
        progress = self.progress
        if progress is None or progress.eta_s is None:
            return None
        left = progress.eta_s
        if self.time_budget_s:
            left = min(left, max(self.time_budget_s - progress.elapsed_s, 0.0))
        return left

    def result(self) -> TrainResult | None:
        """What ``fit`` returned, the bundle loaded from the store; None unless done."""
        if self.status != "done" or self.run_id is None:
            return None
        if self._result is None:
            info = json.loads(self.row["result_json"])
            bundle = self.store.load_model(self.workspace, self.run_id)
            self._result = TrainResult(
                bundle=bundle, history=info["history"], best_epoch=info["best_epoch"],
                stopped_early=info["stopped_early"], cancelled=info["cancelled"],
                seconds=info["seconds"],
                split={k: np.asarray(v, dtype=np.int64) for k, v in info["split"].items()},
            )  # fmt: skip
        return self._result

    # ---------------------------------------------------------------- acting
    def request_stop(self) -> None:
        """Ask the worker to end after the current step (it keeps the best model so far)."""
        self.store.row(self.workspace, self.job_id)  # the workspace check
        self.store.update(self.job_id, stop=1)
        self.row["stop"] = 1

    def mark_collected(self) -> None:
        """The page has taken the result; the job no longer reattaches."""
        self.store.row(self.workspace, self.job_id)
        self.store.update(self.job_id, collected=1)

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> bool:
        """Block until the job ends (tests and scripts); True if it has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().finished:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(poll)
        process = _PROCESSES.pop(self.job_id, None)
        if process is not None:
            process.join(5)
        return True


def attach(workspace: str, job_id: str, home: Path | str | None = None) -> TrainingJob:
    """The job ``job_id`` of ``workspace`` (ProjectError when it is not there)."""
    job = TrainingJob(job_id, workspace, None if home is None else Path(home))
    return job.refresh()


def start_job(
    workspace: str,
    project_id: str | None,
    frame: pd.DataFrame,
    schema: Schema,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    name: str,
    dataset_name: str,
    fingerprint: str,
    home: Path | str | None = None,
) -> TrainingJob:
    """Start training in a worker process and return the job that tracks it.

    Args:
        workspace: The workspace the job (and its model) belongs to.
        project_id: The project the model is saved into, or None (the workspace only).
        frame: The rows to train on (written to the job's folder; not modified).
        schema: Column roles with the target set.
        model_config: Architecture.
        train_config: Optimisation, split, seed and time budget.
        name: The model's display name.
        dataset_name: The data set's display name.
        fingerprint: The data set's fingerprint.
        home: The store's folder (default ``$NEUROMKT_HOME``).

    Returns:
        The queued job; poll ``job.snapshot()`` / ``job.refresh()``.
    """
    store = JobStore(None if home is None else Path(home))
    store._key(workspace, "workspace key")
    if project_id is not None:
        store.get_project(workspace, project_id)
    job_id = secrets.token_urlsafe(16)
    folder = store.jobs_dir / job_id
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "data.parquet", index=False)
    with store._connect(write=True) as con:
        con.execute(
            "INSERT INTO jobs (job_id, workspace, project_id, name, dataset, fingerprint, task, "
            "n_epochs, time_budget_s, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, workspace, project_id, name, dataset_name, fingerprint,
             schema.task or "binary", train_config.epochs, train_config.time_budget_s,
             "queued", time.time()),
        )  # fmt: skip
    spec = {
        "home": str(store.home.resolve()), "job_id": job_id, "workspace": workspace,
        "project_id": project_id, "schema": schema.to_json(), "name": name,
        "dataset": dataset_name, "model": model_config.to_dict(),
        "train": train_config.to_dict(), "max_jobs": max_jobs(),
    }  # fmt: skip
    process = multiprocessing.get_context("spawn").Process(
        target=run_worker, args=(spec,), name=f"neuromkt-train-{job_id[:8]}", daemon=True
    )
    process.start()
    _PROCESSES[job_id] = process
    store.update(job_id, pid=process.pid)
    return attach(workspace, job_id, store.home)


# ---------------------------------------------------------------- the worker process


def run_worker(spec: dict[str, Any]) -> None:
    """The worker process: wait for a slot, fit, save the bundle, record the outcome."""
    os.environ["NEUROMKT_HOME"] = spec["home"]
    store = JobStore(spec["home"])
    job_id = spec["job_id"]
    folder = store.jobs_dir / job_id
    try:
        _work(store, spec, folder)
    except NeuromktError as exc:
        store.update(job_id, status="failed", error=str(exc))
    except MemoryError:
        store.update(job_id, status="failed", error=(
            "Training ran out of memory. Try a smaller model, fewer rows or fewer "
            "columns; the dashboard and your saved models are unaffected."))  # fmt: skip
    except Exception as exc:  # a bug: keep the traceback in the worker's log
        _LOG.exception("Training job %s failed", job_id)
        error = (
            f"Training stopped because of an unexpected error ({type(exc).__name__}: {exc}). "
            "Try a smaller model or fewer columns; if it happens again, please report it."
        )
        store.update(job_id, status="failed", error=error)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _work(store: JobStore, spec: dict[str, Any], folder: Path) -> None:
    # A training job yields the CPU to the dashboard's server: on a small machine the
    # pages stay responsive while jobs start (importing torch) and train.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    import pandas as pd

    from neuromkt.data.schema import Schema
    from neuromkt.model.network import ModelConfig
    from neuromkt.model.threads import configure_threads
    from neuromkt.model.train_config import TrainConfig
    from neuromkt.model.training import fit

    job_id = spec["job_id"]
    configure_threads()
    while not store.try_claim_slot(job_id, spec["max_jobs"]):
        if store.row(spec["workspace"], job_id)["stop"]:
            store.update(job_id, status="failed", error="Training was cancelled before it started.")
            return
        time.sleep(_QUEUE_POLL_S)
    frame = pd.read_parquet(folder / "data.parquet")
    schema = Schema.from_json(spec["schema"])
    reporter = _Reporter(store, spec["workspace"], job_id)
    result = fit(
        frame, schema, ModelConfig.from_dict(spec["model"]), TrainConfig.from_dict(spec["train"]),
        name=spec["name"], on_progress=reporter.record, should_stop=reporter.should_stop,
    )  # fmt: skip
    reporter.flush()
    if result.best_epoch == 0:
        store.update(job_id, status="failed", error=(
            "Training was stopped before the first epoch ended, so there is no model to "
            "keep; the previous model is still in use."))  # fmt: skip
        return
    run = store.save_model(
        spec["workspace"], spec["project_id"], result.bundle, dataset=spec["dataset"]
    )
    summary = {
        "history": result.history, "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early, "cancelled": result.cancelled,
        "seconds": result.seconds,
        "split": {k: np.asarray(v).tolist() for k, v in result.split.items()},
    }  # fmt: skip
    store.update(
        job_id, status="done", run_id=run.run_id,
        result_json=json.dumps(summary, default=float, allow_nan=True),
    )  # fmt: skip


class _Reporter:
    """``fit``'s callbacks in the worker: progress into the row, the stop flag out of it."""

    def __init__(self, store: JobStore, workspace: str, job_id: str) -> None:
        self.store, self.workspace, self.job_id = store, workspace, job_id
        self.steps: list[tuple[float, float]] = []
        self.epochs: list[dict[str, Any]] = []
        self.progress: TrainProgress | None = None
        self._written = 0.0
        self._polled = 0.0
        self._stop = False

    def record(self, progress: TrainProgress) -> None:
        per_epoch = max(progress.total / max(progress.n_epochs, 1), 1.0)
        self.progress = progress
        if progress.validation is None:
            self.steps.append((progress.done / per_epoch, progress.loss))
        else:
            record = {"epoch": progress.epoch, "loss": progress.loss}
            record |= {f"val_{k}": v for k, v in progress.validation.items()}
            self.epochs.append(record)
        if progress.validation is not None or time.monotonic() - self._written > _PROGRESS_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self._written = time.monotonic()
        if self.progress is None:
            return
        self.store.update(
            self.job_id,
            progress_json=json.dumps(_progress_dict(self.progress), allow_nan=True),
            steps_json=json.dumps(self.steps, allow_nan=True),
            epochs_json=json.dumps(self.epochs, allow_nan=True, default=float),
        )

    def should_stop(self) -> bool:
        if not self._stop and time.monotonic() - self._polled > _PROGRESS_EVERY_S:
            self._polled = time.monotonic()
            self._stop = bool(self.store.row(self.workspace, self.job_id)["stop"])
        return self._stop


def _progress_dict(progress: TrainProgress) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(progress)
    if data.get("validation") is not None:
        data["validation"] = {k: float(v) for k, v in data["validation"].items()}
    return data
