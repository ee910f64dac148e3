"""Scoring a new file with a trained model: schema check, scores and top drivers in words.

``score_frame`` is what the Predict page and ``neuromkt predict`` call: it checks the
file against the model (missing, extra and wrongly typed columns named in one
message), scores every row and, per row, names the three inputs that pushed the
score most, e.g. ``“cart” in events +0.62, returning_visitor=yes +0.31,
channel=display −0.12``. Drivers come from per-row attributions on the model's
token embeddings (:mod:`neuromkt.explain`), summed per feature and per token.

Targeting helpers (:func:`targeting_table`, :func:`reach_at`, :func:`top_rows`)
answer "if we contact the top N% by score, how many converters do we reach?".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from neuromkt.attention import cell_text
from neuromkt.attention_segments import outcome_values
from neuromkt.encode import Encoders
from neuromkt.errors import DataError
from neuromkt.inference import predict
from neuromkt.metrics import lift_table
from neuromkt.positions import split_positions

if TYPE_CHECKING:
    from neuromkt.bundle import ModelBundle

__all__ = [
    "AUTO_IG_ROWS",
    "DRIVERS_COLUMN",
    "IG_STEPS",
    "PREDICTED_COLUMN",
    "SCORE_COLUMN",
    "Progress",
    "Reach",
    "SchemaCheck",
    "TypeProblem",
    "check_schema",
    "driver_table",
    "driver_texts",
    "outcome_of",
    "output_columns",
    "pick_method",
    "reach_at",
    "row_attributions",
    "score_frame",
    "targeting_table",
    "top_rows",
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


# ---------------------------------------------------------------- drivers in words


def _signed(value: float) -> str:
    """``+0.21`` / ``−0.05`` (a true minus sign), more digits for tiny values."""
    text = f"{value:+.2f}" if abs(value) >= 0.005 else f"{value:+.1g}"
    return text.replace("-", "−")


def _candidates(values: np.ndarray, encoders: Encoders, frame: pd.DataFrame) -> pd.DataFrame:
    """Every feature and every distinct token of every row with its summed value."""
    split = split_positions(values, encoders, frame)
    fixed = encoders.feature_columns
    n = len(frame)
    kinds = ["numeric"] * len(encoders.numeric) + ["categorical"] * len(encoders.categorical)
    parts = [
        pd.DataFrame(
            {
                "row": np.repeat(np.arange(n), len(fixed)),
                "feature": np.tile(np.asarray(fixed, dtype=object), n),
                "kind": np.tile(np.asarray(kinds, dtype=object), n),
                "token": None,
                "count": 1,
                "value": split.features[fixed].to_numpy(dtype="float64").ravel(),
            }
        )
    ]
    tokens = split.tokens
    if len(tokens):
        grouped = tokens.groupby(["row", "column", "token"], sort=False, observed=True)
        summed = grouped["value"].agg(["sum", "size"]).reset_index()
        parts.append(
            pd.DataFrame(
                {
                    "row": summed["row"].to_numpy(dtype="int64"),
                    "feature": summed["column"].astype(object).to_numpy(),
                    "kind": "text",
                    "token": summed["token"].astype(object).to_numpy(),
                    "count": summed["size"].to_numpy(dtype="int64"),
                    "value": summed["sum"].to_numpy(dtype="float64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _label(kind: str, column: str, token: str | None, count: int, cell: object) -> str:
    if kind == "text":
        times = f" ×{count}" if count > 1 else ""
        return f"“{token}”{times} in {column}"
    if cell is None or (not isinstance(cell, str) and pd.isna(cell)):
        return f"{column} missing"
    return f"{column}={cell_text(cell, 24)}"


def driver_table(
    values: np.ndarray, encoders: Encoders, frame: pd.DataFrame, *, top_k: int = 3
) -> pd.DataFrame:
    """The ``top_k`` largest drivers of every row, by absolute attribution.

    A numeric or categorical column is one driver; in a text column every distinct
    token is one driver (repeated tokens summed). Zero attributions are left out.

    Args:
        values: (N, T) per-position attributions of ``frame``'s rows (position 0,
            [CLS], is ignored), e.g. from :func:`neuromkt.explain`.
        encoders: The model's encoders (they define the positions).
        frame: The N rows.
        top_k: Drivers kept per row.

    Returns:
        Long frame: ``row`` (0-based position in ``frame``), ``rank`` (1 = largest),
        ``feature``, ``kind``, ``token`` (None for non-text), ``count``, ``value`` and
        ``label`` (e.g. "channel=email", "“cart” in events").
    """
    if top_k < 1:
        raise ValueError(f"{top_k=} must be at least 1")
    frame = frame.reset_index(drop=True)
    table = _candidates(values, encoders, frame)
    table = table[table["value"] != 0]
    table = table.assign(_abs=-table["value"].abs()).sort_values(
        ["row", "_abs"], kind="stable", ignore_index=True
    )
    table["rank"] = table.groupby("row").cumcount() + 1
    table = table[table["rank"] <= top_k].drop(columns="_abs").reset_index(drop=True)
    cells = [
        None if kind == "text" else frame[column].iat[row]
        for kind, column, row in zip(table["kind"], table["feature"], table["row"], strict=True)
    ]
    table["label"] = [
        _label(*parts)
        for parts in zip(
            table["kind"], table["feature"], table["token"], table["count"], cells, strict=True
        )
    ]
    return table[["row", "rank", "feature", "kind", "token", "count", "value", "label"]]


def driver_texts(table: pd.DataFrame, n_rows: int) -> list[str]:
    """One text per row from :func:`driver_table`: "label +0.21, label −0.05, …"."""
    texts = [""] * n_rows
    pieces = [
        f"{label} {_signed(v)}" for label, v in zip(table["label"], table["value"], strict=True)
    ]
    for row, piece in zip(table["row"], pieces, strict=True):
        texts[row] = piece if not texts[row] else f"{texts[row]}, {piece}"
    return texts


# ---------------------------------------------------------------- scoring

AUTO_IG_ROWS = 2_000  # "auto": Integrated Gradients up to this many rows, Input×Gradient above
IG_STEPS = 16  # Integrated Gradients steps for driver text (enough for a ranking)
Progress = Callable[[float, str], None]  # (fraction done, what is happening)


def pick_method(n_rows: int, method: str = "auto") -> str:
    """The attribution method for ``n_rows`` rows: "auto" picks Integrated Gradients
    for small files and the one-pass Input×Gradient for large ones."""
    if method != "auto":
        return method
    return "ig" if n_rows <= AUTO_IG_ROWS else "inputxgrad"


def row_attributions(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    method: str = "auto",
    classes: np.ndarray | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Per-position attributions (N, T) of every row, on the model's log-odds.

    Binary models explain the log-odds of the positive class, regression models the
    predicted value, multiclass models each row's own class (``classes``: one class
    index per row; the predicted class when None).

    Args:
        bundle: A trained model.
        frame: The rows (with the model's columns).
        method: A key of ``neuromkt.explain.METHODS`` or "auto" (:func:`pick_method`).
        classes: Multiclass only: the class index to explain per row.
        progress: Called with (fraction done, message).
    """
    from neuromkt.explain import attribute

    method = pick_method(len(frame), method)
    frame = frame.reset_index(drop=True)
    opts = {"steps": IG_STEPS} if method == "ig" else {}
    if bundle.task != "multiclass":
        groups = [(None, np.arange(len(frame)))]
    else:
        if classes is None:
            classes = predict(bundle, frame).argmax(axis=1)
        groups = [(c, np.flatnonzero(classes == c)) for c in np.unique(classes)]
    T = bundle.encoders.spec().n_positions
    raw = np.zeros((len(frame), T))
    done = 0
    for index, rows in groups:
        target = None if index is None else bundle.encoders.classes[int(index)]

        def report(n: int, _total: int, offset: int = done) -> None:
            if progress is not None:
                progress((offset + n) / max(len(frame), 1), "Explaining each row's score…")

        result = attribute(
            bundle, frame.iloc[rows], method, target=target, on_progress=report, **opts
        )
        raw[rows] = result.raw
        done += len(rows)
    return raw


