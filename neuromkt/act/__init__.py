"""Acting on a model: scores with reasons, drivers in words, targeting, what-if, export.

It may import :mod:`neuromkt.explain`, :mod:`neuromkt.model`, :mod:`neuromkt.data` and
:mod:`neuromkt.errors`; never reports, figures or Streamlit.
"""
