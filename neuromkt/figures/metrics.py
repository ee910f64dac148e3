"""Figures of how well a model does: ROC, PR, calibration, confusion, residuals, lift
and cumulative gains.

Pure functions ``table -> plotly Figure`` over the tables of :mod:`neuromkt.model.metrics`
(``roc_curve``, ``pr_curve``, ``calibration_table``, ``confusion_matrix``,
``residuals_frame``, ``lift_table``); no Streamlit, no model calls. User text (class
labels, metric names) is escaped before it reaches plotly. The training curve is in
:mod:`neuromkt.figures.training`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.figures._style import ACCENT, BRAND, MUTED, esc, layout, short_labels

__all__ = [
    "calibration_figure",
    "confusion_figure",
    "decile_figure",
    "gains_figure",
    "lift_figure",
    "pr_figure",
    "residual_histogram_figure",
    "residuals_figure",
    "roc_figure",
]

_HEIGHT = 380
_CHANCE = {"color": MUTED, "dash": "dash", "width": 1.5}
_MAX_POINTS = 5000  # scatter plots show at most this many points (evenly spaced rows)


def roc_figure(
    roc: pd.DataFrame, *, auc: float | None = None, title: str | None = None
) -> go.Figure:
    """The ROC curve with the chance diagonal.

    Args:
        roc: ``metrics.roc_curve`` output (``fpr``, ``tpr``, ``threshold``).
        auc: The area under the curve, shown in the legend.
        title: The figure title (default "ROC curve").

    Returns:
        Two traces: "chance" (the diagonal) and the curve ("model, AUC 0.83").
    """
    name = "model" if auc is None or not math.isfinite(auc) else f"model, AUC {auc:.3f}"
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=_CHANCE,
                    hoverinfo="skip")  # fmt: skip
    fig.add_scatter(
        x=roc["fpr"], y=roc["tpr"], mode="lines", name=name, line={"color": BRAND, "width": 2.5},
        fill="tozeroy", fillcolor="rgba(67, 56, 202, 0.08)",
        customdata=roc[["threshold"]].to_numpy(),
        hovertemplate="false-alarm rate %{x:.1%}<br>found %{y:.1%} of positives"
        "<br>score ≥ %{customdata[0]:.3f}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        **layout(
            title=esc(title or "ROC curve"),
            height=_HEIGHT,
            legend=True,
            **_share_axes("false positive rate", "true positive rate"),
        )
    )
    return fig


def pr_figure(
    pr: pd.DataFrame,
    *,
    average_precision: float | None = None,
    base_rate: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """The precision-recall curve with the base rate (what guessing achieves).

    Args:
        pr: ``metrics.pr_curve`` output (``recall``, ``precision``, ``threshold``).
        average_precision: PR-AUC, shown in the legend.
        base_rate: Share of positives; drawn as the "chance" line when given.
        title: The figure title (default "Precision and recall").

    Returns:
        "chance" (when ``base_rate`` is given), then the curve.
    """
    ap = average_precision
    name = "model" if ap is None or not math.isfinite(ap) else f"model, PR-AUC {ap:.3f}"
    fig = go.Figure()
    if base_rate is not None and math.isfinite(base_rate):
        fig.add_scatter(x=[0, 1], y=[base_rate, base_rate], mode="lines", line=_CHANCE,
                        name=f"chance ({base_rate:.1%})", hoverinfo="skip")  # fmt: skip
    fig.add_scatter(
        x=pr["recall"], y=pr["precision"], mode="lines", name=name, line_shape="hv",
        line={"color": BRAND, "width": 2.5}, customdata=pr[["threshold"]].to_numpy(),
        hovertemplate="found %{x:.1%} of positives<br>precision %{y:.1%}"
        "<br>score ≥ %{customdata[0]:.3f}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        **layout(
            title=esc(title or "Precision and recall"),
            height=_HEIGHT,
            legend=True,
            **_share_axes("recall (share of positives found)", "precision"),
        )
    )
    return fig


def calibration_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Predicted probability against the observed rate, per probability bin.

    Args:
        table: ``metrics.calibration_table`` output (``mean_pred``, ``frac_pos``,
            ``count``, ``bin_lower``, ``bin_upper``).
        title: The figure title (default "Calibration").

    Returns:
        "perfectly calibrated" (the diagonal) and "model" (markers sized by rows).
    """
    counts = table["count"].to_numpy(dtype=float)
    sizes = 7 + 18 * np.sqrt(counts / counts.max()) if len(counts) else []
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line=_CHANCE,
                    hoverinfo="skip")  # fmt: skip
    fig.add_scatter(
        x=table["mean_pred"], y=table["frac_pos"], mode="lines+markers", name="model",
        line={"color": BRAND, "width": 2}, marker={"size": sizes, "color": BRAND, "opacity": 0.8},
        customdata=table[["count", "bin_lower", "bin_upper"]].to_numpy(),
        hovertemplate="predicted %{x:.1%}<br>observed %{y:.1%}<br>%{customdata[0]:,} rows "
        "scored %{customdata[1]:.0%}–%{customdata[2]:.0%}<extra></extra>",
    )  # fmt: skip
    top = max(0.05, float(np.nanmax([*table["mean_pred"], *table["frac_pos"], 0.0])) * 1.1)
    top = min(1.0, top)
    fig.update_layout(
        **layout(
            title=esc(title or "Calibration"),
            height=_HEIGHT,
            legend=True,
            xaxis={"title": "predicted probability", "range": [0, top], "tickformat": ".0%"},
            yaxis={"title": "observed rate", "range": [0, top], "tickformat": ".0%"},
        )
    )
    return fig


