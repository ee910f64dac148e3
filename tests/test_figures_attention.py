"""Attention figures: what they draw, exact hover values, escaping, readability at scale."""

from __future__ import annotations

import html
import itertools
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from neuromkt.act.export import neutralise_formulas, to_csv_bytes
from neuromkt.figures._style import short_labels
from neuromkt.figures.attention import (
    feature_bar,
    highlight_html,
    layer_head_heatmap,
    segment_heatmap,
    token_matrix_heatmap,
    token_outcome_bar,
    token_scatter,
    token_strip,
)

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _features(n: int, *, long: bool = False) -> pd.DataFrame:
    names = [
        ("a_very_long_feature_name_from_the_crm_export_" if long else "f") + str(i)
        for i in range(n)
    ]
    values = np.linspace(0.2, 0.01, n)
    kinds = ["numeric", "categorical", "text"] * (n // 3 + 1)
    return pd.DataFrame(
        {
            "feature": names,
            "kind": kinds[:n],
            "attention": values,
            "median": values / 2,
            "std": values / 3,
            "share": values / values.sum(),
        }
    )


def _all_hover(fig: go.Figure) -> str:
    parts = []
    for trace in fig.data:
        parts += [str(c) for c in np.asarray(trace.customdata, dtype=object).ravel()]
    return "\n".join(parts)


def test_feature_bar_ranks_and_shows_exact_values() -> None:
    table = _features(5).iloc[::-1]  # given in the wrong order
    fig = feature_bar(table, title="Ranked")
    assert sum(len(t.x) for t in fig.data) == 5
    assert {t.name for t in fig.data} == {"numeric", "categorical", "text"}
    first = next(t for t in fig.data if 0 in list(t.y))
    assert first.x[list(first.y).index(0)] == pytest.approx(0.2)  # largest on top
    assert "attention: 0.2000" in _all_hover(fig)
    assert fig.layout.yaxis.autorange == "reversed"


def test_feature_bar_kinds_apart_in_the_ranking_keep_one_row_thick_bars() -> None:
    # Online Shoppers: Month, VisitorType and Weekend (categorical) sit between numeric
    # columns in the ranking; each bar must still be one row thick, never overlapping.
    table = pd.DataFrame(
        {
            "feature": [
                "PageValues",
                "Month",
                "ExitRates",
                "BounceRates",
                "VisitorType",
                "Weekend",
            ],
            "kind": ["numeric", "categorical", "numeric", "numeric", "categorical", "categorical"],
            "attention": [0.30, 0.20, 0.15, 0.12, 0.08, 0.05],
        }
    )
    fig = feature_bar(table)
    spans = []
    for trace in fig.data:
        assert trace.width == pytest.approx(0.75), trace.name
        spans += [(y - trace.width / 2, y + trace.width / 2) for y in trace.y]
    spans.sort()
    assert [round((lo + hi) / 2) for lo, hi in spans] == list(range(6))
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in itertools.pairwise(spans))


def test_many_long_features_stay_readable() -> None:
    fig = feature_bar(_features(120, long=True))
    ticks = list(fig.layout.yaxis.ticktext)
    assert len(ticks) == 120 and len(set(fig.layout.yaxis.tickvals)) == 120
    assert all(len(html.unescape(t)) <= 32 for t in ticks) and ticks[0].endswith("…")
    assert "a_very_long_feature_name_from_the_crm_export_0" in _all_hover(fig)
    assert fig.layout.height >= 120 * 20
    assert fig.layout.yaxis.automargin
    assert fig.layout.height > feature_bar(_features(10, long=True)).layout.height


def test_labels_that_shorten_alike_do_not_merge() -> None:
    names = ["campaign_2024_spring_newsletter_A", "campaign_2024_spring_newsletter_B"]
    labels = short_labels(names, 20)
    assert labels[0] == labels[1]
    fig = feature_bar(pd.DataFrame({"feature": names, "kind": "numeric", "attention": [0.3, 0.2]}))
    assert list(fig.data[0].y) == [0, 1]  # numeric positions, not category names


def test_hostile_names_are_escaped_in_figures() -> None:
    table = pd.DataFrame(
        {"feature": [HOSTILE, "b"], "kind": "categorical", "attention": [0.5, 0.1]}
    )
    fig = feature_bar(table, title=HOSTILE)
    text = fig.to_json()
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in fig.layout.title.text


