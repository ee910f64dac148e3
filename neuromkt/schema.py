"""Column roles, task detection and the checks a table must pass before training.

``infer_schema`` gives every column a role (target, numeric, categorical, text, id,
datetime, ignore) with a plain-language reason; ``Schema.with_role`` lets the user
change one. Inference is vectorised and looks at a sample of at most
``_SAMPLE_ROWS`` values for its string heuristics, so it stays fast on a million rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from neuromkt.errors import DataError

__all__ = [
    "MAX_CLASSES",
    "MIN_LABELLED_ROWS",
    "ROLES",
    "TASKS",
    "ColumnSpec",
    "Schema",
    "infer_schema",
    "infer_task",
    "target_labels",
    "validate_for_training",
]

ROLES = ("target", "numeric", "categorical", "text", "id", "datetime", "ignore")
TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 30  # most classes a multiclass target may have
MIN_LABELLED_ROWS = 20  # fewest rows with a target value that training accepts
_MAX_INT_CLASSES = 10  # an integer target with 3..this many values is multiclass
_SAMPLE_ROWS = 10_000  # values looked at by the string heuristics
_TOKEN_SAMPLE = 2_000  # values split into tokens by the text heuristics
_MAX_EVENT_VOCAB = 1_000  # most distinct events an event-sequence column has
_MIN_ROWS_FOR_CARDINALITY = 20  # below this, "mostly unique" says nothing
_SMALL_CLASS = 5  # classes with fewer rows get a warning

_KNOWN_BOOL = {"yes", "no", "true", "false", "y", "n"}
_TRUTHY = {"yes", "true", "1", "y", "t", "positive", "pos", "clicked", "converted", "purchased"}
_TRUTHY |= {"churned", "bought", "opened", "responded", "subscribed", "success", "won", "buy"}
_FALSY = {"no", "false", "0", "n", "f", "negative", "neg", "none", "-1"}
_ID_NAME = re.compile(r"(^|[_\s.\-])(id|uuid|guid)$|^(id|uuid|guid)[_\s]", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID)$")  # userId, customerID
_SEQ_SPLIT = r"[\s,>|]+"
_DATE_LIKE = re.compile(
    r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
_LEADING_ZERO = re.compile(r"^0\d+$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table and the role it plays.

    Attributes:
        name: Column name as in the table.
        role: One of ``ROLES``.
        reason: Why the role was chosen, in plain language ("unique for every row → id").
        dtype: The pandas dtype of the column, as text.
        n_missing: Number of missing values.
        n_unique: Number of distinct non-missing values.
    """

    name: str
    role: str
    reason: str
    dtype: str
    n_missing: int
    n_unique: int


