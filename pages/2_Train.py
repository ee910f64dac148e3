"""Train: train an attention model on the current data set, or load a saved one."""

from __future__ import annotations

import streamlit as st

from neuromkt.ui import (
    escape_markdown,
    train_models,
    train_results,
    train_scale,
    train_settings,
    train_views,
)
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import DATA_PAGE, current_bundle, current_dataset

setup_page("Train")
st.title("Train")
st.caption(
    "Train an attention model that predicts the outcome from the other columns, then "
    "check how well it does on rows it never saw. Or load a model you saved before."
)
train_views.collect_finished_job()  # a run that finished since the last page run
dataset = current_dataset()  # None is fine: a saved model can be loaded without data

# ---------------------------------------------------------------- train
st.header("Train a model", divider="gray")
if dataset is None:
    st.info(
        "No data yet: upload a table or load a sample on the Data page to train a model. "
        "A saved model can be loaded below without data.",
        icon=":material/upload_file:",
    )
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table:")
elif dataset.schema.target is None:
    st.info(
        "Choose the outcome to predict first: set one column's role to target on the Data page.",
        icon=":material/flag:",
    )
    st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table:")
elif train_scale.too_large(dataset):
    train_scale.command_line_panel(dataset)
else:
    ready = train_views.training_summary(dataset)
    train_views.leakage_panel(dataset)
    running = train_views.current_job() is not None
    train_settings.settings_widgets(dataset, disabled=running)
    train_views.training_controls(ready=ready)

# ---------------------------------------------------------------- the current model
bundle = current_bundle()
if bundle is not None:
    st.header(f"Model: {escape_markdown(bundle.name)}", divider="gray")
    train_results.model_section(bundle, dataset)
    train_models.save_and_download(bundle, dataset)

# ---------------------------------------------------------------- load a model
st.header("Load a model", divider="gray")
saved_tab, upload_tab = st.tabs(["Saved models", "Upload a bundle"], key=train_views.W_LOAD_TABS)
with saved_tab:
    train_models.saved_models(dataset)
with upload_tab:
    train_models.upload_bundle()