def _layer_heads() -> pd.DataFrame:
    rows = []
    for layer in (1, 2):
        for head in (1, 2, 3):
            for i, feature in enumerate(["x", "y"]):
                rows.append(
                    {
                        "feature": feature,
                        "kind": "numeric",
                        "layer": layer,
                        "head": head,
                        "label": f"L{layer} H{head}",
                        "attention": 0.1 * layer + 0.01 * head + 0.3 * i,
                    }
                )
    return pd.DataFrame(rows)


def test_layer_head_heatmap_grid_and_colours() -> None:
    fig = layer_head_heatmap(_layer_heads(), title="heads")
    heat = fig.data[0]
    z = np.asarray(heat.z)
    assert z.shape == (2, 6)
    assert z[0, 0] == pytest.approx(0.41)  # y (larger mean) first, L1 H1
    assert z[1, 5] == pytest.approx(0.23)  # x, L2 H3
    assert heat.colorscale[0][1] == "#440154"  # Viridis starts at its dark purple
    assert heat.zmin == 0 and "attention" in heat.colorbar.title.text
    assert list(fig.layout.xaxis.ticktext) == ["H1", "H2", "H3"] * 2
    assert {a.text for a in fig.layout.annotations} >= {"<b>Layer 1</b>", "<b>Layer 2</b>"}
    assert "attention: 0.4100" in _all_hover(fig)


def _segments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": ["s1", "s1", "s2", "s2"],
            "feature": ["a", "b", "a", "b"],
            "kind": "numeric",
            "n_rows": [10, 10, 30, 30],
            "attention": [0.5, 0.1, 0.3, 0.2],
            "overall": [0.35, 0.175, 0.35, 0.175],
            "difference": [0.15, -0.075, -0.05, 0.025],
        }
    )


def test_segment_heatmap_diverging_is_centred_at_zero() -> None:
    fig = segment_heatmap(_segments(), diverging=True)
    heat = fig.data[0]
    np.testing.assert_allclose(heat.z, [[0.15, -0.05], [-0.075, 0.025]])
    assert heat.zmid == 0 and heat.zmin == pytest.approx(-0.15) and heat.zmax == pytest.approx(0.15)
    assert heat.colorscale[0][1] == "rgb(5,48,97)"  # below overall: dark blue
    assert heat.colorscale[-1][1] == "rgb(103,0,31)"  # above overall: dark red
    hover = _all_hover(fig)
    assert "difference: +0.1500" in hover and "(10 rows)" in hover
    plain = segment_heatmap(_segments(), diverging=False).data[0]
    np.testing.assert_allclose(plain.z, [[0.5, 0.3], [0.1, 0.2]])
    assert plain.zmin == 0


def test_token_outcome_bar_has_one_trace_per_outcome() -> None:
    table = pd.DataFrame(
        {
            "token": ["cart", "cart", "free", "free"],
            "outcome": ["y = 1", "y = 0", "y = 1", "y = 0"],
            "attention": [0.3, 0.2, 0.1, 0.05],
            "count": [5, 50, 7, 70],
        }
    )
    fig = token_outcome_bar(table)
    assert [t.name for t in fig.data] == ["y = 1", "y = 0"]
    assert list(fig.layout.yaxis.ticktext) == ["cart", "free"]
    assert list(fig.data[1].x) == [0.2, 0.05]


def test_token_outcome_bar_gives_every_group_a_slot_at_every_token() -> None:
    # "free" only among buyers: the other group still has an (empty) slot there, so
    # both groups' bars are sized from the same one-row spacing.
    table = pd.DataFrame(
        {
            "token": ["cart", "cart", "free", "home", "home"],
            "outcome": ["y = 1", "y = 0", "y = 1", "y = 1", "y = 0"],
            "attention": [0.3, 0.2, 0.1, 0.05, 0.04],
            "count": [5, 50, 7, 3, 30],
        }
    )
    fig = token_outcome_bar(table)
    assert [list(t.y) for t in fig.data] == [[0, 1, 2], [0, 1, 2]]
    assert np.isnan(fig.data[1].x[1])
    assert list(fig.data[1].customdata[:, 1]) == ["50", "0", "30"]


