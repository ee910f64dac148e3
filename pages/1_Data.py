"""Data: load a table, look at it, see the outcome rate per category, set column roles."""

from __future__ import annotations

import streamlit as st

from neuromkt.data.profile import overview_table
from neuromkt.errors import DataError
from neuromkt.figures.data import distribution_figure, outcome_rate_figure, profile_overview_figure
from neuromkt.ui import data_views, escape_markdown, events_views
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import W_UPLOAD, current_dataset, pop_notice

_PREVIEW_ROWS = 100

setup_page("Data")
st.title("Data")
st.caption(
    "One row per session, customer, impression or email, with an outcome column "
    "(clicked, converted, churned, revenue …) and any numbers, categories, text or "
    "event sequences that might explain it."
)

# ---------------------------------------------------------------- inputs
upload_col, sample_col = st.columns([3, 2], gap="large")
with upload_col:
    uploaded = st.file_uploader(
        f"Upload a table (up to {data_views.upload_limit_mb():,} MB)",
        type=data_views.ACCEPTED_TYPES,
        key=W_UPLOAD,
        help="CSV, TSV or TXT with any delimiter (also inside .gz or .zip), Parquet, "
        "Excel (.xlsx), JSON or JSON lines. The first row must hold the column names.",
    )
with sample_col:
    data_views.sample_picker()

outcome = data_views.handle_upload(uploaded)
if outcome is not None and outcome.error:
    kept = " The data set loaded before is still in use." if current_dataset() else ""
    st.error(escape_markdown(outcome.error) + kept, icon=":material/error:")
notice = pop_notice()
if notice:
    st.success(escape_markdown(notice), icon=":material/check_circle:")

# ---------------------------------------------------------------- guard
dataset = current_dataset()
if dataset is None:
    st.info("Upload a file or load a sample to begin.", icon=":material/upload_file:")
    st.stop()
schema = dataset.schema
events_views.event_log_panel(dataset)  # an event log: offer to build sessions from it

# ---------------------------------------------------------------- overview
st.header(escape_markdown(dataset.name), divider="gray")
rows_m, cols_m, target_m, task_m = st.columns(4)
rows_m.metric("Rows", f"{len(dataset.frame):,}")
cols_m.metric("Columns", f"{dataset.frame.shape[1]:,}")
target_m.metric("Outcome", escape_markdown(schema.target) if schema.target else "not chosen")
task_m.metric("Task", schema.task or "—")
for warning in dataset.warnings:
    st.warning(escape_markdown(warning), icon=":material/warning:")

st.subheader("Preview")
st.dataframe(dataset.frame.head(_PREVIEW_ROWS), height=300, key="data_preview")
st.caption(f"The first {min(_PREVIEW_ROWS, len(dataset.frame)):,} of {len(dataset.frame):,} rows.")

# ---------------------------------------------------------------- outcome by category
st.subheader("Outcome by category")
if schema.target is None:
    st.info("Choose the outcome column under Column roles below to see its rate per category.")
else:
    pick_col, class_col = st.columns(2)
    with pick_col:
        group_by = data_views.rate_column_picker(schema)
    with class_col:
        positive = data_views.rate_class_picker(schema)
    if group_by is None:
        st.info("No categorical or numeric column to group by; set one under Column roles.")
    else:
        try:
            rates = data_views.cached_outcome_rates(dataset, group_by, positive)
        except DataError as exc:
            st.error(escape_markdown(exc), icon=":material/error:")
        else:
            st.plotly_chart(outcome_rate_figure(rates), key="data_rate_chart")
            st.caption(
                "Bars show the rate in each group with its 95% interval (Wilson); the dashed "
                "line is the overall rate. Small groups have wide intervals: trust them less."
            )
            with st.expander("Table"):
                st.dataframe(
                    rates.table,
                    hide_index=True,
                    key="data_rate_table",
                    column_config={
                        "value": st.column_config.NumberColumn(
                            "rate" if rates.measure == "rate" else "mean", format="%.4f"
                        ),
                        "lower": st.column_config.NumberColumn(format="%.4f"),
                        "upper": st.column_config.NumberColumn(format="%.4f"),
                    },
                )

# ---------------------------------------------------------------- column profile
st.subheader("Columns")
profile = data_views.cached_profile(dataset)
st.dataframe(
    profile,
    hide_index=True,
    height=min(35 * (len(profile) + 1) + 3, 563),
    key="data_profile",
    column_order=["column", "role", "dtype", "missing", "missing_pct", "unique", "summary"],
    column_config={
        "missing_pct": st.column_config.NumberColumn("missing %", format="%.1f%%"),
        "unique": st.column_config.NumberColumn("distinct"),
        "summary": st.column_config.TextColumn("summary", width="large"),
    },
)
overview_col, dist_col = st.columns(2, gap="large")
with overview_col:
    shown = overview_table(profile)
    title = None if len(shown) == len(profile) else f"{len(shown)} columns with most missing values"
    st.plotly_chart(profile_overview_figure(shown, title=title), key="data_overview_chart")
with dist_col:
    dist_column = data_views.distribution_picker(schema)
    distribution = data_views.cached_distribution(dataset, dist_column)
    st.plotly_chart(distribution_figure(distribution), key="data_dist_chart")

# ---------------------------------------------------------------- roles
st.subheader("Column roles")
st.caption(
    "How the model uses each column. neuromkt guessed the roles; change any that are "
    "wrong. Ids, dates and ignored columns are not used as features."
)
data_views.target_picker(dataset)
data_views.roles_editor(dataset)
