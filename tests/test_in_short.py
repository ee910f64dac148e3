"""The "In short" table: effects in percentage points, direction as value vs effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuromkt.act.in_short import driver_summary, in_short
from neuromkt.data.samples import load_sample, sample_path
from neuromkt.explain.attributions import attribute
from neuromkt.model.bundle import load_bundle


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    bundle = load_bundle(sample_path("ecommerce").parent / "models" / "ecommerce.zip")
    frame = load_sample("ecommerce").head(200).reset_index(drop=True)
    result = attribute(bundle, frame, "ig", steps=8)
    noise = pd.DataFrame({"feature": ["day_of_week"], "distinguishable": [False]})
    return driver_summary(result, frame, bundle, noise=noise).set_index("feature")


def test_effects_are_percentage_points_and_directions_follow_values(summary) -> None:
    assert (summary["unit"] == "pts").all()
    assert summary["effect"].between(0, 100).all()
    # time on site: the planted "the longer, the likelier" driver
    assert summary.loc["time_on_site_sec", "relation"] > 0.3
    assert summary.loc["time_on_site_sec", "words"] == "the higher it is, the more likely"
    assert np.isnan(summary.loc["channel", "relation"])  # categories: per level
    assert "raises it most" in summary.loc["channel", "words"]


def test_in_short_names_noise_and_leaves_it_out_of_the_drivers(summary) -> None:
    lines = in_short(summary.reset_index(), "purchased = 1", top=3)
    assert len(lines) == 4
    assert all("percentage points" in line for line in lines[:3])
    assert not any(line.startswith("day_of_week") for line in lines[:3])
    assert lines[-1].startswith("day_of_week") and "noise" in lines[-1]


def test_ranking_colour_is_the_relation_of_value_and_effect_not_the_signed_mean() -> None:
    from neuromkt.figures._style import MUTED
    from neuromkt.figures.explain import ranking_bar

    table = pd.DataFrame(
        {
            "feature": ["page_values", "channel", "bounce_rate"],
            "importance": [0.5, 0.3, 0.2],
            # PageValues: high values raise the score, yet its mean push is negative
            "signed_mean": [-0.2, 0.1, 0.05],
            "relation": [0.9, np.nan, -0.7],
        }
    )
    colors = ranking_bar(table).data[0].marker.color
    red, grey, blue = (tuple(int(v) for v in c[4:-1].split(",")) if c.startswith("rgb") else c
                       for c in colors)  # fmt: skip
    assert red[0] > red[2] and blue[2] > blue[0]  # red for "higher raises", blue for "lowers"
    assert grey == MUTED
    assert "higher values raise the score" in ranking_bar(table).data[0].customdata[0]
