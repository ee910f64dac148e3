"""Cached attributions, agreement and deletion curves of the Explain page.

Attributions are computed on a seeded sample of the data set's rows (500 by
default) and cached with ``st.cache_data`` under explicit content keys: the model's
key (creation time, training-data fingerprint and weights, see
``attention_cache.bundle_key``), the data set's fingerprint, the sample size and
every setting. Nothing is keyed on a user or a session, so two users with
different data or models never see each other's results, and a rerun with the
same settings is instant. Long computations report progress through a callback
from the chunked loop into an ``st.progress`` bar.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from neuromkt.act.in_short import driver_summary
from neuromkt.explain.agreement import (
    DeletionCurve,
    agreement_table,
    deletion_curve,
    summarize_agreement,
)
from neuromkt.explain.attention import AttentionMaps, AttentionView, position_values
from neuromkt.explain.attributions import METHODS, Attribution, attribute
from neuromkt.progress import OnProgress, Progress
from neuromkt.ui.attention_cache import (
    CACHE_TTL_S,
    AttentionData,
    NoiseResult,
    attention_data,
    maps_for,
)

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
    from neuromkt.ui.state import Dataset

__all__ = [
    "DEFAULT_ROWS",
    "Settings",
    "agreement_for",
    "attention_maps",
    "attention_values",
    "attribution_for",
    "deletion_for",
    "explain_data",
    "summary_for",
]

DEFAULT_ROWS = 500  # rows sampled for the page's views (adjustable)


@dataclass(frozen=True)
class Settings:
    """Everything that changes an attribution (part of every cache key)."""

    method: str = "ig"
    baseline: str = "neutral"
    steps: int = 32
    samples: int = 16
    window: int = 1
    output: str = "logit"
    target: str | None = None
    rows: int = DEFAULT_ROWS

    def attribute_options(self) -> dict:
        """Keyword arguments of :func:`neuromkt.explain.attributions.attribute`."""
        return {
            "baseline": self.baseline,
            "steps": self.steps,
            "samples": self.samples,
            "window": self.window,
            "output": self.output,
            "target": self.target,
        }


def explain_data(dataset: Dataset, bundle: ModelBundle, rows: int) -> AttentionData:
    """A seeded sample of ``rows`` rows of the data set, with its content key.

    Raises:
        ModelError: the data set lacks columns the model reads (they are named).
    """
    return attention_data(dataset, bundle, max_rows=rows, tag="exp-")


# ---------------------------------------------------------------- cached results


@contextmanager
def _progress_bar(text: str) -> Iterator[OnProgress]:
    """An ``st.progress`` bar driven by an ``on_progress`` callback, removed when done.

    Used inside the cached functions, so that a cache hit replays (and removes) it too.
    """
    bar = st.progress(0.0, text=text)

    def update(progress: Progress) -> None:
        done, total = progress.done, progress.total
        bar.progress(progress.fraction, text=f"{text} {done:,} of {total:,} {progress.unit}")

    try:
        yield update
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=16, ttl=CACHE_TTL_S)
def _attribution(key: str, settings: tuple, _bundle, _frame) -> Attribution:
    s = Settings(*settings)
    with _progress_bar(f"Computing {METHODS[s.method].label}…") as update:
        return attribute(_bundle, _frame, s.method, on_progress=update, **s.attribute_options())


def attribution_for(bundle: ModelBundle, data: AttentionData, settings: Settings) -> Attribution:
    """The attributions of the sampled rows (computed once per model, data and settings)."""
    return _attribution(data.key, astuple(settings), bundle, data.frame)


@st.cache_data(show_spinner=False, max_entries=32, ttl=CACHE_TTL_S)
def _agreement(key: str, settings: tuple, view: tuple, k: int, _attr, _attention, _encoders):
    table = agreement_table(_attr, _attention, _encoders, k=k)
    return table, summarize_agreement(table)


def attention_values(bundle: ModelBundle, data: AttentionData, view: AttentionView) -> np.ndarray:
    """(N, T) [CLS] attention of the sampled rows (cached with the Attention page's cache)."""
    return position_values(attention_maps(bundle, data), view)


def attention_maps(bundle: ModelBundle, data: AttentionData) -> AttentionMaps:
    """The sampled rows' attention maps."""
    return maps_for(bundle, data)


def agreement_for(
    bundle: ModelBundle,
    data: AttentionData,
    settings: Settings,
    attribution: Attribution,
    view: AttentionView,
    k: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-row agreement table and its summary (see ``neuromkt.explain.agreement``)."""
    attention = attention_values(bundle, data, view)
    view_key = (view.method, view.layer, view.head)
    return _agreement(
        data.key, astuple(settings), view_key, k, attribution, attention, bundle.encoders
    )


@st.cache_data(show_spinner=False, max_entries=16, ttl=CACHE_TTL_S)
def _deletion(key, settings, view, scope, _bundle, _frame, _attr, _attention) -> DeletionCurve:
    with _progress_bar("Removing inputs one by one…") as update:
        return deletion_curve(
            _bundle, _frame, _attr, _attention, scope=scope,
            on_progress=lambda done, total: update(Progress(done, total)),
        )  # fmt: skip


def deletion_for(
    bundle: ModelBundle,
    data: AttentionData,
    settings: Settings,
    attribution: Attribution,
    view: AttentionView,
    scope: str,
) -> DeletionCurve:
    """The deletion curve of attention, the attribution and a random order."""
    attention = attention_values(bundle, data, view)
    view_key = (view.method, view.layer, view.head)
    return _deletion(
        data.key, astuple(settings), view_key, scope, bundle, data.frame, attribution, attention
    )


@st.cache_data(show_spinner=False, max_entries=16, ttl=CACHE_TTL_S)
def _summary(key: str, settings: tuple, noisy: bool, _attr, _frame, _bundle, _noise):
    return driver_summary(_attr, _frame, _bundle, noise=_noise)


def summary_for(
    bundle: ModelBundle,
    data: AttentionData,
    settings: Settings,
    attribution: Attribution,
    noise: NoiseResult | None,
) -> pd.DataFrame:
    """Every column's effect in plain units and its value-effect relation (``driver_summary``)."""
    table = None if noise is None else noise.table
    return _summary(
        data.key, astuple(settings), noise is not None, attribution, data.frame, bundle, table
    )
