"""The one call every page of the dashboard starts with: :func:`setup_page`.

Streamlit runs a page of the ``pages/`` folder on its own, without ``app.py``: a page
opened by its URL as the first request of a fresh server runs nothing else. So every
page, Home included, sets itself up in full with one call here.
"""

from __future__ import annotations

import streamlit as st

from neuromkt.ui import escape_markdown
from neuromkt.ui.server import configure_torch_threads, freeze_startup_objects
from neuromkt.ui.sidebar import render_sidebar
from neuromkt.ui.state import KEY_LINK_ERROR, KEY_STORE_WARNING, attach_project, init_state

__all__ = ["APP_NAME", "setup_page"]

APP_NAME = "neuromkt"
# An emoji icon: Streamlit draws it locally, while a Material favicon is fetched from
# fonts.gstatic.com, which fails offline.
_FAVICON = "🧠"


def setup_page(title: str | None = None) -> None:
    """Set the page up: page config, process tuning, session state, the project named
    by the URL, the shared sidebar.

    Call it first thing in every page script, before any other Streamlit command.

    Args:
        title: The page's name for the browser tab ("Data" shows "Data · neuromkt");
            None for Home, which shows "neuromkt".
    """
    freeze_startup_objects()  # once per process, before any session state exists
    page_title = APP_NAME if title is None else f"{title} · {APP_NAME}"
    st.set_page_config(page_title=page_title, page_icon=_FAVICON, layout="wide")
    if problem := configure_torch_threads():  # once per process: one core left free
        st.warning(escape_markdown(problem), icon=":material/warning:")
    init_state()
    attach_project()  # the URL's workspace and project; reloads their data and model
    render_sidebar()
    if message := st.session_state.pop(KEY_LINK_ERROR, None):
        st.error(escape_markdown(message), icon=":material/link_off:")
    if message := st.session_state.pop(KEY_STORE_WARNING, None):
        st.warning(escape_markdown(message), icon=":material/warning:")
