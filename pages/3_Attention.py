"""Attention: what the model looks at, column by column and word by word."""

from __future__ import annotations

import streamlit as st

from neuromkt.errors import ModelError
from neuromkt.ui import attention_cache, attention_controls, escape_markdown
from neuromkt.ui import attention_views as av
from neuromkt.ui.page import setup_page
from neuromkt.ui.state import require_bundle, require_dataset

setup_page("Attention")
st.title("Attention")
st.caption(
    "To score a row, the model gathers information from every column and every word or "
    "event. Attention is how much of its look goes to each: what the model reads, not "
    "which way it pushes a score (the Explain page says that)."
)
summary_slot = st.container()  # "In short" goes first, once the results are known

# ---------------------------------------------------------------- guard
dataset = require_dataset()
bundle = require_bundle()
try:
    data = attention_cache.attention_data(dataset, bundle)
except ModelError as exc:
    st.error(escape_markdown(exc), icon=":material/error:")
    st.stop()

# ---------------------------------------------------------------- inputs
config = bundle.model.config
with st.container(border=True):
    view = attention_controls.view_controls(config.n_layers, config.n_heads)

# ---------------------------------------------------------------- one call
maps = attention_cache.maps_for(bundle, data)
overview = attention_cache.global_result(maps, data, view)
noise = attention_cache.noise_result(dataset, bundle)

# ---------------------------------------------------------------- render
# Each section is a tab that runs only while it is open.
with summary_slot:
    av.in_short_panel(overview, noise)
    av.analyst_notes(overview)
av.headline(overview, maps, data)
sections = attention_controls.section_tabs(has_text=bool(bundle.encoders.text))
with sections["overview"]:
    if sections["overview"].open:
        av.overview_section(overview, view, noise)
with sections["segments"]:
    if sections["segments"].open:
        av.segment_section(dataset, bundle, maps, data, view)
if "words" in sections:
    with sections["words"]:
        if sections["words"].open:
            av.words_section(bundle, maps, data, view)
with sections["row"]:
    if sections["row"].open:
        av.row_section(bundle, maps, data, view)
