"""Evaluation metrics for binary, multiclass and regression models, on scikit-learn.

The numbers come from :mod:`sklearn.metrics` (ranks from :func:`scipy.stats.rankdata`);
this module adds the conventions the app, the bundles and the report rely on:

* Binary labels are 0/1 (or booleans); scores are probabilities of the positive class
  (curves and lift accept any real-valued score). A row is predicted positive when
  ``score >= threshold``.
* Ties are handled exactly: AUC is the Mann-Whitney statistic with average ranks (the
  area under a ROC curve that steps once per distinct score), and curves step once
  per distinct score, never between tied rows.
* Returned dicts hold plain Python ``float``/``int`` values, so ``json.dumps`` works.
  A metric that is undefined for the data is ``float("nan")`` rather than an error or
  a warning: AUC and average precision when only one class is present, R² when the
  target is constant. (``json.dumps`` writes these as ``NaN``; the bundle writer
  stores them as ``null``.) Precision, recall and F1 with an empty denominator are
  ``0.0``. Log loss clips probabilities to [1e-15, 1 - 1e-15].
* Shape and label mistakes are programming errors and raise ``ValueError`` with a
  message naming the problem (checked here, before scikit-learn sees the data).

scikit-learn is imported on first use: importing it (and with it scipy.stats) at
``import neuromkt`` would add about 1.5 s of CPU to every command and page start.

The input checks are at the end of the module.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "best_threshold",
    "binary_metrics",
    "calibration_table",
    "confusion_matrix",
    "lift_table",
    "multiclass_metrics",
    "pr_curve",
    "primary_metric",
    "regression_metrics",
    "residuals_frame",
    "roc_curve",
    "task_metrics",
]


_EPS = 1e-15  # probabilities are clipped to [_EPS, 1 - _EPS] inside log loss
_NAN = float("nan")
_BINARY = [0, 1]  # the labels of a binary task, passed so one-class data is not an error


def _sklearn_metrics() -> ModuleType:
    """:mod:`sklearn.metrics`, imported on first use (see the module docstring)."""
    from sklearn import metrics

    return metrics


# ----------------------------------------------------------------------------- binary
def _roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC, NaN unless both classes are present."""
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        return _NAN
    return float(_sklearn_metrics().roc_auc_score(y, s))


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
    skm = _sklearn_metrics()
    y, prob = _binary_inputs(y_true, p, probabilities=True)
    pred = (prob >= threshold).astype(np.int64)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=_BINARY, pos_label=1, average="binary", zero_division=0.0
    )
    clipped = np.clip(prob, _EPS, 1 - _EPS)
    return {
        "roc_auc": _roc_auc(y, prob),
        "pr_auc": float(skm.average_precision_score(y, prob)) if y.any() else _NAN,
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "log_loss": float(skm.log_loss(y, clipped, labels=_BINARY)),
        "brier": float(skm.brier_score_loss(y, prob, labels=_BINARY)),
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
    from sklearn.exceptions import UndefinedMetricWarning

    y_arr, s = _binary_inputs(y, p, probabilities=False)
    with warnings.catch_warnings():  # a missing class gives NaN rates, as documented
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thresholds = _sklearn_metrics().roc_curve(y_arr, s, drop_intermediate=False)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thresholds})


def pr_curve(y: Any, p: Any) -> pd.DataFrame:
    """The precision-recall curve, one row per distinct score plus a leading point.

    Returns:
        Columns ``recall``, ``precision``, ``threshold``, thresholds decreasing (recall
        increasing). The first row is the conventional (recall 0, precision 1) point
        with threshold ``inf``. Recall is NaN when there are no positives.
    """
    y_arr, s = _binary_inputs(y, p, probabilities=False)
    with warnings.catch_warnings():  # no positives: recall is set to NaN below
        warnings.filterwarnings("ignore", "No positive class found", UserWarning)
        precision, recall, thresholds = _sklearn_metrics().precision_recall_curve(y_arr, s)
    # scikit-learn lists thresholds increasing and ends with the (recall 0, precision 1)
    # point; this table starts with it.
    precision, recall = precision[::-1], recall[::-1]
    if not y_arr.any():
        recall[1:] = _NAN
    return pd.DataFrame(
        {"recall": recall, "precision": precision, "threshold": np.r_[np.inf, thresholds[::-1]]}
    )


