"""neuromkt: attention analytics for marketers.

The names a notebook user needs: load a table, infer its schema, train an attention
model, look at its attention and attributions, score new rows, write the report.

Example:
    >>> import neuromkt as nm
    >>> frame = nm.load_table("sessions.csv")
    >>> result = nm.fit(frame, nm.infer_schema(frame, target="purchased"))
    >>> nm.global_attention_summary(result.bundle, frame)["features"][:3]
"""

from neuromkt.act.scoring import score_frame
from neuromkt.data.load import LoadLimits, frame_fingerprint, load_table
from neuromkt.data.samples import SAMPLES, load_sample
from neuromkt.data.schema import Schema, infer_schema
from neuromkt.errors import DataError, ModelError, NeuromktError
from neuromkt.explain.tables import (
    attention_table,
    attribution_table,
    global_attention_summary,
    global_attribution_summary,
)
from neuromkt.model.bundle import ModelBundle, bundle_to_zip_bytes, load_bundle, save_bundle
from neuromkt.model.encoders import EncoderConfig, Encoders, tokenize
from neuromkt.model.inference import predict
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.registry import Registry
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import TrainResult, fit
from neuromkt.report.document import build_report

__all__ = [
    "SAMPLES",
    "AttentionModel",
    "DataError",
    "EncoderConfig",
    "Encoders",
    "LoadLimits",
    "ModelBundle",
    "ModelConfig",
    "ModelError",
    "NeuromktError",
    "Registry",
    "Schema",
    "TrainConfig",
    "TrainResult",
    "attention_table",
    "attribution_table",
    "build_report",
    "bundle_to_zip_bytes",
    "fit",
    "frame_fingerprint",
    "global_attention_summary",
    "global_attribution_summary",
    "infer_schema",
    "load_bundle",
    "load_sample",
    "load_table",
    "predict",
    "save_bundle",
    "score_frame",
    "tokenize",
]
__version__ = "0.1.0"
