"""Per-session state of the dashboard: the current data set and the current model.

Everything lives in ``st.session_state``, which Streamlit keeps per browser session;
nothing is stored in module globals, because one server process serves many users.
All session-state keys, widget keys included, are constants here, so pages never
spell a key twice and a key never collides with another page's.

Pages read the state through the typed accessors (``current_dataset()``,
``current_schema()``, ``current_bundle()`` …) and change it through the setters; a
page whose prerequisite is missing calls ``require_dataset()`` or
``require_bundle()``, which explain what to do, link to the page that provides it
and stop the script.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.schema import Schema, infer_schema

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "ATTENTION_PAGE",
    "DATA_PAGE",
    "EXPLAIN_PAGE",
    "HOME_PAGE",
    "KEY_BUNDLE",
    "KEY_CHOICES",
    "KEY_DATASET",
    "KEY_NOTICE",
    "KEY_ROLES_ERROR",
    "KEY_SCHEMA_VERSION",
    "KEY_UPLOAD",
    "PREDICT_PAGE",
    "REPORT_PAGE",
    "TRAIN_PAGE",
    "W_DIST_COLUMN",
    "W_RATE_CLASS",
    "W_RATE_COLUMN",
    "W_ROLES",
    "W_SAMPLE",
    "W_SAMPLE_LOAD",
    "W_TARGET",
    "W_UPLOAD",
    "Dataset",
    "UploadOutcome",
    "current_bundle",
    "current_dataset",
    "current_frame",
    "current_schema",
    "init_state",
    "pop_notice",
    "require_bundle",
    "require_dataset",
    "reset_roles_editor",
    "roles_editor_key",
    "sample_dataset",
    "schema_widget_key",
    "set_bundle",
    "set_dataset",
    "set_notice",
    "set_schema",
    "try_sample",
]

# ---------------------------------------------------------------- page paths
# Relative to app.py, as st.page_link and st.switch_page take them. Streamlit's
# pages-directory convention: the number orders the menu, the rest names the URL
# (pages/1_Data.py is served at /Data).
HOME_PAGE = "app.py"  # Home: what neuromkt does, one click to a sample
DATA_PAGE = "pages/1_Data.py"  # where a data set is loaded (guards link here)
TRAIN_PAGE = "pages/2_Train.py"  # where a model is trained or loaded (guards link here)
ATTENTION_PAGE = "pages/3_Attention.py"  # what the model attends to
EXPLAIN_PAGE = "pages/4_Explain.py"  # attributions, checked against attention
PREDICT_PAGE = "pages/5_Predict.py"  # scoring, who to contact, what-if
REPORT_PAGE = "pages/6_Report.py"  # the standalone HTML report

# ---------------------------------------------------------------- state keys
KEY_DATASET = "nm_dataset"  # Dataset | None: the data set every page works on
KEY_BUNDLE = "nm_bundle"  # ModelBundle | None: the model every page works on
KEY_UPLOAD = "nm_upload"  # UploadOutcome | None: the last file handed to the uploader
KEY_SCHEMA_VERSION = "nm_schema_version"  # int: bumped whenever the data set or schema changes
KEY_CHOICES = "nm_choices"  # dict[str, str]: the Data page pickers' last choices
KEY_ROLES_ERROR = "nm_roles_error"  # str | None: why the last role change was refused
KEY_NOTICE = "nm_notice"  # str | None: a one-off success message for the next run

# ---------------------------------------------------------------- widget keys (Data page)
W_UPLOAD = "data_upload"  # file uploader
W_SAMPLE = "data_sample"  # sample picker
W_SAMPLE_LOAD = "data_sample_load"  # "Load sample" button
W_TARGET = "data_target"  # target picker above the roles editor
W_ROLES = "data_roles"  # roles editor
W_RATE_COLUMN = "data_rate_column"  # column to group the outcome rate by
W_RATE_CLASS = "data_rate_class"  # class counted as "the outcome" for multiclass targets
W_DIST_COLUMN = "data_dist_column"  # column whose distribution is drawn
# The Data page's sessions panel (an event log → sessions); all but the button carry the
# schema version (``schema_widget_key``), so a new data set starts from fresh guesses.
W_EVENTS_ID = "data_events_id"  # user or visitor id column
W_EVENTS_TIME = "data_events_time"  # time column
W_EVENTS_EVENT = "data_events_event"  # event name column
W_EVENTS_SESSION = "data_events_session"  # session id column, or "(none)"
W_EVENTS_ITEM = "data_events_item"  # item/page/category column, or "(none)"
W_EVENTS_GAP = "data_events_gap"  # inactivity limit in minutes
W_EVENTS_NUMBERS = "data_events_numbers"  # per-event numbers
W_EVENTS_ATTRIBUTES = "data_events_attributes"  # per-session attributes
W_EVENTS_OUTCOME = "data_events_outcome"  # the outcome event, or "(no outcome)"
W_EVENTS_OUTCOME_DAYS = "data_events_outcome_days"  # days after the session (0: none)
W_EVENTS_BUILD = "data_events_build"  # "Build sessions" button
# Widgets that show the schema (target picker, roles editor, column pickers) carry the
# schema version in their real key (``schema_widget_key``): when the data set or the
# schema changes they are rebuilt from it, instead of keeping a value the browser
# still shows from before.

_DEFAULTS: dict[str, Any] = {
    KEY_DATASET: None,
    KEY_BUNDLE: None,
    KEY_UPLOAD: None,
    KEY_SCHEMA_VERSION: 0,
    KEY_CHOICES: {},
    KEY_ROLES_ERROR: None,
    KEY_NOTICE: None,
}


@dataclass(frozen=True)
class Dataset:
    """The data set a session works on.

    Attributes:
        frame: The table as loaded (never modified in place).
        name: A display name, usually the file name (user text: escape before rendering).
        schema: The current column roles; changes through ``set_schema``.
        fingerprint: ``frame_fingerprint(frame)``; the cache key of everything derived.
        warnings: Repairs made while loading, in plain language.
        sample_key: The sample's key when the data set is a bundled sample, else None.
    """

    frame: pd.DataFrame
    name: str
    schema: Schema
    fingerprint: str
    warnings: tuple[str, ...] = ()
    sample_key: str | None = None

    @property
    def shape_text(self) -> str:
        """Rows × columns, e.g. "20,000 rows × 14 columns"."""
        n_rows, n_cols = self.frame.shape
        return f"{n_rows:,} rows × {n_cols:,} columns"


@dataclass(frozen=True)
class UploadOutcome:
    """What became of the last file handed to the uploader.

    Attributes:
        file_id: Streamlit's id of the uploaded file (new for every upload).
        name: The file name.
        error: The ``DataError`` message when loading failed, else None.
    """

    file_id: str
    name: str
    error: str | None = None


def init_state() -> None:
    """Give every session-state key its default, keeping values already set."""
    for key, value in _DEFAULTS.items():
        st.session_state.setdefault(key, value)


# ---------------------------------------------------------------- data set


def current_dataset() -> Dataset | None:
    """The session's data set, or None before one is loaded."""
    return st.session_state.get(KEY_DATASET)


