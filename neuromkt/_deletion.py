"""The model runs behind :func:`neuromkt.agreement.deletion_curve`.

For each ranking of the positions, the top k positions of every row are set to the
attribution's baseline (in the embedding space, as in :mod:`neuromkt.explain_methods`)
and the row is scored again, for k = 0…max_k at once, chunk by chunk so that memory
stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from neuromkt.explain_methods import EmbeddedForward, embed_rows

if TYPE_CHECKING:
    from neuromkt.bundle import ModelBundle
    from neuromkt.explain import Attribution

__all__ = ["remaining_share"]


def remaining_share(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    attribution: Attribution,
    ranks: dict[str, np.ndarray],
    *,
    max_k: int,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Share of the rows' score difference left with the top k positions removed.

    Args:
        bundle: the model the attribution was computed with.
        frame: the attribution's rows, in the same order.
        attribution: its baseline and output are used.
        ranks: per ranking, the (N, T) rank of each position (0 = removed first).
        max_k: the most positions removed.
        batch_size: model evaluations per pass (bounds memory).
        on_progress: called after each chunk with (rows done, rows in all).

    Shape:
        -> (len(ranks), max_k + 1), rankings in the order of ``ranks``.
    """
    chunk = max(1, batch_size // (len(ranks) * (max_k + 1)))
    numerator = np.zeros((len(ranks), max_k + 1))
    total = 0.0
    for start in range(0, len(frame), chunk):
        rows = slice(start, start + chunk)
        part = {name: torch.from_numpy(r[rows]) for name, r in ranks.items()}
        num, gap = _deleted_scores(bundle, frame.iloc[rows], attribution, part, max_k)
        numerator += num
        total += gap
        if on_progress is not None:
            on_progress(min(start + chunk, len(frame)), len(frame))
    return numerator / max(total, 1e-12)


@torch.no_grad()
def _deleted_scores(
    bundle: ModelBundle,
    rows: pd.DataFrame,
    attribution: Attribution,
    ranks: dict[str, torch.Tensor],
    max_k: int,
) -> tuple[np.ndarray, float]:
    """Σ s·(F(x_k) − F(b)) per ranking and k over one chunk, and Σ |F(x) − F(b)|."""
    model, encoders = bundle.model, bundle.encoders
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in encoders.transform(rows).items()}
    x, base, pad = embed_rows(model, encoders, inputs, attribution.baseline)
    forward = EmbeddedForward(model, attribution.output)
    score = forward(x - base, base, pad)
    base_score = forward(torch.zeros_like(x), base, pad)
    sign = torch.sign(score - base_score)
    ks = torch.arange(max_k + 1, device=device)
    out = np.zeros((len(ranks), max_k + 1))
    B, T, D = x.shape
    for i, name in enumerate(ranks):
        removed = ranks[name].to(device)[None] < ks[:, None, None]  # (K, B, T)
        mixed = torch.where(removed[..., None], base[None], x[None])  # (K, B, T, D)
        z = (mixed - base[None]).reshape(-1, T, D)
        scores = forward(z, base.repeat(len(ks), 1, 1), pad.repeat(len(ks), 1))
        scores = scores.view(len(ks), B)  # (K, B)
        out[i] = ((scores - base_score[None]) * sign[None]).sum(dim=1).double().cpu().numpy()
    return out, float((score - base_score).abs().sum())
