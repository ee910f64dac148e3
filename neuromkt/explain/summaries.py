"""Tidy tables of attributions, ready to draw: rankings, strips, segments, waterfalls.

Pure pandas over an :class:`neuromkt.explain.attributions.Attribution` and its rows; no model
calls. Every function shapes one view and checks its inputs, so the figure
functions in :mod:`neuromkt.figures.explain` only draw.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from neuromkt.explain.attributions import Attribution

__all__ = [
    "attribution_strip",
    "feature_ranking",
    "row_tokens",
    "segment_attribution",
    "token_ranking",
    "waterfall_steps",
]


# ---------------------------------------------------------------- global


def feature_ranking(result: Attribution) -> pd.DataFrame:
    """Input columns by mean |attribution|, largest first.

    Returns:
        Columns ``feature``, ``importance`` (mean |attribution|), ``signed_mean``
        (mean attribution: > 0 means it mostly raises the score), ``share``
        (importance / the total) and ``rank`` (1 = most important).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> result = nm.attribute(bundle, nm.load_sample("ecommerce").head(100), "ig", steps=8)
        >>> ranking = nm.feature_ranking(result)
        >>> list(ranking.columns), ranking["feature"].iloc[0]
        (['feature', 'importance', 'signed_mean', 'share', 'rank'], 'events')
    """
    values = result.values.features
    importance = values.abs().mean()
    total = float(importance.sum())
    table = pd.DataFrame(
        {
            "feature": values.columns,
            "importance": importance.to_numpy(dtype="float64"),
            "signed_mean": values.mean().to_numpy(dtype="float64"),
            "share": (importance / total).to_numpy(dtype="float64") if total > 0 else 0.0,
        }
    )
    table = table.sort_values("importance", ascending=False, kind="stable", ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def token_ranking(result: Attribution, *, min_count: int = 5) -> pd.DataFrame:
    """Tokens by mean |attribution| over the rows that contain them, largest first.

    A token's value in a row is summed over its repeats in that row.

    Returns:
        Columns ``column``, ``token``, ``importance`` (mean |value|), ``signed_mean``
        and ``count`` (rows containing it, at least ``min_count``).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> result = nm.attribute(bundle, nm.load_sample("ecommerce").head(100), "ig", steps=8)
        >>> tokens = nm.token_ranking(result, min_count=10)
        >>> list(tokens.columns), tokens["column"].unique().tolist()
        (['column', 'token', 'importance', 'signed_mean', 'count'], ['events'])
    """
    tokens = result.values.tokens
    if tokens.empty:
        return pd.DataFrame(columns=["column", "token", "importance", "signed_mean", "count"])
    per_row = tokens.groupby(["column", "token", "row"], sort=False)["value"].sum()
    per_row = per_row.reset_index()
    per_row["magnitude"] = per_row["value"].abs()
    table = (
        per_row.groupby(["column", "token"], sort=False)
        .agg(
            importance=("magnitude", "mean"),
            signed_mean=("value", "mean"),
            count=("row", "size"),
        )
        .reset_index()
    )
    table = table[table["count"] >= min_count]
    return table.sort_values(
        ["importance", "count"], ascending=False, kind="stable", ignore_index=True
    )


def attribution_strip(
    result: Attribution, frame: pd.DataFrame, *, max_features: int = 10, max_points: int = 3000
) -> pd.DataFrame:
    """Per row and feature: the attribution and the feature's value (a beeswarm's data).

    Args:
        result: attributions of ``frame``'s rows.
        frame: the rows (for the feature values).
        max_features: the most important features kept.
        max_points: rows kept (a seeded sample) so the chart stays light.

    Returns:
        Columns ``feature`` (most important first), ``attribution``, ``value`` (the
        cell as text), ``level`` (the value's percentile among the rows, 0–1, for
        numbers and for a text's token count; NaN for categories and missing values)
        and ``row`` (the row label).
    """
    _check_rows(result, frame)
    features = list(feature_ranking(result)["feature"][:max_features])
    values = result.values.features
    if len(values) > max_points:
        values = values.sample(max_points, random_state=0)
    parts = []
    text_columns = set(result.values.tokens["column"]) if len(result.values.tokens) else set()
    for name in features:
        cells = frame.loc[values.index, name]
        parts.append(
            pd.DataFrame(
                {
                    "feature": name,
                    "attribution": values[name].to_numpy(dtype="float64"),
                    "value": [_cell(v) for v in cells],
                    "level": _levels(cells, is_text=name in text_columns),
                    "row": values.index,
                }
            )
        )
    columns = ["feature", "attribution", "value", "level", "row"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _levels(cells: pd.Series, *, is_text: bool) -> np.ndarray:
    if is_text:
        numbers = cells.fillna("").astype(str).str.split().str.len().astype("float64")
    elif pd.api.types.is_numeric_dtype(cells):
        numbers = pd.to_numeric(cells, errors="coerce").astype("float64")
    else:
        return np.full(len(cells), np.nan)
    return numbers.rank(pct=True).to_numpy(dtype="float64")


def _cell(value: object, limit: int = 40) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(missing)"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_rows(result: Attribution, frame: pd.DataFrame) -> None:
    if len(frame) != len(result.index) or not frame.index.equals(result.index):
        raise ValueError(
            f"the attribution describes {len(result.index)} rows, but the data has "
            f"{len(frame)} (or other row labels); pass the rows it was computed on"
        )


def segment_attribution(result: Attribution, labels: pd.Series) -> pd.DataFrame:
    """Mean |attribution| and mean attribution per segment and feature.

    Args:
        result: attributions of N rows.
        labels: a segment label per row (e.g. from
            ``neuromkt.explain.segments.segment_labels``), same order.

    Returns:
        Columns ``segment``, ``feature``, ``importance``, ``signed_mean`` and
        ``rows``; segments in the labels' order, features by overall importance.
    """
    if len(labels) != len(result.index):
        raise ValueError(f"{len(labels)} segment labels for {len(result.index)} rows")
    values = result.values.features
    segments = pd.Series(np.asarray(labels, dtype=object), index=values.index, name="segment")
    importance = values.abs().groupby(segments, sort=False).mean()
    signed = values.groupby(segments, sort=False).mean()
    counts = segments.value_counts(sort=False)
    order = list(labels.cat.categories) if hasattr(labels, "cat") else list(importance.index)
    order = [s for s in order if s in importance.index]
    features = list(feature_ranking(result)["feature"])
    table = pd.DataFrame(
        [
            {
                "segment": seg,
                "feature": feat,
                "importance": float(importance.at[seg, feat]),
                "signed_mean": float(signed.at[seg, feat]),
                "rows": int(counts[seg]),
            }
            for seg in order
            for feat in features
        ]
    )
    return table


# ---------------------------------------------------------------- one row


def waterfall_steps(
    result: Attribution, frame: pd.DataFrame, row: int, *, max_features: int = 8
) -> pd.DataFrame:
    """From the baseline's score to the row's score, one step per feature.

    Args:
        result: attributions of ``frame``'s rows.
        frame: the rows (for the values shown next to each feature).
        row: 0-based position of the row.
        max_features: features shown on their own; the rest are summed.

    Returns:
        Columns ``label``, ``value`` (the cell as text), ``kind`` ("baseline",
        "feature", "rest", "unexplained" or "total") and ``amount`` (the baseline and
        total: scores; the others: contributions). ``attrs`` hold ``output`` (what
        the scores are) and, for binary log-odds, ``probabilities`` (baseline, row).
    """
    _check_rows(result, frame)
    if not 0 <= row < len(frame):
        raise ValueError(f"row {row} is outside the {len(frame)} rows explained")
    contributions = result.values.features.iloc[row]
    order = contributions.abs().sort_values(ascending=False, kind="stable").index
    shown, rest = list(order[:max_features]), list(order[max_features:])
    start, end = float(result.baseline_score[row]), float(result.score[row])
    lines = [("baseline row", "", "baseline", start)]
    lines += [(c, _cell(frame.iloc[row][c]), "feature", float(contributions[c])) for c in shown]
    if rest:
        lines.append((f"{len(rest)} other features", "", "rest", float(contributions[rest].sum())))
    unexplained = end - start - float(contributions.sum())
    if abs(unexplained) > max(1e-3, 0.01 * abs(end - start)):
        lines.append(("not attributed", "", "unexplained", unexplained))
    lines.append(("this row", "", "total", end))
    steps = pd.DataFrame(lines, columns=["label", "value", "kind", "amount"])
    steps.attrs["output"] = result.output.label
    if result.output.task == "binary" and result.output.kind == "logit":
        steps.attrs["probabilities"] = (_sigmoid(start), _sigmoid(end))
    return steps


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0


def row_tokens(result: Attribution, frame: pd.DataFrame, row: int) -> pd.DataFrame:
    """One row's token attributions with their place in the original text.

    Returns:
        Columns ``column``, ``slot``, ``token``, ``value``, ``start`` and ``end``
        (character span in the cell; -1 when it cannot be recovered), in reading
        order per text column.
    """
    from neuromkt.explain.tokens import token_spans

    _check_rows(result, frame)
    label = result.index[row]
    tokens = result.values.tokens
    mine = tokens[tokens["row"] == label].sort_values(["column", "slot"], kind="stable")
    parts = []
    for column, group in mine.groupby("column", sort=False):
        spans = token_spans(frame.iloc[row][column], list(group["token"]))
        group = group.assign(start=[s for s, _ in spans], end=[e for _, e in spans])
        parts.append(group)
    columns = ["column", "slot", "token", "value", "start", "end"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
