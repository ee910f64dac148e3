"""A training run in a background thread, owned by one browser session.

Streamlit reruns the page script on every click, which would kill a training loop
running in the script's own thread. So :func:`start_job` runs ``fit`` in a thread of
its own and returns a :class:`TrainingJob` that the session keeps in its state; the
page polls it (progress, live history) and a Stop button sets its stop event, which
``fit`` checks between steps and answers by returning the best model so far.

A job is never shared between sessions: each session holds its own object, and the
thread writes only to that object. How many jobs train at once in one server
process is limited by a semaphore (``NEUROMKT_MAX_TRAINING_JOBS``, default 2); a
job started while the slots are taken waits, and says so. PyTorch's thread settings
are left alone: ``torch.set_num_threads`` is process-wide and is never called here.

This module does not import Streamlit; it runs under plain pytest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neuromkt.errors import NeuromktError
from neuromkt.model.training import TrainProgress, TrainResult, fit

if TYPE_CHECKING:
    import pandas as pd

    from neuromkt.data.schema import Schema
    from neuromkt.model.network import ModelConfig
    from neuromkt.model.train_config import TrainConfig

__all__ = ["MAX_JOBS", "TrainingJob", "start_job"]

_LOG = logging.getLogger(__name__)


def _max_jobs() -> int:
    try:
        return max(1, int(os.environ.get("NEUROMKT_MAX_TRAINING_JOBS", "2")))
    except ValueError:
        return 2


MAX_JOBS = _max_jobs()  # trainings that may run at once in this server process
_SLOTS = threading.BoundedSemaphore(MAX_JOBS)
_SLOT_POLL_S = 0.25


@dataclass
class TrainingJob:
    """One training run and what it has reported so far.

    The training thread writes the fields; the page only reads them (through
    :meth:`snapshot`) and sets :attr:`stop`.

    Attributes:
        name: The model's display name.
        dataset_name: The data set's display name.
        fingerprint: The data set's fingerprint (to match the result to the data).
        task: The prediction task ("binary", "multiclass" or "regression").
        n_epochs: The planned number of epochs.
        time_budget_s: The time limit of training, if any.
        stop: Set it to end training; the best model so far is kept.
        status: "waiting" (for a free slot), "running", "done" or "failed".
        progress: The latest report of ``fit``.
        steps: Running training loss: ``(fractional epoch, loss)`` pairs.
        epochs: One record per finished epoch: ``epoch``, ``loss``, ``val_<metric>``.
        result: What ``fit`` returned, once done.
        error: Why training failed, in plain language, once failed.
        started_at: ``time.monotonic()`` when the job was created.
    """

    name: str
    dataset_name: str
    fingerprint: str
    task: str = "binary"
    n_epochs: int = 1
    time_budget_s: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    status: str = "waiting"
    progress: TrainProgress | None = None
    steps: list[tuple[float, float]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    result: TrainResult | None = None
    error: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        """True once the thread has stored a result or an error."""
        return self.status in ("done", "failed")

    def request_stop(self) -> None:
        """Ask training to end after the current step (keeps the best model so far)."""
        self.stop.set()

    def record(self, progress: TrainProgress) -> None:
        """The ``on_progress`` callback of ``fit`` (called in the training thread)."""
        per_epoch = max(progress.total / max(progress.n_epochs, 1), 1.0)  # training rows
        with self._lock:
            self.progress = progress
            if progress.validation is None:
                self.steps.append((progress.done / per_epoch, progress.loss))
            else:
                record = {"epoch": progress.epoch, "loss": progress.loss}
                record |= {f"val_{k}": v for k, v in progress.validation.items()}
                self.epochs.append(record)

    def snapshot(
        self,
    ) -> tuple[TrainProgress | None, list[tuple[float, float]], list[dict[str, Any]]]:
        """Copies of the latest progress, the running losses and the epoch records."""
        with self._lock:
            return self.progress, list(self.steps), list(self.epochs)

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

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (tests and scripts); True if it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.finished


def start_job(
    frame: pd.DataFrame,
    schema: Schema,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    name: str,
    dataset_name: str,
    fingerprint: str,
) -> TrainingJob:
    """Start training in a background thread and return the job that tracks it.

    Args:
        frame: The rows to train on (not modified).
        schema: Column roles with the target set.
        model_config: Architecture.
        train_config: Optimisation, split, seed and time budget.
        name: The model's display name.
        dataset_name: The data set's display name.
        fingerprint: The data set's fingerprint.

    Returns:
        The running (or waiting) job; poll ``job.status`` / ``job.snapshot()``.
    """
    job = TrainingJob(
        name=name, dataset_name=dataset_name, fingerprint=fingerprint,
        task=schema.task or "binary", n_epochs=train_config.epochs,
        time_budget_s=train_config.time_budget_s,
    )  # fmt: skip
    job.thread = threading.Thread(
        target=_run,
        args=(job, frame, schema, model_config, train_config),
        name=f"neuromkt-train-{id(job):x}",
        daemon=True,
    )
    job.thread.start()
    return job


def _run(
    job: TrainingJob,
    frame: pd.DataFrame,
    schema: Schema,
    model_config: ModelConfig,
    train_config: TrainConfig,
) -> None:
    """The training thread: wait for a slot, fit, store the result or the error."""
    acquired = False
    try:
        while not (acquired := _SLOTS.acquire(timeout=_SLOT_POLL_S)):
            if job.stop.is_set():
                job.error = "Training was cancelled before it started."
                job.status = "failed"
                return
        job.status = "running"
        job.result = fit(
            frame, schema, model_config, train_config, name=job.name,
            on_progress=job.record, should_stop=job.stop.is_set,
        )  # fmt: skip
        job.status = "done"
    except NeuromktError as exc:
        job.error = str(exc)
        job.status = "failed"
    except Exception as exc:  # a bug: keep the traceback in the server log
        _LOG.exception("Training job %r failed", job.name)
        job.error = (
            f"Training stopped because of an unexpected error ({type(exc).__name__}: {exc}). "
            "Try a smaller model or fewer columns; if it happens again, please report it."
        )
        job.status = "failed"
    finally:
        if not job.finished:  # interrupted by something that is not an Exception
            job.error = "Training was interrupted; start it again."
            job.status = "failed"
        if acquired:
            _SLOTS.release()
