"""Shared look of every neuromkt figure: colours, colour scales, labels and layout.

Small on purpose. Figure modules import from here so that the dashboard, the tests
and the HTML report draw with one palette. Nothing here touches a global plotly
template: :func:`layout` returns a dict each figure applies to itself.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from plotly.colors import sample_colorscale

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
]

BRAND = "#4338CA"  # indigo: the app's primary colour
ACCENT = "#D97706"  # amber: a second series or a reference line
MUTED = "#94A3B8"  # slate: context, "the rest"
INK = "#1F2937"  # text
# Kinds of model inputs, colour-blind safe against each other (indigo, teal, amber).
KIND_COLORS = {"numeric": BRAND, "categorical": "#0F766E", "text": ACCENT}
SEQUENTIAL = "Viridis"  # magnitudes (attention >= 0): perceptually uniform
DIVERGING = "RdBu_r"  # signed differences, centred at 0: blue below, red above
FONT = '"Source Sans Pro", "Source Sans 3", "Helvetica Neue", Arial, sans-serif'
_HIGHLIGHT = "Purples"  # text backgrounds: light to dark, readable with dark text


def esc(text: Any) -> str:
    """User text made safe for plotly strings and HTML (plotly renders some tags)."""
    return html.escape(str(text), quote=True)


def short(text: Any, limit: int = 28) -> str:
    """``text`` cut to ``limit`` characters with "…" (unescaped)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_labels(names: Sequence[Any], limit: int = 28) -> list[str]:
    """Escaped, shortened tick labels (the full names go in the hover text)."""
    return [esc(short(name, limit)) for name in names]


def bar_height(n: int, *, per_row: int = 24, base: int = 130, minimum: int = 280) -> int:
    """Figure height in pixels for ``n`` rows of bars or heatmap cells."""
    return max(minimum, base + per_row * n)


def highlight_colors(weights: Sequence[float]) -> list[str]:
    """Background colours for weights in [0, 1] (light = low, dark = high)."""
    clipped = [min(max(float(w), 0.0), 1.0) for w in weights]
    return sample_colorscale(_HIGHLIGHT, [0.05 + 0.8 * w for w in clipped]) if clipped else []


def layout(
    *, title: str | None, height: int, legend: bool = False, **overrides: Any
) -> dict[str, Any]:
    """The common layout of a figure; ``title`` must already be escaped.

    Args:
        title: the title, top left (escaped HTML), or None.
        height: pixels.
        legend: show a horizontal legend along the bottom edge.
        **overrides: any other layout settings (axes, bar mode …).
    """
    base: dict[str, Any] = {
        "template": "plotly_white",
        "title": {
            "text": title,
            "x": 0,
            "xanchor": "left",
            "xref": "container",
            "pad": {"l": 4},
            "font": {"size": 15},
        },
        "height": height,
        "margin": {"l": 10, "r": 20, "t": 48 if title else 20, "b": 76 if legend else 44},
        "font": {"family": FONT, "color": INK, "size": 12},
        "hoverlabel": {"align": "left", "font": {"family": FONT}},
        "showlegend": legend,
    }
    if legend:
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
    return base | overrides


def export_config(filename: str) -> dict[str, Any]:
    """plotly ``config`` for a chart: a PNG download (2x) named ``filename``, no logo."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
    }
