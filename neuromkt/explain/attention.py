"""Attention of a trained model: extraction, per-row values and global views.

One pass over the rows (batched, ``no_grad``, chunked) keeps only what the views
need: the [CLS] row of every layer and head, ``(N, n_layers, H, T)`` float32, and the
[CLS] row of attention rollout through each layer, ``(N, n_layers, T)``. No
``(B, H, T, T)`` tensor outlives its batch. Every view is derived from those arrays:
per-row attention per input column and its global mean here, means by segment in
:mod:`neuromkt.explain.segments`, words and events (one row's token weights, the
vocabulary table, the token × token matrix of one row) in
:mod:`neuromkt.explain.tokens`. The rollout arithmetic is in :mod:`neuromkt.explain.rollout`;
the table and JSON that ``neuromkt explain --method attention`` writes are in
:mod:`neuromkt.explain.tables`.

Attention values are the [CLS] token's attention probabilities: each row sums to 1
over all positions, [CLS] itself included, and padding gets exactly 0. A text column's
value is the sum over its tokens, as in :mod:`neuromkt.explain.positions`.

Example:
    >>> maps = compute_attention(bundle, frame)
    >>> global_features(maps, AttentionView(method="rollout")).head()
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from neuromkt.explain.positions import split_positions
from neuromkt.explain.rollout import rollout_cls
from neuromkt.model.encoders import Encoders
from neuromkt.model.inference import outputs_to_predictions
from neuromkt.progress import OnProgress, Tracker

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "BATCH_BYTES",
    "CHUNK_ROWS",
    "DEFAULT_VIEW",
    "METHODS",
    "AttentionMaps",
    "AttentionView",
    "cell_text",
    "check_labels",
    "check_view",
    "cls_self_share",
    "compute_attention",
    "feature_kinds",
    "feature_matrix",
    "feature_values",
    "global_features",
    "layer_head_table",
    "position_values",
    "row_feature_weights",
    "row_position",
]

CHUNK_ROWS = 4096  # rows encoded at a time; bounds the memory of the model inputs
BATCH_BYTES = 32 * 2**20  # attention tensors of one forward pass (all layers), by default
METHODS = ("mean", "rollout")


@dataclass(frozen=True)
class AttentionView:
    """Which attention to look at.

    ``method="mean"`` is the [CLS] row of one layer (or the mean over layers) and one
    head (or the mean over heads). ``method="rollout"`` is attention rollout (Abnar &
    Zuidema 2020) through ``layer`` (the last layer when None); heads are averaged by
    definition, so ``head`` must be None.

    Example:
        >>> import neuromkt as nm
        >>> nm.AttentionView().describe(), nm.AttentionView(layer=0, head=1).describe()
        ('all layers, mean of heads', 'layer 1, head 2')
        >>> nm.AttentionView(method="rollout").describe()
        'rollout'
    """

    method: str = "mean"  # "mean" or "rollout"
    layer: int | None = None  # 0-based layer; None = all layers
    head: int | None = None  # 0-based head; None = mean over heads

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} must be one of {METHODS}")
        if self.method == "rollout" and self.head is not None:
            raise ValueError("rollout averages the heads; leave head=None")
        for name in ("layer", "head"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}={value} must be 0 or more")

    def describe(self) -> str:
        """Plain words, e.g. "layer 2, mean of heads" or "rollout through layer 2"."""
        if self.method == "rollout":
            return "rollout" if self.layer is None else f"rollout through layer {self.layer + 1}"
        layer = "all layers" if self.layer is None else f"layer {self.layer + 1}"
        head = "mean of heads" if self.head is None else f"head {self.head + 1}"
        return f"{layer}, {head}"


DEFAULT_VIEW = AttentionView()  # the mean over all layers and heads


@dataclass(frozen=True)
class AttentionMaps:
    """[CLS] attention of N rows, as kept by :func:`compute_attention`.

    Attributes:
        cls: (N, n_layers, H, T) float32, the [CLS] row of every layer and head.
        rollout: (N, n_layers, T) float32, the [CLS] row of rollout through each layer.
        scores: (N,) the model's score per row (P(positive), top-class probability or
            predicted value).
        index: the frame's index (row labels), length N.
        encoders: the bundle's encoders (they define the T positions).
        tokens: one row per real token: ``row`` (0-based), ``column``, ``slot``,
            ``token``, ``position`` (model position) and ``in_vocab``.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(100))
        >>> maps.cls.shape, maps.rollout.shape  # (N, L, H, T) and (N, L, T)
        ((100, 1, 4, 27), (100, 1, 27))
    """

    cls: np.ndarray
    rollout: np.ndarray
    scores: np.ndarray
    index: pd.Index
    encoders: Encoders
    tokens: pd.DataFrame

    @property
    def n_rows(self) -> int:
        return int(self.cls.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.cls.shape[1])

    @property
    def n_heads(self) -> int:
        return int(self.cls.shape[2])


# ---------------------------------------------------------------- extraction


@torch.no_grad()
def compute_attention(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    batch_size: int | None = None,
    on_progress: OnProgress | None = None,
) -> AttentionMaps:
    """[CLS] attention of every row of ``frame``, in chunks, on the model's device.

    Args:
        bundle: a trained model.
        frame: rows with the model's columns (other columns are ignored).
        batch_size: rows per forward pass; by default as many as keep one batch's
            attention tensors near ``BATCH_BYTES``.
        on_progress: called after each forward pass with a
            :class:`neuromkt.progress.Progress` (rows done of ``len(frame)``).

    Raises:
        ModelError: when ``frame`` lacks a column the model needs.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(200))
        >>> maps.n_rows, maps.n_layers, maps.n_heads
        (200, 1, 4)
    """
    encoders, model = bundle.encoders, bundle.model
    encoders.check_columns(frame)
    model.eval()
    device = next(model.parameters()).device
    n, spec, config = len(frame), encoders.spec(), model.config
    per_row = 4 * config.n_layers * config.n_heads * spec.n_positions**2  # bytes of (H, T, T)
    batch_size = batch_size or int(np.clip(BATCH_BYTES // per_row, 64, CHUNK_ROWS))
    cls = np.empty((n, config.n_layers, config.n_heads, spec.n_positions), dtype="float32")
    roll = np.empty((n, config.n_layers, spec.n_positions), dtype="float32")
    logits, tokens = [], []
    tracker = Tracker(on_progress, n)
    for start in range(0, n, CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        inputs = encoders.transform(chunk)
        for b in range(0, len(chunk), batch_size):
            batch = {k: v[b : b + batch_size].to(device) for k, v in inputs.items()}
            out, attentions = model(**batch, return_attention=True, full_last_layer=False)
            rows = slice(start + b, start + b + len(out))
            cls[rows] = torch.stack([a[:, :, 0, :] for a in attentions], 1).float().cpu().numpy()
            roll[rows] = rollout_cls(attentions).float().cpu().numpy()
            logits.append(out.float().cpu())
            tracker.update(rows.stop, "Reading the attention")
        tokens.append(_token_layout(encoders, chunk, offset=start))
    scores = _scores(logits, encoders, model.spec.n_outputs)
    for array in (cls, roll, scores):
        array.flags.writeable = False
    layout = pd.concat(tokens, ignore_index=True) if tokens else _token_layout(encoders, frame)
    layout = layout.astype({"column": "category", "token": "category"})
    return AttentionMaps(cls, roll, scores, frame.index, encoders, layout)


def _scores(logits: list[torch.Tensor], encoders: Encoders, n_outputs: int) -> np.ndarray:
    merged = torch.cat(logits) if logits else torch.zeros(0, n_outputs)
    pred = outputs_to_predictions(merged, encoders.task, encoders)
    return pred.max(axis=1) if pred.ndim == 2 else pred


def _token_layout(encoders: Encoders, frame: pd.DataFrame, *, offset: int = 0) -> pd.DataFrame:
    """Real tokens of ``frame``'s rows with their model positions (via split_positions)."""
    zeros = np.zeros((len(frame), encoders.spec().n_positions))
    layout = split_positions(zeros, encoders, frame.reset_index(drop=True)).tokens
    layout = layout.drop(columns="value").astype({"row": "int64", "slot": "int64"})
    layout["row"] += offset
    layout["position"] = 0
    layout["in_vocab"] = False
    start = 1 + len(encoders.feature_columns)
    for enc in encoders.text:
        mine = (layout["column"] == enc.name).to_numpy()
        layout.loc[mine, "position"] = start + layout.loc[mine, "slot"]
        layout.loc[mine, "in_vocab"] = layout.loc[mine, "token"].isin(enc.vocab[2:])
        start += enc.max_len
    return layout


