"""Run by ``tests/test_distributed.py`` under ``torchrun --nproc-per-node 2`` (gloo, CPU).

``python tests/ddp_scenarios.py DATA_DIR OUT_DIR`` does, on every rank:

1. *step*: one optimiser step of a DDP model on this rank's half of a fixed batch of
   2B rows; writes the parameters to ``OUT_DIR/step-rank{r}.safetensors`` (the test
   compares them with one process taking the whole 2B rows); the same without the
   text column (``step-notext-rank{r}``), where some parameters get no gradient.
2. *fit*: ``fit_streamed`` on the Parquet folder DATA_DIR; writes the trained
   parameters to ``OUT_DIR/fit-rank{r}.safetensors`` and the bundle's training record
   (rank 0) to ``OUT_DIR/fit.json``.
3. *score*: ``score_source`` of that model on DATA_DIR, rows split between the ranks,
   to ``OUT_DIR/scores.parquet`` (joined by rank 0).

Nothing here is a test by itself: the assertions are in the test module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from neuromkt.act.chunked import score_source
from neuromkt.data.samples import load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.data.stream import open_source, sample_frame
from neuromkt.model import distributed as ddp
from neuromkt.model.encoders import Encoders
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import lr_at, make_parameter_groups, train_one_epoch

STEP_ROWS = 32  # B: rows per rank in the step scenario
NO_DROPOUT = ModelConfig.preset("small", dropout=0.0, attention_dropout=0.0)


def step_inputs(text: bool = True) -> tuple[Encoders, dict[str, torch.Tensor], torch.Tensor]:
    """2B encoded rows of the e-commerce sample, the same in every process.

    Without ``text`` the event column is ignored, so the token embeddings get no
    gradient (DDP has to be told about unused parameters).
    """
    frame = load_sample("ecommerce").head(400)
    schema = infer_schema(frame, target="purchased")
    if not text:
        schema = schema.with_role("events", "ignore", frame)
    encoders = Encoders.fit(frame, schema)
    rows = frame.head(2 * STEP_ROWS)
    y, _ = encoders.transform_target(rows)
    return encoders, encoders.transform(rows), y


def one_step(model: torch.nn.Module, inputs: dict[str, torch.Tensor], y: torch.Tensor) -> None:
    """One AdamW step through the training code's own pieces."""
    optimizer = torch.optim.AdamW(make_parameter_groups(model, 1e-4), lr=1e-3)
    train_one_epoch(
        model,
        [(inputs, y)],  # type: ignore[arg-type]
        optimizer,
        lambda s: lr_at(s, total=10, warmup=1, peak=1e-3),
        state={"step": 0, "cancelled": False},
        task="binary",
        weights=None,
        report=lambda loss: None,
        should_stop=lambda: False,
    )


def fresh_model(encoders: Encoders) -> AttentionModel:
    torch.manual_seed(0)
    return AttentionModel(config=NO_DROPOUT, spec=encoders.spec())


def main(data: str, out: str) -> None:
    out_dir = Path(out)
    with ddp.job("cpu") as ctx:
        for name, text in (("step", True), ("step-notext", False)):
            encoders, inputs, y = step_inputs(text)
            model = fresh_model(encoders)
            mine = slice(ctx.rank * STEP_ROWS, (ctx.rank + 1) * STEP_ROWS)
            half = {k: v[mine] for k, v in inputs.items()}
            one_step(ddp.wrap_model(model, ctx, half), half, y[mine])
            save_file(dict(model.state_dict()), out_dir / f"{name}-rank{ctx.rank}.safetensors")

        source = open_source(data)
        schema = infer_schema(sample_frame(source), target="purchased")
        from neuromkt.model.stream_training import StreamConfig, fit_streamed

        result = fit_streamed(
            source,
            schema,
            ModelConfig.preset("small"),
            TrainConfig(epochs=2, seed=0, batch_size=128),
            stream=StreamConfig(batch_rows=700),
            ctx=ctx,
        )
        state = {k: v.contiguous() for k, v in result.bundle.model.state_dict().items()}
        save_file(state, out_dir / f"fit-rank{ctx.rank}.safetensors")
        if ctx.is_main:
            (out_dir / "fit.json").write_text(json.dumps(result.bundle.metrics["training"]))
        score_source(result.bundle, source, out_dir / "scores.parquet", ctx=ctx)
        if ctx.is_main:
            from neuromkt.model.bundle import save_bundle

            save_bundle(result.bundle, out_dir / "model")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
