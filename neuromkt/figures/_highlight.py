"""HTML pieces of highlighted text: one token's span and the colour legend below it.

:func:`neuromkt.figures.attention.highlight_html` shades tokens by attention on a
light-to-dark scale; :func:`neuromkt.figures.explain.token_attribution_html` by
attribution on the diverging scale (red raises the score, blue lowers it). Every piece
of user text is escaped here; styles are inline (no scripts, no classes).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from plotly.colors import sample_colorscale

from neuromkt.figures._style import DIVERGING, esc, highlight_colors

__all__ = ["attention_legend", "attention_span", "attribution_legend", "attribution_span"]


# ---------------------------------------------------------------- attention


def attention_span(piece: str, row: pd.Series, color: str, scaled: float) -> str:
    """``piece`` of the text shaded ``color``; struck through if the model never saw the
    token, underlined if it saw [UNK]; the weight in the tooltip."""
    token = esc(row["token"])
    if not bool(row["seen"]):
        tip = f"{token}: not seen by the model (past its token limit)"
        return (f'<span title="{tip}" style="color:#94A3B8;text-decoration:line-through">'
                f"{esc(piece)}</span>")  # fmt: skip
    tip = f"{token}: attention {row['attention']:.4f}{_time_note(row)}"
    style = f"background:{color};border-radius:4px;padding:2px 3px;"
    style += "color:white;" if scaled > 0.55 else "color:#1F2937;"
    if not bool(row["in_vocab"]):
        tip += " (unknown to the model: it saw [UNK])"
        style += "text-decoration:underline dotted;"
    return f'<span title="{tip}" style="{style}">{esc(piece)}</span>'


def _time_note(row: pd.Series) -> str:
    """ ", 12 s after the previous event, 2 min 5 s until the next" for timed events."""
    parts = []
    for name, words in (("gap_s", "after the previous event"), ("dwell_s", "until the next")):
        value = row.get(name)
        if value is not None and isinstance(value, int | float) and math.isfinite(value):
            parts.append(f"{duration_text(float(value))} {words}")
    return "".join(f", {p}" for p in parts)


def duration_text(seconds: float) -> str:
    """Seconds in words a marketer reads at a glance.

    Example:
        >>> [duration_text(s) for s in (0.4, 12.3, 125, 7_380)]
        ['0.4 s', '12 s', '2 min 5 s', '2 h 3 min']
    """
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def attention_legend(top: float) -> str:
    """The light-to-dark scale from 0 to ``top``."""
    gradient = ",".join(highlight_colors(np.linspace(0.0, 1.0, 5)))
    return ('<div style="display:flex;align-items:center;gap:6px;font-size:0.75rem;'
            'color:#64748B;margin-top:2px"><span>0</span><span style="display:inline-block;'
            f'width:120px;height:8px;border-radius:4px;background:linear-gradient(90deg,'
            f'{gradient})"></span><span>{top:.3f} (darkest)</span></div>')  # fmt: skip


# ---------------------------------------------------------------- attributions


def attribution_span(piece: str, token: str, value: float, top: float) -> str:
    """``piece`` of the text shaded by ``value`` / ``top`` on the diverging scale."""
    scaled = 0.0 if not math.isfinite(value) else max(-1.0, min(1.0, value / top))
    color = sample_colorscale(DIVERGING, [0.5 + 0.45 * scaled])[0]
    ink = "white" if abs(scaled) > 0.6 else "#1F2937"
    tip = f"{esc(token)}: attribution {value:+.4f}"
    style = f"background:{color};color:{ink};border-radius:4px;padding:1px 3px;"
    return f'<span title="{tip}" style="{style}">{esc(piece)}</span>'


def attribution_legend(top: float) -> str:
    """The diverging scale from −``top`` (lowers) to +``top`` (raises)."""
    stops = ",".join(sample_colorscale(DIVERGING, [0.05, 0.275, 0.5, 0.725, 0.95]))
    return (
        '<div style="display:flex;align-items:center;gap:6px;font-size:0.75em;'
        f'color:#64748B;margin-top:4px"><span>lowers −{top:.3f}</span>'
        '<span style="display:inline-block;width:140px;height:8px;border-radius:4px;'
        f'background:linear-gradient(90deg,{stops})"></span><span>+{top:.3f} raises</span></div>'
    )
