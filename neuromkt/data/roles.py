"""The heuristics behind ``infer_schema`` and ``infer_task``.

A target's two classes are put in (negative, positive) order by the words they use.
Booleans are categorical and datetimes are dates; numbers are numeric unless they are a
running number or an identifier-like code; text is a date, a zip-code-like code, free
text, an event sequence, an id or categories. The string heuristics look at an evenly
spread sample of at most ``_SAMPLE_ROWS`` values, so inference stays fast on a million
rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SAMPLE_ROWS = 10_000  # values looked at by the string heuristics
_TOKEN_SAMPLE = 2_000  # values split into tokens by the text heuristics
_MAX_EVENT_VOCAB = 1_000  # most distinct events an event-sequence column has
_MIN_ROWS_FOR_CARDINALITY = 20  # below this, "mostly unique" says nothing
_ID_NAME = re.compile(r"(^|[_\s.\-])(id|uuid|guid)$|^(id|uuid|guid)[_\s]", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID)$")  # userId, customerID
_SEQ_SPLIT = r"[\s,>|]+"
_DATE_LIKE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
_LEADING_ZERO = re.compile(r"^0\d+$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TRUTHY = {"yes", "true", "1", "y", "t", "positive", "pos", "clicked", "converted", "purchased"}
_TRUTHY |= {"churned", "bought", "opened", "responded", "subscribed", "success", "won", "buy"}
_FALSY = {"no", "false", "0", "n", "f", "negative", "neg", "none", "-1"}


def is_number(series: pd.Series) -> bool:
    """Whether ``series`` holds numbers (booleans do not count)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def whole_numbers(series: pd.Series) -> bool:
    """Whether every non-missing value of a numeric ``series`` is a whole number."""
    if pd.api.types.is_integer_dtype(series):
        return True
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    return bool(np.all(np.floor(values) == values))


# ---------------------------------------------------------------- target classes


def binary_classes(counts: pd.Series) -> tuple[str, ...]:
    """``(negative, positive)`` from a binary target's label counts.

    The positive class is the one "truthy" label (yes, true, 1, clicked, …), else the
    one that is not "falsy", else the rarer one.
    """
    labels = sorted(counts.index, key=natural_key)
    if len(labels) < 2:
        return tuple(labels)
    a, b = labels
    truthy = [x for x in labels if x.lower() in _TRUTHY]
    falsy = [x for x in labels if x.lower() in _FALSY]
    if len(truthy) == 1:
        pos = truthy[0]
    elif len(falsy) == 1:
        pos = b if falsy[0] == a else a
    else:
        pos = a if counts[a] < counts[b] else b
    neg = b if pos == a else a
    return neg, pos


def natural_key(label: str) -> tuple[int, float, str]:
    """Sort key putting numeric labels first, in numeric order ("2" before "10")."""
    try:
        return 0, float(label), label
    except ValueError:
        return 1, 0.0, label


# ---------------------------------------------------------------- feature roles


def role_for(series: pd.Series, name: str, n_unique: int, n_present: int) -> tuple[str, str]:
    """``(role, reason)`` for a feature column with ``n_unique`` values in ``n_present`` rows."""
    if n_present == 0:
        return "ignore", "entirely empty"
    if n_unique == 1:
        value = f"{series.dropna().iloc[0]}"[:40]
        return "ignore", f"constant (every value is '{value}')"
    if pd.api.types.is_bool_dtype(series):
        return "categorical", "yes/no values → categorical"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", "dates and times"
    ratio = n_unique / n_present
    many = n_present >= _MIN_ROWS_FOR_CARDINALITY
    id_name = bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))
    if id_name and many and ratio > 0.5:
        return "id", f"named like an identifier, with {n_unique:,} different values → id"
    if is_number(series):
        return _numeric_role(series, n_unique, n_present, id_name)
    return _string_role(series, n_unique, n_present)


