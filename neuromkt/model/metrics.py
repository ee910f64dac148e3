"""Evaluation metrics for binary, multiclass and regression models (numpy only).

Conventions, shared by every function here:

* Binary labels are 0/1 (or booleans); scores are probabilities of the positive class
  (curves and lift accept any real-valued score). A row is predicted positive when
  ``score >= threshold``.
* Ties are handled exactly: AUC is the Mann-Whitney statistic with average ranks, and
  curves step once per distinct score, never between tied rows.
* Returned dicts hold plain Python ``float``/``int`` values, so ``json.dumps`` works.
  A metric that is undefined for the data is ``float("nan")`` rather than an error:
  AUC and average precision when only one class is present, R² when the target is
  constant. (``json.dumps`` writes these as ``NaN``; the bundle writer stores them as
  ``null``.) Precision, recall and F1 with an empty denominator are ``0.0``, as in
  scikit-learn.
* Shape and label mistakes are programming errors and raise ``ValueError``.

The input checks and counting primitives (average ranks, counts per distinct score)
are at the end of the module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "as_labels",
    "as_scores",
    "average_ranks",
    "best_threshold",
    "binary_inputs",
    "binary_metrics",
    "calibration_table",
    "class_indices",
    "confusion_counts",
    "confusion_matrix",
    "counts_by_threshold",
    "lift_table",
    "multiclass_metrics",
    "pr_curve",
    "primary_metric",
    "regression_inputs",
    "regression_metrics",
    "residuals_frame",
    "roc_curve",
    "safe_div",
    "task_metrics",
]


_EPS = 1e-15  # probabilities are clipped to [_EPS, 1 - _EPS] inside log loss
_NAN = float("nan")


# ----------------------------------------------------------------------------- binary
def _roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return _NAN
    rank_sum = average_ranks(s)[y == 1].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    n_pos = y.sum()
    if n_pos == 0:
        return _NAN
    tps, fps, _ = counts_by_threshold(y, s)
    precision = tps / (tps + fps)
    recall_gain = np.diff(np.r_[0.0, tps / n_pos])
    return float(np.sum(recall_gain * precision))


def binary_metrics(y_true: Any, p: Any, *, threshold: float = 0.5) -> dict[str, float | int]:
    """Threshold-free and thresholded metrics of a binary classifier.

    Args:
        y_true: 0/1 labels, shape (N,).
        p: Predicted probabilities of the positive class, shape (N,).
        threshold: Rows with ``p >= threshold`` count as predicted positive.

    Returns:
        ``roc_auc``, ``pr_auc`` (average precision), ``accuracy``, ``precision``,
        ``recall``, ``f1``, ``log_loss`` (probabilities clipped to [1e-15, 1 - 1e-15]),
        ``brier``, ``positive_rate`` (share of actual positives) and ``n``.
    """
    y, prob = binary_inputs(y_true, p, probabilities=True)
    pred = prob >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    precision = float(safe_div(tp, tp + fp))
    recall = float(safe_div(tp, tp + fn))
    clipped = np.clip(prob, _EPS, 1 - _EPS)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    return {
        "roc_auc": _roc_auc(y, prob),
        "pr_auc": _average_precision(y, prob),
        "accuracy": float(np.mean(pred == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": float(safe_div(2 * tp, 2 * tp + fp + fn)),
        "log_loss": float(log_loss),
        "brier": float(np.mean((prob - y) ** 2)),
        "positive_rate": float(y.mean()),
        "n": int(y.size),
    }


def roc_curve(y: Any, p: Any) -> pd.DataFrame:
    """The ROC curve, one row per distinct score plus a leading (0, 0) point.

    Returns:
        Columns ``fpr``, ``tpr``, ``threshold`` (rows with score >= threshold are
        positive; the first row has threshold ``inf``), thresholds decreasing. Rates are
        NaN when a class is absent.
    """
    y_arr, s = binary_inputs(y, p, probabilities=False)
    tps, fps, thresholds = counts_by_threshold(y_arr, s)
    n_pos, n_neg = tps[-1], fps[-1]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return pd.DataFrame(
        {
            "fpr": fps / n_neg if n_neg else np.full(fps.size, _NAN),
            "tpr": tps / n_pos if n_pos else np.full(tps.size, _NAN),
            "threshold": np.r_[np.inf, thresholds],
        }
    )


def pr_curve(y: Any, p: Any) -> pd.DataFrame:
    """The precision-recall curve, one row per distinct score plus a leading point.

    Returns:
        Columns ``recall``, ``precision``, ``threshold``, thresholds decreasing (recall
        increasing). The first row is the conventional (recall 0, precision 1) point
        with threshold ``inf``. Recall is NaN when there are no positives.
    """
    y_arr, s = binary_inputs(y, p, probabilities=False)
    tps, fps, thresholds = counts_by_threshold(y_arr, s)
    n_pos = tps[-1]
    recall = tps / n_pos if n_pos else np.full(tps.size, _NAN)
    return pd.DataFrame(
        {
            "recall": np.r_[0.0, recall],
            "precision": np.r_[1.0, tps / (tps + fps)],
            "threshold": np.r_[np.inf, thresholds],
        }
    )


def calibration_table(
    y: Any, p: Any, n_bins: int = 10, *, strategy: str = "uniform"
) -> pd.DataFrame:
    """Predicted probability against observed frequency, by probability bin.

    Args:
        y: 0/1 labels, shape (N,).
        p: Predicted probabilities, shape (N,).
        n_bins: Number of bins.
        strategy: ``"uniform"`` (equal-width bins on [0, 1], the default) or
            ``"quantile"`` (bins holding about equal numbers of rows). A probability on
            an inner edge falls in the lower bin, as in scikit-learn.

    Returns:
        One row per non-empty bin: ``bin`` (0-based), ``bin_lower``, ``bin_upper``,
        ``mean_pred``, ``frac_pos``, ``count``. Empty bins are left out.
    """
    y_arr, prob = binary_inputs(y, p, probabilities=True)
    if n_bins < 1:
        raise ValueError(f"{n_bins=} must be at least 1.")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(prob, np.linspace(0, 100, n_bins + 1))
    else:
        raise ValueError(f"{strategy=} must be 'uniform' or 'quantile'.")
    bin_ids = np.searchsorted(edges[1:-1], prob)
    count = np.bincount(bin_ids, minlength=n_bins)
    keep = np.flatnonzero(count)
    sum_pred = np.bincount(bin_ids, weights=prob, minlength=n_bins)
    sum_pos = np.bincount(bin_ids, weights=y_arr, minlength=n_bins)
    return pd.DataFrame(
        {
            "bin": keep,
            "bin_lower": edges[keep],
            "bin_upper": edges[keep + 1],
            "mean_pred": sum_pred[keep] / count[keep],
            "frac_pos": sum_pos[keep] / count[keep],
            "count": count[keep],
        }
    )


def lift_table(y: Any, score: Any, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score bin (deciles by default), best scores first.

    Rows are ranked by score, highest first, and cut into ``n_bins`` groups of about
    equal size. Tied scores are never split: every row with a given score goes to the
    bin of its group's average position, so with heavy ties some bins are empty and are
    left out.

    Returns:
        ``decile`` (1 = top scores), ``n``, ``positives``, ``rate``, ``lift`` (rate /
        overall rate; NaN if there are no positives), ``cum_gain`` (cumulative share of
        all positives), ``cum_population`` (cumulative share of rows), ``min_score``,
        ``max_score``.
    """
    y_arr, s = binary_inputs(y, score, probabilities=False)
    if n_bins < 1:
        raise ValueError(f"{n_bins=} must be at least 1.")
    n = y_arr.size
    position = n - average_ranks(s)  # 0 = best score; ties share their mean position
    decile = np.minimum((position * n_bins / n).astype(np.int64), n_bins - 1) + 1
    frame = pd.DataFrame({"decile": decile, "y": y_arr, "s": s})
    table = frame.groupby("decile", sort=True).agg(
        n=("y", "size"), positives=("y", "sum"), min_score=("s", "min"), max_score=("s", "max")
    )
    table = table.reset_index()
    overall = y_arr.mean()
    total_pos = y_arr.sum()
    table["rate"] = table["positives"] / table["n"]
    table["lift"] = table["rate"] / overall if overall > 0 else _NAN
    table["cum_gain"] = table["positives"].cumsum() / total_pos if total_pos else _NAN
    table["cum_population"] = table["n"].cumsum() / n
    columns = ["decile", "n", "positives", "rate", "lift", "cum_gain", "cum_population"]
    return table[[*columns, "min_score", "max_score"]]


