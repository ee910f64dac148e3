"""The Report page, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.schema import infer_schema
from neuromkt.ui.report_views import KEY_REPORT, W_REPORT_BUILD, W_REPORT_TITLE
from neuromkt.ui.state import KEY_BUNDLE, KEY_DATASET, REPORT_PAGE, Dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _page(bundle=None, frame: pd.DataFrame | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state[KEY_BUNDLE] = bundle
    if frame is not None:
        schema = infer_schema(frame, target="purchased").with_role("events", "text", frame)
        dataset = Dataset(frame, "<b>sessions</b>.csv", schema, frame_fingerprint(frame))
        at.session_state[KEY_DATASET] = dataset
    at.switch_page(REPORT_PAGE).run()
    assert not at.exception
    return at


def test_without_data_or_model_the_page_says_what_to_do(tiny_bundle, ecommerce_frame) -> None:
    at = _page()
    assert any("No data yet" in info.value for info in at.info)
    at = _page(None, ecommerce_frame.head(50))
    assert any("No model yet" in info.value for info in at.info)
    assert W_REPORT_BUILD not in [button.key for button in at.button]


def test_build_preview_and_download_the_report(tiny_bundle, ecommerce_frame) -> None:
    at = _page(tiny_bundle, ecommerce_frame.head(200))
    assert at.text_input(key=W_REPORT_TITLE).value == "What drives purchased"
    assert not at.get("download_button")
    at.text_input(key=W_REPORT_TITLE).input("Q3 <i>review</i>").run()
    at.button(key=W_REPORT_BUILD).click().run()
    assert not at.exception
    report = at.session_state[KEY_REPORT]
    assert report.file_name == "q3-i-review-i.html"
    assert report.html.startswith("<!DOCTYPE html>")
    assert "<title>Q3 &lt;i&gt;review&lt;/i&gt;</title>" in report.html
    assert "Data set <b>&lt;b&gt;sessions&lt;/b&gt;.csv</b>" in report.html
    (download,) = at.get("download_button")
    assert download.proto.label.startswith("Download the report (")
    assert len(at.get("iframe")) == 1  # the preview
    # the same model, data and title: nothing to rebuild on the next run
    at.run()
    assert W_REPORT_BUILD not in [button.key for button in at.button]
    assert at.session_state[KEY_REPORT] is report
