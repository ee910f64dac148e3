"""Home's list of the workspace's projects: open, rename, delete (with confirmation)."""

from __future__ import annotations

import streamlit as st

from neuromkt.errors import NeuromktError
from neuromkt.projects.store import ProjectInfo
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    DATA_PAGE,
    close_project,
    current_project_id,
    current_workspace,
    link_params,
    open_project,
    project_store,
    set_notice,
)
from neuromkt.ui.train_results import format_created

__all__ = [
    "W_PROJECT_DELETE",
    "W_PROJECT_OPEN",
    "W_PROJECT_RENAME",
    "W_PROJECT_RENAME_TO",
    "go_to_opened_project",
    "project_list",
]

# Widget keys (one per project: the key ends with the project id).
W_PROJECT_OPEN = "home_project_open_"  # "Open" button
W_PROJECT_RENAME = "home_project_rename_"  # "Rename" button inside the popover
W_PROJECT_RENAME_TO = "home_project_rename_to_"  # new name
W_PROJECT_DELETE = "home_project_delete_"  # "Delete for good" button inside the popover
KEY_HOME_MESSAGE = "home_message"  # (kind, text) | None: the outcome of the last action


def project_list() -> None:
    """The workspace's projects, most recently opened first, each with its actions."""
    st.subheader("Your projects")
    st.caption(
        "A project keeps a data set, its column roles and its models, so a reload, a "
        "second tab or a bookmark opens the same work. **Whoever has this page's link "
        "has these projects**: there is no sign-in, the link is the key. Bookmark it; "
        "share it only with people who may see this data."
    )
    if message := st.session_state.pop(KEY_HOME_MESSAGE, None):
        kind, text = message
        (st.success if kind == "success" else st.error)(escape_markdown(text))
    try:
        projects = project_store().list_projects(current_workspace())
    except NeuromktError as exc:
        st.error(escape_markdown(str(exc)), icon=":material/error:")
        return
    if not projects:
        st.caption("No projects yet: try a sample below, or upload your own data.")
        return
    current = current_project_id()
    for info in projects:
        _project_row(info, is_open=info.project_id == current)


def _project_row(info: ProjectInfo, *, is_open: bool) -> None:
    pid = info.project_id
    with st.container(border=True):
        text, open_col, rename_col, delete_col = st.columns(
            [6, 1.3, 1.3, 1.3], vertical_alignment="center"
        )
        models = f"{info.n_models} model" + ("" if info.n_models == 1 else "s")
        opened = " · open now" if is_open else ""
        text.markdown(
            f"**{escape_markdown(info.name)}**{opened}  \n"
            f"{escape_markdown(info.dataset)} · {info.n_rows:,} rows · {models} · "
            f"last opened {format_created(info.opened_at)}"
        )
        open_col.button(
            "Open", key=f"{W_PROJECT_OPEN}{pid}", icon=":material/folder_open:",
            on_click=_open, args=(pid,), width="stretch",
            type="secondary" if is_open else "primary",
        )  # fmt: skip
        with rename_col.popover("Rename", icon=":material/edit:", width="stretch"):
            st.text_input("New name", key=f"{W_PROJECT_RENAME_TO}{pid}", max_chars=120)
            st.button("Rename", key=f"{W_PROJECT_RENAME}{pid}", on_click=_rename, args=(pid,))
        with delete_col.popover("Delete", icon=":material/delete:", width="stretch"):
            st.markdown(
                f"Delete **{escape_markdown(info.name)}**, its data set and its "
                f"{models} for good? This cannot be undone."
            )
            st.button(
                "Delete for good", key=f"{W_PROJECT_DELETE}{pid}", type="primary",
                on_click=_delete, args=(pid,),
            )  # fmt: skip


def _open(project_id: str) -> None:
    open_project(project_id)
    if current_project_id() == project_id:
        set_notice("Opened the project.")
        st.session_state["home_go_data"] = True


def _rename(project_id: str) -> None:
    name = str(st.session_state.get(f"{W_PROJECT_RENAME_TO}{project_id}") or "").strip()
    if not name:
        st.session_state[KEY_HOME_MESSAGE] = ("error", "Type a new name first.")
        return
    try:
        info = project_store().rename_project(current_workspace(), project_id, name)
    except NeuromktError as exc:
        st.session_state[KEY_HOME_MESSAGE] = ("error", str(exc))
        return
    st.session_state[KEY_HOME_MESSAGE] = ("success", f"Renamed to “{info.name}”.")


def _delete(project_id: str) -> None:
    try:
        store, workspace = project_store(), current_workspace()
        name = store.get_project(workspace, project_id).name
        store.delete_project(workspace, project_id)
    except NeuromktError as exc:
        st.session_state[KEY_HOME_MESSAGE] = ("error", str(exc))
        return
    if current_project_id() == project_id:
        close_project()
    st.session_state[KEY_HOME_MESSAGE] = ("success", f"Deleted “{name}” and its files.")


def go_to_opened_project() -> None:
    """After "Open": switch to the Data page of the opened project."""
    if st.session_state.pop("home_go_data", False):
        st.switch_page(DATA_PAGE, query_params=link_params())