_THRESHOLD_METRICS = ("f1", "accuracy", "youden", "balanced_accuracy")


def best_threshold(y: Any, p: Any, metric: str = "f1") -> tuple[float, float]:
    """The score threshold that maximises a thresholded metric.

    Args:
        y: 0/1 labels, shape (N,).
        p: Scores, shape (N,).
        metric: ``"f1"``, ``"accuracy"``, ``"youden"`` (TPR - FPR) or
            ``"balanced_accuracy"``.

    Returns:
        ``(threshold, value)``: predicting ``p >= threshold`` as positive gives
        ``value``. Candidates are the distinct scores plus one just above the largest
        (everything negative); on ties the highest threshold wins.
    """
    if metric not in _THRESHOLD_METRICS:
        raise ValueError(f"{metric=} must be one of {', '.join(_THRESHOLD_METRICS)}.")
    y_arr, s = binary_inputs(y, p, probabilities=False)
    tps, fps, thresholds = counts_by_threshold(y_arr, s)
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thresholds = np.r_[np.nextafter(thresholds[0], np.inf), thresholds]
    n_pos, n_neg = tps[-1], fps[-1]
    fns, tns = n_pos - tps, n_neg - fps
    tpr, tnr = safe_div(tps, n_pos), safe_div(tns, n_neg)
    values = {
        "f1": lambda: safe_div(2 * tps, 2 * tps + fps + fns),
        "accuracy": lambda: (tps + tns) / y_arr.size,
        "youden": lambda: tpr + tnr - 1.0,
        "balanced_accuracy": lambda: (tpr + tnr) / 2.0,
    }[metric]()
    best = int(np.argmax(values))
    return float(thresholds[best]), float(values[best])


