"""The Train page's training half: settings, leakage check, the live training run.

Every widget and session-state key of the Train page is a constant here, prefixed
``train_`` (the settings' own keys and widgets live in :mod:`neuromkt.ui.train_settings`
and are re-exported here). The training itself runs in a worker process
(:mod:`neuromkt.projects.jobs`) that writes its progress to the project store; the
session keeps only the job's id, and after a reload or in a second tab the page finds
the project's running job again. :func:`training_monitor` is a fragment that polls it
once a second, and :func:`collect_finished_job` — called at the top of every page
run — turns a finished job into the session's model.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from neuromkt.data.leakage import LeakFinding, find_leaks
from neuromkt.data.schema import validate_for_training
from neuromkt.errors import DataError, NeuromktError
from neuromkt.figures.training import training_curve_figure
from neuromkt.model.metrics import primary_metric
from neuromkt.projects.jobs import JobStore, TrainingJob, attach, max_jobs, start_job
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    DATA_PAGE,
    KEY_RUN_AUTO,
    Dataset,
    current_dataset,
    current_project_id,
    current_workspace,
    reset_roles_editor,
    set_bundle,
    set_schema,
)
from neuromkt.ui.train_settings import (
    DEFAULT_SIZE,
    W_SIZE,
    configs_from_state,
)

__all__ = [
    "KEY_EVAL",
    "KEY_JOB",
    "KEY_LAST",
    "KEY_MESSAGES",
    "KEY_NAME_OWNER",
    "METRIC_LABELS",
    "W_CLASS",
    "W_COMPARE",
    "W_DELETE",
    "W_DOWNLOAD",
    "W_EXCLUDE_PREFIX",
    "W_LOAD_RUN",
    "W_LOAD_TABS",
    "W_RENAME",
    "W_RENAME_TO",
    "W_RUN",
    "W_SAVE",
    "W_SAVE_NAME",
    "W_START",
    "W_STOP",
    "W_UPLOAD",
    "cached_leaks",
    "collect_finished_job",
    "current_job",
    "leakage_panel",
    "post_message",
    "show_messages",
    "training_controls",
    "training_monitor",
    "training_summary",
]

# ---------------------------------------------------------------- widget keys
W_START = "train_start"  # "Train model" button
W_STOP = "train_stop"  # "Stop" button (inside the monitor fragment)
W_EXCLUDE_PREFIX = "train_exclude_"  # + column name: "Exclude" button of a flagged column
W_CLASS = "train_class"  # multiclass: the class looked at one-vs-rest in the charts
W_SAVE_NAME = "train_save_name"  # name under which the model is saved
W_SAVE = "train_save"  # "Save to registry" button
W_DOWNLOAD = "train_download"  # "Download bundle" button
W_RUN = "train_run"  # saved-run picker
W_LOAD_RUN = "train_load_run"  # "Load" button of the picked run
W_RENAME_TO = "train_rename_to"  # new name of the picked run
W_RENAME = "train_rename"  # "Rename" button
W_DELETE = "train_delete"  # "Delete" button (inside a popover)
W_COMPARE = "train_compare"  # runs to compare side by side
W_UPLOAD = "train_upload"  # bundle .zip uploader
W_RESET_REGISTRY = "train_reset_registry"  # "Reset registry" button when the registry is damaged
W_LOAD_TABS = "train_load_tabs"  # "Saved models" / "Upload a bundle" tabs (keeps the choice)

# ---------------------------------------------------------------- session-state keys
KEY_JOB = "train_job"  # str | None: the id of this session's training job (in the store)
KEY_LAST = "train_last"  # dict: the last finished run (bundle, test rows, fingerprint, ...)
KEY_MESSAGES = "train_messages"  # dict place -> (kind, text): one-off messages
KEY_EVAL = "train_eval"  # dict: memo of the current model's evaluation on the current data
KEY_NAME_OWNER = "train_name_owner"  # the bundle whose name the save-name input shows

# ---------------------------------------------------------------- defaults and labels
METRIC_LABELS = {"roc_auc": "AUC", "log_loss": "log loss", "rmse": "RMSE", "accuracy": "accuracy",
                 "macro_f1": "macro-F1", "r2": "R²", "mae": "MAE", "pr_auc": "PR-AUC"}  # fmt: skip
_PLACE_ICONS = {"success": ":material/check_circle:", "error": ":material/error:",
                "warning": ":material/warning:", "info": ":material/info:"}  # fmt: skip


# ---------------------------------------------------------------- one-off messages


def post_message(place: str, kind: str, text: str) -> None:
    """Keep a message (success/error/warning/info) to show once at ``place``."""
    st.session_state.setdefault(KEY_MESSAGES, {})[place] = (kind, text)


def show_messages(place: str) -> None:
    """Show, once, the message kept for ``place`` (user text in it is escaped)."""
    kind, text = st.session_state.get(KEY_MESSAGES, {}).pop(place, (None, None))
    if kind is not None:
        getattr(st, kind)(escape_markdown(text), icon=_PLACE_ICONS[kind])


# ---------------------------------------------------------------- summary and checks


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _readiness(fingerprint: str, schema_json: str, _dataset: Dataset) -> tuple[str | None, list]:
    try:
        return None, validate_for_training(_dataset.frame, _dataset.schema)
    except DataError as exc:
        return str(exc), []


def training_summary(dataset: Dataset) -> bool:
    """Show what the model will learn from; return False when training is impossible."""
    schema = dataset.schema
    error, warnings = _readiness(dataset.fingerprint, schema.to_json(), dataset)
    roles = {"numeric": schema.numeric, "categorical": schema.categorical, "text": schema.text}
    outcome = f"**{escape_markdown(schema.target)}** ({schema.task}"
    if schema.task == "binary" and len(schema.classes) == 2:
        outcome += f", predicting “{escape_markdown(schema.classes[1])}”"
    counts = " · ".join(f"{len(cols)} {role}" for role, cols in roles.items() if cols)
    with st.container(border=True):
        left, right = st.columns([2, 3], gap="large")
        left.markdown(f"Outcome: {outcome})  \nFeatures: {counts or 'none'}")
        names = [escape_markdown(c) for c in schema.features]
        shown = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
        right.caption(f"Learns from: {shown or '—'}")
        right.page_link(DATA_PAGE, label="Change the outcome or roles on the Data page",
                        icon=":material/table:")  # fmt: skip
    for warning in warnings:
        st.caption(f":material/info: {escape_markdown(warning)}")
    if error:
        st.error(escape_markdown(error), icon=":material/error:")
    return error is None


@st.cache_data(show_spinner="Checking the columns for leakage…", max_entries=32, ttl=3600)
def _leaks(fingerprint: str, schema_json: str, _dataset: Dataset) -> list[LeakFinding]:
    return find_leaks(_dataset.frame, _dataset.schema)


def cached_leaks(dataset: Dataset) -> list[LeakFinding]:
    """Feature columns of the data set that alone predict the outcome suspiciously well."""
    return _leaks(dataset.fingerprint, dataset.schema.to_json(), dataset)


def leakage_panel(dataset: Dataset) -> None:
    """Warn about columns that look like leaks, each with a one-click "Exclude"."""
    findings = cached_leaks(dataset)
    show_messages("leak")
    if not findings:
        return
    with st.container(border=True):
        st.markdown("**:material/policy: Possible leakage**")
        for finding in findings:
            text, button = st.columns([6, 1], vertical_alignment="center")
            alert = st.warning if finding.level == "likely" else st.info
            with text:
                alert(escape_markdown(finding.message), icon=":material/warning:")
            button.button(
                "Exclude", key=f"{W_EXCLUDE_PREFIX}{finding.column}", on_click=_exclude,
                args=(finding.column,), icon=":material/block:", width="stretch",
                help="Set the role of this column to 'ignore' (you can undo it on the Data page).",
            )  # fmt: skip


def _exclude(column: str) -> None:
    dataset = current_dataset()
    if dataset is None or column not in dataset.frame.columns:
        return
    set_schema(dataset.schema.with_role(column, "ignore", dataset.frame))
    reset_roles_editor(error=None)
    post_message("leak", "success", f"'{column}' is now ignored; the model will not use it.")


# ---------------------------------------------------------------- the training run


def current_job() -> TrainingJob | None:
    """This session's training job, running or finished but not yet collected: the one
    it started, or else (after a reload, in a second tab) the open project's."""
    workspace = current_workspace()
    job_id = st.session_state.get(KEY_JOB)
    if job_id is None and (project := current_project_id()) is not None:
        try:
            job_id = JobStore().latest_for_project(workspace, project)
        except NeuromktError:
            job_id = None
        st.session_state[KEY_JOB] = job_id
    if job_id is None:
        return None
    try:
        return attach(workspace, job_id)
    except NeuromktError:
        st.session_state[KEY_JOB] = None
        return None