def score_frame(
    bundle: ModelBundle,
    frame: pd.DataFrame,
    *,
    reasons: bool = True,
    top_k: int = 3,
    method: str = "auto",
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Score every row of ``frame`` and, optionally, name its top drivers.

    Args:
        bundle: A trained model.
        frame: The rows to score; columns the model does not read are kept.
        reasons: Add ``top_drivers``: the ``top_k`` inputs that moved the score most.
        top_k: Drivers per row.
        method: Attribution method for the drivers ("auto": :func:`pick_method`).
        progress: Called with (fraction done, message).

    Returns:
        ``frame``'s rows and columns (same index) plus ``score`` (binary: probability
        of the positive class; regression: the predicted value; multiclass: the top
        class's probability, with ``predicted`` and one ``pred_<class>`` column per
        class) and ``top_drivers``. ``attrs["score_notes"]`` holds the schema notes.

    Raises:
        DataError: The file lacks columns the model reads, or a numeric column holds
            text (every such column is named).
    """
    notes = validate_for_scoring(bundle, frame)
    say = progress or (lambda fraction, message: None)
    say(0.0, f"Scoring {len(frame):,} rows…")
    added = output_columns(bundle, reasons=reasons)
    out = frame.drop(columns=[c for c in added if c in frame.columns])
    pred = predict(bundle, frame)
    if bundle.task == "multiclass":
        classes = bundle.encoders.classes
        out[SCORE_COLUMN] = pred.max(axis=1) if len(pred) else []
        out[PREDICTED_COLUMN] = [classes[i] for i in pred.argmax(axis=1)] if len(pred) else []
        for i, name in enumerate(classes):
            out[f"pred_{name}"] = pred[:, i]
    else:
        out[SCORE_COLUMN] = pred
    if reasons:
        say(0.05, "Explaining each row's score…")
        classes = pred.argmax(axis=1) if bundle.task == "multiclass" else None
        raw = row_attributions(bundle, frame, method=method, classes=classes, progress=say)
        table = driver_table(raw, bundle.encoders, frame, top_k=top_k)
        out[DRIVERS_COLUMN] = driver_texts(table, len(frame))
    say(1.0, f"Scored {len(frame):,} rows.")
    out.attrs["score_notes"] = notes
    return out


# ---------------------------------------------------------------- targeting


@dataclass(frozen=True)
class Reach:
    """What contacting the top ``top_pct`` percent of rows by score gets you.

    Attributes:
        top_pct: Percent of rows contacted, best scores first.
        n_rows: Rows scored.
        n_contacted: Rows in the top ``top_pct`` percent.
        threshold: The lowest score among them.
        reached: Sum of the outcome over contacted rows (converters for a binary
            outcome, total value for a numeric one); None without an outcome.
        total: Sum of the outcome over all rows with a known outcome; None without one.
        n_known: Contacted rows whose outcome is known.
        n_known_total: Rows whose outcome is known.
    """

    top_pct: float
    n_rows: int
    n_contacted: int
    threshold: float
    reached: float | None = None
    total: float | None = None
    n_known: int = 0
    n_known_total: int = 0

    @property
    def share_reached(self) -> float | None:
        """Share of all converters (or of all value) found in the contacted rows."""
        if self.reached is None or not self.total:
            return None
        return self.reached / self.total

    @property
    def lift(self) -> float | None:
        """How many times better than contacting the same number of rows at random."""
        share = self.share_reached
        if share is None or not self.n_known or not self.n_known_total:
            return None
        return share / (self.n_known / self.n_known_total)


def reach_at(scores: np.ndarray, outcome: np.ndarray | None, top_pct: float) -> Reach:
    """Contact the top ``top_pct`` percent of rows by score: how much outcome do you reach?

    Args:
        scores: One score per row, higher = more likely.
        outcome: Per row 1/0 (binary) or a value (numeric); NaN where unknown; or None.
        top_pct: Percent of rows to contact, in (0, 100].

    Returns:
        The counts; ties at the cut are broken by row order.
    """
    if not 0 < top_pct <= 100:
        raise ValueError(f"{top_pct=} must be in (0, 100]")
    scores = np.asarray(scores, dtype="float64")
    n = len(scores)
    k = min(n, max(1, math.ceil(n * top_pct / 100))) if n else 0
    order = np.argsort(-scores, kind="stable")[:k]
    threshold = float(scores[order[-1]]) if k else float("nan")
    if outcome is None or np.isnan(np.asarray(outcome, dtype="float64")).all():
        return Reach(top_pct, n, k, threshold)
    y = np.asarray(outcome, dtype="float64")
    known = ~np.isnan(y)
    return Reach(
        top_pct, n, k, threshold,
        reached=float(np.nansum(y[order])), total=float(np.nansum(y)),
        n_known=int(known[order].sum()), n_known_total=int(known.sum()),
    )  # fmt: skip


def outcome_of(bundle: ModelBundle, frame: pd.DataFrame) -> np.ndarray | None:
    """Per row 1/0 (binary) or the value (regression), NaN where unknown; None when the
    file has no outcome column or the task is multiclass."""
    if bundle.target not in frame.columns or bundle.task == "multiclass":
        return None
    y = outcome_values(bundle.encoders, frame)
    return None if np.isnan(y).all() else y


def targeting_table(
    bundle: ModelBundle, scored: pd.DataFrame, *, n_bins: int = 10
) -> pd.DataFrame | None:
    """Lift and cumulative gains by score bin (``metrics.lift_table``; deciles by
    default), or None when the scored rows have no binary outcome to check against."""
    y = outcome_of(bundle, scored)
    if y is None or bundle.task != "binary":
        return None
    known = ~np.isnan(y)
    if known.sum() < 10 or len(np.unique(y[known])) < 2:
        return None
    scores = scored[SCORE_COLUMN].to_numpy()[known]
    return lift_table(y[known].astype("int64"), scores, n_bins=n_bins)


def top_rows(scored: pd.DataFrame, top_pct: float) -> pd.DataFrame:
    """The top ``top_pct`` percent of scored rows, best first (the contact list)."""
    reach = reach_at(scored[SCORE_COLUMN].to_numpy(), None, top_pct)
    order = np.argsort(-scored[SCORE_COLUMN].to_numpy(dtype="float64"), kind="stable")
    return scored.iloc[order[: reach.n_contacted]]
