"""Each row's top drivers in words, from per-row attributions.

:func:`row_attributions` explains every row's score on the model's token embeddings
(:mod:`neuromkt.explain.attributions`); :func:`driver_table` sums the attributions per feature and
per token and keeps each row's largest; :func:`driver_texts` writes them as one text
per row, e.g. ``“cart” in events +0.62, returning_visitor=yes +0.31, channel=display
−0.12``. :func:`neuromkt.act.scoring.score_frame` and the what-if use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.explain.attention import cell_text
from neuromkt.explain.positions import split_positions
from neuromkt.model.encoders import Encoders
from neuromkt.model.inference import predict
from neuromkt.progress import OnProgress, Tracker

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "AUTO_IG_ROWS",
    "IG_STEPS",
    "driver_table",
    "driver_texts",
    "pick_method",
    "row_attributions",
]

AUTO_IG_ROWS = 2_000  # "auto": Integrated Gradients up to this many rows, Input×Gradient above
IG_STEPS = 16  # Integrated Gradients steps for driver text (enough for a ranking)


# ---------------------------------------------------------------- attributions


def pick_method(n_rows: int, method: str = "auto") -> str:
    """The attribution method for ``n_rows`` rows: "auto" picks Integrated Gradients
    for small files and the one-pass Input×Gradient for large ones."""
    if method != "auto":
        return method
    return "ig" if n_rows <= AUTO_IG_ROWS else "inputxgrad"


def _class_groups(
    bundle: ModelBundle, frame: pd.DataFrame, classes: np.ndarray | None
) -> list[tuple[int | None, np.ndarray]]:
    """(class index or None, row positions) for each attribution pass over ``frame``."""
    if bundle.task != "multiclass":
        return [(None, np.arange(len(frame)))]
    if classes is None:
        classes = predict(bundle, frame).argmax(axis=1)
    return [(c, np.flatnonzero(classes == c)) for c in np.unique(classes)]


def row_attributions(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    method: str = "auto",
    classes: np.ndarray | None = None,
    on_progress: OnProgress | None = None,
) -> np.ndarray:
    """Per-position attributions (N, T) of every row, on the model's log-odds.

    Binary models explain the log-odds of the positive class, regression models the
    predicted value, multiclass models each row's own class (``classes``: one class
    index per row; the predicted class when None).

    Args:
        bundle: A trained model.
        frame: The rows (with the model's columns).
        method: A key of ``neuromkt.explain.attributions.METHODS`` or "auto" (:func:`pick_method`).
        classes: Multiclass only: the class index to explain per row.
        on_progress: Called after each chunk with a :class:`neuromkt.progress.Progress`
            (rows explained of ``len(frame)``).
    """
    from neuromkt.explain.attributions import attribute

    method = pick_method(len(frame), method)
    frame = frame.reset_index(drop=True)
    opts = {"steps": IG_STEPS} if method == "ig" else {}
    T = bundle.encoders.spec().n_positions
    raw = np.zeros((len(frame), T))
    done, tracker = 0, Tracker(on_progress, len(frame))
    for index, rows in _class_groups(bundle, frame, classes):
        target = None if index is None else bundle.encoders.classes[int(index)]
        report = tracker.part(done, "Explaining each row's score")
        result = attribute(
            bundle, frame.iloc[rows], method, target=target, on_progress=report, **opts
        )
        raw[rows] = result.raw
        done += len(rows)
    return raw


# ---------------------------------------------------------------- drivers in words


def _signed(value: float) -> str:
    """``+0.21`` / ``−0.05`` (a true minus sign), more digits for tiny values."""
    text = f"{value:+.2f}" if abs(value) >= 0.005 else f"{value:+.1g}"
    return text.replace("-", "−")


def _candidates(values: np.ndarray, encoders: Encoders, frame: pd.DataFrame) -> pd.DataFrame:
    """Every feature and every distinct token of every row with its summed value."""
    split = split_positions(values, encoders, frame)
    fixed = encoders.feature_columns
    n = len(frame)
    kinds = ["numeric"] * len(encoders.numeric) + ["categorical"] * len(encoders.categorical)
    parts = [
        pd.DataFrame(
            {
                "row": np.repeat(np.arange(n), len(fixed)),
                "feature": np.tile(np.asarray(fixed, dtype=object), n),
                "kind": np.tile(np.asarray(kinds, dtype=object), n),
                "token": None,
                "count": 1,
                "value": split.features[fixed].to_numpy(dtype="float64").ravel(),
            }
        )
    ]
    tokens = split.tokens
    if len(tokens):
        grouped = tokens.groupby(["row", "column", "token"], sort=False, observed=True)
        summed = grouped["value"].agg(["sum", "size"]).reset_index()
        parts.append(
            pd.DataFrame(
                {
                    "row": summed["row"].to_numpy(dtype="int64"),
                    "feature": summed["column"].astype(object).to_numpy(),
                    "kind": "text",
                    "token": summed["token"].astype(object).to_numpy(),
                    "count": summed["size"].to_numpy(dtype="int64"),
                    "value": summed["sum"].to_numpy(dtype="float64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _label(kind: str, column: str, token: str | None, count: int, cell: object) -> str:
    if kind == "text":
        times = f" ×{count}" if count > 1 else ""
        return f"“{token}”{times} in {column}"
    if cell is None or (not isinstance(cell, str) and pd.isna(cell)):
        return f"{column} missing"
    return f"{column}={cell_text(cell, 24)}"


def driver_table(
    values: np.ndarray, encoders: Encoders, frame: pd.DataFrame, *, top_k: int = 3
) -> pd.DataFrame:
    """The ``top_k`` largest drivers of every row, by absolute attribution.

    A numeric or categorical column is one driver; in a text column every distinct
    token is one driver (repeated tokens summed). Zero attributions are left out.

    Args:
        values: (N, T) per-position attributions of ``frame``'s rows (position 0,
            [CLS], is ignored), e.g. from :func:`neuromkt.explain.attributions`.
        encoders: The model's encoders (they define the positions).
        frame: The N rows.
        top_k: Drivers kept per row.

    Returns:
        Long frame: ``row`` (0-based position in ``frame``), ``rank`` (1 = largest),
        ``feature``, ``kind``, ``token`` (None for non-text), ``count``, ``value`` and
        ``label`` (e.g. "channel=email", "“cart” in events").
    """
    if top_k < 1:
        raise ValueError(f"{top_k=} must be at least 1")
    frame = frame.reset_index(drop=True)
    table = _candidates(values, encoders, frame)
    table = table[table["value"] != 0]
    table = table.assign(_abs=-table["value"].abs()).sort_values(
        ["row", "_abs"], kind="stable", ignore_index=True
    )
    table["rank"] = table.groupby("row").cumcount() + 1
    table = table[table["rank"] <= top_k].drop(columns="_abs").reset_index(drop=True)
    cells = [
        None if kind == "text" else frame[column].iat[row]
        for kind, column, row in zip(table["kind"], table["feature"], table["row"], strict=True)
    ]
    table["label"] = [
        _label(*parts)
        for parts in zip(
            table["kind"], table["feature"], table["token"], table["count"], cells, strict=True
        )
    ]
    return table[["row", "rank", "feature", "kind", "token", "count", "value", "label"]]


def driver_texts(table: pd.DataFrame, n_rows: int) -> list[str]:
    """One text per row from :func:`driver_table`: "label +0.21, label −0.05, …"."""
    texts = [""] * n_rows
    pieces = [
        f"{label} {_signed(v)}" for label, v in zip(table["label"], table["value"], strict=True)
    ]
    for row, piece in zip(table["row"], pieces, strict=True):
        texts[row] = piece if not texts[row] else f"{texts[row]}, {piece}"
    return texts
