"""Which drivers stand out from noise: a permutation test on held-out rows.

A global ranking (attention or attributions) always has a first, a second and a last
column, even when most columns do nothing: a model trained on finite data puts a
little weight everywhere. :func:`noise_floor` asks of every column "does the model
do measurably worse on rows it never saw when this column's values are shuffled
between rows?" Shuffling keeps the column's distribution but breaks its link with
the outcome, so the increase in the held-out loss is what the column is worth; a
column whose increase is within the row-to-row noise of that difference is *not
distinguishable from noise*, however high it ranks.

The test is paired per row: each row's loss with the shuffled column minus its loss
as it was, averaged over ``repeats`` shuffles; the column clears the floor when the
mean increase is ``z`` standard errors above zero (``z = 2.5`` by default: about one
false alarm in 160 noise columns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.data.load import frame_fingerprint
from neuromkt.model.evaluation import holdout_rows
from neuromkt.model.inference import outputs_to_predictions, predict_encoded

if TYPE_CHECKING:
    import torch

    from neuromkt.model.bundle import ModelBundle

__all__ = ["DEFAULT_Z", "NOISE_LABEL", "held_out_noise_floor", "noise_floor"]

DEFAULT_Z = 2.5  # standard errors above zero a column's loss increase must reach
NOISE_LABEL = "not distinguishable from noise"
_EPS = 1e-7  # probabilities are clipped to [_EPS, 1 - _EPS] inside the log loss


def _row_losses(bundle: ModelBundle, inputs: dict[str, torch.Tensor], y: np.ndarray) -> np.ndarray:
    """Each row's loss: log loss (binary, multiclass) or squared error (regression)."""
    encoders = bundle.encoders
    pred = outputs_to_predictions(predict_encoded(bundle.model, inputs), encoders.task, encoders)
    if encoders.task == "binary":
        p = np.clip(pred, _EPS, 1 - _EPS)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    if encoders.task == "multiclass":
        p = np.clip(pred[np.arange(len(y)), y.astype(int)], _EPS, 1.0)
        return -np.log(p)
    return ((pred - y) / (encoders.target_std or 1.0)) ** 2


def _column_slots(bundle: ModelBundle) -> dict[str, list[tuple[str, int]]]:
    """Where each input column lives in the encoded inputs: (tensor name, index on dim 1)."""
    encoders = bundle.encoders
    slots: dict[str, list[tuple[str, int]]] = {}
    for j, e in enumerate(encoders.numeric):
        slots[e.name] = [("numeric", j), ("numeric_missing", j)]
    for j, e in enumerate(encoders.categorical):
        slots[e.name] = [("categorical", j)]
    for j, e in enumerate(encoders.text):  # an event column moves with its time gaps
        slots[e.name] = [("tokens", j)] + ([("gaps", j)] if e.gap_column is not None else [])
    return slots


def noise_floor(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    repeats: int = 5,
    z: float = DEFAULT_Z,
    max_rows: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """For every input column, whether shuffling it hurts the model beyond noise.

    Pass rows the model did not train on (e.g. the test rows of
    :func:`neuromkt.model.evaluation.holdout_rows`): on training rows a model is
    rewarded for what it memorised, noise included.

    Args:
        bundle: A trained model.
        frame: Rows with the model's input columns and the target.
        repeats: Shuffles per column (each a different permutation of the rows).
        z: How many standard errors above zero the mean loss increase must be.
        max_rows: At most this many rows are used (a seeded sample).
        seed: Seeds the sample and the shuffles.

    Returns:
        One row per input column, largest increase first: ``feature``,
        ``loss_increase`` (mean per row, in the model's loss units),
        ``standard_error``, ``z_score`` and ``distinguishable`` (bool).

    Raises:
        ValueError: when ``frame`` has fewer than 20 rows with a known target, or
            ``repeats`` < 1.
    """
    if repeats < 1:
        raise ValueError(f"{repeats=} must be >= 1")
    y_tensor, valid = bundle.encoders.transform_target(frame)
    rows = frame.loc[valid].reset_index(drop=True)
    y = y_tensor.numpy()[valid]
    if bundle.encoders.task == "regression":  # back to the target's units
        y = y * bundle.encoders.target_std + bundle.encoders.target_mean
    if len(rows) < 20:
        raise ValueError(
            f"The noise floor needs at least 20 rows with a known outcome; got {len(rows)}."
        )
    rng = np.random.default_rng(seed)
    if len(rows) > max_rows:
        keep = np.sort(rng.choice(len(rows), size=max_rows, replace=False))
        rows, y = rows.iloc[keep].reset_index(drop=True), y[keep]
    inputs = bundle.encoders.transform(rows)  # encoded once; shuffles permute the ids
    base = _row_losses(bundle, inputs, y)
    records = []
    for column, slots in _column_slots(bundle).items():
        diffs = np.zeros(len(rows))
        for _ in range(repeats):
            order = rng.permutation(len(rows))
            shuffled = dict(inputs)
            for name, j in slots:
                shuffled[name] = inputs[name].clone()
                shuffled[name][:, j] = inputs[name][order, j]
            diffs += _row_losses(bundle, shuffled, y) - base
        diffs /= repeats
        mean = float(diffs.mean())
        se = float(diffs.std(ddof=1) / np.sqrt(len(diffs)))
        score = mean / se if se > 0 else (np.inf if mean > 0 else 0.0)
        records.append((column, mean, se, score, bool(score >= z)))
    table = pd.DataFrame(
        records,
        columns=["feature", "loss_increase", "standard_error", "z_score", "distinguishable"],
    )
    return table.sort_values("loss_increase", ascending=False, kind="stable").reset_index(drop=True)


def held_out_noise_floor(
    bundle: ModelBundle, frame: pd.DataFrame, *, repeats: int = 3, max_rows: int = 3000
) -> tuple[pd.DataFrame | None, str]:
    """:func:`noise_floor` on the rows of ``frame`` the model did not train on.

    When ``frame`` is the model's training data (same fingerprint), that is its held-out
    test rows; otherwise every row of ``frame`` (data the model has not seen).

    Returns:
        The noise-floor table and the rows it was measured on, in words ("3,000
        held-out test rows"); ``(None, "")`` when ``frame`` has no outcome column or
        too few rows with one.
    """
    if bundle.target not in frame.columns:
        return None, ""
    held_out = frame_fingerprint(frame) == bundle.data_fingerprint
    rows = frame.iloc[holdout_rows(bundle, frame)["test"]] if held_out else frame
    try:
        table = noise_floor(bundle, rows, repeats=repeats, max_rows=max_rows)
    except ValueError:  # too few rows with a known outcome
        return None, ""
    where = "held-out test rows" if held_out else "rows of this data set"
    return table, f"{min(len(rows), max_rows):,} {where}"
