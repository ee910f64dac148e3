"""One optimisation step and its parts: the schedule, AdamW groups, loss, level dropout.

:func:`neuromkt.train.fit` runs :func:`train_one_epoch` once per epoch; the pieces are
separate so each can be checked on its own (``tests/test_train.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from neuromkt.model import AttentionModel

__all__ = ["compute_loss", "drop_levels", "lr_at", "make_parameter_groups", "train_one_epoch"]


def lr_at(step: int, *, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to 10% of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def make_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on weight matrices only, never on norms, biases, embeddings."""
    decay, no_decay = [], []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            skip = (
                isinstance(module, nn.LayerNorm | nn.Embedding)
                or name.endswith("bias")
                or module_name.startswith("embed")
            )
            (no_decay if skip else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def compute_loss(
    logits: torch.Tensor, y: torch.Tensor, task: str, weights: torch.Tensor | None
) -> torch.Tensor:
    """Loss of one batch. Shape: logits (B, n_outputs), y (B,)."""
    if task == "binary":
        pos_weight = None if weights is None else weights[1] / weights[0]
        return F.binary_cross_entropy_with_logits(logits[:, 0], y, pos_weight=pos_weight)
    if task == "multiclass":
        return F.cross_entropy(logits, y, weight=weights)
    return F.mse_loss(logits[:, 0], y)


def train_one_epoch(
    model: AttentionModel,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: Callable[[int], float],
    *,
    state: dict[str, Any],
    task: str,
    weights: torch.Tensor | None,
    report: Callable[[float], None],
    should_stop: Callable[[], bool],
    level_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> float:
    """One pass over ``loader``; returns the mean loss. ``state['step']`` counts steps."""
    model.train()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for inputs, y in loader:
        for group in optimizer.param_groups:
            group["lr"] = schedule(state["step"])
        if level_dropout:
            inputs = drop_levels(inputs, level_dropout, generator)
        inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
        y = y.to(device, non_blocking=True)
        loss = compute_loss(model(**inputs), y, task, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state["step"] += 1
        total, count = total + loss.item() * len(y), count + len(y)
        if state["step"] % 10 == 0:
            report(total / count)
        if should_stop():
            state["cancelled"] = True
            break
    return total / max(count, 1)


def drop_levels(
    inputs: dict[str, torch.Tensor], p: float, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """Show a share ``p`` of known categorical levels as "(other)" and of words as [UNK].

    A regulariser for training batches: a level or word seen in few rows cannot be
    memorised on its own, and the "(other)" and [UNK] rows, which unseen values get
    at scoring time, are trained on common values too. Missing levels and padding
    are left as they are.
    """
    out = dict(inputs)
    # Levels 0/1 are "(other)"/"(missing)"; token ids 0/1 are [PAD]/[UNK].
    for name, shown_as in (("categorical", 0), ("tokens", 1)):
        ids = inputs[name]
        if not ids.numel():
            continue
        hit = (torch.rand(ids.shape, generator=generator) < p) & (ids >= 2)
        out[name] = ids.masked_fill(hit, shown_as)
    return out
