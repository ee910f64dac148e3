"""Column profiles and outcome rates per category: the first look at a data set.

Pure pandas (no Streamlit, no plotting): the Data page, the report and a notebook
share these functions, and the figure functions in :mod:`neuromkt.figures.data`
only draw what they return. The rates and means per group behind
:func:`outcome_rates`, with their intervals, are in :mod:`neuromkt.data.rates`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from neuromkt.data.rates import mean_table, positive_hits, rate_table
from neuromkt.errors import DataError

if TYPE_CHECKING:
    from neuromkt.data.schema import Schema

__all__ = [
    "MISSING_LABEL",
    "OTHER_LABEL",
    "ColumnDistribution",
    "OutcomeRates",
    "column_distribution",
    "outcome_rates",
    "overview_table",
    "profile_columns",
]

MISSING_LABEL = "(missing)"
OTHER_LABEL = "(other)"
_TOP_VALUES = 3
_TOP_VALUE_CHARS = 28
_PROFILE_COLUMNS = [
    "column",
    "dtype",
    "role",
    "missing",
    "missing_pct",
    "unique",
    "unique_pct",
    "mean",
    "min",
    "max",
    "summary",
]


def profile_columns(frame: pd.DataFrame, schema: Schema | None = None) -> pd.DataFrame:
    """Profile every column of a frame: type, role, missing values, spread.

    Args:
        frame: The data set.
        schema: Its schema; when given, the ``role`` column holds each column's role,
            otherwise it is empty.

    Returns:
        One row per column, in the frame's order, with the columns ``column``,
        ``dtype``, ``role``, ``missing`` (count), ``missing_pct`` (0–100),
        ``unique`` (distinct non-missing values), ``unique_pct`` (distinct values as a
        percentage of non-missing rows), ``mean``, ``min``, ``max`` (numeric columns
        only, NaN otherwise) and ``summary``: one line of text, with mean and range
        for numeric columns, the date range for date columns and the most frequent
        values with their shares for the others.
    """
    n_rows = len(frame)
    rows = []
    for name in frame.columns:
        series = frame[name]
        n_missing = int(series.isna().sum())
        n_present = n_rows - n_missing
        n_unique = int(series.nunique(dropna=True))
        row = {
            "column": str(name),
            "dtype": str(series.dtype),
            "role": schema.role_of(str(name)) if schema is not None else "",
            "missing": n_missing,
            "missing_pct": 100.0 * n_missing / n_rows if n_rows else 0.0,
            "unique": n_unique,
            "unique_pct": 100.0 * n_unique / n_present if n_present else 0.0,
            "mean": math.nan,
            "min": math.nan,
            "max": math.nan,
            "summary": "",
        }
        if _is_plain_numeric(series):
            values = series.dropna().astype("float64")
            if len(values):
                lo, hi, mean = values.min(), values.max(), values.mean()
                row.update(mean=mean, min=lo, max=hi)
                row["summary"] = f"mean {mean:,.4g} · from {lo:,.4g} to {hi:,.4g}"
        elif pd.api.types.is_datetime64_any_dtype(series):
            present = series.dropna()
            if len(present):
                row["summary"] = f"from {present.min()} to {present.max()}"
        else:
            row["summary"] = _top_values_text(series, n_present)
        rows.append(row)
    return pd.DataFrame(rows, columns=_PROFILE_COLUMNS)


def overview_table(profile: pd.DataFrame, *, max_columns: int = 40) -> pd.DataFrame:
    """Choose the columns to show in the missing/unique overview chart.

    Args:
        profile: The output of :func:`profile_columns`.
        max_columns: The most columns to keep; when there are more, the columns with
            the most missing values (then the most distinct values) are kept.

    Returns:
        The chosen rows of ``profile``, in the data set's column order.
    """
    if len(profile) <= max_columns:
        return profile.reset_index(drop=True)
    ranked = profile.sort_values(["missing_pct", "unique_pct"], ascending=False, kind="stable")
    keep = ranked.index[:max_columns]
    return profile.loc[sorted(keep)].reset_index(drop=True)


@dataclass(frozen=True)
class ColumnDistribution:
    """The distribution of one column, shaped for a bar chart.

    Attributes:
        column: The column's name.
        kind: ``"numeric"`` (a histogram of values), ``"datetime"`` (a histogram of
            dates), ``"text"`` (a histogram of text lengths in characters),
            ``"categorical"`` (counts of the most frequent values) or ``"empty"``.
        table: For the histogram kinds the columns ``left``, ``right``, ``count``;
            for ``"categorical"`` the columns ``value``, ``count``, ``share`` (0–1),
            most frequent first.
        n_present: Number of non-missing values.
        n_missing: Number of missing values.
        n_other: Number of distinct values folded into :data:`OTHER_LABEL`.
    """

    column: str
    kind: Literal["numeric", "datetime", "text", "categorical", "empty"]
    table: pd.DataFrame
    n_present: int
    n_missing: int
    n_other: int = 0

    @property
    def value_label(self) -> str:
        """The axis label for the values."""
        if self.kind == "text":
            return f"length of '{self.column}' (characters)"
        return self.column


def column_distribution(
    frame: pd.DataFrame,
    column: str,
    *,
    role: str | None = None,
    bins: int = 30,
    max_categories: int = 20,
) -> ColumnDistribution:
    """Summarise one column's distribution as a histogram or as value counts.

    Args:
        frame: The data set.
        column: The column to describe.
        role: The column's role in the schema, if known; ``"text"`` gives a histogram
            of text lengths, ``"categorical"``/``"target"``/``"id"`` give value counts.
        bins: Number of histogram bins.
        max_categories: Most distinct values to count individually; the rest are
            counted together as :data:`OTHER_LABEL`.

    Returns:
        The column's distribution.

    Raises:
        DataError: If the column is not in the frame.
    """
    series = _column(frame, column)
    present = series.dropna()
    n_missing = len(series) - len(present)
    if present.empty:
        empty = pd.DataFrame({"value": [], "count": [], "share": []})
        return ColumnDistribution(column, "empty", empty, 0, n_missing)
    if role == "text":
        lengths = present.astype(str).str.len().astype("float64")
        return ColumnDistribution(
            column, "text", _histogram(lengths, bins), len(present), n_missing
        )
    if pd.api.types.is_datetime64_any_dtype(series):
        table = _histogram(present, bins)
        return ColumnDistribution(column, "datetime", table, len(present), n_missing)
    many_values = present.nunique() > max_categories
    if _is_plain_numeric(series) and role not in ("categorical", "id") and many_values:
        table = _histogram(present.astype("float64"), bins)
        return ColumnDistribution(column, "numeric", table, len(present), n_missing)
    counts = present.astype(str).value_counts()
    n_other = max(len(counts) - max_categories, 0)
    if n_other:
        other = pd.Series({OTHER_LABEL: counts.iloc[max_categories:].sum()})
        counts = pd.concat([counts.iloc[:max_categories], other])
    table = pd.DataFrame(
        {
            "value": counts.index.astype(str),
            "count": counts.to_numpy(dtype="int64"),
            "share": counts.to_numpy(dtype="float64") / len(present),
        }
    )
    return ColumnDistribution(column, "categorical", table, len(present), n_missing, n_other)


@dataclass(frozen=True)
class OutcomeRates:
    """The outcome rate (or mean outcome) per category of one column.

    Attributes:
        column: The column the rows are grouped by.
        target: The outcome column.
        measure: ``"rate"`` (share of rows whose outcome is ``positive``) or
            ``"mean"`` (mean of a numeric outcome).
        positive: The outcome label counted for ``"rate"``; None for ``"mean"``.
        table: One row per category with the columns ``category``, ``n`` (rows),
            ``n_positive`` (rows with the positive outcome; NaN for ``"mean"``),
            ``value`` (rate 0–1 or mean), ``lower`` and ``upper`` (the 95% interval).
            Categories are sorted by ``value``, highest first, unless ``binned``.
        overall: The rate (or mean) over all rows with a known outcome.
        n_rows: Rows with a known outcome.
        binned: True when a numeric column was cut into quantile bins; the table is
            then in bin order.
        n_other: Number of categories folded into :data:`OTHER_LABEL`.
    """

    column: str
    target: str
    measure: Literal["rate", "mean"]
    positive: str | None
    table: pd.DataFrame
    overall: float
    n_rows: int
    binned: bool = False
    n_other: int = 0


def outcome_rates(
    frame: pd.DataFrame,
    column: str,
    target: str,
    *,
    positive: str | None = None,
    max_categories: int = 15,
    n_bins: int = 5,
    z: float = 1.96,
) -> OutcomeRates:
    """Compute the outcome rate per category of a column, with 95% intervals.

    The rate is the share of rows whose outcome label equals ``positive`` (labels
    normalised with :func:`neuromkt.data.labels.target_labels`), with a Wilson score
    interval. Without ``positive`` the outcome must be numeric and the mean is
    reported with a normal-approximation interval. Rows without an outcome are
    dropped; a missing category is its own group, :data:`MISSING_LABEL`. A numeric
    column with more than ``max_categories`` distinct values is cut into
    ``n_bins`` quantile bins.

    Args:
        frame: The data set.
        column: The column to group by.
        target: The outcome column.
        positive: The outcome label to count (e.g. the positive class); None for the
            mean of a numeric outcome.
        max_categories: Most categories shown individually; the rest become
            :data:`OTHER_LABEL`.
        n_bins: Number of quantile bins for a many-valued numeric column.
        z: The normal quantile of the interval (1.96 for 95%).

    Returns:
        The rates per category.

    Raises:
        DataError: If a column is missing, the two columns are the same, no row has an
            outcome, ``positive`` is not one of the outcome's labels, or a mean is
            asked of a non-numeric outcome.
    """
    if column == target:
        raise DataError(f"Pick a column other than the outcome '{target}' to group by.")
    groups = _column(frame, column)
    outcome = _column(frame, target)
    known = outcome.notna()
    groups, outcome = groups[known], outcome[known]
    if outcome.empty:
        raise DataError(f"The outcome column '{target}' has no values; pick another outcome.")
    keys, binned, n_other = _category_keys(groups, max_categories, n_bins)
    table, overall, measure = _measured(keys, outcome, target, positive, z)
    if binned:
        table = table.sort_values("category", kind="stable")
        table["category"] = table["category"].astype(str)
    else:
        table = table.sort_values(["value", "n"], ascending=False, kind="stable")
    return OutcomeRates(
        column=column,
        target=target,
        measure=measure,
        positive=positive,
        table=table.reset_index(drop=True),
        overall=overall,
        n_rows=len(outcome),
        binned=binned,
        n_other=n_other,
    )


def _measured(
    keys: pd.Series, outcome: pd.Series, target: str, positive: str | None, z: float
) -> tuple[pd.DataFrame, float, Literal["rate", "mean"]]:
    """The table per group, the overall value and the measure: the rate of ``positive``,
    or the mean of a numeric outcome when ``positive`` is None."""
    if positive is None:
        if not _is_plain_numeric(outcome):
            raise DataError(
                f"The outcome '{target}' is not numeric, so pick which of its values to count."
            )
        y = outcome.astype("float64")
        return mean_table(keys, y, z), float(y.mean()), "mean"
    hits = positive_hits(outcome, positive, target)
    return rate_table(keys, hits, z), float(hits.mean()), "rate"


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise DataError(f"There is no column '{column}' in the data set.")
    return frame[column]


def _is_plain_numeric(series: pd.Series) -> bool:
    """Numbers that are not booleans (booleans read better as categories)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _top_values_text(series: pd.Series, n_present: int) -> str:
    if not n_present:
        return ""
    counts = series.dropna().astype(str).value_counts().head(_TOP_VALUES)
    parts = []
    for value, count in counts.items():
        text = value if len(value) <= _TOP_VALUE_CHARS else value[: _TOP_VALUE_CHARS - 1] + "…"
        parts.append(f"{text} ({100.0 * count / n_present:.0f}%)")
    return " · ".join(parts)


