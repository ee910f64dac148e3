"""Cached loading and profiling, and the interactive widgets of the Data page.

Caches are keyed on content only (the SHA-256 of an upload's bytes, or the data
set's fingerprint), never on a user or session, so two users who upload the same
file share the work and two different files can never be mixed up. Frames are
passed as ``_frame`` (not hashed) next to the fingerprint that identifies them.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from neuromkt.data.load import load_table
from neuromkt.data.profile import (
    ColumnDistribution,
    OutcomeRates,
    column_distribution,
    outcome_rates,
    profile_columns,
)
from neuromkt.data.samples import SAMPLES
from neuromkt.data.schema import ROLES, Schema, infer_schema
from neuromkt.errors import DataError
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    KEY_CHOICES,
    KEY_ROLES_ERROR,
    KEY_UPLOAD,
    W_DIST_COLUMN,
    W_RATE_CLASS,
    W_RATE_COLUMN,
    W_SAMPLE,
    W_SAMPLE_LOAD,
    W_TARGET,
    Dataset,
    UploadOutcome,
    current_dataset,
    reset_roles_editor,
    roles_editor_key,
    schema_widget_key,
    set_dataset,
    set_notice,
    set_schema,
    try_sample,
)

__all__ = [
    "ACCEPTED_TYPES",
    "apply_role_changes",
    "cached_distribution",
    "cached_outcome_rates",
    "cached_profile",
    "distribution_options",
    "distribution_picker",
    "handle_upload",
    "load_upload",
    "rate_class_picker",
    "rate_column_options",
    "rate_column_picker",
    "roles_editor",
    "roles_table",
    "sample_picker",
    "target_picker",
    "upload_limit_mb",
]

# ".xls" is accepted so that the loader can say to save it as .xlsx (it cannot read it).
ACCEPTED_TYPES = ["csv", "tsv", "txt", "gz", "zip", "parquet", "xlsx", "xls", "jsonl", "json"]
_CACHE_TTL_S = 3600  # cached frames and profiles are dropped after an hour
_GROUPING_ROLES = ("categorical", "numeric")  # roles offered for "rate by category"


def upload_limit_mb() -> int:
    """The upload limit in MB, as configured (``server.maxUploadSize``)."""
    return int(st.get_option("server.maxUploadSize"))


# ---------------------------------------------------------------- loading


@st.cache_data(show_spinner="Reading the file…", max_entries=4, ttl=_CACHE_TTL_S)
def _load_bytes(digest: str, name: str, _data: bytes) -> pd.DataFrame:
    """Parse an upload; cached on the SHA-256 of its bytes and its name (the format)."""
    return load_table(io.BytesIO(_data), name=name)


def load_upload(data: bytes, name: str) -> pd.DataFrame:
    """Read an uploaded file's bytes into a frame (cached on its content).

    Raises:
        DataError: The file is not a readable table.
    """
    digest = hashlib.sha256(data).hexdigest()
    return _load_bytes(digest, name, data)


def handle_upload(uploaded: Any) -> UploadOutcome | None:
    """Load a newly uploaded file as the data set, once per upload.

    On a ``DataError`` the previous data set stays in place and the outcome carries
    the message. A file that loads becomes the data set and the script reruns at once
    (so the sidebar shows it), with a success message kept for that run. The same upload
    is not read again on later reruns.

    Args:
        uploaded: The ``st.file_uploader`` value: an ``UploadedFile`` or None.

    Returns:
        The outcome of the current upload, or None when the uploader is empty.
    """
    if uploaded is None:
        st.session_state[KEY_UPLOAD] = None
        return None
    previous: UploadOutcome | None = st.session_state.get(KEY_UPLOAD)
    if previous is not None and previous.file_id == uploaded.file_id:
        return previous
    name = str(uploaded.name)
    try:
        frame = load_upload(uploaded.getvalue(), name)
        schema = infer_schema(frame)
    except DataError as exc:
        outcome = UploadOutcome(uploaded.file_id, name, error=str(exc))
        st.session_state[KEY_UPLOAD] = outcome
        return outcome
    dataset = set_dataset(frame, name, schema)
    st.session_state[KEY_UPLOAD] = UploadOutcome(uploaded.file_id, name)
    # Run the page again, so that the sidebar, drawn before the page, names the new data
    # set; the message waits in the session for that run.
    set_notice(f"Loaded “{name}”: {dataset.shape_text}.")
    st.rerun()


def sample_picker() -> None:
    """A sample chooser and a "Load sample" button that makes it the data set."""
    keys = list(SAMPLES)
    st.selectbox(
        "Or start from a sample",
        keys,
        format_func=lambda key: SAMPLES[key].title,
        key=W_SAMPLE,
    )
    st.button("Load sample", key=W_SAMPLE_LOAD, on_click=_load_chosen_sample)


def _load_chosen_sample() -> None:
    key = st.session_state.get(W_SAMPLE)
    if key in SAMPLES:
        try_sample(key)
        # The sample replaces the last upload's error; the file in the uploader stays
        # marked as handled, so it does not replace the sample on the next run.
        previous: UploadOutcome | None = st.session_state.get(KEY_UPLOAD)
        if previous is not None:
            st.session_state[KEY_UPLOAD] = UploadOutcome(previous.file_id, previous.name)


# ---------------------------------------------------------------- cached analysis


@st.cache_data(show_spinner="Profiling the columns…", max_entries=16, ttl=_CACHE_TTL_S)
def _profile(fingerprint: str, _frame: pd.DataFrame) -> pd.DataFrame:
    return profile_columns(_frame)


def cached_profile(dataset: Dataset) -> pd.DataFrame:
    """The column profile of the data set, with the roles of its current schema."""
    profile = _profile(dataset.fingerprint, dataset.frame)
    roles = {spec.name: spec.role for spec in dataset.schema.columns}
    profile["role"] = profile["column"].map(roles).fillna("")
    return profile


@st.cache_data(show_spinner=False, max_entries=64, ttl=_CACHE_TTL_S)
def _distribution(
    fingerprint: str, column: str, role: str | None, _frame: pd.DataFrame
) -> ColumnDistribution:
    return column_distribution(_frame, column, role=role)


def cached_distribution(dataset: Dataset, column: str) -> ColumnDistribution:
    """The distribution of one column, drawn according to its current role."""
    role = dataset.schema.role_of(column)
    return _distribution(dataset.fingerprint, column, role, dataset.frame)


@st.cache_data(show_spinner=False, max_entries=64, ttl=_CACHE_TTL_S)
def _rates(
    fingerprint: str, column: str, target: str, positive: str | None, _frame: pd.DataFrame
) -> OutcomeRates:
    return outcome_rates(_frame, column, target, positive=positive)


def cached_outcome_rates(dataset: Dataset, column: str, positive: str | None) -> OutcomeRates:
    """The outcome rate of ``positive`` (or mean outcome) per category of ``column``.

    Raises:
        DataError: The data set has no target, or the rates cannot be computed.
    """
    target = dataset.schema.target
    if target is None:
        raise DataError("Choose the outcome column first (in Column roles, below).")
    return _rates(dataset.fingerprint, column, target, positive, dataset.frame)


def distribution_options(schema: Schema) -> list[str]:
    """Columns to draw distributions of: features first, then the target and the rest."""
    first = schema.features
    target = [schema.target] if schema.target else []
    rest = [spec.name for spec in schema.columns if spec.name not in first + target]
    return first + target + rest


def rate_column_options(schema: Schema) -> list[str]:
    """Columns to group the outcome by: categorical ones first, then numeric ones."""
    return [spec.name for role in _GROUPING_ROLES for spec in schema.columns if spec.role == role]


def rate_class_picker(schema: Schema) -> str | None:
    """The outcome label to count: the positive class, a chosen class, or None (mean).

    Binary targets count their positive class; multiclass targets get a picker;
    regression targets report the mean (None).
    """
    if schema.task == "binary" and len(schema.classes) == 2:
        return schema.classes[1]
    if schema.task == "multiclass":
        return _sticky_selectbox("Class to count", list(schema.classes), W_RATE_CLASS)
    return None


def rate_column_picker(schema: Schema) -> str | None:
    """A picker of the column to group the outcome by; None when there is none."""
    options = rate_column_options(schema)
    if not options:
        return None
    return _sticky_selectbox("Group by", options, W_RATE_COLUMN)


def distribution_picker(schema: Schema) -> str:
    """A picker of the column whose distribution is drawn; features come first."""
    return _sticky_selectbox("Distribution of", distribution_options(schema), W_DIST_COLUMN)


def _sticky_selectbox(label: str, options: list[str], base: str) -> str:
    """A select box rebuilt on every schema change that keeps the last choice if offered.

    Its real key carries the schema version, so the browser never shows a column of
    an older data set; the choice itself is remembered under ``KEY_CHOICES``.
    """
    choices: dict[str, str] = st.session_state.setdefault(KEY_CHOICES, {})
    remembered = choices.get(base)
    index = options.index(remembered) if remembered in options else 0
    value = st.selectbox(label, options, index=index, key=schema_widget_key(base))
    choices[base] = value
    return value


# ---------------------------------------------------------------- roles


def roles_table(schema: Schema) -> pd.DataFrame:
    """The schema as an editable table: ``column``, ``role``, ``reason``."""
    return pd.DataFrame(
        {
            "column": [spec.name for spec in schema.columns],
            "role": [spec.role for spec in schema.columns],
            "reason": [spec.reason for spec in schema.columns],
        }
    )


def apply_role_changes(schema: Schema, frame: pd.DataFrame, changes: Mapping[str, str]) -> Schema:
    """Apply role changes one after another (``{column: new role}``).

    Raises:
        DataError: A role is impossible for its column; nothing is applied then.
    """
    for column, role in changes.items():
        schema = schema.with_role(column, role, frame)
    return schema


def target_picker(dataset: Dataset) -> None:
    """A picker of the outcome column; choosing one makes it the schema's target."""
    columns = list(dataset.frame.columns)
    target = dataset.schema.target
    key = schema_widget_key(W_TARGET)  # rebuilt (showing the target) on schema changes
    st.selectbox(
        "Outcome to predict (target)",
        columns,
        index=columns.index(target) if target in columns else None,
        placeholder="Choose the outcome column",
        key=key,
        on_change=_on_target_change,
        args=(key,),
        help="The column the model learns to predict, e.g. purchased, clicked or revenue.",
    )


