"""The widgets of the Explain page: settings, pickers, charts, metrics, tables, sections.

The results they show come from :mod:`neuromkt.ui.explain_cache` (cached by
content). Each section of the page (what drives the predictions, by segment, one
prediction, the agreement check) is one function here; the segment and row sections
are fragments, so that their own pickers rerun only them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.act.in_short import in_short
from neuromkt.errors import DataError
from neuromkt.explain.agreement import (
    DeletionCurve,
    agreement_by_segment,
    row_comparison,
    verdict,
)
from neuromkt.explain.attention import AttentionMaps, AttentionView
from neuromkt.explain.attributions import BASELINES, METHODS, Attribution, convergence
from neuromkt.explain.segments import example_row, segment_labels
from neuromkt.explain.summaries import (
    attribution_strip,
    feature_ranking,
    row_tokens,
    segment_attribution,
    token_ranking,
    waterfall_steps,
)
from neuromkt.explain.tokens import row_token_weights
from neuromkt.figures._style import export_config
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
from neuromkt.ui import escape_markdown, explain_cache
from neuromkt.ui.attention_cache import AttentionData, NoiseResult, with_noise
from neuromkt.ui.attention_controls import segment_label, segment_options
from neuromkt.ui.attention_views import csv_download, noise_caption
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
    "agreement_section",
    "analyst_notes",
    "chart",
    "comparison_controls",
    "convergence_note",
    "drivers_section",
    "in_short_panel",
    "row_metrics",
    "row_picker",
    "row_section",
    "segment_agreement_table",
    "segment_picker",
    "segment_section",
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

_VIEWS = {"mean": "Mean", "rollout": "Rollout"}  # as on the Attention page


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


# ---------------------------------------------------------------- the page's sections


def convergence_note(attribution: Attribution) -> None:
    """Whether the attributions add up to the score difference (Captum's δ), in a line."""
    check = convergence(attribution)
    if not check.available:
        st.caption(f"{check.message} Its values need not add up to the score difference.")
    elif check.ok:
        st.success(check.message, icon=":material/check_circle:")
    else:
        st.warning(check.message, icon=":material/warning:")


def in_short_panel(summary: pd.DataFrame, bundle: ModelBundle, noise: NoiseResult | None) -> None:
    """The page's first words: the strongest drivers in percentage points, noise named."""
    outcome = bundle.target
    if bundle.task == "binary":
        outcome = f"{bundle.target} = {bundle.encoders.classes[1]}"
    with st.container(border=True):
        st.markdown("**In short**")
        lines = in_short(summary, outcome)
        st.markdown("\n".join(f"- {escape_markdown(line)}" for line in lines))
        if noise is not None:
            st.caption(f"Noise checked on {noise.rows}.")


ANALYST_NOTES = (
    "**[CLS]** is the model's summary token: the score is read from it, and attention "
    "is how much of its look goes to each column or word.",
    "**Attributions** (Integrated Gradients and the others, Sundararajan et al. 2017; "
    "Lundberg & Lee 2017) are on the log-odds; the In short panel turns them into "
    "percentage points of the outcome's chance.",
    "**Convergence δ / Σ|δ|**: how far a row's attributions miss adding up to its score "
    "minus the baseline's; small means the split between columns is exact.",
    "**Kendall τ**: how alike attention's and the attribution's orderings of a row's "
    "inputs are (1 the same, 0 unrelated, −1 reversed).",
    "**Top-k overlap**: the share of the k inputs ranked highest by attention that are "
    "also among the attribution's top k.",
    "**Noise floor**: a permutation test on held-out rows; a column is hatched when "
    "shuffling it does not raise the loss by 2.5 standard errors.",
)


def analyst_notes(attribution: Attribution) -> None:
    """The jargon, a sentence each, with the convergence check, folded away."""
    with st.expander("For analysts"):
        convergence_note(attribution)
        st.markdown("\n".join(f"- {note}" for note in ANALYST_NOTES))


def drivers_section(
    attribution: Attribution,
    data: AttentionData,
    bundle: ModelBundle,
    noise: NoiseResult | None = None,
    summary: pd.DataFrame | None = None,
) -> None:
    """Columns ranked by attribution (hatched below the noise floor), every row, the top words."""
    method = METHODS[attribution.method]
    unit = attribution.output.label
    bar_col, strip_col = st.columns([5, 6], gap="large")
    with bar_col:
        chart(
            ranking_bar(
                _with_relation(with_noise(feature_ranking(attribution), noise), summary),
                title=f"Columns ranked by {method.label}",
                unit=unit,
            ),
            key="exp_ranking",
            filename="attribution_ranked",
        )
        st.caption(
            f"Bar length: the average size of a column's push on the {escape_markdown(unit)}, "
            "up or down. Colour: how its value relates to its effect (red: higher values "
            "raise the score; blue: higher values lower it; grey: categories and words, "
            "or no simple direction)."
        )
        noise_caption(with_noise(feature_ranking(attribution), noise), noise)
        csv_download(attribution.values.features, file_name="attributions.csv", key="exp_dl_rows")
    with strip_col:
        chart(
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
    text_columns = [e.name for e in bundle.encoders.text]
    if not text_columns:
        return
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
                token_table(mine, key=f"exp_tokens_{column}")
            with chart_col:
                chart(
                    ranking_bar(mine.head(15), label="token", unit=unit,
                                title=f"{column}: words ranked"),
                    key=f"exp_token_bar_{column}",
                    filename=f"attribution_tokens_{column}",
                )  # fmt: skip


def _with_relation(table: pd.DataFrame, summary: pd.DataFrame | None) -> pd.DataFrame:
    if summary is None:
        return table
    relation = summary.set_index("feature")["relation"]
    return table.assign(relation=table["feature"].map(relation))


@st.fragment
def segment_section(
    dataset: Dataset,
    bundle: ModelBundle,
    attribution: Attribution,
    data: AttentionData,
    maps: AttentionMaps,
    table: pd.DataFrame,
) -> None:
    """Attribution per column for each segment, and attention's agreement per segment."""
    with st.columns([2, 3])[0]:
        by = segment_picker(dataset, bundle)
    try:
        labels = segment_labels(maps, data.frame, by)
    except DataError as exc:
        st.warning(escape_markdown(exc), icon=":material/warning:")
        return
    chart(
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
    segment_agreement_table(agreement_by_segment(table, labels))


@st.fragment
def row_section(
    bundle: ModelBundle,
    attribution: Attribution,
    data: AttentionData,
    maps: AttentionMaps,
    view: AttentionView,
) -> None:
    """One picked row: its waterfall, attention beside attribution, its words both ways."""
    row = row_picker(attribution, data, bundle)
    row_metrics(attribution, data, row)
    fall_col, side_col = st.columns(2, gap="large")
    with fall_col:
        chart(
            waterfall_figure(
                waterfall_steps(attribution, data.frame, row),
                title=f"From the baseline row to this row ({attribution.output.label})",
            ),
            key="exp_waterfall",
            filename="attribution_waterfall",
        )
    with side_col:
        attention = explain_cache.attention_values(bundle, data, view)
        chart(
            attention_attribution_bars(
                row_comparison(attribution, attention, bundle.encoders, row),
                title="What it looks at vs what moves the score",
            ),
            key="exp_side_by_side",
            filename="attention_vs_attribution",
        )
    text_columns = [e.name for e in bundle.encoders.text]
    if not text_columns:
        return
    row_label = data.frame.index[row]
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


def agreement_section(
    attribution: Attribution,
    table: pd.DataFrame,
    summary: pd.DataFrame,
    curve: DeletionCurve,
    *,
    has_text: bool,
) -> None:
    """The verdict, agreement in numbers, τ per row and the deletion curves."""
    st.info(verdict(summary, attribution.method, curve), icon=":material/fact_check:")
    agreement_metrics(summary)
    hist_col, curve_col = st.columns(2, gap="large")
    with hist_col:
        scopes = ["features", "tokens"] if has_text else ["features"]
        for tab, name in zip(st.tabs([s.capitalize() for s in scopes]), scopes, strict=True):
            with tab:
                chart(
                    tau_histogram(table, scope=name, title=f"Rank agreement per row ({name})"),
                    key=f"exp_tau_{name}",
                    filename=f"agreement_tau_{name}",
                )
        st.caption(
            "Kendall τ per row between attention and the size of the attributions: 1 = the "
            "same order, 0 = unrelated. Grey: uniform attention, the no-information reference "
            "(Wiegreffe & Pinter 2019). Shaded: what Jain & Wallace (2019) found on text tasks."
        )
    with curve_col:
        chart(
            deletion_figure(
                curve.curve, curve.auc, labels={"attribution": METHODS[attribution.method].label},
                title="Remove the top inputs: how fast does the score fall?",
            ),
            key="exp_deletion",
            filename="deletion_curve",
        )  # fmt: skip
        st.caption(
            "Each line removes inputs (sets them to the baseline) in the order a ranking "
            "gives. The faster the score falls, the more faithful the ranking; a smaller area "
            "is better."
        )
