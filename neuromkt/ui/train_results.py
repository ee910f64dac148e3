"""The Train page's results: metric cards and charts of the model on held-out rows.

The current model is scored once on the rows it never saw — the test split of its own
training data when the current data set is that data, otherwise every labelled row of
the current data — and the result is memoised in the session, keyed by the model
object and the data set's fingerprint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.act.targeting import reach_at
from neuromkt.errors import NeuromktError
from neuromkt.figures import metrics as figs
from neuromkt.figures._style import export_config
from neuromkt.figures.training import training_curve_figure
from neuromkt.model.bundle import ModelBundle
from neuromkt.model.evaluation import (
    Evaluation,
    baseline_metrics,
    decile_table,
    evaluate_holdout,
    holdout_rows,
    schema_differences,
)
from neuromkt.model.metrics import (
    binary_metrics,
    calibration_table,
    confusion_matrix,
    lift_table,
    pr_curve,
    primary_metric,
    residuals_frame,
    roc_curve,
)
from neuromkt.ui import escape_markdown
from neuromkt.ui.state import DATA_PAGE, Dataset
from neuromkt.ui.train_views import (
    KEY_EVAL,
    KEY_LAST,
    METRIC_LABELS,
    W_CLASS,
)

__all__ = ["evaluation_for", "format_created", "model_section"]

# Metric cards per task: (key, label, format, lower is better, help).
_CARDS: dict[str, list[tuple[str, str, str, bool, str]]] = {
    "binary": [
        ("roc_auc", "AUC", "{:.3f}", False, "How well the model ranks rows: the chance that a "
         "random positive row scores higher than a random negative one. 0.5 is guessing, 1.0 "
         "is perfect; 0.7–0.8 is useful, above 0.9 is rare — check for leakage."),
        ("pr_auc", "PR-AUC", "{:.3f}", False, "Average precision over all cut-offs: how pure "
         "the top of the ranking is. Guessing scores the share of positives."),
        ("accuracy", "Accuracy", "{:.1%}", False, "Share of rows predicted right at the cut-off "
         "named below the cards. With a rare outcome, saying 'no' to everyone "
         "already scores high, so compare it with no model."),
        ("f1", "F1", "{:.3f}", False, "Balance of precision (how many flagged rows really are "
         "positive) and recall (how many positives get flagged), at the cut-off named below."),
        ("log_loss", "Log loss", "{:.3f}", True, "How far the predicted probabilities are "
         "from what happened; lower is better. Confident mistakes cost the most."),
    ],
    "multiclass": [
        ("accuracy", "Accuracy", "{:.1%}", False, "Share of rows whose most likely class is "
         "the right one."),
        ("macro_f1", "Macro-F1", "{:.3f}", False, "F1 averaged over the classes, so small "
         "classes count as much as big ones."),
        ("macro_auc", "Macro AUC", "{:.3f}", False, "Ranking quality of each class against "
         "the rest, averaged. 0.5 is guessing, 1.0 is perfect."),
        ("log_loss", "Log loss", "{:.3f}", True, "How far the predicted probabilities are "
         "from what happened; lower is better."),
    ],
    "regression": [
        ("rmse", "RMSE", "{:,.4g}", True, "Typical size of an error, in the outcome's units; "
         "large errors count more. Lower is better."),
        ("mae", "MAE", "{:,.4g}", True, "Average size of an error, in the outcome's units."),
        ("r2", "R²", "{:.3f}", False, "Share of the outcome's variation the model explains: "
         "0 is no better than always predicting the average, 1 is perfect."),
    ],
}  # fmt: skip


# ---------------------------------------------------------------- evaluation


def evaluation_for(bundle: ModelBundle, dataset: Dataset) -> Evaluation | str:
    """The model scored on rows it did not learn from, or why that is not possible."""
    memo = st.session_state.get(KEY_EVAL)
    if memo and memo["bundle"] is bundle and memo["fingerprint"] == dataset.fingerprint:
        return memo["value"]
    with st.spinner("Scoring the held-out rows…"):
        value = _evaluate(bundle, dataset)
    st.session_state[KEY_EVAL] = {"bundle": bundle, "fingerprint": dataset.fingerprint,
                                  "value": value}  # fmt: skip
    return value


def _evaluate(bundle: ModelBundle, dataset: Dataset) -> Evaluation | str:
    frame = dataset.frame
    last = st.session_state.get(KEY_LAST) or {}
    try:
        if last.get("bundle") is bundle and last.get("fingerprint") == dataset.fingerprint:
            split = {"test": last["test"], "validation": last["validation"]}
        elif bundle.data_fingerprint == dataset.fingerprint:
            split = holdout_rows(bundle, frame)
        else:
            split = None
        return evaluate_holdout(bundle, frame, split)
    except NeuromktError as exc:
        return str(exc)


# ---------------------------------------------------------------- the model's results


def model_section(bundle: ModelBundle, dataset: Dataset | None) -> None:
    """Differences from the data, metric cards and charts on the held-out rows.

    Without a data set, the metrics saved with the model are shown, with a pointer to
    the Data page: scoring and explaining need data.
    """
    config = bundle.model_config
    st.caption(
        f"{bundle.task.capitalize()} model of “{escape_markdown(bundle.target)}” · "
        f"{config.n_layers} layer(s), width {config.d_model}, {config.n_heads} heads · "
        f"created {escape_markdown(format_created(bundle.created_at))}"
    )
    if dataset is None:
        st.info(
            "No data yet: add a data set on the Data page to check this model on it, and to "
            "look at its attention, explain it and score rows. The cards show the metrics "
            "saved with the model.",
            icon=":material/info:",
        )
        st.page_link(DATA_PAGE, label="Go to Data", icon=":material/table:")
        _cards(bundle.task, bundle.metrics.get("test") or bundle.metrics.get("validation") or {},
               None)  # fmt: skip
        _history(bundle)
        return
    differences = schema_differences(bundle.schema, dataset.schema, list(dataset.frame.columns))
    if differences:
        items = "\n".join(f"- {escape_markdown(d)}" for d in differences)
        st.warning(f"This model was trained on other columns than the data set has:\n{items}",
                   icon=":material/difference:")  # fmt: skip
    evaluation = evaluation_for(bundle, dataset)
    if isinstance(evaluation, str):
        st.info(escape_markdown(evaluation) + " The cards show the metrics saved with the model.",
                icon=":material/info:")  # fmt: skip
        saved = bundle.metrics.get("test") or bundle.metrics.get("validation") or {}
        _cards(bundle.task, saved, None)
    else:
        _cards(bundle.task, evaluation.metrics, baseline_metrics(evaluation))
        note = f"Measured on {escape_markdown(evaluation.where)}. The arrows compare with no "
        note += "model: predicting the overall rate (or average) for everyone."
        if bundle.task == "binary":
            note += (
                f" Accuracy, F1 and the confusion matrix count a row as positive from a score "
                f"of {evaluation.threshold:.2f}, the cut-off with the best F1 on the "
                "validation rows."
            )
        st.caption(note)
        _charts(evaluation)
    _history(bundle)


def format_created(iso: str) -> str:
    """ "2026-11-23T01:37:59+00:00" -> "2026-11-23 01:37 UTC"."""
    text = iso.replace("T", " ")
    return text[:16] + " UTC" if text.endswith("+00:00") else text


def _cards(task: str, metrics: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    cards = _CARDS.get(task, [])
    for column, (key, label, fmt, lower, help_text) in zip(
        st.columns(len(cards)), cards, strict=True
    ):
        value = metrics.get(key)
        if not isinstance(value, int | float) or not np.isfinite(value):
            column.metric(label, "—", help=help_text, border=True)
            continue
        delta = None
        base = (baseline or {}).get(key)
        if isinstance(base, int | float) and np.isfinite(base):
            diff = value - base
            delta = f"{diff * 100:+.1f} pts" if fmt.endswith("%}") else f"{diff:+.3f}"
        column.metric(
            label, fmt.format(value), delta, help=help_text, border=True,
            delta_color="inverse" if lower else "normal",
        )  # fmt: skip


def _chart(figure: Any, key: str) -> None:
    st.plotly_chart(figure, key=key, config=export_config(key.removeprefix("train_")))


def _charts(ev: Evaluation) -> None:
    if ev.task == "regression":
        resid = residuals_frame(ev.y, ev.pred)
        left, right = st.columns(2, gap="medium")
        with left:
            _chart(figs.residuals_figure(resid), "train_residuals")
        with right:
            _chart(figs.residual_histogram_figure(resid), "train_residual_hist")
        _chart(figs.decile_figure(decile_table(ev.y, ev.pred), target=ev.target), "train_deciles")
        return
    if ev.task == "multiclass":
        predicted = ev.pred.argmax(axis=1)
        _chart(figs.confusion_figure(confusion_matrix(ev.y, predicted, ev.classes)),
               "train_confusion")  # fmt: skip
        k = st.selectbox("Look at one class against the rest", range(len(ev.classes)),
                         format_func=lambda i: ev.classes[i], key=W_CLASS)  # fmt: skip
        one_class = (ev.y == k).astype(np.int64)
        _binary_charts(one_class, ev.pred[:, k], f"{ev.target} = {ev.classes[k]}")
        return
    _binary_charts(ev.y, ev.pred, f"{ev.target} = {ev.classes[-1]}")
    matrix = confusion_matrix(ev.y, (ev.pred >= ev.threshold).astype(np.int64), ev.classes)
    left, right = st.columns(2, gap="medium")
    with left:
        _chart(figs.calibration_figure(calibration_table(ev.y, ev.pred)), "train_calibration")
    with right:
        _chart(figs.confusion_figure(matrix, threshold=ev.threshold), "train_confusion")


def _binary_charts(y: np.ndarray, score: np.ndarray, what: str) -> None:
    """ROC, PR, lift and gains of one positive class, with a one-line reading of gains."""
    if y.min() == y.max():
        st.caption(f"Either all rows or none have {escape_markdown(what)}: no curves to draw.")
        return
    roc, pr, lift = roc_curve(y, score), pr_curve(y, score), lift_table(y, score)
    summary = binary_metrics(y, score)
    auc, ap = summary["roc_auc"], summary["pr_auc"]
    left, right = st.columns(2, gap="medium")
    with left:
        _chart(figs.roc_figure(roc, auc=auc, title=f"ROC curve: {what}"), "train_roc")
    with right:
        _chart(figs.pr_figure(pr, average_precision=ap, base_rate=float(y.mean()),
                              title=f"Precision and recall: {what}"), "train_pr")  # fmt: skip
    left, right = st.columns(2, gap="medium")
    with left:
        _chart(figs.lift_figure(lift, title=f"Lift by decile: {what}"), "train_lift")
    with right:
        _chart(figs.gains_figure(lift, title=f"Cumulative gains: {what}"), "train_gains")
    gain = reach_at(score, y, 20).share_reached or 0.0  # the Predict page's and report's
    top = lift.iloc[0]
    st.info(
        f"Reading the gains: the top 20% of rows by score hold {gain:.0%} of all "
        f"rows with {escape_markdown(what)}. In the top tenth, {top['rate']:.1%} of the rows "
        f"have it: {top['lift']:.1f}× the average rate of {float(y.mean()):.1%}.",
        icon=":material/insights:",
    )


def _history(bundle: ModelBundle) -> None:
    if not bundle.history:
        return
    metric, _ = primary_metric(bundle.task)
    best = bundle.metrics.get("best_epoch")
    figure = training_curve_figure(
        pd.DataFrame(bundle.history), metric=metric, metric_label=METRIC_LABELS.get(metric, metric),
        best_epoch=int(best) if isinstance(best, int | float) else None,
        title="Training history",
    )  # fmt: skip
    _chart(figure, "train_history")
