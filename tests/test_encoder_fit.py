"""Encoders from a streaming pass: the same as Encoders.fit under the caps, bounded above them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.schema import Schema, infer_schema
from neuromkt.model.encoder_fit import EncoderSketch, SketchConfig, _histogram_quantile
from neuromkt.model.encoders import Encoders


def _sketch(frame: pd.DataFrame, schema: Schema, ranks: int, rows: int, **caps) -> EncoderSketch:
    """Chunks of ``rows`` rows dealt round-robin to ``ranks`` sketches, then merged."""
    sketches = [EncoderSketch(schema, sketch=SketchConfig(**caps)) for _ in range(ranks)]
    for i, start in enumerate(range(0, len(frame), rows)):
        sketches[i % ranks].update(frame.iloc[start : start + rows])
    return EncoderSketch.merge(sketches)


@pytest.mark.parametrize(("ranks", "rows"), [(1, 4000), (1, 333), (3, 500)])
def test_streamed_encoders_equal_encoders_fit(ecommerce_frame, ecommerce_schema, ranks, rows):
    expected = Encoders.fit(ecommerce_frame, ecommerce_schema)
    got = _sketch(ecommerce_frame, ecommerce_schema, ranks, rows).finish()
    assert got.to_dict() == expected.to_dict()


def test_regression_target_moments_are_exact(ecommerce_frame):
    schema = infer_schema(ecommerce_frame, target="time_on_site_sec")
    assert schema.task == "regression"
    got = _sketch(ecommerce_frame, schema, 2, 700).finish()
    expected = Encoders.fit(ecommerce_frame, schema)
    assert got.target_mean == pytest.approx(expected.target_mean, rel=1e-12)
    assert got.target_std == pytest.approx(expected.target_std, rel=1e-12)


def test_reservoir_is_bounded_and_its_quantiles_close(ecommerce_frame, ecommerce_schema):
    sketch = _sketch(ecommerce_frame, ecommerce_schema, 2, 500, reservoir_size=800)
    described = sketch.describe()
    assert set(described["numeric_sampled"].values()) == {800}
    assert described["numeric_seen"]["ad_slot_score"] == len(ecommerce_frame)
    got = {e.name: e for e in sketch.finish().numeric}
    values = ecommerce_frame["ad_slot_score"].to_numpy(dtype=float)
    # The encoder maps a value to its quantile level; on a uniform 800-value sample the
    # levels of the true deciles are off by a few hundredths at most.
    deciles = np.quantile(values, np.linspace(0.1, 0.9, 9))
    levels = np.interp(deciles, got["ad_slot_score"].quantiles, got["ad_slot_score"].levels)
    np.testing.assert_allclose(levels, np.linspace(0.1, 0.9, 9), atol=0.06)


def test_reservoir_sample_is_uniform_over_the_stream(ecommerce_schema):
    frame = pd.DataFrame({c: ["a"] * 20_000 for c in [*ecommerce_schema.categorical, "events"]})
    frame["purchased"] = 0
    for c in ecommerce_schema.numeric:
        frame[c] = np.arange(20_000, dtype=float)  # the place in the stream
    sketch = _sketch(frame, ecommerce_schema, 2, 1000, reservoir_size=2000)
    kept = sketch.numeric["ad_slot_score"].values
    assert len(kept) == 2000 and len(np.unique(kept)) == 2000
    counts = np.histogram(kept, bins=4, range=(0, 20_000))[0]
    assert counts.min() > 400  # each quarter of the stream ~500 times, not the first 2000 rows


def test_capped_counts_keep_the_frequent_levels(ecommerce_frame, ecommerce_schema):
    frame = ecommerce_frame.copy()
    frame["browser"] = [f"rare-{i}" for i in range(len(frame))]  # 4,000 levels seen once
    frame.loc[::2, "browser"] = "Chrome"
    frame.loc[1::4, "browser"] = "Safari"
    sketch = _sketch(frame, ecommerce_schema, 2, 250, max_levels=100)
    assert sketch.describe()["pruned_columns"]["browser"] > 0
    assert len(sketch.levels["browser"]) <= 100
    levels = {e.name: e.levels for e in sketch.finish().categorical}["browser"]
    assert levels == ["(other)", "(missing)", "Chrome", "Safari"]


@pytest.mark.parametrize("q", [0.0, 0.5, 0.98, 1.0])
def test_histogram_quantile_equals_numpy(q):
    lengths = np.random.default_rng(0).poisson(9, 5001)
    counts = np.bincount(lengths, minlength=4097)
    assert _histogram_quantile(counts, q) == pytest.approx(np.quantile(lengths, q))
