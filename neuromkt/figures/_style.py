"""Shared look of every neuromkt figure: colours, colour scales, labels and layout.

Small on purpose. Figure modules import from here so that the dashboard, the tests
and the HTML report draw with one palette. Nothing here touches a global plotly
template, and figures use none: :func:`layout` returns a dict each figure applies to
itself (a named template is deep-copied into every figure, which made a re-render of
the Attention page several times slower).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from plotly.colors import qualitative, sample_colorscale

__all__ = [
    "ACCENT",
    "BRAND",
    "DIVERGING",
    "FONT",
    "INK",
    "KIND_COLORS",
    "MUTED",
    "SEQUENTIAL",
    "bar_height",
    "esc",
    "export_config",
    "highlight_colors",
    "layout",
    "short",
    "short_labels",
    "wrap",
]

BRAND = "#4338CA"  # indigo: the app's primary colour
ACCENT = "#D97706"  # amber: a second series or a reference line
MUTED = "#94A3B8"  # slate: context, "the rest"
INK = "#1F2937"  # text
# Kinds of model inputs, colour-blind safe against each other (indigo, teal, amber).
KIND_COLORS = {"numeric": BRAND, "categorical": "#0F766E", "text": ACCENT}
SEQUENTIAL = "Viridis"  # magnitudes (attention >= 0): perceptually uniform
DIVERGING = "RdBu_r"  # signed differences, centred at 0: blue below, red above
_AXIS = {
    "gridcolor": "#E5E7EB",
    "zerolinecolor": "#CBD5E1",
    "linecolor": "#CBD5E1",
    "automargin": True,
    "ticks": "",
    "title": {"standoff": 8},
}
FONT = '"Source Sans Pro", "Source Sans 3", "Helvetica Neue", Arial, sans-serif'
_TAG = re.compile(r"<[^>]*>")  # a markup tag in a plotly string
_HIGHLIGHT = "Purples"  # text backgrounds: light to dark, readable with dark text


def esc(text: Any) -> str:
    """User text made safe for plotly strings and for HTML, text and attribute values.

    ``<``, ``>`` and ``&`` become entities, so neither plotly (which renders a few tags,
    links among them) nor a browser reads markup in the text. Quotes are escaped too,
    for HTML attribute values, but as numeric references (``&#34;``, ``&#x27;``):
    plotly decodes those and shows the quote as typed, while it would show the named
    ``&quot;`` literally.
    """
    return html.escape(str(text), quote=True).replace("&quot;", "&#34;")


def short(text: Any, limit: int = 28) -> str:
    """``text`` cut to ``limit`` characters with "…" (unescaped)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_labels(names: Sequence[Any], limit: int = 28) -> list[str]:
    """Escaped, shortened tick labels (the full names go in the hover text)."""
    return [esc(short(name, limit)) for name in names]


def wrap(text: str | None, width: int = 32) -> str | None:
    """``text`` (escaped HTML) broken with ``<br>`` at spaces into lines of at most
    ``width`` characters, so a title fits a chart in half a laptop screen.

    Plotly never wraps a title: a long one runs out of the chart's box.
    """
    if not text or len(_TAG.sub("", text)) <= width:
        return text
    # Spaces inside a tag (<span style="…">) are not places to break; lengths count
    # only the visible text.
    text = _TAG.sub(lambda m: m.group(0).replace(" ", "\x00"), text)
    lines: list[str] = []
    for part in text.split("<br>"):  # lines already broken are wrapped one by one
        line = ""
        for word in part.split(" "):
            if line and len(_TAG.sub("", line)) + 1 + len(_TAG.sub("", word)) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    lines = [line.replace("\x00", " ") for line in lines]
    return "<br>".join(lines)


def bar_height(n: int, *, per_row: int = 24, base: int = 130, minimum: int = 280) -> int:
    """Figure height in pixels for ``n`` rows of bars or heatmap cells."""
    return max(minimum, base + per_row * n)


def highlight_colors(weights: Sequence[float]) -> list[str]:
    """Background colours for weights in [0, 1] (light = low, dark = high)."""
    clipped = [min(max(float(w), 0.0), 1.0) for w in weights]
    return sample_colorscale(_HIGHLIGHT, [0.05 + 0.8 * w for w in clipped]) if clipped else []


def layout(
    *, title: str | None, height: int, legend: bool | str = False, **overrides: Any
) -> dict[str, Any]:
    """The common layout of a figure; ``title`` must already be escaped.

    Args:
        title: the title, top left (escaped HTML), or None.
        height: pixels.
        legend: False; True for a horizontal legend along the bottom edge; "inside"
            for one inside the plot area, bottom right (where ranked bars leave room).
        **overrides: any other layout settings (axes, bar mode …).
    """
    bottom = legend is True
    title = wrap(title)
    title_lines = title.count("<br>") + 1 if title else 0
    base: dict[str, Any] = {
        "template": "none",  # the same look everywhere, without a template's copy cost
        "colorway": qualitative.Plotly,  # plotly_white's trace colours
        "title": {"text": title, "x": 0, "xanchor": "left", "xref": "container",
                  "pad": {"l": 4}, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 10, "r": 20, "t": 30 + 19 * title_lines if title else 20,
                   "b": 96 if bottom else 44},
        "font": {"family": FONT, "color": INK, "size": 12},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"align": "left", "font": {"family": FONT}},
        "showlegend": bool(legend),
    }  # fmt: skip
    if bottom:
        base["legend"] = {
            "orientation": "h",
            "xref": "container",
            "x": 0,
            "xanchor": "left",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "title": None,
        }
    elif legend == "inside":
        base["legend"] = {
            "x": 1,
            "xanchor": "right",
            "y": 0,
            "yanchor": "bottom",
            "bgcolor": "rgba(255,255,255,0.85)",
            "bordercolor": "#E5E7EB",
            "borderwidth": 1,
            "title": None,
        }
    # a light grid, as plotly_white, without its template cost; the x tick labels stand
    # off a little so that the two axes' first labels ("0", "0%") never touch
    for axis, standoff in (("xaxis", 6), ("yaxis", 2)):
        base[axis] = _AXIS | {"ticklabelstandoff": standoff} | overrides.pop(axis, {})
        axis_title = base[axis].get("title")
        if isinstance(axis_title, str):  # long axis titles wrap too
            base[axis]["title"] = {"text": wrap(axis_title, 32), "standoff": 8}
        elif isinstance(axis_title, dict) and isinstance(axis_title.get("text"), str):
            base[axis]["title"] = axis_title | {"text": wrap(axis_title["text"], 32)}
    return base | overrides


def export_config(filename: str) -> dict[str, Any]:
    """plotly ``config`` for a chart: a PNG download (2x) named ``filename``, no logo."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
    }
