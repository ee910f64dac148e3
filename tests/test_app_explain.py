"""The Explain page under AppTest: guards, controls, caching by content."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.ui import explain_cache
from neuromkt.ui import explain_views as ev
from neuromkt.ui.state import EXPLAIN_PAGE, KEY_BUNDLE, KEY_DATASET, Dataset

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _app(frame=None, bundle=None, schema=None) -> AppTest:
    """The page as a first visit opens it (no run of Home before), with this session state."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(EXPLAIN_PAGE)
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
    """Few rows: the page explains at most this many, so it runs quickly."""
    return ecommerce_frame.head(80)


def _guard_links(at: AppTest) -> list[str]:
    """The URL paths of the page links in the main area (the guard's "Go to …")."""
    return [link.proto.page for link in at.main.get("page_link")]


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The methods computed by ``attribute`` (a cache hit computes nothing)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    seen: list[str] = []
    original = explain_cache.attribute

    def counting(bundle, frame, method, **kwargs):
        seen.append(method)
        return original(bundle, frame, method, **kwargs)

    monkeypatch.setattr(explain_cache, "attribute", counting)
    return seen


def test_without_data_the_page_says_what_to_do() -> None:
    at = _ok(_app().run())
    assert "No data yet" in at.info[0].value
    assert _guard_links(at) == ["Data"]
    assert not at.get("plotly_chart")


def test_without_a_model_the_page_says_what_to_do(rows, tiny_bundle) -> None:
    at = _ok(_app(rows, schema=tiny_bundle.schema).run())
    assert "No model yet" in at.info[0].value
    assert _guard_links(at) == ["Train"]


def test_missing_model_columns_are_named(rows, tiny_bundle) -> None:
    at = _ok(_app(rows.drop(columns=["events"]), tiny_bundle).run())
    assert "'events'" in at.error[0].value
    assert not at.get("plotly_chart")


def test_the_page_renders_every_section(rows, tiny_bundle, calls) -> None:
    at = _ok(_app(rows, tiny_bundle).run())
    assert calls == ["ig"]
    headers = [h.value for h in at.header]
    assert headers == [
        "What drives the predictions",
        "By segment",
        "One prediction, step by step",
        "Does the attention heatmap tell the truth?",
    ]
    assert len(at.get("plotly_chart")) == 9  # ranking, strip, token bar, segments, waterfall,
    # side by side, τ histograms (columns, words), deletion curve
    assert [h.value for h in at.subheader][-1] == (
        "Does attention agree with the attributions in each segment?"
    )
    assert "add up to the score difference" in at.success[0].value
    assert at.info[0].value.startswith("On this data, attention agrees with Integrated")
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Row", "This row's score", "Baseline row's score", "Convergence δ"]
    assert "Top-3 columns agree" in labels


@pytest.mark.slow
def test_controls_rerun_from_the_cache(rows, tiny_bundle, calls) -> None:
    at = _ok(_app(rows, tiny_bundle).run())
    at.selectbox(key=ev.W_SEGMENT).set_value("device")
    _ok(at.run())
    at.segmented_control(key=ev.W_ROW_MODE).set_value("low")
    _ok(at.run())
    at.select_slider(key=ev.W_K).set_value(4)
    _ok(at.run())
    assert "Top-4 columns agree" in [m.label for m in at.metric]
    assert calls == ["ig"]  # none of these recompute the attributions
    at.select_slider(key=ev.W_STEPS).set_value(16)
    _ok(at.run())
    assert calls == ["ig", "ig"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ablation", "occlusion", "gradshap"])
def test_every_method_renders(rows, tiny_bundle, calls, method) -> None:
    at = _ok(_app(rows, tiny_bundle).run())
    at.selectbox(key=ev.W_METHOD).set_value(method)
    _ok(at.run())
    assert calls[-1] == method
    assert len(at.get("plotly_chart")) == 9
    checked = any("no completeness check" in c.value for c in at.caption)
    assert checked == (method != "gradshap")


def test_ablation_offers_only_raw_baselines(rows, tiny_bundle, calls) -> None:
    at = _ok(_app(rows, tiny_bundle).run())
    at.selectbox(key=ev.W_METHOD).set_value("ablation")
    _ok(at.run())
    baseline = next(s for s in at.selectbox if s.label == "Compared with")
    assert baseline.options == ["A typical row", "Missing values"]


@pytest.mark.slow
def test_other_data_is_never_served_from_the_cache(
    rows, tiny_bundle, calls, ecommerce_frame
) -> None:
    _ok(_app(rows, tiny_bundle).run())
    _ok(_app(ecommerce_frame.iloc[80:160], tiny_bundle).run())
    assert calls == ["ig", "ig"]  # same settings, other rows: computed again
    _ok(_app(rows, tiny_bundle).run())
    assert calls == ["ig", "ig"]  # the first data set again: from the cache
