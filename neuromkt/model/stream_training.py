"""Training on a table read as Arrow chunks, alone or as one rank of a DDP job.

:func:`fit_streamed` is :func:`neuromkt.model.training.fit` for a
:class:`~neuromkt.data.stream.TableSource` instead of a frame, with memory flat in the
number of rows. It runs the same steps on every rank, each on its own share of the
units (``neuromkt.data.stream.shard_units``):

1. **Sketch** — one pass over the rank's training rows (a hash of the row key decides
   the split, :func:`neuromkt.data.stream.split_codes`) feeds an
   :class:`~neuromkt.model.encoder_fit.EncoderSketch`; rank 0 merges every rank's sketch,
   fits the encoders once and sends them to all.
2. **Encode** — a second pass encodes every row once (token ids and levels as int32)
   into a spool on disk, one file per chunk and split.
3. **Epochs** — batches come from the spool, rows shuffled within groups of
   ``shuffle_chunks`` chunks, and go through the same ``train_one_epoch``, ``lr_at``,
   ``make_parameter_groups`` and ``compute_loss`` as in-memory training. Under DDP the
   global batch stays ``batch_size`` (each rank takes its share) and every rank runs the
   same number of steps, a rank that runs out of rows starting over its own.
4. **Validation** — every rank scores its validation rows; rank 0 computes the metrics
   on all of them, decides on early stopping and sends the decision to all.

What differs from ``fit``: the split is hashed rather than stratified and permuted, and
rows are shuffled within chunk groups rather than over the whole table; with the same
rows in the same order (``shuffle_chunks=0``) both give the same model
(``tests/test_stream_training.py`` checks it).
"""

from __future__ import annotations

import copy
import hashlib
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from neuromkt.data.labels import target_labels
from neuromkt.data.schema import Schema
from neuromkt.data.stream import SPLITS, TableSource, iter_chunks, row_keys, split_codes
from neuromkt.errors import DataError
from neuromkt.model import distributed as ddp
from neuromkt.model.bundle import ModelBundle
from neuromkt.model.encoder_fit import EncoderSketch, SketchConfig
from neuromkt.model.encoders import Encoders
from neuromkt.model.inference import outputs_to_predictions, predict_encoded
from neuromkt.model.metrics import primary_metric, task_metrics
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import (
    TrainProgress,
    TrainResult,
    lr_at,
    make_parameter_groups,
    train_one_epoch,
)

__all__ = ["StreamConfig", "fit_streamed", "how_trained"]

_SYNC_EVERY = 10  # steps between checks, on every rank, whether to stop (time budget, cancel)


@dataclass(frozen=True)
class StreamConfig:
    """How a streamed fit reads and shuffles its rows."""

    batch_rows: int = 65_536  # rows per chunk read from the source (one spool file)
    shuffle_chunks: int = 4  # chunks whose rows are shuffled together; 0 keeps the input order
    id_column: str | None = None  # row key of the split; None: the schema's first id column
    sketch: SketchConfig = field(default_factory=SketchConfig)
    spool_dir: str | None = None  # where encoded rows wait between epochs (default: temp)

    def __post_init__(self) -> None:
        if self.batch_rows < 1 or self.shuffle_chunks < 0:
            raise ValueError(f"{self.batch_rows=} must be >= 1, {self.shuffle_chunks=} >= 0")


def how_trained(
    *, processes: int, rows: int, seconds: float, streamed: bool, device: str, **extra: Any
) -> dict[str, Any]:
    """The bundle's (and so the registry's) record of how a model was trained."""
    return {
        "processes": processes,
        "rows": rows,
        "seconds": round(seconds, 1),
        "streamed": streamed,
        "device": device,
        **extra,
    }


# ---------------------------------------------------------------- the spool


