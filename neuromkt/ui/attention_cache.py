"""Attention results of the Attention page, cached by content.

Attention is computed once per model and data set and kept with
``st.cache_resource`` (the arrays are read-only and shared, not copied on every
rerun); the small tables derived from it are kept with ``st.cache_data``. Every
cache is keyed on content, never on a user or session: the model's key hashes its
creation time, training-data fingerprint and weights, the data's key is the data
set's fingerprint. Changing a control therefore never recomputes attention, and two
users with different data or models can never see each other's results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.errors import DataError
from neuromkt.explain.attention import (
    AttentionMaps,
    AttentionView,
    cls_self_share,
    compute_attention,
    global_features,
    layer_head_table,
    row_feature_weights,
    row_position,
)
from neuromkt.explain.noise import held_out_noise_floor
from neuromkt.explain.segments import outcome_values, segment_labels, segment_table
from neuromkt.explain.tokens import (
    row_token_weights,
    token_matrix,
    token_outcome_table,
    token_table,
)

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "CACHE_TTL_S",
    "MAX_ROWS",
    "NOISE_NOTE",
    "AttentionData",
    "GlobalResult",
    "NoiseResult",
    "RowDetail",
    "TokenResult",
    "attention_data",
    "bundle_key",
    "global_result",
    "maps_for",
    "noise_result",
    "row_detail",
    "segment_result",
    "token_result",
    "with_noise",
]

MAX_ROWS = 50_000  # larger data sets are sampled (seeded) for the attention views
CACHE_TTL_S = 3600  # seconds a cached result is kept


@dataclass(frozen=True)
class AttentionData:
    """The rows the page explains.

    Attributes:
        frame: the data set's rows (a seeded sample above ``MAX_ROWS``), all columns.
        key: content key of model and rows, for every cache below.
        n_total: rows in the whole data set.
    """

    frame: pd.DataFrame
    key: str
    n_total: int


def bundle_key(bundle: ModelBundle) -> str:
    """A content key of a model: creation time, data fingerprint and the weights."""
    digest = hashlib.sha256(f"{bundle.created_at}\x1f{bundle.data_fingerprint}".encode())
    for name, tensor in bundle.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def attention_data(
    dataset: Dataset, bundle: ModelBundle, *, max_rows: int = MAX_ROWS, tag: str = ""
) -> AttentionData:
    """The data set's rows for ``bundle`` (a seeded sample of ``max_rows`` if larger).

    Args:
        dataset: The session's data set.
        bundle: The model the rows are for.
        max_rows: Larger data sets are sampled down to this many rows.
        tag: Prefixed to the content key (a page's own caches).

    Raises:
        ModelError: the data set lacks columns the model reads (they are named).
    """
    bundle.encoders.check_columns(dataset.frame)
    frame = dataset.frame
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=0).sort_index()
    key = f"{tag}{bundle_key(bundle)}-{dataset.fingerprint[:32]}-{len(frame)}"
    return AttentionData(frame, key, len(dataset.frame))


@st.cache_resource(
    show_spinner="Computing attention for every row…", max_entries=4, ttl=CACHE_TTL_S
)
def _maps(key: str, _bundle: ModelBundle, _frame: pd.DataFrame) -> AttentionMaps:
    return compute_attention(_bundle, _frame)


def maps_for(bundle: ModelBundle, data: AttentionData) -> AttentionMaps:
    """The [CLS] attention of ``data``'s rows (computed once per model and data)."""
    return _maps(data.key, bundle, data.frame)


def _view(view: tuple[str, int | None, int | None]) -> AttentionView:
    return AttentionView(method=view[0], layer=view[1], head=view[2])


def _astuple(view: AttentionView) -> tuple[str, int | None, int | None]:
    return view.method, view.layer, view.head


@dataclass(frozen=True)
class GlobalResult:
    """The global view: what the model attends to over all rows."""

    features: pd.DataFrame  # global_features
    layer_heads: pd.DataFrame  # layer_head_table
    self_share: float  # attention [CLS] keeps on itself
    top_token: pd.Series | None  # the most attended token (in >= 20 rows), if any text


@st.cache_data(show_spinner=False, max_entries=32, ttl=CACHE_TTL_S)
def _global(key: str, view: tuple, _maps: AttentionMaps, _frame: pd.DataFrame) -> GlobalResult:
    v = _view(view)
    tokens = token_table(_maps, _frame, v, min_count=20) if _maps.encoders.text else None
    return GlobalResult(
        features=global_features(_maps, v),
        layer_heads=layer_head_table(_maps),
        self_share=cls_self_share(_maps, v),
        top_token=None if tokens is None or tokens.empty else tokens.iloc[0],
    )


def global_result(maps: AttentionMaps, data: AttentionData, view: AttentionView) -> GlobalResult:
    """Ranked columns, column × (layer, head) means, [CLS]'s own share, the top token."""
    return _global(data.key, _astuple(view), maps, data.frame)


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _segments(key: str, view: tuple, by: str, _maps: AttentionMaps, _frame: pd.DataFrame):
    labels = segment_labels(_maps, _frame, by)
    return segment_table(_maps, labels, _view(view))


def segment_result(
    maps: AttentionMaps, data: AttentionData, view: AttentionView, by: str
) -> pd.DataFrame:
    """Mean attention per segment and feature (see ``segment_table``).

    Raises:
        DataError: the rows cannot be split that way (e.g. no outcome column).
    """
    return _segments(data.key, _astuple(view), by, maps, data.frame)


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _tokens(key: str, view: tuple, column: str, min_count: int, _maps, _frame) -> TokenResult:
    v = _view(view)
    table = token_table(_maps, _frame, v, column=column, min_count=min_count)
    try:
        split = token_outcome_table(_maps, _frame, v, column=column, min_count=min_count)
    except DataError:
        split = None
    values = outcome_values(_maps.encoders, _frame)
    rate = float(np.nanmean(values)) if np.isfinite(values).any() else None
    return TokenResult(table, split, rate)


@dataclass(frozen=True)
class TokenResult:
    """The words-and-events view of one text column."""

    vocabulary: pd.DataFrame  # token_table
    by_outcome: pd.DataFrame | None  # token_outcome_table; None without an outcome column
    outcome_rate: float | None  # of all rows (mean outcome for regression)


def token_result(
    maps: AttentionMaps, data: AttentionData, view: AttentionView, column: str, min_count: int
) -> TokenResult:
    """The vocabulary table of ``column``, its top tokens by outcome and the overall rate."""
    return _tokens(data.key, _astuple(view), column, min_count, maps, data.frame)


@dataclass(frozen=True)
class RowDetail:
    """Everything the drill-down shows about one row."""

    row: Hashable
    score: float
    features: pd.DataFrame  # row_feature_weights
    tokens: pd.DataFrame  # row_token_weights
    matrix: pd.DataFrame  # token_matrix


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _row(key: str, view: tuple, row: Any, _maps, _frame, _bundle) -> RowDetail:
    v = _view(view)
    return RowDetail(
        row=row,
        score=float(_maps.scores[row_position(_maps, row)]),
        features=row_feature_weights(_maps, _frame, row, v),
        tokens=row_token_weights(_maps, _frame, row, v),
        matrix=token_matrix(_bundle, _frame, row, v),
    )


def row_detail(
    bundle: ModelBundle, maps: AttentionMaps, data: AttentionData, view: AttentionView, row: Any
) -> RowDetail:
    """One row's feature weights, token weights and token × token matrix."""
    return _row(data.key, _astuple(view), row, maps, data.frame, bundle)


# ---------------------------------------------------------------- the noise floor

NOISE_NOTE = (
    "Hatched: not distinguishable from noise. Shuffling that column between rows the "
    "model never trained on does not make its predictions measurably worse, so its "
    "place in the ranking may be chance."
)


@dataclass(frozen=True)
class NoiseResult:
    """Which columns clear the noise floor, and on which rows that was measured."""

    table: pd.DataFrame  # neuromkt.explain.noise.noise_floor
    rows: str  # the rows it was measured on, in words


@st.cache_data(
    show_spinner="Checking which columns stand out from noise…", max_entries=8, ttl=CACHE_TTL_S
)
def _noise(key: str, _bundle: ModelBundle, _frame: pd.DataFrame) -> NoiseResult | None:
    table, rows = held_out_noise_floor(_bundle, _frame)
    return None if table is None else NoiseResult(table, rows)


def noise_result(dataset: Dataset, bundle: ModelBundle) -> NoiseResult | None:
    """The noise floor of every input column, computed once per model and data set.

    Measured on the held-out test rows when the data set is the model's training data,
    else on the data set's rows (which the model did not train on); see
    :func:`neuromkt.explain.noise.held_out_noise_floor`. None when the rows have no
    outcome column or too few rows to tell.
    """
    return _noise(f"{bundle_key(bundle)}-{dataset.fingerprint[:32]}", bundle, dataset.frame)


def with_noise(table: pd.DataFrame, noise: NoiseResult | None) -> pd.DataFrame:
    """``table`` (one row per ``feature``) with the noise floor's ``distinguishable`` flag."""
    if noise is None:
        return table
    flags = noise.table.set_index("feature")["distinguishable"]
    return table.assign(distinguishable=table["feature"].map(flags).astype("boolean"))