# ---------------------------------------------------------------- per-row values


def position_values(
    maps: AttentionMaps, view: AttentionView = DEFAULT_VIEW, *, rows: Any = None
) -> np.ndarray:
    """One attention value per row and model position for ``view``.

    Args:
        maps: from :func:`compute_attention`.
        view: which layer/head/method.
        rows: optional 0-based row positions (a slice, list or array); all rows if None.

    Shape:
        -> (N, T) float32 (or (len(rows), T)); each row sums to 1 over T.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(100))
        >>> values = nm.position_values(maps, nm.AttentionView(method="rollout"))
        >>> values.shape, bool(abs(values.sum(axis=1) - 1).max() < 1e-4)
        ((100, 27), True)
    """
    check_view(view, maps.n_layers, maps.n_heads)
    rows = slice(None) if rows is None else rows
    if view.method == "rollout":
        return maps.rollout[rows, maps.n_layers - 1 if view.layer is None else view.layer]
    cls = maps.cls[rows]
    layers = slice(None) if view.layer is None else slice(view.layer, view.layer + 1)
    heads = slice(None) if view.head is None else slice(view.head, view.head + 1)
    return cls[:, layers, heads].mean(axis=(1, 2), dtype="float64").astype("float32")


def check_view(view: AttentionView, n_layers: int, n_heads: int) -> None:
    """Raise ``ValueError`` when ``view`` names a layer or head the model lacks."""
    if view.layer is not None and view.layer >= n_layers:
        raise ValueError(
            f"layer {view.layer + 1} does not exist; the model has {n_layers} layer(s)"
        )
    if view.head is not None and view.head >= n_heads:
        raise ValueError(f"head {view.head + 1} does not exist; the model has {n_heads} head(s)")


