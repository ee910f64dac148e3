"""Does the attention heatmap tell the truth? Attention against attributions.

Per row, the [CLS] attention over positions (``neuromkt.explain.attention``) is compared with
|attribution| over the same positions (``neuromkt.explain.attributions``): Kendall's τ-b between
the two rankings and the overlap of their top k, over the feature tokens and over
the text tokens. As a reference, a uniform attention (every position equal, ties
broken at random) is scored the same way (Wiegreffe & Pinter 2019); Jain & Wallace
(2019) found τ between 0.13 and 0.44 on their text tasks.

Faithfulness is tested with a deletion curve: the top k positions by each ranking
(attention, |attribution|, random) are set to the attribution's baseline and the
model is run again; the ranking whose removal makes the score fall faster is the more
faithful one. ``remaining(k) = Σ s·(F(x_k) − F(b)) / Σ |F(x) − F(b)|`` over the rows,
``s = sign(F(x) − F(b))``: 1 with nothing removed, 0 with everything removed.

The rank statistics themselves are in :mod:`neuromkt.explain.rank_stats`; the model runs of the
deletion curve in :mod:`neuromkt.explain.agreement`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.explain.attributions import METHODS, Attribution
from neuromkt.explain.rank_stats import kendall_tau, position_ranks, top_k_overlap

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.encoders import Encoders
import torch

from neuromkt.explain.methods import EmbeddedForward, embed_rows

if TYPE_CHECKING:
    from neuromkt.explain.attributions import Attribution
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "JAIN_WALLACE_TAU",
    "RANKINGS",
    "DeletionCurve",
    "agreement_by_segment",
    "agreement_table",
    "deletion_curve",
    "remaining_share",
    "row_comparison",
    "summarize_agreement",
    "verdict",
]


JAIN_WALLACE_TAU = (0.13, 0.44)  # Jain & Wallace (2019): attention vs gradients, text tasks
RANKINGS = ("attention", "attribution", "random")
SCOPES = ("features", "tokens")


# ---------------------------------------------------------------- rank agreement


def agreement_table(
    attribution: Attribution,
    attention: np.ndarray,
    encoders: Encoders,
    *,
    k: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Per row: how well [CLS] attention and |attribution| agree.

    Args:
        attribution: attributions of N rows (e.g. Integrated Gradients).
        attention: (N, T) [CLS] attention of the same rows, e.g.
            ``neuromkt.explain.attention.position_values(maps, view)``.
        encoders: the bundle's encoders.
        k: size of the top-k sets.
        seed: seeds the random tie-breaking of the uniform-attention reference.

    Returns:
        Index = the rows' labels; for scope in features/tokens: ``tau_<scope>``,
        ``overlap_<scope>`` and the uniform reference ``uniform_tau_<scope>``,
        ``uniform_overlap_<scope>``; and ``n_tokens``.

    Raises:
        ValueError: the attention and the attribution do not describe the same rows
            and positions.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> table = nm.agreement_table(result, attention, bundle.encoders)
        >>> len(table), list(table.columns[:2])
        (100, ['tau_features', 'overlap_features'])
    """
    raw, attention = attribution.raw, np.asarray(attention, dtype="float64")
    if attention.shape != raw.shape:
        raise ValueError(
            f"attention has shape {attention.shape}, but the attribution {raw.shape}; "
            "compute both on the same rows with the same model"
        )
    masks = _position_masks(encoders, attribution)
    uniform = np.random.default_rng(seed).random(raw.shape)
    magnitude = np.abs(raw)
    table = pd.DataFrame(index=attribution.index)
    for scope, valid in masks.items():
        table[f"tau_{scope}"] = kendall_tau(attention, magnitude, valid)
        table[f"overlap_{scope}"] = top_k_overlap(attention, magnitude, valid, k=k)
        table[f"uniform_tau_{scope}"] = kendall_tau(uniform, magnitude, valid)
        table[f"uniform_overlap_{scope}"] = top_k_overlap(uniform, magnitude, valid, k=k)
    table["n_tokens"] = masks["tokens"].sum(axis=1)
    table.attrs["k"] = k
    return table


def _position_masks(encoders: Encoders, attribution: Attribution) -> dict[str, np.ndarray]:
    """(N, T) masks: feature-token positions, and each row's real text tokens."""
    raw = attribution.raw
    n_feat = len(encoders.feature_columns)
    features = np.zeros(raw.shape, dtype=bool)
    features[:, 1 : 1 + n_feat] = True
    tokens = np.zeros(raw.shape, dtype=bool)
    layout = attribution.values.tokens
    if len(layout):
        starts, start = {}, 1 + n_feat
        for enc in encoders.text:
            starts[enc.name] = start
            start += enc.max_len
        rows = attribution.index.get_indexer(layout["row"])
        cols = layout["column"].map(starts).to_numpy(dtype=int) + layout["slot"].to_numpy(int)
        tokens[rows, cols] = True
    return {"features": features, "tokens": tokens}


