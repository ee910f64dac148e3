"""The Data page's sessions panel: an uploaded event log becomes one row per session.

When the current data set looks like an event log (:func:`guess_event_log`), the panel
offers "Build sessions from this event log" with every guess editable (id, time, event,
session, item, numbers, attributes), the inactivity limit and the outcome event, and
states the rule in one sentence. Building runs :func:`build_sessions` (DuckDB) on the
uploaded file itself when DuckDB can read it (so ids such as GA4's
``1197330453.1714545794`` stay exact text), else on the loaded table; the sessions
table then becomes the current data set, with what was left out or set aside among its
warnings.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from neuromkt.data.events import EventLogGuess, guess_event_log
from neuromkt.data.schema import infer_schema
from neuromkt.data.sessions import (
    SessionConfig,
    SessionSummary,
    build_sessions,
    outcome_rule,
    token_name,
)
from neuromkt.errors import DataError
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    KEY_UPLOAD,
    W_EVENTS_ATTRIBUTES,
    W_EVENTS_BUILD,
    W_EVENTS_EVENT,
    W_EVENTS_GAP,
    W_EVENTS_ID,
    W_EVENTS_ITEM,
    W_EVENTS_NUMBERS,
    W_EVENTS_OUTCOME,
    W_EVENTS_OUTCOME_DAYS,
    W_EVENTS_SESSION,
    W_EVENTS_TIME,
    W_UPLOAD,
    Dataset,
    UploadOutcome,
    schema_widget_key,
    set_dataset,
    set_notice,
)

__all__ = ["cached_guess", "event_log_panel", "sessions_notice"]

_NONE = "(none)"
_NO_OUTCOME = "(no outcome)"
_MAX_OUTCOME_CHOICES = 60  # most frequent event names offered as the outcome
_DUCKDB_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet",
                    ".jsonl", ".json")  # fmt: skip
_CACHE_TTL_S = 3600


@st.cache_data(show_spinner=False, max_entries=16, ttl=_CACHE_TTL_S)
def _guess(fingerprint: str, _frame: pd.DataFrame) -> EventLogGuess | None:
    return guess_event_log(_frame)


def cached_guess(dataset: Dataset) -> EventLogGuess | None:
    """The event-log guess of a data set (cached on its fingerprint); None if it is none."""
    return _guess(dataset.fingerprint, dataset.frame)


@st.cache_data(show_spinner=False, max_entries=16, ttl=_CACHE_TTL_S)
def _event_names(fingerprint: str, column: str, _frame: pd.DataFrame) -> list[str]:
    counts = _frame[column].dropna().map(token_name).value_counts()
    return [str(name) for name in counts.index[:_MAX_OUTCOME_CHOICES] if name]


@dataclass(frozen=True)
class _Choices:
    """What the panel's widgets say, before it becomes a ``SessionConfig``."""

    config: SessionConfig | None
    problem: str | None = None


def event_log_panel(dataset: Dataset) -> None:
    """Offer to build sessions when ``dataset`` looks like an event log (else draw nothing)."""
    guess = cached_guess(dataset)
    if guess is None:
        return
    with st.expander(
        "Build sessions from this event log", expanded=True, icon=":material/timeline:"
    ):
        st.markdown(
            "This table looks like an **event log**: one row per event, "
            + escape_markdown("; ".join(guess.reasons.values()))
            + ". The model learns from one row per session; build them here (every "
            "guess can be changed)."
        )
        choices = _inputs(dataset, guess)
        if choices.config is None:
            st.info(escape_markdown(choices.problem or ""), icon=":material/info:")
            return
        st.caption(escape_markdown(outcome_rule(choices.config)))
        if st.button("Build sessions", key=W_EVENTS_BUILD, type="primary"):
            _build(dataset, choices.config)


