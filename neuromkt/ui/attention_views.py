"""The widgets of the Attention page: its sections, charts, tables, headline and row summary.

The results they show come from :mod:`neuromkt.ui.attention_cache` (cached by
content) and the pickers from :mod:`neuromkt.ui.attention_controls`. Each section
of the page (overview, segments, words and events, one row) is one function here; the
last three are fragments, so that their own controls rerun only them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from neuromkt.act.export import to_csv_bytes
from neuromkt.errors import DataError
from neuromkt.explain.attention import AttentionMaps, AttentionView
from neuromkt.figures._style import export_config
from neuromkt.figures.attention import (
    feature_bar,
    highlight_html,
    layer_head_heatmap,
    segment_heatmap,
    token_matrix_heatmap,
    token_outcome_bar,
    token_scatter,
)
from neuromkt.ui import attention_cache, attention_controls, escape_markdown
from neuromkt.ui.attention_cache import (
    CACHE_TTL_S,
    NOISE_NOTE,
    AttentionData,
    GlobalResult,
    NoiseResult,
    RowDetail,
    TokenResult,
)

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "analyst_notes",
    "attention_in_short",
    "chart",
    "csv_download",
    "headline",
    "in_short_panel",
    "noise_caption",
    "overview_section",
    "row_section",
    "row_summary",
    "segment_section",
    "token_table_view",
    "words_section",
    "words_tab",
]


@st.cache_resource(show_spinner=False, max_entries=256, ttl=CACHE_TTL_S)
def _figure(name: str, table: pd.DataFrame, options: tuple, _build: Callable) -> go.Figure:
    # Keyed on the table's content (hashed by Streamlit) and the options. The figure is
    # shared, never changed: st.plotly_chart only reads it (Figure.to_dict copies).
    return _build(table, **dict(options))


def chart(
    build: Callable[..., go.Figure], table: pd.DataFrame, *, key: str, filename: str, **options
) -> None:
    """Draw ``build(table, **options)`` full width, with a PNG download in its toolbar.

    The figure is cached on the table's content and the options, so a rerun that shows
    the same data (any control change elsewhere) does not rebuild it.
    """
    name = f"{build.__module__}.{build.__qualname__}"
    fig = _figure(name, table, tuple(sorted(options.items())), build)
    st.plotly_chart(fig, key=key, config=export_config(filename), theme=None)


def csv_download(frame: pd.DataFrame, *, file_name: str, key: str) -> None:
    """A small "Download data (CSV)" button; formulas in text cells are neutralised."""
    st.download_button(
        "Download data (CSV)",
        partial(to_csv_bytes, frame),  # built on click, not on every rerun
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def words_tab(result: TokenResult, column: str, *, task: str, min_count: int) -> None:
    """One text column's words and events: top tokens, attention against outcome, table."""
    vocab = result.vocabulary
    if vocab.empty:
        st.info(
            f"No token of {escape_markdown(column)} is found in {min_count} rows or more; "
            "lower the minimum.",
            icon=":material/info:",
        )
        return
    left, right = st.columns(2, gap="large")
    with left:
        split = result.by_outcome is not None
        title = f"Top tokens of {column}" + (", by outcome" if split else "")
        chart(
            token_outcome_bar,
            result.by_outcome if split else vocab.head(15),
            title=title,
            key=f"att_tokens_{column}",
            filename=f"attention_tokens_{column}",
        )
        st.caption(
            "The tokens the model reads most: average attention in the rows that "
            "contain them" + (", for each outcome side by side." if split else ".")
        )
    if result.outcome_rate is not None:
        with right:
            chart(
                token_scatter,
                vocab.head(40),
                reference=result.outcome_rate,
                title="Attention against outcome",
                key=f"att_scatter_{column}",
                filename=f"attention_vs_outcome_{column}",
            )
            st.caption(
                "Higher: read more by the model. Further right: rows containing the "
                "token have the outcome more often (dashed line: all rows). Bigger "
                "bubbles: more rows. Hover for the exact values."
            )
    token_table_view(vocab, key=f"att_vocab_{column}", task=task)
    csv_download(vocab, file_name=f"attention_tokens_{column}.csv", key=f"att_dl_vocab_{column}")


