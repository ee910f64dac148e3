"""The Predict & what-if page, driven through Streamlit's AppTest."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.act.scoring import DRIVERS_COLUMN, SCORE_COLUMN
from neuromkt.data.load import frame_fingerprint
from neuromkt.data.schema import infer_schema
from neuromkt.ui.predict_views import (
    KEY_SCORED,
    W_REASONS,
    W_SCORE,
    W_SOURCE,
    W_TOP_PCT,
    W_UPLOAD,
)
from neuromkt.ui.state import KEY_BUNDLE, KEY_DATASET, PREDICT_PAGE, Dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _dataset(frame: pd.DataFrame) -> Dataset:
    schema = infer_schema(frame, target="purchased").with_role("events", "text", frame)
    return Dataset(frame, "sessions.csv", schema, frame_fingerprint(frame))


def _page(bundle=None, frame: pd.DataFrame | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[KEY_BUNDLE] = bundle
    at.session_state[KEY_DATASET] = None if frame is None else _dataset(frame)
    at.switch_page(PREDICT_PAGE).run()
    assert not at.exception
    return at


def _plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


@pytest.fixture(scope="module")
def rows(ecommerce_frame) -> pd.DataFrame:
    return ecommerce_frame.head(300)


def test_without_a_model_the_page_says_what_to_do() -> None:
    at = _page()
    assert any("No model yet" in info.value for info in at.info)
    assert not at.tabs


def test_score_the_data_set_with_reasons(tiny_bundle, rows) -> None:
    at = _page(tiny_bundle, rows)
    assert at.segmented_control(key=W_SOURCE).value == "dataset"
    assert at.toggle(key=W_REASONS).value is True
    assert at.button(key=W_SCORE).label == "Score 300 rows"
    assert any("Score a file first" in info.value for info in at.info)
    at.button(key=W_SCORE).click().run()
    assert not at.exception
    scored = at.session_state[KEY_SCORED].frame
    assert scored.shape == (300, rows.shape[1] + 2)
    assert scored[DRIVERS_COLUMN].str.count(", ").eq(2).all()
    table = at.dataframe[0].value
    assert {SCORE_COLUMN, DRIVERS_COLUMN} <= set(table.columns)
    assert any("'session_id'" in _plain(info.value) for info in at.info)  # kept, noted
    labels = [button.label for button in at.get("download_button")]
    assert "Download the scores (CSV)" in labels
    # who to contact: the top 20% of 300 rows, then the top 10%
    assert _metric(at, "Rows to contact") == "60"
    assert _metric(at, "Lift over random").endswith("×")
    at.slider(key=W_TOP_PCT).set_value(10).run()
    assert not at.exception
    assert _metric(at, "Rows to contact") == "30"
    assert "Download the top 10% as a contact list (CSV)" in [
        b.label for b in at.get("download_button")
    ]


def test_a_file_that_does_not_fit_is_refused_with_one_message(tiny_bundle, rows) -> None:
    at = _page(tiny_bundle, rows)
    at.segmented_control(key=W_SOURCE).set_value("upload").run()
    bad = rows.drop(columns=["events"]).assign(pages_viewed="lots").to_csv(index=False)
    at.file_uploader(key=W_UPLOAD).set_value(("new.csv", bad.encode(), "text/csv")).run()
    assert not at.exception
    errors = [_plain(e.value) for e in at.error]
    assert len(errors) == 1
    assert "'events'" in errors[0] and "'pages_viewed' should hold numbers" in errors[0]
    assert W_SCORE not in [button.key for button in at.button]  # nothing to score
    assert KEY_SCORED not in at.session_state


def test_an_uploaded_file_without_the_outcome_is_scored(tiny_bundle, rows) -> None:
    at = _page(tiny_bundle, rows)
    at.segmented_control(key=W_SOURCE).set_value("upload").run()
    new = rows.drop(columns=["purchased"]).head(40).to_csv(index=False)
    at.file_uploader(key=W_UPLOAD).set_value(("new.csv", new.encode(), "text/csv")).run()
    at.toggle(key=W_REASONS).set_value(False).run()
    at.button(key=W_SCORE).click().run()
    assert not at.exception
    scored = at.session_state[KEY_SCORED]
    assert scored.name == "new.csv" and DRIVERS_COLUMN not in scored.frame.columns
    assert _metric(at, "Share reached") == "—"
    assert any("no 'purchased' column" in _plain(info.value) for info in at.info)


def test_what_if_edits_move_the_score(tiny_bundle, rows) -> None:
    at = _page(tiny_bundle, rows)
    assert _metric(at, "Original") == _metric(at, "Edited")
    events = next(t for t in at.text_input if t.label == "events")
    events.input(f"{events.value} cart checkout").run()
    assert not at.exception
    edited = next(m for m in at.metric if m.label.startswith("Edited"))
    assert edited.delta.startswith("+")
    assert any("Changed" in _plain(md.value) and "events" in md.value for md in at.markdown)
    visitor = next(s for s in at.selectbox if _plain(s.label) == "returning_visitor")
    visitor.set_value("yes").run()
    assert not at.exception
    assert any("returning" in md.value for md in at.markdown if "Changed" in md.value)
    at.segmented_control(key="predict_whatif_start").set_value("row").run()
    assert not at.exception
    assert _metric(at, "Original") == _metric(at, "Edited")  # a new start resets the edits