def calibration_table(
    y: Any, p: Any, n_bins: int = 10, *, strategy: str = "uniform"
) -> pd.DataFrame:
    """Predicted probability against observed frequency, by probability bin.

    The bins are those of :func:`sklearn.calibration.calibration_curve` (and the
    tests hold the two together); that function returns the two means but not the
    bins' edges and counts, which the table shows, so the binning is done here.

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
    y_arr, prob = _binary_inputs(y, p, probabilities=True)
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
    from scipy.stats import rankdata

    y_arr, s = _binary_inputs(y, score, probabilities=False)
    if n_bins < 1:
        raise ValueError(f"{n_bins=} must be at least 1.")
    n = y_arr.size
    position = n - rankdata(s, method="average")  # 0 = best; ties share their mean position
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
    y_arr, s = _binary_inputs(y, p, probabilities=False)
    tns, fps, fns, tps, thresholds = _sklearn_metrics().confusion_matrix_at_thresholds(y_arr, s)
    # The all-negative candidate, just above the largest score, comes first.
    tns, fns = np.r_[tns[-1] + fps[-1], tns], np.r_[fns[-1] + tps[-1], fns]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    thresholds = np.r_[np.nextafter(thresholds[0], np.inf), thresholds]
    tpr, tnr = _ratio(tps, tps + fns), _ratio(tns, tns + fps)
    values = {
        "f1": lambda: _ratio(2 * tps, 2 * tps + fps + fns),
        "accuracy": lambda: (tps + tns) / y_arr.size,
        "youden": lambda: tpr + tnr - 1.0,
        "balanced_accuracy": lambda: (tpr + tnr) / 2.0,
    }[metric]()
    best = int(np.argmax(values))
    return float(thresholds[best]), float(values[best])


# ------------------------------------------------------------------------- regression
def regression_metrics(y: Any, yhat: Any) -> dict[str, float | int]:
    """``rmse``, ``mae``, ``r2`` (NaN when the target is constant) and ``n``."""
    skm = _sklearn_metrics()
    y_arr, pred = _regression_inputs(y, yhat)
    constant = bool(np.all(y_arr == y_arr[0]))
    return {
        "rmse": float(skm.root_mean_squared_error(y_arr, pred)),
        "mae": float(skm.mean_absolute_error(y_arr, pred)),
        "r2": _NAN if constant else float(skm.r2_score(y_arr, pred)),
        "n": int(y_arr.size),
    }


def residuals_frame(y: Any, yhat: Any) -> pd.DataFrame:
    """One row per example: ``actual``, ``predicted``, ``residual`` (actual - predicted)
    and ``abs_residual``."""
    y_arr, pred = _regression_inputs(y, yhat)
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
    y = _class_indices(y_idx, n_classes, "Class labels")
    if prob.shape != (y.size, n_classes):
        raise ValueError(f"Probabilities have shape {prob.shape}; expected {(y.size, n_classes)}.")
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise ValueError("Probabilities must be finite and non-negative.")
    row_sums = prob.sum(axis=1, keepdims=True)
    if (row_sums <= 0).any():
        raise ValueError("Every row of probabilities needs a positive sum.")
    prob = prob / row_sums
    pred = prob.argmax(axis=1)
    skm = _sklearn_metrics()
    aucs = [_roc_auc((y == k).astype(np.int64), prob[:, k]) for k in range(n_classes)]
    aucs = [a for a in aucs if not np.isnan(a)]
    clipped = np.clip(prob, _EPS, 1 - _EPS)
    return {
        "accuracy": float(skm.accuracy_score(y, pred)),
        # Without ``labels``, scikit-learn averages over the classes in y or pred.
        "macro_f1": float(skm.f1_score(y, pred, average="macro", zero_division=0.0)),
        "log_loss": float(skm.log_loss(y, clipped, labels=np.arange(n_classes))),
        "macro_auc": float(np.mean(aucs)) if aucs else _NAN,
        "n": int(y.size),
        "n_classes": int(n_classes),
    }


def confusion_matrix(y_idx: Any, pred_idx: Any, classes: Sequence[Any]) -> pd.DataFrame:
    """Counts of actual (rows, index ``actual``) by predicted (columns, ``predicted``)
    class, labelled with ``classes`` as text."""
    n_classes = len(classes)
    y = _class_indices(y_idx, n_classes, "Class labels")
    pred = _class_indices(pred_idx, n_classes, "Predicted classes")
    if pred.shape != y.shape:
        raise ValueError(f"Labels {y.shape} and predictions {pred.shape} must match.")
    labels = [str(c) for c in classes]
    return pd.DataFrame(
        _sklearn_metrics().confusion_matrix(y, pred, labels=np.arange(n_classes)),
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


# ------------------------------------------------------------------------ input checks
def _labels(y: Any) -> np.ndarray:
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


def _scores(p: Any, n: int, *, probabilities: bool) -> np.ndarray:
    """``n`` finite scores as float64; with ``probabilities`` each within [0, 1]."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"Scores have shape {arr.shape}, but there are {n} labels.")
    if not np.isfinite(arr).all():
        raise ValueError("Scores contain NaN or infinite values.")
    if probabilities and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError("Probabilities must lie between 0 and 1.")
    return arr


def _binary_inputs(y: Any, p: Any, *, probabilities: bool) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(labels, scores)`` of a binary classifier."""
    labels = _labels(y)
    return labels, _scores(p, labels.size, probabilities=probabilities)


def _regression_inputs(y: Any, yhat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(targets, predictions)``: finite float64 arrays of the same shape (N,)."""
    y_arr = np.asarray(y, dtype=np.float64)
    pred = np.asarray(yhat, dtype=np.float64)
    if y_arr.ndim != 1 or y_arr.size == 0 or pred.shape != y_arr.shape:
        raise ValueError(f"Targets {y_arr.shape} and predictions {pred.shape} must match (N,).")
    if not (np.isfinite(y_arr).all() and np.isfinite(pred).all()):
        raise ValueError("Targets or predictions contain NaN or infinite values.")
    return y_arr, pred


def _class_indices(y_idx: Any, n_classes: int, what: str) -> np.ndarray:
    """Class indices as int64, each in 0..n_classes - 1; ``what`` names them in errors."""
    arr = np.asarray(y_idx)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} must be a non-empty 1-D array of class indices.")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"{what} must lie in 0..{n_classes - 1}; found {arr.max()}.")
    return arr.astype(np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, 0 where ``den`` is 0 (an empty denominator)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out
