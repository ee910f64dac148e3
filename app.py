"""neuromkt dashboard: the router.

Run it with ``make run`` (or ``streamlit run app.py``). Pages live in ``views/``;
add a page by adding one ``st.Page`` line to ``_pages()``.
"""

from __future__ import annotations

import streamlit as st

from neuromkt.ui import escape_markdown
from neuromkt.ui.server import configure_torch_threads, freeze_startup_objects
from neuromkt.ui.sidebar import render_sidebar
from neuromkt.ui.state import init_state


def _pages() -> list[st.Page]:
    """Every page of the dashboard, in menu order."""
    return [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/data.py", title="Data", icon=":material/table:"),
        st.Page("views/train.py", title="Train", icon=":material/model_training:"),
        st.Page("views/attention.py", title="Attention", icon=":material/visibility:"),
        st.Page("views/explain.py", title="Explain", icon=":material/insights:"),
        st.Page("views/predict.py", title="Predict & what-if", icon=":material/target:"),
        st.Page("views/report.py", title="Report", icon=":material/summarize:"),
    ]


def main() -> None:
    """Configure the page, set up session state, draw the shared sidebar, run the page."""
    freeze_startup_objects()  # once per process: keeps Streamlit's GC after each run cheap
    # An emoji icon: Streamlit draws it locally, while a Material favicon is fetched
    # from fonts.gstatic.com, which fails offline.
    st.set_page_config(page_title="neuromkt", page_icon="🧠", layout="wide")
    if problem := configure_torch_threads():  # once per process: one core left free
        st.warning(escape_markdown(problem), icon=":material/warning:")
    init_state()
    page = st.navigation(_pages())
    render_sidebar()
    page.run()


if __name__ == "__main__":
    main()
