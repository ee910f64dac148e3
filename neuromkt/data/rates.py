"""Outcome rates and means per group, with their 95% intervals.

Which rows count as hits of the positive outcome label, the Wilson score interval of
a proportion, and the per-group rate and mean tables behind
:func:`neuromkt.data.profile.outcome_rates`. Pure pandas and numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neuromkt.data.labels import target_labels
from neuromkt.errors import DataError

__all__ = ["mean_table", "positive_hits", "rate_table", "wilson_interval"]


def wilson_interval(
    n_positive: np.ndarray | float, n: np.ndarray | float, z: float = 1.96
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of a proportion.

    Args:
        n_positive: Number of successes (array or scalar).
        n: Number of trials, at least 1 (array or scalar).
        z: The normal quantile (1.96 for a 95% interval).

    Returns:
        The lower and upper bounds, each within [0, 1].
    """
    k = np.asarray(n_positive, dtype="float64")
    n_arr = np.asarray(n, dtype="float64")
    p = k / n_arr
    denom = 1.0 + z**2 / n_arr
    center = (p + z**2 / (2.0 * n_arr)) / denom
    half = z * np.sqrt(p * (1.0 - p) / n_arr + z**2 / (4.0 * n_arr**2)) / denom
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


def positive_hits(outcome: pd.Series, positive: str, target: str) -> pd.Series:
    """1.0 where the outcome's label (see ``target_labels``) is ``positive``, else 0.0.

    Raises:
        DataError: no row of the outcome ``target`` has the label ``positive``.
    """
    labels = target_labels(outcome)
    if not (labels == positive).any():
        seen = ", ".join(sorted(map(str, labels.unique()))[:10])
        raise DataError(
            f"The outcome '{target}' never equals '{positive}'; its values include {seen}."
        )
    return (labels == positive).astype("float64")


def rate_table(keys: pd.Series, hits: pd.Series, z: float) -> pd.DataFrame:
    """Per group key: ``category``, ``n``, ``n_positive``, the rate ``value`` and its
    Wilson interval ``lower``/``upper``."""
    grouped = hits.groupby(keys, observed=True).agg(["size", "sum"])
    n = grouped["size"].to_numpy(dtype="float64")
    k = grouped["sum"].to_numpy(dtype="float64")
    lower, upper = wilson_interval(k, n, z)
    return pd.DataFrame(
        {
            "category": grouped.index,
            "n": n.astype("int64"),
            "n_positive": k.astype("int64"),
            "value": k / n,
            "lower": lower,
            "upper": upper,
        }
    )


def mean_table(keys: pd.Series, y: pd.Series, z: float) -> pd.DataFrame:
    """Per group key: ``category``, ``n``, ``n_positive`` (NaN), the mean ``value`` and
    its normal-approximation interval ``lower``/``upper``."""
    grouped = y.groupby(keys, observed=True).agg(["size", "mean", "std"])
    n = grouped["size"].to_numpy(dtype="float64")
    mean = grouped["mean"].to_numpy(dtype="float64")
    half = z * np.nan_to_num(grouped["std"].to_numpy(dtype="float64")) / np.sqrt(n)
    return pd.DataFrame(
        {
            "category": grouped.index,
            "n": n.astype("int64"),
            "n_positive": np.full(len(n), np.nan),
            "value": mean,
            "lower": mean - half,
            "upper": mean + half,
        }
    )