def feature_matrix(encoders: Encoders) -> np.ndarray:
    """(T, F) 0/1 matrix taking position values to input-column values.

    Numeric and categorical columns take their own position, a text column the sum of
    its token slots (padding is 0), [CLS] none: the same mapping as
    :func:`neuromkt.explain.positions.split_positions`.
    """
    positions = encoders.positions()
    columns = encoders.input_columns
    matrix = np.zeros((len(positions), len(columns)), dtype="float32")
    for row in positions.itertuples():
        if row.kind != "cls":
            matrix[row.position, columns.index(row.column)] = 1.0
    return matrix


def feature_kinds(encoders: Encoders) -> dict[str, str]:
    """Input column -> "numeric", "categorical" or "text"."""
    kinds = {e.name: "numeric" for e in encoders.numeric}
    kinds |= {e.name: "categorical" for e in encoders.categorical}
    return kinds | {e.name: "text" for e in encoders.text}


def feature_values(maps: AttentionMaps, view: AttentionView = DEFAULT_VIEW) -> pd.DataFrame:
    """(N, F) [CLS] attention per row and input column, index = the frame's index."""
    values = position_values(maps, view) @ feature_matrix(maps.encoders)
    return pd.DataFrame(values, index=maps.index, columns=maps.encoders.input_columns)


def cls_self_share(maps: AttentionMaps, view: AttentionView = DEFAULT_VIEW) -> float:
    """Mean attention [CLS] keeps on itself (the rest goes to features and tokens)."""
    values = position_values(maps, view)
    return float(values[:, 0].mean()) if len(values) else float("nan")


def row_position(maps: AttentionMaps, row: Hashable) -> int:
    """0-based position of the row labelled ``row``, or a clear error."""
    if not maps.index.is_unique:
        raise ValueError("The data's row labels repeat; reset the index to pick one row.")
    try:
        return int(maps.index.get_loc(row))
    except KeyError:
        raise ValueError(f"Row {row!r} is not in the data the attention was computed on.") from None


# ---------------------------------------------------------------- global views


