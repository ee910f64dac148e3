"""Scoring a new file with a trained model: schema check, scores and top drivers in words.

``score_frame`` is what the Predict page and ``neuromkt predict`` call: it checks the
file against the model (missing, extra and wrongly typed columns named in one
message), scores every row and, per row, names the three inputs that pushed the
score most, e.g. ``“cart” in events +0.62, returning_visitor=yes +0.31,
channel=display −0.12``. Drivers come from per-row attributions on the model's
token embeddings (:mod:`neuromkt.act.drivers`), summed per feature and per token.

The names of the columns it adds (``score``, ``predicted``, ``top_drivers``) are
defined here; :mod:`neuromkt.act.targeting` reads scored files by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.act.drivers import driver_table, driver_texts, row_attributions
from neuromkt.errors import DataError
from neuromkt.explain.attention import cell_text
from neuromkt.model.inference import predict
from neuromkt.progress import OnProgress, Tracker

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = [
    "DRIVERS_COLUMN",
    "PREDICTED_COLUMN",
    "SCORE_COLUMN",
    "SchemaCheck",
    "TypeProblem",
    "check_schema",
    "output_columns",
    "score_frame",
    "validate_for_scoring",
]

SCORE_COLUMN = "score"  # P(positive), the predicted value, or the top class's probability
PREDICTED_COLUMN = "predicted"  # multiclass only: the most likely class
DRIVERS_COLUMN = "top_drivers"  # e.g. "“cart” in events +0.62, returning_visitor=yes +0.31"

_MISSING_WORDS = {"", "na", "n/a", "nan", "null", "none", "-", "—", "?"}
_LIST_LIMIT = 8  # names listed in a message before "and N more"


def _names(names: list[str] | tuple[str, ...], limit: int = _LIST_LIMIT) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ---------------------------------------------------------------- schema check


@dataclass(frozen=True)
class TypeProblem:
    """A column the model reads as numbers that arrived as text.

    Attributes:
        column: The column name.
        n_rows: Rows whose value is text that is not a number.
        examples: Up to two such values.
    """

    column: str
    n_rows: int
    examples: tuple[str, ...]

    def sentence(self) -> str:
        """E.g. "'pages_viewed' should hold numbers, but 3 rows hold text such as 'many'"."""
        shown = " and ".join(f"'{cell_text(v, 30)}'" for v in self.examples)
        rows = "1 row holds" if self.n_rows == 1 else f"{self.n_rows:,} rows hold"
        return (
            f"column '{self.column}' should hold numbers (the model reads it as numeric), "
            f"but {rows} text such as {shown}"
        )


@dataclass(frozen=True)
class SchemaCheck:
    """How a file's columns compare with what a model reads.

    Attributes:
        model_name: The model's display name.
        missing: Columns the model reads that the file lacks.
        extra: Columns of the file the model does not read (kept and passed through).
        wrong_type: Numeric columns that arrived as text.
        replaced: Columns of the file that the scores will replace (e.g. an old ``score``).
        unseen: Per categorical column, values the model never saw (scored as "other").
        has_outcome: Whether the file has the model's outcome column.
    """

    model_name: str
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    wrong_type: tuple[TypeProblem, ...] = ()
    replaced: tuple[str, ...] = ()
    unseen: dict[str, tuple[str, ...]] = field(default_factory=dict)
    has_outcome: bool = False

    @property
    def ok(self) -> bool:
        """True when every row can be scored."""
        return not self.missing and not self.wrong_type

    def message(self) -> str:
        """All problems in one plain message; empty when the file is fine."""
        if self.ok:
            return ""
        problems = []
        if self.missing:
            word = "column" if len(self.missing) == 1 else "columns"
            problems.append(f"it lacks the {word} {_names(self.missing)} that the model reads")
        problems += [p.sentence() for p in self.wrong_type]
        extra = ""
        if self.extra:
            extra = f" (Extra columns such as {_names(self.extra, 3)} are fine: they are kept.)"
        return (
            f"This file does not fit the model '{self.model_name}': "
            + "; ".join(problems)
            + ". Fix the file (same column names and kinds of values as the training data) "
            "and load it again." + extra
        )

    def notes(self) -> list[str]:
        """Plain sentences about what is fine but worth knowing (extra columns, new values)."""
        notes = []
        if self.extra:
            notes.append(f"Kept as they are, not read by the model: {_names(self.extra)}.")
        if self.replaced:
            notes.append(f"The file already had {_names(self.replaced)}; replaced by new scores.")
        for column, values in self.unseen.items():
            notes.append(
                f"'{column}' has values the model saw rarely or never, such as "
                f"{_names([cell_text(v, 30) for v in values], 3)}; they share its "
                "“other” slot."
            )
        return notes


def output_columns(bundle: ModelBundle, *, reasons: bool = True) -> list[str]:
    """The columns ``score_frame`` adds, in order."""
    columns = [SCORE_COLUMN]
    if bundle.task == "multiclass":
        columns += [PREDICTED_COLUMN, *(f"pred_{c}" for c in bundle.encoders.classes)]
    return [*columns, DRIVERS_COLUMN] if reasons else columns


def _text_in_numeric(series: pd.Series) -> TypeProblem | None:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    text = series.astype("string").str.strip()
    present = text.notna() & ~text.str.lower().isin(_MISSING_WORDS)
    parsed = pd.to_numeric(text.where(present), errors="coerce")
    bad = present & parsed.isna()
    if not bad.any():
        return None
    examples = tuple(dict.fromkeys(text[bad].tolist()))[:2]
    return TypeProblem(str(series.name), int(bad.sum()), examples)


def _unseen_values(bundle: ModelBundle, frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Per categorical column, up to three values that fall in the model's "other" slot."""
    unseen = {}
    for enc in bundle.encoders.categorical:
        if enc.name not in frame.columns or len(enc.levels) <= 2:
            continue
        series = frame[enc.name]
        other = series[enc.transform(series) == 0].dropna().astype("string").str.strip()
        if len(other):
            unseen[enc.name] = tuple(str(v) for v in other.value_counts().index[:3])
    return unseen


