"""The widgets of the Attention page: pickers, charts, tables and the headline.

The results they show come from :mod:`neuromkt.ui.attention_cache` (cached by
content), re-exported here so the page needs one import.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from neuromkt.attention import AttentionMaps, AttentionView
from neuromkt.attention_segments import OUTCOME, SCORE_DECILE, example_row
from neuromkt.attention_tokens import search_rows
from neuromkt.export import to_csv_bytes
from neuromkt.figures._style import export_config
from neuromkt.figures.attention import token_outcome_bar, token_scatter
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import (
    CACHE_TTL_S,
    MAX_ROWS,
    AttentionData,
    GlobalResult,
    RowDetail,
    TokenResult,
    attention_data,
    bundle_key,
    global_result,
    maps_for,
    row_detail,
    segment_result,
    token_result,
)

if TYPE_CHECKING:
    from neuromkt.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "ALL",
    "MAX_ROWS",
    "W_HEAD",
    "W_LAYER",
    "W_METHOD",
    "W_MIN_COUNT",
    "W_ROW_COLUMN",
    "W_ROW_INDEX",
    "W_ROW_MATCH",
    "W_ROW_MODE",
    "W_ROW_QUERY",
    "W_SECTION",
    "W_SEGMENT",
    "W_SEGMENT_DIFF",
    "AttentionData",
    "AttentionView",
    "GlobalResult",
    "RowDetail",
    "TokenResult",
    "attention_data",
    "bundle_key",
    "chart",
    "csv_download",
    "global_result",
    "headline",
    "maps_for",
    "row_detail",
    "row_picker",
    "row_summary",
    "section_tabs",
    "segment_options",
    "segment_picker",
    "segment_result",
    "token_result",
    "token_table_view",
    "view_controls",
    "words_tab",
]

ALL = -1  # the layer/head pickers' "all layers" / "mean of heads"
# Widget keys of the Attention page.
W_METHOD = "att_method"  # aggregation: mean / rollout
W_LAYER = "att_layer"  # layer, or all
W_HEAD = "att_head"  # head, or the mean of heads
W_SECTION = "att_section"  # the open tab: overview, segments, words, one row
W_SEGMENT = "att_segment"  # what to split rows by
W_SEGMENT_DIFF = "att_segment_diff"  # colour the difference from overall
W_MIN_COUNT = "att_min_count"  # least rows a token must appear in
W_ROW_MODE = "att_row_mode"  # how the row is picked
W_ROW_INDEX = "att_row_index"  # row label typed in
W_ROW_COLUMN = "att_row_column"  # text column to search
W_ROW_QUERY = "att_row_query"  # search text
W_ROW_MATCH = "att_row_match"  # chosen match

_SECTIONS = {  # key -> tab label, in page order
    "overview": "Overview",
    "segments": "By segment",
    "words": "Words and events",
    "row": "One row up close",
}
_METHODS = {"mean": "Mean", "rollout": "Rollout"}
_ROW_MODES = {
    "high": "A high-scoring positive",
    "low": "A low-scoring negative",
    "index": "By row number",
    "search": "Search the text",
}


# ---------------------------------------------------------------- widgets


def view_controls(n_layers: int, n_heads: int) -> AttentionView:
    """Aggregation, layer and head pickers in one row; returns the chosen view."""
    method_col, layer_col, head_col = st.columns([2, 2, 2])
    with method_col:
        method = (
            st.segmented_control(
                "Aggregation",
                list(_METHODS),
                format_func=_METHODS.get,
                default="mean",
                required=True,
                key=W_METHOD,
                help="Mean: the [CLS] token's attention, averaged over the chosen layers and "
                "heads. Rollout (Abnar & Zuidema, 2020): attention traced through the layers, "
                "counting the residual connection; closer to what reaches the output.",
            )
            or "mean"
        )
    rollout = method == "rollout"
    with layer_col:  # -1 stands for "all": a None option would read as "nothing chosen"
        layer = st.selectbox(
            "Layer", [ALL, *range(n_layers)], key=W_LAYER,
            format_func=lambda v: "All layers" if v == ALL else f"Layer {v + 1}",
            help="Which transformer layer to read. With rollout: how far to trace the "
            "attention (all layers = through the last one).",
        )  # fmt: skip
    with head_col:
        head = st.selectbox(
            "Head", [ALL, *range(n_heads)], key=W_HEAD, disabled=rollout,
            format_func=lambda v: "Mean of heads" if v == ALL else f"Head {v + 1}",
            help="Each layer has several attention heads that can look at different things. "
            "Rollout always averages them.",
        )  # fmt: skip
    return AttentionView(
        method=method,
        layer=None if layer == ALL else layer,
        head=None if rollout or head == ALL else head,
    )


def section_tabs(*, has_text: bool) -> dict[str, Any]:
    """The page's sections as tabs; only the open one runs (``tab.open``).

    Opening another tab reruns the page, and a control change reruns only the open
    tab's section: one section's charts are redrawn, not all of them.
    """
    keys = [k for k in _SECTIONS if has_text or k != "words"]
    tabs = st.tabs([_SECTIONS[k] for k in keys], key=W_SECTION, on_change="rerun")
    return dict(zip(keys, tabs, strict=True))


def segment_options(dataset: Dataset, bundle: ModelBundle) -> list[str]:
    """What rows can be split by: outcome, score decile, then categorical and numeric columns."""
    frame, schema = dataset.frame, dataset.schema
    options = [OUTCOME] if bundle.target in frame.columns else []
    options.append(SCORE_DECILE)
    roles = {c.name: c.role for c in schema.columns}
    for role in ("categorical", "numeric"):
        options += [c for c in frame.columns if roles.get(c) == role and c != bundle.target]
    return options


def segment_picker(dataset: Dataset, bundle: ModelBundle) -> tuple[str, bool]:
    """The segment chooser and the "difference from overall" toggle."""
    pick_col, diff_col = st.columns([3, 2], vertical_alignment="bottom")
    with pick_col:
        by = st.selectbox(
            "Split rows by",
            segment_options(dataset, bundle),
            key=W_SEGMENT,
            format_func=lambda v: _segment_label(v, bundle),
            help="Outcome, predicted-score decile (D1 = lowest scores), or any column. "
            "Numbers with many values are cut into five equal-sized groups.",
        )
    with diff_col:
        diff = st.toggle(
            "Show difference from overall",
            key=W_SEGMENT_DIFF,
            value=True,
            help="Colour each cell by segment minus all rows: red = more attention "
            "than usual, blue = less.",
        )
    return by, diff


def _segment_label(value: str, bundle: ModelBundle) -> str:
    if value == OUTCOME:
        return f"Outcome ({bundle.target})"
    return "Predicted score decile" if value == SCORE_DECILE else value


def row_picker(maps: AttentionMaps, data: AttentionData, bundle: ModelBundle) -> Hashable | None:
    """Pick one row: a telling example, a row number, or a text search."""
    positive = bundle.task == "binary" and bundle.target in data.frame.columns
    labels = dict(_ROW_MODES)
    if positive:
        labels |= {"high": "A high-scoring converter", "low": "A low-scoring non-converter"}
    else:
        labels |= {"high": "The highest score", "low": "The lowest score"}
    text_columns = [e.name for e in bundle.encoders.text]
    modes = [m for m in labels if m != "search" or text_columns]
    mode = (
        st.segmented_control(
            "Pick a row",
            modes,
            format_func=labels.get,
            default="high",
            required=True,
            key=W_ROW_MODE,
        )
        or "high"
    )
    if mode in ("high", "low"):
        return example_row(maps, data.frame, mode)
    if mode == "index":
        return _row_by_label(data)
    return _row_by_search(data, text_columns)


def _row_by_label(data: AttentionData) -> Hashable | None:
    index = data.frame.index
    if not pd.api.types.is_integer_dtype(index):
        return st.selectbox("Row", list(index[:1000]), key=W_ROW_INDEX)
    with st.columns([1, 3])[0]:
        label = st.number_input(
            "Row number (as in the data set, from 0)",
            min_value=int(index.min()),
            max_value=int(index.max()),
            step=1,
            key=W_ROW_INDEX,
        )
    if label not in index:
        st.info(
            f"Row {label:,} is not among the {len(index):,} rows sampled for attention; "
            "pick another.",
            icon=":material/info:",
        )
        return None
    return int(label)


def _row_by_search(data: AttentionData, columns: list[str]) -> Hashable | None:
    col_col, query_col = st.columns([1, 3])
    with col_col:
        column = st.selectbox("Search in", columns, key=W_ROW_COLUMN)
    with query_col:
        query = st.text_input("Text to find", key=W_ROW_QUERY, placeholder="e.g. checkout")
    if not query.strip():
        st.caption("Type a word or event to find rows that contain it.")
        return None
    matches = search_rows(data.frame, column, query)
    if not matches:
        st.info(
            f"No row's {escape_markdown(column)} contains “{escape_markdown(query)}”.",
            icon=":material/search_off:",
        )
        return None
    cells = data.frame[column]
    return st.selectbox(
        f"{len(matches)} matching rows" + (" (first 50)" if len(matches) == 50 else ""),
        matches,
        key=W_ROW_MATCH,
        format_func=lambda r: f"row {r}: {str(cells.at[r])[:80]}",
    )


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
        },
    )


def headline(result: GlobalResult, maps: AttentionMaps, data: AttentionData) -> None:
    """Four numbers above the charts: rows, top column, top word or event, [CLS]'s share."""
    rows_m, column_m, token_m, self_m = st.columns(4)
    rows_m.metric("Rows explained", f"{maps.n_rows:,}")
    top = result.features.iloc[0]
    column_m.metric(
        "Most attended column",
        escape_markdown(top["feature"]),
        f"{top['attention']:.3f}",
        delta_color="off",
        delta_arrow="off",
    )
    if result.top_token is not None:
        token = result.top_token
        token_m.metric(
            "Most attended word or event",
            escape_markdown(token["token"]),
            f"{token['attention']:.3f} in {escape_markdown(token['column'])}",
            delta_color="off",
            delta_arrow="off",
            help="Among tokens found in at least 20 rows.",
        )
    self_m.metric(
        "Kept on [CLS] itself",
        f"{result.self_share:.1%}",
        help="Attention the summary token keeps on itself; the rest goes to columns and tokens.",
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