def summarize_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Agreement over all rows, one line per scope (features, tokens).

    Returns:
        Columns ``scope``, ``rows`` (rows with enough positions), ``tau`` (mean τ),
        ``tau_median``, ``overlap`` (mean top-k overlap), ``agree`` (share of rows
        whose top k share a majority: at least 2 of 3), and the uniform reference
        ``uniform_tau``, ``uniform_overlap``, ``uniform_agree``.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> summary = nm.summarize_agreement(nm.agreement_table(result, attention, bundle.encoders))
        >>> summary["scope"].tolist(), bool(summary["agree"].between(0, 1).all())
        (['features', 'tokens'], True)
    """
    k = int(table.attrs.get("k", 3))
    need = k // 2 + 1
    lines = []
    for scope in SCOPES:
        tau, overlap = table[f"tau_{scope}"], table[f"overlap_{scope}"]
        uniform = table[f"uniform_overlap_{scope}"]
        ok = overlap.notna()
        lines.append(
            {
                "scope": scope,
                "rows": int(ok.sum()),
                "tau": float(tau.mean()),
                "tau_median": float(tau.median()),
                "overlap": float(overlap.mean()),
                "agree": float((overlap[ok] * k >= need - 1e-9).mean()) if ok.any() else np.nan,
                "uniform_tau": float(table[f"uniform_tau_{scope}"].mean()),
                "uniform_overlap": float(uniform.mean()),
                "uniform_agree": float((uniform[ok] * k >= need - 1e-9).mean())
                if ok.any()
                else np.nan,
            }
        )
    summary = pd.DataFrame(lines)
    summary.attrs["k"] = k
    return summary


def agreement_by_segment(table: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Mean τ and top-k overlap per segment (labels aligned with the table's rows).

    Returns:
        Columns ``segment``, ``rows``, ``tau_features``, ``overlap_features``,
        ``tau_tokens``, ``overlap_tokens``; segments in the labels' order.
    """
    if len(labels) != len(table):
        raise ValueError(f"{len(labels)} segment labels for {len(table)} rows")
    grouped = table.assign(segment=np.asarray(labels)).groupby("segment", sort=False, observed=True)
    out = grouped[["tau_features", "overlap_features", "tau_tokens", "overlap_tokens"]].mean()
    out.insert(0, "rows", grouped.size())
    order = getattr(labels, "cat", None)
    out = out.reset_index()
    if order is not None:
        rank = {c: i for i, c in enumerate(labels.cat.categories)}
        out = out.sort_values("segment", key=lambda s: s.map(rank), ignore_index=True)
    return out