def test_token_scatter_and_strip() -> None:
    vocab = pd.DataFrame(
        {
            "token": ["cart", "home", HOSTILE],
            "attention": [0.3, 0.1, 0.2],
            "count": [10, 100, 20],
            "outcome_rate": [0.4, 0.1, np.nan],
        }
    )
    fig = token_scatter(vocab, reference=0.12)
    assert len(fig.data[0].x) == 2  # the token without an outcome rate is left out
    assert any("12.0%" in str(a.text) for a in fig.layout.annotations)
    tokens = pd.DataFrame({"token": ["a", "<b>", "c"], "attention": [0.2, 0.5, np.nan]})
    strip = token_strip(tokens, per_line=2)
    assert np.asarray(strip.data[0].z).shape == (2, 2)
    assert "&lt;b&gt;" in str(strip.data[0].text)


def test_token_matrix_heatmap_keeps_duplicate_tokens_apart() -> None:
    labels = ["[CLS]", "device = mobile", "cart", "cart"]
    kinds = ["cls", "categorical", "events", "events"]
    rows = [
        {
            "query": q,
            "key": k,
            "query_label": labels[q],
            "key_label": labels[k],
            "query_kind": kinds[q],
            "key_kind": kinds[k],
            "attention": 0.25,
        }
        for q in range(4)
        for k in range(4)
    ]
    fig = token_matrix_heatmap(pd.DataFrame(rows))
    assert np.asarray(fig.data[0].z).shape == (4, 4)
    assert list(fig.layout.xaxis.ticktext) == labels
    assert len(fig.layout.shapes) == 4  # lines between [CLS] | columns | tokens, both axes


# ---------------------------------------------------------------- highlighted text


def _weights(text: str, tokens: list[str], spans, values, *, seen=None, known=None):
    n = len(tokens)
    return pd.DataFrame(
        {
            "column": "t",
            "slot": range(n),
            "token": tokens,
            "start": [s for s, _ in spans],
            "end": [e for _, e in spans],
            "attention": values,
            "seen": seen or [True] * n,
            "in_vocab": known or [True] * n,
        }
    )


def _visible_text(fragment: str) -> str:
    body = re.sub(r"<div style=\"display:flex.*", "", fragment, flags=re.S)  # drop legend
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_hostile_text_renders_as_text() -> None:
    text = f"Great {HOSTILE} deal"
    weights = _weights(text, ["great", "deal"], [(0, 5), (len(text) - 4, len(text))], [0.2, 0.1])
    out = highlight_html(text, weights, label='col"umn<')
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out
    assert _visible_text(out).startswith('col"umn<Great <script>')
    assert out.count("<span title=") == 2


def test_highlight_keeps_the_original_text_and_exact_values() -> None:
    text = "FREE shipping — today!"
    weights = _weights(
        text,
        ["free", "shipping", "today"],
        [(0, 4), (5, 13), (16, 21)],
        [0.123456, 0.05, np.nan],
        seen=[True, True, False],
        known=[True, False, True],
    )
    out = highlight_html(text, weights)
    assert _visible_text(out) == text
    assert 'title="free: attention 0.1235"' in out
    assert "unknown to the model" in out  # shipping
    assert "line-through" in out and "not seen by the model" in out  # today
    assert "0.123 (darkest)" in out


def test_token_titles_cannot_break_out_of_the_attribute() -> None:
    text = 'x" onmouseover="alert(1)'
    tokens = ['x"', 'onmouseover="alert(1']
    weights = _weights(text, tokens, [(0, 2), (3, 23)], [0.1, 0.2])
    out = highlight_html(text, weights)
    assert 'onmouseover="alert' not in out
    assert "&#34;" in out


def test_highlight_without_spans_lists_the_tokens() -> None:
    weights = _weights("İstanbul sale", ["i̇stanbul", "sale"], [(-1, -1), (-1, -1)], [0.1, 0.2])
    out = highlight_html("İstanbul sale", weights)
    assert "sale" in out and out.count("<span title=") == 2


# ---------------------------------------------------------------- CSV export


def test_csv_export_neutralises_formulas_but_not_numbers() -> None:
    frame = pd.DataFrame(
        {
            "token": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "ok", "\tx"],
            "value": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    safe = neutralise_formulas(frame)
    assert list(safe["token"]) == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "ok",
        "'\tx",
    ]
    assert safe["value"].tolist() == frame["value"].tolist()
    data = to_csv_bytes(frame.rename(columns={"token": "=bad"}))
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(__import__("io").BytesIO(data))
    assert list(back.columns) == ["'=bad", "value"] and back["value"].iloc[0] == -0.5
    assert not to_csv_bytes(frame, excel=False).startswith(b"\xef\xbb\xbf")
