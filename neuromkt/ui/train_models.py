"""The Train page's model store: save to the registry, download, load a saved or uploaded model.

Names are any text the user likes; they are stored as text and never used in a path
(the registry files bundles under generated run ids, and a download's file name is
reduced to letters, digits, ``-`` and ``_``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.errors import NeuromktError
from neuromkt.figures._style import short
from neuromkt.model.bundle import ModelBundle, bundle_to_zip_bytes, load_bundle
from neuromkt.model.registry import Registry
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    KEY_RUN_AUTO,
    KEY_RUN_ID,
    Dataset,
    current_bundle,
    current_project_id,
    current_run_id,
    current_workspace,
    project_store,
    set_bundle,
)
from neuromkt.ui.train_results import format_created
from neuromkt.ui.train_views import (
    KEY_NAME_OWNER,
    METRIC_LABELS,
    W_COMPARE,
    W_DELETE,
    W_DOWNLOAD,
    W_LOAD_RUN,
    W_RENAME,
    W_RENAME_TO,
    W_RESET_REGISTRY,
    W_RUN,
    W_SAVE,
    W_SAVE_NAME,
    W_UPLOAD,
    post_message,
    show_messages,
)

__all__ = ["accept_upload", "save_and_download", "saved_models", "upload_bundle", "zip_file_name"]


# ---------------------------------------------------------------- save and download


def save_and_download(bundle: ModelBundle, dataset: Dataset | None) -> None:
    """A name, "Save to registry" and "Download bundle" for the current model."""
    if st.session_state.get(KEY_NAME_OWNER) is not bundle:
        st.session_state[W_SAVE_NAME] = bundle.name
        st.session_state[KEY_NAME_OWNER] = bundle
    with st.container(border=True):
        name_col, save_col, download_col = st.columns([4, 2, 2], vertical_alignment="bottom")
        name_col.text_input(
            "Name", key=W_SAVE_NAME, max_chars=120,
            help="Any text you like; it is shown in the list of saved models.",
        )  # fmt: skip
        save_col.button(
            "Save to registry", key=W_SAVE, type="primary", icon=":material/save:",
            on_click=_save, args=(bundle, dataset.name if dataset else ""), width="stretch",
        )  # fmt: skip
        download_col.download_button(
            "Download bundle", data=lambda: bundle_to_zip_bytes(bundle),
            file_name=zip_file_name(bundle.name), mime="application/zip", key=W_DOWNLOAD,
            on_click="ignore", icon=":material/download:", width="stretch",
            help="A .zip with the model and everything needed to use it; load it here "
            "again, or with `neuromkt predict`.",
        )  # fmt: skip
    show_messages("save")


def zip_file_name(name: str) -> str:
    """A safe download file name from a display name: letters, digits, - and _ only."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:60]
    return f"{slug or 'model'}.zip"


def _save(bundle: ModelBundle, dataset_name: str) -> None:
    """Save the model under the typed name, in the project (or the workspace, without
    data). A model the project kept by itself when it was trained or uploaded is named
    rather than copied; saving again saves a copy."""
    previous = bundle.name
    bundle.name = str(st.session_state.get(W_SAVE_NAME) or "").strip() or previous
    store, workspace, project = project_store(), current_workspace(), current_project_id()
    try:
        run_id = current_run_id()
        is_current = current_bundle() is bundle
        if run_id is not None and is_current and st.session_state.get(KEY_RUN_AUTO):
            info = store.rename_model(workspace, run_id, bundle.name)
            st.session_state[KEY_RUN_AUTO] = False
        else:
            info = store.save_model(
                workspace, project, bundle, dataset=dataset_name, make_active=is_current
            )
            if is_current:  # the copy under the new name is what a reload opens
                st.session_state[KEY_RUN_ID] = info.run_id
                st.session_state[KEY_RUN_AUTO] = False
    except NeuromktError as exc:
        bundle.name = previous
        post_message("save", "error", str(exc))
        return
    bundle.name = info.name
    post_message("save", "success", f"Saved as “{info.name}”. Find it under Load a model.")


# ---------------------------------------------------------------- load a model


def saved_models(dataset: Dataset | None) -> None:
    """The workspace's saved models: a table with their metrics; load, rename, delete,
    compare. Only this workspace's models are listed, read or changed.

    ``dataset`` (None before one is loaded) marks the runs trained on exactly it.
    """
    show_messages("runs")
    try:
        runs = project_store().list_models(current_workspace())
    except NeuromktError as exc:
        st.error(escape_markdown(str(exc)), icon=":material/error:")
        if "damaged" in str(exc):
            st.button("Reset registry", key=W_RESET_REGISTRY, icon=":material/restart_alt:",
                      on_click=_reset_registry,
                      help="Renames the damaged file (it is kept) and starts an empty "
                      "registry; saved model folders stay on disk.")  # fmt: skip
        return
    if runs.empty:
        st.caption("No saved models yet: train one above and press “Save to registry”.")
        return
    table = runs.assign(
        metric=runs["primary_metric"].map(lambda m: METRIC_LABELS.get(m, m)),
        created=runs["created_at"].map(format_created),
        same_data=runs["data_fingerprint"] == (dataset.fingerprint if dataset else None),
    )
    st.dataframe(
        table[["name", "dataset", "target", "task", "metric", "primary_value", "created",
               "same_data"]],
        hide_index=True, key="train_runs_table",
        column_config={
            "primary_value": st.column_config.NumberColumn("validation score", format="%.4f"),
            "same_data": st.column_config.CheckboxColumn(
                "current data", help="Trained on exactly the current data set"),
        },
    )  # fmt: skip
    labels = {row.run_id: _run_label(row) for row in runs.itertuples()}
    pick, load, rename, delete = st.columns([5, 1.3, 1.3, 1.3], vertical_alignment="bottom")
    run_id = pick.selectbox("Saved model", list(labels), format_func=labels.get, key=W_RUN)
    load.button("Load", key=W_LOAD_RUN, type="primary", icon=":material/upload:",
                on_click=_load_run, args=(run_id,), width="stretch")  # fmt: skip
    with rename.popover("Rename", icon=":material/edit:", width="stretch"):
        st.text_input("New name", key=W_RENAME_TO, max_chars=120)
        st.button("Rename", key=W_RENAME, on_click=_rename_run, args=(run_id,))
    with delete.popover("Delete", icon=":material/delete:", width="stretch"):
        st.markdown(f"Delete **{escape_markdown(labels[run_id])}** and its files for good?")
        st.button("Delete", key=W_DELETE, type="primary", on_click=_delete_run, args=(run_id,))
    _compare(runs, labels)


