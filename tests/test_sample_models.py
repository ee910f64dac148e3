"""The pre-trained bundles shipped in sample_data/models: they load, fit and score."""

from __future__ import annotations

import json

import pytest

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.samples import SAMPLES
from neuromkt.model.evaluation import evaluate_holdout, holdout_rows
from neuromkt.model.network import ModelConfig
from neuromkt.model.sample_models import (
    MAX_BUNDLE_BYTES,
    MIN_SAMPLE_AUC,
    load_sample_bundle,
    sample_bundle_path,
    sample_frame_and_schema,
    train_sample_bundles,
)
from neuromkt.model.train_config import TrainConfig


@pytest.mark.parametrize("key", list(SAMPLES))
def test_shipped_bundle_loads_and_scores_its_sample(key: str) -> None:
    path = sample_bundle_path(key)
    assert path.is_file(), f"{path} is missing; run `python -m neuromkt.model.sample_models`"
    assert path.stat().st_size < MAX_BUNDLE_BYTES
    bundle = load_sample_bundle(key)
    assert bundle is not None
    frame, schema = sample_frame_and_schema(key)
    # Trained on exactly this sample, with the roles the dashboard gives it.
    assert bundle.data_fingerprint == frame_fingerprint(frame)
    assert bundle.schema == schema
    assert bundle.model_config == ModelConfig()  # the default configuration
    assert bundle.train_config.seed == 0
    bundle.encoders.check_columns(frame)
    # Its test split, rebuilt from the bundle, gives back the metrics saved with it.
    evaluation = evaluate_holdout(bundle, frame, holdout_rows(bundle, frame))
    auc = evaluation.metrics["roc_auc"]
    assert auc >= MIN_SAMPLE_AUC
    assert auc == pytest.approx(bundle.metrics["test"]["roc_auc"], abs=1e-6)


def test_missing_bundles_and_unknown_samples(tmp_path) -> None:
    assert load_sample_bundle("ads", tmp_path) is None
    with pytest.raises(ValueError, match="no sample called 'nope'"):
        load_sample_bundle("nope")


@pytest.mark.slow
def test_train_sample_bundles_writes_loadable_zips(tmp_path, capsys) -> None:
    small = TrainConfig(epochs=1, batch_size=1024)
    written = train_sample_bundles(
        tmp_path, ["search_cn"], model_config=ModelConfig.preset("small"), train_config=small
    )
    assert written == {"search_cn": tmp_path / "search_cn.zip"}
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["sample"] == "search_cn" and summary["epochs"] == 1
    assert 0.5 < summary["test_roc_auc"] <= 1.0
    bundle = load_sample_bundle("search_cn", tmp_path)
    assert bundle is not None and bundle.model_config.d_model == 32
    assert bundle.metrics["test"]["roc_auc"] == pytest.approx(summary["test_roc_auc"], abs=1e-4)
