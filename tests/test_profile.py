"""Column profiles, distributions, outcome rates and their figures: known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from neuromkt.data.profile import (
    MISSING_LABEL,
    OTHER_LABEL,
    column_distribution,
    outcome_rates,
    overview_table,
    profile_columns,
)
from neuromkt.data.rates import wilson_interval
from neuromkt.data.schema import infer_schema
from neuromkt.errors import DataError
from neuromkt.figures.data import (
    distribution_figure,
    outcome_rate_figure,
    profile_overview_figure,
)


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1.0, 2.0, None, 4.0],
            "c": ["a", "a", "b", None],
            "flag": [True, False, True, True],
            "when": pd.to_datetime(["2024-01-01", "2024-03-01", None, "2024-02-01"]),
        }
    )


@pytest.fixture
def channels() -> pd.DataFrame:
    """web: 2 of 4 bought; app: 2 of 2; missing channel: 1 of 2; one row without outcome."""
    return pd.DataFrame(
        {
            "channel": ["web"] * 4 + ["app"] * 2 + [None] * 2 + ["web"],
            "bought": [1, 1, 0, 0, 1, 1, 0, 1, None],
            "spend": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
        }
    )


# ---------------------------------------------------------------- profile


def test_profile_columns_known_answers(small: pd.DataFrame) -> None:
    profile = profile_columns(small).set_index("column")
    assert list(profile.index) == ["n", "c", "flag", "when"]
    assert profile.loc["n", "missing"] == 1
    assert profile.loc["n", "missing_pct"] == pytest.approx(25.0)
    assert profile.loc["n", "unique"] == 3
    assert profile.loc["n", "unique_pct"] == pytest.approx(100.0)
    assert profile.loc["n", "mean"] == pytest.approx(7 / 3)
    assert (profile.loc["n", "min"], profile.loc["n", "max"]) == (1.0, 4.0)
    assert profile.loc["n", "summary"] == "mean 2.333 · from 1 to 4"
    assert profile.loc["c", "unique_pct"] == pytest.approx(100 * 2 / 3)
    assert profile.loc["c", "summary"] == "a (67%) · b (33%)"
    assert math.isnan(profile.loc["c", "mean"])
    # booleans are summarised as categories, not averaged
    assert math.isnan(profile.loc["flag", "mean"])
    assert profile.loc["flag", "summary"] == "True (75%) · False (25%)"
    assert profile.loc["when", "summary"].startswith("from 2024-01-01")
    assert (profile["role"] == "").all()


def test_profile_columns_takes_roles_from_the_schema(small: pd.DataFrame) -> None:
    schema = infer_schema(small, target="flag")
    profile = profile_columns(small, schema).set_index("column")
    assert profile.loc["flag", "role"] == "target"
    assert profile.loc["n", "role"] == schema.role_of("n")


def test_profile_of_an_empty_frame_has_no_division_by_zero() -> None:
    profile = profile_columns(pd.DataFrame({"x": pd.Series([], dtype="float64")}))
    assert profile.loc[0, "missing_pct"] == 0.0
    assert profile.loc[0, "unique_pct"] == 0.0


def test_overview_table_keeps_the_most_missing_columns_in_frame_order() -> None:
    frame = pd.DataFrame({"a": [1, None, None], "b": [1, 2, 3], "c": [None, 2, 3], "d": [1, 1, 1]})
    shown = overview_table(profile_columns(frame), max_columns=2)
    assert list(shown["column"]) == ["a", "c"]
    assert len(overview_table(profile_columns(frame), max_columns=10)) == 4


# ---------------------------------------------------------------- distributions


def test_numeric_distribution_is_a_histogram_of_all_values() -> None:
    values = pd.Series(np.arange(100, dtype="float64"))
    values[3] = np.nan
    dist = column_distribution(pd.DataFrame({"x": values}), "x", bins=10)
    assert dist.kind == "numeric"
    assert len(dist.table) == 10
    assert dist.table["count"].sum() == 99
    assert (dist.n_present, dist.n_missing) == (99, 1)
    assert dist.table["left"].iloc[0] == 0.0
    assert dist.table["right"].iloc[-1] == 99.0


def test_categorical_distribution_folds_rare_values_into_other() -> None:
    frame = pd.DataFrame({"c": [*"aaabbcd", None]})
    dist = column_distribution(frame, "c", max_categories=2)
    assert dist.kind == "categorical"
    assert list(dist.table["value"]) == ["a", "b", OTHER_LABEL]
    assert list(dist.table["count"]) == [3, 2, 2]
    assert dist.table["share"].sum() == pytest.approx(1.0)
    assert dist.n_other == 2
    assert dist.n_missing == 1


def test_few_valued_numbers_and_categorical_roles_are_counted_not_binned() -> None:
    frame = pd.DataFrame({"stars": [1, 2, 2, 3, 3, 3] * 5, "zip": list(range(30))})
    assert column_distribution(frame, "stars").kind == "categorical"
    assert column_distribution(frame, "zip").kind == "numeric"
    assert column_distribution(frame, "zip", role="categorical").kind == "categorical"


def test_text_and_date_distributions() -> None:
    frame = pd.DataFrame(
        {
            "text": ["ab", "abcd", "abcdef", None],
            "when": pd.date_range("2024-01-01", periods=4, freq="D"),
        }
    )
    text = column_distribution(frame, "text", role="text", bins=3)
    assert text.kind == "text"
    assert text.table["count"].sum() == 3
    assert text.table["left"].iloc[0] == 2.0 and text.table["right"].iloc[-1] == 6.0
    assert "characters" in text.value_label
    when = column_distribution(frame, "when", bins=2)
    assert when.kind == "datetime"
    assert when.table["count"].sum() == 4
    assert pd.api.types.is_datetime64_any_dtype(when.table["left"])


def test_empty_column_and_unknown_column() -> None:
    frame = pd.DataFrame({"x": [None, None]})
    assert column_distribution(frame, "x").kind == "empty"
    with pytest.raises(DataError, match="'nope'"):
        column_distribution(frame, "nope")


# ---------------------------------------------------------------- outcome rates


def test_wilson_interval_known_values() -> None:
    lower, upper = wilson_interval(5, 10)
    assert float(lower) == pytest.approx(0.2366, abs=1e-4)
    assert float(upper) == pytest.approx(0.7634, abs=1e-4)
    lower, upper = wilson_interval(np.array([0, 20]), np.array([20, 20]))
    assert lower[0] == 0.0 and upper[0] == pytest.approx(0.1611, abs=1e-4)
    assert upper[1] == 1.0 and lower[1] == pytest.approx(0.8389, abs=1e-4)


def test_outcome_rates_per_category_known_answers(channels: pd.DataFrame) -> None:
    rates = outcome_rates(channels, "channel", "bought", positive="1")
    table = rates.table.set_index("category")
    assert list(rates.table["category"]) == ["app", "web", MISSING_LABEL]  # highest first
    assert table.loc["app", "value"] == 1.0
    assert (table.loc["web", "n"], table.loc["web", "n_positive"]) == (4, 2)
    assert table.loc[MISSING_LABEL, "value"] == 0.5
    assert rates.overall == pytest.approx(5 / 8)
    assert rates.n_rows == 8  # the row without an outcome is left out
    lower, upper = wilson_interval(2, 4)
    assert table.loc["web", "lower"] == pytest.approx(float(lower))
    assert table.loc["web", "upper"] == pytest.approx(float(upper))
    assert (rates.table["lower"] <= rates.table["value"]).all()
    assert (rates.table["value"] <= rates.table["upper"]).all()
    assert rates.measure == "rate" and not rates.binned


def test_outcome_mean_for_a_numeric_outcome(channels: pd.DataFrame) -> None:
    rates = outcome_rates(channels, "channel", "spend")
    table = rates.table.set_index("category")
    web = channels.loc[channels["channel"] == "web", "spend"]
    assert table.loc["web", "value"] == pytest.approx(web.mean())
    half = 1.96 * web.std() / math.sqrt(len(web))
    assert table.loc["web", "upper"] == pytest.approx(web.mean() + half)
    assert rates.overall == pytest.approx(channels["spend"].mean())
    assert rates.measure == "mean" and rates.positive is None
    assert table["n_positive"].isna().all()


def test_many_valued_numbers_are_cut_into_ordered_quantile_bins() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(200, dtype="float64")
    frame = pd.DataFrame({"x": x, "y": (rng.random(200) < x / 200).astype(int)})
    rates = outcome_rates(frame, "x", "y", positive="1", n_bins=4, max_categories=10)
    assert rates.binned
    assert len(rates.table) == 4
    assert rates.table["n"].tolist() == [50, 50, 50, 50]
    assert rates.table["category"].iloc[0].startswith("0 – ")
    # the planted rate rises with x, and the bins stay in x order
    assert rates.table["value"].iloc[-1] > rates.table["value"].iloc[0]


def test_rare_categories_fold_into_other() -> None:
    frame = pd.DataFrame({"c": list("aaaabbbcd"), "y": [1, 0, 1, 0, 1, 1, 0, 1, 0]})
    rates = outcome_rates(frame, "c", "y", positive="1", max_categories=2)
    assert set(rates.table["category"]) == {"a", "b", OTHER_LABEL}
    assert rates.n_other == 2
    other = rates.table.set_index("category").loc[OTHER_LABEL]
    assert (other["n"], other["n_positive"]) == (2, 1)


def test_outcome_rates_use_normalised_target_labels() -> None:
    frame = pd.DataFrame({"c": ["x", "x", "y"], "clicked": [" Yes", "no", "YES "]})
    rates = outcome_rates(frame, "c", "clicked", positive="yes")
    assert rates.table.set_index("category")["value"].to_dict() == {"y": 1.0, "x": 0.5}


@pytest.mark.parametrize(
    ("column", "target", "positive", "message"),
    [
        ("bought", "bought", "1", "other than the outcome"),
        ("nope", "bought", "1", "no column 'nope'"),
        ("channel", "bought", "7", "never equals '7'"),
        ("spend", "channel", None, "not numeric"),
    ],
)
def test_outcome_rates_refuse_bad_requests(
    channels: pd.DataFrame, column: str, target: str, positive: str | None, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        outcome_rates(channels, column, target, positive=positive)


# ---------------------------------------------------------------- figures


def test_outcome_rate_figure_draws_sorted_bars_intervals_and_overall_line(
    channels: pd.DataFrame,
) -> None:
    rates = outcome_rates(channels, "channel", "bought", positive="1")
    fig = outcome_rate_figure(rates)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 1
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h"
    assert list(bar.y) == ["app", "web", MISSING_LABEL]
    assert list(bar.x) == list(rates.table["value"])
    np.testing.assert_allclose(bar.error_x.array, rates.table["upper"] - rates.table["value"])
    np.testing.assert_allclose(bar.error_x.arrayminus, rates.table["value"] - rates.table["lower"])
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == pytest.approx(5 / 8)
    assert "bought = 1" in fig.layout.title.text
    assert fig.layout.xaxis.tickformat == ".0%"


def test_figures_escape_user_text() -> None:
    frame = pd.DataFrame({"<b>c</b>": ["<script>x</script>", "ok"], "y": [1, 0]})
    fig = outcome_rate_figure(outcome_rates(frame, "<b>c</b>", "y", positive="1"))
    assert "&lt;script&gt;x&lt;/script&gt;" in fig.data[0].y
    assert "<b>" not in fig.layout.title.text
    overview = profile_overview_figure(profile_columns(frame))
    assert "&lt;b&gt;c&lt;/b&gt;" in overview.data[0].y


def test_distribution_figures_match_their_tables() -> None:
    frame = pd.DataFrame({"x": np.arange(50, dtype="float64"), "c": list("ab") * 25})
    hist = distribution_figure(column_distribution(frame, "x", bins=5))
    assert len(hist.data) == 1 and hist.data[0].type == "bar"
    assert list(hist.data[0].y) == [10, 10, 10, 10, 10]
    counts = distribution_figure(column_distribution(frame, "c"))
    assert list(counts.data[0].y) == ["a", "b"]
    assert list(counts.data[0].x) == [25, 25]
    empty = distribution_figure(column_distribution(pd.DataFrame({"e": [None]}), "e"))
    assert len(empty.data) == 0


def test_profile_overview_figure_has_missing_and_distinct_traces(small: pd.DataFrame) -> None:
    profile = profile_columns(small)
    fig = profile_overview_figure(profile)
    assert [trace.name for trace in fig.data] == ["Missing %", "Distinct %"]
    assert list(fig.data[0].y) == ["n", "c", "flag", "when"]
    assert list(fig.data[0].x) == pytest.approx([25.0, 25.0, 0.0, 25.0])
    assert fig.layout.xaxis.range == (0, 100)