class _Spool:
    """Encoded rows of one split on this rank: one ``.npz`` file per chunk."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        self.folder, self.files, self.sizes = folder, [], []

    def append(self, arrays: dict[str, np.ndarray]) -> None:
        n = len(arrays["y"])
        if not n:
            return
        path = self.folder / f"{len(self.files):06d}.npz"
        np.savez(path, **arrays)
        self.files.append(path)
        self.sizes.append(n)

    @property
    def n_rows(self) -> int:
        return int(sum(self.sizes))

    def load(self, i: int) -> dict[str, np.ndarray]:
        with np.load(self.files[i], allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def _encoded(encoders: Encoders, frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Model inputs as compact arrays (ids int32) and the mask of rows with a target."""
    inputs = encoders.transform(frame)
    y, valid = encoders.transform_target(frame)
    arrays = {
        "numeric": inputs["numeric"].numpy(),
        "numeric_missing": inputs["numeric_missing"].numpy(),
        "categorical": inputs["categorical"].numpy().astype("int32"),
        "tokens": inputs["tokens"].numpy().astype("int32"),
        "y": y.numpy(),
    }
    return arrays, valid


def _tensors(arrays: dict[str, np.ndarray], rows: np.ndarray | slice):
    inputs = {k: torch.from_numpy(np.ascontiguousarray(v[rows])) for k, v in arrays.items()}
    return inputs, inputs.pop("y")


def _batches(
    spool: _Spool,
    batch_size: int,
    *,
    rng: np.random.Generator | None,
    group: int,
    steps: int | None,
) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
    """Batches from the spool; ``steps`` full batches (cycling) or one pass (``None``)."""
    made = 0
    while True:
        order = rng.permutation(len(spool.files)) if rng is not None else range(len(spool.files))
        order = list(order)
        pending: dict[str, np.ndarray] | None = None
        for start in range(0, len(order), max(group, 1)):
            parts = [spool.load(i) for i in order[start : start + max(group, 1)]]
            if pending is not None:
                parts.insert(0, pending)
            arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            n = len(arrays["y"])
            perm = rng.permutation(n) if rng is not None else np.arange(n)
            full = n // batch_size * batch_size
            for s in range(0, full, batch_size):
                yield _tensors(arrays, perm[s : s + batch_size])
                made += 1
                if steps is not None and made == steps:
                    return
            rest = perm[full:]
            pending = {k: v[rest] for k, v in arrays.items()} if len(rest) else None
        if steps is None:
            if pending is not None:
                yield _tensors(pending, slice(None))
            return
        if not spool.files:
            return


# ---------------------------------------------------------------- passes


