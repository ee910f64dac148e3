"""Targeting: "if we contact the top N% by score, how many converters do we reach?".

:func:`reach_at` answers it for one N, :func:`targeting_table` gives lift and
cumulative gains for every score bin, and :func:`top_rows` is the contact list. They
read a file scored by :func:`neuromkt.act.scoring.score_frame` (its ``score`` column) and,
where the file has it, the model's outcome column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.act.scoring import SCORE_COLUMN
from neuromkt.explain.segments import outcome_values
from neuromkt.model.metrics import lift_table

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = ["Reach", "outcome_of", "reach_at", "targeting_table", "top_rows"]


@dataclass(frozen=True)
class Reach:
    """What contacting the top ``top_pct`` percent of rows by score gets you.

    Attributes:
        top_pct: Percent of rows contacted, best scores first.
        n_rows: Rows scored.
        n_contacted: Rows in the top ``top_pct`` percent.
        threshold: The lowest score among them.
        reached: Sum of the outcome over contacted rows (converters for a binary
            outcome, total value for a numeric one); None without an outcome.
        total: Sum of the outcome over all rows with a known outcome; None without one.
        n_known: Contacted rows whose outcome is known.
        n_known_total: Rows whose outcome is known.
    """

    top_pct: float
    n_rows: int
    n_contacted: int
    threshold: float
    reached: float | None = None
    total: float | None = None
    n_known: int = 0
    n_known_total: int = 0

    @property
    def share_reached(self) -> float | None:
        """Share of all converters (or of all value) found in the contacted rows."""
        if self.reached is None or not self.total:
            return None
        return self.reached / self.total

    @property
    def lift(self) -> float | None:
        """How many times better than contacting the same number of rows at random."""
        share = self.share_reached
        if share is None or not self.n_known or not self.n_known_total:
            return None
        return share / (self.n_known / self.n_known_total)


def reach_at(scores: np.ndarray, outcome: np.ndarray | None, top_pct: float) -> Reach:
    """Contact the top ``top_pct`` percent of rows by score: how much outcome do you reach?

    Args:
        scores: One score per row, higher = more likely.
        outcome: Per row 1/0 (binary) or a value (numeric); NaN where unknown; or None.
        top_pct: Percent of rows to contact, in (0, 100].

    Returns:
        The counts; ties at the cut are broken by row order.
    """
    if not 0 < top_pct <= 100:
        raise ValueError(f"{top_pct=} must be in (0, 100]")
    scores = np.asarray(scores, dtype="float64")
    n = len(scores)
    k = min(n, max(1, math.ceil(n * top_pct / 100))) if n else 0
    order = np.argsort(-scores, kind="stable")[:k]
    threshold = float(scores[order[-1]]) if k else float("nan")
    if outcome is None or np.isnan(np.asarray(outcome, dtype="float64")).all():
        return Reach(top_pct, n, k, threshold)
    y = np.asarray(outcome, dtype="float64")
    known = ~np.isnan(y)
    return Reach(
        top_pct, n, k, threshold,
        reached=float(np.nansum(y[order])), total=float(np.nansum(y)),
        n_known=int(known[order].sum()), n_known_total=int(known.sum()),
    )  # fmt: skip


def outcome_of(bundle: ModelBundle, frame: pd.DataFrame) -> np.ndarray | None:
    """Per row 1/0 (binary) or the value (regression), NaN where unknown; None when the
    file has no outcome column or the task is multiclass."""
    if bundle.target not in frame.columns or bundle.task == "multiclass":
        return None
    y = outcome_values(bundle.encoders, frame)
    return None if np.isnan(y).all() else y


def targeting_table(
    bundle: ModelBundle, scored: pd.DataFrame, *, n_bins: int = 10
) -> pd.DataFrame | None:
    """Lift and cumulative gains by score bin (``metrics.lift_table``; deciles by
    default), or None when the scored rows have no binary outcome to check against."""
    y = outcome_of(bundle, scored)
    if y is None or bundle.task != "binary":
        return None
    known = ~np.isnan(y)
    if known.sum() < 10 or len(np.unique(y[known])) < 2:
        return None
    scores = scored[SCORE_COLUMN].to_numpy()[known]
    return lift_table(y[known].astype("int64"), scores, n_bins=n_bins)


def top_rows(scored: pd.DataFrame, top_pct: float) -> pd.DataFrame:
    """The top ``top_pct`` percent of scored rows, best first (the contact list)."""
    reach = reach_at(scored[SCORE_COLUMN].to_numpy(), None, top_pct)
    order = np.argsort(-scored[SCORE_COLUMN].to_numpy(dtype="float64"), kind="stable")
    return scored.iloc[order[: reach.n_contacted]]