def row_comparison(
    attribution: Attribution, attention: np.ndarray, encoders: Encoders, row: int
) -> pd.DataFrame:
    """One row's attention and attribution per input column, side by side.

    Args:
        row: 0-based position of the row in the attribution.

    Returns:
        Columns ``feature``, ``attention`` (sum over a text column's tokens) and
        ``attribution``, in order of |attribution|, largest first.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(50)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> side_by_side = nm.row_comparison(result, attention, bundle.encoders, 0)
        >>> list(side_by_side.columns), len(side_by_side)
        (['feature', 'attention', 'attribution'], 11)
    """
    from neuromkt.explain.attention import feature_matrix

    weights = np.asarray(attention, dtype="float64")[row] @ feature_matrix(encoders)
    table = pd.DataFrame(
        {
            "feature": encoders.input_columns,
            "attention": weights,
            "attribution": attribution.values.features.iloc[row].to_numpy(dtype="float64"),
        }
    )
    order = table["attribution"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


# ---------------------------------------------------------------- deletion curve


@dataclass(frozen=True)
class DeletionCurve:
    """How fast the score falls when the top-k inputs by each ranking are removed.

    Attributes:
        curve: columns ``k``, ``ranking`` (attention / attribution / random) and
            ``remaining`` (share of the rows' score difference still there).
        auc: per ranking, the mean of ``remaining`` over k = 0…max_k (lower = falls
            faster = more faithful).
        scope: "features", "tokens" or "all" (features and tokens).
        rows: rows the curve averages over.
    """

    curve: pd.DataFrame
    auc: dict[str, float]
    scope: str
    rows: int


def deletion_curve(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    attribution: Attribution,
    attention: np.ndarray,
    *,
    max_k: int = 10,
    scope: str = "all",
    seed: int = 0,
    batch_size: int = 4096,
    on_progress: Callable[[int, int], None] | None = None,
) -> DeletionCurve:
    """Remove (set to the baseline) the top-k positions by each ranking and re-score.

    Args:
        bundle: the model the attribution was computed with.
        frame: the attribution's rows, in the same order.
        attribution: its |values| rank the positions; its baseline and output are used.
        attention: (N, T) [CLS] attention of the same rows.
        max_k: the most positions removed.
        scope: "features", "tokens" or "all".
        seed: seeds the random ranking.
        batch_size: model evaluations per pass (bounds memory).
        on_progress: called after each chunk with (rows done, rows in all).

    Raises:
        ValueError: shapes that do not match, or an unknown scope.
    """
    if scope not in ("features", "tokens", "all"):
        raise ValueError(f"scope={scope!r} must be 'features', 'tokens' or 'all'")
    attention = np.asarray(attention, dtype="float64")
    if attention.shape != attribution.raw.shape or len(frame) != len(attention):
        raise ValueError(
            f"attention {attention.shape}, attribution {attribution.raw.shape} and "
            f"{len(frame)} rows must describe the same rows"
        )
    masks = _position_masks(bundle.encoders, attribution)
    valid = masks["features"] | masks["tokens"] if scope == "all" else masks[scope]
    scores = {
        "attention": attention,
        "attribution": np.abs(attribution.raw),
        "random": np.random.default_rng(seed).random(attention.shape),
    }
    ranks = {name: position_ranks(values, valid) for name, values in scores.items()}
    # (len(RANKINGS), max_k + 1): ``scores`` lists the rankings in that order
    remaining = remaining_share(bundle, frame, attribution, ranks, max_k=max_k,
                                batch_size=batch_size, on_progress=on_progress)  # fmt: skip
    curve = pd.DataFrame(
        [
            {"k": k, "ranking": name, "remaining": float(remaining[i, k])}
            for i, name in enumerate(RANKINGS)
            for k in range(max_k + 1)
        ]
    )
    auc = {name: float(remaining[i].mean()) for i, name in enumerate(RANKINGS)}
    return DeletionCurve(curve, auc, scope, len(frame))


# ---------------------------------------------------------------- verdict


def verdict(summary: pd.DataFrame, method: str, deletion: DeletionCurve | None = None) -> str:
    """A plain-language verdict for marketers on whether attention tells the truth.

    Args:
        summary: from :func:`summarize_agreement`.
        method: the attribution method's key (e.g. "ig").
        deletion: the deletion curve, when computed.

    Returns:
        Plain text (no user text in it), paragraphs separated by a blank line, e.g.
        "On this data, attention agrees with Integrated Gradients on the top 3
        drivers in 78% of rows …".

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> summary = nm.summarize_agreement(nm.agreement_table(result, attention, bundle.encoders))
        >>> print(nm.verdict(summary, "ig"))  # doctest: +ELLIPSIS
        On this data, attention agrees with Integrated Gradients on the top 3 drivers in ...
    """
    k = int(summary.attrs.get("k", 3))
    label = METHODS[method].label if method in METHODS else method
    lines = summary.set_index("scope")
    found = {s: lines.loc[s] for s in SCOPES if lines.loc[s, "rows"] > 0}
    parts = []
    if "features" in found:
        f = found["features"]
        parts.append(
            f"On this data, attention agrees with {label} on the top {k} drivers in "
            f"{f['agree']:.0%} of rows (at least {k // 2 + 1} of the top {k} columns in "
            f"common; uniform attention would in {f['uniform_agree']:.0%})."
        )
    if "tokens" in found:
        t = found["tokens"]
        lead = "For words and events it agrees" if parts else "On this data, attention agrees"
        parts.append(
            f"{lead} in {t['agree']:.0%} of rows (uniform attention: {t['uniform_agree']:.0%})."
        )
    if not parts:
        parts.append(f"There are too few columns or words per row to compare top-{k} sets.")
        if deletion is not None:
            parts.append(_deletion_words(deletion, label))
        return "\n\n".join(parts)
    parts.append(_tau_words(found, label))
    if deletion is not None:
        parts.append(_deletion_words(deletion, label))
    return "\n\n".join(parts)


def _tau_words(found: dict[str, pd.Series], label: str) -> str:
    """τ per scope against Jain & Wallace's range; a warning where it falls below it."""
    taus = ", ".join(
        f"{_num(line['tau'])} for {'columns' if s == 'features' else 'words'}"
        for s, line in found.items()
    )
    low, high = JAIN_WALLACE_TAU
    text = (
        f"Rank correlation τ (1 = same order, 0 = unrelated): {taus}; Jain & Wallace (2019) "
        f"found {low}–{high} on text tasks."
    )
    weak = [
        "columns" if s == "features" else "words" for s, line in found.items() if line["tau"] < low
    ]
    if weak:
        text += (
            f" On the {' and the '.join(weak)}, attention ranks differently from {label}: "
            "read that part of the heatmap with care."
        )
    return text


def _num(value: float) -> str:
    """Two decimals without a negative zero ("-0.00" reads as a finding)."""
    return f"{round(float(value), 2) + 0.0:.2f}"


def _deletion_words(deletion: DeletionCurve, label: str) -> str:
    att, attr, rnd = (deletion.auc[name] for name in RANKINGS)
    steps = int(deletion.curve["k"].max()) if len(deletion.curve) else 0
    head = (
        f"Deleting inputs in attention's order leaves {att:.0%} of the score on average over "
        f"the first {steps} deletions, against {attr:.0%} in the order of {label} and "
        f"{rnd:.0%} in a random order (lower: the ranking finds what matters)."
    )
    span = rnd - attr
    if att <= attr + 0.25 * span:
        return f"{head} The heatmap is a fair guide to what drives these predictions."
    if att < rnd - 0.1 * abs(span):
        return f"{head} The heatmap points at real drivers, but {label} is more faithful."
    return f"{head} The heatmap is no better than chance here: trust the attributions."


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