@dataclass(frozen=True)
class Schema:
    """Roles of all columns of a table, plus the prediction task for the target.

    Attributes:
        columns: One ``ColumnSpec`` per column, in table order.
        task: One of ``TASKS``; None when there is no target.
        classes: Class labels as strings (see ``target_labels``). Binary targets list
            ``(negative, positive)``; regression targets have none.
    """

    columns: tuple[ColumnSpec, ...]
    task: str | None = None
    classes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for col in self.columns:
            if col.name in seen:
                raise DataError(
                    f"Column '{col.name}' appears twice in the schema; names must be unique."
                )
            seen.add(col.name)
        for col in self.columns:
            if col.role not in ROLES:
                raise DataError(_bad_role_message(col.role))
        targets = [c.name for c in self.columns if c.role == "target"]
        if len(targets) > 1:
            raise DataError(f"Only one target is allowed, but {targets} are all marked target.")
        if self.task is not None and self.task not in TASKS:
            raise DataError(f"'{self.task}' is not a task; use one of {', '.join(TASKS)}.")
        if self.task is not None and not targets:
            raise DataError(f"The schema has task '{self.task}' but no target column.")

    @property
    def target(self) -> str | None:
        """Name of the target column, or None."""
        return next((c.name for c in self.columns if c.role == "target"), None)

    @property
    def numeric(self) -> list[str]:
        """Numeric feature columns, in column order."""
        return self._with("numeric")

    @property
    def categorical(self) -> list[str]:
        """Categorical feature columns, in column order."""
        return self._with("categorical")

    @property
    def text(self) -> list[str]:
        """Text and event-sequence columns, in column order."""
        return self._with("text")

    @property
    def features(self) -> list[str]:
        """Numeric, categorical and text columns, in column order."""
        return self._with("numeric", "categorical", "text")

    def _with(self, *roles: str) -> list[str]:
        return [c.name for c in self.columns if c.role in roles]

    def role_of(self, name: str) -> str:
        """Return the role of column ``name``; DataError if there is no such column."""
        return self._spec(name).role

    def _spec(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        known = ", ".join(repr(c.name) for c in self.columns[:10])
        more = " …" if len(self.columns) > 10 else ""
        raise DataError(f"There is no column '{name}'; the columns are {known}{more}.")

    def with_role(self, name: str, role: str, frame: pd.DataFrame) -> Schema:
        """Return a copy in which column ``name`` has ``role``.

        Making a column the target demotes the previous target to the role it would
        have been given as a feature and re-infers task and classes from ``frame``.
        Moving the current target to another role leaves the schema without a task.

        Raises:
            DataError: unknown column or role, or "numeric" on a column of text.
        """
        spec = self._spec(name)
        if role not in ROLES:
            raise DataError(_bad_role_message(role))
        if name not in frame.columns:
            raise DataError(f"Column '{name}' is not in the data.")
        series = frame[name]
        if role == "numeric" and not _is_number(series):
            example = series.dropna().iloc[0] if series.notna().any() else ""
            raise DataError(
                f"Column '{name}' holds text (for example '{example}'), so it cannot be "
                "numeric; choose categorical or text instead."
            )
        new_spec = replace(spec, role=role, reason="set by you")
        columns = []
        for col in self.columns:
            if col.name == name:
                columns.append(new_spec)
            elif role == "target" and col.role == "target":
                if col.name in frame.columns:
                    columns.append(_infer_column(frame[col.name], col.name))
                else:
                    columns.append(replace(col, role="ignore", reason="not in the data"))
            else:
                columns.append(col)
        if role == "target":
            task, classes = infer_task(series)
            return Schema(tuple(columns), task=task, classes=classes)
        if spec.role == "target":
            return Schema(tuple(columns))
        return Schema(tuple(columns), task=self.task, classes=self.classes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary; ``Schema.from_dict`` reads it back."""
        return {
            "columns": [
                {
                    "name": c.name,
                    "role": c.role,
                    "reason": c.reason,
                    "dtype": c.dtype,
                    "n_missing": c.n_missing,
                    "n_unique": c.n_unique,
                }
                for c in self.columns
            ],
            "task": self.task,
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Schema:
        """Build a schema from ``to_dict`` output, refusing anything malformed.

        Raises:
            DataError: the dictionary is not a valid schema.
        """
        bad = "The saved schema is damaged ({}); infer the schema again from the data."
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list):
            raise DataError(bad.format("no list of columns"))
        columns = []
        for item in d["columns"]:
            if not isinstance(item, dict):
                raise DataError(bad.format("a column entry is not an object"))
            try:
                spec = ColumnSpec(
                    name=_typed(item["name"], str),
                    role=_typed(item["role"], str),
                    reason=_typed(item.get("reason", ""), str),
                    dtype=_typed(item.get("dtype", ""), str),
                    n_missing=_typed(item.get("n_missing", 0), int),
                    n_unique=_typed(item.get("n_unique", 0), int),
                )
            except (KeyError, TypeError) as exc:
                raise DataError(bad.format(f"column entry {item!r:.80} is incomplete")) from exc
            columns.append(spec)
        task = d.get("task")
        classes = d.get("classes", [])
        if task is not None and not isinstance(task, str):
            raise DataError(bad.format("the task is not text"))
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise DataError(bad.format("the classes are not a list of text"))
        return cls(tuple(columns), task=task, classes=tuple(classes))

    def to_json(self) -> str:
        """The schema as a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Read a schema written by ``to_json``; DataError if it is not valid."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError("The saved schema is not valid JSON; infer it again.") from exc
        return cls.from_dict(data)


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(value)
    return value


def _bad_role_message(role: str) -> str:
    return f"'{role}' is not a column role; choose one of {', '.join(ROLES)}."


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# ---------------------------------------------------------------- targets and tasks


def target_labels(series: pd.Series) -> pd.Series:
    """Normalise target values to string labels; missing values stay missing.

    Booleans become "true"/"false", whole floats lose their ".0" (1.0 → "1"), text is
    stripped, and the words yes/no/true/false/y/n are lower-cased (" Yes " → "yes").
    Other text keeps its case. Empty strings count as missing.
    """
    if pd.api.types.is_bool_dtype(series):
        out = series.map({True: "true", False: "false"}, na_action="ignore")
        return out.astype("str")
    if _is_number(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        out = series.astype("str")
        whole = np.isfinite(values) & (np.floor(values) == values)
        if whole.any():
            out[whole] = values[whole].astype("int64").astype(str)
        return out
    out = series.astype("str").str.strip()
    out = out.mask(out == "")
    lowered = out.str.lower()
    return out.mask(lowered.isin(_KNOWN_BOOL), lowered)


def infer_task(series: pd.Series) -> tuple[str, tuple[str, ...]]:
    """Decide the prediction task for a target column.

    Two values make a binary task; whole numbers with 3..10 values or text with
    3..30 values make a multiclass task; other numbers make a regression task. Text
    with more values is also called multiclass, and ``validate_for_training`` refuses it.

    Returns:
        ``(task, classes)``: binary classes are ``(negative, positive)``, where the
        positive class is the "truthy" one (yes, true, 1, clicked, …) or otherwise the
        rarer one; multiclass classes are sorted; regression has none.
    """
    labels = target_labels(series).dropna()
    counts = labels.value_counts()
    if _is_number(series):
        whole = _whole_numbers(series)
        if len(counts) > 2 and not (whole and len(counts) <= _MAX_INT_CLASSES):
            return "regression", ()
    if len(counts) <= 2:
        return "binary", _binary_classes(counts)
    return "multiclass", tuple(sorted(counts.index, key=_natural_key))


def _binary_classes(counts: pd.Series) -> tuple[str, ...]:
    labels = sorted(counts.index, key=_natural_key)
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


def _natural_key(label: str) -> tuple[int, float, str]:
    try:
        return 0, float(label), label
    except ValueError:
        return 1, 0.0, label


# ---------------------------------------------------------------- role inference


def infer_schema(frame: pd.DataFrame, *, target: str | None = None) -> Schema:
    """Infer the role of every column of ``frame`` and, given a target, the task.

    Args:
        frame: The table, as returned by ``load_table``.
        target: Name of the column to predict, if known.

    Raises:
        DataError: the table has no columns, a column name is not text, or the
            target is not a column.
    """
    if frame.shape[1] == 0:
        raise DataError("The table has no columns; check that the file has a header row.")
    for name in frame.columns:
        if not isinstance(name, str):
            raise DataError(
                f"Column {name!r} has a name that is not text; give every column a text "
                "name (for example frame.columns = frame.columns.astype(str))."
            )
    if target is not None and target not in frame.columns:
        known = ", ".join(repr(c) for c in list(frame.columns)[:10])
        raise DataError(f"There is no column '{target}' to predict; the columns are {known}.")
    columns = []
    for name in frame.columns:
        if name == target:
            series = frame[name]
            columns.append(_spec(series, name, "target", "the outcome to predict"))
        else:
            columns.append(_infer_column(frame[name], name))
    if target is None:
        return Schema(tuple(columns))
    task, classes = infer_task(frame[target])
    return Schema(tuple(columns), task=task, classes=classes)


def _spec(series: pd.Series, name: str, role: str, reason: str, n_unique: int = -1) -> ColumnSpec:
    if n_unique < 0:
        n_unique = int(series.nunique(dropna=True))
    n_missing = int(series.isna().sum())
    return ColumnSpec(name, role, reason, str(series.dtype), n_missing, n_unique)


def _infer_column(series: pd.Series, name: str) -> ColumnSpec:
    n_unique = int(series.nunique(dropna=True))
    n_missing = int(series.isna().sum())
    role, reason = _role_for(series, name, n_unique, len(series) - n_missing)
    return ColumnSpec(name, role, reason, str(series.dtype), n_missing, n_unique)


def _role_for(series: pd.Series, name: str, n_unique: int, n_present: int) -> tuple[str, str]:
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
    if _is_number(series):
        return _numeric_role(series, n_unique, n_present, id_name)
    return _string_role(series, n_unique, n_present)


def _numeric_role(
    series: pd.Series, n_unique: int, n_present: int, id_name: bool
) -> tuple[str, str]:
    unique_rows = n_unique == n_present >= _MIN_ROWS_FOR_CARDINALITY
    if (unique_rows or id_name) and _whole_numbers(series):
        if unique_rows and float(series.max()) - float(series.min()) + 1 == n_unique:
            return "id", "a running number, unique for every row → id"
        if id_name:
            return (
                "categorical",
                f"a code named like an identifier, {n_unique:,} values → categorical",
            )
    return "numeric", f"numbers ({n_unique:,} different values)"


def _whole_numbers(series: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(series):
        return True
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values)]
    return bool(np.all(np.floor(values) == values))


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


# ---------------------------------------------------------------- validation


def validate_for_training(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """Check that ``frame`` can train a model under ``schema``.

    Returns:
        Warnings in plain language (rows that will be dropped, rare classes, …).

    Raises:
        DataError: no target, an empty or one-valued target, no feature columns,
            fewer than ``MIN_LABELLED_ROWS`` labelled rows, too many classes, or
            schema columns missing from the data.
    """
    target = schema.target
    if target is None:
        raise DataError("No target is chosen; pick the column with the outcome to predict.")
    missing = [c.name for c in schema.columns if c.name not in frame.columns]
    if missing:
        raise DataError(f"Column '{missing[0]}' from the schema is not in the data.")
    if not schema.features:
        raise DataError(
            "There are no feature columns: every column other than the target is an id, "
            "a date or ignored. Mark at least one column as numeric, categorical or text."
        )
    labels = target_labels(frame[target])
    n_missing = int(labels.isna().sum())
    if n_missing == len(labels):
        raise DataError(f"Column '{target}' is empty; the target needs values.")
    counts = labels.value_counts()
    if len(counts) == 1:
        raise DataError(
            f"Column '{target}' has only one value ({counts.index[0]}); "
            "the target needs at least two classes."
        )
    n_labelled = len(labels) - n_missing
    if n_labelled < MIN_LABELLED_ROWS:
        raise DataError(
            f"Only {n_labelled} rows have a value in '{target}'; at least "
            f"{MIN_LABELLED_ROWS} labelled rows are needed to train."
        )
    warnings = []
    if n_missing:
        warnings.append(f"{n_missing:,} rows have no value in '{target}' and will be left out.")
    warnings += _class_checks(frame[target], schema, counts)
    return warnings


def _class_checks(series: pd.Series, schema: Schema, counts: pd.Series) -> list[str]:
    target = schema.target
    if schema.task == "regression":
        if not _is_number(series):
            raise DataError(
                f"Column '{target}' holds text, so it cannot be predicted as a number; "
                "make it a classification target or pick a numeric column."
            )
        return []
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"Column '{target}' has {len(counts):,} different values; a target may have at "
            f"most {MAX_CLASSES} classes. Pick another column or group the values."
        )
    unknown = [c for c in counts.index if c not in schema.classes]
    if unknown:
        raise DataError(
            f"Column '{target}' has the value '{unknown[0]}', which is not one of the "
            f"schema's classes ({', '.join(schema.classes)}); infer the schema again."
        )
    return [
        f"Class '{label}' of '{target}' has only {n} rows; results for it will be unreliable."
        for label, n in counts.items()
        if n < _SMALL_CLASS
    ]
