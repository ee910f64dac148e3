"""Input checks and counting primitives shared by :mod:`neuromkt.metrics` (numpy only).

Validation of binary labels and scores, regression targets and class indices (shape
and label mistakes raise ``ValueError``, as the metrics' conventions say), average
ranks with ties, cumulative counts per distinct score, confusion counts, and a
division that gives 0 where the denominator is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "as_labels",
    "as_scores",
    "average_ranks",
    "binary_inputs",
    "class_indices",
    "confusion_counts",
    "counts_by_threshold",
    "regression_inputs",
    "safe_div",
]


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