def _numeric_role(
    series: pd.Series, n_unique: int, n_present: int, id_name: bool
) -> tuple[str, str]:
    unique_rows = n_unique == n_present >= _MIN_ROWS_FOR_CARDINALITY
    if (unique_rows or id_name) and whole_numbers(series):
        if unique_rows and float(series.max()) - float(series.min()) + 1 == n_unique:
            return "id", "a running number, unique for every row → id"
        if id_name:
            return (
                "categorical",
                f"a code named like an identifier, {n_unique:,} values → categorical",
            )
    return "numeric", f"numbers ({n_unique:,} different values)"


def _sample(series: pd.Series) -> pd.Series:
    """At most ``_SAMPLE_ROWS`` non-missing values, evenly spread, as text."""
    if len(series) > _SAMPLE_ROWS:
        step = len(series) / _SAMPLE_ROWS
        picked = series.iloc[(np.arange(_SAMPLE_ROWS) * step).astype(np.int64)].dropna()
        if len(picked) >= _SAMPLE_ROWS // 10:
            return picked.astype("str")
        series = series.dropna()  # mostly missing: sample among the values present
        step = max(1.0, len(series) / _SAMPLE_ROWS)
        idx = np.unique((np.arange(min(_SAMPLE_ROWS, len(series))) * step).astype(np.int64))
        return series.iloc[idx].astype("str")
    return series.dropna().astype("str")


def _string_role(series: pd.Series, n_unique: int, n_present: int) -> tuple[str, str]:
    sample = _sample(series)
    stripped = sample.str.strip()
    ratio = n_unique / n_present
    many = n_present >= _MIN_ROWS_FOR_CARDINALITY
    if stripped.str.match(_DATE_LIKE).mean() >= 0.95 and _parses_as_dates(stripped):
        return "datetime", "dates and times"
    if stripped.str.fullmatch(r"\d+").all() and stripped.str.match(_LEADING_ZERO).any():
        if many and ratio == 1:
            return "id", "digit codes unique for every row → id"
        return "categorical", "numbers with leading zeros, like zip codes → categorical"
    if many and ratio > 0.05:
        text_role = _text_role(stripped)
        if text_role is not None:
            return text_role
    if many and ratio == 1:
        return "id", "unique for every row → id"
    if many and ratio > 0.5:
        return "id", f"{n_unique:,} different values in {n_present:,} rows, too many → id"
    return "categorical", f"categories ({n_unique:,} different values)"


def _text_role(values: pd.Series) -> tuple[str, str] | None:
    """'text' with a reason for CJK text, event sequences and free text; else None."""
    lengths = values.str.len()
    if _CJK.search("".join(values.iloc[:200])) and lengths.mean() >= 4:
        return "text", "text in Chinese, Japanese or Korean → text"
    tokens = values.iloc[:_TOKEN_SAMPLE].str.split(_SEQ_SPLIT, regex=True)
    if tokens.str.len().mean() >= 2 and _looks_like_events(values, tokens.explode()):
        vocab = tokens.explode().nunique()  # only for the message, on a sample
        return "text", f"a sequence of events from a small vocabulary ({vocab:,} events) → text"
    words = values.str.count(r"\s+") + 1
    if words.mean() >= 3 or lengths.mean() >= 40:
        return "text", f"free text, {words.mean():.0f} words on average → text"
    return None


def _looks_like_events(values: pd.Series, tokens: pd.Series) -> bool:
    """Event lists: '>', '|' or ',' between steps, or a small vocabulary of lower-case codes."""
    vocab = tokens.nunique()
    if vocab > _MAX_EVENT_VOCAB:
        return False
    if values.iloc[: len(tokens)].str.contains(r"\S\s*[>|,]\s*\S").mean() >= 0.5:
        return vocab <= max(50, 0.05 * len(tokens))
    codes = tokens.str.fullmatch(r"[a-z0-9_:/.\-]+").mean()
    return bool(codes >= 0.95 and vocab <= max(50, 0.01 * len(tokens)))


def _parses_as_dates(sample: pd.Series) -> bool:
    parsed = pd.to_datetime(sample.iloc[:1000], errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)
