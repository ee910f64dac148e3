"""Event logs → one row per session, with DuckDB, leakage-safe.

:func:`build_sessions` reads a CSV (also ``.gz``), a JSON-lines file, a Parquet file, a
folder of Parquet files or a frame already in memory, and hands everything to an
embedded DuckDB (window functions, all cores, spilling to disk when memory runs short):
the log itself never becomes one pandas frame. The result is written to Parquet or CSV
by DuckDB, or comes back as a frame of sessions.

The rules, in the order they apply:

* **Rows dropped** (each counted by reason): no id, no or an unreadable time, no event
  name, (with a session column) no session id, and — unless ``drop_duplicates`` is off —
  an event equal to the one just before it for the same id (same time, same event).
* **Order**: events are ordered by time; ties keep their order in the file.
* **Sessions**: with a session column, its value (within an id) decides. Otherwise a
  session starts at an id's first event and at every event that follows a gap *longer*
  than the inactivity limit (30 minutes by default): a gap of exactly 30 minutes stays
  in the session.
* **Outcome** ``X``: "the session reaches X" is 1 when X occurs in the session; or,
  with ``outcome_days = N``, "the user does X within N days after the session" is also
  1 when the id's next X comes at most N days after the session's last kept event. The
  sequence is cut before the session's first X: that event and everything after it in
  the session never enters a feature. A session that begins with X has nothing left; it
  is set aside and counted.
* **Times**: ISO strings with or without a zone (read as UTC without one), dates, and
  epoch seconds, milliseconds, microseconds or nanoseconds (the unit follows from the
  size of the numbers; epoch values outside 1990–2100 count as unreadable).

One row per session: ``session_id``, the id column, ``start_time`` (UTC), ``n_events``
(events kept, before any outcome), ``duration_s`` (first to last kept event), ``events``
(tokens ``event`` or ``event:item``, time order, space-separated; the most recent
``max_events`` when longer), ``events_gap_s`` (seconds before each of those events, 0
for a session's first), the kept attributes (the first value present in the session),
``<number>_sum`` and ``<number>_mean`` per event number, ``n_<event>`` for the most
frequent event names, ``recency_s`` (seconds since the end of the id's previous session;
empty for its first), ``frequency`` (the id's sessions so far, this one included) and
the outcome as a 0/1 column named after the event.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from neuromkt.data.events import gap_column
from neuromkt.errors import DataError

__all__ = [
    "DROP_REASONS",
    "SessionConfig",
    "SessionSummary",
    "Sessions",
    "build_sessions",
    "outcome_rule",
    "token_name",
]

MEMORY_LIMIT = "1GB"  # DuckDB spills to disk beyond this (10M events: 1.4 GB peak RSS)
SEQUENCE_COLUMN = "events"  # the event-sequence column of the sessions table
DROP_REASONS = {
    "missing_id": "no id",
    "missing_time": "no time",
    "unreadable_time": "a time that could not be read",
    "missing_event": "no event name",
    "missing_session": "no session id",
    "duplicate": "the same event at the same time as the one before it",
    "at_or_after_outcome": "at or after the outcome event in its session",
}
_EPOCH_UNITS = (  # (largest typical magnitude, name, factor to microseconds)
    (1e11, "epoch seconds", 1_000_000),
    (1e14, "epoch milliseconds", 1_000),
    (1e17, "epoch microseconds", 1),
    (math.inf, "epoch nanoseconds", 0.001),
)
_EARLIEST_US = 631_152_000_000_000  # 1990-01-01: epoch values before it are not event times
_LATEST_US = 4_102_444_800_000_000  # 2100-01-01
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE",
                  "DECIMAL", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")  # fmt: skip
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".gz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
_TIME_SAMPLE = 10_000  # values looked at to tell epoch numbers from date strings


@dataclass(frozen=True)
class SessionConfig:
    """How an event log becomes sessions.

    Raises:
        DataError: a limit out of range, a column named twice, or ``outcome_days``
            without an outcome event.

    Example:
        >>> import neuromkt as nm
        >>> config = nm.SessionConfig("user_pseudo_id", "event_timestamp", "event_name",
        ...                           item_column="item_category", outcome="Purchase")
        >>> config.gap_minutes, config.outcome_column
        (30.0, 'purchase')
        >>> nm.SessionConfig("user", "ts", "event", gap_minutes=0)
        Traceback (most recent call last):
        ...
        neuromkt.errors.DataError: The inactivity limit must be above 0 minutes, not 0.
    """

    id_column: str  # the user (or visitor) id; with a session column, sessions nest in it
    time_column: str  # when each event happened
    event_column: str  # the event name
    session_column: str | None = None  # a session id from the log: it decides the sessions
    item_column: str | None = None  # an item/page/category: tokens become ``event:item``
    numbers: tuple[str, ...] = ()  # per-event numbers: ``<col>_sum`` and ``<col>_mean``
    keep: tuple[str, ...] = ()  # per-session attributes: the first value in the session
    gap_minutes: float = 30.0  # inactivity limit; a longer gap starts a new session
    outcome: str | None = None  # the outcome event (as named in the event column)
    outcome_days: float | None = None  # also 1 when the id does it within N days after
    max_events: int = 500  # the most recent events kept in ``events`` per session
    max_event_counts: int = 30  # ``n_<event>`` columns for this many most frequent events
    drop_duplicates: bool = True  # drop an event equal to the one before (same id and time)

    def __post_init__(self) -> None:
        if not self.gap_minutes > 0 or not math.isfinite(self.gap_minutes):
            raise DataError(
                f"The inactivity limit must be above 0 minutes, not {self.gap_minutes}."
            )
        if self.max_events < 1 or self.max_event_counts < 0:
            raise DataError(
                f"max_events={self.max_events} must be at least 1 and "
                f"max_event_counts={self.max_event_counts} at least 0."
            )
        if self.outcome_days is not None:
            if not self.outcome:
                raise DataError("Name the outcome event to count it within days of a session.")
            if not self.outcome_days > 0:
                raise DataError(
                    f"The outcome window must be above 0 days, not {self.outcome_days}."
                )
        if self.outcome is not None and not token_name(self.outcome):
            raise DataError("The outcome event is empty; name an event, e.g. purchase.")
        roles = [self.id_column, self.time_column, self.event_column, self.session_column,
                 self.item_column]  # fmt: skip
        named = [c for c in roles if c] + list(self.numbers) + list(self.keep)
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:
            raise DataError(
                f"Column '{twice[0]}' is picked for two parts of the event log; pick each "
                "column once."
            )

    @property
    def outcome_token(self) -> str | None:
        """The outcome event as it appears in the sequences (``add to cart`` → ``add_to_cart``)."""
        return None if self.outcome is None else token_name(self.outcome)

    @property
    def outcome_column(self) -> str | None:
        """The name of the 0/1 outcome column."""
        return None if self.outcome is None else _column_name(self.outcome_token or "")


@dataclass(frozen=True)
class SessionSummary:
    """What :func:`build_sessions` did, in numbers (``to_dict`` is the CLI's JSON line).

    Attributes:
        events_read: rows of the log.
        events_dropped: rows left out, by reason (keys of ``DROP_REASONS``).
        sessions: sessions in the result.
        sessions_set_aside: sessions that began with the outcome event (not in the result).
        users: distinct ids in the result.
        outcome: the outcome column's name, or None.
        outcome_rate: share of the result's sessions with outcome 1, or None.
        sessions_truncated: sessions longer than ``max_events`` (their oldest events
            left out of ``events``).
        time_format: how the times were read ("timestamps", "epoch milliseconds", …).
        time_examples: up to three values that could not be read as times.
        event_counts: the event names that got an ``n_<event>`` column.
        rule: the sessions and outcome rule in one sentence.
        seconds: wall-clock time of the whole run.
    """

    events_read: int
    events_dropped: dict[str, int]
    sessions: int
    sessions_set_aside: int
    users: int
    outcome: str | None
    outcome_rate: float | None
    sessions_truncated: int
    time_format: str
    time_examples: tuple[str, ...]
    event_counts: tuple[str, ...]
    rule: str
    seconds: float = 0.0

    @property
    def n_dropped(self) -> int:
        """All rows left out."""
        return sum(self.events_dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, ``events_dropped`` listing only the reasons that occurred."""
        data = asdict(self)
        data["events_dropped"] = {k: v for k, v in self.events_dropped.items() if v}
        data["time_examples"] = list(self.time_examples)
        data["event_counts"] = list(self.event_counts)
        data["seconds"] = round(self.seconds, 3)
        return data

    def notes(self) -> list[str]:
        """Plain sentences about what was left out or cut, for the page and the CLI."""
        out = []
        for reason, count in self.events_dropped.items():
            if count:
                out.append(f"{_count(count, 'event')} left out: {DROP_REASONS[reason]}.")
        if self.time_examples:
            shown = ", ".join(f"'{v}'" for v in self.time_examples)
            out.append(f"Times that could not be read look like {shown}.")
        if self.sessions_set_aside:
            out.append(
                f"{_count(self.sessions_set_aside, 'session')} set aside: it began with the "
                "outcome event, so nothing before it was left to learn from."
            )
        if self.sessions_truncated:
            out.append(
                f"{_count(self.sessions_truncated, 'session')} had more events than the "
                "limit; their sequences keep the most recent ones."
            )
        return out


@dataclass(frozen=True)
class Sessions:
    """The result: the summary and, unless it was written to a file, the sessions frame."""

    summary: SessionSummary
    frame: pd.DataFrame | None = None
    path: Path | None = None
    columns: tuple[str, ...] = field(default=())


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def token_name(value: Any) -> str:
    """An event or item name as a sequence token: lower-case, separators as ``_``.

    Example:
        >>> token_name("Add to Cart")
        'add_to_cart'
        >>> token_name(" Home > Shoes ")
        'home_shoes'
    """
    return re.sub(r"[\s,>|]+", "_", str(value).strip().lower()).strip("_")


def outcome_rule(config: SessionConfig) -> str:
    """The sessions and outcome rule in one sentence, as the Data page states it.

    Example:
        >>> rule = outcome_rule(SessionConfig("user", "ts", "event", outcome="purchase"))
        >>> rule.split("; ")[0]
        "A session is one user's events with no gap over 30 minutes"
        >>> rule.split("; ")[1].split(", and")[0]
        'purchase = 1 when the session reaches purchase'
    """
    if config.session_column:
        sessions = f"A session is one value of '{config.session_column}' for one {config.id_column}"
    else:
        limit = f"{config.gap_minutes:g} minute{'s' if config.gap_minutes != 1 else ''}"
        sessions = f"A session is one {config.id_column}'s events with no gap over {limit}"
    if config.outcome is None:
        return sessions + "; no outcome is attached."
    x, name = config.outcome_token, config.outcome_column
    when = f"when the session reaches {x}"
    if config.outcome_days is not None:
        days = f"{config.outcome_days:g} day{'s' if config.outcome_days != 1 else ''}"
        when += f" or the {config.id_column} does it within {days} after the session"
    return (
        f"{sessions}; {name} = 1 {when}, and the sequence stops just before it "
        "(sessions that begin with it are set aside)."
    )


# ---------------------------------------------------------------- the run


def build_sessions(
    source: str | os.PathLike[str] | pd.DataFrame,
    config: SessionConfig,
    *,
    out: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> Sessions:
    """Sessionise an event log (see the module docstring for the rules).

    Args:
        source: a CSV/TSV (also gzipped), JSON-lines or Parquet file, a folder of
            Parquet files, a glob, or a frame already in memory.
        config: the columns and rules.
        out: write the sessions here (``.parquet`` or ``.csv``) instead of returning
            them as a frame.
        threads: DuckDB threads (default: ``NEUROMKT_THREADS`` when set, else every core).
        memory_limit: DuckDB's memory before it spills to a temporary folder, e.g. "1GB".

    Returns:
        The summary, and the frame of sessions (None when written to ``out``).

    Raises:
        DataError: a missing file or column, no readable times, an outcome event that
            never occurs, every id occurring once, or an output that cannot be written.

    Example:
        >>> import neuromkt as nm
        >>> import pandas as pd
        >>> log = pd.DataFrame({
        ...     "user": ["a", "a", "a", "a"],
        ...     "ts": ["2024-05-01 10:00:00", "2024-05-01 10:00:30", "2024-05-01 10:02:00",
        ...            "2024-05-01 10:03:00"],
        ...     "event": ["view", "cart", "purchase", "view"]})
        >>> config = nm.SessionConfig("user", "ts", "event", outcome="purchase")
        >>> result = nm.build_sessions(log, config)
        >>> result.frame[["session_id", "events", "events_gap_s", "purchase"]].values.tolist()
        [['a-1', 'view cart', '0 30', 1]]
        >>> result.summary.events_dropped["at_or_after_outcome"]
        2
    """
    started = time.perf_counter()
    out_path = _check_out(out)
    with tempfile.TemporaryDirectory(prefix="neuromkt-duckdb-") as spill:
        settings = {"threads": threads or _threads(), "temp_directory": spill,
                    "memory_limit": memory_limit}  # fmt: skip
        con = duckdb.connect(config=settings)
        try:
            con.execute("SET TimeZone = 'UTC'")
            run = _Run(con, config)
            run.load(source)
            summary = run.sessionise(out_path, started)
            frame = None if out_path else con.execute(run.final_query).df()
            columns = tuple(run.columns)
        except duckdb.Error as exc:
            raise DataError(_duckdb_message(exc)) from exc
        finally:
            con.close()
    summary = replace(summary, seconds=time.perf_counter() - started)  # the fetch included
    return Sessions(summary=summary, frame=frame, path=out_path, columns=columns)


def _threads() -> int:
    value = os.environ.get("NEUROMKT_THREADS", "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _check_out(out: str | os.PathLike[str] | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise DataError(f"Write the sessions to a .parquet or .csv file, not '{path.name}'.")
    if not path.parent.is_dir():
        raise DataError(f"The folder '{path.parent}' does not exist; create it first.")
    return path


def _duckdb_message(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"The event log could not be read: {first}"


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _column_name(value: str) -> str:
    """A safe column name: letters, digits and ``_``."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", value).strip("_") or "event"


class _Run:
    """One sessionising run on one DuckDB connection: temporary tables ``ev`` (events),
    ``s`` (sessions) and ``h`` (each session's frequency and recency)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, config: SessionConfig) -> None:
        self.con, self.config = con, config
        self.source_name = "the event log"
        self.time_format = "timestamps"
        self.columns: list[str] = []
        self.final_query = ""

    # ---------------------------------------------------------------- reading
    def load(self, source: Any) -> None:
        """Read the log into the temporary table ``ev`` (file order kept as ``rowid``)."""
        relation = self._source(source)
        described = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        types = {str(row[0]): str(row[1]).upper() for row in described}
        self._check_columns(types)
        if relation.startswith("read_csv("):
            # Ids are text, whatever they look like: GA4's "1197330453.1714545794" read as
            # a number would lose digits and merge users.
            c = self.config
            texts = [n for n in (c.id_column, c.session_column, *c.keep) if n]
            pairs = ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in texts)
            relation = relation[:-1] + f", types = {{{pairs}}})"
        try:
            self._create_ev(relation, types)
        except duckdb.ConversionException:
            if not relation.startswith("read_csv("):
                raise
            # The sniffer guessed a type from the first rows that a later row breaks:
            # read every column as text and parse it here.
            relation = relation[:-1] + ", all_varchar = true)"
            described = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            self._create_ev(relation, {str(r[0]): "VARCHAR" for r in described})

    def _source(self, source: Any) -> str:
        if isinstance(source, pd.DataFrame):
            self.con.register("nm_log", source)
            self.source_name = "the table"
            return "nm_log"
        if not isinstance(source, str | os.PathLike):
            raise DataError(f"Cannot read an event log from a {type(source).__name__}.")
        text = os.fspath(source)
        path = Path(text)
        self.source_name = f"'{path.name}'"
        if path.is_dir():
            files = sorted(path.rglob("*.parquet"))
            if not files:
                raise DataError(f"The folder '{path}' holds no .parquet files.")
            return f"read_parquet({_lit(str(path / '**' / '*.parquet'))})"
        has_glob = any(ch in path.name for ch in "*?[")
        if not has_glob and not path.is_file():
            raise DataError(f"No file at {text}.")
        suffixes = [s.lower() for s in path.suffixes]
        last = suffixes[-1] if suffixes else ""
        if last in _PARQUET_SUFFIXES:
            return f"read_parquet({_lit(text)})"
        if last in _JSON_SUFFIXES or suffixes[-2:] in ([".jsonl", ".gz"], [".json", ".gz"]):
            return f"read_json_auto({_lit(text)})"
        if last in _CSV_SUFFIXES:
            return f"read_csv({_lit(text)}, header = true)"
        raise DataError(
            f"{self.source_name} is not a CSV, JSON-lines or Parquet file; export the "
            "event log in one of those formats."
        )

    def _check_columns(self, types: dict[str, str]) -> None:
        c = self.config
        wanted = [("id", c.id_column), ("time", c.time_column), ("event", c.event_column),
                  ("session", c.session_column), ("item", c.item_column)]  # fmt: skip
        wanted += [("number", n) for n in c.numbers] + [("attribute", k) for k in c.keep]
        known = ", ".join(repr(name) for name in list(types)[:12])
        more = " …" if len(types) > 12 else ""
        for part, name in wanted:
            if name and name not in types:
                raise DataError(
                    f"There is no {part} column '{name}' in {self.source_name}; its columns "
                    f"are {known}{more}."
                )

    def _create_ev(self, relation: str, types: dict[str, str]) -> None:
        c = self.config
        ts = self._time_expression(relation, types[c.time_column])
        items = [
            f"NULLIF(trim(CAST({_q(c.id_column)} AS VARCHAR)), '') AS uid",
            f"{ts} AS ts",
            f"{_q(c.time_column)} IS NOT NULL AS has_time",
            f"CASE WHEN ({ts}) IS NULL AND {_q(c.time_column)} IS NOT NULL "
            f"THEN CAST({_q(c.time_column)} AS VARCHAR) END AS bad_time",
            f"{_token_sql(_q(c.event_column))} AS event",
        ]
        if c.session_column:
            items.append(f"NULLIF(trim(CAST({_q(c.session_column)} AS VARCHAR)), '') AS sess")
        if c.item_column:
            items.append(f"{_token_sql(_q(c.item_column))} AS item")
        items += [f"TRY_CAST({_q(n)} AS DOUBLE) AS {_q('num_' + n)}" for n in c.numbers]
        items += [f"{_q(k)} AS {_q('keep_' + k)}" for k in c.keep]
        self.con.execute("DROP TABLE IF EXISTS ev")
        self.con.execute(f"CREATE TEMP TABLE ev AS SELECT {', '.join(items)} FROM {relation}")

    def _time_expression(self, relation: str, kind: str) -> str:
        """SQL giving each row's time as epoch microseconds (NULL when unreadable)."""
        col = _q(self.config.time_column)
        if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
            return f"epoch_us({col})"
        if kind.startswith(("TIMESTAMP", "DATE")):
            return f"epoch_us(CAST({col} AS TIMESTAMP))"
        numeric = kind.startswith(_NUMERIC_TYPES)
        values = self._time_sample(relation)
        numbers = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").dropna()
        if numeric or (len(values) and len(numbers) >= 0.9 * len(values)):
            magnitude = float(numbers.abs().median()) if len(numbers) else 0.0
            _, self.time_format, factor = next(u for u in _EPOCH_UNITS if magnitude < u[0])
            us = f"TRY_CAST({col} AS DOUBLE) * {factor}"
            return (
                f"CASE WHEN {us} >= {_EARLIEST_US} AND {us} < {_LATEST_US} "
                f"THEN CAST(round({us}) AS BIGINT) END"
            )
        self.time_format = "timestamps"
        return f"epoch_us(TRY_CAST(trim(CAST({col} AS VARCHAR)) AS TIMESTAMPTZ))"

    def _time_sample(self, relation: str) -> list[Any]:
        col = _q(self.config.time_column)
        rows = self.con.execute(
            f"SELECT CAST({col} AS VARCHAR) FROM {relation} WHERE {col} IS NOT NULL "
            f"LIMIT {_TIME_SAMPLE}"
        ).fetchall()
        return [r[0] for r in rows]

    # ---------------------------------------------------------------- sessionising
    def sessionise(self, out: Path | None, started: float) -> SessionSummary:
        c = self.config
        counts = self._drop_counts()
        read = counts.pop("events_read")
        clean = read - sum(counts.values())
        examples = tuple(
            r[0]
            for r in self.con.execute(
                "SELECT DISTINCT bad_time FROM ev WHERE bad_time IS NOT NULL LIMIT 3"
            ).fetchall()
        )
        if clean == 0:
            raise DataError(self._nothing_left_message(read, counts, examples))
        x = c.outcome_token
        top = self._top_events()
        if x is not None and not self._occurs(x):
            names = ", ".join(name for name, _ in top[:8])
            raise DataError(
                f"The outcome event '{c.outcome}' never occurs in '{c.event_column}'; its "
                f"most frequent events are {names}."
            )
        counted = [name for name, _ in top if name != x][: c.max_event_counts]
        self.con.execute(f"CREATE TEMP TABLE s AS {self._session_query(counted)}")
        self.con.execute(f"CREATE TEMP TABLE h AS {self._history_query()}")
        stats = self.con.execute(
            "SELECT count(*) FILTER (WHERE n_events > 0), count(*) FILTER (WHERE n_events = 0),"
            " count(DISTINCT uid) FILTER (WHERE n_events > 0), sum(n_all - n_events),"
            f" count(*) FILTER (WHERE n_events > {c.max_events}), avg(outcome) FILTER "
            "(WHERE n_events > 0), sum(n_all), count(*), count(DISTINCT uid) FROM s"
        ).fetchone()
        n_sessions, set_aside, users, after, truncated, rate, n_kept, n_all, n_ids = stats
        groups = n_all if c.session_column else n_ids
        if groups == n_kept > 1:
            self._refuse_single_events()
        counts["duplicate"] = int(clean - n_kept)
        counts["at_or_after_outcome"] = int(after or 0)
        self.final_query = self._final_query(counted)
        if out is not None:
            kind = (
                "(FORMAT parquet)" if out.suffix.lower() == ".parquet" else "(FORMAT csv, HEADER)"
            )
            self.con.execute(f"COPY ({self.final_query}) TO {_lit(str(out))} {kind}")
        return SessionSummary(
            events_read=int(read),
            events_dropped={k: int(counts.get(k, 0)) for k in DROP_REASONS},
            sessions=int(n_sessions),
            sessions_set_aside=int(set_aside) if x is not None else 0,
            users=int(users),
            outcome=c.outcome_column,
            outcome_rate=None if x is None or rate is None else float(rate),
            sessions_truncated=int(truncated),
            time_format=self.time_format,
            time_examples=examples,
            event_counts=tuple(counted),
            rule=outcome_rule(c),
            seconds=time.perf_counter() - started,
        )

    def _drop_counts(self) -> dict[str, int]:
        c = self.config
        session = "sess IS NULL" if c.session_column else "false"
        row = self.con.execute(
            "SELECT count(*), count(*) FILTER (WHERE uid IS NULL),"
            " count(*) FILTER (WHERE uid IS NOT NULL AND NOT has_time),"
            " count(*) FILTER (WHERE uid IS NOT NULL AND has_time AND ts IS NULL),"
            " count(*) FILTER (WHERE uid IS NOT NULL AND ts IS NOT NULL AND event IS NULL),"
            f" count(*) FILTER (WHERE uid IS NOT NULL AND ts IS NOT NULL AND event IS NOT NULL"
            f" AND {session}) FROM ev"
        ).fetchone()
        keys = ["events_read", "missing_id", "missing_time", "unreadable_time", "missing_event",
                "missing_session"]  # fmt: skip
        return dict(zip(keys, (int(v) for v in row), strict=True))

    def _nothing_left_message(self, read: int, counts: dict[str, int], examples: tuple) -> str:
        c = self.config
        if read == 0:
            return f"{self.source_name} has no rows."
        if counts["unreadable_time"] and examples:
            shown = ", ".join(f"'{v}'" for v in examples)
            return (
                f"None of the times in '{c.time_column}' could be read (for example {shown}). "
                "Use ISO dates and times (2024-05-01 10:00:00, with or without a zone) or "
                "epoch seconds, milliseconds or microseconds."
            )
        worst = max(counts, key=lambda k: counts[k])
        return (
            f"No event is left: all {read:,} rows have {DROP_REASONS[worst]}. Check the id, "
            "time and event columns."
        )

    def _clean_filter(self) -> str:
        session = " AND sess IS NOT NULL" if self.config.session_column else ""
        return f"uid IS NOT NULL AND ts IS NOT NULL AND event IS NOT NULL{session}"

    def _top_events(self) -> list[tuple[str, int]]:
        rows = self.con.execute(
            f"SELECT event, count(*) AS n FROM ev WHERE {self._clean_filter()} "
            "GROUP BY event ORDER BY n DESC, event LIMIT 1000"
        ).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    def _occurs(self, token: str) -> bool:
        row = self.con.execute(
            f"SELECT 1 FROM ev WHERE event = {_lit(token)} AND {self._clean_filter()} LIMIT 1"
        ).fetchone()
        return row is not None

    def _refuse_single_events(self) -> None:
        c = self.config
        what = f"'{c.session_column}'" if c.session_column else f"'{c.id_column}'"
        raise DataError(
            f"Every value of {what} occurs only once, so every session would hold a single "
            "event. Pick the column that identifies a user or a session (its values repeat)."
        )

    def _session_query(self, counted: list[str]) -> str:
        """One row per session (set-aside sessions included, with ``n_events`` = 0)."""
        c = self.config
        x = c.outcome_token
        part = "uid, sess" if c.session_column else "uid"
        limit_us = round(c.gap_minutes * 60_000_000)
        dup = (
            "coalesce(lag(ts) OVER w = ts AND lag(token) OVER w = token, false)"
            if c.drop_duplicates
            else "false"
        )
        token = "event || coalesce(':' || item, '')" if c.item_column else "event"
        extra = [_q("num_" + n) for n in c.numbers] + [_q("keep_" + k) for k in c.keep]
        carry = "".join(f", {e}" for e in extra)
        if c.session_column:
            session_no = "sess AS sess_no"
            start = "1 AS start_rn"
        else:
            new = f"(gap_us IS NULL OR gap_us > {limit_us})"
            session_no = f"sum(CASE WHEN {new} THEN 1 ELSE 0 END) OVER w2 AS sess_no"
            start = f"max(CASE WHEN {new} THEN rn END) OVER w2 AS start_rn"
        last_x = f"max(CASE WHEN event = {_lit(x)} THEN rn END) OVER w2" if x else "NULL"
        next_x = "NULL"
        if x and c.outcome_days is not None:
            next_x = (
                f"min(CASE WHEN event = {_lit(x)} THEN ts END) OVER (PARTITION BY uid "
                "ORDER BY ts, _row ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
            )
        kept = "(last_x_rn IS NULL OR last_x_rn < start_rn)"
        gap = "CASE WHEN rn = start_rn THEN 0 ELSE gap_us END"
        aggregates = [
            "min(ts) AS start_ts",
            "max(ts) AS last_ts",
            "count(*) AS n_all",
            f"count(*) FILTER (WHERE {kept}) AS n_events",
            f"max(ts) FILTER (WHERE {kept}) AS end_ts",
            f"min(next_x_ts) FILTER (WHERE {kept}) AS next_x_ts",
            f"coalesce(bool_or(event = {_lit(x)}), false) AS reached" if x else "false AS reached",
            # One sort per session for both lists (two ordered aggregates sort twice).
            f"list_sort(list(struct_pack(rn := rn, t := token, g := {gap})) "
            f"FILTER (WHERE {kept})) AS seq",
        ]
        aggregates += [
            f"sum({_q('num_' + n)}) FILTER (WHERE {kept}) AS {_q('sum_' + n)}, "
            f"avg({_q('num_' + n)}) FILTER (WHERE {kept}) AS {_q('mean_' + n)}"
            for n in c.numbers
        ]
        aggregates += [
            f"arg_min({_q('keep_' + k)}, rn) FILTER (WHERE {kept}) AS {_q('keep_' + k)}"
            for k in c.keep
        ]
        aggregates += [
            f"count(*) FILTER (WHERE {kept} AND event = {_lit(e)}) AS {_q('count_' + e)}"
            for e in counted
        ]
        outcome = "0"
        if x:
            outcome = "CASE WHEN reached THEN 1 ELSE 0 END"
            if c.outcome_days is not None:
                window_us = round(c.outcome_days * 86_400_000_000)
                outcome = (
                    f"CASE WHEN reached OR next_x_ts - end_ts <= {window_us} THEN 1 ELSE 0 END"
                )
        return f"""
        WITH clean AS (
            SELECT rowid AS _row, uid, {"sess, " if c.session_column else ""}ts, event,
                   {token} AS token{carry}
            FROM ev WHERE {self._clean_filter()}
        ), p1 AS (
            SELECT *, ts - lag(ts) OVER w AS gap_us, row_number() OVER w AS rn, {dup} AS dup
            FROM clean WINDOW w AS (PARTITION BY {part} ORDER BY ts, _row)
        ), p2 AS (
            SELECT *, {session_no}, {start}, {last_x} AS last_x_rn, {next_x} AS next_x_ts
            FROM p1 WHERE NOT dup
            WINDOW w2 AS (PARTITION BY {part} ORDER BY rn ROWS UNBOUNDED PRECEDING)
        ), agg AS (
            SELECT uid, sess_no, {", ".join(aggregates)} FROM p2 GROUP BY uid, sess_no
        )
        SELECT *, {outcome} AS outcome FROM agg
        """

    @staticmethod
    def _history_query() -> str:
        """Frequency and recency per session of ``s``, on the few columns they need (a
        window over the sequences themselves would sort all of them along)."""
        return """
        SELECT uid, sess_no, row_number() OVER u AS frequency,
            (start_ts - lag(last_ts) OVER u) / 1e6 AS recency_s
        FROM s WINDOW u AS (PARTITION BY uid ORDER BY start_ts, sess_no)
        """

    def _final_query(self, counted: list[str]) -> str:
        """The sessions table's columns, from ``s``, set-aside sessions left out."""
        c = self.config
        seq = SEQUENCE_COLUMN
        keep = f"[-{c.max_events}:]"
        tokens = f"list_transform(seq{keep}, lambda x: x.t)"
        gap_text = (
            f"list_transform(seq{keep}, lambda x: CASE WHEN x.g % 1000000 = 0 THEN "
            "CAST(x.g // 1000000 AS VARCHAR) ELSE format('{}', round(x.g / 1e6, 3)) END)"
        )
        session_id = "CAST(sess_no AS VARCHAR)" if c.session_column else "uid || '-' || sess_no"
        columns = [
            (f"{session_id}", "session_id"),
            ("uid", c.id_column),
            ("make_timestamp(start_ts)", "start_time"),
            ("n_events", "n_events"),
            ("(end_ts - start_ts) / 1e6", "duration_s"),
            (f"array_to_string({tokens}, ' ')", seq),
            (f"array_to_string({gap_text}, ' ')", gap_column(seq)),
        ]
        columns += [(_q("keep_" + k), k) for k in c.keep]
        for n in c.numbers:
            columns += [(_q("sum_" + n), f"{n}_sum"), (_q("mean_" + n), f"{n}_mean")]
        names = {name for _, name in columns}
        for e in counted:
            name = "n_" + _column_name(e)
            while name in names:
                name += "_"
            names.add(name)
            columns.append((_q("count_" + e), name))
        columns += [("recency_s", "recency_s"), ("frequency", "frequency")]
        if c.outcome_column:
            columns.append(("outcome", c.outcome_column))
        output = [name for _, name in columns]
        twice = sorted({n for n in output if output.count(n) > 1})
        if twice:
            raise DataError(
                f"The sessions table would have two columns named '{twice[0]}'; rename that "
                "column in the log or leave it out of the kept attributes."
            )
        self.columns = output
        select = ", ".join(f"{expr} AS {_q(name)}" for expr, name in columns)
        return (
            f"SELECT {select} FROM s JOIN h USING (uid, sess_no) WHERE n_events > 0 "
            "ORDER BY start_ts, uid, sess_no"
        )


def _token_sql(column: str) -> str:
    """SQL for :func:`token_name` (NULL when empty).

    Names that are tokens already (the usual case) skip the regular-expression
    rewrite, a third of the time of reading a log.
    """
    text = f"CAST({column} AS VARCHAR)"
    rewrite = f"NULLIF(trim(regexp_replace(lower(trim({text})), '[\\s,>|]+', '_', 'g'), '_'), '')"
    plain = f"regexp_full_match({text}, '[a-z0-9][a-z0-9_:./-]*')"
    return f"CASE WHEN {plain} THEN {text} ELSE {rewrite} END"
