"""Figures for acting on scores: the targeting chart and the what-if comparison.

Pure functions ``data -> plotly Figure``; no Streamlit, no model calls. The targeting
chart is :func:`neuromkt.figures.metrics.gains_figure` with a "contact the top N%"
marker added; the score histogram shades the rows that would be contacted; the
what-if bars put the original row's values next to the edited row's, changed
features marked. User text is escaped before it reaches plotly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.figures._style import ACCENT, BRAND, INK, MUTED, bar_height, esc, layout, short
from neuromkt.figures.metrics import gains_figure

__all__ = ["CHANGED_MARK", "comparison_bars", "score_histogram", "targeting_figure"]

CHANGED_MARK = "✎"  # prefixed to the label of an edited feature
_HEIGHT = 400
_EDGE = "#CBD5E1"
_TOP_LEGEND = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
               "xref": "paper", "yref": "paper"}  # fmt: skip
_MARK = "#BE185D"  # the "contact the top N%" marker: unlike every series of the gains chart


def targeting_figure(
    table: pd.DataFrame,
    *,
    top_share: float,
    reached_share: float,
    outcome: str = "converters",
    title: str | None = None,
) -> go.Figure:
    """Cumulative gains with a "contact the top N%" marker.

    Args:
        table: ``metrics.lift_table`` output; many bins (e.g. 100) give a smooth curve.
        top_share: Share of rows contacted, in [0, 1].
        reached_share: Share of all positives they hold, in [0, 1].
        outcome: What a positive is called, e.g. "converters" (user text: escaped).
        title: The figure title (plain text).

    Returns:
        The gains figure (traces "random", "best possible", "model") plus a marker
        trace "top N%" and a dotted guide line at ``top_share``.
    """
    fig = gains_figure(table, title=title or f"Who to contact: share of {outcome} reached")
    fig.update_traces(selector={"name": "model"}, mode="lines")
    label = f"top {top_share:.0%} →<br>{reached_share:.0%} of {esc(short(outcome, 24))}"
    fig.add_shape(
        type="line", x0=top_share, x1=top_share, y0=0, y1=reached_share,
        line={"color": _MARK, "dash": "dot", "width": 2},
    )  # fmt: skip
    fig.add_shape(
        type="line", x0=0, x1=top_share, y0=reached_share, y1=reached_share,
        line={"color": _MARK, "dash": "dot", "width": 2},
    )  # fmt: skip
    fig.add_scatter(
        x=[top_share], y=[reached_share], mode="markers", name=f"top {top_share:.0%}",
        marker={"color": _MARK, "size": 13, "line": {"color": "white", "width": 2}},
        hovertemplate=label + "<extra></extra>", showlegend=False,
    )  # fmt: skip
    fig.add_annotation(
        x=top_share, y=reached_share, text=f"<b>{label}</b>", showarrow=True, arrowhead=0,
        ax=40 if top_share < 0.6 else -40, ay=30, xanchor="left" if top_share < 0.6 else "right",
        font={"color": INK, "size": 12}, bgcolor="rgba(255,255,255,0.9)",
        bordercolor=_MARK, borderpad=4,
    )  # fmt: skip
    fig.update_layout(xaxis_title="share of rows contacted<br>(best scores first)")
    fig.update_yaxes(automargin=True)
    return fig


def score_histogram(
    scores: np.ndarray | pd.Series,
    *,
    threshold: float | None = None,
    top_pct: float | None = None,
    score_label: str = "score",
    title: str | None = None,
) -> go.Figure:
    """The distribution of scores, with the contacted rows (score ≥ threshold) shaded.

    Args:
        scores: One score per row.
        threshold: The lowest score contacted; no shading when None.
        top_pct: The percent contacted, for the label.
        score_label: What the score is, for the axis (user text: escaped).
        title: The figure title (plain text).

    Returns:
        Up to two histogram traces sharing bins: "not contacted" and "contacted".
    """
    values = np.asarray(scores, dtype="float64")
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    size = (hi - lo) / 40 if hi > lo else 1.0
    bins = {"start": lo, "end": hi + size, "size": size}
    fig = go.Figure()
    groups = [("all rows", values, BRAND)]
    if threshold is not None:
        pct = f"top {top_pct:g}%" if top_pct is not None else "contacted"
        groups = [
            ("not contacted", values[values < threshold], MUTED),
            (f"contacted ({pct})", values[values >= threshold], BRAND),
        ]
    for name, part, color in groups:
        fig.add_histogram(
            x=part, xbins=bins, name=name, marker_color=color,
            hovertemplate="score %{x}<br>%{y:,} rows<extra>" + name + "</extra>",
        )  # fmt: skip
    if threshold is not None:
        fig.add_vline(
            x=threshold, line={"color": ACCENT, "width": 2, "dash": "dash"},
            annotation={"text": f"score ≥ {threshold:.3g}", "font": {"color": ACCENT}},
            annotation_position="top left",
        )  # fmt: skip
    fig.update_layout(**layout(
        title=esc(title or "How the scores are spread"), height=_HEIGHT - 40,
        legend=threshold is not None, barmode="stack", bargap=0.05,
        xaxis={"title": esc(score_label)}, yaxis={"title": "rows", "automargin": True},
    ))  # fmt: skip
    fig.update_layout(legend=_TOP_LEGEND)
    return fig


def comparison_bars(
    table: pd.DataFrame,
    *,
    measure: str = "attribution",
    unit: str = "log-odds",
    title: str | None = None,
) -> go.Figure:
    """Original and edited row side by side, one pair of bars per feature.

    Args:
        table: One row per feature: ``feature``, ``before``, ``after``, ``changed``
            (bool) and optional ``value_before`` / ``value_after`` (cells as text), as
            :func:`neuromkt.act.whatif.compare_rows` gives them.
        measure: "attribution" (signed, in the model's units) or "attention" (≥ 0).
        unit: What attributions are in, e.g. "log-odds of purchased = 1" (user text).
        title: The figure title (plain text).

    Returns:
        Two bar traces, "original" and "edited"; edited features are labelled with
        :data:`CHANGED_MARK` and sit on a tinted band.
    """
    table = table.reset_index(drop=True)
    n = len(table)
    labels = [
        (f"<b>{CHANGED_MARK} {esc(short(f, 26))}</b>" if c else esc(short(f, 28)))
        for f, c in zip(table["feature"], table["changed"], strict=True)
    ]
    fig = go.Figure()
    for name, column, color, cell in (
        ("original", "before", MUTED, "value_before"),
        ("edited", "after", BRAND, "value_after"),
    ):
        cells = table[cell].astype(str) if cell in table else pd.Series([""] * n)
        hover = [
            f"<b>{esc(f)}</b> = {esc(v)}<br>{name}: {x:+.3f}"
            if measure == "attribution"
            else f"<b>{esc(f)}</b> = {esc(v)}<br>{name}: {x:.3f}"
            for f, v, x in zip(table["feature"], cells, table[column], strict=True)
        ]
        fig.add_bar(
            y=list(range(n)), x=table[column], orientation="h", name=name,
            marker={"color": color, "line": {"color": _EDGE, "width": 0.5}},
            customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        )  # fmt: skip
    for i in np.flatnonzero(table["changed"].to_numpy(dtype=bool)):
        fig.add_hrect(y0=i - 0.5, y1=i + 0.5, fillcolor=ACCENT, opacity=0.12, line_width=0)
    axis_title = (
        f"contribution to the score ({esc(unit)}; + raises it)"
        if measure == "attribution"
        else "[CLS] attention (share of the row's attention)"
    )
    fig.update_layout(**layout(
        title=esc(title) if title else None, height=bar_height(n, per_row=34) + 30,
        legend=True, barmode="group", bargap=0.3, bargroupgap=0.05,
        xaxis={"title": axis_title, "zeroline": True, "zerolinecolor": INK,
               "zerolinewidth": 1},
        yaxis={"tickmode": "array", "tickvals": list(range(n)), "ticktext": labels,
               "autorange": "reversed", "automargin": True, "showgrid": False},
    ))  # fmt: skip
    fig.update_layout(legend=_TOP_LEGEND)
    return fig