# ------------------------------------------------------------------------- regression
def regression_metrics(y: Any, yhat: Any) -> dict[str, float | int]:
    """``rmse``, ``mae``, ``r2`` (NaN when the target is constant) and ``n``."""
    y_arr, pred = regression_inputs(y, yhat)
    resid = y_arr - pred
    ss_tot = float(np.sum((y_arr - y_arr.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else _NAN
    return {
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "mae": float(np.mean(np.abs(resid))),
        "r2": r2,
        "n": int(y_arr.size),
    }


def residuals_frame(y: Any, yhat: Any) -> pd.DataFrame:
    """One row per example: ``actual``, ``predicted``, ``residual`` (actual - predicted)
    and ``abs_residual``."""
    y_arr, pred = regression_inputs(y, yhat)
    resid = y_arr - pred
    return pd.DataFrame(
        {"actual": y_arr, "predicted": pred, "residual": resid, "abs_residual": np.abs(resid)}
    )


# ------------------------------------------------------------------------- multiclass
def multiclass_metrics(y_idx: Any, proba: Any, classes: Sequence[Any]) -> dict[str, float | int]:
    """Metrics of a multiclass classifier.

    Args:
        y_idx: True class indices into ``classes``, shape (N,).
        proba: Predicted probabilities, shape (N, C); rows are renormalised to sum to 1.
        classes: The C class labels.

    Returns:
        ``accuracy``, ``macro_f1`` (averaged over the classes that occur in the labels
        or the predictions), ``log_loss`` (clipped), ``macro_auc`` (one-vs-rest AUC
        averaged over classes that have both positives and negatives; NaN if none),
        ``n`` and ``n_classes``.
    """
    n_classes = len(classes)
    prob = np.asarray(proba, dtype=np.float64)
    y = class_indices(y_idx, n_classes, "Class labels")
    if prob.shape != (y.size, n_classes):
        raise ValueError(f"Probabilities have shape {prob.shape}; expected {(y.size, n_classes)}.")
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise ValueError("Probabilities must be finite and non-negative.")
    row_sums = prob.sum(axis=1, keepdims=True)
    if (row_sums <= 0).any():
        raise ValueError("Every row of probabilities needs a positive sum.")
    prob = prob / row_sums
    pred = prob.argmax(axis=1)
    counts = confusion_counts(y, pred, n_classes)
    tp = np.diag(counts).astype(np.float64)
    support, predicted = counts.sum(axis=1), counts.sum(axis=0)
    f1 = safe_div(2 * tp, support + predicted)
    present = (support + predicted) > 0
    aucs = [_roc_auc((y == k).astype(np.int64), prob[:, k]) for k in range(n_classes)]
    aucs = [a for a in aucs if not np.isnan(a)]
    picked = np.clip(prob[np.arange(y.size), y], _EPS, 1 - _EPS)
    return {
        "accuracy": float(tp.sum() / y.size),
        "macro_f1": float(f1[present].mean()),
        "log_loss": float(-np.mean(np.log(picked))),
        "macro_auc": float(np.mean(aucs)) if aucs else _NAN,
        "n": int(y.size),
        "n_classes": int(n_classes),
    }


def confusion_matrix(y_idx: Any, pred_idx: Any, classes: Sequence[Any]) -> pd.DataFrame:
    """Counts of actual (rows, index ``actual``) by predicted (columns, ``predicted``)
    class, labelled with ``classes`` as text."""
    n_classes = len(classes)
    y = class_indices(y_idx, n_classes, "Class labels")
    pred = class_indices(pred_idx, n_classes, "Predicted classes")
    if pred.shape != y.shape:
        raise ValueError(f"Labels {y.shape} and predictions {pred.shape} must match.")
    labels = [str(c) for c in classes]
    return pd.DataFrame(
        confusion_counts(y, pred, n_classes),
        index=pd.Index(labels, name="actual"),
        columns=pd.Index(labels, name="predicted"),
    )


# ---------------------------------------------------------------------------- by task
_PRIMARY = {
    "binary": ("roc_auc", True),
    # Log loss rather than macro F1: it uses the whole probability vector, so it is
    # stable on small validation sets and suits early stopping and run comparison.
    "multiclass": ("log_loss", False),
    "regression": ("rmse", False),
}


def primary_metric(task: str) -> tuple[str, bool]:
    """The headline metric of a task as ``(name, higher_is_better)``.

    binary: ``("roc_auc", True)``; multiclass: ``("log_loss", False)``;
    regression: ``("rmse", False)``.
    """
    if task not in _PRIMARY:
        raise ValueError(f"Unknown task {task!r}; expected one of {', '.join(_PRIMARY)}.")
    return _PRIMARY[task]


def task_metrics(
    task: str, y: Any, pred: Any, classes: Sequence[Any] | None = None
) -> dict[str, float | int]:
    """Metrics for ``task``: binary (``pred`` = P(positive)), multiclass (``y`` = class
    indices, ``pred`` = (N, C) probabilities, ``classes`` required) or regression."""
    if task == "binary":
        return binary_metrics(y, pred)
    if task == "multiclass":
        if classes is None:
            raise ValueError("Multiclass metrics need the list of classes.")
        return multiclass_metrics(y, pred, classes)
    if task == "regression":
        return regression_metrics(y, pred)
    raise ValueError(f"Unknown task {task!r}; expected binary, multiclass or regression.")


# ----------------------------------------------------------------------------- binary
def as_labels(y: Any) -> np.ndarray:
    """Binary labels as a 1-D int64 array of 0/1 (booleans accepted)."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"Labels must be a non-empty 1-D array, got shape {arr.shape}.")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"Binary labels must be 0/1 or booleans, got dtype {arr.dtype}.")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        raise ValueError(f"Binary labels must be 0 or 1; found {arr[bad][0]!r}.")
    return arr.astype(np.int64)


def as_scores(p: Any, n: int, *, probabilities: bool) -> np.ndarray:
    """``n`` finite scores as float64; with ``probabilities`` each within [0, 1]."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"Scores have shape {arr.shape}, but there are {n} labels.")
    if not np.isfinite(arr).all():
        raise ValueError("Scores contain NaN or infinite values.")
    if probabilities and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError("Probabilities must lie between 0 and 1.")
    return arr


def binary_inputs(y: Any, p: Any, *, probabilities: bool) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(labels, scores)`` of a binary classifier."""
    labels = as_labels(y)
    return labels, as_scores(p, labels.size, probabilities=probabilities)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``; tied values share the average of their ranks."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new_group = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], xs.size]  # exclusive
    group_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = group_rank[np.cumsum(new_group) - 1]
    return ranks


def counts_by_threshold(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cumulative true/false positives at each distinct score, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last_of_group = np.r_[np.flatnonzero(ss[1:] != ss[:-1]), ss.size - 1]
    tps = np.cumsum(ys)[last_of_group].astype(np.float64)
    fps = (last_of_group + 1) - tps
    return tps, fps, ss[last_of_group]


def safe_div(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """``num / den`` elementwise, 0 where ``den`` is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ------------------------------------------------------------------------- regression
def regression_inputs(y: Any, yhat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(targets, predictions)``: finite float64 arrays of the same shape (N,)."""
    y_arr = np.asarray(y, dtype=np.float64)
    pred = np.asarray(yhat, dtype=np.float64)
    if y_arr.ndim != 1 or y_arr.size == 0 or pred.shape != y_arr.shape:
        raise ValueError(f"Targets {y_arr.shape} and predictions {pred.shape} must match (N,).")
    if not (np.isfinite(y_arr).all() and np.isfinite(pred).all()):
        raise ValueError("Targets or predictions contain NaN or infinite values.")
    return y_arr, pred


# ------------------------------------------------------------------------- multiclass
def class_indices(y_idx: Any, n_classes: int, what: str) -> np.ndarray:
    """Class indices as int64, each in 0..n_classes - 1; ``what`` names them in errors."""
    arr = np.asarray(y_idx)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must be a non-empty 1-D array of class indices.")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"{what} must lie in 0..{n_classes - 1}; found {arr.max()}.")
    return arr.astype(np.int64)


def confusion_counts(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts of actual (rows) by predicted (columns) class index."""
    flat = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)  # rows actual, columns predicted
