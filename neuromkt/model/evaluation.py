"""How a trained model does on rows it never saw, and whether it fits a data set.

``holdout_rows`` finds the test rows of a model's own training data (the split
``fit`` made, reproduced from the seed and shares stored in the bundle);
``evaluate_holdout`` and ``evaluate_rows`` score rows and return the labels,
predictions and metrics that the Train page's cards and charts draw;
``schema_differences`` lists, in plain language, how a data set's columns differ
from what a model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.data.labels import target_labels
from neuromkt.data.schema import Schema
from neuromkt.model.inference import predict
from neuromkt.model.metrics import best_threshold, binary_metrics, task_metrics
from neuromkt.model.training import split_rows

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "Evaluation",
    "baseline_metrics",
    "decile_table",
    "evaluate_holdout",
    "evaluate_rows",
    "headline_rows",
    "holdout_rows",
    "schema_differences",
]


@dataclass(frozen=True)
class Evaluation:
    """Labels, predictions and metrics of a model on some rows.

    Attributes:
        task: "binary", "multiclass" or "regression".
        target: The target column.
        classes: Class labels (binary: negative, positive); empty for regression.
        y: Binary 0/1, multiclass class index, regression value; shape (N,).
        pred: Binary P(positive) (N,), multiclass probabilities (N, C), regression (N,).
        metrics: ``neuromkt.model.metrics.task_metrics`` of ``y`` and ``pred``.
        where: Which rows, in words ("the 3,000 test rows held out during training").
        threshold: Binary: the score from which a row counts as positive (for accuracy,
            F1 and the confusion matrix).
    """

    task: str
    target: str
    classes: tuple[str, ...]
    y: np.ndarray
    pred: np.ndarray
    metrics: dict[str, float]
    where: str
    threshold: float = 0.5


def holdout_rows(bundle: ModelBundle, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The train/validation/test rows ``fit`` used, when ``frame`` is the training data.

    ``fit`` splits the labelled rows with a seeded, stratified split; with the same
    frame, target, classes, shares and seed the split is the same, so it can be
    rebuilt from the bundle. Call it only when ``frame`` has the bundle's
    ``data_fingerprint``.

    Returns:
        Positional row indices per split, as in ``TrainResult.split``.
    """
    schema, config = bundle.schema, bundle.train_config
    target = frame[schema.target]
    if schema.task == "regression":
        y = pd.to_numeric(target, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        labelled = np.flatnonzero(np.isfinite(y))
    else:
        labels = target_labels(target)
        labelled = np.flatnonzero(labels.isin(schema.classes).to_numpy())
        y = labels.to_numpy()
    split = split_rows(
        y[labelled], task=schema.task, val_fraction=config.val_fraction,
        test_fraction=config.test_fraction, seed=config.seed,
    )  # fmt: skip
    return {name: labelled[rows] for name, rows in split.items()}


def headline_rows(
    bundle: ModelBundle, frame: pd.DataFrame, fingerprint: str
) -> tuple[np.ndarray | None, str]:
    """The rows headline figures are measured on, and their name.

    When ``fingerprint`` (of ``frame``) is the model's training data, the test rows
    held out during training (positional); else None: every row of ``frame``, which
    the model did not train on.
    """
    if fingerprint == bundle.data_fingerprint:
        rows = holdout_rows(bundle, frame)["test"]
        return rows, f"the {len(rows):,} test rows held out during training"
    return None, f"all {len(frame):,} rows of this data"


def evaluate_holdout(
    bundle: ModelBundle, frame: pd.DataFrame, split: dict[str, np.ndarray] | None
) -> Evaluation:
    """The model on rows it did not learn from.

    Args:
        bundle: The model.
        frame: Its training data when ``split`` is given, else any data with the target.
        split: ``TrainResult.split`` or :func:`holdout_rows` of ``frame``; None when
            ``frame`` is not the training data (then every labelled row is scored).

    Returns:
        The evaluation on the test rows (the validation rows when there is no test
        split). For a binary model the cut-off is the one with the best F1 on the
        validation rows, so that it is not tuned on the rows it is judged on.
    """
    if split is None:
        where = "rows of the current data set (not the data the model was trained on)"
        return evaluate_rows(bundle, frame, None, where=where)
    threshold = 0.5
    if bundle.task == "binary" and len(split["validation"]):
        validation = evaluate_rows(bundle, frame, split["validation"], where="validation rows")
        if validation.y.min() != validation.y.max():
            threshold, _ = best_threshold(validation.y, validation.pred, "f1")
    if len(split["test"]):
        rows, where = split["test"], "test rows held out during training"
    else:
        rows, where = split["validation"], "validation rows"
    return evaluate_rows(bundle, frame, rows, where=where, threshold=threshold)


def evaluate_rows(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    rows: np.ndarray | None,
    *,
    where: str,
    threshold: float = 0.5,
) -> Evaluation:
    """Score ``frame.iloc[rows]`` (all rows when None) and compare with the target.

    Rows without a usable target value are left out. ``where`` describes the rows
    ("test rows"); the evaluation's ``where`` starts with their count.

    Raises:
        ModelError: ``frame`` lacks a column the model needs.
        DataError: ``frame`` has no target column, or no row has a target value.
    """
    from neuromkt.errors import DataError

    target = bundle.target
    if target not in frame.columns:
        raise DataError(f"The data has no column '{target}', so the model cannot be checked.")
    part = frame if rows is None else frame.iloc[rows]
    encoders = bundle.encoders
    y_tensor, valid = encoders.transform_target(part)
    if not valid.any():
        raise DataError(f"No row has a value in '{target}' that the model knows.")
    part = part.iloc[np.flatnonzero(valid)]
    y = y_tensor.numpy()[valid]
    if bundle.task == "regression":
        y = y.astype("float64") * encoders.target_std + encoders.target_mean
    elif bundle.task == "binary":
        y = y.astype(np.int64)
    pred = predict(bundle, part)
    classes = tuple(str(c) for c in encoders.classes)
    if bundle.task == "binary":
        metrics = binary_metrics(y, pred, threshold=threshold)
    else:
        metrics = task_metrics(bundle.task, y, pred, classes or None)
    where = f"the {len(y):,} {where}"
    return Evaluation(bundle.task, target, classes, y, pred, metrics, where, threshold)


def baseline_metrics(evaluation: Evaluation) -> dict[str, float]:
    """The metrics of "no model": predicting the overall rate, class shares or mean.

    What a model has to beat: AUC 0.5, PR-AUC = the positive share, accuracy = the
    majority share (a constant score is cut at 0.5, so everyone gets the majority
    class), R² = 0.
    """
    y, n = evaluation.y, len(evaluation.y)
    if evaluation.task == "multiclass":
        shares = np.bincount(y, minlength=len(evaluation.classes)) / max(n, 1)
        constant = np.tile(shares, (n, 1))
    else:
        constant = np.full(n, float(np.mean(y)))
    return task_metrics(evaluation.task, y, constant, evaluation.classes or None)


def decile_table(y: np.ndarray, pred: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean actual and predicted value per decile of the prediction (1 = highest).

    Returns:
        ``decile``, ``n``, ``actual`` (mean), ``predicted`` (mean); empty groups left out.
    """
    order = np.argsort(-np.asarray(pred, dtype=np.float64), kind="stable")
    decile = np.empty(len(order), dtype=np.int64)
    decile[order] = np.arange(len(order)) * n_bins // max(len(order), 1) + 1
    frame = pd.DataFrame({"decile": decile, "actual": y, "predicted": pred})
    table = frame.groupby("decile").agg(
        n=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    return table.reset_index()


def schema_differences(model: Schema, data: Schema, columns: list[str]) -> list[str]:
    """How a data set differs from what a model was trained on, one sentence each.

    Args:
        model: The model's schema (``bundle.schema``).
        data: The data set's current schema.
        columns: The data set's columns.

    Returns:
        Sentences naming missing columns, a different target, columns whose role
        differs, and feature columns the model does not use; empty when they match.
    """
    present = set(columns)
    notes = []
    missing = [c for c in model.features if c not in present]
    if missing:
        notes.append(f"Missing column(s) the model needs: {_names(missing)}.")
    if model.target not in present:
        notes.append(f"The data has no column '{model.target}', the outcome this model predicts.")
    elif data.target != model.target:
        now = f"'{data.target}'" if data.target else "not chosen"
        notes.append(f"The model predicts '{model.target}', but the data set's outcome is {now}.")
    data_roles = {c.name: c.role for c in data.columns}
    changed = [
        f"'{c}' is {data_roles[c]} here but {model.role_of(c)} in the model"
        for c in model.features
        if c in data_roles and data_roles[c] != model.role_of(c)
    ]
    if changed:
        notes.append("Different roles: " + "; ".join(changed[:8]) + ".")
    unused = [c for c in data.features if c not in set(model.features)]
    if unused:
        notes.append(f"Feature column(s) this model does not use: {_names(unused)}.")
    return notes


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
