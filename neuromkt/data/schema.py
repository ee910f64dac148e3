"""Column roles, the schema and the checks a table must pass before training.

``infer_schema`` gives every column a role (target, numeric, categorical, text, id,
datetime, ignore) with a plain-language reason; ``Schema.with_role`` lets the user
change one. Inference is vectorised and looks at a sample of at most
10,000 values for its string heuristics, so it stays fast on a million rows; the
heuristics themselves live in ``neuromkt.data.roles``. Target labels and task detection
(binary, multiclass, regression) live in ``neuromkt.data.labels``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from neuromkt.data.events import sequence_of_gap_column
from neuromkt.data.labels import infer_task, target_labels
from neuromkt.data.roles import is_number, role_for
from neuromkt.errors import DataError

__all__ = [
    "MAX_CLASSES",
    "MIN_LABELLED_ROWS",
    "ROLES",
    "TASKS",
    "ColumnSpec",
    "Schema",
    "infer_schema",
    "validate_for_training",
]

ROLES = ("target", "numeric", "categorical", "text", "id", "datetime", "ignore")
TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 30  # most classes a multiclass target may have
MIN_LABELLED_ROWS = 20  # fewest rows with a target value that training accepts
_SMALL_CLASS = 5  # classes with fewer rows get a warning


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

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_sample("ads")
        >>> schema = nm.infer_schema(frame, target="clicked")
        >>> schema.target, schema.text
        ('clicked', ['headline'])
        >>> schema.with_role("headline", "ignore", frame).text
        []
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
        if role == "numeric" and not is_number(series):
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


# ---------------------------------------------------------------- role inference


def infer_schema(frame: pd.DataFrame, *, target: str | None = None) -> Schema:
    """Infer the role of every column of ``frame`` and, given a target, the task.

    Args:
        frame: The table, as returned by ``load_table``.
        target: Name of the column to predict, if known.

    Raises:
        DataError: the table has no columns, a column name is not text, or the
            target is not a column.

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_sample("ecommerce")
        >>> schema = nm.infer_schema(frame, target="purchased")
        >>> schema.task, schema.classes, schema.role_of("session_id"), schema.role_of("events")
        ('binary', ('0', '1'), 'id', 'text')
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
    columns = [_gaps_go_with_their_events(c, frame.columns) for c in columns]
    if target is None:
        return Schema(tuple(columns))
    task, classes = infer_task(frame[target])
    return Schema(tuple(columns), task=task, classes=classes)


def _spec(series: pd.Series, name: str, role: str, reason: str, n_unique: int = -1) -> ColumnSpec:
    if n_unique < 0:
        n_unique = int(series.nunique(dropna=True))
    n_missing = int(series.isna().sum())
    return ColumnSpec(name, role, reason, str(series.dtype), n_missing, n_unique)


def _gaps_go_with_their_events(spec: ColumnSpec, names: Any) -> ColumnSpec:
    """``events_gap_s`` next to ``events`` is no feature: the model reads it with the events."""
    sequence = sequence_of_gap_column(spec.name, names)
    if sequence is None or spec.role == "target":
        return spec
    reason = f"the time before each event of '{sequence}' → read with that column"
    return replace(spec, role="ignore", reason=reason)


def _infer_column(series: pd.Series, name: str) -> ColumnSpec:
    n_unique = int(series.nunique(dropna=True))
    n_missing = int(series.isna().sum())
    role, reason = role_for(series, name, n_unique, len(series) - n_missing)
    return ColumnSpec(name, role, reason, str(series.dtype), n_missing, n_unique)


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
        if not is_number(series):
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
