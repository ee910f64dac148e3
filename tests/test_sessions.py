"""Event logs → sessions: hand-computed answers, no leakage, files and folders, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.events import gap_column, guess_event_log, parse_gaps
from neuromkt.data.samples import SAMPLES, load_sample
from neuromkt.data.sessions import SessionConfig, build_sessions, outcome_rule, token_name
from neuromkt.errors import DataError

T0 = pd.Timestamp("2024-05-01 10:00:00")


def _log(rows: list[tuple], columns=("user", "ts", "event")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _at(seconds: float) -> str:
    return str(T0 + pd.Timedelta(seconds=seconds))


def _sessions(log, **options) -> pd.DataFrame:
    config = SessionConfig("user", "ts", "event", **options)
    return build_sessions(log, config).frame


# ---------------------------------------------------------------- sessions


def test_a_gap_of_exactly_the_limit_stays_and_one_second_more_splits() -> None:
    log = _log([
        ("a", _at(0), "home"),
        ("a", _at(1800), "search"),  # exactly 30 minutes later: same session
        ("a", _at(3601), "product"),  # 30 minutes and 1 second later: a new session
    ])  # fmt: skip
    out = _sessions(log)
    assert list(out["session_id"]) == ["a-1", "a-2"]
    assert list(out["events"]) == ["home search", "product"]
    assert list(out["events_gap_s"]) == ["0 1800", "0"]
    assert list(out["n_events"]) == [2, 1]
    assert list(out["duration_s"]) == [1800.0, 0.0]
    assert list(out["start_time"]) == [T0, T0 + pd.Timedelta(seconds=3601)]
    # A longer limit joins them; a shorter one splits every event.
    assert len(_sessions(log, gap_minutes=31)) == 1
    assert len(_sessions(log, gap_minutes=29)) == 3


def test_events_are_ordered_by_time_and_ties_keep_the_file_order() -> None:
    log = _log([
        ("a", _at(60), "zeta"),  # unsorted input: the latest event comes first
        ("a", _at(10), "tie_b"),  # a tie, in file order b, a, c
        ("a", _at(10), "tie_a"),
        ("a", _at(10), "tie_c"),
        ("a", _at(0), "first"),
    ])  # fmt: skip
    out = _sessions(log)
    assert out["events"].tolist() == ["first tie_b tie_a tie_c zeta"]
    assert out["events_gap_s"].tolist() == ["0 10 0 0 50"]


def test_several_users_interleaved_recency_and_frequency() -> None:
    log = _log([
        ("b", _at(0), "home"),
        ("a", _at(5), "home"),
        ("b", _at(20), "cart"),
        ("a", _at(4000), "home"),  # a's second session (gap 3,995 s)
        ("a", _at(4030), "search"),
        ("b", _at(90_000), "home"),  # b's second session, a day later
        ("a", _at(9000), "home"),  # a's third session, 4,970 s after a's last event
    ])  # fmt: skip
    out = _sessions(log).set_index("session_id")
    assert list(out.index) == ["b-1", "a-1", "a-2", "a-3", "b-2"]  # by start time
    assert out.loc["a-2", "events"] == "home search"
    assert out["frequency"].to_dict() == {"b-1": 1, "a-1": 1, "a-2": 2, "a-3": 3, "b-2": 2}
    assert math.isnan(out.loc["a-1", "recency_s"]) and math.isnan(out.loc["b-1", "recency_s"])
    assert out.loc["a-2", "recency_s"] == 3995.0  # from a-1's end (5 s) to a-2's start
    assert out.loc["a-3", "recency_s"] == 4970.0
    assert out.loc["b-2", "recency_s"] == 90_000 - 20
    assert out["user"].to_dict() == {"b-1": "b", "a-1": "a", "a-2": "a", "a-3": "a", "b-2": "b"}
    assert out["n_home"].to_dict() == {"b-1": 1, "a-1": 1, "a-2": 1, "a-3": 1, "b-2": 1}


def test_a_session_column_decides_the_sessions() -> None:
    log = _log(
        [
            ("a", "s1", _at(0), "home"),
            ("a", "s1", _at(7200), "cart"),  # two hours later, still s1
            ("a", "s2", _at(7210), "home"),  # ten seconds later, but s2
            ("b", "s1", _at(5), "home"),  # the same session id under another user
            ("b", "s1", _at(6), "search"),
        ],
        columns=("user", "sid", "ts", "event"),
    )
    config = SessionConfig("user", "ts", "event", session_column="sid")
    out = build_sessions(log, config).frame
    assert out[["session_id", "user", "events", "events_gap_s"]].values.tolist() == [
        ["s1", "a", "home cart", "0 7200"],
        ["s1", "b", "home search", "0 1"],
        ["s2", "a", "home", "0"],
    ]
    assert out["frequency"].tolist() == [1, 1, 2]
    assert "session" in outcome_rule(config) and "'sid'" in outcome_rule(config)


EPOCH = 1_714_557_600  # 2024-05-01 10:00:00 UTC


@pytest.mark.parametrize(
    ("first", "second", "fmt"),
    [
        ("2024-05-01 10:00:00", "2024-05-01 10:00:42", "timestamps"),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:42Z", "timestamps"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:42+00:00", "timestamps"),
        ("2024-05-01T10:00:00.000", "2024-05-01 10:00:42.000000", "timestamps"),
        (EPOCH, EPOCH + 42, "epoch seconds"),
        (EPOCH * 1000, (EPOCH + 42) * 1000, "epoch milliseconds"),
        (EPOCH * 1_000_000, (EPOCH + 42) * 1_000_000, "epoch microseconds"),
        (EPOCH * 1_000_000_000, (EPOCH + 42) * 1_000_000_000, "epoch nanoseconds"),
    ],
)
def test_timestamp_formats(tmp_path: Path, first, second, fmt: str) -> None:
    path = tmp_path / "log.csv"
    _log([("a", first, "home"), ("a", second, "cart")]).to_csv(path, index=False)
    result = build_sessions(path, SessionConfig("user", "ts", "event"))
    assert result.summary.time_format == fmt
    assert result.frame["start_time"].tolist() == [T0]
    assert result.frame["events_gap_s"].tolist() == ["0 42"]


def test_dates_without_a_time(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    _log([("a", "2024-05-01", "home"), ("a", "2024-05-02", "home")]).to_csv(path, index=False)
    out = build_sessions(path, SessionConfig("user", "ts", "event", gap_minutes=2 * 24 * 60))
    assert out.frame["start_time"].tolist() == [pd.Timestamp("2024-05-01")]
    assert out.frame["events_gap_s"].tolist() == ["0 86400"]


def test_fractional_gaps_and_parse_gaps() -> None:
    out = _sessions(_log([("a", _at(0), "x"), ("a", _at(1.25), "y"), ("a", _at(3.5), "z")]))
    assert out["events_gap_s"].tolist() == ["0 1.25 2.25"]
    assert parse_gaps(out["events_gap_s"].iloc[0]) == [0.0, 1.25, 2.25]
    one, *bad = parse_gaps("1 x -3 inf")
    assert one == 1.0 and len(bad) == 3 and all(math.isnan(v) for v in bad)
    assert gap_column("events") == "events_gap_s"


# ---------------------------------------------------------------- the outcome


def test_the_sequence_is_cut_before_the_outcome_and_sessions_that_begin_with_it_set_aside() -> None:
    log = _log([
        ("a", _at(0), "home"),
        ("a", _at(10), "cart"),
        ("a", _at(20), "Purchase"),  # the outcome, any case
        ("a", _at(30), "home"),  # after it, same session: never a feature
        ("a", _at(40), "purchase"),
        ("b", _at(0), "purchase"),  # begins with it: set aside
        ("b", _at(10), "home"),
        ("c", _at(0), "home"),  # never reaches it
        ("c", _at(5), "search"),
    ])  # fmt: skip
    result = build_sessions(log, SessionConfig("user", "ts", "event", outcome="purchase"))
    out, summary = result.frame.set_index("user"), result.summary
    assert list(out.index) == ["a", "c"]
    assert out.loc["a", "events"] == "home cart" and out.loc["a", "n_events"] == 2
    assert out.loc["a", "duration_s"] == 10.0
    assert out["purchase"].to_dict() == {"a": 1, "c": 0}
    assert "n_purchase" not in out.columns
    assert out.loc["a", "n_home"] == 1  # the home after the purchase is not counted
    assert summary.sessions == 2 and summary.sessions_set_aside == 1 and summary.users == 2
    assert summary.events_dropped["at_or_after_outcome"] == 3 + 2
    assert summary.outcome_rate == 0.5 and summary.outcome == "purchase"
    assert summary.events_read == 9
    assert any("1 session set aside" in note for note in summary.notes())


def test_the_outcome_within_days_after_the_session() -> None:
    day = 86_400
    log = _log([
        ("a", _at(0), "home"),  # a-1: a purchase 2 days after it ends -> 1 with 3 days
        ("a", _at(2 * day), "purchase"),  # a-2 begins with the purchase: set aside
        ("b", _at(0), "home"),  # b-1: the next purchase is 5 days later -> 0
        ("b", _at(5 * day), "home"),  # b-2 reaches it in the session -> 1, cut
        ("b", _at(5 * day + 60), "purchase"),
    ])  # fmt: skip
    config = SessionConfig("user", "ts", "event", outcome="purchase", outcome_days=3)
    result = build_sessions(log, config)
    out = result.frame.set_index("session_id")
    assert out["purchase"].to_dict() == {"a-1": 1, "b-1": 0, "b-2": 1}
    assert out.loc["b-2", "events"] == "home"
    assert result.summary.sessions_set_aside == 1
    assert "within 3 days after the session" in result.summary.rule


def _reference_sessions(log: pd.DataFrame, gap_s: float, outcome: str) -> dict[tuple, tuple]:
    """The rules written as plain Python loops: (user, n) -> (tokens, outcome)."""
    out = {}
    log = log.assign(_row=np.arange(len(log)))
    for user, rows in log.groupby("user", sort=False):
        rows = rows.sort_values(["t", "_row"])
        sessions, last = [], None
        for t, event in zip(rows["t"], rows["event"], strict=True):
            if last is None or t - last > gap_s:
                sessions.append([])
            sessions[-1].append(event)
            last = t
        for n, events in enumerate(sessions, start=1):
            cut = events.index(outcome) if outcome in events else len(events)
            if cut:
                out[(user, n)] = (" ".join(events[:cut]), int(cut < len(events)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_leakage_and_agreement_with_a_plain_python_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    events = np.array(["home", "search", "view", "cart", "purchase"])
    log = pd.DataFrame({
        "user": rng.choice([f"u{i}" for i in range(60)], n),
        "t": rng.integers(0, 200_000, n),  # seconds; many ties and 30-minute gaps
        "event": events[rng.choice(5, n, p=[0.3, 0.2, 0.3, 0.1, 0.1])],
    })  # fmt: skip
    log["ts"] = EPOCH + log["t"]
    config = SessionConfig("user", "ts", "event", outcome="purchase", drop_duplicates=False)
    result = build_sessions(log, config)
    out = result.frame
    # No token at or after the outcome: the outcome never appears in a sequence.
    assert not out["events"].str.split().apply(lambda t: "purchase" in t).any()
    assert (out["n_events"] == out["events"].str.split().str.len()).all()
    want = _reference_sessions(log, 1800, "purchase")
    got = {
        (u, int(s.rsplit("-", 1)[1])): (e, y)
        for u, s, e, y in out[["user", "session_id", "events", "purchase"]].itertuples(index=False)
    }
    assert got == want
    kept_events = sum(len(e.split()) for e, _ in want.values())
    assert result.summary.events_dropped["at_or_after_outcome"] == n - kept_events


# ---------------------------------------------------------------- options


def test_items_numbers_attributes_and_truncation() -> None:
    log = pd.DataFrame({
        "user": ["a"] * 4,
        "ts": [_at(0), _at(10), _at(20), _at(30)],
        "event": ["page_view", "view_item", "view_item", "add_to_cart"],
        "category": [None, "Running Shoes", "socks", "socks"],
        "price": [None, 80.0, 5.0, 5.0],
        "channel": [None, "email", "seo", "seo"],  # the first value present: email
    })  # fmt: skip
    config = SessionConfig(
        "user", "ts", "event", item_column="category", numbers=("price",), keep=("channel",),
        max_events=3,
    )  # fmt: skip
    result = build_sessions(log, config)
    row = result.frame.iloc[0]
    assert row["events"] == "view_item:running_shoes view_item:socks add_to_cart:socks"
    assert row["events_gap_s"] == "10 10 10"  # the gaps of the events kept
    assert row["n_events"] == 4 and result.summary.sessions_truncated == 1
    assert row["price_sum"] == 90.0 and row["price_mean"] == 30.0
    assert row["channel"] == "email"
    assert row["n_view_item"] == 2 and row["n_page_view"] == 1


def test_duplicates_are_dropped_and_counted() -> None:
    log = _log([("a", _at(0), "home"), ("a", _at(0), "home"), ("a", _at(5), "home")])
    result = build_sessions(log, SessionConfig("user", "ts", "event"))
    assert result.frame["events"].tolist() == ["home home"]
    assert result.summary.events_dropped["duplicate"] == 1
    kept = build_sessions(log, SessionConfig("user", "ts", "event", drop_duplicates=False))
    assert kept.frame["events"].tolist() == ["home home home"]


def test_token_name() -> None:
    assert token_name(" Add to Cart ") == "add_to_cart"
    log = _log([("a", _at(0), "Add to Cart"), ("a", _at(1), "Home > Shoes"), ("a", _at(2), "x")])
    assert _sessions(log)["events"].tolist() == ["add_to_cart home_shoes x"]


# ---------------------------------------------------------------- files and folders


def _random_log(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user_id": rng.choice([f"u{i:03d}" for i in range(80)], n),
        "ts": EPOCH * 1_000_000 + rng.integers(0, 86_400, n) * 1_000_000,
        "event": rng.choice(["home", "search", "view", "cart", "purchase"], n),
        "device": rng.choice(["mobile", "desktop"], n),
    })  # fmt: skip


def test_csv_parquet_file_and_parquet_folder_agree(tmp_path: Path) -> None:
    log = _random_log(4000)
    log.to_csv(tmp_path / "log.csv", index=False)
    log.to_csv(tmp_path / "log.csv.gz", index=False)
    log.to_parquet(tmp_path / "log.parquet", index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(log)), 3)):
        log.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    config = SessionConfig("user_id", "ts", "event", outcome="purchase", keep=("device",))
    sources = [tmp_path / "log.csv", tmp_path / "log.csv.gz", tmp_path / "log.parquet", folder]
    results = [build_sessions(src, config) for src in [*sources, log]]
    first = results[0].frame
    assert len(first) > 100
    for other in results[1:]:
        pd.testing.assert_frame_equal(other.frame, first, check_dtype=False)
        assert other.summary.sessions == results[0].summary.sessions


def test_writes_parquet_and_csv_without_returning_a_frame(tmp_path: Path) -> None:
    log = _random_log(2000, seed=3)
    config = SessionConfig("user_id", "ts", "event", outcome="purchase")
    in_memory = build_sessions(log, config).frame
    for name in ("sessions.parquet", "sessions.csv"):
        result = build_sessions(log, config, out=tmp_path / name)
        assert result.frame is None and result.path == tmp_path / name
        back = (pd.read_parquet if name.endswith("parquet") else pd.read_csv)(tmp_path / name)
        assert list(back.columns) == list(in_memory.columns) == list(result.columns)
        assert back["events"].tolist() == in_memory["events"].tolist()
        assert back["purchase"].tolist() == in_memory["purchase"].tolist()
    with pytest.raises(DataError, match=r"\.parquet or \.csv"):
        build_sessions(log, config, out=tmp_path / "sessions.xlsx")
    with pytest.raises(DataError, match="does not exist"):
        build_sessions(log, config, out=tmp_path / "nope" / "s.parquet")


# ---------------------------------------------------------------- bad input


def test_unreadable_times_are_counted_with_examples(tmp_path: Path) -> None:
    log = _log([
        ("a", "2024-05-01 10:00:00", "home"),
        ("a", "2024-05-01 10:01:00", "cart"),
        ("a", "01/02/2024", "home"),
        ("a", "yesterday", "home"),
        ("a", None, "home"),
        (None, "2024-05-01 10:02:00", "home"),
        ("a", "2024-05-01 10:03:00", None),
    ])  # fmt: skip
    result = build_sessions(log, SessionConfig("user", "ts", "event"))
    dropped = result.summary.events_dropped
    assert dropped["unreadable_time"] == 2 and dropped["missing_time"] == 1
    assert dropped["missing_id"] == 1 and dropped["missing_event"] == 1
    assert set(result.summary.time_examples) == {"01/02/2024", "yesterday"}
    assert result.frame["events"].tolist() == ["home cart"]
    assert result.summary.n_dropped == 5
    notes = " ".join(result.summary.notes())
    assert "2 events left out: a time that could not be read" in notes and "'yesterday'" in notes


@pytest.mark.parametrize(
    ("log", "config", "message"),
    [
        (_log([("a", "soon", "x"), ("a", "later", "y")]), {}, "None of the times in 'ts'"),
        (_log([("a", _at(0), "x"), ("a", _at(1), "y")]), {"outcome": "buy"},
         "outcome event 'buy' never occurs in 'event'; its most frequent events are x, y"),
        (_log([("a", _at(0), "x"), ("b", _at(1), "y"), ("c", _at(2), "x")]), {},
         "Every value of 'user' occurs only once"),
        (_log([("a", _at(0), "x")]), {"time_column": "when"}, "no time column 'when'"),
        (_log([("a", _at(0), "x")]), {"keep": ("user",)}, "picked for two parts"),
        (_log([("a", _at(0), "x")]), {"gap_minutes": 0}, "above 0 minutes"),
        (_log([("a", _at(0), "x")]), {"outcome_days": 3}, "Name the outcome event"),
        (_log([("a", _at(0), "x"), ("a", _at(1), "y")]), {"keep": ("ts2",)}, "no attribute"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_data_error(log, config, message) -> None:
    options = {"id_column": "user", "time_column": "ts", "event_column": "event", **config}
    with pytest.raises(DataError, match=message):
        build_sessions(log, SessionConfig(**options))


def test_bad_files(tmp_path: Path) -> None:
    config = SessionConfig("user", "ts", "event")
    with pytest.raises(DataError, match="No file at"):
        build_sessions(tmp_path / "missing.csv", config)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds no \.parquet files"):
        build_sessions(tmp_path / "empty", config)
    (tmp_path / "log.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match="not a CSV, JSON-lines or Parquet file"):
        build_sessions(tmp_path / "log.xlsx", config)
    (tmp_path / "late.csv").write_text(
        "user,ts,event\n" + "a,1714557600,x\n" * 30_000 + "a,not a time,y\n"
    )  # the type sniffed from the first rows breaks on the last one
    late = build_sessions(tmp_path / "late.csv", SessionConfig("user", "ts", "event"))
    assert late.summary.events_dropped["unreadable_time"] == 1
    assert late.summary.events_dropped["duplicate"] == 29_999


# ---------------------------------------------------------------- recognising a log


def test_guess_event_log_on_a_ga4_like_export() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({
        "event_date": ["20240501"] * n,
        "event_timestamp": EPOCH * 1_000_000 + np.sort(rng.integers(0, 10**10, n)),
        "event_name": rng.choice(["page_view", "view_item", "add_to_cart", "purchase"], n),
        "user_pseudo_id": rng.choice([f"{i}.1714" for i in range(40)], n),
        "ga_session_id": rng.choice([f"{i}" for i in range(100)], n),
        "item_category": rng.choice(["shoes", "socks", None], n),
        "engagement_time_msec": rng.integers(0, 5000, n),
        "medium": rng.choice(["email", "cpc", "organic"], n),
        "device_category": rng.choice(["mobile", "desktop"], n),
    })  # fmt: skip
    guess = guess_event_log(frame)
    assert guess is not None
    assert (guess.id_column, guess.time_column, guess.event_column) == (
        "user_pseudo_id", "event_timestamp", "event_name")  # fmt: skip
    assert guess.session_column == "ga_session_id"
    assert guess.item_column == "item_category"
    assert guess.numbers == ("engagement_time_msec",)
    assert guess.attributes == ("medium", "device_category")  # event_date is constant


@pytest.mark.parametrize("key", list(SAMPLES))
def test_one_row_per_session_samples_are_not_event_logs(key: str) -> None:
    assert guess_event_log(load_sample(key).head(3000)) is None


def test_a_sessions_table_is_not_an_event_log() -> None:
    log = _random_log(3000, seed=5)
    assert guess_event_log(log) is not None
    sessions = build_sessions(log, SessionConfig("user_id", "ts", "event")).frame
    assert guess_event_log(sessions) is None
    # Sequences are not event names, even in a column named like one.
    renamed = sessions.drop(columns="events_gap_s").rename(columns={"events": "event_list"})
    assert guess_event_log(renamed) is None
