"""Figures of attributions and agreement: pure, escaped, drawing what they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from neuromkt.figures.explain import (
    attention_attribution_bars,
    attribution_strip_figure,
    deletion_figure,
    ranking_bar,
    segment_attribution_heatmap,
    tau_histogram,
    token_attribution_html,
    waterfall_figure,
)

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def ranking() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": ["events", HOSTILE, "device"],
            "importance": [0.5, 0.2, 0.1],
            "signed_mean": [0.3, -0.2, 0.01],
            "share": [0.625, 0.25, 0.125],
        }
    )


def _strings(fig: go.Figure) -> str:
    return fig.to_json()


def test_ranking_bar_colours_by_signed_mean_and_escapes(ranking) -> None:
    fig = ranking_bar(ranking, title=f"Ranked {HOSTILE}", unit="log-odds")
    (bar,) = fig.data
    assert list(bar.x) == [0.5, 0.2, 0.1]
    assert list(bar.marker.color) == [0.3, -0.2, 0.01]
    assert bar.marker.cmin == -0.3 and bar.marker.cmax == 0.3  # symmetric around 0
    assert HOSTILE not in _strings(fig)
    assert "&lt;img" in fig.layout.yaxis.ticktext[1]
    assert "&lt;img" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "mean |attribution| (log-odds)"


def test_ranking_bar_draws_tokens_without_share() -> None:
    tokens = pd.DataFrame(
        {"token": ["cart", "bounce"], "importance": [1.0, 0.4], "signed_mean": [1.0, -0.4]}
    )
    fig = ranking_bar(tokens, label="token")
    assert list(fig.layout.yaxis.ticktext) == ["cart", "bounce"]
    assert "share" not in fig.data[0].customdata[0]


def test_strip_figure_colours_numbers_and_greys_categories() -> None:
    strip = pd.DataFrame(
        {
            "feature": ["time", "time", "device", "device"],
            "attribution": [0.2, -0.1, 0.05, 0.0],
            "value": ["600", "30", HOSTILE, "mobile"],
            "level": [1.0, 0.0, np.nan, np.nan],
            "row": [1, 2, 1, 2],
        }
    )
    fig = attribution_strip_figure(strip, title="rows")
    grey, coloured = fig.data
    assert len(grey.x) == 2 and len(coloured.x) == 2
    assert list(coloured.marker.color) == [1.0, 0.0]
    assert all(abs(y - round(y)) <= 0.3 for y in (*grey.y, *coloured.y))  # jitter stays in lane
    assert HOSTILE not in _strings(fig)


def test_segment_heatmap_is_feature_by_segment() -> None:
    table = pd.DataFrame(
        {
            "segment": ["a", "a", "b", "b"],
            "feature": ["x", "y", "x", "y"],
            "importance": [1.0, 0.5, 0.2, 0.7],
            "signed_mean": [0.5, -0.5, 0.1, 0.0],
            "rows": [10, 10, 5, 5],
        }
    )
    (heat,) = segment_attribution_heatmap(table).data
    np.testing.assert_array_equal(heat.z, [[1.0, 0.2], [0.5, 0.7]])
    assert "(10 rows)" in heat.customdata[0][0]


def test_waterfall_runs_from_baseline_to_row_score() -> None:
    steps = pd.DataFrame(
        {
            "label": ["baseline row", "cart", HOSTILE, "2 other features", "this row"],
            "value": ["", "yes", "1", "", ""],
            "kind": ["baseline", "feature", "feature", "rest", "total"],
            "amount": [-2.0, 1.5, -0.25, 0.05, -0.7],
        }
    )
    steps.attrs = {"output": "log-odds of purchased = 1", "probabilities": (0.119, 0.332)}
    fig = waterfall_figure(steps, title="One row")
    (fall,) = fig.data
    assert list(fall.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert list(fall.x) == [-2.0, 1.5, -0.25, 0.05, -0.7]
    low, high = fig.layout.xaxis.range
    assert low < -2.0 and high > 0  # every bar, with room for its label
    assert "11.9% → 33.2%" in fig.layout.title.text
    assert "cart = yes" in fig.layout.yaxis.ticktext[1]
    assert HOSTILE not in _strings(fig)


def test_side_by_side_bars_share_the_rows() -> None:
    table = pd.DataFrame(
        {"feature": ["a", "b"], "attention": [0.6, 0.1], "attribution": [0.5, -0.3]}
    )
    fig = attention_attribution_bars(table)
    left, right = fig.data
    assert list(left.x) == [0.6, 0.1] and list(right.x) == [0.5, -0.3]
    assert right.marker.color[0] != right.marker.color[1]  # raises vs lowers


def test_token_html_escapes_hostile_text_between_tokens() -> None:
    text = f'Free shipping {HOSTILE} <script>alert("x")</script> & more'
    end = len(text)
    tokens = pd.DataFrame(
        {"token": ["free", "more"], "value": [0.8, -0.2], "start": [0, end - 4], "end": [4, end]}
    )
    html = token_attribution_html(text, tokens, label="<i>headline</i>")
    assert "<script" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html and "&lt;i&gt;headline" in html
    assert "onerror=&#34;" in html  # quotes escaped too: no attribute can break out
    assert "&amp; " in html


def test_token_html_escapes_hostile_tokens_when_unaligned() -> None:
    tokens = pd.DataFrame(
        {"token": ["free", "<b>bold</b>", '"x" onclick="y'], "value": [0.8, -0.4, 0.1],
         "start": [-1, -1, -1], "end": [-1, -1, -1]}
    )  # fmt: skip
    html = token_attribution_html("whatever", tokens)
    assert "<b>" not in html and 'onclick="' not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "onclick=&#34;y" in html
    assert html.count("<span title=") == 3  # one mark per token, in token order


def test_token_html_follows_the_original_text_and_colours_by_sign() -> None:
    text = "Big SALE today, terms apply"
    tokens = pd.DataFrame(
        {
            "token": ["big", "sale", "today", "terms", "apply"],
            "value": [0.1, 0.9, 0.3, -0.6, -0.6],
            "start": [0, 4, 9, 16, 22],
            "end": [3, 8, 14, 21, 27],
        }
    )
    html = token_attribution_html(text, tokens)
    assert ">SALE</span>" in html and ", " in html  # original case and punctuation kept
    sale = html.split(">SALE</span>")[0].rsplit("background:", 1)[1].split(";")[0]
    terms = html.split(">terms</span>")[0].rsplit("background:", 1)[1].split(";")[0]
    assert sale != terms
    assert "+0.9000" in html and "-0.6000" in html


def test_tau_histogram_has_the_reference_band_and_uniform_baseline() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "tau_features": rng.uniform(0, 0.8, 50),
            "uniform_tau_features": rng.uniform(-0.3, 0.3, 50),
        }
    )
    fig = tau_histogram(table, scope="features")
    names = [trace.name for trace in fig.data]
    assert names == [
        "uniform attention (random ties)",
        "this model's attention",
        "Jain & Wallace 2019: 0.13–0.44",
    ]
    band = next(s for s in fig.layout.shapes if s.type == "rect")
    assert (band.x0, band.x1) == (0.13, 0.44)
    assert any("mean τ" in a.text for a in fig.layout.annotations)


def test_deletion_figure_one_line_per_ranking_with_area() -> None:
    curve = pd.DataFrame(
        {
            "k": [0, 1, 0, 1, 0, 1],
            "ranking": ["attention", "attention", "attribution", "attribution", "random", "random"],
            "remaining": [1, 0.5, 1, 0.3, 1, 0.9],
        }
    )
    auc = {"attention": 0.75, "attribution": 0.65, "random": 0.95}
    fig = deletion_figure(curve, auc, labels={"attribution": "Integrated Gradients"})
    names = [trace.name for trace in fig.data]
    assert names == [
        "attention (area 0.75)",
        "Integrated Gradients (area 0.65)",
        "random order (area 0.95)",
    ]
    assert fig.layout.yaxis.tickformat == ".0%"