def token_table_view(vocab: pd.DataFrame, *, key: str, task: str) -> None:
    """The vocabulary table: attention as an inline bar, outcome rate as a percentage."""
    regression = task == "regression"
    shown = vocab.drop(columns="column")
    if shown["outcome_rate"].isna().all():
        shown = shown.drop(columns="outcome_rate")
    st.dataframe(
        shown,
        hide_index=True,
        key=key,
        height=min(36 * (len(vocab) + 1) + 4, 360),
        column_config={
            "token": st.column_config.TextColumn("token"),
            "attention": st.column_config.ProgressColumn(
                "attention",
                format="%.4f",
                min_value=0.0,
                max_value=float(vocab["attention"].max() or 1.0),
                help="Mean attention in the rows that contain the token (repeats added up).",
            ),
            "count": st.column_config.NumberColumn(
                "rows", format="%d", help="Rows that contain the token."
            ),
            "occurrences": st.column_config.NumberColumn("times seen", format="%d"),
            "outcome_rate": st.column_config.NumberColumn(
                "mean outcome" if regression else "outcome rate",
                format="%.4g" if regression else "percent",
                help="Among the rows that contain the token.",
            ),
            "in_vocab": st.column_config.CheckboxColumn(
                "known", help="Unchecked: too rare in training; the model saw [UNK]."
            ),
            "median_dwell_s": st.column_config.NumberColumn(
                "median dwell (s)",
                format="%.1f",
                help="Event logs: the median time from this event to the next one.",
            ),
        },
    )


def attention_in_short(result: GlobalResult, noise: NoiseResult | None) -> list[str]:
    """Plain sentences (not escaped) on what the model reads most, noise named."""
    features = attention_cache.with_noise(result.features, noise)
    flags = (
        features["distinguishable"].fillna(True).astype(bool)
        if "distinguishable" in features
        else pd.Series(True, index=features.index)
    )
    share = features["attention"] / float(features["attention"].sum() or 1.0)
    real = [
        f"{f} ({s:.0%})" for f, s, ok in zip(features["feature"], share, flags, strict=True) if ok
    ]
    lines = []
    if real:
        rest = f", then {' and '.join(real[1:3])}" if len(real) > 1 else ""
        lines.append(f"The model reads {real[0]} most{rest} (share of its attention to columns).")
    if result.top_token is not None:
        token = result.top_token
        lines.append(f"The word or event it reads most is “{token['token']}” in {token['column']}.")
    below = features.loc[~flags, "feature"].tolist()
    if below:
        lines.append(
            f"{', '.join(below[:4])}{' and more' if len(below) > 4 else ''}: not "
            "distinguishable from noise; don't act on them."
        )
    lines.append(
        "Attention is what the model reads, not which way it pushes a score: the Explain "
        "page says that in percentage points of the outcome's chance."
    )
    return lines


def in_short_panel(result: GlobalResult, noise: NoiseResult | None) -> None:
    """The page's first words, in a marketer's terms."""
    with st.container(border=True):
        st.markdown("**In short**")
        lines = attention_in_short(result, noise)
        st.markdown("\n".join(f"- {escape_markdown(line)}" for line in lines))
        if noise is not None:
            st.caption(f"Noise checked on {noise.rows}.")


def analyst_notes(result: GlobalResult) -> None:
    """[CLS] and the attention methods, a sentence each, folded away."""
    with st.expander("For analysts"):
        st.metric(
            "Kept on [CLS] itself",
            f"{result.self_share:.1%}",
            help="Attention the summary token keeps on itself; the rest goes to columns "
            "and tokens.",
        )
        st.markdown(
            "- **[CLS]** is the model's summary token: the score is read from it, and "
            "attention is how much of its look goes to each column or word.\n"
            "- **Rollout** (Abnar & Zuidema 2020) multiplies the layers' attention to "
            "follow information through the whole network; **layer/head** shows one.\n"
            "- **Noise floor**: a permutation test on held-out rows; a column is hatched "
            "when shuffling it does not raise the loss by 2.5 standard errors."
        )


def headline(result: GlobalResult, maps: AttentionMaps, data: AttentionData) -> None:
    """Three numbers above the charts: rows, top column, top word or event."""
    rows_m, column_m, token_m = st.columns(3)
    rows_m.metric("Rows explained", f"{maps.n_rows:,}")
    top = result.features.iloc[0]
    column_m.metric(
        "Top column",
        escape_markdown(top["feature"]),
        f"{top['attention']:.3f}",
        delta_color="off",
        delta_arrow="off",
    )
    if result.top_token is not None:
        token = result.top_token
        token_m.metric(
            "Top word or event",
            escape_markdown(token["token"]),
            f"{token['attention']:.3f} in {escape_markdown(token['column'])}",
            delta_color="off",
            delta_arrow="off",
            help="Among tokens found in at least 20 rows.",
        )
    if maps.n_rows < data.n_total:
        st.caption(
            f"Attention is computed on a random {maps.n_rows:,} of the "
            f"{data.n_total:,} rows (the same rows every time)."
        )


def row_summary(detail: RowDetail, data: AttentionData, bundle: ModelBundle) -> None:
    """The picked row's score and outcome, in a row of metrics."""
    score_m, outcome_m, row_m = st.columns(3)
    score_label = "Predicted value" if bundle.task == "regression" else "Score"
    fmt = "{:,.4g}" if bundle.task == "regression" else "{:.1%}"
    score_m.metric(
        score_label,
        fmt.format(detail.score),
        help="Binary: the probability of the positive outcome; multiclass: of the likeliest class.",
    )
    if bundle.target in data.frame.columns:
        outcome_m.metric(
            f"Actual {escape_markdown(bundle.target)}",
            escape_markdown(data.frame.at[detail.row, bundle.target]),
        )
    row_m.metric("Row", f"{detail.row}")


