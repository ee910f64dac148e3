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
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from neuromkt.bundle import ModelBundle
from neuromkt.data import frame_fingerprint
from neuromkt.encode import EncoderConfig, Encoders
from neuromkt.errors import DataError
from neuromkt.metrics import primary_metric, task_metrics
from neuromkt.model import AttentionModel, ModelConfig
from neuromkt.schema import Schema, validate_for_training
from neuromkt.train_steps import lr_at, make_parameter_groups, train_one_epoch


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained."""

    epochs: int = 30  # upper bound; early stopping usually ends sooner
    row_budget: int | None = 150_000  # at most ceil(row_budget / training rows) epochs; None: off
    batch_size: int = 256  # rows per step
    lr: float = 1e-3  # peak learning rate of AdamW
    weight_decay: float = 1e-4  # on weight matrices only (not norms, biases, embeddings)
    warmup_fraction: float = 0.05  # share of all steps spent warming up
    patience: int = 4  # epochs without improvement before stopping
    val_fraction: float = 0.15  # share of rows held out for early stopping
    test_fraction: float = 0.15  # share of rows held out for the final, untouched metrics
    level_dropout: float = 0.1  # share of known levels and words shown as "(other)"/[UNK]
    class_weighting: str = "none"  # "none" or "balanced" (binary/multiclass loss weights)
    seed: int = 0  # seeds the split, the initialisation and the batch order
    device: str = "auto"  # "auto" (cuda when available), "cpu" or "cuda"
    time_budget_s: float | None = None  # stop after this many seconds (best model kept)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs={self.epochs} and batch_size={self.batch_size} must be >= 1")
        if not 0 < self.val_fraction < 0.5 or not 0 <= self.test_fraction < 0.5:
            raise ValueError("val_fraction must be in (0, 0.5) and test_fraction in [0, 0.5)")
        if self.class_weighting not in ("none", "balanced"):
            raise ValueError(f"class_weighting={self.class_weighting!r} must be none/balanced")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device={self.device!r} must be auto, cpu or cuda")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr} must be positive")
        if not 0.0 <= self.level_dropout < 1.0:
            raise ValueError(f"level_dropout={self.level_dropout} must be in [0, 1)")
        if self.row_budget is not None and self.row_budget < 1:
            raise ValueError(f"row_budget={self.row_budget} must be >= 1 or None")

    def epochs_for(self, n_train: int) -> int:
        """Epochs to plan for ``n_train`` training rows.

        ``epochs``, or fewer when ``row_budget`` rows are seen sooner: a large table
        needs fewer passes, and the learning-rate schedule then ends with the run.
        """
        if self.row_budget is None:
            return self.epochs
        return min(self.epochs, max(1, math.ceil(self.row_budget / max(n_train, 1))))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["encoder"] = self.encoder.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("encoder"), dict):
            values["encoder"] = EncoderConfig.from_dict(values["encoder"])
        return cls(**values)


@dataclass(frozen=True)
class Progress:
    """One report to the ``on_progress`` callback."""

    epoch: int  # 1-based epoch being run
    n_epochs: int
    step: int  # 1-based step within the whole run
    n_steps: int  # planned steps of the whole run
    loss: float  # running training loss of this epoch
    elapsed_s: float
    eta_s: float  # estimated seconds left (at the planned number of epochs)
    validation: dict[str, float] | None = None  # set at the end of each epoch


@dataclass
class TrainResult:
    """What :func:`fit` returns."""

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


def pick_device(name: str = "auto") -> torch.device:
    """``cuda`` when asked for or available (``auto``), else ``cpu``."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


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


def outputs_to_predictions(logits: torch.Tensor, task: str, encoders: Encoders) -> np.ndarray:
    """Binary: P(positive) (N,); multiclass: probabilities (N, C); regression: value (N,)."""
    if task == "binary":
        return torch.sigmoid(logits[:, 0]).double().cpu().numpy()
    if task == "multiclass":
        return torch.softmax(logits.double(), dim=1).cpu().numpy()
    return (logits[:, 0].double() * encoders.target_std + encoders.target_mean).cpu().numpy()


@torch.no_grad()
def predict_encoded(
    model: AttentionModel, inputs: dict[str, torch.Tensor], *, batch_size: int = 2048
) -> torch.Tensor:
    """Logits for encoded inputs, in chunks, on the model's device. Shape: (N, n_outputs)."""
    model.eval()
    device = next(model.parameters()).device
    n = len(next(iter(inputs.values())))
    chunks = []
    for start in range(0, n, batch_size):
        batch = {k: v[start : start + batch_size].to(device) for k, v in inputs.items()}
        chunks.append(model(**batch).float().cpu())
    return torch.cat(chunks) if chunks else torch.zeros(0, model.spec.n_outputs)


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
    from neuromkt.schema import target_labels

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
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train an :class:`AttentionModel` on ``frame`` and return it as a bundle.

    Args:
        frame: one row per session/customer/impression, with the target column.
        schema: column roles; ``schema.target`` and ``schema.task`` must be set.
        model_config: architecture (default: :class:`ModelConfig`).
        train_config: optimisation, split and seed (default: :class:`TrainConfig`).
        name: display name stored in the bundle.
        on_progress: called every few steps and after every epoch.
        should_stop: polled every step; returning True ends training cleanly and
            keeps the best model so far (the UI's Stop button).

    Raises:
        DataError: when the frame cannot be trained on (no target, one class, ...).
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
    state: dict[str, Any] = {"step": 0, "cancelled": False}
    best = {"score": -math.inf, "epoch": 0, "weights": copy.deepcopy(model.state_dict())}
    history: list[dict[str, Any]] = []
    stopped_early = False

    def out_of_time() -> bool:
        budget = config.time_budget_s
        return should_stop() or (budget is not None and time.perf_counter() - started > budget)

    for epoch in range(1, n_epochs + 1):

        def report(loss: float, epoch: int = epoch) -> None:
            elapsed = time.perf_counter() - started
            eta = elapsed / max(state["step"], 1) * (n_steps - state["step"])
            on_progress(Progress(epoch, n_epochs, state["step"], n_steps, loss, elapsed, eta))

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
        elapsed = time.perf_counter() - started
        on_progress(
            Progress(
                epoch,
                n_epochs,
                state["step"],
                n_steps,
                loss,
                elapsed,
                elapsed / epoch * (n_epochs - epoch),
                validation,
            )
        )
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