def current_frame() -> pd.DataFrame | None:
    """The session's table, or None."""
    dataset = current_dataset()
    return None if dataset is None else dataset.frame


def current_schema() -> Schema | None:
    """The session's schema, or None."""
    dataset = current_dataset()
    return None if dataset is None else dataset.schema


def set_dataset(
    frame: pd.DataFrame,
    name: str,
    schema: Schema,
    *,
    sample_key: str | None = None,
    fingerprint: str | None = None,
) -> Dataset:
    """Make ``frame`` the session's data set.

    Widgets that show columns of the old data set are rebuilt, and the Data page's
    remembered picker choices are forgotten. The current model is kept: it may be
    applied to new data on the Predict page, which checks the columns it needs.

    Args:
        frame: The table.
        name: Its display name.
        schema: Its column roles.
        sample_key: The sample's key, when it is a bundled sample.
        fingerprint: ``frame_fingerprint(frame)`` when already known.

    Returns:
        The new data set.
    """
    warnings = tuple(str(w) for w in frame.attrs.get("load_warnings", ()))
    dataset = Dataset(
        frame=frame,
        name=name,
        schema=schema,
        fingerprint=fingerprint or frame_fingerprint(frame),
        warnings=warnings,
        sample_key=sample_key,
    )
    st.session_state[KEY_DATASET] = dataset
    st.session_state[KEY_CHOICES] = {}
    reset_roles_editor(error=None)
    return dataset


def set_schema(schema: Schema) -> None:
    """Replace the current data set's schema.

    Raises:
        RuntimeError: If no data set is loaded (a bug in the calling page).
    """
    dataset = current_dataset()
    if dataset is None:
        raise RuntimeError("set_schema() needs a data set; load one first.")
    st.session_state[KEY_DATASET] = replace(dataset, schema=schema)
    _bump_schema_version()