def _labelled(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    if schema.task == "regression":
        y = pd.to_numeric(frame[schema.target], errors="coerce").to_numpy(dtype="float64")
        return np.isfinite(y)
    return target_labels(frame[schema.target]).isin(schema.classes).to_numpy()


def _codes(chunk: Any, id_column: str | None, config: TrainConfig) -> np.ndarray:
    keys = row_keys(
        chunk.frame, id_column=id_column, file_index=chunk.file_index, first_row=chunk.first_row
    )
    return split_codes(
        keys, seed=config.seed, val_fraction=config.val_fraction, test_fraction=config.test_fraction
    )


def _id_column(schema: Schema, stream: StreamConfig, source: TableSource) -> str | None:
    if stream.id_column is not None:
        if stream.id_column not in source.columns:
            raise DataError(f"There is no id column {stream.id_column!r} in {source.name}.")
        return stream.id_column
    return next((c.name for c in schema.columns if c.role == "id"), None)


def _sketch_pass(
    source: TableSource,
    schema: Schema,
    config: TrainConfig,
    stream: StreamConfig,
    ctx: ddp.DistContext,
    id_column: str | None,
) -> tuple[Encoders, dict[str, Any], str, int]:
    """Encoders fitted on every rank's training rows; their description; a data fingerprint."""
    columns = [c.name for c in schema.columns if c.name in source.columns]
    sketch = EncoderSketch(schema, config.encoder, stream.sketch)
    digests, rows = [], 0
    for chunk in iter_chunks(
        source,
        columns=columns,
        rank=ctx.rank,
        world_size=ctx.world_size,
        batch_rows=stream.batch_rows,
    ):
        frame = chunk.frame
        rows += len(frame)
        train = (_codes(chunk, id_column, config) == 0) & _labelled(frame, schema)
        sketch.update(frame[train])
        try:
            hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        except TypeError:  # unhashable cells
            hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
        digests.append((chunk.order, hashlib.sha256(hashed.tobytes()).hexdigest()))
    sketches = ddp.all_gather(ctx, (sketch, digests, rows))
    encoders, described = None, None
    if ctx.is_main:
        merged = EncoderSketch.merge([s for s, _, _ in sketches])
        encoders, described = merged.finish().to_dict(), merged.describe()
    encoders, described = ddp.broadcast(ctx, (encoders, described))
    ordered = sorted(d for _, ds, _ in sketches for d in ds)
    fingerprint = hashlib.sha256("".join(h for _, h in ordered).encode()).hexdigest()
    return Encoders.from_dict(encoders), described, fingerprint, sum(r for *_, r in sketches)


def _encode_pass(
    source: TableSource,
    encoders: Encoders,
    schema: Schema,
    config: TrainConfig,
    stream: StreamConfig,
    ctx: ddp.DistContext,
    id_column: str | None,
    spools: dict[str, _Spool],
) -> np.ndarray:
    """Every labelled row of this rank, encoded once into ``spools``; train class counts."""
    columns = [c.name for c in schema.columns if c.name in source.columns]
    n_classes = max(len(encoders.classes), 2) if encoders.task != "regression" else 0
    counts = np.zeros(n_classes, dtype="float64")
    for chunk in iter_chunks(
        source,
        columns=columns,
        rank=ctx.rank,
        world_size=ctx.world_size,
        batch_rows=stream.batch_rows,
    ):
        arrays, valid = _encoded(encoders, chunk.frame)
        codes = _codes(chunk, id_column, config)
        for code, name in enumerate(SPLITS):
            rows = np.flatnonzero(valid & (codes == code))
            spools[name].append({k: v[rows] for k, v in arrays.items()})
            if name == "train" and n_classes:
                counts += np.bincount(arrays["y"][rows].astype("int64"), minlength=n_classes)
    return counts


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def _scores(model: AttentionModel, spool: _Spool, encoders: Encoders) -> tuple[np.ndarray, ...]:
    """Predictions and true values of this rank's rows of one split."""
    preds, ys = [], []
    for i in range(len(spool.files)):
        arrays = spool.load(i)
        inputs, y = _tensors(arrays, slice(None))
        logits = predict_encoded(model, inputs)
        preds.append(outputs_to_predictions(logits, encoders.task, encoders))
        ys.append(y.numpy())
    width = (len(encoders.classes),) if encoders.task == "multiclass" else ()
    pred = np.concatenate(preds) if preds else np.zeros((0, *width))
    return pred, (np.concatenate(ys) if ys else np.zeros(0, dtype="float32"))


def _evaluate(
    model: AttentionModel, spool: _Spool, encoders: Encoders, ctx: ddp.DistContext
) -> dict[str, Any] | None:
    """Metrics of all ranks' rows of one split, computed on rank 0 (None elsewhere)."""
    parts = ddp.all_gather(ctx, _scores(model, spool, encoders))
    if not ctx.is_main:
        return None
    pred = np.concatenate([p for p, _ in parts])
    y = np.concatenate([t for _, t in parts])
    if encoders.task == "regression":
        y = y * encoders.target_std + encoders.target_mean
    return task_metrics(encoders.task, y, pred, encoders.classes)


# ---------------------------------------------------------------- fit


def _initial_bias(counts: np.ndarray, encoders: Encoders) -> torch.Tensor:
    """As ``training.fit`` sets it: the log-odds (binary) or log-prior (multiclass)."""
    if encoders.task == "binary":
        p = float(np.clip(counts[1] / max(counts.sum(), 1), 1e-4, 1 - 1e-4))
        return torch.tensor([math.log(p / (1 - p))])
    if encoders.task == "multiclass":
        c = torch.tensor(counts[: len(encoders.classes)], dtype=torch.float32) + 1
        return torch.log(c / c.sum())
    return torch.zeros(1)


def _class_weights(counts: np.ndarray, encoders: Encoders, how: str) -> torch.Tensor | None:
    """As ``training.fit`` computes them from the training rows' class counts."""
    if how == "none" or encoders.task == "regression":
        return None
    c = torch.tensor(counts, dtype=torch.float32)
    return c.sum() / (len(c) * c.clamp(min=1))


def _metric_value(metrics: dict[str, Any], name: str, higher: bool) -> float:
    value = float(metrics.get(name, float("nan")))
    if math.isnan(value):
        return -math.inf
    return value if higher else -value


def fit_streamed(
    source: TableSource,
    schema: Schema,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    stream: StreamConfig | None = None,
    ctx: ddp.DistContext | None = None,
    name: str = "model",
    on_progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train an :class:`AttentionModel` on ``source`` read in chunks; see the module doc.

    Args:
        source: the table, from :func:`neuromkt.data.stream.open_source`.
        schema: column roles (inferred from :func:`neuromkt.data.stream.sample_frame`).
        model_config, train_config: as for :func:`neuromkt.model.training.fit`.
        stream: chunk size, shuffling, the split's row key, sketch caps.
        ctx: this process's place in a DDP job (default: one process on ``train_config.device``).
        name: display name stored in the bundle.
        on_progress: called on rank 0 every few steps and after every epoch.
        should_stop: polled every few steps (on every rank; any True stops all).

    Returns:
        The same :class:`TrainResult` on every rank (``split`` is empty: the split is a
        hash of the row key, recorded in ``bundle.metrics["training"]``).

    Raises:
        DataError: too few labelled rows, or a rank without training rows.
    """
    model_config, config = model_config or ModelConfig(), train_config or TrainConfig()
    stream = stream or StreamConfig()
    ctx = ctx or ddp.DistContext(device=ddp.pick_device(config.device))
    report_to = (on_progress or (lambda p: None)) if ctx.is_main else (lambda p: None)
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    id_column = _id_column(schema, stream, source)
    spool_root = Path(tempfile.mkdtemp(prefix="neuromkt-spool-", dir=stream.spool_dir))
    try:
        encoders, described, fingerprint, n_read = _sketch_pass(
            source, schema, config, stream, ctx, id_column
        )
        spools = {s: _Spool(spool_root / s) for s in SPLITS}
        counts = _encode_pass(source, encoders, schema, config, stream, ctx, id_column, spools)
        counts = np.array(ddp.all_reduce(ctx, counts.tolist()))
        local = [spools[s].n_rows for s in SPLITS]
        sizes = ddp.all_reduce(ctx, local)
        fewest = ddp.all_reduce(ctx, [local[0]], op="min")[0]
        n_train, n_val, n_test = (int(v) for v in sizes)
        if n_train + n_val + n_test < 20 or n_val < 1:
            raise DataError(
                f"Only {n_train + n_val + n_test} rows have a target value and {n_val} fell in "
                "the validation split; at least 20 labelled rows are needed."
            )
        if fewest < 1:
            raise DataError(
                f"One of the {ctx.world_size} processes got no training rows; the table has "
                "too few rows or files for that many processes. Use fewer processes."
            )
        torch.manual_seed(config.seed)
        model = AttentionModel(config=model_config, spec=encoders.spec())
        model.init_output_bias(_initial_bias(counts, encoders))
        model.to(ctx.device)
        example, _ = _tensors(spools["train"].load(0), slice(0, 2))
        example = {k: v.to(ctx.device) for k, v in example.items()}
        trained = ddp.wrap_model(model, ctx, example)
        optimizer = torch.optim.AdamW(
            make_parameter_groups(model, config.weight_decay), lr=config.lr
        )
        local_batch = max(1, math.ceil(config.batch_size / ctx.world_size))
        if ctx.distributed:
            steps_per_epoch = max(1, math.ceil(n_train / (local_batch * ctx.world_size)))
        else:
            steps_per_epoch = math.ceil(n_train / local_batch)
        n_epochs = config.epochs_for(n_train)
        n_steps = steps_per_epoch * n_epochs
        warmup = max(1, int(n_steps * config.warmup_fraction))
        weights = _class_weights(counts, encoders, config.class_weighting)
        weights = None if weights is None else weights.to(ctx.device)
        dropper = torch.Generator().manual_seed(config.seed + 1 + ctx.rank)
        metric, higher = primary_metric(encoders.task)
        state: dict[str, Any] = {"step": 0, "cancelled": False}
        best = {"score": -math.inf, "epoch": 0, "weights": copy.deepcopy(model.state_dict())}
        history: list[dict[str, Any]] = []
        stopped_early = False

        def out_of_time() -> bool:
            budget = config.time_budget_s
            return should_stop() or (budget is not None and time.perf_counter() - started > budget)

        def synced_stop() -> bool:
            if state["step"] % _SYNC_EVERY:
                return False
            return ddp.all_reduce(ctx, [float(out_of_time())], op="max")[0] > 0

        for epoch in range(1, n_epochs + 1):

            def report(loss: float, epoch: int = epoch, validation: dict | None = None) -> None:
                report_to(TrainProgress(
                    done=state.get("rows", 0) * ctx.world_size,  # every rank trains alike
                    total=n_train * n_epochs, message=f"epoch {epoch}/{n_epochs}",
                    elapsed_s=time.perf_counter() - started, epoch=epoch, n_epochs=n_epochs,
                    loss=loss, validation=validation,
                ))  # fmt: skip

            shuffle = np.random.default_rng([config.seed, epoch, ctx.rank])
            batches = _batches(
                spools["train"],
                local_batch,
                rng=shuffle if stream.shuffle_chunks else None,
                group=stream.shuffle_chunks or 1,
                steps=steps_per_epoch if ctx.distributed else None,
            )
            loss = train_one_epoch(
                trained,
                batches,  # type: ignore[arg-type]  # any iterable of (inputs, y)
                optimizer,
                lambda s: lr_at(s, total=n_steps, warmup=warmup, peak=config.lr),
                state=state,
                task=encoders.task,
                weights=weights,
                report=report,
                should_stop=synced_stop,
                level_dropout=config.level_dropout,
                generator=dropper,
            )
            loss = ddp.all_reduce(ctx, [loss])[0] / ctx.world_size
            validation = _evaluate(model, spools["validation"], encoders, ctx)
            decision = None
            if ctx.is_main:
                score = _metric_value(validation, metric, higher)
                improved = score > best["score"]
                patience_out = not improved and epoch - best["epoch"] >= config.patience
                decision = {"validation": validation, "improved": improved, "stop": patience_out}
            decision = ddp.broadcast(ctx, decision)
            validation = decision["validation"]
            elapsed = time.perf_counter() - started
            history.append(
                {"epoch": epoch, "loss": loss, "seconds": elapsed}
                | {f"val_{k}": v for k, v in validation.items()}
            )
            report(loss, validation=validation)
            if decision["improved"]:
                best = {
                    "score": _metric_value(validation, metric, higher),
                    "epoch": epoch,
                    "weights": copy.deepcopy(model.state_dict()),
                }
            stopped_early = decision["stop"]
            timed_out = ddp.all_reduce(ctx, [float(out_of_time())], op="max")[0] > 0
            if stopped_early or state["cancelled"] or timed_out:
                state["cancelled"] = state["cancelled"] or not stopped_early
                break
        model.load_state_dict(best["weights"])
        model.eval()
        metrics: dict[str, Any] = {"primary": metric, "best_epoch": best["epoch"]}
        metrics["validation"] = _evaluate(model, spools["validation"], encoders, ctx)
        if n_test:
            metrics["test"] = _evaluate(model, spools["test"], encoders, ctx)
        metrics = ddp.broadcast(ctx, metrics)
        seconds = time.perf_counter() - started
        metrics["training"] = how_trained(
            processes=ctx.world_size,
            rows=int(n_read),
            seconds=seconds,
            streamed=True,
            device=ctx.device.type,
            train_rows=n_train,
            split=f"hash of {id_column!r}" if id_column else "hash of the row's place in its file",
            encoders=described,
        )
    finally:
        shutil.rmtree(spool_root, ignore_errors=True)
    bundle = ModelBundle(
        model=model.cpu(),
        encoders=encoders,
        schema=schema,
        train_config=config,
        metrics=metrics,
        data_fingerprint=fingerprint,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        name=name,
        history=history,
    )
    return TrainResult(
        bundle, history, best["epoch"], stopped_early, state["cancelled"], seconds, {}
    )
