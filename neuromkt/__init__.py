"""neuromkt: attention analytics for marketers.

``import neuromkt as nm`` gives the functions and classes a notebook needs, each with
an example in its docstring: load a table and infer its schema, train an attention
model (or load a saved one), score new rows, read the model's attention, explain its
scores with Captum attributions, check the two against each other, draw the figures
the dashboard draws, and write the HTML report. ``docs/tutorial.ipynb`` walks through
them in order.

Names are imported on first use (PEP 562): ``import neuromkt`` and ``neuromkt check``
start without loading torch and Captum, which take seconds to import.

Example:
    >>> import neuromkt as nm
    >>> frame = nm.load_sample("ecommerce").head(600)
    >>> schema = nm.infer_schema(frame, target="purchased")
    >>> result = nm.fit(frame, schema, nm.ModelConfig.preset("small"), nm.TrainConfig(epochs=2))
    >>> scores = nm.predict(result.bundle, frame.head(5))
    >>> scores.shape
    (5,)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> the module that defines it (its one home), in the order of a notebook session.
_HOMES = {
    # loading a table and its column roles
    "load_table": "neuromkt.data.load",
    "load_sample": "neuromkt.data.samples",
    "infer_schema": "neuromkt.data.schema",
    "Schema": "neuromkt.data.schema",
    # or an event log, one row per event, turned into one row per session
    "build_sessions": "neuromkt.data.sessions",
    "SessionConfig": "neuromkt.data.sessions",
    # training
    "fit": "neuromkt.model.training",
    "TrainConfig": "neuromkt.model.train_config",
    "ModelConfig": "neuromkt.model.network",
    "TrainResult": "neuromkt.model.training",
    "TrainProgress": "neuromkt.model.training",
    "Progress": "neuromkt.progress",
    # saved models
    "load_bundle": "neuromkt.model.bundle",
    "save_bundle": "neuromkt.model.bundle",
    "ModelBundle": "neuromkt.model.bundle",
    # scoring
    "predict": "neuromkt.model.inference",
    "score_frame": "neuromkt.act.scoring",
    # attention
    "compute_attention": "neuromkt.explain.attention",
    "AttentionMaps": "neuromkt.explain.attention",
    "AttentionView": "neuromkt.explain.attention",
    "global_features": "neuromkt.explain.attention",
    "layer_head_table": "neuromkt.explain.attention",
    "row_feature_weights": "neuromkt.explain.attention",
    "position_values": "neuromkt.explain.attention",
    # attributions, with their convergence deltas
    "attribute": "neuromkt.explain.attributions",
    "convergence": "neuromkt.explain.attributions",
    "Attribution": "neuromkt.explain.attributions",
    "Convergence": "neuromkt.explain.attributions",
    "feature_ranking": "neuromkt.explain.summaries",
    "token_ranking": "neuromkt.explain.summaries",
    # what `neuromkt explain` writes
    "attention_table": "neuromkt.explain.tables",
    "attribution_table": "neuromkt.explain.tables",
    "global_attention_summary": "neuromkt.explain.tables",
    "global_attribution_summary": "neuromkt.explain.tables",
    # does attention agree with the attributions?
    "agreement_table": "neuromkt.explain.agreement",
    "summarize_agreement": "neuromkt.explain.agreement",
    "row_comparison": "neuromkt.explain.agreement",
    "verdict": "neuromkt.explain.agreement",
    # figures (plotly), drawn from the tidy frames above
    "feature_bar": "neuromkt.figures.attention",
    "layer_head_heatmap": "neuromkt.figures.attention",
    "ranking_bar": "neuromkt.figures.explain",
    "attention_attribution_bars": "neuromkt.figures.explain",
    "tau_histogram": "neuromkt.figures.explain",
    # the report
    "build_report": "neuromkt.report.document",
    # errors whose message a marketer can act on
    "NeuromktError": "neuromkt.errors",
    "DataError": "neuromkt.errors",
    "ModelError": "neuromkt.errors",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    """Import ``name`` from its home module on first use (PEP 562) and keep it here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'neuromkt' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