def schema_widget_key(base: str) -> str:
    """The real key of a widget that shows the schema: ``base`` plus the schema version."""
    return f"{base}_{st.session_state.get(KEY_SCHEMA_VERSION, 0)}"


def roles_editor_key() -> str:
    """The current key of the roles editor (it changes to discard the editor's edits)."""
    return schema_widget_key(W_ROLES)


def _bump_schema_version() -> None:
    st.session_state.pop(roles_editor_key(), None)
    st.session_state[KEY_SCHEMA_VERSION] = st.session_state.get(KEY_SCHEMA_VERSION, 0) + 1


def reset_roles_editor(*, error: str | None) -> None:
    """Discard the roles editor's pending edits and keep ``error`` to show above it.

    Call it after a role change, accepted (``error=None``) or refused (the message).
    """
    _bump_schema_version()
    st.session_state[KEY_ROLES_ERROR] = error


# ---------------------------------------------------------------- samples


@st.cache_data(show_spinner="Loading the sample…", max_entries=8)
def _sample_frame(key: str) -> pd.DataFrame:
    from neuromkt.data.samples import SAMPLES, load_sample

    frame = load_sample(key)
    frame.attrs["source_name"] = SAMPLES[key].file_name
    frame.attrs["load_warnings"] = []
    return frame


def sample_dataset(key: str) -> tuple[pd.DataFrame, Schema]:
    """Load a bundled sample with its schema: its target set, its text columns as text.

    Args:
        key: A key of ``neuromkt.data.samples.SAMPLES``.

    Returns:
        The frame (cached per sample, a fresh copy per call) and its schema.
    """
    from neuromkt.data.samples import SAMPLES

    spec = SAMPLES[key]
    frame = _sample_frame(key)
    schema = infer_schema(frame, target=spec.target)
    for column in spec.text_columns:
        if column in frame.columns and schema.role_of(column) != "text":
            schema = schema.with_role(column, "text", frame)
    return frame, schema


def try_sample(key: str) -> Dataset:
    """Load a bundled sample and its pre-trained model (what "Try the sample" does).

    Args:
        key: A key of ``neuromkt.data.samples.SAMPLES``.

    Returns:
        The new data set.
    """
    from neuromkt.data.samples import SAMPLES
    from neuromkt.errors import ModelError
    from neuromkt.model.sample_models import load_sample_bundle

    frame, schema = sample_dataset(key)
    dataset = set_dataset(frame, SAMPLES[key].title, schema, sample_key=key)
    st.session_state[W_SAMPLE] = key  # the Data page's sample picker shows it too
    try:
        # A fresh copy per session: explainers hook into the model while they run.
        bundle = load_sample_bundle(key)
    except ModelError:
        bundle = None
    if bundle is not None:
        set_bundle(bundle)
        set_notice(f"Loaded the sample “{SAMPLES[key].title}” and its pre-trained model.")
    else:
        set_notice(f"Loaded the sample “{SAMPLES[key].title}”.")
    return dataset


# ---------------------------------------------------------------- model


def current_bundle() -> ModelBundle | None:
    """The session's trained or loaded model, or None."""
    return st.session_state.get(KEY_BUNDLE)


def set_bundle(bundle: ModelBundle | None) -> None:
    """Make ``bundle`` the session's model (None forgets the current one)."""
    st.session_state[KEY_BUNDLE] = bundle


# ---------------------------------------------------------------- notices and guards


def set_notice(message: str | None) -> None:
    """Keep a one-off success message for the next page run (e.g. across a page switch)."""
    st.session_state[KEY_NOTICE] = message


def pop_notice() -> str | None:
    """Take the pending one-off message, if any."""
    return st.session_state.pop(KEY_NOTICE, None)


def require_dataset() -> Dataset:
    """Return the data set, or say how to get one, link to the Data page and stop."""
    dataset = current_dataset()
    if dataset is None:
        st.info("No data yet: upload a table or load a sample on the Data page.")
        st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table:")
        st.stop()
    return dataset


def require_bundle() -> ModelBundle:
    """Return the model, or say how to get one, link to the Train page and stop."""
    bundle = current_bundle()
    if bundle is None:
        st.info("No model yet: train one, or load a saved one, on the Train page.")
        st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        st.stop()
    return bundle
