"""The sidebar every page shares: the menu of pages, the current data set and model.

The menu is drawn here with ``st.page_link`` rather than by Streamlit: its own menu
for a ``pages/`` folder names each page after its file ("app" for Home, "Predict"
for Predict & what-if) and has no room for icons, so ``.streamlit/config.toml``
hides it (``client.showSidebarNavigation = false``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import streamlit as st

from neuromkt.ui import escape_markdown
from neuromkt.ui.state import (
    ATTENTION_PAGE,
    DATA_PAGE,
    EXPLAIN_PAGE,
    HOME_PAGE,
    PREDICT_PAGE,
    REPORT_PAGE,
    TRAIN_PAGE,
    current_bundle,
    current_dataset,
    link_params,
)

__all__ = ["MENU", "headline_metric", "render_sidebar"]

# The menu, in order: (page path, label, icon).
MENU = (
    (HOME_PAGE, "Home", ":material/home:"),
    (DATA_PAGE, "Data", ":material/table:"),
    (TRAIN_PAGE, "Train", ":material/model_training:"),
    (ATTENTION_PAGE, "Attention", ":material/visibility:"),
    (EXPLAIN_PAGE, "Explain", ":material/insights:"),
    (PREDICT_PAGE, "Predict & what-if", ":material/target:"),
    (REPORT_PAGE, "Report", ":material/summarize:"),
)

# Headline metric per task: (key in the metrics dictionary, label, format).
_HEADLINE = {
    "binary": ("roc_auc", "AUC", "{:.3f}"),
    "multiclass": ("accuracy", "accuracy", "{:.1%}"),
    "regression": ("rmse", "RMSE", "{:,.4g}"),
}


def headline_metric(metrics: Mapping[str, Any], task: str | None) -> str | None:
    """The one metric to show for a model, as text, e.g. "test AUC 0.822".

    The held-out test rows come first, as on the Train page and in the report (one
    set of numbers); the validation rows only for a model trained without test rows.

    Args:
        metrics: A bundle's metrics, ``{"validation": {...}, "test": {...}}``.
        task: "binary", "multiclass" or "regression".

    Returns:
        The text, or None when the metric is not there.
    """
    if task not in _HEADLINE:
        return None
    key, label, fmt = _HEADLINE[task]
    for split in ("test", "validation"):
        values = metrics.get(split)
        value = values.get(key) if isinstance(values, Mapping) else None
        if isinstance(value, int | float) and math.isfinite(value):
            return f"{split} {label} {fmt.format(value)}"
    return None


def render_sidebar() -> None:
    """Draw the menu of pages, then the current data set and model, in the sidebar."""
    with st.sidebar:
        params = link_params()
        for page, label, icon in MENU:
            st.page_link(page, label=label, icon=icon, query_params=params)
        st.divider()
        st.markdown("##### Data set")
        dataset = current_dataset()
        if dataset is None:
            st.caption("None yet — upload a table or try a sample.")
        else:
            st.markdown(f"**{escape_markdown(dataset.name)}**  \n{dataset.shape_text}")
            target = dataset.schema.target
            if target is None:
                st.caption("No outcome chosen yet (Data page → Column roles).")
            else:
                task = dataset.schema.task or ""
                st.caption(f"Outcome: {escape_markdown(target)} ({task})")
        st.markdown("##### Model")
        bundle = current_bundle()
        if bundle is None:
            st.caption("None yet — train one once the data set has an outcome.")
        else:
            st.markdown(f"**{escape_markdown(bundle.name)}**")
            headline = headline_metric(bundle.metrics, bundle.task)
            st.caption(headline or "no validation metric recorded")
        st.divider()
        st.caption(
            ":material/key: Your work is kept under this page's link: whoever has the "
            "link has the work. Bookmark it to come back; share it only with people "
            "who may see this data."
        )
