"""What ``neuromkt explain`` writes: per-row tables and global rankings as JSON.

One set of functions per kind of explanation: [CLS] attention (``--method attention``,
from :mod:`neuromkt.explain.attention` and :mod:`neuromkt.explain.tokens`) and Captum
attributions (every other method, from :mod:`neuromkt.explain.attributions`). The per-row table
has one row per input row and one column per input column; the global summary ranks
features and tokens, largest importance first, in the same JSON shape for both.

``attention_table`` and ``global_attention_summary`` (and their attribution twins)
compute the explanation and shape it; ``attention_summary`` and
``attribution_summary`` shape one already computed, so the per-row table and the
ranking of one run come from a single computation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from neuromkt.explain.attention import (
    AttentionMaps,
    AttentionView,
    compute_attention,
    global_features,
    position_values,
)
from neuromkt.explain.attributions import Attribution, attribute
from neuromkt.explain.positions import split_positions
from neuromkt.explain.summaries import feature_ranking, token_ranking
from neuromkt.explain.tokens import token_table

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "attention_features",
    "attention_summary",
    "attention_table",
    "attribution_summary",
    "attribution_table",
    "global_attention_summary",
    "global_attribution_summary",
]


# ---------------------------------------------------------------- attention


def attention_table(
    bundle: ModelBundle, frame: pd.DataFrame, *, method: str = "mean"
) -> pd.DataFrame:
    """One row per input row, one column per input column: its [CLS] attention.

    Args:
        bundle: a trained model.
        frame: rows with the model's columns.
        method: "mean" (over layers and heads) or "rollout".

    Returns:
        (N, F) frame with ``frame``'s index; a text column's value is the sum over its
        tokens. This is what ``neuromkt explain --method attention`` writes.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> table = nm.attention_table(bundle, rows)
        >>> table.shape, list(table.columns) == bundle.encoders.input_columns
        ((100, 11), True)
        >>> bool(((table.sum(axis=1) > 0) & (table.sum(axis=1) <= 1.0001)).all())
        True
    """
    return attention_features(compute_attention(bundle, frame), frame, method=method)


def attention_features(
    maps: AttentionMaps, frame: pd.DataFrame, *, method: str = "mean"
) -> pd.DataFrame:
    """:func:`attention_table` of attention already computed for ``frame``'s rows."""
    values = position_values(maps, AttentionView(method=method))
    return split_positions(values, maps.encoders, frame).features


def global_attention_summary(
    bundle: ModelBundle, frame: pd.DataFrame, *, min_count: int = 5, method: str = "mean"
) -> dict[str, list[dict[str, Any]]]:
    """The ``--global`` JSON of ``neuromkt explain --method attention``.

    Returns:
        ``{"features": [{"name", "importance"}…], "tokens": [{"column", "token",
        "importance", "count"}…]}``, each sorted by importance, largest first. A
        feature's importance is its mean [CLS] attention over the rows; a token's is
        its mean attention over the rows that contain it (at least ``min_count``).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(300)
        >>> summary = nm.global_attention_summary(bundle, rows)
        >>> sorted(summary), sorted(summary["tokens"][0])
        (['features', 'tokens'], ['column', 'count', 'importance', 'token'])
        >>> len(summary["features"])
        11
    """
    return attention_summary(compute_attention(bundle, frame), frame, min_count=min_count,
                             method=method)  # fmt: skip


def attention_summary(
    maps: AttentionMaps, frame: pd.DataFrame, *, min_count: int = 5, method: str = "mean"
) -> dict[str, list[dict[str, Any]]]:
    """:func:`global_attention_summary` of attention already computed for ``frame``."""
    view = AttentionView(method=method)
    features = global_features(maps, view)
    tokens = token_table(maps, frame, view, min_count=min_count)
    tokens = tokens.sort_values(["attention", "count"], ascending=False, kind="stable")
    return _ranking_json(features, tokens, "attention")


# ---------------------------------------------------------------- attributions


def attribution_table(
    bundle: ModelBundle, frame: pd.DataFrame, method: str, **opts: Any
) -> pd.DataFrame:
    """One row per input row, one column per input column: its attribution.

    This is what ``neuromkt explain MODEL DATA --method M --out FILE.csv`` writes. A
    text column's value is the sum over its tokens (ablation: the effect of emptying
    the column). ``opts`` are those of :func:`neuromkt.explain.attributions.attribute`.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(50)
        >>> table = nm.attribution_table(bundle, rows, "ig", steps=8)
        >>> table.shape, table.index.equals(rows.index)
        ((50, 11), True)
    """
    return attribute(bundle, frame, method, **opts).values.features


def global_attribution_summary(
    bundle: ModelBundle, frame: pd.DataFrame, method: str, *, min_count: int = 5, **opts: Any
) -> dict[str, list[dict[str, Any]]]:
    """The ``--global`` JSON of ``neuromkt explain``.

    Returns:
        ``{"features": [{"name", "importance"}…], "tokens": [{"column", "token",
        "importance", "count"}…]}``, largest importance first. A feature's importance
        is its mean |attribution| over the rows; a token's is the mean |attribution|
        (summed over repeats within a row) over the rows that contain it, for tokens
        in at least ``min_count`` rows. ``opts`` are those of
        :func:`neuromkt.explain.attributions.attribute`.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(200)
        >>> summary = nm.global_attribution_summary(bundle, rows, "ig", steps=8)
        >>> [f["importance"] for f in summary["features"]] == sorted(
        ...     (f["importance"] for f in summary["features"]), reverse=True)
        True
    """
    result = attribute(bundle, frame, method, **opts)
    return attribution_summary(result, min_count=min_count)


def attribution_summary(result: Attribution, *, min_count: int = 5) -> dict[str, list[dict]]:
    """:func:`global_attribution_summary` of attributions already computed."""
    features = feature_ranking(result)
    tokens = token_ranking(result, min_count=min_count)
    return _ranking_json(features, tokens, "importance")


def _ranking_json(
    features: pd.DataFrame, tokens: pd.DataFrame, value: str
) -> dict[str, list[dict[str, Any]]]:
    """The summary JSON of ranked ``features`` (``feature``) and ``tokens`` (``column``,
    ``token``, ``count``), their importance read from the column ``value``."""
    return {
        "features": [
            {"name": str(r.feature), "importance": float(getattr(r, value))}
            for r in features.itertuples()
        ],
        "tokens": [
            {
                "column": str(r.column),
                "token": str(r.token),
                "importance": float(getattr(r, value)),
                "count": int(r.count),
            }
            for r in tokens.itertuples()
        ],
    }