def confusion_figure(
    matrix: pd.DataFrame, *, threshold: float | None = None, title: str | None = None
) -> go.Figure:
    """Counts of actual by predicted class, coloured by the share of each actual class.

    Args:
        matrix: ``metrics.confusion_matrix`` output (rows actual, columns predicted).
        threshold: For a binary model, the score cut-off used (shown in the title).
        title: The figure title.

    Returns:
        One heatmap trace; each cell shows its count and its share of the row.
    """
    counts = matrix.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    labels = short_labels([str(c) for c in matrix.columns], 20)
    n = len(labels)
    text = [[f"{int(c):,}<br>{s:.0%}" for c, s in zip(rc, rs, strict=True)]
            for rc, rs in zip(counts, shares, strict=True)]  # fmt: skip
    fig = go.Figure(
        go.Heatmap(
            z=shares, x=list(range(n)), y=list(range(n)), text=text, texttemplate="%{text}",
            colorscale=[[0, "#F4F5FA"], [1, BRAND]], zmin=0, zmax=1, showscale=False,
            customdata=counts, xgap=2, ygap=2,
            hovertemplate="%{customdata:,} rows (%{z:.1%} of this actual class)<extra></extra>",
        )
    )  # fmt: skip
    default = "Confusion matrix"
    if threshold is not None:
        default += f" (score ≥ {threshold:.2f} counts as positive)"
    axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": labels}
    fig.update_layout(
        **layout(
            title=esc(title or default),
            height=max(300, 150 + 46 * n),
            xaxis=axis | {"title": "predicted", "side": "bottom"},
            yaxis=axis | {"title": "actual", "autorange": "reversed"},
        )
    )
    return fig


