"""Attention by segment: rows split by a column, by outcome or by predicted-score decile.

Builds on :mod:`neuromkt.explain.attention`: a segment label per row, then the mean [CLS]
attention per segment and input column next to the overall mean.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from neuromkt.data.labels import target_labels
from neuromkt.errors import DataError
from neuromkt.explain.attention import (
    DEFAULT_VIEW,
    AttentionMaps,
    AttentionView,
    feature_kinds,
    feature_values,
)
from neuromkt.model.encoders import Encoders

__all__ = [
    "OUTCOME",
    "SCORE_DECILE",
    "example_row",
    "outcome_labels",
    "outcome_values",
    "segment_labels",
    "segment_table",
]

OUTCOME = "(outcome)"  # segment_labels(by=OUTCOME): rows split by their outcome
SCORE_DECILE = "(score decile)"  # segment_labels(by=SCORE_DECILE): by predicted-score decile
_MISSING = "(missing)"
_OTHER = "(other)"


def outcome_labels(encoders: Encoders, frame: pd.DataFrame) -> pd.Series:
    """Each row's outcome as an ordered categorical label.

    Classification: "purchased = 1", "purchased = 0" (the positive class first);
    regression: above / at or below the median. Rows without an outcome get
    "(missing)".

    Raises:
        DataError: when ``frame`` has no outcome column.
    """
    target = encoders.target
    if target not in frame.columns:
        raise DataError(
            f"The data has no outcome column '{target}', so its rows cannot be "
            "split by outcome; choose another segment."
        )
    if encoders.task == "regression":
        y = pd.to_numeric(frame[target], errors="coerce")
        median = y.median()
        high, low = f"{target} above {median:.4g}", f"{target} at or below {median:.4g}"
        labels = np.where(y.isna(), _MISSING, np.where(y > median, high, low))
        order = [high, low, _MISSING]
    else:
        raw = target_labels(frame[target])
        classes = (
            list(reversed(encoders.classes))
            if encoders.task == "binary"
            else list(encoders.classes)
        )
        names = {c: f"{target} = {c}" for c in classes}
        labels = raw.map(names).fillna(_MISSING).to_numpy(dtype=object)
        order = [*names.values(), _MISSING]
    return _ordered(labels, order, frame.index)


def _ordered(labels: Any, order: Sequence[str], index: pd.Index) -> pd.Series:
    present = set(labels)
    categories = [c for c in order if c in present]
    return pd.Series(pd.Categorical(labels, categories=categories, ordered=True), index=index)


def segment_labels(
    maps: AttentionMaps, frame: pd.DataFrame, by: str, *, max_levels: int = 12
) -> pd.Series:
    """A segment label per row: by a column, by outcome, or by predicted-score decile.

    Args:
        maps: attention of ``frame``'s rows (same rows, same order).
        frame: the rows.
        by: :data:`OUTCOME`, :data:`SCORE_DECILE` or a column of ``frame``. A numeric
            column with more than ``max_levels`` values is cut into quintiles; a
            categorical column keeps its ``max_levels - 1`` commonest values, the rest
            become "(other)".
        max_levels: most segments shown for one column.
    """
    if len(frame) != maps.n_rows:
        raise ValueError(f"the data has {len(frame)} rows, but the attention {maps.n_rows}")
    if by == OUTCOME:
        return outcome_labels(maps.encoders, frame)
    if by == SCORE_DECILE:
        return _bins(pd.Series(maps.scores, index=frame.index), 10, "D")
    if by not in frame.columns:
        raise DataError(f"There is no column '{by}' to split the rows by.")
    series = frame[by]
    if pd.api.types.is_numeric_dtype(series) and series.nunique() > max_levels:
        return _bins(pd.to_numeric(series, errors="coerce"), 5, "Q")
    text = series.astype("string").str.strip()
    counts = text.value_counts()
    kept = list(counts.index[: max_levels - 1] if len(counts) > max_levels else counts.index)
    if pd.api.types.is_numeric_dtype(series):
        kept = sorted(kept, key=float)
    labels = text.where(text.isin(kept), _OTHER).fillna(_MISSING).to_numpy(dtype=object)
    labels[text.isna().to_numpy()] = _MISSING
    return _ordered(labels, [*kept, _OTHER, _MISSING], frame.index)


def _bins(values: pd.Series, n_bins: int, prefix: str) -> pd.Series:
    """Equal-count bins labelled with their range, e.g. "D3 · 0.12–0.18"."""
    valid = values.notna().to_numpy()
    labels = np.full(len(values), _MISSING, dtype=object)
    n = min(n_bins, int(valid.sum()))
    if n:
        ranks = values[valid].rank(method="first")
        codes = pd.qcut(ranks, n, labels=False).to_numpy()
        v = values[valid].to_numpy()
        names = [
            f"{prefix}{k + 1} · {v[codes == k].min():.3g}–{v[codes == k].max():.3g}"
            for k in range(n)
        ]
        labels[valid] = np.asarray(names, dtype=object)[codes]
    else:
        names = []
    return _ordered(labels, [*names, _MISSING], values.index)


def outcome_values(encoders: Encoders, frame: pd.DataFrame) -> np.ndarray:
    """Per row: 1/0 for the positive class (binary), the value (regression), else NaN."""
    target = encoders.target
    if target not in frame.columns or encoders.task == "multiclass":
        return np.full(len(frame), np.nan)
    if encoders.task == "regression":
        return pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype="float64")
    raw = target_labels(frame[target])
    positive = (raw == encoders.classes[1]).astype("float64")
    return positive.where(raw.isin(encoders.classes)).to_numpy(dtype="float64")


def segment_table(
    maps: AttentionMaps, segments: pd.Series, view: AttentionView = DEFAULT_VIEW
) -> pd.DataFrame:
    """Mean [CLS] attention per segment and input column, next to the overall mean.

    Args:
        maps: attention of N rows.
        segments: N labels (e.g. from :func:`segment_labels`), in the rows' order.
        view: which layer/head/method.

    Returns:
        Tidy frame with ``segment``, ``feature``, ``kind``, ``n_rows``, ``attention``,
        ``overall`` and ``difference`` (segment minus overall); segments in their
        categorical order, features by overall attention, largest first.
    """
    if len(segments) != maps.n_rows:
        raise ValueError(f"{len(segments)} segment labels for {maps.n_rows} rows")
    values = feature_values(maps, view).reset_index(drop=True)
    key = segments.reset_index(drop=True).rename("segment")  # keeps a categorical order
    overall = values.mean()
    means = values.groupby(key, observed=True, sort=True).mean()
    sizes = key.value_counts()
    order = list(overall.sort_values(ascending=False, kind="stable").index)
    tidy = means[order].stack().rename("attention").reset_index()
    tidy.columns = ["segment", "feature", "attention"]
    kinds = feature_kinds(maps.encoders)
    tidy["kind"] = tidy["feature"].map(kinds)
    tidy["n_rows"] = tidy["segment"].map(sizes).astype("int64")
    tidy["overall"] = tidy["feature"].map(overall).astype("float64")
    tidy["difference"] = tidy["attention"] - tidy["overall"]
    return tidy[["segment", "feature", "kind", "n_rows", "attention", "overall", "difference"]]


# ---------------------------------------------------------------- rows worth a look


def example_row(maps: AttentionMaps, frame: pd.DataFrame, which: str) -> Hashable | None:
    """A row worth a look: "high" = the highest-scoring row with the positive outcome,
    "low" = the lowest-scoring row with the negative one (any row when the outcome is
    unknown or not binary). None when there is no such row."""
    if which not in ("high", "low"):
        raise ValueError(f"which={which!r} must be 'high' or 'low'")
    y = outcome_values(maps.encoders, frame)
    wanted = 1.0 if which == "high" else 0.0
    known = maps.encoders.task == "binary" and not np.isnan(y).all()
    candidates = np.flatnonzero(y == wanted) if known else np.arange(maps.n_rows)
    if not len(candidates):
        return None
    scores = maps.scores[candidates]
    best = candidates[np.argmax(scores) if which == "high" else np.argmin(scores)]
    return maps.index[best]