def _histogram(values: pd.Series, bins: int) -> pd.DataFrame:
    """Equal-width histogram of finite values; dates are binned on their timestamps."""
    is_dates = pd.api.types.is_datetime64_any_dtype(values)
    if is_dates:
        numbers = values.astype("datetime64[ns]").astype("int64").to_numpy(dtype="float64")
    else:
        numbers = values.to_numpy(dtype="float64")
        numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return pd.DataFrame({"left": [], "right": [], "count": []})
    counts, edges = np.histogram(numbers, bins=max(1, min(bins, np.unique(numbers).size)))
    left, right = edges[:-1], edges[1:]
    if is_dates:
        left = pd.to_datetime(left.astype("int64"))
        right = pd.to_datetime(right.astype("int64"))
    return pd.DataFrame({"left": left, "right": right, "count": counts.astype("int64")})


def _category_keys(
    groups: pd.Series, max_categories: int, n_bins: int
) -> tuple[pd.Series, bool, int]:
    """Turn a column into group keys: quantile bins, or top values plus "(other)"."""
    if _is_plain_numeric(groups) and groups.nunique() > max_categories:
        bins, edges = pd.qcut(groups.astype("float64"), q=n_bins, duplicates="drop", retbins=True)
        labels = [f"{lo:.4g} – {hi:.4g}" for lo, hi in itertools.pairwise(edges)]
        if len(set(labels)) == len(labels):
            bins = bins.cat.rename_categories(labels)
        keys = bins.cat.add_categories([MISSING_LABEL]).fillna(MISSING_LABEL)
        return keys, True, 0
    keys = groups.astype(str).where(groups.notna(), MISSING_LABEL)
    counts = keys.value_counts()
    n_other = max(len(counts) - max_categories, 0)
    if n_other:
        keep = set(counts.index[:max_categories])
        keys = keys.where(keys.isin(keep), OTHER_LABEL)
    return keys, False, n_other
