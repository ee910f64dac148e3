"""Attention at the level of words and events: per token, per vocabulary entry, per pair.

For each text or event-sequence column: one row's token weights aligned with the
characters of its original text (for highlighting), a vocabulary table (mean
attention per token over the rows that contain it, its count and outcome rate), and
the full token × token matrix of one row, computed on demand. Event sequences built
from a log carry their time gaps: each event's gap since the one before and its dwell
(the time until the next event) sit next to its attention.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from neuromkt.explain.attention import (
    DEFAULT_VIEW,
    AttentionMaps,
    AttentionView,
    cell_text,
    check_labels,
    check_view,
    position_values,
    row_position,
)
from neuromkt.explain.rollout import mixed_layer
from neuromkt.explain.segments import outcome_labels, outcome_values
from neuromkt.model.encoders import Encoders, tokenize

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "row_token_weights",
    "search_rows",
    "token_matrix",
    "token_outcome_table",
    "token_spans",
    "token_table",
]


# ---------------------------------------------------------------- one row's tokens


def token_spans(text: Any, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Character span ``(start, end)`` of each token in the original ``text``.

    Tokens are lower-cased and punctuation-stripped pieces of the text in order, so
    each is found after the previous one; ``(-1, -1)`` marks a token whose span
    cannot be recovered (when lower-casing changes the text's length).
    """
    raw = "" if not tokens else str(text)
    lower = raw.lower()
    if len(lower) != len(raw):
        return [(-1, -1)] * len(tokens)
    spans, cursor = [], 0
    for token in tokens:
        at = lower.find(token, cursor)
        spans.append((at, at + len(token)) if at >= 0 else (-1, -1))
        cursor = at + len(token) if at >= 0 else cursor
    return spans


# ---------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class _RowTokens:
    """Attention per row and distinct token of the row (summed over repeats), as arrays."""

    row: np.ndarray  # 0-based row
    pair: np.ndarray  # index into ``names`` (one text column and token)
    attention: np.ndarray
    occurrences: np.ndarray
    names: pd.DataFrame  # ``column``, ``token``, ``in_vocab`` per pair


