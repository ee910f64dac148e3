"""The noise floor: planted drivers clear it, documented noise columns do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.samples import SAMPLES, load_sample, sample_path
from neuromkt.explain.noise import noise_floor
from neuromkt.figures.attention import feature_bar
from neuromkt.model.bundle import load_bundle
from neuromkt.model.evaluation import holdout_rows

ROOT = sample_path("ecommerce").parent


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_planted_drivers_clear_the_floor_and_noise_columns_do_not(key: str) -> None:
    bundle = load_bundle(ROOT / "models" / f"{key}.zip")
    frame = load_sample(key)
    test_rows = frame.iloc[holdout_rows(bundle, frame)["test"]]
    table = noise_floor(bundle, test_rows).set_index("feature")
    spec = SAMPLES[key]
    assert set(table.index) == set(bundle.encoders.input_columns)
    assert not table.loc[list(spec.noise), "distinguishable"].any(), table
    assert table.loc[spec.drivers[0], "distinguishable"], table  # the strongest driver
    strongest_noise = table.loc[list(spec.noise), "loss_increase"].max()
    assert table.loc[spec.drivers[0], "loss_increase"] > 5 * max(strongest_noise, 1e-4)


def test_the_table_is_sorted_and_flags_follow_the_z_score(tiny_bundle, ecommerce_frame) -> None:
    table = noise_floor(tiny_bundle, ecommerce_frame.tail(500), repeats=3)
    assert list(table.columns) == [
        "feature", "loss_increase", "standard_error", "z_score", "distinguishable"
    ]  # fmt: skip
    assert table["loss_increase"].is_monotonic_decreasing
    assert (table["z_score"] >= 2.5).eq(table["distinguishable"]).all()


def test_too_few_rows_or_repeats_are_refused(tiny_bundle, ecommerce_frame) -> None:
    with pytest.raises(ValueError, match="at least 20 rows"):
        noise_floor(tiny_bundle, ecommerce_frame.head(5))
    with pytest.raises(ValueError, match="repeats=0"):
        noise_floor(tiny_bundle, ecommerce_frame, repeats=0)


def test_feature_bar_hatches_columns_below_the_floor() -> None:
    table = pd.DataFrame(
        {
            "feature": ["events", "region", "channel"],
            "kind": ["text", "categorical", "categorical"],
            "attention": [0.5, 0.3, 0.2],
            "distinguishable": [True, False, True],
        }
    )
    fig = feature_bar(table)
    patterns = {}
    for trace in fig.data:
        for y, shape, hover in zip(
            trace.y, trace.marker.pattern.shape, trace.customdata, strict=True
        ):
            patterns[int(y)] = (shape, "noise" in hover)
    assert patterns == {0: ("", False), 1: ("/", True), 2: ("", False)}
    assert "hatched: noise" in fig.layout.xaxis.title.text.replace(
        "<br>", " "
    )  # the hover says it in full
    plain = feature_bar(table.drop(columns="distinguishable"))
    assert "noise" not in plain.layout.xaxis.title.text
    assert np.all([s == "" for t in plain.data for s in t.marker.pattern.shape])
