"""HTML building blocks of the standalone report (:mod:`neuromkt.report.document`).

A chart embedded without plotly.js (the page inlines it once), a titled section, a
responsive grid and a plain table. Every piece of user text goes through :func:`e`
(``html.escape``); captions passed to :func:`section_html` are HTML written by the
report's sections, with user text already escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["chart_html", "e", "grid_html", "section_html", "table_html"]

e = html.escape  # every user string goes through this


def chart_html(fig: go.Figure) -> str:
    """``fig`` as a ``<div class="chart">`` without plotly.js."""
    body = fig.to_html(
        full_html=False, include_plotlyjs=False, default_width="100%",
        config={"displaylogo": False, "responsive": True, "displayModeBar": False},
    )  # fmt: skip
    return f'<div class="chart">{body}</div>'


def section_html(anchor: str, title: str, caption: str, *parts: str) -> str:
    """A ``<section id=anchor>``: the title (escaped), the caption (HTML) and ``parts``."""
    return (
        f'<section id="{anchor}"><h2>{e(title)}</h2><p class="caption">{caption}</p>'
        + "".join(parts)
        + "</section>"
    )


def grid_html(*parts: str) -> str:
    """The non-empty ``parts`` side by side (stacked on narrow screens)."""
    return '<div class="grid">' + "".join(p for p in parts if p) + "</div>"


def table_html(frame: pd.DataFrame, formats: dict[str, str] | None = None, css: str = "") -> str:
    """``frame`` as an HTML table, every cell escaped; ``formats``: column -> format string."""
    formats = formats or {}
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            fmt = formats.get(column)
            shown = fmt.format(value) if fmt and pd.notna(value) else str(value)
            numeric = isinstance(value, int | float | np.number)
            cells.append(f"{'<td class=num>' if numeric else '<td>'}{e(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
