"""Streamed training (one process): the same model as in-memory training on the same rows."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from neuromkt.data.samples import load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.data.stream import open_source, row_keys, sample_frame, split_codes
from neuromkt.model.encoders import Encoders
from neuromkt.model.inference import predict
from neuromkt.model.metrics import task_metrics
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.stream_training import StreamConfig, fit_streamed
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import (
    EncodedRows,
    fit,
    lr_at,
    make_parameter_groups,
    train_one_epoch,
)


def write_folder(folder: Path, frame: pd.DataFrame, files: int, group: int) -> Path:
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        table = pa.Table.from_pandas(frame.iloc[part], preserve_index=False)
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=group)
    return folder


def test_streamed_fit_equals_in_memory_training_on_the_same_rows_in_order(
    ecommerce_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = ecommerce_frame.head(1500)
    source = open_source(write_folder(tmp_path / "rows", frame, files=3, group=200))
    schema = infer_schema(frame, target="purchased")
    # Dropout draws from torch's global generator, which a DataLoader also draws from at
    # every epoch; without dropout both runs see the same random numbers (level dropout
    # has its own generator and stays on).
    model_config = ModelConfig.preset("small", dropout=0.0, attention_dropout=0.0)
    config = TrainConfig(epochs=2, seed=3, batch_size=64, patience=10)
    # Chunks of 170 rows do not line up with batches of 64: rows carry over between chunks.
    result = fit_streamed(
        source, schema, model_config, config, stream=StreamConfig(batch_rows=170, shuffle_chunks=0)
    )

    # The same thing by hand, in memory, with the training module's own pieces.
    keys = row_keys(frame, id_column="session_id", file_index=0, first_row=0)
    codes = split_codes(keys, seed=3, val_fraction=0.15, test_fraction=0.15)
    train = frame[codes == 0]
    encoders = Encoders.fit(train, schema)
    assert result.bundle.encoders.to_dict() == encoders.to_dict()
    y, _ = encoders.transform_target(train)
    rows = EncodedRows(encoders.transform(train), y)
    loader = DataLoader(
        rows, sampler=BatchSampler(SequentialSampler(rows), 64, drop_last=False), batch_size=None
    )
    torch.manual_seed(3)
    model = AttentionModel(config=model_config, spec=encoders.spec())
    p = float(y.mean())
    model.init_output_bias(torch.tensor([math.log(p / (1 - p))]))
    optimizer = torch.optim.AdamW(make_parameter_groups(model, config.weight_decay), lr=config.lr)
    n_steps = len(loader) * 2
    warmup = max(1, int(n_steps * config.warmup_fraction))
    dropper = torch.Generator().manual_seed(4)
    state = {"step": 0, "cancelled": False}
    losses, weights = [], []
    for _ in range(2):
        losses.append(
            train_one_epoch(
                model,
                loader,
                optimizer,
                lambda s: lr_at(s, total=n_steps, warmup=warmup, peak=config.lr),
                state=state,
                task="binary",
                weights=None,
                report=lambda loss: None,
                should_stop=lambda: False,
                level_dropout=config.level_dropout,
                generator=dropper,
            )
        )
        weights.append(copy.deepcopy(model.state_dict()))

    assert [h["loss"] for h in result.history] == pytest.approx(losses, rel=1e-5)
    expected = weights[result.best_epoch - 1]
    for name, value in result.bundle.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=1e-4, atol=1e-5, msg=name)
    record = result.bundle.metrics["training"]
    assert record["processes"] == 1 and record["rows"] == 1500
    assert record["train_rows"] == len(train)
    assert record["split"] == "hash of 'session_id'"


def test_shuffled_stream_sees_every_training_row_once_per_epoch(tmp_path: Path) -> None:
    from neuromkt.model.stream_training import _batches, _Spool

    spool = _Spool(tmp_path / "spool")
    for start in range(0, 1000, 130):
        ids = np.arange(start, min(start + 130, 1000))
        spool.append({"numeric": ids[:, None].astype("float32"), "y": ids.astype("float32")})
    rng = np.random.default_rng(0)
    seen = [y for _, y in _batches(spool, 64, rng=rng, group=3, steps=None)]
    assert sorted(torch.cat(seen).int().tolist()) == list(range(1000))
    assert torch.cat(seen).int().tolist() != list(range(1000))  # shuffled
    cycled = list(_batches(spool, 64, rng=rng, group=3, steps=40))  # more than one pass
    assert len(cycled) == 40 and all(len(y) == 64 for _, y in cycled)


AUC_TOLERANCE = 0.02  # streamed vs in-memory model, on the same held-out rows


@pytest.mark.slow
def test_streamed_model_scores_as_well_as_the_in_memory_model(tmp_path: Path) -> None:
    """Different split (hash vs stratified) and shuffling (chunk groups vs all rows), so
    not the same weights; on 6,000 held-out rows the AUCs differ by at most 0.02."""
    whole = load_sample("ecommerce")
    frame, held_out = whole.iloc[:8000], whole.iloc[8000:14000]
    source = open_source(write_folder(tmp_path / "rows", frame, files=4, group=1000))
    schema = infer_schema(sample_frame(source), target="purchased")
    config = TrainConfig(epochs=6, seed=0)
    streamed = fit_streamed(
        source, schema, ModelConfig.preset("small"), config, stream=StreamConfig(batch_rows=1000)
    )
    in_memory = fit(
        frame, infer_schema(frame, target="purchased"), ModelConfig.preset("small"), config
    )
    aucs = [
        task_metrics(
            "binary", held_out["purchased"].to_numpy(), predict(r.bundle, held_out), ["0", "1"]
        )["roc_auc"]
        for r in (streamed, in_memory)
    ]
    assert aucs[1] > 0.75
    assert abs(aucs[0] - aucs[1]) <= AUC_TOLERANCE, aucs
