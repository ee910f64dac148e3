"""Figures fit a chart in half a laptop screen: long titles wrap, labels do not collide."""

from __future__ import annotations

import pandas as pd

from neuromkt.figures._style import layout, wrap
from neuromkt.figures.attention import token_matrix_heatmap


def test_long_titles_wrap_at_spaces_and_the_top_margin_grows() -> None:
    title = "Columns ranked by attention (all layers, mean of heads)"
    assert wrap(title) == "Columns ranked by attention (all<br>layers, mean of heads)"
    assert wrap("short") == "short"
    assert all(len(line) <= 34 for line in wrap(title + " " + title).split("<br>"))
    # a tag's spaces are no place to break, and its markup takes no room
    styled = wrap("a " * 20 + '<span style="font-size:12px; color:#64748B">note</span>')
    assert '<span style="font-size:12px; color:#64748B">note</span>' in styled
    # a line already broken is wrapped on its own
    assert wrap("a b<br>" + "word " * 10).split("<br>")[0] == "a b"
    one, two = layout(title="short", height=300), layout(title=title, height=300)
    assert two["title"]["text"].count("<br>") == 1
    assert two["margin"]["t"] > one["margin"]["t"]
    axis = layout(title=None, height=300, xaxis={"title": "mean |attribution| (log-odds)"})
    assert "<br>" not in axis["xaxis"]["title"]["text"]
    long_axis = layout(title=None, height=300, xaxis={"title": "a " * 30})
    assert "<br>" in long_axis["xaxis"]["title"]["text"]


def test_who_attends_to_whom_labels_stand_upright() -> None:
    n = 30
    matrix = pd.DataFrame(
        [(q, k, f"tok{k}", "text", 1 / n) for q in range(n) for k in range(n)],
        columns=["query", "key", "key_label", "key_kind", "attention"],
    )
    fig = token_matrix_heatmap(matrix, title="Who attends to whom, row 1 (all layers, mean)")
    assert fig.layout.xaxis.tickangle == -90  # slanted labels overlap their neighbours
    assert fig.layout.xaxis.tickfont.size <= 9  # many tokens: smaller labels
    assert fig.layout.height >= 22 * n  # a row of height per token