def training_controls(*, ready: bool) -> None:
    """The "Train model" button, or, while a job runs, the live monitor."""
    job = current_job()
    show_messages("train")
    if job is None:
        st.button(
            "Train model", key=W_START, type="primary", icon=":material/play_arrow:",
            disabled=not ready, on_click=_start,
        )  # fmt: skip
        return
    training_monitor()


def _start() -> None:
    dataset = current_dataset()
    if current_job() is not None or dataset is None or dataset.schema.target is None:
        return
    try:
        model_config, train_config = configs_from_state(dataset.schema)
    except ValueError as exc:
        post_message("train", "error", f"These settings cannot be used: {exc}.")
        return
    size = st.session_state.get(W_SIZE, DEFAULT_SIZE)
    name = f"{dataset.schema.target} · {size} · {datetime.now():%b %d %H:%M}"
    try:
        job = start_job(
            current_workspace(), current_project_id(), dataset.frame, dataset.schema,
            model_config, train_config, name=name, dataset_name=dataset.name,
            fingerprint=dataset.fingerprint,
        )  # fmt: skip
    except (NeuromktError, OSError, ValueError) as exc:
        post_message("train", "error", f"Training could not start: {exc}")
        return
    st.session_state[KEY_JOB] = job.job_id


@st.fragment(run_every=1.0)
def training_monitor() -> None:
    """Progress, live loss/metric chart and Stop button of the running job (polls 1/s)."""
    job = current_job()
    if job is None:
        return
    if job.finished:
        st.rerun()  # the full run collects the result
    progress, steps, epochs = job.snapshot()
    with st.container(border=True):
        head, stop = st.columns([5, 1], vertical_alignment="center")
        head.markdown(f"**{_status_line(job)}**")
        stop.button(
            "Stop", key=W_STOP, on_click=job.request_stop, icon=":material/stop_circle:",
            disabled=job.stop_requested, width="stretch",
            help="End training now and keep the best model so far.",
        )  # fmt: skip
        st.progress(job.fraction_done(), text=_progress_text(job))
        if epochs or steps:
            metric, _ = primary_metric(job.task)
            fig = training_curve_figure(
                pd.DataFrame(epochs, columns=["epoch", "loss", f"val_{metric}"]),
                metric=metric, metric_label=METRIC_LABELS.get(metric, metric),
                steps=pd.DataFrame(steps, columns=["position", "loss"]),
                n_epochs=job.n_epochs, title="Training so far",
            )  # fmt: skip
            st.plotly_chart(fig, key="train_live_chart")
        elif progress is None:
            st.caption(
                "Preparing the data (splitting the rows, fitting the encoders) and running "
                "the first steps; the chart appears after the first ten batches."
            )


