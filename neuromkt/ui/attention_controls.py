"""The pickers of the Attention page: view, sections, segment and row.

Every widget key of the page is a constant here, prefixed ``att_``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from neuromkt.explain.attention import AttentionMaps, AttentionView
from neuromkt.explain.segments import OUTCOME, SCORE_DECILE, example_row
from neuromkt.explain.tokens import search_rows
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import AttentionData

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "ALL",
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
    "row_picker",
    "section_tabs",
    "segment_label",
    "segment_options",
    "segment_picker",
    "view_controls",
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
            format_func=lambda v: segment_label(v, bundle),
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


def segment_label(value: str, bundle: ModelBundle) -> str:
    """How a segment choice reads in a picker: the outcome and score decile named."""
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
