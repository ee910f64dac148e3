"""Rank statistics between two scorings of the same positions, row by row.

Kendall's τ-b (from :func:`scipy.stats.kendalltau`) and the overlap of the top k
between two (N, P) arrays, each over a mask of valid positions, and the rank of every
position by value. Used by :mod:`neuromkt.explain.agreement` to compare [CLS]
attention with |attribution|.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["kendall_tau", "position_ranks", "top_k_overlap"]


def kendall_tau(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Kendall's τ-b per row between ``a`` and ``b`` over the ``valid`` positions.

    scipy computes one τ per row (``axis=1``); positions outside ``valid`` are hidden
    from it as NaN and omitted (``nan_policy="omit"``), so every row keeps its own set
    of positions.

    Shape:
        a, b, valid (N, P) -> (N,); NaN where fewer than 2 positions are valid, one
        ranking is all ties, or a valid position holds NaN.
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    valid = np.ones(a.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if a.shape != b.shape or a.shape != valid.shape or a.ndim != 2:
        raise ValueError(f"a {a.shape}, b {b.shape} and valid {valid.shape} must be one (N, P)")
    if a.size == 0:
        return np.full(len(a), np.nan)
    from scipy.stats import kendalltau  # on first use: scipy.stats takes about a second to import

    unknown = ((np.isnan(a) | np.isnan(b)) & valid).any(axis=1)  # not to be omitted
    with warnings.catch_warnings():
        # Rows with fewer than 2 valid positions are NaN by design, not worth a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        tau = kendalltau(
            np.where(valid, a, np.nan), np.where(valid, b, np.nan), axis=1, nan_policy="omit"
        ).statistic
    return np.where(unknown, np.nan, np.asarray(tau, dtype="float64"))


def top_k_overlap(
    a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None, *, k: int = 3
) -> np.ndarray:
    """Share of the top ``k`` positions by ``a`` that are also top ``k`` by ``b``.

    Shape:
        a, b, valid (N, P) -> (N,); NaN where at most ``k`` positions are valid (the
        overlap would be 1 whatever the rankings).
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    valid = np.ones(a.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    top_a = np.argsort(np.where(valid, -a, np.inf), axis=1, kind="stable")[:, :k]
    top_b = np.argsort(np.where(valid, -b, np.inf), axis=1, kind="stable")[:, :k]
    shared = (top_a[:, :, None] == top_b[:, None, :]).any(axis=2).sum(axis=1)
    return np.where(valid.sum(axis=1) > k, shared / k, np.nan)


def position_ranks(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N, T) rank of each position by value, largest 0; invalid positions rank last."""
    order = np.argsort(np.where(valid, -values, np.inf), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(values.shape[1])[None].repeat(len(values), 0), 1)
    return np.where(valid, ranks, np.iinfo(np.int64).max)
