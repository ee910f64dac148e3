"""The standalone HTML report: one file to open offline, on any laptop or projector.

It may import every library package below it (:mod:`neuromkt.act`,
:mod:`neuromkt.explain`, :mod:`neuromkt.model`, :mod:`neuromkt.data`) and
:mod:`neuromkt.figures`, whose functions it shares with the dashboard; never Streamlit.
"""
