"""Attention rollout (Abnar & Zuidema 2020) on torch tensors.

Per layer the heads are averaged, the identity is added for the residual stream and
rows are renormalised; rollout through layer l is the product of those matrices from
layer 1 to l. :func:`rollout_cls` forms only the [CLS] row of every layer's rollout
(what :func:`neuromkt.explain.attention.compute_attention` keeps); :func:`mixed_layer` is one
layer's matrix, for the token × token view of :mod:`neuromkt.explain.tokens`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from neuromkt.model.network import CLS_POSITION

__all__ = ["mixed_layer", "rollout_cls"]


def rollout_cls(attentions: Sequence[torch.Tensor]) -> torch.Tensor:
    """[CLS] row of attention rollout through each layer.

    Per layer the heads are averaged, the identity is added for the residual stream
    and rows are renormalised: ``Â = (mean_h A + I) / 2`` (rows of A sum to 1).
    Rollout through layer l is ``Â_l · … · Â_1``; only its [CLS] row is formed, as
    vector-matrix products, so no (B, T, T) product is ever materialised.

    Shape:
        attentions: n_layers tensors (B, H, T, T), the last one possibly its [CLS]
        row only, (B, H, 1, T) -> (B, n_layers, T).
    """
    rows = []
    for layer, probs in enumerate(attentions):
        e0 = torch.zeros_like(probs[:, 0, 0, :])  # (B, T)
        e0[:, CLS_POSITION] = 1.0
        r = (probs[:, :, CLS_POSITION, :].mean(dim=1) + e0) / 2  # (B, T): [CLS] row of Â_layer
        for lower in range(layer - 1, -1, -1):
            below = attentions[lower]  # (B, H, T, T)
            r = (torch.einsum("bt,bhts->bs", r, below) / below.shape[1] + r) / 2  # r · Â_lower
        rows.append(r)
    return torch.stack(rows, dim=1)  # (B, n_layers, T)


def mixed_layer(probs: torch.Tensor) -> torch.Tensor:
    """Rollout's per-layer matrix: heads averaged, identity added, rows renormalised."""
    a = probs.mean(dim=1)  # (B, T, T)
    a = a + torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return a / a.sum(dim=-1, keepdim=True)
