"""Pure figure functions: ``data -> plotly Figure``, shared by pages, tests and the report.

One module per subject: ``data`` (profile), ``metrics`` (model quality), ``training``
(the training curve), ``attention``, ``explain`` and ``predict``; ``_style`` holds the
shared colour scales and layout, ``_parts`` and ``_highlight`` the building blocks that
the attention and attribution figures share (axes, heatmaps, highlighted-text HTML).
No Streamlit, no model calls: every function takes prepared, tidy data.
"""
