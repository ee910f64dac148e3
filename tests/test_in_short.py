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
