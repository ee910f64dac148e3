"""Per-session state of the dashboard: the workspace, the project, its data set and model.

What a user would miss after a reload lives in the project store
(``neuromkt.projects.store``, under ``$NEUROMKT_HOME``) and is found again from the
URL: ``?ws=<workspace key>&project=<project id>``. In no-sign-in mode the workspace
key *is* the access: each browser gets a fresh, unguessable one, and whoever has the
link has the work. ``st.session_state`` keeps the loaded data set and model as a
cache of the store, so a page run does not read files; when it is empty (a reload, a
second tab, a bookmark) :func:`attach_project` loads them from the store again.
Nothing is stored in module globals, because one server process serves many users.
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
from neuromkt.errors import NeuromktError, ProjectError
from neuromkt.projects.store import ProjectStore, is_valid_key, new_workspace_key

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
    "KEY_LINK_ERROR",
    "KEY_NOTICE",
    "KEY_PROJECT",
    "KEY_ROLES_ERROR",
    "KEY_RUN_AUTO",
    "KEY_RUN_ID",
    "KEY_SCHEMA_VERSION",
    "KEY_STORE_WARNING",
    "KEY_UPLOAD",
    "KEY_WORKSPACE",
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
    "attach_project",
    "close_project",
    "current_bundle",
    "current_dataset",
    "current_frame",
    "current_project_id",
    "current_run_id",
    "current_schema",
    "current_workspace",
    "init_state",
    "link_params",
    "open_project",
    "pop_notice",
    "project_store",
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
KEY_WORKSPACE = "nm_workspace"  # str | None: the workspace key (also in the URL as ?ws=)
KEY_PROJECT = "nm_project"  # str | None: the open project's id (also in the URL as ?project=)
KEY_RUN_ID = "nm_run_id"  # str | None: the store's run id of the current model, when saved
KEY_RUN_AUTO = "nm_run_auto"  # bool: the KEY_RUN_ID run was kept automatically, not named
KEY_LINK_ERROR = "nm_link_error"  # str | None: why the link's project was refused
KEY_STORE_WARNING = "nm_store_warning"  # str | None: why the work is not kept in the store

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
    KEY_WORKSPACE: None,
    KEY_PROJECT: None,
    KEY_RUN_ID: None,
    KEY_RUN_AUTO: False,
    KEY_LINK_ERROR: None,
    KEY_STORE_WARNING: None,
}

# URL query parameters (state in a URL is plain text, never pickle).
Q_WORKSPACE = "ws"
Q_PROJECT = "project"


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


# ---------------------------------------------------------------- workspace and project


def project_store() -> ProjectStore:
    """The project store under ``$NEUROMKT_HOME`` (read now)."""
    return ProjectStore()


def current_workspace() -> str:
    """The session's workspace key (made by :func:`attach_project`)."""
    workspace = st.session_state.get(KEY_WORKSPACE)
    if not is_valid_key(workspace):
        workspace = new_workspace_key()
        st.session_state[KEY_WORKSPACE] = workspace
    return workspace


def current_project_id() -> str | None:
    """The open project's id, or None."""
    return st.session_state.get(KEY_PROJECT)


def current_run_id() -> str | None:
    """The store's run id of the current model, or None when it is not saved there."""
    return st.session_state.get(KEY_RUN_ID)


def link_params() -> dict[str, str]:
    """The query parameters that lead back to this workspace and project."""
    params = {Q_WORKSPACE: current_workspace()}
    if (project := current_project_id()) is not None:
        params[Q_PROJECT] = project
    return params


def _forget_loaded() -> None:
    st.session_state[KEY_DATASET] = None
    st.session_state[KEY_BUNDLE] = None
    st.session_state[KEY_RUN_ID] = None
    st.session_state[KEY_CHOICES] = {}
    _bump_schema_version()


def _write_url() -> None:
    wanted = link_params()
    if {k: st.query_params.get(k) for k in (Q_WORKSPACE, Q_PROJECT)} != {
        Q_WORKSPACE: wanted[Q_WORKSPACE],
        Q_PROJECT: wanted.get(Q_PROJECT),
    }:
        st.query_params.from_dict(
            {
                k: v
                for k, v in st.query_params.to_dict().items()
                if k not in (Q_WORKSPACE, Q_PROJECT)
            }
            | wanted
        )


def attach_project() -> None:
    """Match the session to the URL, then load the project's data and model if needed.

    The URL wins when it names a workspace or project (a reload, a bookmark, a shared
    link); otherwise the session's workspace and project are written into it (a page
    switch clears the URL). A project the workspace does not hold is refused: the
    reason is kept under ``KEY_LINK_ERROR`` for the page to show, and the session
    continues without it.
    """
    url_ws = st.query_params.get(Q_WORKSPACE)
    url_project = st.query_params.get(Q_PROJECT)
    if url_ws and url_ws != st.session_state.get(KEY_WORKSPACE):
        if not is_valid_key(url_ws):
            st.session_state[KEY_LINK_ERROR] = (
                "The workspace key in this link is not valid, so a new, empty workspace "
                "was started. Check that the link was copied in full."
            )
            url_project = None
        else:
            st.session_state[KEY_WORKSPACE] = url_ws
            st.session_state[KEY_PROJECT] = None
            _forget_loaded()
    if url_project and url_project != st.session_state.get(KEY_PROJECT):
        st.session_state[KEY_PROJECT] = url_project
        _forget_loaded()
    current_workspace()
    project = current_project_id()
    if project is not None and st.session_state.get(KEY_DATASET) is None:
        _load_project(project)
    _write_url()