# ---------------------------------------------------------------- the page's sections
# Each section is a tab that runs only while it is open (a control change redraws one
# section's charts, not the page's); the last three are fragments: their own controls
# rerun only that section.


def noise_caption(table: pd.DataFrame, noise: NoiseResult | None) -> None:
    """One sentence on the hatched bars (and the rows they were tested on), if any."""
    if noise is None:
        return
    if "distinguishable" in table and (table["distinguishable"] == False).any():  # noqa: E712
        st.caption(f"{NOISE_NOTE} (Tested on {noise.rows}.)")
    else:
        st.caption(f"Every column here stands out from noise (tested on {noise.rows}).")


def overview_section(
    overview: GlobalResult, view: AttentionView, noise: NoiseResult | None = None
) -> None:
    """Columns ranked by attention (hatched below the noise floor), next to every layer and head."""
    features = attention_cache.with_noise(overview.features, noise)
    bar_col, heat_col = st.columns([5, 6], gap="large")
    with bar_col:
        chart(
            feature_bar,
            features,
            title=f"Columns ranked by attention ({view.describe()})",
            key="att_feature_bar",
            filename="attention_ranked",
        )
        st.caption(
            "Each bar is the average share of the model's attention that goes to a column, "
            "over all rows; longer bars are read more. A text or event column adds up its "
            "words. Hover for the exact value, median and spread."
        )
        noise_caption(features, noise)
        csv_download(overview.features, file_name="attention_ranked.csv", key="att_dl_ranked")
    with heat_col:
        chart(
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
        csv_download(
            overview.layer_heads, file_name="attention_layers_heads.csv", key="att_dl_heads"
        )


@st.fragment
def segment_section(
    dataset: Dataset,
    bundle: ModelBundle,
    maps: AttentionMaps,
    data: AttentionData,
    view: AttentionView,
) -> None:
    """Attention per column for each segment of rows, with its own segment picker."""
    by, diff = attention_controls.segment_picker(dataset, bundle)
    try:
        segments = attention_cache.segment_result(maps, data, view, by)
    except DataError as exc:
        st.warning(escape_markdown(exc), icon=":material/warning:")
        return
    chart(
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
    csv_download(segments, file_name="attention_segments.csv", key="att_dl_segments")


@st.fragment
def words_section(
    bundle: ModelBundle, maps: AttentionMaps, data: AttentionData, view: AttentionView
) -> None:
    """A tab per text or event column, with the least count a token needs to be shown."""
    min_count = st.slider(
        "Leave out tokens found in fewer rows than",
        2,
        200,
        20,
        key=attention_controls.W_MIN_COUNT,
        help="Rare tokens have noisy averages; raise this to see only common ones.",
    )
    text_columns = [e.name for e in bundle.encoders.text]
    tabs = st.tabs([escape_markdown(c) for c in text_columns])
    for tab, column in zip(tabs, text_columns, strict=True):
        with tab:
            result = attention_cache.token_result(maps, data, view, column, min_count)
            words_tab(result, column, task=bundle.task, min_count=min_count)


@st.fragment
def row_section(
    bundle: ModelBundle, maps: AttentionMaps, data: AttentionData, view: AttentionView
) -> None:
    """One picked row: its score, its words highlighted, its columns and token matrix."""
    row = attention_controls.row_picker(maps, data, bundle)
    if row is None:
        return
    detail = attention_cache.row_detail(bundle, maps, data, view, row)
    row_summary(detail, data, bundle)
    text_columns = [e.name for e in bundle.encoders.text]
    for column in text_columns:
        tokens = detail.tokens[detail.tokens["column"] == column]
        st.html(highlight_html(data.frame.at[row, column], tokens, label=column))
    if text_columns:
        st.caption(
            "Darker words got more of the model's attention in this row (hover for "
            "the value). Struck-through words came after the model's length limit; "
            "dotted ones were unknown to it."
        )
    # The token × token matrix takes the full width: its labels need a column each.
    row_col, matrix_col = st.container(), st.container()
    with row_col:
        chart(
            feature_bar,
            detail.features,
            title=f"Row {row}: attention per column",
            key="att_row_bar",
            filename=f"attention_row_{row}",
        )
        st.caption("The same ranking as above, for this row only, with its values.")
        csv_download(detail.features, file_name=f"attention_row_{row}.csv", key="att_dl_row")
    with matrix_col:
        chart(
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
        csv_download(
            detail.matrix, file_name=f"attention_matrix_row_{row}.csv", key="att_dl_matrix"
        )
