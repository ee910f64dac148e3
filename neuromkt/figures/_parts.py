"""Building blocks shared by the attention and attribution figures.

An escaped title, a numeric axis that shows labels (so two names that shorten alike
never merge), a heatmap trace with exact values in the hover, white separator lines
across a heatmap, and a feature × column grid from a tidy frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from neuromkt.figures._style import SEQUENTIAL, esc

__all__ = ["category_axis", "heatmap", "pivot", "separator_lines", "title_text"]

_MAX_CELL_TEXT = 400  # heatmaps with more cells than this show no numbers in the cells


def title_text(title: str | None) -> str | None:
    """The escaped title, or None for no title."""
    return esc(title) if title else None


def category_axis(labels: list[str], *, reverse: bool = True, **extra: Any) -> dict:
    """A numeric axis showing ``labels`` (already escaped) at 0, 1, 2 …"""
    axis = {
        "tickmode": "array",
        "tickvals": list(range(len(labels))),
        "ticktext": labels,
        "automargin": True,
        "showgrid": False,
        "zeroline": False,
    }
    if reverse:
        axis["autorange"] = "reversed"
    return axis | extra


def heatmap(z: np.ndarray, hover: np.ndarray, colorbar: str, **colors: Any) -> go.Heatmap:
    """A heatmap over integer axes with exact values in the hover and, if small, the cells."""
    cells = colors.pop("cells", "%{z:.2f}")
    return go.Heatmap(
        z=z, x=list(range(z.shape[1])), y=list(range(z.shape[0])), customdata=hover,
        hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1,
        colorbar={"title": {"text": colorbar}, "thickness": 14, "outlinewidth": 0},
        texttemplate=cells if cells and z.size <= _MAX_CELL_TEXT else None,
        **({"colorscale": SEQUENTIAL, "zmin": 0} | colors),
    )  # fmt: skip


def separator_lines(
    at: np.ndarray, *, vertical: bool = True, horizontal: bool = False
) -> list[dict]:
    """White separator lines across a heatmap at the given cell boundaries."""
    shapes = []
    for x in at:
        if vertical:
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "white", "width": 3},
                }
            )
        if horizontal:
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": x,
                    "y1": x,
                    "line": {"color": "white", "width": 3},
                }
            )
    return shapes


def pivot(table: pd.DataFrame, columns: str, value: str, rows: list, cols: list) -> np.ndarray:
    """(len(rows), len(cols)) grid of ``value`` by ``feature`` (rows) and ``columns``;
    NaN where a pair is missing."""
    grid = table.pivot_table(index="feature", columns=columns, values=value, observed=True)
    return grid.reindex(index=rows, columns=cols).to_numpy(dtype=float)
