"""Training: splits, AdamW with parameter groups, warm-up + cosine schedule, early stopping.

``fit`` takes a frame and a schema and returns a :class:`TrainResult` whose bundle
scores new data. Progress goes through a callback; a ``should_stop`` hook ends
training cleanly with the best model so far.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.schema import Schema, validate_for_training
from neuromkt.errors import DataError
from neuromkt.model.bundle import ModelBundle
from neuromkt.model.encoders import Encoders
from neuromkt.model.inference import outputs_to_predictions, pick_device, predict_encoded
from neuromkt.model.metrics import primary_metric, task_metrics
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.progress import Progress

__all__ = [
    "compute_loss",
    "drop_levels",
    "lr_at",
    "make_parameter_groups",
    "train_one_epoch",
]


@dataclass(frozen=True, kw_only=True)
class TrainProgress(Progress):
    """What :func:`fit` reports: training rows seen (``done``) out of those planned
    (``total``: training rows × planned epochs), plus the epoch and its loss.

    Example:
        >>> from neuromkt.model.training import TrainProgress
        >>> p = TrainProgress(done=300, total=1200, epoch=1, n_epochs=4, loss=0.41)
        >>> p.fraction, p.validation is None
        (0.25, True)
    """

    epoch: int  # 1-based epoch being run
    n_epochs: int  # planned epochs
    loss: float  # running training loss of this epoch
    validation: dict[str, float] | None = None  # set at the end of each epoch


@dataclass
class TrainResult:
    """What :func:`fit` returns.

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_sample("ecommerce").head(400)
        >>> schema = nm.infer_schema(frame, target="purchased")
        >>> result = nm.fit(frame, schema, nm.ModelConfig.preset("small"), nm.TrainConfig(epochs=1))
        >>> {name: len(rows) for name, rows in result.split.items()}
        {'train': 280, 'validation': 60, 'test': 60}
        >>> sorted(result.history[0])
        ['epoch', 'loss', 'seconds', 'val_accuracy', 'val_brier', 'val_f1', 'val_log_loss', 'val_n',
         'val_positive_rate', 'val_pr_auc', 'val_precision', 'val_recall', 'val_roc_auc']
    """

    bundle: ModelBundle
    history: list[dict[str, Any]]  # one record per epoch: loss and validation metrics
    best_epoch: int
    stopped_early: bool  # patience ran out
    cancelled: bool  # should_stop() or the time budget ended training
    seconds: float
    split: dict[str, np.ndarray]  # positional row indices of train/validation/test


class EncodedRows(Dataset):
    """Encoded model inputs and targets; indexed by a *list* of rows (one batch)."""

    def __init__(self, inputs: dict[str, torch.Tensor], target: torch.Tensor) -> None:
        self.inputs, self.target = inputs, target

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, rows: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        index = torch.as_tensor(rows)
        return {k: v[index] for k, v in self.inputs.items()}, self.target[index]


def split_rows(
    y: np.ndarray, *, task: str, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Seeded train/validation/test split, stratified by class for classification."""
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(len(y))]
        if task == "regression"
        else [np.flatnonzero(y == c) for c in np.unique(y)]
    )
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for rows in groups:
        rows = rng.permutation(rows)
        n_test = round(len(rows) * test_fraction)
        n_val = max(round(len(rows) * val_fraction), 1 if len(rows) > 2 else 0)
        parts["test"].append(rows[:n_test])
        parts["validation"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


def evaluate(
    model: AttentionModel, rows: EncodedRows, encoders: Encoders, *, batch_size: int = 2048
) -> dict[str, Any]:
    """Task metrics of ``model`` on encoded rows."""
    logits = predict_encoded(model, rows.inputs, batch_size=batch_size)
    task = encoders.task
    y = rows.target.numpy()
    if task == "regression":
        y = y * encoders.target_std + encoders.target_mean
    pred = outputs_to_predictions(logits, task, encoders)
    return task_metrics(task, y, pred, encoders.classes)


def _class_weights(y: torch.Tensor, encoders: Encoders, how: str) -> torch.Tensor | None:
    if how == "none" or encoders.task == "regression":
        return None
    counts = torch.bincount(y.long(), minlength=max(len(encoders.classes), 2)).float()
    return counts.sum() / (len(counts) * counts.clamp(min=1))


def _initial_bias(y: torch.Tensor, encoders: Encoders) -> torch.Tensor:
    if encoders.task == "binary":
        p = float(y.float().mean().clamp(1e-4, 1 - 1e-4))
        return torch.tensor([math.log(p / (1 - p))])
    if encoders.task == "multiclass":
        counts = torch.bincount(y.long(), minlength=len(encoders.classes)).float() + 1
        return torch.log(counts / counts.sum())
    return torch.zeros(1)


def _metric_value(metrics: dict[str, Any], name: str, higher: bool) -> float:
    value = float(metrics.get(name, float("nan")))
    if math.isnan(value):
        return -math.inf
    return value if higher else -value


def _prepare(frame: pd.DataFrame, schema: Schema, config: TrainConfig):
    """Validate, split, fit encoders on the training rows and encode every split."""
    validate_for_training(frame, schema)
    from neuromkt.data.schema import target_labels

    if schema.task == "regression":
        y_all = pd.to_numeric(frame[schema.target], errors="coerce").to_numpy(dtype="float64")
        labelled = np.flatnonzero(np.isfinite(y_all))
    else:
        labels = target_labels(frame[schema.target])
        labelled = np.flatnonzero(labels.isin(schema.classes).to_numpy())
        y_all = labels.to_numpy()
    if len(labelled) < 20:
        raise DataError(f"Only {len(labelled)} rows have a target value; at least 20 are needed.")
    split = split_rows(
        y_all[labelled],
        task=schema.task,
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    split = {k: labelled[v] for k, v in split.items()}
    train_frame = frame.iloc[split["train"]]
    encoders = Encoders.fit(train_frame, schema, config=config.encoder)
    rows = {}
    for name, index in split.items():
        part = frame.iloc[index]
        y, _ = encoders.transform_target(part)
        rows[name] = EncodedRows(encoders.transform(part), y)
    return encoders, rows, split


def fit(
    frame: pd.DataFrame,
    schema: Schema,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    name: str = "model",
    on_progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train an :class:`AttentionModel` on ``frame`` and return it as a bundle.

    Args:
        frame: one row per session/customer/impression, with the target column.
        schema: column roles; ``schema.target`` and ``schema.task`` must be set.
        model_config: architecture (default: :class:`ModelConfig`).
        train_config: optimisation, split and seed (default: :class:`TrainConfig`).
        name: display name stored in the bundle.
        on_progress: called every few steps and after every epoch with a
            :class:`TrainProgress` (rows seen of those planned, epoch, loss and, after
            an epoch, its validation metrics).
        should_stop: polled every step; returning True ends training cleanly and
            keeps the best model so far (the UI's Stop button).

    Raises:
        DataError: when the frame cannot be trained on (no target, one class, ...).

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_sample("ecommerce").head(600)
        >>> schema = nm.infer_schema(frame, target="purchased")
        >>> seen = []
        >>> result = nm.fit(frame, schema, nm.ModelConfig.preset("small"),
        ...                 nm.TrainConfig(epochs=2), on_progress=seen.append)
        >>> result.bundle.metrics["primary"], len(result.history), seen[-1].epoch
        ('roc_auc', 2, 2)
    """
    model_config, config = model_config or ModelConfig(), train_config or TrainConfig()
    on_progress = on_progress or (lambda p: None)
    should_stop = should_stop or (lambda: False)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    encoders, rows, split = _prepare(frame, schema, config)
    device = pick_device(config.device)
    model = AttentionModel(config=model_config, spec=encoders.spec())
    model.init_output_bias(_initial_bias(rows["train"].target, encoders))
    model.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    sampler = BatchSampler(
        RandomSampler(rows["train"], generator=generator), config.batch_size, drop_last=False
    )
    loader = DataLoader(rows["train"], sampler=sampler, batch_size=None)
    dropper = torch.Generator().manual_seed(config.seed + 1)  # level_dropout's draws
    optimizer = torch.optim.AdamW(make_parameter_groups(model, config.weight_decay), lr=config.lr)
    n_epochs = config.epochs_for(len(rows["train"]))
    n_steps = len(sampler) * n_epochs
    warmup = max(1, int(n_steps * config.warmup_fraction))
    weights = _class_weights(rows["train"].target, encoders, config.class_weighting)
    weights = None if weights is None else weights.to(device)
    metric, higher = primary_metric(encoders.task)
    n_rows = len(rows["train"]) * n_epochs  # training rows planned (the progress total)
    state: dict[str, Any] = {"step": 0, "rows": 0, "cancelled": False}
    best = {"score": -math.inf, "epoch": 0, "weights": copy.deepcopy(model.state_dict())}
    history: list[dict[str, Any]] = []
    stopped_early = False

    def out_of_time() -> bool:
        budget = config.time_budget_s
        return should_stop() or (budget is not None and time.perf_counter() - started > budget)

    for epoch in range(1, n_epochs + 1):

        def report(loss: float, epoch: int = epoch, validation: dict | None = None) -> None:
            on_progress(TrainProgress(
                done=state["rows"], total=n_rows, message=f"epoch {epoch}/{n_epochs}",
                elapsed_s=time.perf_counter() - started, epoch=epoch, n_epochs=n_epochs,
                loss=loss, validation=validation,
            ))  # fmt: skip

        loss = train_one_epoch(
            model,
            loader,
            optimizer,
            lambda s: lr_at(s, total=n_steps, warmup=warmup, peak=config.lr),
            state=state,
            task=encoders.task,
            weights=weights,
            report=report,
            should_stop=out_of_time,
            level_dropout=config.level_dropout,
            generator=dropper,
        )
        validation = evaluate(model, rows["validation"], encoders)
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "seconds": time.perf_counter() - started,
                **{f"val_{k}": v for k, v in validation.items()},
            }
        )
        report(loss, validation=validation)
        score = _metric_value(validation, metric, higher)
        if score > best["score"]:
            best = {"score": score, "epoch": epoch, "weights": copy.deepcopy(model.state_dict())}
        elif epoch - best["epoch"] >= config.patience:
            stopped_early = True
        if stopped_early or state["cancelled"] or out_of_time():
            state["cancelled"] = state["cancelled"] or not stopped_early
            break
    model.load_state_dict(best["weights"])
    model.eval()
    metrics = {"primary": metric, "best_epoch": best["epoch"]}
    metrics["validation"] = evaluate(model, rows["validation"], encoders)
    if len(rows["test"]):
        metrics["test"] = evaluate(model, rows["test"], encoders)
    bundle = ModelBundle(
        model=model.cpu(),
        encoders=encoders,
        schema=schema,
        train_config=config,
        metrics=metrics,
        data_fingerprint=frame_fingerprint(frame),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        name=name,
        history=history,
    )
    return TrainResult(
        bundle,
        history,
        best["epoch"],
        stopped_early,
        state["cancelled"],
        time.perf_counter() - started,
        split,
    )


def lr_at(step: int, *, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to 10% of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def make_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on weight matrices only, never on norms, biases, embeddings."""
    decay, no_decay = [], []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            skip = (
                isinstance(module, nn.LayerNorm | nn.Embedding)
                or name.endswith("bias")
                or module_name.startswith("embed")
            )
            (no_decay if skip else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def compute_loss(
    logits: torch.Tensor, y: torch.Tensor, task: str, weights: torch.Tensor | None
) -> torch.Tensor:
    """Loss of one batch. Shape: logits (B, n_outputs), y (B,)."""
    if task == "binary":
        pos_weight = None if weights is None else weights[1] / weights[0]
        return F.binary_cross_entropy_with_logits(logits[:, 0], y, pos_weight=pos_weight)
    if task == "multiclass":
        return F.cross_entropy(logits, y, weight=weights)
    return F.mse_loss(logits[:, 0], y)


def train_one_epoch(
    model: AttentionModel,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: Callable[[int], float],
    *,
    state: dict[str, Any],
    task: str,
    weights: torch.Tensor | None,
    report: Callable[[float], None],
    should_stop: Callable[[], bool],
    level_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> float:
    """One pass over ``loader``; returns the mean loss. ``state['step']`` counts steps,
    ``state['rows']`` the rows trained on."""
    model.train()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for inputs, y in loader:
        for group in optimizer.param_groups:
            group["lr"] = schedule(state["step"])
        if level_dropout:
            inputs = drop_levels(inputs, level_dropout, generator)
        inputs = {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
        y = y.to(device, non_blocking=True)
        loss = compute_loss(model(**inputs), y, task, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state["step"] += 1
        state["rows"] = state.get("rows", 0) + len(y)
        total, count = total + loss.item() * len(y), count + len(y)
        if state["step"] % 10 == 0:
            report(total / count)
        if should_stop():
            state["cancelled"] = True
            break
    return total / max(count, 1)


def drop_levels(
    inputs: dict[str, torch.Tensor], p: float, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """Show a share ``p`` of known categorical levels as "(other)" and of words as [UNK].

    A regulariser for training batches: a level or word seen in few rows cannot be
    memorised on its own, and the "(other)" and [UNK] rows, which unseen values get
    at scoring time, are trained on common values too. Missing levels and padding
    are left as they are.
    """
    out = dict(inputs)
    # Levels 0/1 are "(other)"/"(missing)"; token ids 0/1 are [PAD]/[UNK].
    for name, shown_as in (("categorical", 0), ("tokens", 1)):
        ids = inputs[name]
        if not ids.numel():
            continue
        hit = (torch.rand(ids.shape, generator=generator) < p) & (ids >= 2)
        out[name] = ids.masked_fill(hit, shown_as)
    return out
