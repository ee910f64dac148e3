"""The Train page's training half: settings, leakage check, the live training run.

Every widget and session-state key of the Train page is a constant here, prefixed
``train_``. The training itself runs in a background thread per session
(:mod:`neuromkt.ui.train_job`); :func:`training_monitor` is a fragment that polls it
once a second, and :func:`collect_finished_job` — called at the top of every page
run — turns a finished job into the session's model.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from neuromkt.encode import EncoderConfig
from neuromkt.errors import DataError
from neuromkt.figures.training import training_curve_figure
from neuromkt.leakage import LeakFinding, find_leaks
from neuromkt.metrics import primary_metric
from neuromkt.model import PRESETS, ModelConfig
from neuromkt.schema import validate_for_training
from neuromkt.train import TrainConfig
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    DATA_PAGE,
    Dataset,
    current_dataset,
    reset_roles_editor,
    set_bundle,
    set_schema,
)
from neuromkt.ui.train_job import MAX_JOBS, TrainingJob, start_job

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_SIZE",
    "DEFAULT_TIME_LIMIT_MIN",
    "KEY_EVAL",
    "KEY_JOB",
    "KEY_LAST",
    "KEY_MESSAGES",
    "KEY_NAME_OWNER",
    "METRIC_LABELS",
    "W_BALANCED",
    "W_BATCH",
    "W_CLASS",
    "W_COMPARE",
    "W_DELETE",
    "W_DOWNLOAD",
    "W_DROPOUT",
    "W_EPOCHS",
    "W_EXCLUDE_PREFIX",
    "W_LOAD_RUN",
    "W_LOAD_TABS",
    "W_LR",
    "W_MAX_TOKENS",
    "W_PATIENCE",
    "W_RENAME",
    "W_RENAME_TO",
    "W_ROW_BUDGET",
    "W_RUN",
    "W_SAVE",
    "W_SAVE_NAME",
    "W_SEED",
    "W_SIZE",
    "W_START",
    "W_STOP",
    "W_TIME_LIMIT",
    "W_UPLOAD",
    "W_VAL_SHARE",
    "cached_leaks",
    "collect_finished_job",
    "configs_from_state",
    "current_job",
    "leakage_panel",
    "post_message",
    "settings_widgets",
    "show_messages",
    "training_controls",
    "training_monitor",
    "training_summary",
]

# ---------------------------------------------------------------- widget keys
W_EPOCHS = "train_epochs"  # number of epochs
W_SIZE = "train_size"  # model size preset
W_LR = "train_lr"  # learning rate
W_BATCH = "train_batch"  # batch size
W_DROPOUT = "train_dropout"  # dropout
W_PATIENCE = "train_patience"  # early-stopping patience
W_VAL_SHARE = "train_val_share"  # validation share
W_SEED = "train_seed"  # random seed
W_BALANCED = "train_balanced"  # class weighting on/off
W_MAX_TOKENS = "train_max_tokens"  # max tokens per text column
W_TIME_LIMIT = "train_time_limit"  # time budget in minutes (0 = none)
W_ROW_BUDGET = "train_row_budget"  # fewer epochs on big tables on/off
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
_SETTING_KEYS = (W_EPOCHS, W_SIZE, W_LR, W_BATCH, W_DROPOUT, W_PATIENCE, W_VAL_SHARE,
                 W_SEED, W_BALANCED, W_MAX_TOKENS, W_TIME_LIMIT, W_ROW_BUDGET)  # fmt: skip

# ---------------------------------------------------------------- session-state keys
KEY_JOB = "train_job"  # TrainingJob | None: this session's training run
KEY_LAST = "train_last"  # dict: the last finished run (bundle, test rows, fingerprint, ...)
KEY_MESSAGES = "train_messages"  # dict place -> (kind, text): one-off messages
KEY_EVAL = "train_eval"  # dict: memo of the current model's evaluation on the current data
KEY_NAME_OWNER = "train_name_owner"  # the bundle whose name the save-name input shows

# ---------------------------------------------------------------- defaults and labels
DEFAULT_EPOCHS = 15
DEFAULT_SIZE = "small"
DEFAULT_TIME_LIMIT_MIN = 3.0
_LR_OPTIONS = (0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01)
_BATCH_OPTIONS = (32, 64, 128, 256, 512, 1024)
METRIC_LABELS = {"roc_auc": "AUC", "log_loss": "log loss", "rmse": "RMSE", "accuracy": "accuracy",
                 "macro_f1": "macro-F1", "r2": "R²", "mae": "MAE", "pr_auc": "PR-AUC"}  # fmt: skip
_SIZE_HELP = {
    "small": "fastest; usually enough for a handful of columns",
    "default": "what the pre-trained sample models use; a few times slower than small",
    "large": "for many columns or long texts; needs much more time",
}
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


# ---------------------------------------------------------------- settings


def settings_widgets(dataset: Dataset, *, disabled: bool = False) -> None:
    """The basic settings up front, the rest in an "Advanced settings" expander.

    The values live in session state; :func:`configs_from_state` reads them.
    """
    _init_settings()
    basic = st.columns([1, 2], gap="large")
    basic[0].number_input(
        "Epochs (passes over the data)", min_value=1, max_value=200, step=1, key=W_EPOCHS,
        disabled=disabled, persist_state="session",
        help="How many times the model reads all training rows. More can find more, but takes "
        "longer; training stops by itself when the validation score stops improving. Big "
        "tables get fewer passes unless you switch that off under Advanced settings.",
    )  # fmt: skip
    basic[1].segmented_control(
        "Model size", list(PRESETS), key=W_SIZE, disabled=disabled, required=True,
        format_func=str.capitalize, persist_state="session",
        help="How big the attention model is. " + "; ".join(
            f"{name.capitalize()}: {text}" for name, text in _SIZE_HELP.items()) + ".",
    )  # fmt: skip
    with st.expander("Advanced settings", icon=":material/tune:"):
        _advanced_widgets(dataset.schema, disabled)


def configs_from_state(schema: Any) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configuration the settings widgets describe now.

    Read from session state (not from values captured when the page was drawn), so a
    setting changed together with the click on "Train model" is not lost.
    """
    _init_settings()
    value = st.session_state.get
    dropout = float(value(W_DROPOUT))
    size = value(W_SIZE) if value(W_SIZE) in PRESETS else DEFAULT_SIZE
    model_config = ModelConfig.preset(size, dropout=dropout, attention_dropout=dropout)
    minutes = float(value(W_TIME_LIMIT) or 0)
    balanced = bool(value(W_BALANCED)) and schema.task != "regression"
    train_config = TrainConfig(
        epochs=int(value(W_EPOCHS)), batch_size=int(value(W_BATCH)), lr=float(value(W_LR)),
        patience=int(value(W_PATIENCE)), val_fraction=float(value(W_VAL_SHARE)),
        seed=int(value(W_SEED)), class_weighting="balanced" if balanced else "none",
        time_budget_s=minutes * 60 if minutes > 0 else None,
        row_budget=TrainConfig.row_budget if value(W_ROW_BUDGET) else None,
        encoder=EncoderConfig(max_tokens=int(value(W_MAX_TOKENS))),
    )  # fmt: skip
    return model_config, train_config


