"""The Streamlit side of neuromkt: session state, cached views and shared widgets.

This package is the only part of ``neuromkt`` that imports Streamlit; the rest runs
under plain pytest and in a notebook. Pages import from its modules directly: each
starts with ``neuromkt.ui.page.setup_page``, then uses ``neuromkt.ui.state`` and its
own views (``neuromkt.ui.data_views`` …).
"""

from __future__ import annotations

import re

__all__ = ["escape_markdown"]

# Characters with a meaning in Streamlit markdown: CommonMark punctuation, "&" (entity
# references such as "&quot;"), ":" (emoji and icon shortcodes), "$" (LaTeX) and "~"
# (strikethrough). CommonMark lets a backslash escape any ASCII punctuation.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def escape_markdown(text: object) -> str:
    """Escape user text (file names, column names, values) for Streamlit markdown.

    Use it wherever user text reaches markdown: ``st.markdown``, ``st.caption``,
    ``st.error``/``st.warning``/``st.info``/``st.success``, headers, and the labels,
    values and help of widgets and metrics. The text then shows as typed and stays
    inert (no link, no HTML, no formatting). Option texts of select boxes and table
    cells are plain text already and need no escaping.

    Args:
        text: Any value; it is converted with ``str``.

    Returns:
        The text with every markdown-special character backslash-escaped and line
        breaks turned into spaces, so it renders literally on one line.
    """
    flat = " ".join(str(text).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