def _status_line(job: TrainingJob) -> str:
    if job.stop_requested:
        return ":material/hourglass_top: Stopping — finishing the current step…"
    if job.status == "queued":
        place = job.queue_place() or 1
        return (f":material/schedule: Waiting for a free training slot: number {place} in "
                f"the queue ({max_jobs()} trainings run at a time on this server)…")  # fmt: skip
    return ":material/model_training: Training…"


def _progress_text(job: TrainingJob) -> str:
    progress = job.progress
    if progress is None:
        return f"Starting… {_clock(time.time() - job.started_at)} elapsed"
    text = f"Epoch {progress.epoch} of {progress.n_epochs} · {_clock(progress.elapsed_s)} elapsed"
    left = job.seconds_left()
    if left:
        text += f" · at most {_clock(left)} left"
    return text


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def collect_finished_job() -> None:
    """Turn this session's finished job into the current model (or an error message)."""
    job = current_job()
    if job is None or not job.finished:
        return
    st.session_state[KEY_JOB] = None
    job.mark_collected()
    result = job.result() if job.error is None else None
    if result is None:
        kind = "warning" if job.stop_requested else "error"
        post_message("train", kind, job.error or "Training failed.")
        return
    set_bundle(result.bundle, run_id=job.run_id)
    st.session_state[KEY_RUN_AUTO] = True  # kept by the job: "Save" names it
    st.session_state[KEY_LAST] = {
        "bundle": result.bundle, "fingerprint": job.fingerprint, "test": result.split["test"],
        "validation": result.split["validation"],
    }  # fmt: skip
    post_message("train", "success", _finished_text(result, by_user=job.stop_requested))
    st.rerun()  # so that the sidebar, drawn before the page, shows the new model


def _finished_text(result: Any, *, by_user: bool) -> str:
    metrics = result.bundle.metrics
    metric = metrics.get("primary", "")
    value = metrics.get("validation", {}).get(metric)
    label = METRIC_LABELS.get(metric, metric)
    text = (f"Trained in {_clock(result.seconds)}: {len(result.history)} epoch(s), kept "
            f"epoch {result.best_epoch}")  # fmt: skip
    if isinstance(value, float):
        text += f" (validation {label} {value:.3f})"
    if result.cancelled:
        why = "You stopped training" if by_user else "The time limit ended training"
        text += f". {why}; the best model so far is kept"
    elif result.stopped_early:
        text += ". It stopped early because the validation score no longer improved"
    return text + "."
