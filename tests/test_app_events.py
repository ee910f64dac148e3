"""The Data page's sessions panel, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.data.samples import EVENT_LOG
from neuromkt.ui.state import (
    DATA_PAGE,
    KEY_DATASET,
    KEY_SCHEMA_VERSION,
    W_EVENTS_BUILD,
    W_EVENTS_EVENT,
    W_EVENTS_GAP,
    W_EVENTS_ID,
    W_EVENTS_ITEM,
    W_EVENTS_OUTCOME,
    W_EVENTS_TIME,
    W_UPLOAD,
)

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PANEL = "Build sessions from this event log"


@pytest.fixture(scope="module")
def log_bytes() -> bytes:
    """A small GA4-style log (300 users) as the CSV a user would upload."""
    return EVENT_LOG.generate(300, 7).to_csv(index=False).encode("utf-8")


def _key(at: AppTest, base: str) -> str:
    return f"{base}_{at.session_state[KEY_SCHEMA_VERSION]}"


def _uploaded(name: str, data: bytes) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(DATA_PAGE).run()
    at.file_uploader(key=W_UPLOAD).set_value((name, data, "text/csv")).run()
    assert not at.exception
    return at


def test_an_event_log_gets_the_panel_with_its_guesses_and_builds_sessions(log_bytes) -> None:
    at = _uploaded("events.csv", log_bytes)
    assert [e.label for e in at.expander] == [PANEL]
    guessed = {base: at.selectbox(key=_key(at, base)).value for base in (
        W_EVENTS_ID, W_EVENTS_TIME, W_EVENTS_EVENT, W_EVENTS_ITEM, W_EVENTS_OUTCOME)}  # fmt: skip
    assert guessed == {
        W_EVENTS_ID: "user_pseudo_id", W_EVENTS_TIME: "event_timestamp",
        W_EVENTS_EVENT: "event_name", W_EVENTS_ITEM: "item_category", W_EVENTS_OUTCOME: "purchase",
    }  # fmt: skip
    rule = " ".join(c.value for c in at.caption)
    assert "no gap over 30 minutes" in rule and "purchase = 1 when the session reaches" in rule
    at.number_input(key=_key(at, W_EVENTS_GAP)).set_value(10.0).run()
    assert "no gap over 10 minutes" in " ".join(c.value for c in at.caption)
    at.button(key=W_EVENTS_BUILD).click().run()
    assert not at.exception
    dataset = at.session_state[KEY_DATASET]
    assert dataset.name == "sessions of events.csv"
    assert dataset.schema.target == "purchase" and dataset.schema.task == "binary"
    assert dataset.schema.role_of("events") == "text"
    assert dataset.schema.role_of("events_gap_s") == "ignore"
    frame = dataset.frame
    assert not frame["events"].str.contains("purchase").any()
    # Read from the uploaded bytes by DuckDB: GA4 ids stay exact text.
    first_id = log_bytes.decode().splitlines()[1].split(",")[1]
    assert first_id in set(frame["user_pseudo_id"])
    notice = " ".join(s.value for s in at.success)
    assert "Built" in notice and "set aside" in notice and "events of “events\\.csv”" in notice
    warnings = " ".join(w.value for w in at.warning)
    assert "at or after the outcome event" in warnings
    # The sessions table is no event log: the panel is gone.
    assert not [e for e in at.expander if e.label == PANEL]


def test_a_table_that_is_not_an_event_log_gets_no_panel() -> None:
    data = b"spend,channel,bought\n1.5,web,0\n2.5,app,1\n3.0,web,1\n4.0,app,0\n"
    at = _uploaded("mine.csv", data)
    assert not [e for e in at.expander if e.label == PANEL]


def test_a_bad_choice_shows_one_error_and_keeps_the_log(log_bytes) -> None:
    at = _uploaded("events.csv", log_bytes)
    before = at.session_state[KEY_DATASET]
    at.selectbox(key=_key(at, W_EVENTS_TIME)).set_value("traffic_medium").run()
    at.button(key=W_EVENTS_BUILD).click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "None of the times in" in errors[0]
    assert at.session_state[KEY_DATASET] is before
    # Three different columns are needed before anything can be built.
    at.selectbox(key=_key(at, W_EVENTS_TIME)).set_value("event_name").run()
    assert any("three different columns" in i.value for i in at.info)
