"""Figures of model quality draw the traces their tables describe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from neuromkt.figures import metrics as figs
from neuromkt.figures.training import training_curve_figure
from neuromkt.model.evaluation import decile_table
from neuromkt.model.metrics import (
    calibration_table,
    confusion_matrix,
    lift_table,
    pr_curve,
    residuals_frame,
    roc_curve,
)

Y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0])
P = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.4, 0.35, 0.6, 0.05])  # separates perfectly


def _names(fig: go.Figure) -> list[str]:
    return [trace.name for trace in fig.data]


def test_roc_of_a_perfect_ranking() -> None:
    fig = figs.roc_figure(roc_curve(Y, P), auc=1.0)
    assert _names(fig) == ["chance", "model, AUC 1.000"]
    curve = fig.data[1]
    assert (0.0, 1.0) in set(zip(curve.x, curve.y, strict=True))  # all positives, no false alarm
    assert curve.x[0] == 0 and curve.x[-1] == 1 and curve.y[-1] == 1
    assert list(fig.data[0].x) == [0, 1] and list(fig.data[0].y) == [0, 1]


def test_roc_without_auc_and_title_escaped() -> None:
    fig = figs.roc_figure(roc_curve(Y, P), title="<b>clicked</b>")
    assert _names(fig) == ["chance", "model"]
    assert fig.layout.title.text == "&lt;b&gt;clicked&lt;/b&gt;"


def test_pr_has_base_rate_line() -> None:
    fig = figs.pr_figure(pr_curve(Y, P), average_precision=1.0, base_rate=0.4)
    assert _names(fig) == ["chance (40.0%)", "model, PR-AUC 1.000"]
    assert list(fig.data[0].y) == [0.4, 0.4]
    assert fig.data[1].x[0] == 0 and fig.data[1].y[0] == 1  # the (recall 0, precision 1) start
    assert _names(figs.pr_figure(pr_curve(Y, P))) == ["model"]


def test_calibration_points_are_the_bins() -> None:
    table = calibration_table(Y, P, n_bins=5)
    fig = figs.calibration_figure(table)
    assert _names(fig) == ["perfectly calibrated", "model"]
    np.testing.assert_allclose(fig.data[1].x, table["mean_pred"])
    np.testing.assert_allclose(fig.data[1].y, table["frac_pos"])
    sizes = np.asarray(fig.data[1].marker.size)
    assert sizes.argmax() == table["count"].to_numpy().argmax()


def test_confusion_cells_show_counts_and_row_shares() -> None:
    matrix = confusion_matrix(Y, (P >= 0.5).astype(int), ["no", "<yes>"])
    fig = figs.confusion_figure(matrix, threshold=0.5)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap)
    np.testing.assert_allclose(np.asarray(heat.z), [[1.0, 0.0], [0.0, 1.0]])
    assert heat.text[0][0] == "6<br>100%" and heat.text[1][1] == "4<br>100%"
    assert list(fig.layout.xaxis.ticktext) == ["no", "&lt;yes&gt;"]  # user text escaped
    assert "0.50" in fig.layout.title.text


def test_confusion_with_an_empty_class_row() -> None:
    matrix = confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b", "c"])
    heat = figs.confusion_figure(matrix).data[0]
    assert np.asarray(heat.z)[2].tolist() == [0.0, 0.0, 0.0]  # no rows of class c: no NaN


def test_lift_bars_and_reference_line() -> None:
    table = lift_table(Y, P, n_bins=5)
    fig = figs.lift_figure(table)
    assert _names(fig) == ["lift"]
    np.testing.assert_allclose(fig.data[0].y, table["lift"])
    assert fig.data[0].y[0] == pytest.approx(2.5)  # top fifth: all positive, 100% / 40%
    assert fig.layout.shapes[0].y0 == 1


def test_gains_curve_from_origin_to_all_positives() -> None:
    table = lift_table(Y, P, n_bins=5)
    fig = figs.gains_figure(table)
    assert _names(fig) == ["random", "best possible", "model"]
    model = fig.data[2]
    assert (model.x[0], model.y[0]) == (0.0, 0.0)
    assert model.x[-1] == pytest.approx(1.0) and model.y[-1] == pytest.approx(1.0)
    assert list(fig.data[1].x) == [0, pytest.approx(0.4), 1]  # best: all positives first
    assert model.y[2] == pytest.approx(1.0)  # a perfect ranking finds all in the top 40%


def test_residual_figures() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(100, 20, 12_000)
    frame = residuals_frame(y, y + rng.normal(0, 5, y.size))
    scatter = figs.residuals_figure(frame)
    assert _names(scatter) == ["perfect prediction", "rows"]
    assert len(scatter.data[1].x) == 5000  # thinned to evenly spaced rows
    assert "5,000 of 12,000" in scatter.layout.title.text.replace("<br>", " ")  # wrapped
    lo, hi = scatter.data[0].x
    assert lo == pytest.approx(min(frame["actual"].min(), frame["predicted"].min()))
    assert hi == pytest.approx(max(frame["actual"].max(), frame["predicted"].max()))
    hist = figs.residual_histogram_figure(frame)
    assert _names(hist) == ["residuals"] and isinstance(hist.data[0], go.Histogram)
    assert len(hist.data[0].x) == 12_000


def test_decile_figure() -> None:
    y = np.arange(100, dtype=float)
    table = decile_table(y, y + 1.0)
    fig = figs.decile_figure(table, target="<revenue>")
    assert _names(fig) == ["actual", "predicted"]
    assert list(fig.data[0].x) == list(range(1, 11))
    assert fig.data[0].y[0] == pytest.approx(94.5)  # top decile: the ten largest values
    assert fig.data[1].y[0] == pytest.approx(95.5)
    assert fig.layout.yaxis.title.text == "mean &lt;revenue&gt;"


def test_training_curve_live_and_final() -> None:
    epochs = pd.DataFrame(
        {"epoch": [1, 2, 3], "loss": [0.5, 0.4, 0.38], "val_roc_auc": [0.70, 0.75, 0.74]}
    )
    steps = pd.DataFrame(
        {"position": [0.5, 1.0, 1.5, 2.0, 2.5], "loss": [0.6, 0.5, 0.45, 0.4, 0.39]}
    )
    fig = training_curve_figure(
        epochs, metric="roc_auc", metric_label="AUC", steps=steps, best_epoch=2, n_epochs=10
    )
    assert _names(fig) == ["training loss (running)", "training loss", "validation AUC"]
    assert fig.data[2].yaxis == "y2"
    assert list(fig.layout.xaxis.range) == [0, pytest.approx(10.3)]  # the whole planned run
    lo, hi = fig.layout.yaxis2.range
    assert lo < 0.70 and hi > 0.75
    assert fig.layout.shapes[0].x0 == 2  # the kept epoch


def test_training_curve_before_the_first_epoch_ends() -> None:
    steps = pd.DataFrame({"position": [0.1, 0.2], "loss": [0.7, 0.6]})
    empty = pd.DataFrame(columns=["epoch", "loss", "val_rmse"])
    fig = training_curve_figure(empty, metric="rmse", metric_label="RMSE", steps=steps)
    assert _names(fig) == ["training loss (running)"]
    assert training_curve_figure(empty, metric="rmse", metric_label="RMSE").data == ()
