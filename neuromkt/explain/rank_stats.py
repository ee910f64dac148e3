"""Rank statistics between two scorings of the same positions, vectorised over rows.

Kendall's τ-b and the overlap of the top k between two (N, P) arrays, each over a
mask of valid positions, and the rank of every position by value. Pure numpy; used by
:mod:`neuromkt.explain.agreement` to compare [CLS] attention with |attribution|.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kendall_tau", "position_ranks", "top_k_overlap"]

_CHUNK = 1024  # rows per pass of the vectorised τ


def kendall_tau(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Kendall's τ-b per row between ``a`` and ``b`` over the ``valid`` positions.

    Shape:
        a, b, valid (N, P) -> (N,); NaN where fewer than 2 positions are valid or
        one ranking is all ties.
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    valid = np.ones(a.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    out = np.full(len(a), np.nan)
    upper = np.triu(np.ones((a.shape[1], a.shape[1]), dtype=bool), k=1)
    for start in range(0, len(a), _CHUNK):
        rows = slice(start, start + _CHUNK)
        pair = valid[rows, :, None] & valid[rows, None, :] & upper  # (n, P, P)
        sa = np.sign(a[rows, :, None] - a[rows, None, :]) * pair
        sb = np.sign(b[rows, :, None] - b[rows, None, :]) * pair
        num = (sa * sb).sum(axis=(1, 2))
        den = np.sqrt(np.abs(sa).sum(axis=(1, 2)) * np.abs(sb).sum(axis=(1, 2)))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = np.where(den > 0, num / den, np.nan)
    return out


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
