"""Figures of attention: ranked bars, heatmaps, highlighted text, token × token matrix.

Pure functions ``tidy frame -> plotly Figure`` (or an HTML string for highlighted
text) over the frames of :mod:`neuromkt.explain.attention`, :mod:`neuromkt.explain.segments`
and :mod:`neuromkt.explain.tokens`; no Streamlit, no model calls. User text (column
names, category values, tokens) is escaped before it reaches plotly or HTML; long
names are shortened on the axes with the full name in the hover text, and axes are
numeric with tick labels, so two names that shorten alike never merge.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.figures._highlight import attention_legend, attention_span
from neuromkt.figures._parts import category_axis, heatmap, pivot, separator_lines, title_text
from neuromkt.figures._style import (
    ACCENT,
    BRAND,
    DIVERGING,
    KIND_COLORS,
    MUTED,
    bar_height,
    esc,
    highlight_colors,
    layout,
    short_labels,
)

__all__ = [
    "feature_bar",
    "highlight_html",
    "layer_head_heatmap",
    "segment_heatmap",
    "token_matrix_heatmap",
    "token_outcome_bar",
    "token_scatter",
    "token_strip",
]

_OUTCOME_COLORS = [BRAND, MUTED, ACCENT, "#0F766E", "#BE185D", "#65A30D"]


# ---------------------------------------------------------------- ranked bars


_BAR_WIDTH = 0.75  # in rows: a quarter of each row is the gap between bars


def feature_bar(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Features ranked by attention, one horizontal bar each, coloured by kind.

    Args:
        table: rows of :func:`neuromkt.explain.attention.global_features` (``feature``,
            ``kind``, ``attention``, optional ``median``/``std``/``share``) or of
            :func:`neuromkt.explain.attention.row_feature_weights` (with ``value``);
            an optional bool ``distinguishable`` (from
            :func:`neuromkt.explain.noise.noise_floor`) hatches the columns whose effect
            cannot be told apart from noise.
        title: the figure title (plain text; escaped here).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(200))
        >>> fig = nm.feature_bar(nm.global_features(maps), title="What the model looks at")
        >>> sorted(trace.name for trace in fig.data)  # one colour per kind of column
        ['categorical', 'numeric', 'text']
    """
    table = table.sort_values("attention", ascending=False, kind="stable").reset_index(drop=True)
    shown = table["feature"].astype(str).tolist()
    if "value" in table:
        shown = [f"{n} = {v}" for n, v in zip(shown, table["value"].astype(str), strict=True)]
    hover = [_feature_hover(r, s) for r, s in zip(table.itertuples(), shown, strict=True)]
    values = table["attention"].to_numpy(dtype=float)
    noise = (
        ~table["distinguishable"].fillna(True).astype(bool).to_numpy()
        if "distinguishable" in table
        else np.zeros(len(table), bool)
    )
    fig = go.Figure()
    for kind, color in KIND_COLORS.items():
        rows = np.flatnonzero(table["kind"].to_numpy() == kind)
        if len(rows):
            # One trace per kind at the rows of that kind: without a fixed width plotly
            # sizes a trace's bars by the gap between its own rows, so a kind whose rows
            # are not neighbours would be drawn two or three rows thick.
            fig.add_trace(go.Bar(
                name=kind, orientation="h", y=rows, x=values[rows], marker_color=color,
                width=_BAR_WIDTH,
                marker_pattern_shape=["/" if noise[i] else "" for i in rows],
                text=[f"{v:.3f}" for v in values[rows]], textposition="outside",
                cliponaxis=False, customdata=[hover[i] for i in rows],
                hovertemplate="%{customdata}<extra></extra>",
            ))  # fmt: skip
    top = float(values.max()) if len(values) else 1.0
    fig.update_layout(**layout(
        title=title_text(title), height=bar_height(len(table)), legend="inside",
        barmode="overlay",
        xaxis={"title": "share of attention" + (" · hatched: noise"
                                                 if noise.any() else ""),
               "range": [0, top * 1.2 or 1],
               "tickformat": ".2f"},
        yaxis=category_axis(short_labels(shown, 32)),
    ))  # fmt: skip
    return fig