def _load_project(project: str) -> None:
    store = project_store()
    workspace = current_workspace()
    try:
        info, frame, schema = store.open_project(workspace, project)
    except NeuromktError as exc:
        refused = isinstance(exc, ProjectError)
        st.session_state[KEY_LINK_ERROR] = (
            f"This link's project cannot be opened: {exc}" if refused else str(exc)
        )
        st.session_state[KEY_PROJECT] = None
        _forget_loaded()
        return
    st.session_state[KEY_DATASET] = Dataset(
        frame=frame, name=info.dataset, schema=schema, fingerprint=info.fingerprint,
        warnings=info.warnings, sample_key=info.sample_key,
    )  # fmt: skip
    if info.sample_key is not None:
        st.session_state.setdefault(W_SAMPLE, info.sample_key)
    bundle, run_id = None, None
    if info.active_run is not None:
        try:
            bundle, run_id = store.load_model(workspace, info.active_run), info.active_run
        except NeuromktError as exc:
            st.session_state[KEY_STORE_WARNING] = f"The project's model cannot be loaded: {exc}"
    st.session_state[KEY_BUNDLE] = bundle
    st.session_state[KEY_RUN_ID] = run_id
    _bump_schema_version()


def open_project(project: str) -> None:
    """Make ``project`` (of this workspace) the session's project and load it."""
    st.session_state[KEY_PROJECT] = project
    st.session_state[KEY_LINK_ERROR] = None
    _forget_loaded()
    _load_project(project)
    _write_url()


def close_project() -> None:
    """Forget the open project in this session (the store keeps it)."""
    st.session_state[KEY_PROJECT] = None
    _forget_loaded()
    _write_url()


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
    _store_new_project(dataset)
    return dataset


def _store_new_project(dataset: Dataset) -> None:
    """Keep a newly loaded data set as a new project of the workspace (with the current
    model, which stays in use), and put the project in the URL."""
    store = project_store()
    workspace = current_workspace()
    st.session_state[KEY_STORE_WARNING] = None
    try:
        info = store.create_project(
            workspace, dataset.frame, dataset.schema, dataset=dataset.name,
            sample_key=dataset.sample_key, warnings=dataset.warnings,
        )  # fmt: skip
    except NeuromktError as exc:
        st.session_state[KEY_PROJECT] = None
        st.session_state[KEY_RUN_ID] = None
        st.session_state[KEY_STORE_WARNING] = (
            f"This data set is not kept in a project, so a reload loses it: {exc}"
        )
        _write_url()
        return
    st.session_state[KEY_PROJECT] = info.project_id
    st.session_state[KEY_RUN_ID] = None
    bundle = current_bundle()
    if bundle is not None:
        _store_bundle(bundle)
    _write_url()


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
    if (project := current_project_id()) is not None:
        try:
            project_store().save_schema(current_workspace(), project, schema)
        except NeuromktError as exc:
            st.session_state[KEY_STORE_WARNING] = f"The column roles were not saved: {exc}"


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
    st.session_state[KEY_BUNDLE] = None  # the sample's own model replaces it below
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


def set_bundle(bundle: ModelBundle | None, *, run_id: str | None = None) -> None:
    """Make ``bundle`` the session's model (None forgets the current one).

    With an open project the model is kept in it: ``run_id`` names a model already in
    the workspace's store; without it the bundle is saved into the project now.
    """
    st.session_state[KEY_BUNDLE] = bundle
    st.session_state[KEY_RUN_ID] = run_id
    st.session_state[KEY_RUN_AUTO] = False
    project = current_project_id()
    if project is None:
        return
    try:
        if bundle is None or run_id is not None:
            project_store().set_active_model(current_workspace(), project, run_id)
        else:
            _store_bundle(bundle)
    except NeuromktError as exc:
        st.session_state[KEY_STORE_WARNING] = f"The model is not kept in the project: {exc}"


def _store_bundle(bundle: ModelBundle) -> None:
    project = current_project_id()
    if project is None:
        return
    try:
        run = project_store().save_model(current_workspace(), project, bundle)
    except NeuromktError as exc:
        st.session_state[KEY_STORE_WARNING] = f"The model is not kept in the project: {exc}"
        return
    st.session_state[KEY_RUN_ID] = run.run_id
    st.session_state[KEY_RUN_AUTO] = True


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
        st.page_link(
            DATA_PAGE, label="Go to Data", icon=":material/table:", query_params=link_params()
        )
        st.stop()
    return dataset


def require_bundle() -> ModelBundle:
    """Return the model, or say how to get one, link to the Train page and stop."""
    bundle = current_bundle()
    if bundle is None:
        st.info("No model yet: train one, or load a saved one, on the Train page.")
        st.page_link(
            TRAIN_PAGE, label="Go to Train", icon=":material/model_training:",
            query_params=link_params(),
        )  # fmt: skip
        st.stop()
    return bundle
