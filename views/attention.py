"""Attention: what the model looks at, column by column and word by word."""

from __future__ import annotations

import streamlit as st

from neuromkt.errors import DataError, ModelError
from neuromkt.explain.attention import AttentionView
from neuromkt.figures.attention import (
    feature_bar,
    highlight_html,
    layer_head_heatmap,
    segment_heatmap,
    token_matrix_heatmap,
)
from neuromkt.ui import attention_cache, attention_controls, escape_markdown
from neuromkt.ui import attention_views as av
from neuromkt.ui.state import require_bundle, require_dataset

st.title("Attention")
st.caption(
    "To score a row, the model's summary token ([CLS]) gathers information from every "
    "column and every word or event. Attention is how much of its look goes to each. It "
    "shows what the model reads; whether that pushes a score up or down is for the "
    "Explain page's attributions to confirm."
)

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
av.headline(overview, maps, data)

# Each section is a tab that runs only while it is open (a control change redraws one
# section's charts, not the page's), and a fragment inside it: its own controls rerun
# only that section.


# ---------------------------------------------------------------- overview
def overview_section(overview: attention_cache.GlobalResult, view: AttentionView) -> None:
    bar_col, heat_col = st.columns([5, 6], gap="large")
    with bar_col:
        av.chart(
            feature_bar,
            overview.features,
            title=f"Columns ranked by attention ({view.describe()})",
            key="att_feature_bar",
            filename="attention_ranked",
        )
        st.caption(
            "Each bar is the average share of the model's attention that goes to a column, "
            "over all rows; longer bars are read more. A text or event column adds up its "
            "words. Hover for the exact value, median and spread."
        )
        av.csv_download(overview.features, file_name="attention_ranked.csv", key="att_dl_ranked")
    with heat_col:
        av.chart(
            layer_head_heatmap,
            overview.layer_heads,
            title="Every layer and head",
            key="att_layer_heads",
            filename="attention_layers_heads",
        )
        st.caption(
            "One column per attention head, grouped by layer: brighter cells mean that head "
            "looks at that column more. Heads that disagree are normal; they specialise."
        )
        av.csv_download(
            overview.layer_heads, file_name="attention_layers_heads.csv", key="att_dl_heads"
        )


# ---------------------------------------------------------------- segments
@st.fragment
def segment_section(view: AttentionView) -> None:
    by, diff = attention_controls.segment_picker(dataset, bundle)
    try:
        segments = attention_cache.segment_result(maps, data, view, by)
    except DataError as exc:
        st.warning(escape_markdown(exc), icon=":material/warning:")
        return
    av.chart(
        segment_heatmap,
        segments,
        diverging=diff,
        title="Attention by segment",
        key="att_segments",
        filename="attention_segments",
    )
    st.caption(
        "Red: this segment's rows get more attention on the column than rows overall; "
        "blue: less. Switch off the difference to see the attention itself."
        if diff
        else "Each cell is the average attention on a column for the rows of one segment; "
        "compare along a row to see where the model reads differently."
    )
    av.csv_download(segments, file_name="attention_segments.csv", key="att_dl_segments")


# ---------------------------------------------------------------- words and events
@st.fragment
def words_section(view: AttentionView, text_columns: list[str]) -> None:
    min_count = st.slider(
        "Leave out tokens found in fewer rows than",
        2,
        200,
        20,
        key=attention_controls.W_MIN_COUNT,
        help="Rare tokens have noisy averages; raise this to see only common ones.",
    )
    tabs = st.tabs([escape_markdown(c) for c in text_columns])
    for tab, column in zip(tabs, text_columns, strict=True):
        with tab:
            result = attention_cache.token_result(maps, data, view, column, min_count)
            av.words_tab(result, column, task=bundle.task, min_count=min_count)


# ---------------------------------------------------------------- one row
@st.fragment
def row_section(view: AttentionView, text_columns: list[str]) -> None:
    row = attention_controls.row_picker(maps, data, bundle)
    if row is None:
        return
    detail = attention_cache.row_detail(bundle, maps, data, view, row)
    av.row_summary(detail, data, bundle)
    for column in text_columns:
        tokens = detail.tokens[detail.tokens["column"] == column]
        st.html(highlight_html(data.frame.at[row, column], tokens, label=column))
    if text_columns:
        st.caption(
            "Darker words got more of the model's attention in this row (hover for "
            "the value). Struck-through words came after the model's length limit; "
            "dotted ones were unknown to it."
        )
    row_col, matrix_col = st.columns([5, 6], gap="large")
    with row_col:
        av.chart(
            feature_bar,
            detail.features,
            title=f"Row {row}: attention per column",
            key="att_row_bar",
            filename=f"attention_row_{row}",
        )
        st.caption("The same ranking as above, for this row only, with its values.")
        av.csv_download(detail.features, file_name=f"attention_row_{row}.csv", key="att_dl_row")
    with matrix_col:
        av.chart(
            token_matrix_heatmap,
            detail.matrix,
            title=f"Who attends to whom, row {row} ({view.describe()})",
            key="att_matrix",
            filename=f"attention_matrix_{row}",
        )
        st.caption(
            "Every token of the row looking at every other (read across a row). The "
            "top row is [CLS], the one the score is read from."
        )
        av.csv_download(
            detail.matrix, file_name=f"attention_matrix_row_{row}.csv", key="att_dl_matrix"
        )


text_columns = [e.name for e in bundle.encoders.text]
sections = attention_controls.section_tabs(has_text=bool(text_columns))
with sections["overview"]:
    if sections["overview"].open:
        overview_section(overview, view)
with sections["segments"]:
    if sections["segments"].open:
        segment_section(view)
if "words" in sections:
    with sections["words"]:
        if sections["words"].open:
            words_section(view, text_columns)
with sections["row"]:
    if sections["row"].open:
        row_section(view, text_columns)