def check_schema(bundle: ModelBundle, frame: pd.DataFrame, *, reasons: bool = True) -> SchemaCheck:
    """Compare ``frame``'s columns with what ``bundle``'s model reads (never raises).

    Args:
        bundle: A trained model.
        frame: The rows to score.
        reasons: Whether the scores will carry driver text (it adds a column).

    Returns:
        The comparison; ``check.ok`` is False when some rows cannot be scored.
    """
    encoders = bundle.encoders
    columns = [str(c) for c in frame.columns]
    reads = encoders.input_columns
    missing = tuple(c for c in reads if c not in frame.columns)
    outputs = set(output_columns(bundle, reasons=reasons))
    extra = tuple(c for c in columns if c not in reads and c != bundle.target and c not in outputs)
    wrong = tuple(
        p
        for p in (_text_in_numeric(frame[e.name]) for e in encoders.numeric if e.name in frame)
        if p is not None
    )
    return SchemaCheck(
        model_name=str(bundle.name),
        missing=missing,
        extra=extra,
        wrong_type=wrong,
        replaced=tuple(c for c in columns if c in outputs),
        unseen=_unseen_values(bundle, frame),
        has_outcome=bundle.target in frame.columns,
    )


def validate_for_scoring(bundle: ModelBundle, frame: pd.DataFrame) -> list[str]:
    """Check ``frame`` against the model; raise with one clear message when it cannot score.

    Returns:
        Notes worth showing (extra columns kept, values the model never saw).

    Raises:
        DataError: Naming every missing column and every numeric column that holds text.
    """
    check = check_schema(bundle, frame)
    if not check.ok:
        raise DataError(check.message())
    return check.notes()


# ---------------------------------------------------------------- scoring


def _add_scores(out: pd.DataFrame, bundle: ModelBundle, pred: np.ndarray) -> None:
    """Write ``score`` (and, multiclass, ``predicted`` and ``pred_<class>``) into ``out``."""
    if bundle.task != "multiclass":
        out[SCORE_COLUMN] = pred
        return
    classes = bundle.encoders.classes
    out[SCORE_COLUMN] = pred.max(axis=1) if len(pred) else []
    out[PREDICTED_COLUMN] = [classes[i] for i in pred.argmax(axis=1)] if len(pred) else []
    for i, name in enumerate(classes):
        out[f"pred_{name}"] = pred[:, i]


def score_frame(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    reasons: bool = True,
    top_k: int = 3,
    method: str = "auto",
    on_progress: OnProgress | None = None,
) -> pd.DataFrame:
    """Score every row of ``frame`` and, optionally, name its top drivers.

    Args:
        bundle: A trained model.
        frame: The rows to score; columns the model does not read are kept.
        reasons: Add ``top_drivers``: the ``top_k`` inputs that moved the score most.
        top_k: Drivers per row.
        method: Attribution method for the drivers ("auto": :func:`pick_method`).
        on_progress: Called now and then with a :class:`neuromkt.progress.Progress`
            counting rows over both passes (scoring, then explaining: ``2 × len(frame)``
            rows in all with ``reasons``).

    Returns:
        ``frame``'s rows and columns (same index) plus ``score`` (binary: probability
        of the positive class; regression: the predicted value; multiclass: the top
        class's probability, with ``predicted`` and one ``pred_<class>`` column per
        class) and ``top_drivers``. ``attrs["score_notes"]`` holds the schema notes.

    Raises:
        DataError: The file lacks columns the model reads, or a numeric column holds
            text (every such column is named).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> scored = nm.score_frame(bundle, nm.load_sample("ecommerce").head(20))
        >>> list(scored.columns[-2:])
        ['score', 'top_drivers']
        >>> scored.loc[0, "top_drivers"]
        'returning_visitor=yes +0.63, discount_seen=yes +0.40, “product” ×3 in events −0.27'
    """
    notes = validate_for_scoring(bundle, frame)
    n = len(frame)
    tracker = Tracker(on_progress, 2 * n if reasons else n)
    tracker.update(0, "Scoring")
    added = output_columns(bundle, reasons=reasons)
    out = frame.drop(columns=[c for c in added if c in frame.columns])
    pred = predict(bundle, frame, on_progress=tracker.part(0, "Scoring"))
    _add_scores(out, bundle, pred)
    if reasons:
        classes = pred.argmax(axis=1) if bundle.task == "multiclass" else None
        report = tracker.part(n, "Explaining each row's score")
        raw = row_attributions(bundle, frame, method=method, classes=classes, on_progress=report)
        table = driver_table(raw, bundle.encoders, frame, top_k=top_k)
        out[DRIVERS_COLUMN] = driver_texts(table, n)
    tracker.update(tracker.total, f"Scored {n:,} rows")
    out.attrs["score_notes"] = notes
    return out
