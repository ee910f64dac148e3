"""Pre-trained models of the sample data sets, shipped in ``sample_data/models/<key>.zip``.

Every sample of :mod:`neuromkt.data.samples` comes with a bundle trained by the project's
own :func:`neuromkt.model.training.fit` with the default model and training configuration and
seed 0, so that "Try the sample" on the home page lands on a trained model with no
waiting. ``python -m neuromkt.model.sample_models`` (``make samples``) retrains them and
prints their metrics.

The shipped bundles (default model: width 64, 1 layer, 4 heads; trained with
``TrainConfig(seed=0)``: learning rate 0.001, at most 30 epochs and at most
``ceil(row_budget / training rows)``, 10% level dropout, early stopping on
validation AUC) score, on their held-out test split (15% of the rows, never seen
while training):

=========  ========  ======  =========  =============  ==============  ======
sample     test AUC  PR-AUC  test rows  epochs (kept)  validation AUC  size
=========  ========  ======  =========  =============  ==============  ======
ecommerce  0.822     0.447   3,000      11 (9)         0.817           168 KB
ads        0.786     0.232   3,000      10 (6)         0.770           196 KB
search_cn  0.782     0.261   1,800      7 (3)          0.785           189 KB
=========  ========  ======  =========  =============  ==============  ======

``tests/test_sample_models.py`` checks that each loads, matches its sample's columns
and roles, reproduces its test AUC and scores at least ``MIN_SAMPLE_AUC``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from neuromkt.data.samples import SAMPLE_DIR, SAMPLES, load_sample
from neuromkt.data.schema import Schema, infer_schema
from neuromkt.model.bundle import ModelBundle, load_bundle, save_bundle
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import TrainResult, fit

__all__ = [
    "MIN_SAMPLE_AUC",
    "SAMPLE_MODEL_DIR",
    "load_sample_bundle",
    "sample_bundle_path",
    "sample_frame_and_schema",
    "train_sample_bundle",
    "train_sample_bundles",
]

SAMPLE_MODEL_DIR = SAMPLE_DIR / "models"
SAMPLE_MODEL_SEED = 0  # seeds the split, the initialisation and the batch order
MIN_SAMPLE_AUC = 0.70  # every shipped bundle scores at least this AUC on its sample
MAX_BUNDLE_BYTES = 2 * 1024**2  # shipped zips stay below 2 MB


def sample_frame_and_schema(key: str) -> tuple[pd.DataFrame, Schema]:
    """A sample's frame and the schema its model is trained with.

    The schema is the inferred one with the sample's target, and its text columns
    set to "text" — the same roles the dashboard gives a sample it loads.

    Raises:
        ValueError: ``key`` names no sample.
    """
    if key not in SAMPLES:
        raise ValueError(f"There is no sample called '{key}'. Choose one of: {', '.join(SAMPLES)}.")
    spec = SAMPLES[key]
    frame = load_sample(key)
    schema = infer_schema(frame, target=spec.target)
    for column in spec.text_columns:
        if column in frame.columns and schema.role_of(column) != "text":
            schema = schema.with_role(column, "text", frame)
    return frame, schema


def sample_bundle_path(key: str, directory: Path | str = SAMPLE_MODEL_DIR) -> Path:
    """Where the pre-trained bundle of sample ``key`` lives: ``<directory>/<key>.zip``."""
    if key not in SAMPLES:
        raise ValueError(f"There is no sample called '{key}'. Choose one of: {', '.join(SAMPLES)}.")
    return Path(directory) / f"{key}.zip"


def train_sample_bundle(
    key: str,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
) -> TrainResult:
    """Train sample ``key``'s model (default configuration, seed 0 unless given)."""
    frame, schema = sample_frame_and_schema(key)
    return fit(
        frame,
        schema,
        model_config or ModelConfig(),
        train_config or TrainConfig(seed=SAMPLE_MODEL_SEED),
        name=f"{SAMPLES[key].title} (pre-trained)",
    )


def train_sample_bundles(
    out_dir: Path | str = SAMPLE_MODEL_DIR,
    keys: Iterable[str] | None = None,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    verbose: bool = True,
) -> dict[str, Path]:
    """Train and save the pre-trained bundle of each sample.

    Args:
        out_dir: Folder of the zips (``sample_data/models`` by default).
        keys: The samples to train (all by default).
        model_config: Architecture (default: ``ModelConfig()``).
        train_config: Training (default: ``TrainConfig(seed=0)``).
        verbose: Print one JSON line of metrics per sample.

    Returns:
        The path written for each sample key.
    """
    written = {}
    for key in list(keys) if keys is not None else list(SAMPLES):
        result = train_sample_bundle(key, model_config=model_config, train_config=train_config)
        path = save_bundle(result.bundle, sample_bundle_path(key, out_dir))
        written[key] = path
        if verbose:
            print(json.dumps(_summary(key, result, path)), flush=True)
    return written


def load_sample_bundle(key: str, directory: Path | str = SAMPLE_MODEL_DIR) -> ModelBundle | None:
    """The pre-trained bundle of sample ``key``, or None when it is not shipped.

    Raises:
        ValueError: ``key`` names no sample.
        ModelError: the file is there but is not a valid bundle.
    """
    path = sample_bundle_path(key, directory)
    if not path.is_file():
        return None
    return load_bundle(path)


def _summary(key: str, result: TrainResult, path: Path) -> dict[str, object]:
    metrics = result.bundle.metrics
    keep = ("roc_auc", "pr_auc", "accuracy", "f1", "log_loss", "n")
    return {
        "sample": key,
        "file": str(path),
        "kb": round(path.stat().st_size / 1024, 1),
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "seconds": round(result.seconds, 1),
        **{
            f"{split}_{name}": round(float(metrics[split][name]), 4)
            for split in ("validation", "test")
            if split in metrics
            for name in keep
            if name in metrics[split]
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m neuromkt.model.sample_models [--out DIR] [--only KEY ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SAMPLE_MODEL_DIR), help="folder of the zips")
    parser.add_argument("--only", nargs="*", choices=list(SAMPLES), help="samples to train")
    args = parser.parse_args(argv)
    train_sample_bundles(Path(args.out), args.only or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
