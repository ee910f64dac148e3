"""The Captum side of :mod:`neuromkt.explain.attributions`: explained output, baselines, methods.

Gradient methods see the model from its embedding output on: ``F(base + z)`` with
``z = x - base``, where ``x = model.embed(row)`` (B, T, D) and ``base`` is the
baseline in embedding space. Attributing to ``z`` from 0 is attributing to ``x``
from ``base`` — layer attribution at ``model.embed`` — with the row's own padding
mask kept along the whole path. Feature ablation works on the raw model inputs.
Every function here handles one chunk of rows already on the model's device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    FeatureAblation,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    Occlusion,
)
from torch import nn

from neuromkt.model.encoders import CategoricalEncoder, TextEncoder
from neuromkt.model.network import CLS_POSITION, FIRST_FEATURE_POSITION

if TYPE_CHECKING:
    from neuromkt.model.encoders import Encoders

__all__ = [
    "EmbeddedForward",
    "Output",
    "ablation_chunk",
    "ablation_positions",
    "embed_rows",
    "explained_output",
    "gradient_chunk",
]


@dataclass(frozen=True)
class Output:
    """The number being explained, computed from the model's logits.

    Attributes:
        task: "binary", "multiclass" or "regression".
        kind: "logit" (log-odds / class logit), "probability" or "value".
        class_index: the class explained (binary: 0, the single logit).
        label: plain words, e.g. "log-odds of purchased = 1".
        scale, shift: regression only: value = logit * scale + shift.
    """

    task: str
    kind: str
    class_index: int
    label: str
    scale: float = 1.0
    shift: float = 0.0

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """Shape: logits (B, n_outputs) -> (B,)."""
        if self.task == "regression":
            return logits[:, 0] * self.scale + self.shift
        if self.task == "binary":
            out = logits[:, 0]
            return torch.sigmoid(out) if self.kind == "probability" else out
        if self.kind == "probability":
            return torch.softmax(logits, dim=1)[:, self.class_index]
        return logits[:, self.class_index]


def explained_output(encoders: Encoders, *, output: str = "logit", target: Any = None) -> Output:
    """What a model's attributions explain.

    Args:
        encoders: the bundle's encoders.
        output: "logit" or "probability" (ignored for regression).
        target: multiclass: the class to explain (default: the first class).

    Raises:
        ValueError: an unknown output or class, naming the choices.
    """
    task, name = encoders.task, encoders.target
    if task == "regression":
        return Output(task, "value", 0, f"predicted {name}", encoders.target_std,
                      encoders.target_mean)  # fmt: skip
    if output not in ("logit", "probability"):
        raise ValueError(f"output={output!r} must be 'logit' or 'probability'")
    classes = [str(c) for c in encoders.classes]
    if task == "binary":
        index, cls = 0, classes[1]
    else:
        cls = classes[0] if target is None else str(target)
        if cls not in classes:
            raise ValueError(f"Class {cls!r} is not one of the model's classes: {classes}.")
        index = classes.index(cls)
    word = "probability" if output == "probability" else (
        "log-odds" if task == "binary" else "logit")  # fmt: skip
    return Output(task, output, index, f"{word} of {name} = {cls}")


class EmbeddedForward(nn.Module):
    """F(base + z): the model from its embedding output on, for Captum."""

    def __init__(self, model: nn.Module, output: Output) -> None:
        super().__init__()
        self.model, self.output = model, output

    def forward(self, z: torch.Tensor, base: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Shape: z, base (B, T, D), pad (B, T) -> (B,)."""
        return self.output(self.model.forward_embedded(base + z, pad))


def _raw_baseline(
    encoders: Encoders, inputs: dict[str, torch.Tensor], baseline: str, *, empty_text: bool
) -> dict[str, torch.Tensor]:
    """Model inputs of the baseline row (input space) for ``neutral`` or ``missing``."""
    missing = baseline == "missing"
    codes = [_baseline_level(e, missing=missing) for e in encoders.categorical]
    tokens = inputs["tokens"]
    text = TextEncoder
    pad = torch.full_like(tokens, text.PAD_ID)
    return {
        "numeric": torch.zeros_like(inputs["numeric"]),
        "numeric_missing": torch.full_like(inputs["numeric_missing"], missing),
        "categorical": torch.tensor(codes, dtype=torch.long, device=tokens.device).expand_as(
            inputs["categorical"]),
        # No text at all, or every word seen as [UNK] (the padding stays).
        "tokens": pad if empty_text else torch.where(tokens != text.PAD_ID, text.UNK_ID, pad),
    }  # fmt: skip


