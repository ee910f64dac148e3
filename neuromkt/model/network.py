"""The attention model: one transformer over feature tokens and sequence tokens.

Every numeric column, every categorical column and every token of every text column
becomes one token of width ``d_model``; a leading ``[CLS]`` token is read by the
head. An event-sequence token can also carry the time since the previous event,
bucketed on a log scale, as an embedding added to it (``N_GAP_BUCKETS``). Attention is
written out by hand so that every layer's probabilities ``(B, H, T, T)`` can be
returned (after softmax, before dropout).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# The layout of every row's positions: [CLS], the feature tokens (numeric, then
# categorical), then each text column's token slots.
CLS_POSITION = 0  # where [CLS] sits; the head reads it
FIRST_FEATURE_POSITION = CLS_POSITION + 1  # the first numeric (or categorical) token
PAD_ID = 0  # token id of padding in every text column: masked out of attention

# Time-gap buckets of event tokens: 0 = unknown (no gap given), then one bucket per
# doubling, b = 1 + floor(log2(1 + seconds)): 1 = under 1 s, 2 = 1-3 s, 3 = 3-7 s,
# 4 = 7-15 s, 5 = 15-31 s, ..., 23 = 48.5 days and longer.
N_GAP_BUCKETS = 24

PRESETS: dict[str, dict[str, Any]] = {
    "small": {"d_model": 32, "n_layers": 1, "n_heads": 2},
    "default": {"d_model": 64, "n_layers": 1, "n_heads": 4},
    "large": {"d_model": 128, "n_layers": 3, "n_heads": 8},
}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`AttentionModel`.

    Example:
        >>> import neuromkt as nm
        >>> config = nm.ModelConfig.preset("small")
        >>> config.d_model, config.n_layers, config.n_heads
        (32, 1, 2)
        >>> nm.ModelConfig(d_model=30, n_heads=4)
        Traceback (most recent call last):
        ValueError: d_model=30 must be divisible by n_heads=4
    """

    d_model: int = 64  # width of every token
    n_layers: int = 1  # transformer blocks (1: as accurate as 2 on bench/quality.py, 3x faster)
    n_heads: int = 4  # attention heads per block
    ffn_factor: float = 2.0  # hidden width of the feed-forward part, as a multiple of d_model
    dropout: float = 0.1  # on the residual branches
    attention_dropout: float = 0.1  # on the attention probabilities (not on what is returned)
    numeric_embedding: str = "periodic"  # "linear" (x*w+b) or "periodic" (sin/cos features)
    n_frequencies: int = 16  # periodic embedding: frequencies per numeric column
    frequency_scale: float = 0.1  # periodic embedding: spread of the initial frequencies

    def __post_init__(self) -> None:
        d_model, n_heads = self.d_model, self.n_heads
        if d_model < 1 or n_heads < 1 or self.n_layers < 1:
            raise ValueError(f"{d_model=}, {n_heads=} and n_layers={self.n_layers} must be >= 1")
        if d_model % n_heads:
            raise ValueError(f"{d_model=} must be divisible by {n_heads=}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}={getattr(self, name)} must be in [0, 1)")
        if self.numeric_embedding not in ("linear", "periodic"):
            raise ValueError(f"{self.numeric_embedding=} must be linear or periodic")
        if self.ffn_factor <= 0 or self.n_frequencies < 1 or self.frequency_scale <= 0:
            raise ValueError(
                f"ffn_factor={self.ffn_factor}, n_frequencies={self.n_frequencies} and "
                f"frequency_scale={self.frequency_scale} must be positive"
            )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A named size ("small", "default", "large") with optional overrides."""
        if name not in PRESETS:
            raise ValueError(f"Unknown model size {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class InputSpec:
    """What the model reads: column names and the sizes of their tables."""

    numeric: tuple[str, ...]  # numeric columns, one token each
    categorical: tuple[str, ...]  # categorical columns, one token each
    cat_cardinalities: tuple[int, ...]  # rows of each categorical table (incl. other/missing)
    text: tuple[str, ...]  # text/sequence columns
    vocab_sizes: tuple[int, ...]  # vocabulary of each text column (incl. [PAD], [UNK])
    max_lens: tuple[int, ...]  # token slots of each text column
    n_outputs: int  # 1 for binary and regression, n_classes for multiclass
    time_gaps: tuple[bool, ...] = ()  # per text column: tokens carry time gaps (() = none)

    def __post_init__(self) -> None:
        if len(self.categorical) != len(self.cat_cardinalities):
            raise ValueError("one cardinality per categorical column is required")
        if not len(self.text) == len(self.vocab_sizes) == len(self.max_lens):
            raise ValueError("one vocabulary size and length per text column is required")
        if self.time_gaps and (len(self.time_gaps) != len(self.text) or not any(self.time_gaps)):
            raise ValueError(
                f"time_gaps={self.time_gaps} must be empty or name one flag per text column "
                "with at least one set"
            )
        if self.n_outputs < 1 or min((*self.cat_cardinalities, *self.vocab_sizes), default=2) < 2:
            raise ValueError("n_outputs, cardinalities and vocabularies must be positive")

    @property
    def n_features(self) -> int:
        return len(self.numeric) + len(self.categorical)

    @property
    def n_positions(self) -> int:
        """T: [CLS] + feature tokens + all token slots."""
        return FIRST_FEATURE_POSITION + self.n_features + sum(self.max_lens)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``time_gaps`` only when set, so older readers see the same keys."""
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.time_gaps:
            del data["time_gaps"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        gaps = data.get("time_gaps", [])
        if not isinstance(gaps, list) or not all(isinstance(v, bool) for v in gaps):
            raise ValueError(f"time_gaps={gaps!r} must be a list of true/false flags")
        return cls(
            numeric=tuple(str(v) for v in data["numeric"]),
            categorical=tuple(str(v) for v in data["categorical"]),
            cat_cardinalities=tuple(int(v) for v in data["cat_cardinalities"]),
            text=tuple(str(v) for v in data["text"]),
            vocab_sizes=tuple(int(v) for v in data["vocab_sizes"]),
            max_lens=tuple(int(v) for v in data["max_lens"]),
            n_outputs=int(data["n_outputs"]),
            time_gaps=tuple(gaps),
        )


class NumericEmbedding(nn.Module):
    """One token per numeric column; a learned vector stands in for missing values."""

    def __init__(
        self, *, n_columns: int, d_model: int, kind: str, n_frequencies: int, scale: float
    ) -> None:
        super().__init__()
        self.kind = kind
        if kind == "periodic":
            # Low starting frequencies give smooth curves first (0.1 beat 0.5 and 1.0
            # on bench/quality.py, most of all on small tables).
            self.frequencies = nn.Parameter(torch.randn(n_columns, n_frequencies) * scale)
            self.proj_weight = nn.Parameter(torch.empty(n_columns, 2 * n_frequencies, d_model))
            nn.init.normal_(self.proj_weight, std=(2 * n_frequencies) ** -0.5)
        self.weight = nn.Parameter(torch.randn(n_columns, d_model) * d_model**-0.5)
        self.bias = nn.Parameter(torch.randn(n_columns, d_model) * d_model**-0.5)
        self.missing = nn.Parameter(torch.randn(n_columns, d_model) * d_model**-0.5)

    def forward(self, x: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        """Shape: x, missing (B, N) -> (B, N, D)."""
        tokens = x.unsqueeze(-1) * self.weight + self.bias  # (B, N, D)
        if self.kind == "periodic":
            angles = 2 * math.pi * x.unsqueeze(-1) * self.frequencies  # (B, N, K)
            periodic = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (B, N, 2K)
            tokens = tokens + F.relu(torch.einsum("bnk,nkd->bnd", periodic, self.proj_weight))
        return torch.where(missing.unsqueeze(-1), self.missing.expand_as(tokens), tokens)


class TokenEmbedding(nn.Module):
    """All inputs of one row as a sequence ``(B, T, D)``, [CLS] first.

    This module's output is where layer attributions are taken: one vector per
    position, the same positions the attention maps describe.
    """

    def __init__(self, *, spec: InputSpec, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.cls = nn.Parameter(torch.randn(1, 1, d) * d**-0.5)
        self.numeric = NumericEmbedding(
            n_columns=len(spec.numeric),
            d_model=d,
            kind=config.numeric_embedding,
            n_frequencies=config.n_frequencies,
            scale=config.frequency_scale,
        )
        self.register_buffer("cat_offsets", _offsets(spec.cat_cardinalities), persistent=False)
        self.categorical = nn.Embedding(max(sum(spec.cat_cardinalities), 1), d)
        self.register_buffer("vocab_offsets", _offsets(spec.vocab_sizes), persistent=False)
        self.vocab = nn.Embedding(max(sum(spec.vocab_sizes), 1), d)
        self.position = nn.Embedding(max(spec.max_lens, default=1), d)
        self.column = nn.Embedding(max(len(spec.text), 1), d)
        self.max_lens = spec.max_lens
        self.time_gaps = spec.time_gaps or (False,) * len(spec.text)
        tables = [self.categorical, self.vocab, self.position, self.column]
        if any(self.time_gaps):  # models without gap columns keep their exact set of weights
            self.gap = nn.Embedding(N_GAP_BUCKETS, d)
            tables.append(self.gap)
        for emb in tables:
            nn.init.normal_(emb.weight, std=d**-0.5)

    def forward(
        self,
        numeric: torch.Tensor,
        numeric_missing: torch.Tensor,
        categorical: torch.Tensor,
        tokens: torch.Tensor,
        gaps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Shape: numeric (B, Nn), categorical (B, Nc), tokens (B, S, L) -> (B, T, D).

        ``gaps`` (B, S, L) holds the time-gap bucket of every token (0 = unknown, the
        default when None); only columns fitted with gaps read it.
        """
        B = numeric.shape[0]
        parts = [self.cls.expand(B, -1, -1)]  # at CLS_POSITION
        if numeric.shape[1]:
            parts.append(self.numeric(numeric, numeric_missing))  # (B, Nn, D)
        if categorical.shape[1]:
            parts.append(self.categorical(categorical + self.cat_offsets))  # (B, Nc, D)
        for j, length in enumerate(self.max_lens):
            ids = tokens[:, j, :length]  # (B, L_j)
            slots = torch.arange(length, device=ids.device)
            column = self.column.weight[j]  # (D,)
            token = self.vocab(ids + self.vocab_offsets[j]) + self.position(slots) + column
            if self.time_gaps[j]:
                buckets = torch.zeros_like(ids) if gaps is None else gaps[:, j, :length]
                token = token + self.gap(buckets)  # (B, L_j, D)
            parts.append(token)
        return torch.cat(parts, dim=1)  # (B, T, D)


def _offsets(sizes: tuple[int, ...]) -> torch.Tensor:
    offsets = torch.zeros(len(sizes), dtype=torch.long)
    if sizes:
        offsets[1:] = torch.cumsum(torch.tensor(sizes[:-1], dtype=torch.long), 0)
    return offsets


class SelfAttention(nn.Module):
    """Multi-head self-attention that can hand back its probabilities.

    Two paths compute the same function: the explicit one returns the probabilities;
    the fused one (``F.scaled_dot_product_attention``, about 2.5x faster on a CPU for
    training and gradients) runs when no probabilities are asked for.
    """

    def __init__(self, *, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor,
        *,
        need_weights: bool = True,
        first_query_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from every position, or from [CLS] only (``first_query_only``).

        Shape:
            x (B, T, D), pad_mask (B, T) True at padding -> (B, Q, D) and, with
            ``need_weights``, probabilities (B, H, Q, T) (else None); Q is T, or 1
            with ``first_query_only``.
        """
        B, T, D = x.shape
        H = self.n_heads
        q, k, v = self.qkv(x).split(D, dim=2)
        if first_query_only:
            q = q[:, CLS_POSITION : CLS_POSITION + 1]
        Q = q.shape[1]
        q = q.reshape(B, Q, H, D // H).transpose(1, 2)  # (B, H, Q, Dh)
        k = k.reshape(B, T, H, D // H).transpose(1, 2)  # (B, H, T, Dh)
        v = v.reshape(B, T, H, D // H).transpose(1, 2)  # (B, H, T, Dh)
        probs = None
        if not need_weights:
            keep = ~pad_mask[:, None, None, :]  # (B, 1, 1, T)
            p = self.dropout.p if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(D // H)  # (B, H, Q, T)
            scores = scores.masked_fill(pad_mask[:, None, None, :], float("-inf"))
            probs = torch.softmax(scores, dim=-1)  # (B, H, Q, T)
            y = self.dropout(probs) @ v  # (B, H, Q, Dh)
        y = y.transpose(1, 2).reshape(B, Q, D)  # (B, Q, D)
        return self.out(y), probs


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d, hidden = config.d_model, int(config.d_model * config.ffn_factor)
        self.norm1 = nn.LayerNorm(d)
        self.attention = SelfAttention(
            d_model=d, n_heads=config.n_heads, dropout=config.attention_dropout
        )
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor, **attention: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Shape: x (B, T, D) -> (B, Q, D), attention (B, H, Q, T) or None.

        ``attention`` goes to :class:`SelfAttention`; with ``first_query_only`` only
        the [CLS] position comes out (Q = 1), all that a last block feeds the head.
        """
        attended, probs = self.attention(self.norm1(x), pad_mask, **attention)
        if attention.get("first_query_only"):
            x = x[:, CLS_POSITION : CLS_POSITION + 1]
        x = x + self.dropout(attended)
        x = x + self.dropout(self.ffn(self.norm2(x)))
        return x, probs


class AttentionModel(nn.Module):
    """Transformer over feature and sequence tokens with a [CLS] head.

    Args:
        config: architecture.
        spec: the inputs, as fitted by :class:`neuromkt.model.encoders.Encoders`.
    """

    def __init__(self, *, config: ModelConfig, spec: InputSpec) -> None:
        super().__init__()
        self.config, self.spec = config, spec
        self.embed = TokenEmbedding(spec=spec, config=config)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.act = nn.ReLU()  # a module, so that DeepLift applies its rescale rule here
        self.head = nn.Linear(config.d_model, spec.n_outputs)
        self.n_features = spec.n_features

    def pad_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """True where a position is padding. Shape: tokens (B, S, L) -> (B, T)."""
        B = tokens.shape[0]
        n_fixed = FIRST_FEATURE_POSITION + self.n_features  # [CLS] and the features
        fixed = torch.zeros(B, n_fixed, dtype=torch.bool, device=tokens.device)
        slots = [tokens[:, j, :length] == PAD_ID for j, length in enumerate(self.spec.max_lens)]
        return torch.cat([fixed, *slots], dim=1)

    def forward_embedded(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor,
        *,
        return_attention: bool = False,
        full_last_layer: bool = True,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the blocks and head on embedded tokens ``x`` (B, T, D) -> (B, n_outputs).

        The last block computes the [CLS] position only unless its full attention
        matrix is asked for (``return_attention`` and ``full_last_layer``), and
        attention runs through PyTorch's fused kernel unless probabilities are asked
        for: the same logits for about half the work.
        """
        attentions = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x, probs = block(
                x,
                pad_mask,
                need_weights=return_attention,
                first_query_only=i == last and not (return_attention and full_last_layer),
            )
            attentions.append(probs)
        # [CLS]: (B, D), also when the last block kept its position only (Q = 1).
        logits = self.head(self.act(self.norm(x[:, CLS_POSITION])))  # (B, n_outputs)
        return (logits, attentions) if return_attention else logits

    def forward(
        self,
        numeric: torch.Tensor,
        numeric_missing: torch.Tensor,
        categorical: torch.Tensor,
        tokens: torch.Tensor,
        gaps: torch.Tensor | None = None,
        *,
        return_attention: bool = False,
        full_last_layer: bool = True,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits, and optionally every layer's attention.

        Shape:
            numeric, numeric_missing (B, Nn); categorical (B, Nc); tokens and
            gaps (time-gap buckets, optional) (B, S, L) -> logits (B, n_outputs);
            attention: n_layers tensors (B, H, T, T), each
            row summing to 1 with exactly 0 on padding positions. With
            ``full_last_layer=False`` the last one is its [CLS] row only, (B, H, 1, T):
            all that [CLS] attention and rollout need, for less work.
        """
        x = self.embed(numeric, numeric_missing, categorical, tokens, gaps)  # (B, T, D)
        return self.forward_embedded(
            x,
            self.pad_mask(tokens),
            return_attention=return_attention,
            full_last_layer=full_last_layer,
        )

    def init_output_bias(self, value: torch.Tensor) -> None:
        """Start the head at the base rate (log-odds / class log-priors / mean)."""
        with torch.no_grad():
            self.head.bias.copy_(value.to(self.head.bias))
