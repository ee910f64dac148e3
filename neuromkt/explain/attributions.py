"""Captum attributions per feature and per token, with their convergence deltas.

Gradient methods (Integrated Gradients, GradientSHAP, DeepLift, Input×Gradient) are
layer attributions at the output of ``model.embed``: every row is embedded once,
``x = model.embed(row)`` (B, T, D), and Captum attributes the explained output to
``x``; summing over the embedding axis gives one number per model position, the
same positions the attention maps describe. This is what
``LayerIntegratedGradients(model, model.embed)`` computes, with two differences
that matter here: baselines are points of the embedding space (so a "zero
embedding" or an "average word" is possible), and the padding mask stays the row's
own along the whole path. ``tests/test_explain.py`` checks the equivalence.

Baselines (``BASELINES``) are explicit. In every one of them [CLS] and padding keep
the row's own embedding, so their attribution is exactly 0:

* ``neutral`` – a typical row: numbers at their training median (scaled 0), every
  category at its most frequent training level, every word replaced by the average
  embedding of the column's known words (position and column embeddings kept).
* ``missing`` – the model's learned stand-ins: the "missing" vector of each numeric
  column, the "(missing)" row of each categorical column and [UNK] for words. Rows of
  an embedding table never seen in training (e.g. "(missing)" of a column with no
  gaps) are random, so prefer ``neutral`` unless missing values are common.
* ``zero`` – all-zero vectors, Captum's default; not a row the model could see,
  offered for comparison with the literature. The layer norms make the path from 0
  steep near its start, so Integrated Gradients needs more steps (its δ says so).

Feature ablation is model-agnostic and works on raw columns: one column at a time
takes its baseline value (median / most frequent or "(missing)" category / empty
text), and one token at a time is deleted. Occlusion slides a window of ``window``
positions over the embedded row, replacing it by the baseline.

What is explained (``Output``): binary models the log-odds of the positive class
(or its probability), multiclass models one chosen class's logit (or probability),
regression models the predicted value in the target's units.

The table and JSON that ``neuromkt explain`` writes are in :mod:`neuromkt.explain.tables`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from neuromkt.explain.methods import (
    EmbeddedForward,
    Output,
    ablation_chunk,
    ablation_positions,
    embed_rows,
    explained_output,
    gradient_chunk,
)
from neuromkt.explain.positions import PositionValues, split_positions
from neuromkt.progress import OnProgress, Tracker

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.encoders import Encoders

__all__ = [
    "BASELINES",
    "METHODS",
    "Attribution",
    "Convergence",
    "MethodInfo",
    "attribute",
    "convergence",
]


@dataclass(frozen=True)
class MethodInfo:
    """One attribution method as the UI and the CLI present it."""

    key: str  # CLI name
    label: str  # display name
    description: str  # one line for marketers
    has_delta: bool  # Captum offers a convergence delta
    baselines: tuple[str, ...]  # baselines it can use


_ALL = ("neutral", "missing", "zero")
METHODS: dict[str, MethodInfo] = {
    m.key: m
    for m in (
        MethodInfo("ig", "Integrated Gradients", "Adds up the model's sensitivity along a "
                   "straight path from the baseline row to this row; the parts sum to the "
                   "score difference (exact up to δ).", True, _ALL),
        MethodInfo("gradshap", "GradientSHAP", "Averages gradients at random points between "
                   "the baseline and the row: a sampled Integrated Gradients.", True, _ALL),
        MethodInfo("deeplift", "DeepLift", "One backward pass comparing activations with the "
                   "baseline's; fast, but approximate on attention models.", True, _ALL),
        MethodInfo("inputxgrad", "Input × Gradient", "The gradient at this row times its "
                   "difference from the baseline: fastest, ignores saturation.", False, _ALL),
        MethodInfo("ablation", "Feature ablation", "Resets one column at a time to its "
                   "baseline value and measures the change: model-agnostic.", False,
                   ("neutral", "missing")),
        MethodInfo("occlusion", "Occlusion", "Covers a window of neighbouring inputs (e.g. "
                   "a short phrase) with the baseline and measures the change.", False, _ALL),
    )
}  # fmt: skip
BASELINES = {
    "neutral": "A typical row: median numbers, most frequent categories, average words.",
    "missing": "The model's learned 'missing' vectors, '(missing)' categories and [UNK].",
    "zero": "All-zero embeddings (Captum's default; not a row the model could see, and "
    "steep for layer norms: needs more steps).",
}


@dataclass(frozen=True)
class Attribution:
    """Attributions of N rows by one method.

    Attributes:
        method: key of ``METHODS``.
        baseline: key of ``BASELINES``.
        output: what is explained.
        values: per feature (N, F) and per real token (long frame).
        raw: (N, T) one value per model position; [CLS] and padding are 0.
        delta: (N,) Captum's convergence delta Σ attributions − (F(x) − F(baseline));
            NaN where the method offers none.
        score: (N,) F(x), the explained output of each row.
        baseline_score: (N,) F(baseline).
        settings: steps, samples, stdev, window as used.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> result = nm.attribute(bundle, nm.load_sample("ecommerce").head(50), "ig", steps=16)
        >>> result.method, result.baseline, result.raw.shape
        ('ig', 'neutral', (50, 27))
        >>> gap = result.score - result.baseline_score  # F(x) - F(baseline), per row
        >>> bool(abs(result.raw.sum(axis=1) - result.delta - gap).max() < 1e-4)
        True
    """

    method: str
    baseline: str
    output: Output
    values: PositionValues
    raw: np.ndarray
    delta: np.ndarray
    score: np.ndarray
    baseline_score: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def index(self) -> pd.Index:
        """The frame's row labels."""
        return self.values.features.index

    @property
    def relative_delta(self) -> np.ndarray:
        """|δ| / |F(x) − F(baseline)| per row (NaN without a delta)."""
        gap = np.abs(self.score - self.baseline_score)
        return np.abs(self.delta) / np.maximum(gap, 1e-6)


