"""What-if: editing a row, rescoring it and comparing it with the original."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuromkt.act.whatif import (
    add_tokens,
    changed_columns,
    compare_rows,
    controls,
    edit_row,
    remove_tokens,
    set_tokens,
    typical_row,
)
from neuromkt.data.samples import SAMPLES
from neuromkt.errors import DataError
from neuromkt.figures.predict import CHANGED_MARK, comparison_bars
from neuromkt.model.inference import predict


@pytest.fixture(scope="module")
def start(tiny_bundle, ecommerce_frame) -> pd.DataFrame:
    """The typical row: no cart, no checkout, a new visitor."""
    return typical_row(tiny_bundle.encoders, ecommerce_frame)


def test_typical_row_is_medians_and_modes(tiny_bundle, ecommerce_frame, start) -> None:
    frame = ecommerce_frame
    assert len(start) == 1 and list(start.columns) == list(frame.columns)
    assert start["pages_viewed"].iat[0] == frame["pages_viewed"].median()
    assert start["time_on_site_sec"].iat[0] == frame["time_on_site_sec"].median()
    assert start["channel"].iat[0] == frame["channel"].mode().iat[0]
    assert start["events"].iat[0] == frame["events"].mode().iat[0]
    assert pd.isna(start["session_id"].iat[0]) and pd.isna(start["purchased"].iat[0])
    assert predict(tiny_bundle, start).shape == (1,)


def test_controls_follow_the_data(tiny_bundle, ecommerce_frame) -> None:
    by_name = {c.column: c for c in controls(tiny_bundle.encoders, ecommerce_frame)}
    pages = by_name["pages_viewed"]
    assert (pages.minimum, pages.maximum) == (
        ecommerce_frame["pages_viewed"].min(),
        ecommerce_frame["pages_viewed"].max(),
    )
    assert pages.whole and pages.step == 1
    score = by_name["ad_slot_score"]
    assert not score.whole and score.step == pytest.approx(0.1)
    assert set(by_name["returning_visitor"].options) == {"yes", "no"}
    assert {"cart", "checkout", "bounce"} <= set(by_name["events"].vocabulary)


def test_token_edits(start) -> None:
    row = set_tokens(start, "events", ["home", "search"])
    assert row["events"].iat[0] == "home search"
    row = add_tokens(row, "events", ["cart", "checkout"])
    assert row["events"].iat[0] == "home search cart checkout"
    row = remove_tokens(row, "events", ["search"])
    assert row["events"].iat[0] == "home cart checkout"
    assert start["events"].iat[0] != row["events"].iat[0]  # the original is untouched


def test_edit_row_checks_its_input(start) -> None:
    with pytest.raises(DataError, match="no column 'nope'"):
        edit_row(start, {"nope": 1})
    with pytest.raises(ValueError):
        edit_row(pd.concat([start, start]), {"channel": "email"})


def test_changed_columns_compare_as_the_model_reads(tiny_bundle, start) -> None:
    same = edit_row(start, {"pages_viewed": float(start["pages_viewed"].iat[0])})
    same = set_tokens(same, "events", start["events"].iat[0].upper().split())
    assert changed_columns(tiny_bundle.encoders, start, same) == []
    edited = edit_row(start, {"returning_visitor": "yes", "pages_viewed": 12})
    assert changed_columns(tiny_bundle.encoders, start, edited) == [
        "pages_viewed",
        "returning_visitor",
    ]


@pytest.mark.parametrize(
    ("edit", "column"),
    [
        (lambda row: add_tokens(row, "events", ["cart"]), "events"),
        (lambda row: add_tokens(row, "events", ["checkout"]), "events"),
        (lambda row: edit_row(row, {"returning_visitor": "yes"}), "returning_visitor"),
        (lambda row: edit_row(row, {"device": "desktop"}), "device"),
    ],
    ids=["add cart", "add checkout", "returning visitor", "not on mobile"],
)
def test_planted_drivers_raise_the_score(tiny_bundle, start, edit, column) -> None:
    spec = SAMPLES["ecommerce"]
    assert column in spec.drivers or column in spec.driver_tokens
    assert start["returning_visitor"].iat[0] == "no" and start["device"].iat[0] == "mobile"
    result = compare_rows(tiny_bundle, start, edit(start))
    assert result.changed == (column,)
    assert result.delta > 0
    assert result.score_after == pytest.approx(float(predict(tiny_bundle, edit(start))[0]))
    row = result.features.set_index("feature").loc[column]
    assert row["changed"]
    assert row["attribution_after"] > row["attribution_before"]


def test_comparison_tables_and_figure(tiny_bundle, start) -> None:
    edited = add_tokens(edit_row(start, {"returning_visitor": "yes"}), "events", ["cart"])
    result = compare_rows(tiny_bundle, start, edited)
    features = result.features
    assert features["feature"].tolist() == tiny_bundle.encoders.input_columns
    assert features.loc[features["changed"], "feature"].tolist() == [
        "returning_visitor",
        "events",
    ]
    after = result.token_values("events", "after")
    assert after["token"].tolist()[-1] == "cart"
    assert after["value"].iat[-1] == pytest.approx(
        features.set_index("feature").at["events", "attribution_after"]
        - after["value"].iloc[:-1].sum()
    )
    assert "cart" in result.drivers_after and "cart" not in result.drivers_before
    bars = result.bars("attention")
    assert np.allclose(bars["before"], features["attention_before"])
    fig = comparison_bars(bars, measure="attention")
    labels = fig.layout.yaxis.ticktext
    marked = [label for label in labels if CHANGED_MARK in label]
    assert len(marked) == 2 and any("returning_visitor" in label for label in marked)
    assert [trace.name for trace in fig.data] == ["original", "edited"]
