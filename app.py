"""neuromkt dashboard, Home: what neuromkt does, one click to a sample, how the pages fit.

Run it with ``make run`` (or ``streamlit run app.py``). The other pages are the scripts
in ``pages/`` (Streamlit's pages-directory convention: ``pages/1_Data.py`` is served at
``/Data``); each one, like this one, starts with ``setup_page``.
"""

from __future__ import annotations

import streamlit as st

from neuromkt.data.samples import SAMPLES
from neuromkt.ui.home_views import go_to_opened_project, project_list
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import DATA_PAGE, link_params, try_sample

setup_page()
go_to_opened_project()
st.title("neuromkt")
st.markdown(
    "**Attention analytics for marketers.** Upload behaviour data — sessions, ad "
    "impressions, search keywords, clickstreams — and train an attention model on it "
    "right here in the browser. Then see what the model attends to, feature by feature "
    "and word by word, side by side with Captum attributions that check it."
)

project_list()

st.subheader("Start with a sample")
for column, spec in zip(st.columns(len(SAMPLES)), SAMPLES.values(), strict=True):
    with column, st.container(border=True, height="stretch"):
        with st.container(height="stretch"):  # pushes the button to the card's bottom
            st.markdown(f"**{spec.title}**")
            st.caption(f"{spec.n_rows:,} rows · outcome: `{spec.target}`")
            st.write(spec.description)
        if st.button("Try the sample", key=f"home_try_{spec.key}", type="primary"):
            try_sample(spec.key)  # a new project of this workspace
            st.switch_page(DATA_PAGE, query_params=link_params())

st.page_link(
    DATA_PAGE, label="Or upload your own data", icon=":material/upload_file:",
    query_params=link_params(),
)  # fmt: skip

st.subheader("How it works")
steps = [
    ("Data", "Upload a table (one row per session, customer or impression) and pick the outcome."),
    ("Train", "Train a small attention model on it, right here in the browser."),
    ("Attention", "See which features and which words or events the model attends to."),
    ("Explain", "Check attention against Captum attributions, per feature and per token."),
    ("Predict", "Score new rows and try what-if changes to one customer or session."),
    ("Report", "Download a standalone HTML report to share the findings."),
]
for column, (number, (name, text)) in zip(st.columns(len(steps)), enumerate(steps, 1), strict=True):
    with column:
        st.markdown(f"**{number}. {name}**")
        st.caption(text)