def _on_target_change(key: str) -> None:
    dataset = current_dataset()
    target = st.session_state.get(key)
    if dataset is None or target == dataset.schema.target:
        return
    if target is None:  # cleared: rebuild the picker showing the schema's target again
        reset_roles_editor(error=None)
        return
    try:
        schema = dataset.schema.with_role(target, "target", dataset.frame)
    except DataError as exc:
        reset_roles_editor(error=str(exc))
        return
    set_schema(schema)
    reset_roles_editor(error=None)


def roles_editor(dataset: Dataset) -> None:
    """The editable table of column roles; a change updates the schema at once.

    An impossible role (for example "numeric" on a text column) is refused: the
    ``DataError`` message is shown above the table and the old schema is kept.
    """
    error = st.session_state.get(KEY_ROLES_ERROR)
    if error:
        st.error(escape_markdown(error), icon=":material/error:")
    table = roles_table(dataset.schema)
    edited = st.data_editor(
        table,
        key=roles_editor_key(),
        hide_index=True,
        width="stretch",
        height=min(35 * (len(table) + 1) + 3, 563),
        disabled=["column", "reason"],
        column_config={
            "column": st.column_config.TextColumn("Column"),
            "role": st.column_config.SelectboxColumn(
                "Role", options=list(ROLES), required=True, width="small"
            ),
            "reason": st.column_config.TextColumn("Why this role", width="large"),
        },
    )
    changed = edited["role"] != table["role"]
    if not changed.any():
        return
    changes = dict(zip(table.loc[changed, "column"], edited.loc[changed, "role"], strict=True))
    try:
        schema = apply_role_changes(dataset.schema, dataset.frame, changes)
    except DataError as exc:
        reset_roles_editor(error=str(exc))
    else:
        set_schema(schema)
        reset_roles_editor(error=None)
    st.rerun()
