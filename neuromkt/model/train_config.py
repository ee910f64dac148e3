"""How a model is trained: :class:`TrainConfig`, saved in every bundle.

Its own module because both :mod:`neuromkt.model.training` (which uses it) and
:mod:`neuromkt.model.bundle` (which reads it back from ``bundle.json``) need it, and
training builds bundles.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from neuromkt.model.encoders import EncoderConfig

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained.

    Example:
        >>> import neuromkt as nm
        >>> config = nm.TrainConfig(epochs=30, seed=1)
        >>> config.epochs_for(100_000)  # at most 150,000 rows: 2 passes over 100,000
        2
        >>> nm.TrainConfig(lr=0)
        Traceback (most recent call last):
        ValueError: lr=0 must be positive
    """

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