def _reset_registry() -> None:
    try:
        moved = Registry().reset_corrupt()
    except NeuromktError as exc:
        post_message("runs", "error", str(exc))
        return
    if moved is not None:
        post_message(
            "runs",
            "success",
            f"The damaged registry was renamed to {moved.name} "
            "(kept for inspection); a fresh, empty registry is in use.",
        )


def _run_label(row: Any) -> str:
    value = row.primary_value
    score = f"{METRIC_LABELS.get(row.primary_metric, row.primary_metric)} {value:.3f}" if (
        np.isfinite(value)) else "no score"  # fmt: skip
    return f"{row.name} — {row.dataset} · {score} · {format_created(row.created_at)}"


def _compare(runs: pd.DataFrame, labels: dict[str, str]) -> None:
    chosen = st.multiselect("Compare saved models", list(labels), format_func=labels.get,
                            key=W_COMPARE, placeholder="Pick two or more")  # fmt: skip
    if len(chosen) < 2:
        return
    try:
        workspace = current_workspace()
        for run_id in chosen:
            project_store().get_model(workspace, run_id)  # this workspace's only
        table = Registry().compare(chosen)
    except NeuromktError as exc:
        st.error(escape_markdown(str(exc)), icon=":material/error:")
        return
    shown = [m for m in table.index if _comparable(m)]
    names = runs.set_index("run_id")["name"]
    headers = {r: f"{short(names.get(r, r), 24)} · {r[-4:]}" for r in table.columns}
    table = table.loc[shown].rename(columns=headers, index=_metric_label)
    st.dataframe(
        table, key="train_compare_table",
        column_config={c: st.column_config.NumberColumn(format="%.4f", width="small")
                       for c in table.columns},
    )  # fmt: skip
    st.caption("Columns: the saved models (name · end of run id). Rows: their metrics.")


def _comparable(metric: str) -> bool:
    """Metrics worth comparing: best epoch and the validation/test scores (not counts)."""
    split, _, name = metric.partition(".")
    return metric == "best_epoch" or (
        split in ("validation", "test") and name not in ("n", "n_classes")
    )


def _metric_label(metric: str) -> str:
    split, _, name = metric.partition(".")
    if not name:
        return metric.replace("_", " ")
    return f"{split} {METRIC_LABELS.get(name, name.replace('_', ' '))}"


def _load_run(run_id: str) -> None:
    try:
        bundle = project_store().load_model(current_workspace(), run_id)
    except NeuromktError as exc:
        kept = " The current model is still in use." if current_bundle() is not None else ""
        post_message("runs", "error", str(exc) + kept)
        return
    set_bundle(bundle, run_id=run_id)
    post_message("runs", "success", f"Loaded “{bundle.name}”.")


def _rename_run(run_id: str) -> None:
    new_name = str(st.session_state.get(W_RENAME_TO) or "").strip()
    if not new_name:
        post_message("runs", "warning", "Type a new name first.")
        return
    try:
        info = project_store().rename_model(current_workspace(), run_id, new_name)
    except NeuromktError as exc:
        post_message("runs", "error", str(exc))
        return
    st.session_state[W_RENAME_TO] = ""
    post_message("runs", "success", f"Renamed to “{info.name}”.")


def _delete_run(run_id: str) -> None:
    try:
        store, workspace = project_store(), current_workspace()
        name = store.get_model(workspace, run_id).name
        store.delete_model(workspace, run_id)
    except NeuromktError as exc:
        post_message("runs", "error", str(exc))
        return
    if current_run_id() == run_id:
        st.session_state[KEY_RUN_ID] = None  # the model stays in use, no longer saved
    st.session_state.pop(W_COMPARE, None)
    post_message("runs", "success", f"Deleted “{name}”.")


def upload_bundle() -> None:
    """An uploader for a bundle .zip; a file that is not a valid bundle is refused."""
    st.file_uploader(
        "Upload a model bundle (.zip)", type=["zip"], key=W_UPLOAD, on_change=_on_upload,
        help="A .zip downloaded from neuromkt (bundle.json + weights.safetensors). Pickle "
        "files (.pt, .pkl) are refused: they can run code.",
    )  # fmt: skip
    show_messages("upload")


def _on_upload() -> None:
    uploaded = st.session_state.get(W_UPLOAD)
    if uploaded is None:
        return
    accept_upload(uploaded)


def accept_upload(source: Any) -> bool:
    """Load an uploaded bundle as the current model; on failure keep the previous one."""
    try:
        bundle = load_bundle(source)
    except NeuromktError as exc:
        kept = " The model loaded before is still in use." if current_bundle() is not None else ""
        post_message("upload", "error", str(exc) + kept)
        return False
    set_bundle(bundle)
    post_message("upload", "success", f"Loaded “{bundle.name}” from the uploaded file.")
    return True
