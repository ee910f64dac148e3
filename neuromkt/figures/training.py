"""The training curve: training loss and the validation metric, epoch by epoch.

A pure function ``history -> plotly Figure`` over the records of
``TrainResult.history`` (and, while training, the running loss within epochs); no
Streamlit, no model calls. The metric's display name is escaped before it reaches
plotly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.figures._style import ACCENT, BRAND, MUTED, esc, layout

__all__ = ["training_curve_figure"]


def training_curve_figure(
    epochs: pd.DataFrame,
    *,
    metric: str,
    metric_label: str,
    steps: pd.DataFrame | None = None,
    best_epoch: int | None = None,
    n_epochs: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """Training loss and the validation metric, epoch by epoch (live while training).

    Args:
        epochs: One row per finished epoch with ``epoch``, ``loss`` and ``val_<metric>``
            (the records of ``TrainResult.history``). May be empty.
        metric: The validation metric's key, e.g. ``"roc_auc"``.
        metric_label: Its display name, e.g. ``"AUC"``.
        steps: Running training loss within epochs: ``position`` (fractional epoch,
            e.g. 2.5 = half way through epoch 3) and ``loss``. Optional.
        best_epoch: Marks the epoch whose weights were kept.
        n_epochs: The planned number of epochs; the epoch axis then spans all of them.
        title: The figure title.

    Returns:
        Traces, in order: "training loss (running)" when ``steps`` has rows,
        "training loss" and "validation <label>" (on the right axis) when ``epochs``
        has rows.
    """
    fig = go.Figure()
    _add_loss_traces(fig, epochs, steps)
    y2 = _add_metric_trace(fig, epochs, f"val_{metric}", metric_label)
    if best_epoch:
        fig.add_vline(
            x=best_epoch, line={"color": MUTED, "dash": "dot", "width": 1.5},
            annotation={"text": f"kept: epoch {best_epoch}", "font": {"color": MUTED}},
            annotation_position="top left",
        )  # fmt: skip
    last = max(float(n_epochs or 0), _last_epoch(epochs, steps))
    fig.update_layout(
        **layout(
            title=esc(title) if title else None,
            height=340,
            legend=True,
            xaxis={
                "title": "epoch",
                "range": [0, max(last, 1.0) + max(0.3, last * 0.02)],
                "dtick": 1 if last <= 12 else None,
            },
            yaxis={"title": "training loss", "color": BRAND, "rangemode": "tozero"},
            yaxis2={
                "title": f"validation {esc(metric_label)}",
                "overlaying": "y",
                "side": "right",
                "color": ACCENT,
                "showgrid": False,
                "tickformat": ".3~f",
                **y2,
            },
        )
    )
    return fig


def _add_loss_traces(fig: go.Figure, epochs: pd.DataFrame, steps: pd.DataFrame | None) -> None:
    """The running training loss (when ``steps`` has rows) and the loss per epoch."""
    if steps is not None and len(steps):
        fig.add_scatter(
            x=steps["position"], y=steps["loss"], name="training loss (running)",
            mode="lines+markers" if len(steps) < 40 else "lines",
            line={"color": BRAND, "width": 1.5}, marker={"size": 4}, opacity=0.55,
            hovertemplate="epoch %{x:.2f}<br>loss %{y:.4f}<extra></extra>",
        )  # fmt: skip
    if len(epochs):
        fig.add_scatter(
            x=epochs["epoch"], y=epochs["loss"], mode="lines+markers", name="training loss",
            line={"color": BRAND, "width": 2.5}, marker={"size": 8},
            hovertemplate="epoch %{x}<br>training loss %{y:.4f}<extra></extra>",
        )  # fmt: skip


def _add_metric_trace(
    fig: go.Figure, epochs: pd.DataFrame, column: str, metric_label: str
) -> dict[str, object]:
    """The validation metric on the right axis; returns that axis's range (or {})."""
    y2: dict[str, object] = {}
    if len(epochs) and column in epochs:
        label = esc(metric_label)
        values = epochs[column].astype(float)
        fig.add_scatter(
            x=epochs["epoch"], y=values, mode="lines+markers", yaxis="y2",
            name=f"validation {label}", line={"color": ACCENT, "width": 2.5},
            marker={"size": 8, "symbol": "diamond"},
            hovertemplate=f"epoch %{{x}}<br>validation {label} %{{y:.4f}}<extra></extra>",
        )  # fmt: skip
        y2 = _padded_range(values)
    return y2


def _last_epoch(epochs: pd.DataFrame, steps: pd.DataFrame | None) -> float:
    return max(
        float(epochs["epoch"].max()) if len(epochs) else 0.0,
        float(steps["position"].max()) if steps is not None and len(steps) else 0.0,
    )


def _padded_range(values: pd.Series) -> dict[str, object]:
    """An axis range around ``values`` with some room (plotly's own is odd for one point)."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return {}
    lo, hi = float(finite.min()), float(finite.max())
    pad = max((hi - lo) * 0.15, abs(hi) * 0.02, 1e-3)
    return {"range": [lo - pad, hi + pad]}
