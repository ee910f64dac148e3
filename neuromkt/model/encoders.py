"""Fitted encoders: numeric scaling, categorical levels and text tokenizers.

Everything here is fitted on the training split only and serialises to plain JSON,
so a saved model scores new data exactly as it scored the data it was trained on.

Token layout of one row (the model's positions, in order; see ``CLS_POSITION`` and
``FIRST_FEATURE_POSITION`` in :mod:`neuromkt.model.network`)::

    [CLS] | numeric columns | categorical columns | text column 1 (L1 slots) | text column 2 ...

Ids with a fixed meaning are class attributes: ``CategoricalEncoder.OTHER_ID`` and
``MISSING_ID`` (the kept levels start at ``FIRST_LEVEL_ID``), ``TextEncoder.PAD_ID``
and ``UNK_ID`` (the kept words start at ``FIRST_WORD_ID``). Saved bundles depend on
them, so they never change.

An event-sequence column ``events`` with a companion ``events_gap_s`` (the seconds
before each event, as the sessions table writes it) also gives every token its
time-gap bucket (:func:`gap_buckets`), an extra input ``gaps`` of the same shape as
``tokens``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from neuromkt.data.events import gap_column, parse_gaps
from neuromkt.data.schema import Schema, target_labels
from neuromkt.errors import ModelError
from neuromkt.model.network import N_GAP_BUCKETS, PAD_ID, InputSpec

PAD, UNK = "[PAD]", "[UNK]"
CLS = "[CLS]"
OTHER, MISSING = "(other)", "(missing)"
_N_QUANTILES = 129
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\s,>|{_CJK}]+")
_STRIP = string.punctuation + "“”‘’…。，！？、；：（）《》【】"


def tokenize(text: Any) -> list[str]:
    """Split one text or event-sequence cell into tokens.

    Lower-cases, splits on whitespace, commas, ``>`` and ``|``; every CJK character is
    a token of its own (Chinese and Japanese have no spaces), runs of Latin letters or
    digits stay whole; punctuation is stripped from token ends.

    Example:
        >>> tokenize("Home > Search | cart, checkout")
        ['home', 'search', 'cart', 'checkout']
        >>> tokenize("夏季连衣裙 包邮")
        ['夏', '季', '连', '衣', '裙', '包', '邮']
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return []
    tokens = (t.strip(_STRIP) for t in _TOKEN_RE.findall(str(text).lower()))
    return [t for t in tokens if t]


def gap_buckets(seconds: Any) -> np.ndarray:
    """Time-gap bucket ids: 0 for unknown (NaN, negative), else 1 + floor(log2(1 + s)).

    Example:
        >>> gap_buckets([float("nan"), 0, 0.5, 1, 3, 60, 10**9]).tolist()
        [0, 1, 1, 2, 3, 6, 23]
    """
    s = np.asarray(seconds, dtype="float64")
    known = np.isfinite(s) & (s >= 0)
    with np.errstate(invalid="ignore"):
        ids = 1 + np.floor(np.log2(1.0 + np.where(known, s, 0.0)))
    return np.where(known, np.minimum(ids, N_GAP_BUCKETS - 1), 0).astype("int64")


