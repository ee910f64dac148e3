"""Explain: why a prediction happened, and whether the attention heatmap tells the truth."""

from __future__ import annotations

import streamlit as st

from neuromkt.errors import DataError, ModelError
from neuromkt.explain.agreement import agreement_by_segment, row_comparison, verdict
from neuromkt.explain.attributions import METHODS, convergence
from neuromkt.explain.segments import segment_labels
from neuromkt.explain.summaries import (
    attribution_strip,
    feature_ranking,
    row_tokens,
    segment_attribution,
    token_ranking,
    waterfall_steps,
)
from neuromkt.explain.tokens import row_token_weights
from neuromkt.figures.attention import highlight_html
from neuromkt.figures.explain import (
    attention_attribution_bars,
    attribution_strip_figure,
    deletion_figure,
    ranking_bar,
    segment_attribution_heatmap,
    tau_histogram,
    token_attribution_html,
    waterfall_figure,
)
from neuromkt.ui import attention_views, escape_markdown, explain_cache
from neuromkt.ui import explain_views as ev
from neuromkt.ui.state import require_bundle, require_dataset

st.title("Explain")
st.caption(
    "Attributions say how much each column and each word pushed a prediction up or down, "
    "compared with a baseline row. Below, they are checked against the attention heatmap: "
    "does what the model looks at match what actually drives its scores?"
)

# ---------------------------------------------------------------- guard
dataset = require_dataset()
bundle = require_bundle()

# ---------------------------------------------------------------- inputs
text_columns = [e.name for e in bundle.encoders.text]
with st.container(border=True):
    settings = ev.settings_controls(bundle, len(dataset.frame))
    settings, view, k, scope = ev.comparison_controls(bundle, settings)
try:
    data = explain_cache.explain_data(dataset, bundle, settings.rows)
except ModelError as exc:
    st.error(escape_markdown(exc), icon=":material/error:")
    st.stop()

# ---------------------------------------------------------------- one call
attribution = explain_cache.attribution_for(bundle, data, settings)
method = METHODS[settings.method]
unit = attribution.output.label
check = convergence(attribution)
if not check.available:
    st.caption(f"{check.message} Its values need not add up to the score difference.")
elif check.ok:
    st.success(check.message, icon=":material/check_circle:")
else:
    st.warning(check.message, icon=":material/warning:")

# ---------------------------------------------------------------- global view
st.header("What drives the predictions", divider="gray")
ranking = feature_ranking(attribution)
bar_col, strip_col = st.columns([5, 6], gap="large")
with bar_col:
    ev.chart(
        ranking_bar(ranking, title=f"Columns ranked by {method.label}", unit=unit),
        key="exp_ranking",
        filename="attribution_ranked",
    )
    st.caption(
        f"Bar length: the average size of a column's push on the {escape_markdown(unit)}, up "
        "or down. Colour: its average direction (red raises, blue lowers)."
    )
    attention_views.csv_download(
        attribution.values.features, file_name="attributions.csv", key="exp_dl_rows"
    )
with strip_col:
    ev.chart(
        attribution_strip_figure(
            attribution_strip(attribution, data.frame), title="Every row, column by column"
        ),
        key="exp_strip",
        filename="attribution_strip",
    )
    st.caption(
        "One dot per row: how far the column pushed that row's score (right raises, left "
        "lowers), coloured by the column's value (red high, blue low; grey: categories)."
    )

if text_columns:
    st.subheader("Words and events")
    tabs = st.tabs([escape_markdown(c) for c in text_columns])
    tokens = token_ranking(attribution, min_count=5)
    for tab, column in zip(tabs, text_columns, strict=True):
        mine = tokens[tokens["column"] == column]
        with tab:
            if mine.empty:
                st.info(
                    f"No token of {escape_markdown(column)} is found in 5 rows or more.",
                    icon=":material/info:",
                )
                continue
            table_col, chart_col = st.columns([5, 6], gap="large")
            with table_col:
                ev.token_table(mine, key=f"exp_tokens_{column}")
            with chart_col:
                ev.chart(
                    ranking_bar(mine.head(15), label="token", unit=unit,
                                title=f"{column}: words ranked"),
                    key=f"exp_token_bar_{column}",
                    filename=f"attribution_tokens_{column}",
                )  # fmt: skip

