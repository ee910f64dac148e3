"""Encoders fitted from one streaming pass over the training rows, in bounded memory.

:class:`Encoders.fit <neuromkt.model.encoders.Encoders.fit>` needs the training split as
one frame. :class:`EncoderSketch` sees it chunk by chunk instead and keeps only:

- per numeric column, a uniform reservoir sample of at most ``reservoir_size`` values
  (Algorithm R), from which the quantiles are taken;
- per categorical column, counts of its levels, at most ``max_levels`` of them: past
  that the rarest half is forgotten (the kept levels need ``min_category_count`` rows
  and are the ``max_categories`` most frequent, so the rare tail never matters unless a
  column has tens of thousands of levels);
- per text column, counts of its tokens (at most ``max_words``, pruned the same way)
  and a histogram of row lengths (exact);
- for a regression target, its count, mean and spread (exact, merged with Chan's rule).

Sketches of several processes merge (:meth:`EncoderSketch.merge`), so every rank of a
distributed job sketches its own share and rank 0 fits the encoders once. While no cap
is reached the result is the same :class:`Encoders` that ``Encoders.fit`` returns on the
same rows (up to the order of levels tied in count at the ``max_categories`` cut), so
bundles do not know how their encoders were fitted except from
:meth:`EncoderSketch.describe`, which training stores in the bundle's metrics.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from neuromkt.data.schema import Schema
from neuromkt.errors import ModelError
from neuromkt.model.encoders import (
    MISSING,
    OTHER,
    PAD,
    UNK,
    CategoricalEncoder,
    EncoderConfig,
    Encoders,
    NumericEncoder,
    TextEncoder,
    _as_float,
    _as_label,
    tokenize,
)

__all__ = ["EncoderSketch", "SketchConfig"]

_MAX_LENGTH = 4096  # longest row length counted exactly (a text column's max_len is at most this)


@dataclass(frozen=True)
class SketchConfig:
    """How much a streaming encoder fit may remember."""

    reservoir_size: int = 200_000  # numeric values sampled per column for the quantiles
    max_levels: int = 20_000  # distinct categorical levels counted per column
    max_words: int = 500_000  # distinct tokens counted per text column
    seed: int = 0  # seeds the reservoir draws

    def __post_init__(self) -> None:
        for name in ("reservoir_size", "max_levels", "max_words"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 2")


@dataclass
class _Reservoir:
    values: np.ndarray  # at most `size` values
    seen: int = 0


@dataclass
class _Moments:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations

    def add(self, n: int, mean: float, m2: float) -> None:
        if not n:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.n * n / total
        self.n = total


@dataclass
class EncoderSketch:
    """Running summaries of the training rows from which :class:`Encoders` are fitted."""

    schema: Schema
    config: EncoderConfig = field(default_factory=EncoderConfig)
    sketch: SketchConfig = field(default_factory=SketchConfig)
    rows: int = 0
    numeric: dict[str, _Reservoir] = field(default_factory=dict)
    levels: dict[str, Counter] = field(default_factory=dict)
    words: dict[str, Counter] = field(default_factory=dict)
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    pruned: dict[str, int] = field(default_factory=dict)  # column -> times its counts were cut
    target: _Moments = field(default_factory=_Moments)

    def __post_init__(self) -> None:
        if self.schema.target is None or self.schema.task is None:
            raise ModelError("Pick a target column before training.")
        self._rng = np.random.default_rng(self.sketch.seed)
        for c in self.schema.numeric:
            self.numeric.setdefault(c, _Reservoir(np.zeros(0)))
        for c in self.schema.categorical:
            self.levels.setdefault(c, Counter())
        for c in self.schema.text:
            self.words.setdefault(c, Counter())
            self.lengths.setdefault(c, np.zeros(_MAX_LENGTH + 1, dtype="int64"))

    # ------------------------------------------------------------------ update
    def update(self, frame: pd.DataFrame) -> None:
        """Add training rows (a chunk with the schema's columns)."""
        self.rows += len(frame)
        for c, res in self.numeric.items():
            values = _as_float(frame[c])
            self._sample(res, values[~np.isnan(values)])
        for c, counts in self.levels.items():
            counts.update(_as_label(frame[c]).dropna().value_counts().to_dict())
            self._cap(c, counts, self.sketch.max_levels)
        for c, counts in self.words.items():
            token_lists = [tokenize(v) for v in frame[c].tolist()]
            counts.update(t for tokens in token_lists for t in tokens)
            self._cap(c, counts, self.sketch.max_words)
            lengths = np.minimum([len(t) for t in token_lists], _MAX_LENGTH)
            self.lengths[c] += np.bincount(lengths, minlength=_MAX_LENGTH + 1)
        if self.schema.task == "regression":
            y = _as_float(frame[self.schema.target])
            y = y[~np.isnan(y)]
            if len(y):
                self.target.add(len(y), float(y.mean()), float(((y - y.mean()) ** 2).sum()))

    def _sample(self, res: _Reservoir, values: np.ndarray) -> None:
        """Algorithm R, vectorised: value t (0-based, over all seen) replaces a random slot."""
        size = self.sketch.reservoir_size
        room = max(0, size - len(res.values))
        if room:
            res.values = np.concatenate([res.values, values[:room]])
        rest = values[room:]
        if len(rest):
            t = res.seen + room + np.arange(len(rest))
            slots = (self._rng.random(len(rest)) * (t + 1)).astype("int64")
            hit = np.flatnonzero(slots < size)
            # Later values overwrite earlier ones in the same slot, as in the serial loop.
            last = len(hit) - 1 - np.unique(slots[hit][::-1], return_index=True)[1]
            res.values[slots[hit][last]] = rest[hit][last]
        res.seen += len(values)

    def _cap(self, column: str, counts: Counter, cap: int) -> None:
        if len(counts) > cap:
            kept = counts.most_common(cap // 2)
            counts.clear()
            counts.update(dict(kept))
            self.pruned[column] = self.pruned.get(column, 0) + 1

    # ------------------------------------------------------------------ merge
    @classmethod
    def merge(cls, sketches: list[EncoderSketch]) -> EncoderSketch:
        """One sketch of the rows all ``sketches`` saw (each saw different rows)."""
        first = sketches[0]
        out = cls(first.schema, first.config, first.sketch)
        rng = np.random.default_rng(first.sketch.seed + 1)
        for s in sketches:
            out.rows += s.rows
            for c, counts in s.levels.items():
                out.levels[c].update(counts)
            for c, counts in s.words.items():
                out.words[c].update(counts)
                out.lengths[c] += s.lengths[c]
            for c, n in s.pruned.items():
                out.pruned[c] = out.pruned.get(c, 0) + n
            out.target.add(s.target.n, s.target.mean, s.target.m2)
        for c in out.levels:
            out._cap(c, out.levels[c], first.sketch.max_levels)
        for c in out.words:
            out._cap(c, out.words[c], first.sketch.max_words)
        for c, res in out.numeric.items():
            parts = [s.numeric[c] for s in sketches]
            res.seen = sum(p.seen for p in parts)
            if res.seen <= first.sketch.reservoir_size:
                res.values = np.concatenate([p.values for p in parts])
                continue
            # How many of the merged sample come from each part: as if drawn without
            # replacement from all values seen, then that many from each part's sample.
            take = rng.multivariate_hypergeometric(
                [p.seen for p in parts], first.sketch.reservoir_size
            )
            res.values = np.concatenate(
                [
                    rng.choice(p.values, size=k, replace=False)
                    for p, k in zip(parts, take, strict=True)
                ]
            )
        return out

    # ------------------------------------------------------------------ finish
    def finish(self) -> Encoders:
        """The fitted encoders (the same as ``Encoders.fit`` on the rows while under the caps)."""
        cfg, schema = self.config, self.schema
        mean, std = 0.0, 1.0
        if schema.task == "regression" and self.target.n:
            mean = self.target.mean
            std = math.sqrt(self.target.m2 / self.target.n) or 1.0
        return Encoders(
            numeric=[NumericEncoder.fit(c, pd.Series(r.values)) for c, r in self.numeric.items()],
            categorical=[self._categorical(c, counts) for c, counts in self.levels.items()],
            text=[self._text(c) for c in self.words],
            task=schema.task,
            target=schema.target,
            classes=list(schema.classes),
            target_mean=mean,
            target_std=std,
            config=cfg,
        )

    def _categorical(self, name: str, counts: Counter) -> CategoricalEncoder:
        frequent = [v for v, n in counts.items() if n >= self.config.min_category_count]
        kept = sorted(frequent, key=lambda v: (-counts[v], v))[: self.config.max_categories]
        return CategoricalEncoder(name, [OTHER, MISSING, *kept])

    def _text(self, name: str) -> TextEncoder:
        counts = self.words[name]
        kept = [t for t, c in counts.items() if c >= self.config.min_token_count]
        kept = sorted(kept, key=lambda t: (-counts[t], t))[: self.config.max_vocab]
        q98 = _histogram_quantile(self.lengths[name], 0.98)
        max_len = int(min(self.config.max_tokens, max(4, np.ceil(q98))))
        return TextEncoder(name, [PAD, UNK, *kept], max_len)

    def describe(self) -> dict[str, Any]:
        """How the encoders were fitted, for the bundle: rows, caps, and any column cut."""
        return {
            "method": "streaming sketch",
            "rows": self.rows,
            **asdict(self.sketch),
            "numeric_sampled": {c: len(r.values) for c, r in self.numeric.items()},
            "numeric_seen": {c: int(r.seen) for c, r in self.numeric.items()},
            "pruned_columns": dict(self.pruned),
        }


def _histogram_quantile(counts: np.ndarray, q: float) -> float:
    """``np.quantile`` (linear) of the values ``i`` repeated ``counts[i]`` times."""
    n = int(counts.sum())
    if n == 0:
        return 1.0  # Encoders.fit uses [1] for a column without rows
    cum = np.cumsum(counts)
    pos = (n - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = int(np.searchsorted(cum, lo, side="right"))
    v_hi = int(np.searchsorted(cum, hi, side="right"))
    return v_lo + (v_hi - v_lo) * (pos - lo)
