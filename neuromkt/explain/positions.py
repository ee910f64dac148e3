"""Per-position values (attention or attribution) mapped back to features and tokens.

Attention maps and layer attributions both give one number per model position
``(N, T)``. This module is the one place that knows which position is which, so
attention and attribution can be laid side by side for every feature and token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from neuromkt.model.encoders import Encoders
from neuromkt.model.network import FIRST_FEATURE_POSITION


@dataclass(frozen=True)
class PositionValues:
    """Values of N rows, split into feature level and token level.

    Attributes:
        features: (N, F) one column per input column, in model order: numeric and
            categorical columns (their own position) and each text column (the sum
            of its token positions). Index = the frame's index.
        tokens: long frame with ``row`` (the frame's index), ``column``, ``slot``,
            ``token`` and ``value``: one row per real (non-padding) token.
    """

    features: pd.DataFrame
    tokens: pd.DataFrame


def position_labels(encoders: Encoders) -> list[str]:
    """One short label per model position: "[CLS]", column names, "events[3]"."""
    frame = encoders.positions()
    return [
        row.column if row.kind != "token" else f"{row.column}[{row.slot}]"
        for row in frame.itertuples()
    ]


def split_positions(values: np.ndarray, encoders: Encoders, frame: pd.DataFrame) -> PositionValues:
    """Map per-position values of ``frame``'s rows to features and tokens.

    Args:
        values: (N, T) one value per row and model position (position 0 is [CLS],
            whose value is ignored).
        encoders: the bundle's encoders (they define the positions).
        frame: the N rows the values describe (their text gives the tokens).

    Raises:
        ValueError: when the shapes disagree ("values have 12 positions, but the
            model has 11").
    """
    values = np.asarray(values, dtype="float64")
    spec = encoders.spec()
    if values.ndim != 2 or values.shape != (len(frame), spec.n_positions):
        raise ValueError(
            f"values have shape {values.shape}, but {len(frame)} rows and "
            f"{spec.n_positions} model positions were expected"
        )
    n_fixed = FIRST_FEATURE_POSITION + spec.n_features  # [CLS] and the feature tokens
    features = {
        name: values[:, FIRST_FEATURE_POSITION + i]
        for i, name in enumerate(encoders.feature_columns)
    }
    token_parts = []
    start = n_fixed
    for enc, tokens in zip(encoders.text, encoders.tokens(frame).values(), strict=True):
        block = values[:, start : start + enc.max_len]  # (N, L)
        lengths = np.array([len(t) for t in tokens], dtype=int)
        real = np.arange(enc.max_len)[None, :] < lengths[:, None]  # (N, L)
        features[enc.name] = np.where(real, block, 0.0).sum(axis=1)
        rows, slots = np.nonzero(real)
        token_parts.append(
            pd.DataFrame(
                {
                    "row": frame.index.to_numpy()[rows],
                    "column": enc.name,
                    "slot": slots,
                    "token": [tokens[r][s] for r, s in zip(rows, slots, strict=True)],
                    "value": block[rows, slots],
                }
            )
        )
        start += enc.max_len
    columns = [c for c in encoders.input_columns if c in features]
    feature_frame = pd.DataFrame(features, index=frame.index)[columns]
    empty = pd.DataFrame({"row": [], "column": [], "slot": [], "token": [], "value": []})
    token_frame = pd.concat(token_parts, ignore_index=True) if token_parts else empty
    return PositionValues(feature_frame, token_frame)
