"""The widgets of the Explain page: settings, pickers, charts, metrics and tables.

The results they show come from :mod:`neuromkt.ui.explain_cache` (cached by
content), re-exported here so the page needs one import.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.explain.attention import AttentionView
from neuromkt.explain.attributions import BASELINES, METHODS, Attribution
from neuromkt.explain.segments import example_row
from neuromkt.figures._style import export_config
from neuromkt.ui import escape_markdown
from neuromkt.ui.attention_cache import AttentionData
from neuromkt.ui.attention_controls import segment_label, segment_options
from neuromkt.ui.explain_cache import (
    DEFAULT_ROWS,
    Settings,
    attention_maps,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "agreement_metrics",
    "chart",
    "comparison_controls",
    "row_metrics",
    "row_picker",
    "segment_agreement_table",
    "segment_picker",
    "settings_controls",
    "token_table",
]

# Widget keys of the Explain page.
W_METHOD = "exp_method"
W_BASELINE = "exp_baseline"
W_STEPS = "exp_steps"
W_SAMPLES = "exp_samples"
W_WINDOW = "exp_window"
W_ROWS = "exp_rows"
W_OUTPUT = "exp_output"
W_CLASS = "exp_class"
W_SEGMENT = "exp_segment"
W_ROW_MODE = "exp_row_mode"
W_ROW_INDEX = "exp_row_index"
W_VIEW = "exp_attention_view"
W_K = "exp_top_k"
W_SCOPE = "exp_scope"

_VIEWS = {"mean": "Mean of layers and heads", "rollout": "Rollout"}


_SCOPES = {"all": "Columns and words", "features": "Columns only", "tokens": "Words only"}


# ---------------------------------------------------------------- widgets


def settings_controls(bundle: ModelBundle, n_total: int) -> Settings:
    """Method, baseline, its precision, the rows to sample and (classifiers) the output."""
    method_col, base_col, detail_col, rows_col = st.columns([3, 2, 2, 2])
    with method_col:
        method = st.selectbox(
            "Method",
            list(METHODS),
            format_func=lambda m: METHODS[m].label,
            key=W_METHOD,
            help="\n\n".join(f"**{m.label}**: {m.description}" for m in METHODS.values()),
        )
        st.caption(METHODS[method].description)
    with base_col:
        choices = list(METHODS[method].baselines)
        baseline = st.selectbox(
            "Compared with",
            choices,
            format_func=lambda b: {
                "neutral": "A typical row",
                "missing": "Missing values",
                "zero": "Zero embedding",
            }[b],
            key=f"{W_BASELINE}_{'raw' if method == 'ablation' else 'all'}",
            help="\n\n".join(f"**{b}**: {BASELINES[b]}" for b in choices),
        )
        st.caption(BASELINES[baseline])
    with detail_col:
        steps, samples, window = _precision(method)
    with rows_col:
        rows = int(
            st.number_input(
                "Rows to explain",
                min_value=50,
                max_value=max(50, min(n_total, 20_000)),
                value=min(DEFAULT_ROWS, max(50, n_total)),
                step=50,
                key=W_ROWS,
                help="A random sample (the same rows every time) keeps the page fast; "
                "more rows give steadier averages.",
            )
        )
    return Settings(method, baseline, steps, samples, window, "logit", None, rows)


def _precision(method: str) -> tuple[int, int, int]:
    steps, samples, window = 32, 16, 1
    if method == "ig":
        steps = st.select_slider(
            "Steps", [8, 16, 32, 64, 128, 256], value=32, key=W_STEPS,
            help="Points on the path from the baseline. More steps: smaller δ, slower.",
        )  # fmt: skip
    elif method == "gradshap":
        samples = st.select_slider(
            "Samples", [4, 8, 16, 32, 64, 128], value=16, key=W_SAMPLES,
            help="Random points per row. More samples: steadier values, slower.",
        )  # fmt: skip
    elif method == "occlusion":
        window = st.select_slider(
            "Window", [1, 2, 3, 4], value=1, key=W_WINDOW,
            help="Neighbouring inputs covered at once: 2–3 cover short phrases.",
        )  # fmt: skip
    else:
        st.caption("No precision setting: this method is exact for what it measures.")
    return int(steps), int(samples), int(window)


def comparison_controls(
    bundle: ModelBundle, settings: Settings
) -> tuple[Settings, AttentionView, int, str]:
    """What is explained (classifiers), which attention to test, top k, deletion scope."""
    out_col, view_col, k_col, scope_col = st.columns([3, 2, 2, 2])
    output, target = "logit", None
    with out_col:
        if bundle.task != "regression":
            output = st.segmented_control(
                "Explain the", ["logit", "probability"],
                format_func={"logit": "Log-odds (additive)", "probability": "Probability"}.get,
                default="logit", required=True, key=W_OUTPUT,
                help="Log-odds add up cleanly across columns; probabilities are easier to "
                "read but squeeze large effects.",
            ) or "logit"  # fmt: skip
        if bundle.task == "multiclass":
            target = st.selectbox("Class", [str(c) for c in bundle.encoders.classes], key=W_CLASS)
    with view_col:
        method = st.segmented_control(
            "Attention to test", list(_VIEWS), format_func=_VIEWS.get, default="mean",
            required=True, key=W_VIEW, help="The attention shown on the Attention page "
            "(mean), or rollout through the layers.",
        )  # fmt: skip
    with k_col:
        k = st.select_slider("Top k", [2, 3, 4, 5], value=3, key=W_K,
                             help="Size of the top sets compared per row.")  # fmt: skip
    with scope_col:
        scopes = list(_SCOPES) if bundle.encoders.text else ["features"]
        scope = st.selectbox("Deletion curve removes", scopes, format_func=_SCOPES.get,
                             key=W_SCOPE)  # fmt: skip
    settings = replace(settings, output=output, target=target)
    return settings, AttentionView(method=method or "mean"), int(k), scope


def row_picker(attribution: Attribution, data: AttentionData, bundle: ModelBundle) -> int:
    """Pick one of the explained rows; returns its 0-based position."""
    labels = {"high": "Highest score", "low": "Lowest score", "index": "By row number"}
    mode = st.segmented_control(
        "Pick a row", list(labels), format_func=labels.get, default="high", required=True,
        key=W_ROW_MODE,
    )  # fmt: skip
    index = data.frame.index
    if mode == "index":
        label = st.selectbox(
            "Row (from the explained sample)", list(index), key=W_ROW_INDEX,
            help="Row labels as in the data set.",
        )  # fmt: skip
        return int(index.get_loc(label))
    maps = attention_maps(bundle, data)
    row: Hashable | None = example_row(maps, data.frame, mode or "high")
    if row is None:
        scores = attribution.score
        return int(np.argmax(scores) if mode == "high" else np.argmin(scores))
    return int(index.get_loc(row))


def segment_picker(dataset: Dataset, bundle: ModelBundle) -> str:
    """What to split the explained rows by: outcome, score decile or a column."""
    return st.selectbox(
        "Split rows by",
        segment_options(dataset, bundle),
        key=W_SEGMENT,
        format_func=lambda v: segment_label(v, bundle),
        help="Outcome, predicted-score decile (D1 = lowest scores), or any column. Numbers "
        "with many values are cut into five equal-sized groups.",
    )


# ---------------------------------------------------------------- displays


def chart(fig: go.Figure, *, key: str, filename: str) -> None:
    """Draw a figure full width, with a PNG download (2x) in its toolbar."""
    st.plotly_chart(fig, key=key, config=export_config(filename), theme=None)


def token_table(tokens: pd.DataFrame, *, key: str) -> None:
    """Tokens of one text column by mean |attribution|, with their direction."""
    shown = tokens.drop(columns="column").head(40)
    st.dataframe(
        shown,
        hide_index=True,
        key=key,
        height=min(36 * (len(shown) + 1) + 4, 360),
        column_config={
            "importance": st.column_config.ProgressColumn(
                "mean |attribution|",
                format="%.4f",
                min_value=0.0,
                max_value=float(shown["importance"].max() or 1.0),
                help="Average size of the token's push in the rows that contain it.",
            ),
            "signed_mean": st.column_config.NumberColumn(
                "direction", format="%+.4f", help="Positive: raises the score on average."
            ),
            "count": st.column_config.NumberColumn("rows", format="%d"),
        },
    )


def row_metrics(attribution: Attribution, data: AttentionData, row: int) -> None:
    """The picked row's label, its score, the baseline's score and the gap δ."""
    label_m, score_m, base_m, delta_m = st.columns(4)
    label_m.metric("Row", escape_markdown(data.frame.index[row]))
    score_m.metric("This row's score", f"{attribution.score[row]:.3f}",
                   help=escape_markdown(attribution.output.label))  # fmt: skip
    base_m.metric("Baseline row's score", f"{attribution.baseline_score[row]:.3f}")
    delta = attribution.delta[row]
    delta_m.metric(
        "Convergence δ",
        "—" if not np.isfinite(delta) else f"{delta:+.4f}",
        help="Sum of the attributions minus (this row's score − the baseline's). Near 0: "
        "the waterfall adds up. Only gradient methods offer it.",
    )


def agreement_metrics(summary: pd.DataFrame) -> None:
    """τ and top-k agreement for columns and words, with the uniform reference."""
    k = int(summary.attrs.get("k", 3))
    cells = st.columns(4)
    lines = summary.set_index("scope")
    i = 0
    for scope, noun in (("features", "columns"), ("tokens", "words")):
        line = lines.loc[scope]
        if not line["rows"]:
            continue
        cells[i].metric(
            f"Top-{k} {noun} agree", f"{line['agree']:.0%}",
            f"{line['agree'] - line['uniform_agree']:+.0%} vs uniform", delta_arrow="off",
            help=f"Rows where attention and the attribution share at least {k // 2 + 1} of "
            f"their top {k} {noun}.",
        )  # fmt: skip
        cells[i + 1].metric(
            f"Mean τ ({noun})", f"{round(line['tau'], 2) + 0.0:.2f}",
            f"{line['tau'] - line['uniform_tau']:+.2f} vs uniform", delta_arrow="off",
            help="Kendall's rank correlation per row, averaged: 1 same order, 0 unrelated.",
        )  # fmt: skip
        i += 2


def segment_agreement_table(table: pd.DataFrame) -> None:
    """Agreement per segment as a compact table."""
    number = st.column_config.NumberColumn
    shown = table.assign(
        overlap_features=table["overlap_features"] * 100,
        overlap_tokens=table["overlap_tokens"] * 100,
    )
    st.dataframe(
        shown,
        hide_index=True,
        key="exp_agreement_segments",
        column_config={
            "segment": st.column_config.TextColumn("segment"),
            "rows": number("rows", format="%d"),
            "tau_features": number("τ columns", format="%.2f"),
            "overlap_features": number("top-k overlap, columns", format="%.0f%%"),
            "tau_tokens": number("τ words", format="%.2f"),
            "overlap_tokens": number("top-k overlap, words", format="%.0f%%"),
        },
    )