def _feature_hover(row: Any, label: str) -> str:
    lines = [f"<b>{esc(label)}</b> ({row.kind})", f"attention: {row.attention:.4f}"]
    extras = {"median": "median: {:.4f}", "std": "spread (std): {:.4f}",
              "share": "share of all column attention: {:.1%}"}  # fmt: skip
    lines += [fmt.format(getattr(row, name)) for name, fmt in extras.items() if hasattr(row, name)]
    if not pd.isna(flag := getattr(row, "distinguishable", True)) and not flag:
        lines.append("not distinguishable from noise: shuffling it does not hurt the model")
    return "<br>".join(lines)


def token_outcome_bar(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Top tokens by attention, one bar per outcome group.

    Args:
        table: :func:`neuromkt.explain.tokens.token_outcome_table` (``token``,
            ``outcome``, ``attention``, ``count``), tokens in rank order; without an
            ``outcome`` column (rows of ``token_table``) one bar per token, all rows.
        title: the figure title.
    """
    if "outcome" not in table:
        table = table.assign(outcome="all rows")
    tokens = list(dict.fromkeys(table["token"].astype(str)))
    rank = {t: i for i, t in enumerate(tokens)}
    groups = list(dict.fromkeys(table["outcome"].astype(str)))
    fig = go.Figure()
    for k, group in enumerate(groups):
        # Every group has a (possibly empty) slot at every token, so that plotly sizes
        # the bars of all groups alike even where a group lacks some tokens.
        part = (
            table[table["outcome"].astype(str) == group]
            .assign(token=lambda t: t["token"].astype(str))
            .drop_duplicates("token")
            .set_index("token")
            .reindex(tokens)
            .reset_index()
        )
        part["count"] = part["count"].fillna(0).astype(int)
        words = part["token"]
        fig.add_trace(go.Bar(
            name=esc(group), orientation="h", y=[rank[t] for t in words], x=part["attention"],
            marker_color=_OUTCOME_COLORS[k % len(_OUTCOME_COLORS)],
            customdata=np.column_stack([[esc(t) for t in words], part["count"].to_numpy()]),
            hovertemplate=f"<b>%{{customdata[0]}}</b><br>{esc(group)}<br>attention: %{{x:.4f}}"
            "<br>rows containing it: %{customdata[1]:,}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(**layout(
        title=title_text(title), legend="inside", barmode="group", bargap=0.2,
        height=bar_height(len(tokens), per_row=8 + 11 * max(len(groups), 1)),
        xaxis={"title": "mean attention in rows containing the token", "tickformat": ".3f"},
        yaxis=category_axis(short_labels(tokens, 24)),
    ))  # fmt: skip
    return fig


def token_scatter(
    table: pd.DataFrame, *, reference: float | None = None, title: str | None = None
) -> go.Figure:
    """Tokens by outcome rate (x) and attention (y); bubble area = rows containing them.

    Args:
        table: :func:`neuromkt.explain.tokens.token_table` (``token``,
            ``attention``, ``count``, ``outcome_rate``).
        reference: the outcome rate of all rows, drawn as a dashed line.
        title: the figure title.
    """
    table = table.dropna(subset=["outcome_rate"]).reset_index(drop=True)
    counts = table["count"].to_numpy(dtype=float)
    size = 8 + 30 * np.sqrt(counts / counts.max()) if len(counts) else []
    named = set(table.nlargest(4, "attention").index) | set(table.nlargest(2, "outcome_rate").index)
    named |= set(table.nsmallest(2, "outcome_rate").index)
    labels = [lab if i in named else "" for i, lab in enumerate(short_labels(table["token"], 16))]
    custom = np.column_stack([[esc(t) for t in table["token"].astype(str)], table["count"]])
    fig = go.Figure(go.Scatter(
        x=table["outcome_rate"], y=table["attention"], mode="markers+text", text=labels,
        textposition="top center", customdata=custom if len(table) else None,
        marker={"size": size, "color": BRAND, "opacity": 0.5,
                "line": {"color": "white", "width": 1}},
        hovertemplate="<b>%{customdata[0]}</b><br>attention: %{y:.4f}<br>outcome rate: %{x:.2%}"
        "<br>rows containing it: %{customdata[1]:,}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(**layout(
        title=title_text(title), height=460, **_reference_marks(reference),
        xaxis={"title": "outcome rate of rows containing the token", "tickformat": ".0%"},
        yaxis={"title": "mean attention", "tickformat": ".3f", "rangemode": "tozero"},
    ))  # fmt: skip
    return fig


def _reference_marks(reference: float | None) -> dict[str, list]:
    """A dashed vertical line and its label at the outcome rate of all rows, if finite."""
    marks: dict[str, list] = {"shapes": [], "annotations": []}
    if reference is not None and math.isfinite(reference):
        marks["shapes"].append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": reference,
                "x1": reference,
                "y0": 0,
                "y1": 1,
                "line": {"color": MUTED, "dash": "dash", "width": 1.5},
            }
        )
        marks["annotations"].append(
            {
                "x": reference,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "yanchor": "bottom",
                "showarrow": False,
                "text": f"all rows {reference:.1%}",
                "font": {"color": "#64748B", "size": 11},
            }
        )
    return marks


# ---------------------------------------------------------------- heatmaps


def layer_head_heatmap(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Feature × (layer, head) heatmap of mean [CLS] attention, heads grouped by layer.

    Args:
        table: :func:`neuromkt.explain.attention.layer_head_table` (``feature``, ``layer``,
            ``head``, ``label``, ``attention``).
        title: the figure title.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> maps = nm.compute_attention(bundle, nm.load_sample("ecommerce").head(200))
        >>> fig = nm.layer_head_heatmap(nm.layer_head_table(maps))
        >>> fig.data[0].type, fig.data[0].z.shape  # (columns, layers × heads)
        ('heatmap', (11, 4))
    """
    means = table.groupby("feature", sort=False)["attention"].mean()
    order = list(means.sort_values(ascending=False, kind="stable").index)
    heads = table.drop_duplicates("label").sort_values(["layer", "head"])
    z = pivot(table, "label", "attention", order, list(heads["label"]))
    hover = np.array([[f"<b>{esc(f)}</b><br>layer {lay}, head {h}<br>attention: {v:.4f}"
                       for lay, h, v in zip(heads["layer"], heads["head"], row, strict=True)]
                      for f, row in zip(order, z, strict=True)])  # fmt: skip
    fig = go.Figure(heatmap(z, hover, "mean [CLS]<br>attention"))
    layers = heads["layer"].to_numpy()
    labels = [{"x": float(np.flatnonzero(layers == layer).mean()), "y": 1, "yref": "paper",
               "yshift": 58, "showarrow": False, "text": f"<b>Layer {layer}</b>",
               "font": {"size": 12}} for layer in np.unique(layers)]  # fmt: skip
    base = layout(
        title=title_text(title), height=bar_height(len(order), per_row=26, base=150),
        shapes=separator_lines(np.flatnonzero(np.diff(layers)) + 0.5), annotations=labels,
        xaxis=category_axis([f"H{h}" for h in heads["head"]], reverse=False, side="top"),
        yaxis=category_axis(short_labels(order, 32)),
    )  # fmt: skip
    # Room above the plot for the head labels and, above them, the layer labels.
    base["margin"] = base["margin"] | {"t": base["margin"]["t"] + 76, "b": 20}
    fig.update_layout(**base)
    return fig


def segment_heatmap(
    table: pd.DataFrame, *, diverging: bool = False, title: str | None = None
) -> go.Figure:
    """Feature × segment heatmap: attention per segment, or its difference from overall.

    Args:
        table: :func:`neuromkt.explain.segments.segment_table` (``segment``,
            ``feature``, ``n_rows``, ``attention``, ``overall``, ``difference``).
        diverging: colour ``difference`` (segment minus overall) on a diverging scale
            centred at 0 instead of ``attention`` on a sequential one.
        title: the figure title.
    """
    table = table.assign(segment=table["segment"].astype(str))
    order = list(dict.fromkeys(table["feature"]))
    segments = list(dict.fromkeys(table["segment"]))
    sizes = table.drop_duplicates("segment").set_index("segment")["n_rows"]
    overall = table.drop_duplicates("feature").set_index("feature")["overall"]
    att = pivot(table, "segment", "attention", order, segments)
    hover = np.array([[f"<b>{esc(f)}</b><br>segment: {esc(s)} ({sizes[s]:,} rows)"
                       f"<br>attention: {a:.4f}<br>all rows: {overall[f]:.4f}"
                       f"<br>difference: {a - overall[f]:+.4f}"
                       for s, a in zip(segments, row, strict=True)]
                      for f, row in zip(order, att, strict=True)])  # fmt: skip
    if diverging:
        z = att - overall.reindex(order).to_numpy()[:, None]
        span = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 0.0
        trace = heatmap(
            z,
            hover,
            "segment −<br>all rows",
            colorscale=DIVERGING,
            zmid=0,
            zmin=-(span or 1),
            zmax=span or 1,
            cells="%{z:+.3f}",
        )
    else:
        trace = heatmap(att, hover, "mean [CLS]<br>attention")
    fig = go.Figure(trace)
    # Segment names are cut to 24 characters (the hover has them whole), and the cells
    # get at least ~180 px under the slanted names so the colour bar stays readable.
    ticks = [f"{label}<br>n={sizes[s]:,}" for s, label in
             zip(segments, short_labels(segments, 24), strict=True)]  # fmt: skip
    base = layout(
        title=title_text(title),
        height=bar_height(len(order), per_row=26, base=230, minimum=380),
        xaxis=category_axis(ticks, reverse=False, side="top"),
        yaxis=category_axis(short_labels(order, 32)),
    )  # fmt: skip
    base["margin"] = base["margin"] | {"t": base["margin"]["t"] + 40}  # the labels on top
    fig.update_layout(**base)
    return fig


def token_matrix_heatmap(matrix: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """One row's token × token attention (who attends to whom), padding left out.

    Args:
        matrix: :func:`neuromkt.explain.tokens.token_matrix` (``query``, ``key``,
            ``key_label``, ``key_kind``, ``attention``).
        title: the figure title.
    """
    n = int(matrix["query"].max()) + 1 if len(matrix) else 0
    z = np.full((n, n), np.nan)
    z[matrix["query"].to_numpy(), matrix["key"].to_numpy()] = matrix["attention"].to_numpy()
    keys = matrix[matrix["query"] == 0].sort_values("key")
    names = [esc(label) for label in keys["key_label"]]
    hover = np.array([[f"<b>{names[i]}</b> → <b>{names[j]}</b><br>attention: {z[i, j]:.4f}"
                       for j in range(n)] for i in range(n)])  # fmt: skip
    fig = go.Figure(heatmap(z, hover, "attention", cells="%{z:.2f}" if n <= 12 else None))
    kinds = keys["key_kind"].to_numpy()
    bounds = np.flatnonzero(kinds[1:] != kinds[:-1]) + 0.5
    ticks = short_labels(keys["key_label"], 22)
    # Upright labels need a cell as wide as a line of text (~14 px at size 11); slanted
    # ones overlap their neighbours' boxes. Above 24 tokens the x labels get smaller.
    tick_font = {"size": 11 if n <= 24 else 9}
    fig.update_layout(**layout(
        title=title_text(title), height=max(440, 190 + 22 * n),
        shapes=separator_lines(bounds, horizontal=True),
        xaxis=category_axis(ticks, reverse=False, tickangle=-90, title="attends to →",
                            tickfont=tick_font),
        yaxis=category_axis(ticks, title="from", tickfont={"size": 11}),
    ))  # fmt: skip
    return fig


# ---------------------------------------------------------------- one row's text


def token_strip(tokens: pd.DataFrame, *, per_line: int = 12, title: str | None = None) -> go.Figure:
    """A row's tokens as shaded cells in reading order: the plotly twin of
    :func:`highlight_html`, for PNG export and reports.

    Args:
        tokens: one text column's rows of
            :func:`neuromkt.explain.tokens.row_token_weights` (``token``,
            ``attention``; NaN for tokens the model never saw).
        per_line: tokens per line before wrapping.
        title: the figure title.
    """
    lines = max(1, math.ceil(len(tokens) / per_line))
    z = np.full((lines, per_line), np.nan)
    text = np.full((lines, per_line), "", dtype=object)
    hover = np.full((lines, per_line), "", dtype=object)
    for i, row in enumerate(tokens.itertuples()):
        r, c = divmod(i, per_line)
        seen = not pd.isna(row.attention)
        z[r, c], text[r, c] = row.attention, esc(row.token)
        hover[r, c] = f"<b>{esc(row.token)}</b><br>" + (
            f"attention: {row.attention:.4f}" if seen else "not seen by the model"
        )
    fig = go.Figure(go.Heatmap(
        z=z, text=text, texttemplate="%{text}", customdata=hover, colorscale="Purples", zmin=0,
        xgap=3, ygap=3, hovertemplate="%{customdata}<extra></extra>",
        colorbar={"title": {"text": "attention"}, "thickness": 12, "outlinewidth": 0},
    ))  # fmt: skip
    fig.update_layout(**layout(
        title=title_text(title), height=110 + 46 * lines,
        xaxis={"visible": False}, yaxis={"visible": False, "autorange": "reversed"},
    ))  # fmt: skip
    return fig


def highlight_html(
    text: object, tokens: pd.DataFrame, *, vmax: float | None = None, label: str | None = None
) -> str:
    """The original text with each token's background shaded by its attention.

    Every piece of user text is ``html.escape``d; the exact weight is in each token's
    hover tooltip (``title``). Tokens the model never saw (past its length limit) are
    struck through in grey; tokens outside its vocabulary get a dotted underline (the
    model saw [UNK]).

    Args:
        text: the cell as it is in the data.
        tokens: that column's rows of :func:`neuromkt.explain.tokens.row_token_weights`.
        vmax: the weight shown darkest; the row's largest weight when None.
        label: an optional caption above the text (e.g. the column name).

    Returns:
        An HTML fragment with inline styles only (no scripts, no classes).
    """
    raw = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    weights = tokens["attention"].to_numpy(dtype=float)
    finite = weights[np.isfinite(weights)]
    top = vmax or (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    scaled = np.nan_to_num(weights / top, nan=0.0)
    colors = highlight_colors(scaled)
    spans = list(zip(tokens["start"], tokens["end"], strict=True))
    use_spans = all(s >= 0 for s, _ in spans) and spans == sorted(spans)
    out, cursor = [], 0
    for i, (start, end) in enumerate(spans):
        if use_spans:
            out.append(esc(raw[cursor:start]))
            cursor = end
        piece = raw[start:end] if use_spans else f"{tokens['token'].iat[i]} "
        out.append(attention_span(piece, tokens.iloc[i], colors[i], float(scaled[i])))
    out.append(esc(raw[cursor:]) if use_spans else "")
    head = (f'<div style="font-size:0.8rem;color:#64748B;margin-bottom:2px">{esc(label)}</div>'
            if label else "")  # fmt: skip
    body = ('<div style="line-height:2.2;font-size:1.05rem;white-space:pre-wrap;'
            f'word-break:break-word">{"".join(out)}</div>')  # fmt: skip
    return f"<div>{head}{body}{attention_legend(top)}</div>"
