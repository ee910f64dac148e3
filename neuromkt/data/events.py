"""Event logs: recognising one, and the conventions of the sessions table built from it.

An event log has one row per page view, search, click or purchase: a repeated id (a
user or a session), a timestamp and an event name, often with an item or page, some
per-event numbers (price, engagement time) and per-session attributes (channel,
device, country). :func:`guess_event_log` looks at a table's columns and guesses which
is which, with a reason for each guess, so the Data page can offer to build sessions
from it (every guess stays editable).

The sessions table (:mod:`neuromkt.data.sessions`) writes, next to each event sequence
column ``events``, the time gap before each event in seconds in a column named
:func:`gap_column` (``events_gap_s``): ``"0 12.5 340"``. The model reads the two
together (:class:`neuromkt.model.encoders.TextEncoder`); :func:`parse_gaps` is the
one reader of that format.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "GAP_SUFFIX",
    "EventLogGuess",
    "gap_column",
    "guess_event_log",
    "parse_gaps",
    "sequence_of_gap_column",
]

GAP_SUFFIX = "_gap_s"  # events -> events_gap_s: seconds before each event, space-separated
_SAMPLE_ROWS = 20_000  # rows looked at when guessing
_MAX_EVENT_NAMES = 500  # an event column has at most this many distinct names
_MAX_ATTRIBUTE_LEVELS = 100  # a per-session attribute has at most this many values
_MIN_EVENTS_PER_ID = 1.5  # an id repeats: at least this many rows per value on average
_EPOCH_RANGE = (1e8, 1e18)  # numbers that can be epoch seconds (1973) … nanoseconds

# Name hints, strongest first within each pattern (matched on lower-cased names).
_TIME_NAME = re.compile(r"(time|timestamp|^ts$|_ts$|^ts_|date|datetime|created|occurred|_at$)")
_EVENT_NAME = re.compile(r"(event|action|behavio|activity|^type$|event_type|_type$|^name$)")
_USER_NAME = re.compile(r"(user|visitor|client|customer|pseudo|member|cookie|device_id|uid)")
_SESSION_NAME = re.compile(r"session")
_ITEM_NAME = re.compile(r"(item|product|sku)")
_PAGE_NAME = re.compile(r"(page|category|content|url|path|screen|title)")
_ATTRIBUTE_NAME = re.compile(
    r"(device|medium|source|channel|country|region|city|browser|platform|language|campaign)"
)
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid)$|id$", re.IGNORECASE)


def gap_column(sequence_column: str) -> str:
    """The column holding the time gaps before each event of ``sequence_column``.

    Example:
        >>> gap_column("events")
        'events_gap_s'
    """
    return f"{sequence_column}{GAP_SUFFIX}"


def sequence_of_gap_column(name: str, columns: Any) -> str | None:
    """The sequence column that ``name`` holds the gaps of, if it is in ``columns``.

    Example:
        >>> sequence_of_gap_column("events_gap_s", ["events", "events_gap_s"])
        'events'
        >>> sequence_of_gap_column("load_gap_s", ["events"]) is None
        True
    """
    if not name.endswith(GAP_SUFFIX) or len(name) == len(GAP_SUFFIX):
        return None
    base = name[: -len(GAP_SUFFIX)]
    return base if base in set(columns) else None


def parse_gaps(cell: Any) -> list[float]:
    """The gaps (seconds) of one ``*_gap_s`` cell; a piece that is not a number is NaN.

    Example:
        >>> parse_gaps("0 12.5 340")
        [0.0, 12.5, 340.0]
        >>> parse_gaps(None)
        []
    """
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return []
    out = []
    for piece in str(cell).split():
        try:
            value = float(piece)
        except ValueError:
            value = math.nan
        out.append(value if math.isfinite(value) and value >= 0 else math.nan)
    return out


# ---------------------------------------------------------------- recognising a log


@dataclass(frozen=True)
class EventLogGuess:
    """Which columns of a table play which part of an event log (all editable).

    Attributes:
        id_column: the user (or visitor) id; repeats across rows.
        time_column: when each event happened.
        event_column: the event name (page_view, add_to_cart, purchase …).
        session_column: a session id given by the log, if there is one.
        item_column: an item, page or category that refines each event, if any.
        numbers: per-event numbers (price, engagement time) summed per session.
        attributes: per-session attributes taken from a session's first event.
        reasons: why each column was picked, by part ("id", "time", …).
    """

    id_column: str
    time_column: str
    event_column: str
    session_column: str | None = None
    item_column: str | None = None
    numbers: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)


def guess_event_log(frame: pd.DataFrame) -> EventLogGuess | None:
    """Guess the parts of an event log in ``frame``, or None when it does not look like one.

    A table looks like an event log when it has a time column (dates and times, or
    epoch numbers in a column named like a time), an event column (named like one:
    event, action, behavior, type; single names from a small vocabulary, repeated) and
    an id column whose values repeat (on average at least 1.5 rows per id). Names
    help: ``user_pseudo_id``, ``event_timestamp``, ``event_name`` are picked before
    look-alikes. A sessions table (it has an ``events_gap_s`` column) is not a log.

    Example:
        >>> log = pd.DataFrame({
        ...     "user_id": ["a", "a", "b", "b"],
        ...     "ts": ["2024-05-01 10:00", "2024-05-01 10:02", "2024-05-01 11:00",
        ...            "2024-05-01 11:05"],
        ...     "event": ["view", "cart", "view", "view"]})
        >>> guess = guess_event_log(log)
        >>> (guess.id_column, guess.time_column, guess.event_column)
        ('user_id', 'ts', 'event')
    """
    if frame.shape[1] < 3 or len(frame) < 2:
        return None
    names = [c for c in frame.columns if isinstance(c, str)]
    if any(sequence_of_gap_column(c, names) for c in names):
        return None  # one row per session already
    sample = _sample(frame)
    n = len(sample)
    time = _best((_time_score(sample[c], c), c) for c in sample.columns if isinstance(c, str))
    if time is None:
        return None
    rest = [c for c in sample.columns if isinstance(c, str) and c != time]
    stats = {c: _stats(sample[c]) for c in rest}
    event = _best((_event_score(c, sample[c], *stats[c], n), c) for c in rest)
    if event is None:
        return None
    rest = [c for c in rest if c != event]
    session = _best((_id_score(c, *stats[c], n, _SESSION_NAME, True), c) for c in rest)
    users = [c for c in rest if c != session]
    user = _best((_id_score(c, *stats[c], n, _USER_NAME, False), c) for c in users)
    if user is None and session is not None:
        user, session = session, None
    if user is None:
        return None
    rest = [c for c in rest if c not in (user, session)]
    item = _best((_item_score(c, *stats[c], n), c) for c in rest)
    rest = [c for c in rest if c != item]
    numbers = tuple(c for c in rest if _is_number(sample[c]) and not _ID_NAME.search(c))
    attributes = tuple(
        c for c in rest
        if not _is_number(sample[c]) and 1 < stats[c][0] <= _MAX_ATTRIBUTE_LEVELS
    )  # fmt: skip
    reasons = {
        "id": f"'{user}' repeats: {n / max(stats[user][0], 1):.1f} rows per value on average",
        "time": f"'{time}' holds dates and times",
        "event": f"'{event}' holds {stats[event][0]:,} different event names",
    }
    if session is not None:
        reasons["session"] = f"'{session}' is named like a session id"
    if item is not None:
        reasons["item"] = f"'{item}' is named like an item, page or category"
    return EventLogGuess(user, time, event, session, item, numbers, attributes, reasons)


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= _SAMPLE_ROWS:
        return frame
    # The head, not a spread: repeats of an id are close together in a log.
    return frame.iloc[:_SAMPLE_ROWS]


def _best(scored: Any) -> str | None:
    """The column with the highest positive score (the first one on ties)."""
    best, best_score = None, 0.0
    for score, column in scored:
        if score > best_score:
            best, best_score = column, score
    return best


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _stats(series: pd.Series) -> tuple[int, int]:
    """(distinct values, present values)."""
    return int(series.nunique(dropna=True)), int(series.notna().sum())


def _time_score(series: pd.Series, name: str) -> float:
    hinted = bool(_TIME_NAME.search(name.lower()))
    present = series.dropna()
    if len(present) < 2:
        return 0.0
    if pd.api.types.is_datetime64_any_dtype(series):
        return 3.0 + hinted
    if _is_number(series):
        values = present.to_numpy(dtype="float64")
        in_range = (np.abs(values) >= _EPOCH_RANGE[0]) & (np.abs(values) < _EPOCH_RANGE[1])
        return 2.0 + hinted if hinted and in_range.mean() >= 0.95 else 0.0
    if pd.api.types.is_bool_dtype(series):
        return 0.0
    head = present.iloc[:500].astype("string")
    if not head.str.contains(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}").mean() >= 0.9:
        return 0.0
    parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)
    return 2.5 + hinted if parsed.notna().mean() >= 0.9 else 0.0


def _event_score(name: str, series: pd.Series, n_unique: int, n_present: int, n: int) -> float:
    """Named like an event; single names (not sequences) from a small vocabulary."""
    if n_present < 0.9 * n or not 2 <= n_unique <= _MAX_EVENT_NAMES or n_unique > 0.5 * n:
        return 0.0
    if not _EVENT_NAME.search(name.lower()) or _ID_NAME.search(name) or _is_number(series):
        return 0.0
    values = series.dropna().iloc[:2000].astype("string").str.strip()
    if values.str.contains(r"\s").mean() > 0.05:  # "home search cart": a sequence
        return 0.0
    return 2.0 + 1.0 / n_unique


def _id_score(
    name: str, n_unique: int, n_present: int, n: int, hint: re.Pattern[str], only_hinted: bool
) -> float:
    """Repeated values named like ``hint`` (or, unless ``only_hinted``, like any id)."""
    if n_present < 0.9 * n or n_unique < 2 or n_present / n_unique < _MIN_EVENTS_PER_ID:
        return 0.0
    hinted, id_like = bool(hint.search(name.lower())), bool(_ID_NAME.search(name))
    if not hinted and (only_hinted or not id_like):
        return 0.0
    return 1.5 * hinted + id_like + n_unique / n


def _item_score(name: str, n_unique: int, n_present: int, n: int) -> float:
    """Named like an item (best) or a page or category, and not like a session attribute."""
    lower = name.lower()
    if n_unique < 2 or n_present < 0.2 * n or _ATTRIBUTE_NAME.search(lower):
        return 0.0
    hint = 2.0 if _ITEM_NAME.search(lower) else 1.0 if _PAGE_NAME.search(lower) else 0.0
    return hint and hint + n_present / n
