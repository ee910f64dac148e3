"""Pure figure functions: ``data -> plotly Figure``, shared by pages, tests and the report.

One module per subject: ``data`` (profile), ``metrics`` (model quality), ``attention``,
``explain`` and ``predict``; ``_style`` holds the shared colour scales and layout.
No Streamlit, no model calls: every function takes prepared, tidy data.
"""
