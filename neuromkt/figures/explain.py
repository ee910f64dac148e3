"""Figures of attributions and of attention-versus-attribution agreement.

Pure functions ``tidy frame -> plotly Figure`` (or an HTML string for highlighted
text) over the tables of :mod:`neuromkt.explain.summaries` and
:mod:`neuromkt.explain.agreement`; no Streamlit, no model calls. Signed attributions use the
diverging scale (red raises the score, blue lowers it). User text (column names,
category values, tokens) is escaped before it reaches plotly or HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from neuromkt.figures._highlight import attribution_legend, attribution_span
from neuromkt.figures._parts import category_axis, pivot, title_text
from neuromkt.figures._style import (
    ACCENT,
    BRAND,
    DIVERGING,
    MUTED,
    SEQUENTIAL,
    bar_height,
    esc,
    layout,
    short_labels,
)

__all__ = [
    "attention_attribution_bars",
    "attribution_strip_figure",
    "deletion_figure",
    "ranking_bar",
    "segment_attribution_heatmap",
    "tau_histogram",
    "token_attribution_html",
    "waterfall_figure",
]

RAISE, LOWER = "#B2182B", "#2166AC"  # the diverging scale's ends: raises / lowers the score
_LEVELS = [[0.0, "#3B4CC0"], [0.5, "#DDDDDD"], [1.0, "#B40426"]]  # feature value: low → high
_RANKING_COLORS = {"attention": BRAND, "attribution": ACCENT, "random": MUTED}
_LEGEND_ON_TOP = {  # legends of long names go between the title and the plot
    "legend": {"orientation": "h", "x": 0, "xanchor": "left", "xref": "paper",
               "y": 1.02, "yanchor": "bottom", "yref": "paper", "title": None},
    "margin": {"t": 150, "b": 44},  # room for a two-line title over a legend of two lines
}  # fmt: skip


def _span(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)]) if len(values) else np.zeros(0)
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


# ---------------------------------------------------------------- global views


def _relation_words(rho: float) -> str:
    if not np.isfinite(rho):
        return "<br>direction: per category or word (see the dots)"
    if abs(rho) < 0.3:
        return f"<br>no simple direction (ρ = {rho:+.2f})"
    way = "raise" if rho > 0 else "lower"
    return f"<br>higher values {way} the score (ρ = {rho:+.2f})"


def ranking_bar(
    table: pd.DataFrame, *, title: str | None = None, unit: str = "", label: str = "feature"
) -> go.Figure:
    """Items ranked by mean |attribution|, each bar coloured by its signed mean.

    Args:
        table: :func:`neuromkt.explain.summaries.feature_ranking` (``feature``,
            ``importance``, ``signed_mean``, optional ``share``) or
            :func:`neuromkt.explain.summaries.token_ranking` with ``label="token"``;
            an optional bool ``distinguishable`` (from
            :func:`neuromkt.explain.noise.noise_floor`) hatches the bars whose effect
            cannot be told apart from noise; an optional ``relation`` (−1…1, the
            rank correlation of a column's value with its effect, NaN where none) colours
            the bars by how the value relates to the effect instead of the signed mean.
        title: the figure title (plain text; escaped here).
        unit: what the attributions are in, e.g. "log-odds" (axis title).
        label: the column of ``table`` that names the bars.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> result = nm.attribute(bundle, nm.load_sample("ecommerce").head(100), "ig", steps=8)
        >>> fig = nm.ranking_bar(nm.feature_ranking(result), unit="log-odds")
        >>> fig.data[0].type, len(fig.data[0].x)
        ('bar', 11)
    """
    names = table[label].astype(str).tolist()
    signed = table["signed_mean"].to_numpy(dtype=float)
    share = table["share"] if "share" in table else pd.Series([np.nan] * len(table))
    span = _span(signed)
    by_value = "relation" in table
    colorbar: dict | None = {"title": {"text": "mean<br>(signed)"}, "thickness": 12}
    color: Any = signed
    if by_value:  # red: higher values raise the score; blue: lower it; grey: no one way
        relation = table["relation"].to_numpy(dtype=float)
        scale = sample_colorscale(DIVERGING, list((np.nan_to_num(relation) + 1) / 2))
        color = [c if np.isfinite(r) else MUTED for c, r in zip(scale, relation, strict=True)]
        colorbar = None
    noise = (
        ~table["distinguishable"].fillna(True).astype(bool).to_numpy()
        if "distinguishable" in table
        else np.zeros(len(table), bool)
    )
    hover = [
        f"<b>{esc(n)}</b><br>mean |attribution|: {i:.4f}<br>mean attribution: {s:+.4f}"
        + (
            _relation_words(r)
            if by_value
            else f" ({'mostly raises' if s > 0 else 'mostly lowers'} the score)"
        )
        + (f"<br>share: {sh:.1%}" if np.isfinite(sh) else "")
        + ("<br>not distinguishable from noise: shuffling it does not hurt the model" if q else "")
        for n, i, s, sh, q, r in zip(
            names,
            table["importance"],
            signed,
            share,
            noise,
            table["relation"] if by_value else signed,
            strict=True,
        )
    ]
    bar = go.Bar(
        y=list(range(len(names))), x=table["importance"], orientation="h",
        marker={"color": color, "line": {"width": 0},
                "pattern": {"shape": ["/" if q else "" for q in noise]},
                **({"colorbar": colorbar, "colorscale": DIVERGING, "cmin": -span, "cmax": span}
                   if colorbar else {})},
        text=[f"{v:.3f}" for v in table["importance"]], textposition="outside",
        cliponaxis=False, customdata=hover, hovertemplate="%{customdata}<extra></extra>",
    )  # fmt: skip
    top = float(table["importance"].max()) if len(table) else 1.0
    fig = go.Figure(bar)
    fig.update_layout(**layout(
        title=title_text(title), height=bar_height(len(names)), bargap=0.25,
        xaxis={"title": f"mean |attribution|{f' ({esc(unit)})' if unit else ''}"
                        + (" · hatched: noise" if noise.any() else ""),
               "range": [0, top * 1.18 or 1]},
        yaxis=category_axis(short_labels(names, 32)),
    ))  # fmt: skip
    return fig


def attribution_strip_figure(strip: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Each row's attribution per feature, coloured by the feature's value (a beeswarm).

    Args:
        strip: :func:`neuromkt.explain.summaries.attribution_strip` (``feature``,
            ``attribution``, ``value``, ``level``), features in rank order.
        title: the figure title.
    """
    features = list(dict.fromkeys(strip["feature"].astype(str)))
    index = {f: i for i, f in enumerate(features)}
    y = strip["feature"].astype(str).map(index).to_numpy(dtype=float)
    y = y + np.random.default_rng(0).uniform(-0.3, 0.3, len(y))  # fixed jitter
    level = strip["level"].to_numpy(dtype=float)
    hover = [
        f"<b>{esc(f)}</b> = {esc(v)}<br>attribution: {a:+.4f}"
        for f, v, a in zip(strip["feature"], strip["value"], strip["attribution"], strict=True)
    ]
    fig = go.Figure()
    for has_level in (False, True):
        rows = np.flatnonzero(np.isfinite(level) == has_level)
        marker = {"size": 5, "opacity": 0.6, "color": MUTED}
        if has_level:
            marker |= {"color": level[rows], "colorscale": _LEVELS, "cmin": 0, "cmax": 1,
                       "colorbar": {"title": {"text": "feature<br>value"}, "thickness": 12,
                                    "tickvals": [0, 1], "ticktext": ["low", "high"]}}  # fmt: skip
        fig.add_trace(go.Scattergl(
            x=strip["attribution"].to_numpy(dtype=float)[rows], y=y[rows], mode="markers",
            marker=marker, customdata=[hover[i] for i in rows], showlegend=False,
            hovertemplate="%{customdata}<extra></extra>",
        ))  # fmt: skip
    fig.add_vline(x=0, line_width=1, line_color="#64748B")
    fig.update_layout(**layout(
        title=title_text(title), height=bar_height(len(features), per_row=44),
        xaxis={"title": "attribution (← lowers the score · raises it →)", "zeroline": False},
        yaxis=category_axis(short_labels(features, 32)),
    ))  # fmt: skip
    return fig


def segment_attribution_heatmap(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Feature × segment heatmap of mean |attribution| (signed mean in the hover).

    Args:
        table: :func:`neuromkt.explain.summaries.segment_attribution` (``segment``,
            ``feature``, ``importance``, ``signed_mean``, ``rows``).
        title: the figure title.
    """
    table = table.assign(segment=table["segment"].astype(str))
    features = list(dict.fromkeys(table["feature"].astype(str)))
    segments = list(dict.fromkeys(table["segment"]))
    z = pivot(table, "segment", "importance", features, segments)
    s = pivot(table, "segment", "signed_mean", features, segments)
    sizes = table.drop_duplicates("segment").set_index("segment")["rows"]
    hover = np.array([[f"<b>{esc(f)}</b><br>segment: {esc(g)} ({sizes[g]:,} rows)"
                       f"<br>mean |attribution|: {v:.4f}<br>mean attribution: {m:+.4f}"
                       for g, v, m in zip(segments, zrow, srow, strict=True)]
                      for f, zrow, srow in zip(features, z, s, strict=True)])  # fmt: skip
    heat = go.Heatmap(
        z=z, x=list(range(len(segments))), y=list(range(len(features))), customdata=hover,
        hovertemplate="%{customdata}<extra></extra>", colorscale=SEQUENTIAL, zmin=0,
        xgap=1, ygap=1, texttemplate="%{z:.2f}" if z.size <= 300 else None,
        colorbar={"title": {"text": "mean<br>|attribution|"}, "thickness": 12},
    )  # fmt: skip
    fig = go.Figure(heat)
    fig.update_layout(**layout(
        title=title_text(title), height=bar_height(len(features), per_row=28, base=170),
        xaxis=category_axis(short_labels(segments, 18), reverse=False) | {"side": "top"},
        yaxis=category_axis(short_labels(features, 32)),
    ))  # fmt: skip
    return fig


# ---------------------------------------------------------------- one row


def waterfall_figure(steps: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """From the baseline row's score to this row's score, feature by feature.

    Args:
        steps: :func:`neuromkt.explain.summaries.waterfall_steps` (``label``, ``value``,
            ``kind``, ``amount``; ``attrs["output"]`` names the score and
            ``attrs["probabilities"]`` adds probabilities for binary log-odds).
        title: the figure title.
    """
    kinds = steps["kind"].tolist()
    labels = [
        f"{lab} = {val}" if val else lab
        for lab, val in zip(steps["label"].astype(str), steps["value"].astype(str), strict=True)
    ]
    measure = ["absolute" if k == "baseline" else "total" if k == "total" else "relative"
               for k in kinds]  # fmt: skip
    amounts = steps["amount"].to_numpy(dtype=float)
    text = [f"{a:.3f}" if k in ("baseline", "total") else f"{a:+.3f}"
            for a, k in zip(amounts, kinds, strict=True)]  # fmt: skip
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=measure, y=list(range(len(labels))), x=amounts,
        text=text, textposition="auto", cliponaxis=False, insidetextfont={"color": "white"},
        increasing={"marker": {"color": RAISE}}, decreasing={"marker": {"color": LOWER}},
        totals={"marker": {"color": BRAND}}, connector={"line": {"color": "#CBD5E1"}},
        hovertext=[esc(lab) for lab in labels], hoverinfo="text+x",
    ))  # fmt: skip
    output = esc(steps.attrs.get("output", "score"))
    probs = steps.attrs.get("probabilities")
    note = (
        f'<br><span style="font-size:12px;color:#64748B">probability {probs[0]:.1%} → '
        f"{probs[1]:.1%}</span>"
        if probs
        else ""
    )
    fig.update_layout(**layout(
        title=(title_text(title) or "") + note or None, height=bar_height(len(steps), per_row=30),
        xaxis={"title": output, "zeroline": False, "range": _waterfall_range(amounts, kinds)},
        yaxis=category_axis(short_labels(labels, 40)), waterfallgap=0.3,
    ))  # fmt: skip
    return fig


def _waterfall_range(amounts: np.ndarray, kinds: list[str]) -> list[float]:
    """x range holding every bar of the waterfall, with room for the labels."""
    level, reached = 0.0, [0.0]
    for amount, kind in zip(amounts, kinds, strict=True):
        level = amount if kind in ("baseline", "total") else level + amount
        reached.append(level)
    low, high = min(reached), max(reached)
    pad = 0.25 * (high - low or 1.0)
    return [low - pad, high + pad]


def attention_attribution_bars(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """One row's attention (left) next to its attributions (right), per input column.

    Args:
        table: :func:`neuromkt.explain.agreement.row_comparison` (``feature``, ``attention``,
            ``attribution``), in display order.
        title: the figure title.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(50)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> one_row = nm.row_comparison(result, attention, bundle.encoders, 0)
        >>> fig = nm.attention_attribution_bars(one_row, title="Session S000001")
        >>> [trace.name for trace in fig.data]
        ['attention', 'attribution']
    """
    names = table["feature"].astype(str).tolist()
    y = list(range(len(names)))
    att = table["attention"].to_numpy(dtype=float)
    attr = table["attribution"].to_numpy(dtype=float)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("[CLS] attention", "attribution"))  # fmt: skip
    pairs = list(zip(names, att, attr, strict=True))
    fig.add_trace(go.Bar(
        y=y, x=att, orientation="h", marker_color=BRAND, name="attention",
        customdata=[f"<b>{esc(n)}</b><br>attention: {a:.4f}" for n, a, _ in pairs],
        hovertemplate="%{customdata}<extra></extra>",
    ), row=1, col=1)  # fmt: skip
    fig.add_trace(go.Bar(
        y=y, x=attr, orientation="h", name="attribution",
        marker_color=[RAISE if v > 0 else LOWER for v in attr],
        customdata=[f"<b>{esc(n)}</b><br>attribution: {v:+.4f}" for n, _, v in pairs],
        hovertemplate="%{customdata}<extra></extra>",
    ), row=1, col=2)  # fmt: skip
    base = layout(
        title=title_text(title), height=bar_height(len(names)), showlegend=False, bargap=0.25
    )
    base["margin"] = base["margin"] | {"t": base["margin"]["t"] + 24}  # the subplot titles
    fig.update_layout(**base)
    fig.update_yaxes(category_axis(short_labels(names, 28)), row=1, col=1)
    # Short axis titles on two lines: side by side in half a laptop screen they would
    # otherwise run into each other.
    fig.update_xaxes(title_text="share of<br>attention", rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title_text="← lowers ·<br>raises →", zeroline=True, zerolinecolor="#64748B",
                     row=1, col=2)  # fmt: skip
    return fig


def token_attribution_html(
    text: object, tokens: pd.DataFrame, *, vmax: float | None = None, label: str | None = None
) -> str:
    """The original text with each token shaded by its attribution (red +, blue −).

    Every piece of user text is ``html.escape``d; the exact value is in each token's
    tooltip (``title``).

    Args:
        text: the cell as it is in the data.
        tokens: that column's rows of :func:`neuromkt.explain.summaries.row_tokens`
            (``token``, ``value``, ``start``, ``end``).
        vmax: the |value| shown darkest; the row's largest when None.
        label: an optional caption (e.g. the column name).

    Returns:
        An HTML fragment with inline styles only (no scripts, no classes).
    """
    raw = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    values = tokens["value"].to_numpy(dtype=float)
    top = vmax or _span(values)
    spans = list(zip(tokens["start"], tokens["end"], strict=True))
    aligned = len(spans) > 0 and all(s >= 0 for s, _ in spans)
    out, cursor = [], 0
    for i, value in enumerate(values):
        if aligned:
            start, end = spans[i]
            out.append(esc(raw[cursor:start]))
            piece, cursor = raw[start:end], end
        else:
            piece = str(tokens["token"].iat[i]) + " "
        out.append(attribution_span(piece, str(tokens["token"].iat[i]), value, top))
    out.append(esc(raw[cursor:]) if aligned else ("" if len(values) else esc(raw)))
    head = (f'<div style="font-size:0.8em;color:#64748B;margin-bottom:2px">{esc(label)}</div>'
            if label else "")  # fmt: skip
    body = ('<div style="line-height:2.1;font-size:1.05em;white-space:pre-wrap;'
            f'word-break:break-word">{"".join(out)}</div>')  # fmt: skip
    return f"<div>{head}{body}{attribution_legend(top)}</div>"


# ---------------------------------------------------------------- agreement


def tau_histogram(
    table: pd.DataFrame,
    *,
    scope: str = "features",
    band: tuple[float, float] = (0.13, 0.44),
    title: str | None = None,
) -> go.Figure:
    """Per-row Kendall τ between attention and |attribution|, against references.

    Args:
        table: :func:`neuromkt.explain.agreement.agreement_table` (``tau_<scope>`` and
            ``uniform_tau_<scope>``).
        scope: "features" or "tokens".
        band: the range Jain & Wallace (2019) reported, shaded.
        title: the figure title.

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> rows = nm.load_sample("ecommerce").head(100)
        >>> result = nm.attribute(bundle, rows, "ig", steps=8)
        >>> attention = nm.position_values(nm.compute_attention(bundle, rows))
        >>> fig = nm.tau_histogram(nm.agreement_table(result, attention, bundle.encoders))
        >>> [trace.type for trace in fig.data]
        ['histogram', 'histogram', 'scatter']
    """
    tau = table[f"tau_{scope}"].dropna().to_numpy(dtype=float)
    uniform = table[f"uniform_tau_{scope}"].dropna().to_numpy(dtype=float)
    bins = {"start": -1.0, "end": 1.0, "size": 0.1}
    fig = go.Figure([
        go.Histogram(x=uniform, xbins=bins, name="uniform attention (random ties)",
                     marker_color=MUTED, opacity=0.55),
        go.Histogram(x=tau, xbins=bins, name="this model's attention", marker_color=BRAND,
                     opacity=0.85),
    ])  # fmt: skip
    fig.add_vrect(x0=band[0], x1=band[1], fillcolor=ACCENT, opacity=0.14, line_width=0)
    fig.add_trace(go.Scatter(  # a legend entry for the shaded band
        x=[None], y=[None], mode="markers", name=f"Jain & Wallace 2019: {band[0]}–{band[1]}",
        marker={"symbol": "square", "size": 12, "color": ACCENT, "opacity": 0.35},
    ))  # fmt: skip
    if len(tau):
        mean = float(tau.mean())
        side = "top left" if mean < band[1] else "top right"
        fig.add_vline(x=mean, line_color=BRAND, line_dash="dash",
                      annotation_text=f"mean τ {mean:.2f}", annotation_position=side,
                      annotation_font_color=BRAND)  # fmt: skip
    fig.update_layout(**layout(
        title=title_text(title), height=440, barmode="overlay",
        xaxis={"title": "Kendall τ (attention vs |attribution|)", "range": [-1, 1]},
        yaxis={"title": "rows"},
        legend=True,
    ))  # fmt: skip
    fig.update_layout(**_LEGEND_ON_TOP)
    return fig


def deletion_figure(
    curve: pd.DataFrame,
    auc: Mapping[str, float],
    *,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """How fast the score falls as the top-k inputs of each ranking are removed.

    Args:
        curve: :attr:`neuromkt.explain.agreement.DeletionCurve.curve` (``k``, ``ranking``,
            ``remaining``).
        auc: mean remaining per ranking (shown in the legend; lower is better).
        labels: display names per ranking (e.g. {"attribution": "Integrated Gradients"}).
        title: the figure title.
    """
    labels = {"attention": "attention", "attribution": "attribution",
              "random": "random order"} | dict(labels or {})  # fmt: skip
    fig = go.Figure()
    for name, group in curve.groupby("ranking", sort=False):
        fig.add_trace(go.Scatter(
            x=group["k"], y=group["remaining"], mode="lines+markers",
            name=f"{esc(labels.get(name, name))} (area {auc.get(name, float('nan')):.2f})",
            line={"color": _RANKING_COLORS.get(name, MUTED), "width": 3,
                  "dash": "dot" if name == "random" else "solid"},
            hovertemplate="remove top %{x}: %{y:.0%} of the score left<extra></extra>",
        ))  # fmt: skip
    fig.add_hline(y=0, line_width=1, line_color="#64748B")
    fig.update_layout(**layout(
        title=title_text(title), height=440,
        xaxis={"title": "inputs removed, by rank"},  # plotly spaces the ticks to fit
        yaxis={"title": "share of the score difference left", "tickformat": ".0%"},
        legend=True,
    ))  # fmt: skip
    fig.update_layout(  # at the bottom of the figure, under the axis title: no overlap
        legend={"orientation": "h", "x": 0, "xanchor": "left", "xref": "container",
                "y": 0, "yanchor": "bottom", "yref": "container", "title": None},
        margin={"b": 150},
    )  # fmt: skip
    return fig
