"""Scoring rows with a trained model: the device, raw outputs in batches, predictions.

Used by training (validation), by every explanation and by scoring new files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from neuromkt.model.encoders import Encoders
from neuromkt.progress import OnProgress, Tracker

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.network import AttentionModel

CHUNK_ROWS = 8192


def pick_device(name: str = "auto") -> torch.device:
    """``cuda`` when asked for or available (``auto``), else ``cpu``."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def outputs_to_predictions(logits: torch.Tensor, task: str, encoders: Encoders) -> np.ndarray:
    """Binary: P(positive) (N,); multiclass: probabilities (N, C); regression: value (N,)."""
    if task == "binary":
        return torch.sigmoid(logits[:, 0]).double().cpu().numpy()
    if task == "multiclass":
        return torch.softmax(logits.double(), dim=1).cpu().numpy()
    return (logits[:, 0].double() * encoders.target_std + encoders.target_mean).cpu().numpy()


@torch.no_grad()
def predict_encoded(
    model: AttentionModel, inputs: dict[str, torch.Tensor], *, batch_size: int = 2048
) -> torch.Tensor:
    """Logits for encoded inputs, in chunks, on the model's device. Shape: (N, n_outputs)."""
    model.eval()
    device = next(model.parameters()).device
    n = len(next(iter(inputs.values())))
    chunks = []
    for start in range(0, n, batch_size):
        batch = {k: v[start : start + batch_size].to(device) for k, v in inputs.items()}
        chunks.append(model(**batch).float().cpu())
    return torch.cat(chunks) if chunks else torch.zeros(0, model.spec.n_outputs)


def predict(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    batch_size: int = 2048,
    on_progress: OnProgress | None = None,
) -> np.ndarray:
    """Scores for every row of ``frame``.

    Args:
        bundle: A trained model.
        frame: The rows to score (the model's columns; others are ignored).
        batch_size: Rows per forward pass.
        on_progress: Called after every chunk of ``CHUNK_ROWS`` rows with a
            :class:`neuromkt.progress.Progress` (rows scored of ``len(frame)``).

    Returns:
        binary: probability of the positive class, shape (N,); multiclass: class
        probabilities (N, C) in ``bundle.encoders.classes`` order; regression: the
        predicted value (N,) in the target's units.

    Raises:
        ModelError: when ``frame`` lacks a column the model needs.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> scores = nm.predict(bundle, nm.load_sample("ecommerce").head(200))
        >>> scores.shape, bool(((scores > 0) & (scores < 1)).all())
        ((200,), True)
    """
    bundle.encoders.check_columns(frame)
    parts = []
    tracker = Tracker(on_progress, len(frame))
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        logits = predict_encoded(
            bundle.model, bundle.encoders.transform(chunk), batch_size=batch_size
        )
        parts.append(outputs_to_predictions(logits, bundle.encoders.task, bundle.encoders))
        tracker.update(start + len(chunk), "Scoring")
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