def _row_token_sums(maps: AttentionMaps, view: AttentionView, column: str | None) -> _RowTokens:
    if column is not None and column not in {e.name for e in maps.encoders.text}:
        raise ValueError(f"'{column}' is not a text column of this model")
    layout = maps.tokens if column is None else maps.tokens[maps.tokens["column"] == column]
    rows, positions = layout["row"].to_numpy(), layout["position"].to_numpy()
    cols, toks = pd.Categorical(layout["column"]), pd.Categorical(layout["token"])
    n_tok = max(len(toks.categories), 1)
    pair_ids, pair = np.unique(cols.codes.astype("int64") * n_tok + toks.codes, return_inverse=True)
    values = position_values(maps, view)[rows, positions].astype("float64")
    _, first, inverse = np.unique(
        rows.astype("int64") * max(len(pair_ids), 1) + pair, return_index=True, return_inverse=True
    )
    in_vocab = np.zeros(len(pair_ids), dtype=bool)
    in_vocab[pair] = layout["in_vocab"].to_numpy(dtype=bool)
    names = pd.DataFrame({
        "column": np.asarray(cols.categories, dtype=object)[pair_ids // n_tok],
        "token": np.asarray(toks.categories, dtype=object)[pair_ids % n_tok],
        "in_vocab": in_vocab,
    })  # fmt: skip
    return _RowTokens(
        row=rows[first], pair=pair[first], attention=np.bincount(inverse, weights=values),
        occurrences=np.bincount(inverse), names=names,
    )  # fmt: skip


def _mean_by(groups: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group 0..n-1: the mean of ``values`` (NaN values skipped; NaN for none) and count."""
    ok = ~np.isnan(values)
    count = np.bincount(groups[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(groups[ok], weights=values[ok], minlength=n) / count, count


def token_table(
    maps: AttentionMaps,
    frame: pd.DataFrame,
    view: AttentionView = DEFAULT_VIEW,
    *,
    column: str | None = None,
    min_count: int = 5,
) -> pd.DataFrame:
    """Vocabulary-level attention: one row per text column and token.

    Args:
        maps: attention of ``frame``'s rows.
        frame: the rows (for the outcome).
        view: which layer/head/method.
        column: one text column, or all of them when None.
        min_count: tokens found in fewer rows are left out, so rare tokens do not
            dominate.

    Returns:
        Columns ``column``, ``token``, ``attention`` (mean over the rows that contain
        the token of its attention in the row, summed over repeats), ``count`` (rows
        containing it), ``occurrences``, ``outcome_rate`` (share of those rows with
        the positive outcome; mean outcome for regression; NaN for multiclass or
        without an outcome column) and ``in_vocab`` (False: the model sees [UNK]);
        largest attention first. Models with time gaps add ``median_dwell_s``: the
        median time from the token's event to the next one (NaN for other columns).
    """
    sums = _row_token_sums(maps, view, column)
    n = len(sums.names)
    attention, count = _mean_by(sums.pair, sums.attention, n)
    outcome = outcome_values(maps.encoders, frame)[sums.row]
    table = sums.names.assign(
        attention=attention, count=count,
        occurrences=np.bincount(sums.pair, weights=sums.occurrences, minlength=n).astype("int64"),
        outcome_rate=_mean_by(sums.pair, outcome, n)[0],
    )  # fmt: skip
    table = table[["column", "token", "attention", "count", "occurrences", "outcome_rate",
                   "in_vocab"]]  # fmt: skip
    if any(e.gap_column for e in maps.encoders.text):
        table = table.merge(_median_dwell(maps, frame, column), how="left", on=["column", "token"])
    table = table[table["count"] >= min_count]
    return table.sort_values(["attention", "count"], ascending=False, kind="stable",
                             ignore_index=True)  # fmt: skip


def token_outcome_table(
    maps: AttentionMaps,
    frame: pd.DataFrame,
    view: AttentionView = DEFAULT_VIEW,
    *,
    column: str,
    min_count: int = 5,
    top: int = 15,
) -> pd.DataFrame:
    """The ``top`` tokens of ``column`` by attention, split by outcome.

    Returns:
        Tidy frame with ``token``, ``outcome`` (as :func:`outcome_labels`),
        ``attention`` (mean over that group's rows containing the token) and
        ``count``; tokens by overall attention, largest first.
    """
    tops = token_table(maps, frame, view, column=column, min_count=min_count).head(top)
    outcome = outcome_labels(maps.encoders, frame)
    groups = outcome.cat.categories
    sums = _row_token_sums(maps, view, column)
    position = {token: i for i, token in enumerate(sums.names["token"])}
    rank = np.full(len(sums.names), -1)
    rank[[position[t] for t in tops["token"]]] = np.arange(len(tops))
    keep = rank[sums.pair] >= 0
    cell = rank[sums.pair[keep]] * len(groups) + outcome.cat.codes.to_numpy()[sums.row[keep]]
    attention, count = _mean_by(cell, sums.attention[keep], len(tops) * len(groups))
    table = pd.DataFrame({
        "token": np.repeat(tops["token"].to_numpy(), len(groups)),
        "outcome": pd.Categorical(np.tile(np.asarray(groups), len(tops)), categories=groups,
                                  ordered=True),
        "attention": attention, "count": count,
    })  # fmt: skip
    return table[table["count"] > 0].reset_index(drop=True)


def _dwell(seconds: list[float]) -> list[float]:
    """The time until the next event: the next event's gap (NaN after the last)."""
    return [*seconds[1:], float("nan")] if seconds else []


def _median_dwell(maps: AttentionMaps, frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """``column``, ``token``, ``median_dwell_s`` over the occurrences the model saw."""
    parts = []
    for enc in maps.encoders.text:
        if enc.gap_column is None or column not in (None, enc.name):
            continue
        layout = maps.tokens[maps.tokens["column"] == enc.name]
        dwell = [_dwell(s) for s in enc.gap_seconds(frame[enc.name], frame[enc.gap_column])]
        rows, slots = layout["row"].to_numpy(), layout["slot"].to_numpy()
        values = [dwell[r][s] for r, s in zip(rows, slots, strict=True)]
        parts.append(layout[["column", "token"]].assign(median_dwell_s=values))
    if not parts:
        return pd.DataFrame({"column": [], "token": [], "median_dwell_s": []})
    both = pd.concat(parts, ignore_index=True)
    return both.groupby(["column", "token"], as_index=False, sort=False)["median_dwell_s"].median()


def row_token_weights(
    maps: AttentionMaps, frame: pd.DataFrame, row: Hashable, view: AttentionView = DEFAULT_VIEW
) -> pd.DataFrame:
    """One row's token weights, aligned with the tokens of its original text.

    Returns:
        One row per token of every text column: ``column``, ``slot``, ``token``,
        ``start``/``end`` (its characters in the cell; -1 when unknown),
        ``attention`` (NaN for tokens beyond the model's ``max_len``: it never saw
        them), ``seen``, ``in_vocab``, and ``gap_s`` (seconds since the event before)
        and ``dwell_s`` (seconds until the next event): NaN without time gaps.

    Raises:
        ValueError: when the attention's token positions do not match the row's text
            ("attention has 5 token positions for column 'events' in row 3, but its
            text shows 6 tokens").
    """
    pos = row_position(maps, row)
    values = position_values(maps, view, rows=[pos])[0]
    layout = maps.tokens[maps.tokens["row"].to_numpy() == pos]
    parts = []
    for enc in maps.encoders.text:
        text = frame.at[row, enc.name]
        tokens = tokenize(text)
        seen = layout[layout["column"] == enc.name]
        n_seen = min(len(tokens), enc.max_len)
        if len(seen) != n_seen or list(seen["token"]) != tokens[:n_seen]:
            raise ValueError(
                f"attention has {len(seen)} token positions for column "
                f"'{enc.name}' in row {row!r}, but its text shows {n_seen} tokens"
            )
        attention = np.full(len(tokens), np.nan)
        attention[:n_seen] = values[seen["position"].to_numpy()]
        spans = np.array(token_spans(text, tokens), dtype="int64").reshape(-1, 2)
        vocab = set(enc.vocab[enc.FIRST_WORD_ID :])
        gaps = [float("nan")] * len(tokens)
        if enc.gap_column is not None:
            gaps = enc.gap_seconds(frame.loc[[row], enc.name], frame.loc[[row], enc.gap_column])[0]
        parts.append(
            pd.DataFrame(
                {
                    "column": enc.name,
                    "slot": np.arange(len(tokens)),
                    "token": tokens,
                    "start": spans[:, 0],
                    "end": spans[:, 1],
                    "attention": attention,
                    "seen": np.arange(len(tokens)) < n_seen,
                    "in_vocab": [t in vocab for t in tokens],
                    "gap_s": np.asarray(gaps, dtype="float64"),
                    "dwell_s": np.asarray(_dwell(gaps), dtype="float64"),
                }
            )
        )
    columns = ["column", "slot", "token", "start", "end", "attention", "seen", "in_vocab",
               "gap_s", "dwell_s"]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def search_rows(frame: pd.DataFrame, column: str, query: str, *, limit: int = 50) -> list:
    """Labels of the first ``limit`` rows whose ``column`` contains ``query`` (any case)."""
    if not query.strip():
        return []
    found = frame[column].astype("string").str.contains(query.strip(), case=False, regex=False)
    return list(frame.index[found.fillna(False).to_numpy(dtype=bool)][:limit])


# ---------------------------------------------------------------- token × token, one row


@torch.no_grad()
def token_matrix(
    bundle: ModelBundle, frame: pd.DataFrame, row: Hashable, view: AttentionView = DEFAULT_VIEW
) -> pd.DataFrame:
    """The full token × token attention of one row, padding left out.

    Args:
        bundle: a trained model.
        frame: the data; ``row`` is a label of its index.
        row: the row to show.
        view: layer (None = mean over layers) and head (None = mean over heads), or
            rollout through a layer.

    Returns:
        Tidy frame, one row per (query, key) pair of real positions: ``query`` and
        ``key`` (0..n-1 in model order), ``query_label``, ``key_label``,
        ``query_kind``, ``key_kind`` and ``attention``; each query's row sums to 1.
    """
    encoders, model = bundle.encoders, bundle.model
    one = frame.loc[[row]]
    model.eval()
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in encoders.transform(one).items()}
    _, attentions = model(**inputs, return_attention=True)
    check_view(view, len(attentions), attentions[0].shape[1])
    if view.method == "rollout":
        through = len(attentions) - 1 if view.layer is None else view.layer
        matrix = mixed_layer(attentions[0])
        for probs in attentions[1 : through + 1]:
            matrix = mixed_layer(probs) @ matrix
    else:
        stacked = torch.stack(attentions, dim=1)[0]  # (L, H, T, T)
        layers = slice(None) if view.layer is None else slice(view.layer, view.layer + 1)
        heads = slice(None) if view.head is None else slice(view.head, view.head + 1)
        matrix = stacked[layers, heads].mean(dim=(0, 1))[None]  # (1, T, T)
    labels, kinds = _row_labels(encoders, one)
    check_labels(matrix.shape[-1], labels)
    keep = np.flatnonzero(~model.pad_mask(inputs["tokens"])[0].cpu().numpy())
    m = matrix[0].double().cpu().numpy()[np.ix_(keep, keep)]
    q, k = np.meshgrid(np.arange(len(keep)), np.arange(len(keep)), indexing="ij")
    lab, kin = np.asarray(labels, dtype=object)[keep], np.asarray(kinds, dtype=object)[keep]
    return pd.DataFrame(
        {
            "query": q.ravel(),
            "key": k.ravel(),
            "query_label": lab[q.ravel()],
            "key_label": lab[k.ravel()],
            "query_kind": kin[q.ravel()],
            "key_kind": kin[k.ravel()],
            "attention": m.ravel(),
        }
    )


def _row_labels(encoders: Encoders, one: pd.DataFrame) -> tuple[list[str], list[str]]:
    """A label per model position of one row: "[CLS]", "device = mobile", "cart"."""
    tokens = {c: t[0] for c, t in encoders.tokens(one).items()}
    labels, kinds = [], []
    for p in encoders.positions().itertuples():
        if p.kind == "cls":
            labels.append("[CLS]")
        elif p.kind == "token":
            seq = tokens[p.column]
            labels.append(seq[p.slot] if p.slot < len(seq) else "[PAD]")
        else:
            labels.append(f"{p.column} = {cell_text(one[p.column].iloc[0], 24)}")
        kinds.append(p.column if p.kind == "token" else p.kind)
    return labels, kinds
