"""Attention against attributions: rank agreement, deletion curves, the verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from neuromkt.explain.agreement import (
    JAIN_WALLACE_TAU,
    agreement_by_segment,
    agreement_table,
    deletion_curve,
    row_comparison,
    summarize_agreement,
    verdict,
)
from neuromkt.explain.attention import compute_attention, position_values
from neuromkt.explain.attributions import attribute
from neuromkt.explain.rank_stats import kendall_tau, top_k_overlap


@pytest.fixture(scope="module")
def rows(ecommerce_frame: pd.DataFrame) -> pd.DataFrame:
    return ecommerce_frame.iloc[1000:1080]


@pytest.fixture(scope="module")
def ig(tiny_bundle, rows):
    return attribute(tiny_bundle, rows, "ig")


@pytest.fixture(scope="module")
def attention(tiny_bundle, rows) -> np.ndarray:
    return position_values(compute_attention(tiny_bundle, rows))


# ---------------------------------------------------------------- rank statistics


def test_kendall_tau_matches_scipy_tau_b_with_ties_and_masks() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (40, 9)).astype(float)  # many ties
    b = a + rng.normal(0, 1.5, a.shape)
    b[:, ::3] = np.round(b[:, ::3])
    valid = rng.random(a.shape) > 0.25
    ours = kendall_tau(a, b, valid)
    for i in range(len(a)):
        expected = kendalltau(a[i, valid[i]], b[i, valid[i]]).statistic
        if np.isnan(expected):
            assert np.isnan(ours[i])
        else:
            assert ours[i] == pytest.approx(expected, abs=1e-12)


def test_kendall_tau_extremes() -> None:
    a = np.array([[1.0, 2, 3, 4], [1, 2, 3, 4], [5, 5, 5, 5]])
    b = np.array([[10.0, 20, 30, 40], [4, 3, 2, 1], [1, 2, 3, 4]])
    tau = kendall_tau(a, b)
    assert tau[0] == 1.0 and tau[1] == -1.0 and np.isnan(tau[2])  # all ties: undefined


def test_kendall_tau_b_known_answer_with_ties() -> None:
    # Pairs of 4 positions: 4 concordant, 0 discordant, one tie in a, one in b:
    # τ-b = (4 - 0) / sqrt((6 - 1) * (6 - 1)) = 0.8.
    tau = kendall_tau(np.array([[1.0, 1, 2, 3]]), np.array([[1.0, 2, 2, 3]]))
    assert tau[0] == pytest.approx(0.8, abs=1e-12)


def test_kendall_tau_too_few_positions_nan_values_and_empty_input(recwarn) -> None:
    a = np.array([[1.0, 2, 3], [1, 2, 3], [1, 2, 3], [1, np.nan, 3], [1, np.nan, 3]])
    b = np.array([[3.0, 2, 1], [3, 2, 1], [3, 2, 1], [1, 2, 3], [1, 2, 3]])
    valid = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1], [1, 0, 1]], dtype=bool)
    tau = kendall_tau(a, b, valid)
    assert np.isnan(tau[:2]).all()  # no pair to compare
    assert tau[2] == -1.0  # two positions are one pair
    assert np.isnan(tau[3])  # a NaN among the valid positions is not silently skipped
    assert tau[4] == 1.0  # ... but one outside them does not matter
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert kendall_tau(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0,)
    assert np.isnan(kendall_tau(np.zeros((2, 0)), np.zeros((2, 0)))).all()
    with pytest.raises(ValueError, match="must be one"):
        kendall_tau(np.zeros((2, 3)), np.zeros((2, 4)))


def test_top_k_overlap_known_answers() -> None:
    a = np.array([[9.0, 8, 7, 1, 0], [9, 8, 7, 1, 0], [3, 2, 1, 0, 0]])
    b = np.array([[7.0, 9, 8, 0, 1], [0, 1, 2, 8, 9], [3, 2, 1, 0, 0]])
    valid = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=bool)
    overlap = top_k_overlap(a, b, valid, k=3)
    assert overlap[0] == 1.0 and overlap[1] == pytest.approx(1 / 3)  # only position 2
    assert np.isnan(overlap[2])  # only 3 valid positions: the top 3 always agree


# ---------------------------------------------------------------- per-row agreement


def test_agreement_table_rows_and_uniform_reference(tiny_bundle, ig, attention) -> None:
    table = agreement_table(ig, attention, tiny_bundle.encoders, k=3)
    assert table.index.equals(ig.index)
    assert table["tau_features"].between(-1, 1).all()
    assert table["overlap_features"].isin([0, 1 / 3, 2 / 3, 1]).all()
    # the uniform reference is a random ranking: no agreement on average
    assert abs(table["uniform_tau_features"].mean()) < 0.1
    n_features = len(tiny_bundle.encoders.feature_columns)
    assert abs(table["uniform_overlap_features"].mean() - 3 / n_features) < 0.1  # chance: k / n
    # token scope only counts rows with more than k real tokens
    n_tokens = table["n_tokens"]
    assert table.loc[n_tokens <= 3, "overlap_tokens"].isna().all()
    assert table.loc[n_tokens > 3, "overlap_tokens"].notna().all()


def test_summary_and_verdict(tiny_bundle, ig, attention) -> None:
    table = agreement_table(ig, attention, tiny_bundle.encoders, k=3)
    summary = summarize_agreement(table)
    assert list(summary["scope"]) == ["features", "tokens"]
    line = summary.set_index("scope").loc["features"]
    overlap = table["overlap_features"]
    assert line["agree"] == pytest.approx((overlap >= 2 / 3 - 1e-9).mean())
    assert line["rows"] == len(table)
    text = verdict(summary, "ig")
    assert text.startswith("On this data, attention agrees with Integrated Gradients on the top 3")
    assert f"{line['agree']:.0%} of rows" in text
    assert f"{JAIN_WALLACE_TAU[0]}–{JAIN_WALLACE_TAU[1]}" in text


def test_agreement_by_segment_splits_the_rows(tiny_bundle, ig, attention, rows) -> None:
    table = agreement_table(ig, attention, tiny_bundle.encoders)
    labels = pd.Series(pd.Categorical(rows["device"]), index=rows.index)
    by = agreement_by_segment(table, labels)
    assert by["rows"].sum() == len(rows)
    assert set(by["segment"]) == set(rows["device"])
    mobile = table[rows["device"] == "mobile"]["tau_features"].mean()
    assert by.set_index("segment").loc["mobile", "tau_features"] == pytest.approx(mobile)


def test_row_comparison_puts_attention_next_to_attribution(tiny_bundle, ig, attention) -> None:
    table = row_comparison(ig, attention, tiny_bundle.encoders, 4)
    assert set(table["feature"]) == set(tiny_bundle.encoders.input_columns)
    assert table["attention"].sum() == pytest.approx(1 - attention[4, 0], abs=1e-5)
    assert table["attribution"].sum() == pytest.approx(ig.raw[4].sum(), abs=1e-6)
    assert table["attribution"].abs().is_monotonic_decreasing


def test_mismatched_rows_are_refused(tiny_bundle, ig, attention) -> None:
    with pytest.raises(ValueError, match="compute both on the same rows"):
        agreement_table(ig, attention[:-1], tiny_bundle.encoders)


# ---------------------------------------------------------------- deletion curve


def test_deletion_curve_ig_falls_at_least_as_fast_as_random(
    tiny_bundle, rows, ig, attention
) -> None:
    curve = deletion_curve(tiny_bundle, rows, ig, attention, max_k=8)
    start = curve.curve[curve.curve["k"] == 0]
    assert np.allclose(start["remaining"], 1.0)
    assert curve.auc["attribution"] <= curve.auc["random"]
    assert set(curve.curve["ranking"]) == {"attention", "attribution", "random"}
    assert curve.rows == len(rows)


def test_removing_every_feature_reaches_the_baseline(tiny_bundle, rows, ig, attention) -> None:
    n = len(tiny_bundle.encoders.feature_columns)
    every = tiny_bundle.encoders.spec().n_positions
    curve = deletion_curve(tiny_bundle, rows, ig, attention, scope="all", max_k=every)
    end = curve.curve[curve.curve["k"] == every]["remaining"]
    assert np.allclose(end, 0.0, atol=1e-5)  # everything removed: the baseline row itself
    features_only = deletion_curve(tiny_bundle, rows, ig, attention, scope="features", max_k=n)
    last = features_only.curve[features_only.curve["k"] == n]["remaining"].to_numpy()
    assert np.allclose(last, last[0])  # all rankings end in the same place


def test_deletion_verdict_words(tiny_bundle, rows, ig, attention) -> None:
    table = agreement_table(ig, attention, tiny_bundle.encoders)
    curve = deletion_curve(tiny_bundle, rows, ig, attention, max_k=5)
    text = verdict(summarize_agreement(table), "ig", curve)
    assert "Deleting inputs in attention's order leaves" in text
    assert "random order" in text
    with pytest.raises(ValueError, match="scope='nope'"):
        deletion_curve(tiny_bundle, rows, ig, attention, scope="nope")
