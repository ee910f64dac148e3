"""The Attention page under AppTest: guards, every control, caching by content."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.ui import attention_cache, attention_controls
from neuromkt.ui.state import ATTENTION_PAGE, KEY_BUNDLE, KEY_DATASET, Dataset

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _app(frame=None, bundle=None, schema=None) -> AppTest:
    """The page as a first visit opens it (no run of Home before), with this session state."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(ATTENTION_PAGE)
    if frame is not None:
        schema = schema or bundle.schema
        at.session_state[KEY_DATASET] = Dataset(frame, "sample", schema, frame_fingerprint(frame))
    if bundle is not None:
        at.session_state[KEY_BUNDLE] = bundle
    return at


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def rows(ecommerce_frame):
    return ecommerce_frame.head(1500)


def _guard_links(at: AppTest) -> list[str]:
    """The URL paths of the page links in the main area (the guard's "Go to …")."""
    return [link.proto.page for link in at.main.get("page_link")]


def test_without_data_the_page_says_what_to_do() -> None:
    at = _ok(_app().run())
    assert "No data yet" in at.info[0].value
    assert _guard_links(at) == ["Data"]
    assert not at.get("plotly_chart")


def test_without_a_model_the_page_says_what_to_do(rows, tiny_bundle) -> None:
    at = _ok(_app(rows, schema=tiny_bundle.schema).run())
    assert "No model yet" in at.info[0].value
    assert _guard_links(at) == ["Train"]
    assert not at.get("plotly_chart")


def test_missing_model_columns_are_named(rows, tiny_bundle) -> None:
    at = _ok(_app(rows.drop(columns=["device", "events"]), tiny_bundle).run())
    assert "'device'" in at.error[0].value and "'events'" in at.error[0].value
    assert not at.get("plotly_chart")


def _open(at: AppTest, section: str) -> AppTest:
    """Open a tab of the page (only the open one runs)."""
    at.session_state[attention_controls.W_SECTION] = section
    return _ok(at.run())


@pytest.mark.slow
def test_every_control_rerenders_without_recomputing(rows, tiny_bundle, monkeypatch) -> None:
    st.cache_resource.clear()
    st.cache_data.clear()
    calls = []
    original = attention_cache.compute_attention
    monkeypatch.setattr(
        attention_cache,
        "compute_attention",
        lambda *a, **k: calls.append(1) or original(*a, **k),
    )
    at = _ok(_app(rows, tiny_bundle).run())
    assert [t.label for t in at.tabs] == [
        "Overview",
        "By segment",
        "Words and events",
        "One row up close",
    ]
    assert len(at.get("plotly_chart")) == 2  # only the open tab runs
    assert [m.label for m in at.metric][:4] == [
        "Kept on [CLS] itself",  # in the "For analysts" expander at the top
        "Rows explained",
        "Top column",
        "Top word or event",
    ]
    assert at.metric[1].value == "1,500"
    assert len(at.get("download_button")) == 2

    at.segmented_control(key=attention_controls.W_METHOD).set_value("rollout").run()
    _ok(at)
    assert at.selectbox(key=attention_controls.W_HEAD).disabled
    at.segmented_control(key=attention_controls.W_METHOD).set_value("mean").run()
    assert at.selectbox(key=attention_controls.W_LAYER).options == ["All layers", "Layer 1"]
    assert at.selectbox(key=attention_controls.W_HEAD).options == [
        "Mean of heads",
        "Head 1",
        "Head 2",
    ]
    for layer in (0, attention_controls.ALL):
        _ok(at.selectbox(key=attention_controls.W_LAYER).set_value(layer).run())
        assert at.session_state[attention_controls.W_LAYER] == layer
    for head in (0, 1, attention_controls.ALL):
        _ok(at.selectbox(key=attention_controls.W_HEAD).set_value(head).run())
        assert at.session_state[attention_controls.W_HEAD] == head
    assert not at.selectbox(key=attention_controls.W_HEAD).disabled

    _open(at, "By segment")
    assert len(at.get("plotly_chart")) == 1
    for option in at.selectbox(key=attention_controls.W_SEGMENT).options:
        _ok(at.selectbox(key=attention_controls.W_SEGMENT).select(option).run())
        assert len(at.get("plotly_chart")) == 1, option
    _ok(at.toggle(key=attention_controls.W_SEGMENT_DIFF).set_value(False).run())
    _ok(
        at.selectbox(key=attention_controls.W_HEAD).set_value(1).run()
    )  # a view control on another tab
    assert len(at.get("plotly_chart")) == 1

    _open(at, "Words and events")
    assert len(at.get("plotly_chart")) == 2  # top tokens by outcome, attention vs outcome
    _ok(at.slider(key=attention_controls.W_MIN_COUNT).set_value(200).run())
    _ok(at.slider(key=attention_controls.W_MIN_COUNT).set_value(2).run())

    _open(at, "One row up close")
    assert len(at.get("plotly_chart")) == 2  # the row's columns, its token matrix
    for mode in ("low", "index", "search", "high"):
        _ok(at.segmented_control(key=attention_controls.W_ROW_MODE).set_value(mode).run())
        if mode == "index":
            _ok(at.number_input(key=attention_controls.W_ROW_INDEX).set_value(42).run())
            assert at.metric[-1].value == "42"
        if mode == "search":
            assert not at.get("plotly_chart")  # no row picked yet
            _ok(at.text_input(key=attention_controls.W_ROW_QUERY).input("checkout").run())
            match = at.selectbox(key=attention_controls.W_ROW_MATCH)
            assert "checkout" in rows.loc[match.value, "events"]
    assert len(calls) == 1  # attention was computed once, for the first run only
    assert len(at.get("plotly_chart")) == 2