def _init_settings() -> None:
    defaults = {W_EPOCHS: DEFAULT_EPOCHS, W_SIZE: DEFAULT_SIZE, W_LR: TrainConfig.lr,
                W_BATCH: TrainConfig.batch_size, W_DROPOUT: ModelConfig.dropout,
                W_PATIENCE: TrainConfig.patience, W_VAL_SHARE: TrainConfig.val_fraction,
                W_SEED: 0, W_BALANCED: False, W_MAX_TOKENS: EncoderConfig.max_tokens,
                W_TIME_LIMIT: DEFAULT_TIME_LIMIT_MIN, W_ROW_BUDGET: True}  # fmt: skip
    for key in _SETTING_KEYS:
        st.session_state.setdefault(key, defaults[key])


def _advanced_widgets(schema: Any, disabled: bool) -> None:
    a, b, c = st.columns(3, gap="large")
    a.select_slider(
        "Learning rate", _LR_OPTIONS, key=W_LR, disabled=disabled, persist_state="session",
        help="How big a step the model takes as it learns. Too high and training jumps "
        "around; too low and it learns slowly. 0.001 suits most tables.",
    )  # fmt: skip
    a.select_slider(
        "Batch size", _BATCH_OPTIONS, key=W_BATCH, disabled=disabled, persist_state="session",
        help="Rows the model looks at before each update. Larger batches are faster per "
        "epoch; smaller ones can learn more from small data sets.",
    )  # fmt: skip
    a.slider(
        "Dropout", 0.0, 0.5, step=0.05, key=W_DROPOUT, disabled=disabled,
        persist_state="session",
        help="Randomly switches off part of the model while it learns, so it cannot just "
        "memorise the training rows. Raise it if the validation score falls while the "
        "training loss keeps dropping.",
    )  # fmt: skip
    b.number_input(
        "Patience (epochs)", min_value=1, max_value=50, step=1, key=W_PATIENCE,
        disabled=disabled, persist_state="session",
        help="Training stops early after this many epochs without a better validation "
        "score; the best model so far is kept.",
    )  # fmt: skip
    b.slider(
        "Validation share", 0.05, 0.40, step=0.05, key=W_VAL_SHARE, disabled=disabled,
        format="%.2f", persist_state="session",
        help="Share of rows kept aside to decide when to stop. Another 15% is held out as "
        "the test set the results below are measured on.",
    )  # fmt: skip
    b.number_input(
        "Seed", min_value=0, max_value=2**31 - 1, step=1, key=W_SEED, disabled=disabled,
        persist_state="session",
        help="Fixes the random choices (split, starting weights, row order): the same seed "
        "and settings give the same model.",
    )  # fmt: skip
    c.toggle(
        "Balance the classes", key=W_BALANCED, persist_state="session",
        disabled=disabled or schema.task == "regression",
        help="Gives rare outcomes (say 3% buyers) as much weight as common ones. Helps the "
        "model notice rare outcomes; its scores then over-state the real chance.",
    )  # fmt: skip
    c.number_input(
        "Max tokens per text column", min_value=4, max_value=512, step=4, key=W_MAX_TOKENS,
        disabled=disabled or not schema.text, persist_state="session",
        help="Longer texts and event sequences are cut to this many words or events. More "
        "tokens see more of the text but train more slowly.",
    )  # fmt: skip
    c.number_input(
        "Time limit (minutes, 0 = none)", min_value=0.0, max_value=240.0, step=0.5,
        key=W_TIME_LIMIT, disabled=disabled, format="%.1f", persist_state="session",
        help="Training stops after this long and keeps the best model so far.",
    )  # fmt: skip
    c.toggle(
        "Fewer passes over big tables", key=W_ROW_BUDGET, disabled=disabled,
        persist_state="session",
        help=f"On: training reads at most about {TrainConfig.row_budget:,} rows in all, so "
        f"a table with {TrainConfig.row_budget // 3:,} training rows gets 3 passes. On our "
        "benchmarks that is as accurate as more passes and several times faster. Off: "
        "every epoch you ask for (early stopping still applies).",
    )  # fmt: skip


