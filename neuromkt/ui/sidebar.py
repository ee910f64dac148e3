"""The sidebar every page shares: the current data set and the current model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import streamlit as st

from neuromkt.ui import escape_markdown
from neuromkt.ui.state import current_bundle, current_dataset

__all__ = ["headline_metric", "render_sidebar"]

# Headline metric per task: (key in the metrics dictionary, label, format).
_HEADLINE = {
    "binary": ("roc_auc", "AUC", "{:.3f}"),
    "multiclass": ("accuracy", "accuracy", "{:.1%}"),
    "regression": ("rmse", "RMSE", "{:,.4g}"),
}


def headline_metric(metrics: Mapping[str, Any], task: str | None) -> str | None:
    """The one metric to show for a model, as text, e.g. "validation AUC 0.812".

    Args:
        metrics: A bundle's metrics, ``{"validation": {...}, "test": {...}}``.
        task: "binary", "multiclass" or "regression".

    Returns:
        The text, or None when the metric is not there.
    """
    if task not in _HEADLINE:
        return None
    key, label, fmt = _HEADLINE[task]
    for split in ("validation", "test"):
        values = metrics.get(split)
        value = values.get(key) if isinstance(values, Mapping) else None
        if isinstance(value, int | float) and math.isfinite(value):
            return f"{split} {label} {fmt.format(value)}"
    return None


def render_sidebar() -> None:
    """Draw the current data set and model in the sidebar."""
    with st.sidebar:
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