# ---------------------------------------------------------------- segments
# The segment and row sections are fragments: their own pickers rerun only them.
maps = explain_cache.attention_maps(bundle, data)
table, summary = explain_cache.agreement_for(bundle, data, settings, attribution, view, k)


@st.fragment
def segment_section() -> None:
    with st.columns([2, 3])[0]:
        by = ev.segment_picker(dataset, bundle)
    try:
        labels = segment_labels(maps, data.frame, by)
    except DataError as exc:
        st.warning(escape_markdown(exc), icon=":material/warning:")
        return
    ev.chart(
        segment_attribution_heatmap(
            segment_attribution(attribution, labels), title="Attribution by segment"
        ),
        key="exp_segments",
        filename="attribution_segments",
    )
    st.caption(
        "Each cell: the average size of a column's push for the rows of one segment. Hover "
        "for its direction."
    )
    st.subheader("Does attention agree with the attributions in each segment?")
    ev.segment_agreement_table(agreement_by_segment(table, labels))


st.header("By segment", divider="gray")
segment_section()


# ---------------------------------------------------------------- one row
@st.fragment
def row_section() -> None:
    row = ev.row_picker(attribution, data, bundle)
    ev.row_metrics(attribution, data, row)
    fall_col, side_col = st.columns(2, gap="large")
    with fall_col:
        ev.chart(
            waterfall_figure(
                waterfall_steps(attribution, data.frame, row),
                title=f"From the baseline row to this row ({unit})",
            ),
            key="exp_waterfall",
            filename="attribution_waterfall",
        )
    with side_col:
        attention = explain_cache.attention_values(bundle, data, view)
        ev.chart(
            attention_attribution_bars(
                row_comparison(attribution, attention, bundle.encoders, row),
                title="What it looks at vs what moves the score",
            ),
            key="exp_side_by_side",
            filename="attention_vs_attribution",
        )
    row_label = data.frame.index[row]
    if text_columns:
        words = row_tokens(attribution, data.frame, row)
        weights = row_token_weights(maps, data.frame, row_label, view)
        for column in text_columns:
            attr_col, att_col = st.columns(2, gap="large")
            cell = data.frame.at[row_label, column]
            with attr_col:
                st.html(
                    token_attribution_html(
                        cell, words[words["column"] == column], label=f"{column}: attribution"
                    )
                )
            with att_col:
                st.html(
                    highlight_html(
                        cell, weights[weights["column"] == column], label=f"{column}: attention"
                    )
                )


st.header("One prediction, step by step", divider="gray")
row_section()

# ---------------------------------------------------------------- agreement
st.header("Does the attention heatmap tell the truth?", divider="gray")
curve = explain_cache.deletion_for(bundle, data, settings, attribution, view, scope)
st.info(verdict(summary, settings.method, curve), icon=":material/fact_check:")
ev.agreement_metrics(summary)
hist_col, curve_col = st.columns(2, gap="large")
with hist_col:
    scopes = ["features", "tokens"] if text_columns else ["features"]
    for tab, name in zip(st.tabs([s.capitalize() for s in scopes]), scopes, strict=True):
        with tab:
            ev.chart(
                tau_histogram(table, scope=name, title=f"Rank agreement per row ({name})"),
                key=f"exp_tau_{name}",
                filename=f"agreement_tau_{name}",
            )
    st.caption(
        "Kendall τ per row between attention and the size of the attributions: 1 = the same "
        "order, 0 = unrelated. Grey: uniform attention, the no-information reference "
        "(Wiegreffe & Pinter 2019). Shaded: what Jain & Wallace (2019) found on text tasks."
    )
with curve_col:
    ev.chart(
        deletion_figure(
            curve.curve, curve.auc, labels={"attribution": method.label},
            title="Remove the top inputs: how fast does the score fall?",
        ),
        key="exp_deletion",
        filename="deletion_curve",
    )  # fmt: skip
    st.caption(
        "Each line removes inputs (sets them to the baseline) in the order a ranking gives. "
        "The faster the score falls, the more faithful the ranking; a smaller area is better."
    )