# ---------------------------------------------------------------- the training run


def current_job() -> TrainingJob | None:
    """This session's training job, running or finished but not yet collected."""
    return st.session_state.get(KEY_JOB)


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
    st.session_state[KEY_JOB] = start_job(
        dataset.frame, dataset.schema, model_config, train_config, name=name,
        dataset_name=dataset.name, fingerprint=dataset.fingerprint,
    )  # fmt: skip


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
            disabled=job.stop.is_set(), width="stretch",
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
    if job.stop.is_set():
        return ":material/hourglass_top: Stopping — finishing the current step…"
    if job.status == "waiting":
        return (f":material/schedule: Waiting for a free training slot ({MAX_JOBS} trainings "
                "run at a time on this server)…")  # fmt: skip
    return ":material/model_training: Training…"


def _progress_text(job: TrainingJob) -> str:
    progress = job.progress
    if progress is None:
        return f"Starting… {_clock(time.monotonic() - job.started_at)} elapsed"
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
    del st.session_state[KEY_JOB]
    if job.error is not None or job.result is None:
        post_message("train", "error", job.error or "Training failed.")
        return
    result = job.result
    if result.best_epoch == 0:
        post_message(
            "train",
            "warning",
            "Training was stopped before the first epoch ended, so there is no model to "
            "keep; the previous model is still in use.",
        )
        return
    set_bundle(result.bundle)
    st.session_state[KEY_LAST] = {
        "bundle": result.bundle, "fingerprint": job.fingerprint, "test": result.split["test"],
        "validation": result.split["validation"],
    }  # fmt: skip
    post_message("train", "success", _finished_text(result, by_user=job.stop.is_set()))
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