def global_features(maps: AttentionMaps, view: AttentionView = DEFAULT_VIEW) -> pd.DataFrame:
    """Mean [CLS] attention per input column over all rows, largest first.

    Returns:
        Columns ``feature``, ``kind``, ``attention`` (mean), ``median``, ``std``,
        ``share`` (attention / the total over features) and ``rank`` (1 = most).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(300))
        >>> table = nm.global_features(maps)
        >>> list(table.columns), round(float(table["share"].sum()), 6)
        (['feature', 'kind', 'attention', 'median', 'std', 'share', 'rank'], 1.0)
    """
    values = feature_values(maps, view)
    kinds = feature_kinds(maps.encoders)
    mean = values.mean()
    table = pd.DataFrame(
        {
            "feature": values.columns,
            "kind": [kinds[c] for c in values.columns],
            "attention": mean.to_numpy(dtype="float64"),
            "median": values.median().to_numpy(dtype="float64"),
            "std": values.std(ddof=0).to_numpy(dtype="float64"),
            "share": (mean / mean.sum()).to_numpy(dtype="float64") if mean.sum() > 0 else 0.0,
        }
    )
    table = table.sort_values("attention", ascending=False, kind="stable", ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def layer_head_table(maps: AttentionMaps) -> pd.DataFrame:
    """Mean [CLS] attention per input column, layer and head (1-based), tidy.

    Returns:
        Columns ``feature``, ``kind``, ``layer``, ``head``, ``label`` ("L1 H2") and
        ``attention``; features in model order.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(100))
        >>> table = nm.layer_head_table(maps)
        >>> len(table) == maps.n_layers * maps.n_heads * 11, table["label"].unique().tolist()
        (True, ['L1 H1', 'L1 H2', 'L1 H3', 'L1 H4'])
    """
    mean = maps.cls.mean(axis=0, dtype="float64")  # (L, H, T)
    per_feature = mean @ feature_matrix(maps.encoders)  # (L, H, F)
    L, H, F = per_feature.shape
    columns = maps.encoders.input_columns
    kinds = feature_kinds(maps.encoders)
    layer, head, feature = np.meshgrid(np.arange(L), np.arange(H), np.arange(F), indexing="ij")
    return pd.DataFrame(
        {
            "feature": [columns[f] for f in feature.ravel()],
            "kind": [kinds[columns[f]] for f in feature.ravel()],
            "layer": layer.ravel() + 1,
            "head": head.ravel() + 1,
            "label": [
                f"L{lay + 1} H{h + 1}" for lay, h in zip(layer.ravel(), head.ravel(), strict=True)
            ],
            "attention": per_feature.ravel(),
        }
    )


def check_labels(n_positions: int, labels: Sequence[Any], what: str = "labels") -> None:
    """Raise ``ValueError`` unless there is exactly one label per attention position."""
    if n_positions != len(labels):
        raise ValueError(f"attention has {n_positions} positions, but {len(labels)} {what}")


# ---------------------------------------------------------------- one row


def row_feature_weights(
    maps: AttentionMaps, frame: pd.DataFrame, row: Hashable, view: AttentionView = DEFAULT_VIEW
) -> pd.DataFrame:
    """One row's attention per input column, with the row's values as text.

    Returns:
        Columns ``feature``, ``kind``, ``value`` (the cell, as text) and ``attention``,
        largest attention first.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> maps = nm.compute_attention(bundle, rows)
        >>> weights = nm.row_feature_weights(maps, rows, 0)
        >>> list(weights.columns), len(weights)
        (['feature', 'kind', 'value', 'attention'], 11)
    """
    pos = row_position(maps, row)
    values = position_values(maps, view, rows=[pos]) @ feature_matrix(maps.encoders)
    kinds = feature_kinds(maps.encoders)
    columns = maps.encoders.input_columns
    check_labels(values.shape[1], columns, "input columns")
    cells = [cell_text(frame.at[row, c]) for c in columns]
    table = pd.DataFrame(
        {
            "feature": columns,
            "kind": [kinds[c] for c in columns],
            "value": cells,
            "attention": values[0].astype("float64"),
        }
    )
    return table.sort_values("attention", ascending=False, kind="stable", ignore_index=True)


def cell_text(value: Any, limit: int = 60) -> str:
    """A cell as short display text: "(missing)", 4 significant digits, or cut with "…"."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(missing)"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
