"""Scoring new rows with a trained bundle, in chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from neuromkt.train import outputs_to_predictions, predict_encoded

if TYPE_CHECKING:
    from neuromkt.bundle import ModelBundle

CHUNK_ROWS = 8192


def predict(bundle: ModelBundle, frame: pd.DataFrame, *, batch_size: int = 2048) -> np.ndarray:
    """Scores for every row of ``frame``.

    Returns:
        binary: probability of the positive class, shape (N,); multiclass: class
        probabilities (N, C) in ``bundle.encoders.classes`` order; regression: the
        predicted value (N,) in the target's units.

    Raises:
        ModelError: when ``frame`` lacks a column the model needs.
    """
    bundle.encoders.check_columns(frame)
    parts = []
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        logits = predict_encoded(
            bundle.model, bundle.encoders.transform(chunk), batch_size=batch_size
        )
        parts.append(outputs_to_predictions(logits, bundle.encoders.task, bundle.encoders))
    if parts:
        return np.concatenate(parts)
    n_classes = len(bundle.encoders.classes)
    return np.zeros((0, n_classes) if bundle.encoders.task == "multiclass" else (0,))


def positive_score(bundle: ModelBundle, frame: pd.DataFrame) -> np.ndarray:
    """One number per row to rank by: P(positive), predicted value, or top-class probability."""
    scores = predict(bundle, frame)
    return scores.max(axis=1) if scores.ndim == 2 else scores


@torch.no_grad()
def logits_for(bundle: ModelBundle, frame: pd.DataFrame) -> torch.Tensor:
    """Raw model outputs (N, n_outputs) for ``frame``."""
    return predict_encoded(bundle.model, bundle.encoders.transform(frame))