def _baseline_level(enc: CategoricalEncoder, *, missing: bool) -> int:
    """The baseline level of a column: "(missing)", or else its most frequent kept level
    ("(other)" when no level was kept)."""
    if missing:
        return enc.MISSING_ID
    return enc.FIRST_LEVEL_ID if enc.cardinality > enc.FIRST_LEVEL_ID else enc.OTHER_ID


def _average_word_shift(model: nn.Module, encoders: Encoders, T: int) -> torch.Tensor:
    """(T, D): per token slot, mean known-word embedding minus the [UNK] embedding."""
    emb = model.embed
    shift = torch.zeros(T, emb.vocab.weight.shape[1], device=emb.vocab.weight.device)
    start = FIRST_FEATURE_POSITION + len(encoders.feature_columns)
    for j, enc in enumerate(encoders.text):
        offset = int(emb.vocab_offsets[j])
        rows = emb.vocab.weight[offset : offset + enc.vocab_size]  # (V, D)
        first, unk = enc.FIRST_WORD_ID, enc.UNK_ID
        known = rows[first:].mean(dim=0) if enc.vocab_size > first else rows[unk]
        shift[start : start + enc.max_len] = known - rows[unk]
        start += enc.max_len
    return shift


@torch.no_grad()
def embed_rows(
    model: nn.Module, encoders: Encoders, inputs: dict[str, torch.Tensor], baseline: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Embedded rows, their baseline in embedding space, and the padding mask.

    Args:
        model: the bundle's model (inputs must be on its device).
        encoders: the bundle's encoders.
        inputs: ``encoders.transform(frame)`` on the model's device.
        baseline: a key of ``BASELINES``.

    Shape:
        -> x (B, T, D), base (B, T, D), pad (B, T); ``base`` equals ``x`` at [CLS]
        and at padding.
    """
    x = model.embed(**inputs)  # (B, T, D)
    pad = model.pad_mask(inputs["tokens"])  # (B, T)
    if baseline == "zero":
        base = torch.zeros_like(x)
    else:
        base = model.embed(**_raw_baseline(encoders, inputs, baseline, empty_text=False))
        if baseline == "neutral":
            base = base + _average_word_shift(model, encoders, x.shape[1])
    keep = pad.clone()
    keep[:, CLS_POSITION] = True
    return x, torch.where(keep[..., None], x, base), pad


# ---------------------------------------------------------------- one chunk


def gradient_chunk(
    method: str,
    forward: EmbeddedForward,
    x: torch.Tensor,
    base: torch.Tensor,
    pad: torch.Tensor,
    opts: dict[str, Any],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) attributions and (B,) deltas of one chunk, in embedding space."""
    z, args = (x - base).requires_grad_(), (base, pad)
    zeros = torch.zeros_like(z)
    nan = torch.full((len(z),), float("nan"))
    if method == "ig":
        attr, delta = IntegratedGradients(forward).attribute(
            z,
            baselines=zeros,
            additional_forward_args=args,
            n_steps=opts["steps"],
            internal_batch_size=opts["batch_size"],
            return_convergence_delta=True,
        )
    elif method == "gradshap":
        attr, delta = GradientShap(forward).attribute(
            z,
            baselines=zeros[:1],
            n_samples=opts["samples"],
            stdevs=opts["stdev"],
            additional_forward_args=args,
            return_convergence_delta=True,
        )
        delta = delta.view(len(z), -1).mean(dim=1)
    elif method == "deeplift":
        with warnings.catch_warnings():  # Captum announces its temporary hooks
            warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
            attr, delta = DeepLift(forward).attribute(
                z, baselines=zeros, additional_forward_args=args, return_convergence_delta=True
            )
    elif method == "inputxgrad":
        attr, delta = InputXGradient(forward).attribute(z, additional_forward_args=args), nan
    else:  # occlusion: every element of a covered window carries the window's change
        window = min(opts["window"], z.shape[1])
        attr = Occlusion(forward).attribute(
            z,
            sliding_window_shapes=(window, z.shape[2]),
            strides=(1, z.shape[2]),
            baselines=0.0,
            additional_forward_args=args,
            perturbations_per_eval=max(1, opts["batch_size"] // max(len(z), 1)),
        )
        return attr.mean(dim=2).detach(), nan
    return attr.sum(dim=2).detach(), delta.detach().float().cpu()


class _RawForward(nn.Module):
    """The model on raw inputs passed positionally in ``names`` order, for ablation."""

    def __init__(self, model: nn.Module, output: Output, names: list[str]) -> None:
        super().__init__()
        self.model, self.output, self.names = model, output, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs = dict(zip(self.names, tensors, strict=True))
        inputs["numeric_missing"] = inputs["numeric_missing"] > 0.5
        return self.output(self.model(**inputs))


def ablation_chunk(
    model: nn.Module,
    encoders: Encoders,
    output: Output,
    inputs: dict[str, torch.Tensor],
    baseline: str,
    batch_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Column ablation (B, F), token deletion (B, S, L) and the baseline score (B,)."""
    inputs = {**inputs, "numeric_missing": inputs["numeric_missing"].float()}
    base = _raw_baseline(encoders, inputs, baseline, empty_text=True)
    base["numeric_missing"] = base["numeric_missing"].float()
    n_num, n_cat = inputs["numeric"].shape[1], inputs["categorical"].shape[1]
    S, L = inputs["tokens"].shape[1:]
    dev = inputs["tokens"].device
    groups = {
        "numeric": torch.arange(n_num, device=dev)[None],
        "numeric_missing": torch.arange(n_num, device=dev)[None],
        "categorical": n_num + torch.arange(n_cat, device=dev)[None],
        "tokens": (n_num + n_cat + torch.arange(S, device=dev))[None, :, None].expand(1, S, L),
    }
    per_eval = max(1, batch_size // max(len(inputs["tokens"]), 1))
    used = [k for k in groups if inputs[k].numel()]
    # Empty groups and inputs that are not ablated (time gaps) go along unchanged.
    fixed = [k for k in groups if not inputs[k].numel()] + [k for k in inputs if k not in groups]
    base.update({k: inputs[k] for k in inputs if k not in groups})
    forward = _RawForward(model, output, used + fixed)
    columns = FeatureAblation(forward).attribute(
        tuple(inputs[k] for k in used),
        baselines=tuple(base[k] for k in used),
        additional_forward_args=tuple(inputs[k] for k in fixed) or None,
        feature_mask=tuple(groups[k] for k in used),
        perturbations_per_eval=per_eval,
    )
    by_name = dict(zip(used, columns, strict=True))
    parts = [by_name[k] for k in ("numeric", "categorical") if k in by_name]
    if S:
        parts.append(by_name["tokens"][:, :, 0])
    deleted = torch.zeros_like(inputs["tokens"], dtype=torch.float32)
    if S and L:
        rest = [k for k in inputs if k != "tokens"]
        deleted = FeatureAblation(_RawForward(model, output, ["tokens", *rest])).attribute(
            inputs["tokens"],
            baselines=TextEncoder.PAD_ID,  # a deleted token is padding
            additional_forward_args=tuple(inputs[k] for k in rest),
            feature_mask=_slot_groups(inputs["tokens"]),
            perturbations_per_eval=per_eval,
        )
    with torch.no_grad():
        base_score = forward(*(base[k] for k in used + fixed))
    columns = torch.cat(parts, dim=1) if parts else torch.zeros(len(deleted), 0, device=dev)
    real = inputs["tokens"] != TextEncoder.PAD_ID
    return columns, torch.where(real, deleted, 0.0), base_score


def _slot_groups(tokens: torch.Tensor) -> torch.Tensor:
    """(1, S, L) one group per token slot used in the chunk; unused slots share one."""
    S, L = tokens.shape[1:]
    real = tokens != TextEncoder.PAD_ID
    used = int(real.sum(dim=2).max()) if tokens.numel() else 0  # longest text
    slots = torch.arange(L, device=tokens.device)
    ids = torch.arange(S, device=tokens.device)[:, None] * used + slots[None, :]
    return torch.where(slots[None, :] < used, ids, S * used)[None]  # (1, S, L)


def ablation_positions(encoders: Encoders, columns: np.ndarray, deleted: np.ndarray) -> np.ndarray:
    """(B, T) position values: columns at feature positions, deletions at token slots."""
    n_feat = len(encoders.feature_columns)
    raw = np.zeros((len(columns), encoders.spec().n_positions))
    start = FIRST_FEATURE_POSITION + n_feat
    raw[:, FIRST_FEATURE_POSITION:start] = columns[:, :n_feat]
    for j, enc in enumerate(encoders.text):
        raw[:, start : start + enc.max_len] = deleted[:, j, : enc.max_len]
        start += enc.max_len
    return raw