def _inputs(dataset: Dataset, guess: EventLogGuess) -> _Choices:
    columns = [str(c) for c in dataset.frame.columns]
    optional = [_NONE, *columns]
    id_col, time_col, event_col = st.columns(3)
    with id_col:
        user = _select("User or visitor id", columns, guess.id_column, W_EVENTS_ID)
    with time_col:
        when = _select("Time of the event", columns, guess.time_column, W_EVENTS_TIME)
    with event_col:
        event = _select("Event name", columns, guess.event_column, W_EVENTS_EVENT)
    session_col, item_col, gap_col = st.columns(3)
    with session_col:
        session = _select("Session id (optional)", optional, guess.session_column or _NONE,
                          W_EVENTS_SESSION, help="When the log has one, it decides the "
                          "sessions; the inactivity limit is then not used.")  # fmt: skip
    with item_col:
        item = _select("Item, page or category (optional)", optional,
                       guess.item_column or _NONE, W_EVENTS_ITEM,
                       help="Refines each event: view_item:shoes.")  # fmt: skip
    with gap_col:
        gap = st.number_input(
            "Inactivity limit (minutes)", min_value=1.0, max_value=24 * 60.0, value=30.0,
            step=5.0, key=schema_widget_key(W_EVENTS_GAP),
            help="A longer gap between two events of one user starts a new session.",
        )  # fmt: skip
    rest = [c for c in columns if c not in {user, when, event, session, item}]
    numbers_col, keep_col = st.columns(2)
    with numbers_col:
        numbers = st.multiselect(
            "Numbers per event (summed per session)", rest,
            default=[c for c in guess.numbers if c in rest],
            key=schema_widget_key(W_EVENTS_NUMBERS),
        )  # fmt: skip
    with keep_col:
        keep = st.multiselect(
            "Session attributes (the session's first value)", [c for c in rest if c not in numbers],
            default=[c for c in guess.attributes if c in rest and c not in numbers],
            key=schema_widget_key(W_EVENTS_ATTRIBUTES),
        )  # fmt: skip
    names = _event_names(dataset.fingerprint, event, dataset.frame)
    outcome_col, days_col = st.columns(2)
    with outcome_col:
        default = "purchase" if "purchase" in names else _NO_OUTCOME
        outcome = _select("Outcome: the session reaches the event", [_NO_OUTCOME, *names],
                          default, W_EVENTS_OUTCOME,
                          help="The sequence stops just before it; sessions that begin "
                          "with it are set aside.")  # fmt: skip
    with days_col:
        days = st.number_input(
            "… or the user does it within days after the session (0: the session only)",
            min_value=0.0, max_value=365.0, value=0.0, step=1.0,
            key=schema_widget_key(W_EVENTS_OUTCOME_DAYS),
            disabled=outcome == _NO_OUTCOME,
        )  # fmt: skip
    picked = [user, when, event]
    if len(set(picked)) < 3:
        return _Choices(None, "Pick three different columns for the id, the time and the event.")
    try:
        config = SessionConfig(
            id_column=user, time_column=when, event_column=event,
            session_column=None if session == _NONE else session,
            item_column=None if item == _NONE else item,
            numbers=tuple(numbers), keep=tuple(keep), gap_minutes=float(gap),
            outcome=None if outcome == _NO_OUTCOME else outcome,
            outcome_days=float(days) if days and outcome != _NO_OUTCOME else None,
        )  # fmt: skip
    except DataError as exc:
        return _Choices(None, str(exc))
    return _Choices(config)


def _select(
    label: str, options: list[str], default: str, base: str, help: str | None = None
) -> str:
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, key=schema_widget_key(base), help=help)


def _upload_bytes(dataset: Dataset) -> tuple[bytes, str] | None:
    """The bytes of the upload this data set came from, while the uploader holds it."""
    outcome: UploadOutcome | None = st.session_state.get(KEY_UPLOAD)
    uploaded = st.session_state.get(W_UPLOAD)
    if outcome is None or outcome.error or uploaded is None or outcome.name != dataset.name:
        return None
    name = str(uploaded.name)
    if not name.lower().endswith(_DUCKDB_SUFFIXES):
        return None
    return uploaded.getvalue(), name


def _build(dataset: Dataset, config: SessionConfig) -> None:
    """Build the sessions, make them the data set and run the page again (or show why not)."""
    try:
        with st.spinner("Building sessions…"):
            frame, summary = _sessions(dataset, config)
    except DataError as exc:
        st.error(escape_markdown(exc), icon=":material/error:")
        return
    frame.attrs["load_warnings"] = summary.notes()
    name = f"sessions of {dataset.name}"
    set_dataset(frame, name, infer_schema(frame, target=summary.outcome))
    set_notice(sessions_notice(summary, dataset.name))
    st.rerun()


def _sessions(dataset: Dataset, config: SessionConfig) -> tuple[pd.DataFrame, SessionSummary]:
    upload = _upload_bytes(dataset)
    if upload is not None:
        data, name = upload
        with tempfile.TemporaryDirectory(prefix="neuromkt-upload-") as folder:
            path = Path(folder) / Path(name).name
            path.write_bytes(data)
            try:
                result = build_sessions(path, config)
            except DataError:
                result = None  # DuckDB read the file differently: use the loaded table
        if result is not None and result.frame is not None:
            return result.frame, result.summary
    result = build_sessions(dataset.frame, config)
    assert result.frame is not None
    return result.frame, result.summary


def sessions_notice(summary: SessionSummary, source: str) -> str:
    """The one-off message after building: how many sessions, the rate, what was set aside."""
    text = f"Built {summary.sessions:,} sessions from {summary.events_read:,} events of “{source}”"
    if summary.outcome is not None and summary.outcome_rate is not None:
        text += f"; {summary.outcome} = 1 in {summary.outcome_rate:.1%} of them"
    text += "."
    if summary.outcome is not None:
        n = summary.sessions_set_aside
        text += f" {n:,} session{'' if n == 1 else 's'} set aside (they began with the outcome)."
    return text