# ---------------------------------------------------------------- public API


def _check_args(method: str, baseline: str, steps: int, samples: int, window: int) -> None:
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    if baseline not in METHODS[method].baselines:
        choices = ", ".join(METHODS[method].baselines)
        raise ValueError(
            f"{METHODS[method].label} cannot use the {baseline!r} baseline; choose {choices}."
        )
    if steps < 1 or samples < 1 or window < 1:
        raise ValueError(f"{steps=}, {samples=} and {window=} must each be at least 1")


def attribute(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    method: str = "ig",
    *,
    baseline: str = "neutral",
    output: str = "logit",
    target: Any = None,
    steps: int = 32,
    samples: int = 16,
    stdev: float = 0.0,
    window: int = 1,
    batch_size: int = 2048,
    seed: int = 0,
    on_progress: OnProgress | None = None,
) -> Attribution:
    """Attributions of every row of ``frame``, in chunks, on the model's device.

    Args:
        bundle: a trained model.
        frame: rows with the model's columns (others are ignored).
        method: a key of ``METHODS``: ig, gradshap, deeplift, inputxgrad, ablation,
            occlusion.
        baseline: a key of ``BASELINES`` (ablation: neutral or missing).
        output: "logit" or "probability" for classifiers (see ``explained_output``).
        target: multiclass: the class to explain.
        steps: Integrated Gradients: points on the path (Gauss-Legendre).
        samples: GradientSHAP: random points per row.
        stdev: GradientSHAP: noise added to the embedded row (0 = none).
        window: occlusion: positions covered at once.
        batch_size: model evaluations per pass; bounds memory. Rows go in chunks of
            ``batch_size // evaluations per row``, similar lengths together, and
            token slots that are padding in the whole chunk are left out.
        seed: seeds GradientSHAP's random points (results are reproducible).
        on_progress: called after each chunk with a :class:`neuromkt.progress.Progress`
            (rows done of ``len(frame)``, the method's name).

    Raises:
        ModelError: ``frame`` lacks a column the model needs.
        ValueError: unknown method, baseline, class, or a setting below 1.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> result = nm.attribute(bundle, rows, "ig", steps=16)
        >>> result.values.features.shape, result.delta.shape
        ((100, 11), (100,))
        >>> nm.convergence(result).ok
        True
    """
    _check_args(method, baseline, steps, samples, window)
    encoders = bundle.encoders
    encoders.check_columns(frame)
    explained = explained_output(encoders, output=output, target=target)
    bundle.model.eval()
    positions = encoders.spec().n_positions  # perturbation methods: about one run each
    per_row = {"ig": steps, "gradshap": samples, "deeplift": 2, "inputxgrad": 1}.get(
        method, positions
    )
    chunk = max(1, min(1024, batch_size // per_row))
    opts = {"steps": steps, "samples": samples, "stdev": stdev, "window": window,
            "batch_size": max(batch_size, chunk), "baseline": baseline}  # fmt: skip
    order = _by_length(encoders, frame)
    pieces = []
    tracker = Tracker(on_progress, len(frame))
    with _seeded(seed):
        for start in range(0, len(frame), chunk):
            rows = frame.iloc[order[start : start + chunk]]
            pieces.append(_attribute_chunk(method, bundle, explained, rows, opts))
            tracker.update(min(start + chunk, len(frame)), METHODS[method].label)
    merged = _merge(pieces, order, encoders.spec().n_positions)
    values = _position_values(method, merged, encoders, frame)
    settings = {k: opts[k] for k in ("steps", "samples", "stdev", "window")}
    return Attribution(method, baseline, explained, values, merged["raw"], merged["delta"],
                       merged["score"], merged["base"], settings)  # fmt: skip


def _position_values(
    method: str, merged: dict[str, np.ndarray], encoders: Encoders, frame: pd.DataFrame
) -> PositionValues:
    """Per feature and per token values; ablation's text columns hold the effect of
    emptying the whole column rather than the sum over its tokens."""
    values = split_positions(merged["raw"], encoders, frame)
    if method == "ablation" and encoders.text:
        features = values.features.copy()
        n_feat = len(encoders.feature_columns)
        features[[e.name for e in encoders.text]] = merged["columns"][:, n_feat:]
        values = PositionValues(features, values.tokens)
    return values


def _attribute_chunk(
    method: str, bundle: ModelBundle, explained: Output, rows: pd.DataFrame, opts: dict
) -> dict[str, np.ndarray]:
    """Attributions of one chunk of rows: raw (B, T), delta, score, base (B,)."""
    model, encoders = bundle.model, bundle.encoders
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in encoders.transform(rows).items()}
    x, base, pad = embed_rows(model, encoders, inputs, opts["baseline"])
    keep = ~pad.all(dim=0)  # positions that are padding in every row of the chunk go
    x, base, pad_kept = x[:, keep], base[:, keep], pad[:, keep]
    forward = EmbeddedForward(model, explained)
    with torch.no_grad():
        score = forward(x - base, base, pad_kept)
    out = {"score": score}
    if method == "ablation":
        columns, deleted, out["base"] = ablation_chunk(
            model, encoders, explained, inputs, opts["baseline"], opts["batch_size"]
        )
        out["columns"] = columns
        out["raw"] = ablation_positions(encoders, columns.cpu().numpy(), deleted.cpu().numpy())
        out["delta"] = np.full(len(rows), np.nan)
    else:
        with torch.no_grad():
            out["base"] = forward(torch.zeros_like(x), base, pad_kept)
        attr, out["delta"] = gradient_chunk(method, forward, x, base, pad_kept, opts)
        raw = torch.zeros(pad.shape, dtype=attr.dtype, device=attr.device)
        raw[:, keep] = torch.where(pad_kept, 0.0, attr)
        raw[:, 0] = 0.0
        out["raw"] = raw
    return {
        k: np.asarray(v.detach().cpu().numpy() if torch.is_tensor(v) else v, dtype="float64")
        for k, v in out.items()
    }


def _by_length(encoders: Encoders, frame: pd.DataFrame) -> np.ndarray:
    """Row positions ordered by their number of tokens (stable), for tight chunks."""
    lengths = np.zeros(len(frame), dtype=int)
    for enc, tokens in zip(encoders.text, encoders.tokens(frame).values(), strict=True):
        lengths += np.minimum([len(t) for t in tokens], enc.max_len) if len(frame) else 0
    return np.argsort(lengths, kind="stable")


def _merge(pieces: list[dict[str, np.ndarray]], order: np.ndarray, T: int) -> dict:
    """Concatenate chunk results and put the rows back in the frame's order."""
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    empty = {"raw": np.zeros((0, T)), "columns": np.zeros((0, 0))}
    keys = {k for piece in pieces for k in piece} | {"raw", "delta", "score", "base"}
    return {
        k: np.concatenate([p[k] for p in pieces])[inverse] if pieces else empty.get(k, np.zeros(0))
        for k in keys
    }


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch and numpy (Captum draws from both) and restore their state after."""
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)


# ---------------------------------------------------------------- completeness


@dataclass(frozen=True)
class Convergence:
    """How well attributions add up to the score difference (completeness).

    Attributes:
        available: the method offers a convergence delta.
        error: Σ|δ| / Σ|F(x) − F(baseline)| over the rows (NaN when not available).
        share_large: share of rows whose |δ| exceeds ``tolerance`` of their own score
            difference (rows with a tiny difference excluded).
        ok: the error is within ``tolerance``.
        message: plain words, with the fix when it is not ok.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> result = nm.attribute(bundle, nm.load_sample("ecommerce").head(50), "ablation")
        >>> nm.convergence(result).available
        False
    """

    available: bool
    error: float
    share_large: float
    ok: bool
    message: str


def convergence(result: Attribution, *, tolerance: float | None = None) -> Convergence:
    """Check completeness: do the attributions add up to F(x) − F(baseline)?

    Args:
        result: attributions with Captum's deltas.
        tolerance: the largest acceptable Σ|δ| / Σ|F(x) − F(baseline)|. By default 5%,
            and 20% for GradientSHAP, a Monte-Carlo estimate whose δ only shrinks like
            1/√samples.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> check = nm.convergence(nm.attribute(bundle, rows, "ig", steps=2))
        >>> check.ok
        False
        >>> print(check.message)
        The attributions miss the score difference by 26% (Σ|δ| / Σ|F(x) − F(baseline)|; 86% of
        rows off by more than 5%). Raise the steps from 2 to 8.
    """
    if tolerance is None:
        tolerance = 0.2 if result.method == "gradshap" else 0.05
    if not METHODS[result.method].has_delta or not np.isfinite(result.delta).any():
        text = f"{METHODS[result.method].label} has no completeness check (no δ)."
        return Convergence(False, float("nan"), float("nan"), True, text)
    gap = np.abs(result.score - result.baseline_score)
    delta = np.abs(result.delta)
    error = float(delta.sum() / max(gap.sum(), 1e-12))
    sizable = gap > 0.05 * max(float(np.median(gap)), 1e-12)
    share = float((delta[sizable] > tolerance * gap[sizable]).mean()) if sizable.any() else 0.0
    ok = error <= tolerance
    text = f"The attributions add up to the score difference within {error:.1%} (Σ|δ|)."
    if not ok:
        text = _convergence_fix(result, error, share, tolerance)
    return Convergence(True, error, share, ok, text)


def _convergence_fix(result: Attribution, error: float, share: float, tolerance: float) -> str:
    head = (
        f"The attributions miss the score difference by {error:.0%} (Σ|δ| / Σ|F(x) − "
        f"F(baseline)|; {share:.0%} of rows off by more than {tolerance:.0%})."
    )
    if result.method == "ig":
        steps = result.settings.get("steps", 32)
        return f"{head} Raise the steps from {steps} to {min(4 * steps, 512)}."
    if result.method == "gradshap":
        samples = result.settings.get("samples", 16)
        return (
            f"{head} GradientSHAP is exact only on average: raise the samples from "
            f"{samples} to {min(4 * samples, 256)}, or use Integrated Gradients."
        )
    return (
        f"{head} DeepLift's rescale rule covers only this model's ReLU; its attention "
        "and GELU layers pass plain gradients, so more compute will not help. Use "
        "Integrated Gradients for exact sums."
    )
