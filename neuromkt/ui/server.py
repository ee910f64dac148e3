"""Process-wide tuning of the server that runs the dashboard (once per process).

Streamlit runs a full garbage collection after every script run, fragments included
(its ``runner.postScriptGC`` option). With torch, pandas, plotly and Captum loaded, the
collector walks about 300,000 long-lived objects on every pass, some 0.1–0.2 s of one
core. The Train page's live monitor reruns once a second per training session, so
eight people training at once kept the process busy collecting garbage, and every
other session's clicks waited behind it (seen in ``tests/browser/test_concurrency.py``).

:func:`freeze_startup_objects` imports the dashboard's modules up front and moves
every object alive at that moment — modules, functions, classes: things that live as
long as the process — into the collector's permanent generation, which later passes
skip. Reference counting still frees those objects as usual; only a reference cycle
among them would outlive its use, and nothing user-specific exists yet at that point.
"""

from __future__ import annotations

import functools
import gc
import importlib

from neuromkt.errors import NeuromktError
from neuromkt.model.threads import configure_threads

__all__ = ["configure_torch_threads", "freeze_startup_objects"]

# The modules the pages in pages/ import, loaded before freezing so that their objects
# are frozen too (importing them later, on a first visit to a page, would not be).
_PAGE_MODULES = (
    "neuromkt.ui.attention_views",
    "neuromkt.ui.data_views",
    "neuromkt.ui.explain_views",
    "neuromkt.ui.predict_views",
    "neuromkt.ui.report_views",
    "neuromkt.ui.train_models",
    "neuromkt.ui.train_results",
    "neuromkt.ui.train_views",
    "neuromkt.ui.whatif_views",
    "neuromkt.figures.attention",
    "neuromkt.figures.data",
    "neuromkt.figures.explain",
    "neuromkt.figures.metrics",
    "neuromkt.figures.predict",
)


@functools.cache
def freeze_startup_objects() -> int:
    """Import the pages' modules, collect garbage once, then freeze what is alive.

    Runs once per process (later calls return at once); call it before any session
    state exists, i.e. first thing in :func:`neuromkt.ui.page.setup_page`, which every
    page runs first.

    Returns:
        How many objects the permanent generation holds.
    """
    for name in _PAGE_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@functools.cache
def configure_torch_threads() -> str | None:
    """Set torch's thread count once per process (see :mod:`neuromkt.model.threads`).

    Returns:
        None, or the sentence to show when ``NEUROMKT_THREADS`` is not a valid
        number (torch then keeps its own default).
    """
    try:
        configure_threads()
    except NeuromktError as exc:
        return str(exc)
    return None
