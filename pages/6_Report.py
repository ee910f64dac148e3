"""Report: one standalone HTML file with the findings, to download and present."""

from __future__ import annotations

import streamlit as st

from neuromkt.ui import report_views as rv
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import require_bundle, require_dataset

setup_page("Report")
st.title("Report")
st.caption(
    "One HTML file with everything worth showing: the data, how good the model is, what "
    "it attends to, what drives its scores, three rows explained and who to contact. It "
    "opens offline in any browser, ready for a meeting or a projector."
)

# ---------------------------------------------------------------- guard
dataset = require_dataset()
bundle = require_bundle()

# ---------------------------------------------------------------- inputs
title = st.text_input(
    "Title", value=f"What drives {bundle.target}", key=rv.W_REPORT_TITLE, max_chars=120,
    help="Shown at the top of the report and in the browser tab.",
)  # fmt: skip
report = rv.report_controls(bundle, dataset, title)

# ---------------------------------------------------------------- render
if report is not None:
    rv.report_download(report)
    rv.report_preview(report)
