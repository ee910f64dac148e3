"""Explain: why a prediction happened, and whether the attention heatmap tells the truth."""

from __future__ import annotations

import streamlit as st

from neuromkt.errors import ModelError
from neuromkt.ui import attention_cache, escape_markdown, explain_cache
from neuromkt.ui import explain_views as ev
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import require_bundle, require_dataset

setup_page("Explain")
st.title("Explain")
st.caption(
    "Attributions say how much each column and each word pushed a prediction up or down, "
    "compared with a baseline row. Below, they are checked against the attention heatmap: "
    "does what the model looks at match what actually drives its scores?"
)

# ---------------------------------------------------------------- guard
dataset = require_dataset()
bundle = require_bundle()

summary_slot = st.container()  # "In short" goes first, once the drivers are known

# ---------------------------------------------------------------- inputs
with st.container(border=True):
    settings = ev.settings_controls(bundle, len(dataset.frame))
    settings, view, k, scope = ev.comparison_controls(bundle, settings)
try:
    data = explain_cache.explain_data(dataset, bundle, settings.rows)
except ModelError as exc:
    st.error(escape_markdown(exc), icon=":material/error:")
    st.stop()

# ---------------------------------------------------------------- one call, then render
# Each result is computed just before the section that shows it, so the page fills in
# from the top while the slower ones (agreement, deletion curves) are still running.
attribution = explain_cache.attribution_for(bundle, data, settings)
noise = attention_cache.noise_result(dataset, bundle)
summary = explain_cache.summary_for(bundle, data, settings, attribution, noise)
with summary_slot:
    ev.in_short_panel(summary, bundle, noise)
    ev.analyst_notes(attribution)

st.header("What drives the predictions", divider="gray")
ev.drivers_section(attribution, data, bundle, noise, summary)

maps = explain_cache.attention_maps(bundle, data)
table, summary = explain_cache.agreement_for(bundle, data, settings, attribution, view, k)
st.header("By segment", divider="gray")
ev.segment_section(dataset, bundle, attribution, data, maps, table)

st.header("One prediction, step by step", divider="gray")
ev.row_section(bundle, attribution, data, maps, view)

st.header("Does the attention heatmap tell the truth?", divider="gray")
curve = explain_cache.deletion_for(bundle, data, settings, attribution, view, scope)
ev.agreement_section(attribution, table, summary, curve, has_text=bool(bundle.encoders.text))
