"""Figures for the first look at a data set: column overview, distributions, rates.

Pure functions ``data -> plotly Figure``: they draw what :mod:`neuromkt.data.profile`
computed and nothing else (no Streamlit, no model calls, no global template).
User text (column names, category values) is escaped before it reaches plotly,
which renders some HTML tags in labels; long labels are shortened on the axis and
given in full in the hover text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.data.profile import ColumnDistribution, OutcomeRates
from neuromkt.figures._style import ACCENT, BRAND, MUTED, esc, layout, short_labels

__all__ = ["distribution_figure", "outcome_rate_figure", "profile_overview_figure"]

_ROW_PX = 26  # height per bar in horizontal bar charts


def profile_overview_figure(profile: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Missing values and distinct values per column, as paired horizontal bars.

    Args:
        profile: Rows of :func:`neuromkt.data.profile.profile_columns` (or of
            :func:`neuromkt.data.profile.overview_table`), with the columns ``column``,
            ``missing_pct``, ``unique_pct``, ``missing`` and ``unique``.
        title: The figure title (plain text); a default one when None.

    Returns:
        A figure with two bar traces, "Missing %" and "Distinct %", one bar per column,
        in the data set's column order from top to bottom.
    """
    names = profile["column"].astype(str)
    labels = short_labels(names)
    full = [esc(name) for name in names]
    missing = go.Bar(
        name="Missing %",
        y=labels,
        x=profile["missing_pct"],
        orientation="h",
        marker_color=ACCENT,
        customdata=_custom(full, profile["missing"]),
        hovertemplate="%{customdata[0]}<br>missing: %{x:.1f}% (%{customdata[1]} rows)"
        "<extra></extra>",
    )
    distinct = go.Bar(
        name="Distinct %",
        y=labels,
        x=profile["unique_pct"],
        orientation="h",
        marker_color=BRAND,
        customdata=_custom(full, profile["unique"]),
        hovertemplate="%{customdata[0]}<br>distinct: %{x:.1f}% of filled rows "
        "(%{customdata[1]} values)<extra></extra>",
    )
    fig = go.Figure([missing, distinct])
    fig.update_layout(
        layout(
            title=esc(title or "Missing and distinct values per column"),
            height=_bar_height(len(labels), per_bar=30),
            legend=True,
            barmode="group",
            xaxis={"title": "% of rows", "range": [0, 100]},
            yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        )
    )
    return fig


def distribution_figure(dist: ColumnDistribution, *, title: str | None = None) -> go.Figure:
    """Draw one column's distribution: a histogram or the counts of its top values.

    Args:
        dist: The output of :func:`neuromkt.data.profile.column_distribution`.
        title: The figure title (plain text); a default one naming the column when None.

    Returns:
        A figure with one bar trace (no trace when the column is empty).
    """
    default = f"Distribution of {dist.column}"
    if dist.n_missing:
        default += f" ({dist.n_missing:,} missing not shown)"
    fig = go.Figure()
    table = dist.table
    overrides: dict = {"height": 360}
    if dist.kind == "categorical":
        values = table["value"].astype(str)
        fig.add_bar(
            x=table["count"],
            y=short_labels(values),
            orientation="h",
            marker_color=BRAND,
            customdata=_custom([esc(v) for v in values], table["share"]),
            hovertemplate="%{customdata[0]}<br>%{x:,} rows (%{customdata[1]:.1%})<extra></extra>",
        )
        overrides |= {
            "height": _bar_height(len(table)),
            "xaxis": {"title": "rows"},
            "yaxis": {"autorange": "reversed", "automargin": True, "type": "category"},
        }
    elif dist.kind != "empty":
        widths = table["right"] - table["left"]
        centres = table["left"] + widths / 2
        if dist.kind == "datetime":
            widths = widths.dt.total_seconds() * 1000.0  # plotly date axes count in ms
        fig.add_bar(
            x=centres,
            y=table["count"],
            width=widths,
            marker_color=BRAND,
            marker_line={"width": 0.5, "color": "white"},
            customdata=table[["left", "right"]].astype(str).to_numpy(),
            hovertemplate="%{customdata[0]} – %{customdata[1]}<br>%{y:,} rows<extra></extra>",
        )
        overrides |= {"xaxis": {"title": esc(dist.value_label)}, "yaxis": {"title": "rows"}}
    else:
        overrides["height"] = 200
        fig.add_annotation(text="No values to show", showarrow=False, x=0.5, y=0.5)
    fig.update_layout(layout(title=esc(title or default), **overrides))
    return fig


def outcome_rate_figure(rates: OutcomeRates, *, title: str | None = None) -> go.Figure:
    """Outcome rate (or mean) per category as sorted horizontal bars with 95% intervals.

    Args:
        rates: The output of :func:`neuromkt.data.profile.outcome_rates`.
        title: The figure title (plain text); a default one naming outcome and column.

    Returns:
        A figure with one bar trace (one bar per category, highest first unless the
        categories are numeric bins), error bars for the 95% interval, and a dashed
        vertical line at the overall rate.
    """
    table = rates.table
    is_rate = rates.measure == "rate"
    fmt = ".1%" if is_rate else ",.3g"
    what = f"{rates.target} = {rates.positive}" if is_rate else f"mean {rates.target}"
    categories = table["category"].astype(str)
    customdata = _custom([esc(c) for c in categories], table["n"], table["lower"], table["upper"])
    bar = go.Bar(
        x=table["value"],
        y=short_labels(categories),
        orientation="h",
        marker_color=BRAND,
        error_x={
            "type": "data",
            "symmetric": False,
            "array": table["upper"] - table["value"],
            "arrayminus": table["value"] - table["lower"],
            "color": MUTED,
            "thickness": 1.5,
        },
        texttemplate=f"%{{x:{fmt}}}",
        textposition="inside",
        insidetextanchor="start",
        textfont={"color": "white", "size": 12},
        customdata=customdata,
        hovertemplate=(
            f"%{{customdata[0]}}<br>%{{x:{fmt}}} (95% interval %{{customdata[2]:{fmt}}} – "
            f"%{{customdata[3]:{fmt}}})<br>%{{customdata[1]:,}} rows<extra></extra>"
        ),
    )
    fig = go.Figure(bar)
    fig.add_vline(
        x=rates.overall,
        line={"color": ACCENT, "dash": "dash", "width": 2},
        annotation={"text": f"overall {rates.overall:{fmt}}", "font": {"color": ACCENT}},
        annotation_position="top",
    )
    prefix = "Rate of" if is_rate else "Average"
    fig.update_layout(
        layout(
            title=esc(title or f"{prefix} {what} by {rates.column}"),
            height=_bar_height(len(table)),
            xaxis={
                "title": esc(f"share of rows with {what}" if is_rate else what),
                "tickformat": ".0%" if is_rate else None,
                "rangemode": "tozero",
            },
            yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        )
    )
    return fig


def _custom(*columns: object) -> np.ndarray:
    """Hover data, one row per bar, keeping each column's type (text stays text)."""
    return np.array(list(zip(*columns, strict=True)), dtype=object)


def _bar_height(n_bars: int, *, per_bar: float = _ROW_PX) -> int:
    return int(max(220, min(1400, 110 + per_bar * n_bars)))