@dataclass(frozen=True)
class EncoderConfig:
    """How raw columns become model inputs."""

    max_categories: int = 100  # most frequent levels kept per categorical column
    min_category_count: int = 5  # rarer levels (on the training split) share the "(other)" row
    max_vocab: int = 5000  # most frequent tokens kept per text column
    min_token_count: int = 3  # rarer tokens map to [UNK]
    max_tokens: int = 128  # cap on token slots per text column (else its 98th-percentile length)

    def __post_init__(self) -> None:
        for name in ("max_categories", "min_category_count", "max_vocab", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderConfig:
        return cls(**data)


def _as_float(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _as_label(series: pd.Series) -> pd.Series:
    """Categorical values as stripped strings; missing stays missing; 1.0 -> '1'."""
    if pd.api.types.is_float_dtype(series):
        finite = series.where(np.isfinite(series.astype("float64")))
        ints = finite.dropna()
        if len(ints) and (ints == ints.round()).all():
            return finite.astype("Int64").astype("string").str.strip()
        return finite.astype("string").str.strip()
    return series.astype("string").str.strip()


@dataclass
class NumericEncoder:
    """Quantile scaling to a uniform of unit variance; robust to skew and outliers."""

    name: str
    quantiles: list[float]  # distinct values of the training quantiles
    levels: list[float]  # their cumulative probability, in [0, 1]

    @classmethod
    def fit(cls, name: str, series: pd.Series) -> NumericEncoder:
        values = _as_float(series)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return cls(name, [0.0], [0.5])
        probs = np.linspace(0.0, 1.0, _N_QUANTILES)
        qs = np.quantile(values, probs)
        uniq, inverse = np.unique(qs, return_inverse=True)
        levels = np.bincount(inverse, weights=probs) / np.bincount(inverse)
        return cls(name, uniq.tolist(), levels.tolist())

    def transform(self, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        values = _as_float(series)
        missing = np.isnan(values)
        if len(self.quantiles) == 1:
            scaled = np.zeros_like(values)
        else:
            u = np.interp(np.where(missing, self.quantiles[0], values), self.quantiles, self.levels)
            scaled = (u - 0.5) * 2.0 * np.sqrt(3.0)
        scaled[missing] = 0.0
        return scaled.astype("float32"), missing

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Map scaled values back to the column's units (for what-if sliders and labels)."""
        u = np.asarray(scaled, dtype="float64") / (2.0 * np.sqrt(3.0)) + 0.5
        if len(self.quantiles) == 1:
            return np.full_like(u, self.quantiles[0])
        return np.interp(u, self.levels, self.quantiles)


@dataclass
class CategoricalEncoder:
    """Levels of one column: "(other)" (rare or unseen), "(missing)", then the kept levels."""

    OTHER_ID: ClassVar[int] = 0  # row of "(other)": levels too rare in training, or unseen
    MISSING_ID: ClassVar[int] = 1  # row of "(missing)"
    RESERVED: ClassVar[tuple[str, ...]] = (OTHER, MISSING)  # their labels, in id order
    FIRST_LEVEL_ID: ClassVar[int] = len(RESERVED)  # the kept levels follow, most frequent first

    name: str
    levels: list[str]

    @classmethod
    def fit(cls, name: str, series: pd.Series, config: EncoderConfig) -> CategoricalEncoder:
        counts = _as_label(series).dropna().value_counts()
        counts = counts[counts >= config.min_category_count]
        kept = sorted(counts.index[: config.max_categories], key=lambda v: (-counts[v], v))
        return cls(name, [*cls.RESERVED, *kept])

    @property
    def cardinality(self) -> int:
        return len(self.levels)

    def transform(self, series: pd.Series) -> np.ndarray:
        labels = _as_label(series)
        first = self.FIRST_LEVEL_ID
        index = {level: i for i, level in enumerate(self.levels[first:], start=first)}
        codes = labels.map(index).astype("float64").fillna(self.OTHER_ID).to_numpy(dtype="int64")
        codes[labels.isna().to_numpy()] = self.MISSING_ID
        return codes


@dataclass
class TextEncoder:
    """Vocabulary of one text or event-sequence column: [PAD], [UNK], then the kept words."""

    PAD_ID: ClassVar[int] = PAD_ID  # [PAD]: fills the slots after the text; the model masks it
    UNK_ID: ClassVar[int] = 1  # [UNK]: words too rare in training, or unseen
    RESERVED: ClassVar[tuple[str, ...]] = (PAD, UNK)  # their labels, in id order
    FIRST_WORD_ID: ClassVar[int] = len(RESERVED)  # the kept words follow, most frequent first

    name: str
    vocab: list[str]
    max_len: int
    gap_column: str | None = None  # seconds before each event (an event log's sessions)

    @classmethod
    def fit(cls, name: str, series: pd.Series, config: EncoderConfig) -> TextEncoder:
        token_lists = [tokenize(v) for v in series.tolist()]
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = [t for t, c in counts.items() if c >= config.min_token_count]
        kept = sorted(kept, key=lambda t: (-counts[t], t))[: config.max_vocab]
        lengths = np.array([len(t) for t in token_lists] or [1])
        max_len = int(min(config.max_tokens, max(4, np.ceil(np.quantile(lengths, 0.98)))))
        return cls(name, [*cls.RESERVED, *kept], max_len)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokens(self, series: pd.Series) -> list[list[str]]:
        """The tokens each row shows the model (truncated to ``max_len``)."""
        return [tokenize(v)[: self.max_len] for v in series.tolist()]

    def transform(self, series: pd.Series) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.vocab)}
        ids = np.full((len(series), self.max_len), self.PAD_ID, dtype="int64")
        for row, tokens in enumerate(self.tokens(series)):
            ids[row, : len(tokens)] = [index.get(t, self.UNK_ID) for t in tokens]
        return ids

    def gap_seconds(self, series: pd.Series, gaps: pd.Series) -> list[list[float]]:
        """Seconds before each token of each row (all tokens, not truncated; NaN unknown).

        Gaps are given per whitespace-separated event; an event the tokenizer splits
        into several tokens gives each of them its gap, and an edited sequence whose
        events outnumber its gaps gets NaN for the rest.
        """
        out = []
        for cell, gap_cell in zip(series.tolist(), gaps.tolist(), strict=True):
            values = parse_gaps(gap_cell)
            tokens = tokenize(cell)
            pieces = [] if not tokens else str(cell).split()
            if len(pieces) != len(tokens):  # some event is several tokens (or none)
                values = [v for p, v in zip(pieces, _padded(values, len(pieces)), strict=True)
                          for _ in tokenize(p)]  # fmt: skip
            out.append(_padded(values, len(tokens)))
        return out

    def gap_ids(self, series: pd.Series, gaps: pd.Series) -> np.ndarray:
        """(N, max_len) time-gap bucket of every token slot; 0 at padding and where unknown."""
        ids = np.zeros((len(series), self.max_len), dtype="int64")
        for row, seconds in enumerate(self.gap_seconds(series, gaps)):
            kept = seconds[: self.max_len]
            ids[row, : len(kept)] = gap_buckets(kept)
        return ids


def _padded(values: list[float], n: int) -> list[float]:
    """``values`` cut or filled with NaN to length ``n``."""
    return values[:n] + [float("nan")] * max(0, n - len(values))


@dataclass
class Encoders:
    """All fitted encoders of one model, plus the target encoding."""

    numeric: list[NumericEncoder]
    categorical: list[CategoricalEncoder]
    text: list[TextEncoder]
    task: str
    target: str
    classes: list[str]
    target_mean: float = 0.0  # regression only: target standardisation
    target_std: float = 1.0
    config: EncoderConfig = EncoderConfig()

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, schema: Schema, *, config: EncoderConfig | None = None
    ) -> Encoders:
        """Fit every encoder on ``frame`` (the training split)."""
        config = config or EncoderConfig()
        if schema.target is None or schema.task is None:
            raise ModelError("Pick a target column before training.")
        mean, std = 0.0, 1.0
        if schema.task == "regression":
            y = _as_float(frame[schema.target])
            mean, std = float(np.nanmean(y)), float(np.nanstd(y)) or 1.0
        text = [TextEncoder.fit(c, frame[c], config) for c in schema.text]
        for enc in text:  # a sessions table's event column comes with its time gaps
            if (
                gap_column(enc.name) in frame.columns
                and gap_column(enc.name) not in schema.features
            ):
                enc.gap_column = gap_column(enc.name)
        return cls(
            numeric=[NumericEncoder.fit(c, frame[c]) for c in schema.numeric],
            categorical=[CategoricalEncoder.fit(c, frame[c], config) for c in schema.categorical],
            text=text,
            task=schema.task,
            target=schema.target,
            classes=list(schema.classes),
            target_mean=mean,
            target_std=std,
            config=config,
        )

    # --- layout -------------------------------------------------------------------
    @property
    def feature_columns(self) -> list[str]:
        """Columns with one token each: numeric, then categorical."""
        return [e.name for e in self.numeric] + [e.name for e in self.categorical]

    @property
    def input_columns(self) -> list[str]:
        """Every column the model reads."""
        return self.feature_columns + [e.name for e in self.text]

    def spec(self) -> InputSpec:
        """The sizes the model is built with."""
        return InputSpec(
            numeric=tuple(e.name for e in self.numeric),
            categorical=tuple(e.name for e in self.categorical),
            cat_cardinalities=tuple(e.cardinality for e in self.categorical),
            text=tuple(e.name for e in self.text),
            vocab_sizes=tuple(e.vocab_size for e in self.text),
            max_lens=tuple(e.max_len for e in self.text),
            n_outputs=len(self.classes) if self.task == "multiclass" else 1,
            time_gaps=tuple(e.gap_column is not None for e in self.text)
            if self.gap_columns
            else (),
        )

    @property
    def gap_columns(self) -> list[str]:
        """The time-gap columns read with event sequences (not features of their own)."""
        return [e.gap_column for e in self.text if e.gap_column is not None]

    def positions(self) -> pd.DataFrame:
        """One row per model position: ``position``, ``kind``, ``column``, ``slot``."""
        rows = [(0, "cls", CLS, 0)]
        rows += [(0, "numeric", e.name, 0) for e in self.numeric]
        rows += [(0, "categorical", e.name, 0) for e in self.categorical]
        for e in self.text:
            rows += [(0, "token", e.name, i) for i in range(e.max_len)]
        frame = pd.DataFrame(rows, columns=["position", "kind", "column", "slot"])
        frame["position"] = np.arange(len(frame))
        return frame

    # --- transforms ---------------------------------------------------------------
    def check_columns(self, frame: pd.DataFrame) -> None:
        """Raise ``ModelError`` naming the columns the model needs but ``frame`` lacks."""
        missing = [c for c in self.input_columns + self.gap_columns if c not in frame.columns]
        if missing:
            names = ", ".join(repr(c) for c in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ModelError(
                f"The data lacks column(s) {names}{more} that this model was trained on; "
                "upload a file with the same columns as the training data."
            )

    def transform(self, frame: pd.DataFrame) -> dict[str, torch.Tensor]:
        """Model inputs for every row of ``frame``.

        Shape:
            numeric (N, n_numeric) float32, numeric_missing (N, n_numeric) bool,
            categorical (N, n_categorical) int64, tokens (N, n_text, L) int64 with
            L = the longest ``max_len`` (shorter columns padded with ``PAD_ID``);
            with time-gap columns also gaps (N, n_text, L) int64 bucket ids (0 where
            unknown).
        """
        self.check_columns(frame)
        n = len(frame)
        num = [e.transform(frame[e.name]) for e in self.numeric]
        numeric = np.stack([v for v, _ in num], axis=1) if num else np.zeros((n, 0), "float32")
        missing = np.stack([m for _, m in num], axis=1) if num else np.zeros((n, 0), bool)
        cats = [e.transform(frame[e.name]) for e in self.categorical]
        categorical = np.stack(cats, axis=1) if cats else np.zeros((n, 0), "int64")
        width = max((e.max_len for e in self.text), default=0)
        tokens = np.full((n, len(self.text), width), TextEncoder.PAD_ID, dtype="int64")
        for j, e in enumerate(self.text):
            tokens[:, j, : e.max_len] = e.transform(frame[e.name])
        inputs = {
            "numeric": torch.from_numpy(np.ascontiguousarray(numeric, dtype="float32")),
            "numeric_missing": torch.from_numpy(np.ascontiguousarray(missing, dtype=bool)),
            "categorical": torch.from_numpy(np.ascontiguousarray(categorical)),
            "tokens": torch.from_numpy(tokens),
        }
        if self.gap_columns:  # only then: models without gaps see exactly the inputs they had
            gaps = np.zeros_like(tokens)
            for j, e in enumerate(self.text):
                if e.gap_column is not None:
                    gaps[:, j, : e.max_len] = e.gap_ids(frame[e.name], frame[e.gap_column])
            inputs["gaps"] = torch.from_numpy(gaps)
        return inputs

    def transform_target(self, frame: pd.DataFrame) -> tuple[torch.Tensor, np.ndarray]:
        """The encoded target and a mask of rows where it is present.

        Binary: float 0/1 (1 = ``classes[1]``); multiclass: int64 class index;
        regression: standardised float. Rows with a missing or unknown label are
        masked out (their value is 0).
        """
        if self.task == "regression":
            y = _as_float(frame[self.target])
            valid = ~np.isnan(y)
            y = np.where(valid, (y - self.target_mean) / self.target_std, 0.0)
            return torch.from_numpy(y.astype("float32")), valid
        labels = target_labels(frame[self.target])
        index = {c: i for i, c in enumerate(self.classes)}
        codes = labels.map(index).astype("float64")
        valid = codes.notna().to_numpy()
        codes = codes.fillna(0).to_numpy()
        if self.task == "binary":
            return torch.from_numpy(codes.astype("float32")), valid
        return torch.from_numpy(codes.astype("int64")), valid

    def tokens(self, frame: pd.DataFrame) -> dict[str, list[list[str]]]:
        """For each text column, the tokens each row shows the model."""
        return {e.name: e.tokens(frame[e.name]) for e in self.text}

    # --- serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description from which :meth:`from_dict` rebuilds the encoders."""
        return {
            "numeric": [asdict(e) for e in self.numeric],
            "categorical": [asdict(e) for e in self.categorical],
            "text": [asdict(e) for e in self.text],
            "task": self.task,
            "target": self.target,
            "classes": list(self.classes),
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoders:
        """Rebuild encoders from :meth:`to_dict` output, refusing anything malformed."""
        try:
            encoders = cls(
                numeric=[_numeric_from(d) for d in data["numeric"]],
                categorical=[_categorical_from(d) for d in data["categorical"]],
                text=[_text_from(d) for d in data["text"]],
                task=str(data["task"]),
                target=str(data["target"]),
                classes=[str(c) for c in data["classes"]],
                target_mean=float(data["target_mean"]),
                target_std=float(data["target_std"]),
                config=EncoderConfig.from_dict(dict(data["config"])),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"The model's encoder description is damaged ({exc}).") from exc
        if encoders.task not in ("binary", "multiclass", "regression"):
            raise ModelError(f"The model's task {encoders.task!r} is not one neuromkt knows.")
        return encoders


def _numeric_from(d: dict[str, Any]) -> NumericEncoder:
    enc = NumericEncoder(
        str(d["name"]), [float(v) for v in d["quantiles"]], [float(v) for v in d["levels"]]
    )
    q, lv = np.array(enc.quantiles), np.array(enc.levels)
    if len(q) != len(lv) or not len(q) or np.any(np.diff(q) <= 0) or not np.isfinite(q).all():
        raise ValueError(f"numeric column {enc.name!r} has invalid quantiles")
    return enc


def _categorical_from(d: dict[str, Any]) -> CategoricalEncoder:
    levels = [str(v) for v in d["levels"]]
    reserved = CategoricalEncoder.RESERVED
    if tuple(levels[: len(reserved)]) != reserved or len(set(levels)) != len(levels):
        raise ValueError(f"categorical column {d.get('name')!r} has invalid levels")
    return CategoricalEncoder(str(d["name"]), levels)


def _text_from(d: dict[str, Any]) -> TextEncoder:
    vocab = [str(v) for v in d["vocab"]]
    max_len = int(d["max_len"])
    reserved = TextEncoder.RESERVED
    valid = tuple(vocab[: len(reserved)]) == reserved and len(set(vocab)) == len(vocab)
    if not valid or not 1 <= max_len <= 4096:
        raise ValueError(f"text column {d.get('name')!r} has an invalid vocabulary")
    gaps = d.get("gap_column")  # absent in bundles saved before time gaps
    return TextEncoder(str(d["name"]), vocab, max_len, None if gaps is None else str(gaps))
