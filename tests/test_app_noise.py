"""The noise floor in the product: the Attention and Explain rankings and the report."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.explain.noise import held_out_noise_floor
from neuromkt.figures.explain import ranking_bar
from neuromkt.model.evaluation import holdout_rows
from neuromkt.report.document import build_report
from neuromkt.ui.state import ATTENTION_PAGE, EXPLAIN_PAGE, KEY_BUNDLE, KEY_DATASET, Dataset

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page(page: str, frame, bundle) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(page)
    at.session_state[KEY_DATASET] = Dataset(
        frame, "sample", bundle.schema, frame_fingerprint(frame)
    )
    at.session_state[KEY_BUNDLE] = bundle
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _array(values) -> list:
    """A trace's array as plotly's JSON holds it: a list, or base64 bytes with a dtype."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    return list(values)


def _hatched(at: AppTest, key: str) -> set[str]:
    """The y labels of the chart's bars drawn with a hatch pattern."""
    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    fig = pio.from_json(chart.proto.spec)
    names = list(fig.layout.yaxis.ticktext)
    hatched = set()
    for trace in fig.data:
        shapes = trace.marker.pattern.shape
        if isinstance(shapes, str) or shapes is None:
            continue
        for y, shape in zip(_array(trace.y), shapes, strict=True):
            if shape == "/":
                hatched.add(names[int(y)])
    return hatched


def _noise_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "noise" in c.value]


def test_held_out_noise_floor_uses_the_test_rows_of_the_training_data(
    tiny_bundle, ecommerce_frame
) -> None:
    table, rows = held_out_noise_floor(tiny_bundle, ecommerce_frame, repeats=1, max_rows=400)
    assert rows == "400 held-out test rows"
    assert set(table["feature"]) == set(tiny_bundle.encoders.input_columns)
    assert len(holdout_rows(tiny_bundle, ecommerce_frame)["test"]) >= 400
    other, words = held_out_noise_floor(tiny_bundle, ecommerce_frame.head(300), repeats=1)
    assert words == "300 rows of this data set" and other is not None
    assert held_out_noise_floor(tiny_bundle, ecommerce_frame.drop(columns="purchased")) == (
        None,
        "",
    )


def test_ranking_bar_hatches_bars_below_the_floor() -> None:
    table = pd.DataFrame(
        {
            "feature": ["events", "day_of_week"],
            "importance": [0.4, 0.1],
            "signed_mean": [0.2, -0.01],
            "distinguishable": [True, False],
        }
    )
    fig = ranking_bar(table)
    assert list(fig.data[0].marker.pattern.shape) == ["", "/"]
    assert "noise" in fig.layout.xaxis.title.text
    assert (
        "hatched" not in ranking_bar(table.drop(columns="distinguishable")).layout.xaxis.title.text
    )


@pytest.mark.slow
def test_attention_and_explain_pages_mark_drivers_below_the_noise_floor(
    tiny_bundle, ecommerce_frame
) -> None:
    rows = ecommerce_frame.head(1500)
    table, _ = held_out_noise_floor(tiny_bundle, rows)
    below = set(table.loc[~table["distinguishable"], "feature"])
    assert below, "the sample's noise columns should not clear the floor"
    for page, key in ((ATTENTION_PAGE, "att_feature_bar"), (EXPLAIN_PAGE, "exp_ranking")):
        at = _page(page, rows, tiny_bundle)
        captions = _noise_captions(at)
        assert any("not distinguishable from noise" in c and "1,500 rows" in c for c in captions)
        assert _hatched(at, key) == below, page


@pytest.mark.slow
def test_report_marks_drivers_below_the_noise_floor(tiny_bundle, ecommerce_frame) -> None:
    page = build_report(tiny_bundle, ecommerce_frame.head(600), max_rows=100)
    assert "not distinguishable from noise" in page
    assert '"/"' in page  # a hatched bar


@pytest.mark.slow
def test_pages_open_with_in_short_and_fold_the_jargon_away(tiny_bundle, ecommerce_frame) -> None:
    rows = ecommerce_frame.head(1500)
    for page in (ATTENTION_PAGE, EXPLAIN_PAGE):
        at = _page(page, rows, tiny_bundle)
        markdown = [m.value for m in at.markdown]
        assert "**In short**" in markdown, page
        panel = markdown[markdown.index("**In short**") + 1]
        assert "[CLS]" not in panel and "log-odds" not in panel and "τ" not in panel
        assert at.expander[0].label == "For analysts"
    explain = _page(EXPLAIN_PAGE, rows, tiny_bundle)
    markdown = [m.value for m in explain.markdown]
    panel = markdown[markdown.index("**In short**") + 1]
    assert "percentage points" in panel  # effects in points of the outcome rate
    assert "not distinguishable from noise" in panel
