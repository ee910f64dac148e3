"""What-if: edit one row's features or tokens, rescore it and compare with the original.

Pure functions (no Streamlit): the Predict page builds its form from
:func:`controls`, starts from a real row or :func:`typical_row`, applies the form's
values with :func:`edit_row`, :func:`add_tokens` and :func:`remove_tokens`, and draws
what :func:`compare_rows` returns: both scores, and per feature the attention and
the attribution of the original and the edited row, changed features marked.

Example:
    >>> start = typical_row(bundle.encoders, frame)
    >>> edited = edit_row(start, {"returning_visitor": "yes"})
    >>> edited = add_tokens(edited, "events", ["cart"])
    >>> result = compare_rows(bundle, start, edited)
    >>> result.delta  # how much the score moved
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neuromkt.act.drivers import driver_table, driver_texts, row_attributions
from neuromkt.errors import DataError
from neuromkt.explain.attention import cell_text, compute_attention, feature_kinds, feature_values
from neuromkt.explain.methods import explained_output
from neuromkt.explain.positions import split_positions
from neuromkt.explain.tokens import row_token_weights
from neuromkt.model.encoders import Encoders, tokenize
from neuromkt.model.inference import predict

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "Control",
    "WhatIf",
    "add_tokens",
    "changed_columns",
    "compare_rows",
    "controls",
    "edit_row",
    "remove_tokens",
    "set_tokens",
    "typical_row",
]

_MAX_VOCAB_SHOWN = 80  # vocabulary tokens offered for quick adding, most frequent first


# ---------------------------------------------------------------- the form


@dataclass(frozen=True)
class Control:
    """What the what-if form offers for one input column.

    Attributes:
        column: The column name.
        kind: "numeric", "categorical" or "text".
        minimum: Numeric: the smallest value in the data.
        maximum: Numeric: the largest value in the data.
        step: Numeric: the slider step (1 for whole numbers).
        whole: Numeric: the column holds whole numbers only.
        options: Categorical: the values the model knows, most frequent first.
        vocabulary: Text: the tokens the model knows, most frequent first.
    """

    column: str
    kind: str
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 1.0
    whole: bool = False
    options: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()


def _nice_step(span: float) -> float:
    """A round slider step giving about 1,000 steps over ``span``."""
    if not span > 0:
        return 1.0
    raw = span / 1000
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _number(series: pd.Series) -> float:
    """The first value of ``series`` as a float (NaN when missing or not a number)."""
    value = pd.to_numeric(series.iloc[:1], errors="coerce").astype("float64").iloc[0]
    return float(value) if np.isfinite(value) else float("nan")


def _numbers(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def _numeric_control(name: str, series: pd.Series) -> Control:
    values = _numbers(series)
    if not len(values):
        return Control(name, "numeric", 0.0, 1.0, 0.01)
    lo, hi = float(values.min()), float(values.max())
    whole = bool(np.all(values == np.round(values)))
    step = 1.0 if whole else _nice_step(hi - lo)
    if hi <= lo:
        hi = lo + step
    return Control(name, "numeric", lo, hi, step, whole)


def controls(encoders: Encoders, frame: pd.DataFrame) -> list[Control]:
    """One control per input column, in model order, ranges taken from ``frame``.

    Raises:
        ModelError: ``frame`` lacks a column the model reads.
    """
    encoders.check_columns(frame)
    out = [_numeric_control(e.name, frame[e.name]) for e in encoders.numeric]
    out += [
        Control(e.name, "categorical", options=tuple(e.levels[e.FIRST_LEVEL_ID :]))
        for e in encoders.categorical
    ]
    out += [
        Control(e.name, "text", vocabulary=tuple(e.vocab[e.FIRST_WORD_ID :][:_MAX_VOCAB_SHOWN]))
        for e in encoders.text
    ]
    return out


def typical_row(encoders: Encoders, frame: pd.DataFrame) -> pd.DataFrame:
    """A made-up "typical" row: the median of every numeric column, the most common
    value of every other column the model reads (for text: the most common whole text);
    columns the model does not read (ids, the outcome) are left missing.

    Returns:
        One row with ``frame``'s columns and dtypes where they allow it, index ``[-1]``
        (not a row of the data).

    Raises:
        DataError: ``frame`` has no rows.
    """
    if not len(frame):
        raise DataError("The data has no rows, so there is no typical row to start from.")
    numeric = {e.name for e in encoders.numeric}
    reads = set(encoders.input_columns)
    values: dict[str, Any] = {}
    for column in frame.columns:
        series = frame[column]
        if column not in reads:  # ids, the outcome, ignored columns: not made up
            values[column] = None
        elif column in numeric:
            present = _numbers(series)
            median = float(np.median(present)) if len(present) else np.nan
            whole = pd.api.types.is_integer_dtype(series)
            values[column] = round(median) if whole and not np.isnan(median) else median
        else:
            modes = series.dropna().mode()
            values[column] = modes.iloc[0] if len(modes) else None
    row = pd.DataFrame([values], index=pd.Index([-1]))
    for column in frame.columns:
        row[column] = _restore_dtype(row[column], frame[column].dtype)
    return row


# ---------------------------------------------------------------- edits


def edit_row(row: pd.DataFrame, changes: Mapping[str, Any]) -> pd.DataFrame:
    """A copy of the one-row frame ``row`` with ``changes`` (column -> new value) applied.

    Raises:
        ValueError: ``row`` is not exactly one row.
        DataError: A change names a column ``row`` lacks.
    """
    if len(row) != 1:
        raise ValueError(f"edit_row needs exactly one row, got {len(row)}")
    unknown = [c for c in changes if c not in row.columns]
    if unknown:
        raise DataError(f"The row has no column {', '.join(repr(c) for c in unknown)} to edit.")
    edited = row.copy()
    for column, value in changes.items():
        series = edited[column].astype(object)
        series.iloc[0] = value
        edited[column] = _restore_dtype(series, row[column].dtype)
    return edited


def _restore_dtype(series: pd.Series, dtype: Any) -> pd.Series:
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series.astype("float64") if pd.api.types.is_numeric_dtype(dtype) else series


def set_tokens(row: pd.DataFrame, column: str, tokens: Iterable[str]) -> pd.DataFrame:
    """Replace the text of ``column`` by ``tokens`` joined with spaces (the model reads
    the same tokens back)."""
    return edit_row(row, {column: " ".join(str(t) for t in tokens)})


def add_tokens(row: pd.DataFrame, column: str, tokens: Iterable[str]) -> pd.DataFrame:
    """Append ``tokens`` to the end of the text of ``column``."""
    current = tokenize(row[column].iloc[0])
    return set_tokens(row, column, [*current, *tokenize(" ".join(map(str, tokens)))])


def remove_tokens(row: pd.DataFrame, column: str, tokens: Iterable[str]) -> pd.DataFrame:
    """Remove every occurrence of ``tokens`` from the text of ``column``."""
    drop = set(tokenize(" ".join(map(str, tokens))))
    return set_tokens(row, column, [t for t in tokenize(row[column].iloc[0]) if t not in drop])


def changed_columns(encoders: Encoders, original: pd.DataFrame, edited: pd.DataFrame) -> list[str]:
    """Input columns whose value differs between two one-row frames, as the model
    reads them (numbers compared as numbers, text as its tokens)."""
    changed = []
    for e in encoders.numeric:
        a, b = _number(original[e.name]), _number(edited[e.name])
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            changed.append(e.name)
    for e in encoders.categorical:
        if cell_text(original[e.name].iloc[0]) != cell_text(edited[e.name].iloc[0]):
            changed.append(e.name)
    for e in encoders.text:
        if tokenize(original[e.name].iloc[0]) != tokenize(edited[e.name].iloc[0]):
            changed.append(e.name)
    return changed


# ---------------------------------------------------------------- compare


@dataclass(frozen=True)
class WhatIf:
    """An original row and its edited copy, scored and explained side by side.

    Attributes:
        score_before: The original row's score (probability, or value for regression).
        score_after: The edited row's score.
        score_label: What the score is, e.g. "P(purchased = 1)".
        changed: Input columns whose value the edit changed.
        features: One row per input column: ``feature``, ``kind``, ``value_before``,
            ``value_after`` (cells as text), ``changed``, ``attribution_before``,
            ``attribution_after``, ``attention_before``, ``attention_after``.
        tokens: One row per token of each text column of both rows: ``version``
            ("before"/"after"), ``column``, ``slot``, ``token``, ``start``, ``end``,
            ``attention``, ``attribution``, ``seen``, ``in_vocab``.
        drivers_before: The original row's top drivers in words.
        drivers_after: The edited row's top drivers in words.
        unit: What attributions are measured in, e.g. "log-odds of purchased = 1".
    """

    score_before: float
    score_after: float
    score_label: str
    changed: tuple[str, ...]
    features: pd.DataFrame
    tokens: pd.DataFrame
    drivers_before: str
    drivers_after: str
    unit: str

    @property
    def delta(self) -> float:
        """Edited score minus original score."""
        return self.score_after - self.score_before

    def token_values(self, column: str, version: str) -> pd.DataFrame:
        """One text column's tokens of the original ("before") or edited ("after") row,
        with ``value`` = attribution (what ``token_attribution_html`` draws)."""
        mine = self.tokens[(self.tokens["column"] == column) & (self.tokens["version"] == version)]
        return mine.rename(columns={"attribution": "value"}).reset_index(drop=True)

    def bars(self, measure: str = "attribution") -> pd.DataFrame:
        """The table :func:`neuromkt.figures.predict.comparison_bars` draws for
        ``measure`` ("attribution" or "attention"): ``before``/``after`` columns."""
        if measure not in ("attribution", "attention"):
            raise ValueError(f"{measure=} must be 'attribution' or 'attention'")
        table = self.features.rename(
            columns={f"{measure}_before": "before", f"{measure}_after": "after"}
        )
        return table[["feature", "kind", "value_before", "value_after", "changed", "before",
                      "after"]]  # fmt: skip


def _scores(bundle: ModelBundle, both: pd.DataFrame, class_index: int | None) -> tuple:
    pred = predict(bundle, both)
    target, classes = bundle.target, bundle.encoders.classes
    if bundle.task == "regression":
        return pred, f"predicted {target}", None
    if bundle.task == "binary":
        return pred, f"P({target} = {classes[1]})", None
    k = int(pred[0].argmax()) if class_index is None else class_index
    return pred[:, k], f"P({target} = {classes[k]})", k


def _token_frame(bundle: ModelBundle, both: pd.DataFrame, raw: np.ndarray) -> pd.DataFrame:
    maps = compute_attention(bundle, both)
    attributions = split_positions(raw, bundle.encoders, both).tokens
    parts = []
    for row, version in ((0, "before"), (1, "after")):
        tokens = row_token_weights(maps, both, row).assign(version=version)
        mine = attributions[attributions["row"] == row]
        value = dict(zip(zip(mine["column"], mine["slot"], strict=True), mine["value"],
                         strict=True))  # fmt: skip
        tokens["attribution"] = [
            value.get((c, s), np.nan) for c, s in zip(tokens["column"], tokens["slot"],
                                                      strict=True)
        ]  # fmt: skip
        parts.append(tokens)
    columns = ["version", "column", "slot", "token", "start", "end", "attention", "attribution",
               "seen", "in_vocab"]  # fmt: skip
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def compare_rows(
    bundle: ModelBundle,
    original: pd.DataFrame,
    edited: pd.DataFrame,
    *,
    method: str = "ig",
    class_index: int | None = None,
) -> WhatIf:
    """Score and explain an original row and its edited copy.

    Args:
        bundle: A trained model.
        original: One row with the model's columns.
        edited: The same row after edits (:func:`edit_row` and friends).
        method: Attribution method (a key of ``neuromkt.explain.attributions.METHODS``).
        class_index: Multiclass only: the class whose probability is compared (the
            original row's predicted class when None).

    Raises:
        ModelError: A row lacks a column the model reads.
    """
    both = pd.concat([original, edited[original.columns]], ignore_index=True)
    scores, label, k = _scores(bundle, both, class_index)
    classes = None if k is None else np.array([k, k])
    raw = row_attributions(bundle, both, method=method, classes=classes)
    encoders = bundle.encoders
    attribution = split_positions(raw, encoders, both).features
    attention = feature_values(compute_attention(bundle, both))
    columns = encoders.input_columns
    changed = changed_columns(encoders, original, edited)
    kinds = feature_kinds(encoders)
    features = pd.DataFrame({
        "feature": columns,
        "kind": [kinds[c] for c in columns],
        "value_before": [cell_text(both[c].iat[0]) for c in columns],
        "value_after": [cell_text(both[c].iat[1]) for c in columns],
        "changed": [c in changed for c in columns],
        "attribution_before": attribution[columns].to_numpy()[0],
        "attribution_after": attribution[columns].to_numpy()[1],
        "attention_before": attention[columns].to_numpy()[0],
        "attention_after": attention[columns].to_numpy()[1],
    })  # fmt: skip
    drivers = driver_texts(driver_table(raw, encoders, both), 2)
    unit = explained_output(encoders, target=None if k is None else encoders.classes[k]).label
    return WhatIf(
        float(scores[0]), float(scores[1]), label, tuple(changed), features,
        _token_frame(bundle, both, raw), drivers[0], drivers[1], unit,
    )  # fmt: skip