def test_only_the_open_tab_runs(rows, tiny_bundle, monkeypatch) -> None:
    ran = []
    for name in ("segment_result", "token_result", "row_detail"):
        original = getattr(attention_cache, name)
        monkeypatch.setattr(
            attention_cache,
            name,
            lambda *a, _n=name, _f=original, **k: ran.append(_n) or _f(*a, **k),
        )
    at = _ok(_app(rows, tiny_bundle).run())
    assert ran == []
    _open(at, "One row up close")
    assert ran == ["row_detail"]


def test_row_search_without_a_match_says_so(rows, tiny_bundle) -> None:
    at = _open(_app(rows, tiny_bundle).run(), "One row up close")
    at.segmented_control(key=attention_controls.W_ROW_MODE).set_value("search").run()
    _ok(at.text_input(key=attention_controls.W_ROW_QUERY).input("zzz-nothing").run())
    assert any("No row's events contains" in i.value for i in at.info)


def test_outcome_segment_without_the_outcome_column(rows, tiny_bundle) -> None:
    scoring = rows.drop(columns="purchased")
    at = _open(_app(scoring, tiny_bundle).run(), "By segment")
    assert "(outcome)" not in at.selectbox(key=attention_controls.W_SEGMENT).options
    _open(at, "Words and events")
    assert len(at.get("plotly_chart")) == 1  # no outcome split of the tokens
    _open(at, "One row up close")
    labels = at.segmented_control(key=attention_controls.W_ROW_MODE).options
    assert "The highest score" in labels


def test_cache_keys_follow_content(rows, tiny_bundle) -> None:
    def data(frame):
        dataset = Dataset(frame, "x", tiny_bundle.schema, frame_fingerprint(frame))
        return attention_cache.attention_data(dataset, tiny_bundle)

    assert data(rows).key == data(rows.copy()).key
    other = rows.copy()
    other.loc[0, "events"] = "cart checkout"
    assert data(other).key != data(rows).key
    before = attention_cache.bundle_key(tiny_bundle)
    with torch.no_grad():
        tiny_bundle.model.head.bias += 1.0
    try:
        assert attention_cache.bundle_key(tiny_bundle) != before
    finally:
        with torch.no_grad():
            tiny_bundle.model.head.bias -= 1.0
    assert attention_cache.bundle_key(tiny_bundle) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "task"), [("channel", "multiclass"), ("time_on_site_sec", "regression")]
)
def test_page_handles_multiclass_and_regression(ecommerce_frame, target, task) -> None:
    from neuromkt.data.schema import infer_schema
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import AttentionModel, ModelConfig
    from neuromkt.model.train_config import TrainConfig

    frame = ecommerce_frame.head(400).dropna(subset=[target]).reset_index(drop=True)
    schema = infer_schema(frame, target=target)
    if schema.role_of("events") != "text":
        schema = schema.with_role("events", "text", frame)
    assert schema.task == task
    encoders = Encoders.fit(frame, schema)
    model = AttentionModel(config=ModelConfig.preset("small"), spec=encoders.spec()).eval()
    bundle = ModelBundle(model, encoders, schema, TrainConfig(), {}, "fp", task, task)
    at = _ok(_app(frame, bundle).run())
    assert len(at.get("plotly_chart")) == 2
    _open(at, "By segment")
    for option in at.selectbox(key=attention_controls.W_SEGMENT).options:
        _ok(at.selectbox(key=attention_controls.W_SEGMENT).select(option).run())
    _open(at, "Words and events")
    assert at.get("plotly_chart")
    _open(at, "One row up close")
    _ok(at.segmented_control(key=attention_controls.W_ROW_MODE).set_value("low").run())