def residuals_figure(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Predicted against actual values, with the line of perfect predictions.

    Args:
        frame: ``metrics.residuals_frame`` output (``actual``, ``predicted``, ...).
            Large frames are thinned to 5,000 evenly spaced rows.
        title: The figure title.

    Returns:
        "perfect prediction" (the diagonal) and "rows" (one marker per row).
    """
    shown = _thin(frame)
    lo = float(min(frame["actual"].min(), frame["predicted"].min())) if len(frame) else 0.0
    hi = float(max(frame["actual"].max(), frame["predicted"].max())) if len(frame) else 1.0
    fig = go.Figure()
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect prediction",
                    line=_CHANCE, hoverinfo="skip")  # fmt: skip
    fig.add_scatter(
        x=shown["actual"], y=shown["predicted"], mode="markers", name="rows",
        marker={"color": BRAND, "size": 5, "opacity": 0.35},
        hovertemplate="actual %{x:,.4g}<br>predicted %{y:,.4g}<extra></extra>",
    )  # fmt: skip
    default = "Predicted against actual"
    if len(shown) < len(frame):
        default += f" ({len(shown):,} of {len(frame):,} rows shown)"
    fig.update_layout(
        **layout(
            title=esc(title or default),
            height=_HEIGHT,
            legend=True,
            xaxis={"title": "actual"},
            yaxis={"title": "predicted"},
        )
    )
    return fig


def residual_histogram_figure(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The distribution of residuals (actual − predicted).

    Returns:
        One histogram trace, "residuals", and a vertical line at zero.
    """
    fig = go.Figure(
        go.Histogram(
            x=frame["residual"], name="residuals", marker_color=BRAND, nbinsx=40,
            marker_line={"width": 0.5, "color": "white"},
            hovertemplate="residual %{x}<br>%{y:,} rows<extra></extra>",
        )
    )  # fmt: skip
    fig.add_vline(x=0, line={"color": ACCENT, "dash": "dash", "width": 2})
    fig.update_layout(
        **layout(
            title=esc(title or "Residuals (actual − predicted)"),
            height=_HEIGHT,
            xaxis={"title": "actual − predicted"},
            yaxis={"title": "rows"},
            bargap=0.02,
        )
    )
    return fig


def lift_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Lift per score decile: how many times the average rate each tenth of rows reaches.

    Args:
        table: ``metrics.lift_table`` output (``decile``, ``lift``, ``rate``, ``n``).
        title: The figure title.

    Returns:
        One bar trace, "lift", and a dashed reference line at 1 (no better than random).
    """
    fig = go.Figure(
        go.Bar(
            x=table["decile"], y=table["lift"], name="lift", marker_color=BRAND,
            texttemplate="%{y:.1f}×", textposition="outside",
            customdata=table[["rate", "n"]].to_numpy(),
            hovertemplate="decile %{x} (1 = highest scores)<br>lift %{y:.2f}×<br>"
            "rate %{customdata[0]:.1%} of %{customdata[1]:,} rows<extra></extra>",
        )
    )  # fmt: skip
    fig.add_hline(y=1, line={"color": ACCENT, "dash": "dash", "width": 2},
                  annotation={"text": "random", "font": {"color": ACCENT}},
                  annotation_position="top right")  # fmt: skip
    top = float(np.nanmax([*table["lift"], 1.0])) if len(table) else 1.0
    fig.update_layout(
        **layout(
            title=esc(title or "Lift by decile"),
            height=_HEIGHT,
            xaxis={"title": "decile of rows, by score (1 = highest)", "dtick": 1},
            yaxis={"title": "lift (× the average rate)", "range": [0, top * 1.18]},
        )
    )
    return fig


def gains_figure(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Cumulative gains: the share of all positives found in the top x% of rows.

    Args:
        table: ``metrics.lift_table`` output (``cum_population``, ``cum_gain``,
            ``positives``, ``n``).
        title: The figure title.

    Returns:
        Traces "random", "best possible" and "model", each starting at (0, 0).
    """
    n, positives = float(table["n"].sum()), float(table["positives"].sum())
    base = positives / n if n else float("nan")
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="random", line=_CHANCE,
                    hoverinfo="skip")  # fmt: skip
    if math.isfinite(base) and base > 0:
        fig.add_scatter(x=[0, base, 1], y=[0, 1, 1], mode="lines", name="best possible",
                        line={"color": ACCENT, "dash": "dot", "width": 1.5},
                        hoverinfo="skip")  # fmt: skip
    fig.add_scatter(
        x=[0.0, *table["cum_population"]], y=[0.0, *table["cum_gain"]], mode="lines+markers",
        name="model", line={"color": BRAND, "width": 2.5}, marker={"size": 7},
        hovertemplate="top %{x:.0%} of rows<br>%{y:.1%} of all positives<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        **layout(
            title=esc(title or "Cumulative gains"),
            height=_HEIGHT,
            legend=True,
            **_share_axes(
                "share of rows contacted, best scores first", "share of all positives found"
            ),
        )
    )
    return fig


def decile_figure(table: pd.DataFrame, *, target: str, title: str | None = None) -> go.Figure:
    """Mean actual and mean predicted value per decile of the prediction (regression).

    Args:
        table: One row per decile: ``decile`` (1 = highest predictions), ``n``,
            ``actual`` (mean actual value) and ``predicted`` (mean prediction).
        target: The target's name, for the axis title.
        title: The figure title.

    Returns:
        Two traces: "actual" (bars) and "predicted" (line with markers).
    """
    fig = go.Figure()
    fig.add_bar(
        x=table["decile"], y=table["actual"], name="actual", marker_color=BRAND,
        customdata=table[["n"]].to_numpy(),
        hovertemplate="decile %{x}<br>mean actual %{y:,.4g}<br>%{customdata[0]:,} rows"
        "<extra></extra>",
    )  # fmt: skip
    fig.add_scatter(
        x=table["decile"], y=table["predicted"], name="predicted", mode="lines+markers",
        line={"color": ACCENT, "width": 2.5}, marker={"size": 8},
        hovertemplate="decile %{x}<br>mean predicted %{y:,.4g}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(
        **layout(
            title=esc(title or "Actual and predicted, by decile of prediction"),
            height=_HEIGHT,
            legend=True,
            xaxis={"title": "decile of rows, by prediction (1 = highest)", "dtick": 1},
            yaxis={"title": f"mean {esc(target)}"},
        )
    )
    return fig


def _share_axes(x_title: str, y_title: str) -> dict[str, dict[str, object]]:
    """Both axes from 0 to 100% (y with a little headroom), for curves of rates and shares."""
    return {
        "xaxis": {"title": x_title, "range": [0, 1], "tickformat": ".0%"},
        "yaxis": {"title": y_title, "range": [0, 1.02], "tickformat": ".0%"},
    }


def _thin(frame: pd.DataFrame, limit: int = _MAX_POINTS) -> pd.DataFrame:
    if len(frame) <= limit:
        return frame
    index = np.linspace(0, len(frame) - 1, limit).round().astype(np.int64)
    return frame.iloc[index]
