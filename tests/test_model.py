"""The attention model: shapes, attention probabilities, and its two attention paths."""

from __future__ import annotations

import itertools

import pytest
import torch

from neuromkt.model.network import AttentionModel, InputSpec, ModelConfig

MIXES = {  # (numeric, categorical cardinalities, text max lengths)
    "numeric only": (3, (), ()),
    "categorical only": (0, (4, 7), ()),
    "text only": (0, (), (6,)),
    "everything": (2, (5,), (4, 9)),
}


def _model(mix: str, *, n_heads: int = 2, n_layers: int = 2, n_outputs: int = 1):
    n_num, cards, lens = MIXES[mix]
    spec = InputSpec(
        numeric=tuple(f"n{i}" for i in range(n_num)),
        categorical=tuple(f"c{i}" for i in range(len(cards))),
        cat_cardinalities=cards,
        text=tuple(f"t{i}" for i in range(len(lens))),
        vocab_sizes=tuple(12 for _ in lens),
        max_lens=lens,
        n_outputs=n_outputs,
    )
    torch.manual_seed(0)
    config = ModelConfig(d_model=16, n_layers=n_layers, n_heads=n_heads)
    return AttentionModel(config=config, spec=spec).eval(), spec


def _inputs(spec: InputSpec, batch: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    n_num, cards = len(spec.numeric), spec.cat_cardinalities
    width = max(spec.max_lens, default=0)
    tokens = torch.randint(1, 12, (batch, len(spec.text), width), generator=g)
    for j, length in enumerate(spec.max_lens):  # every row keeps >= 1 token, then padding
        keep = torch.randint(1, length + 1, (batch, 1), generator=g)
        tokens[:, j] = torch.where(torch.arange(width) < keep, tokens[:, j], 0)
        tokens[:, j, length:] = 0
    return {
        "numeric": torch.randn(batch, n_num, generator=g),
        "numeric_missing": torch.rand(batch, n_num, generator=g) < 0.2,
        "categorical": torch.stack(
            [torch.randint(0, c, (batch,), generator=g) for c in cards], dim=1
        ) if cards else torch.zeros(batch, 0, dtype=torch.long),
        "tokens": tokens,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mix", "batch", "n_heads"), list(itertools.product(MIXES, (1, 5, 33), (1, 4)))
)
def test_shapes_and_attention_rows(mix: str, batch: int, n_heads: int) -> None:
    model, spec = _model(mix, n_heads=n_heads)
    inputs = _inputs(spec, batch)
    logits, attentions = model(**inputs, return_attention=True)
    T = spec.n_positions
    assert logits.shape == (batch, 1)
    assert len(attentions) == 2
    pad = model.pad_mask(inputs["tokens"])  # (B, T)
    for probs in attentions:
        assert probs.shape == (batch, n_heads, T, T)
        torch.testing.assert_close(probs.sum(-1), torch.ones(batch, n_heads, T))
        assert (probs.masked_select(pad[:, None, None, :]) == 0).all()
    cheap_logits, cheap = model(**inputs, return_attention=True, full_last_layer=False)
    torch.testing.assert_close(cheap_logits, logits)
    torch.testing.assert_close(cheap[0], attentions[0])
    assert cheap[-1].shape == (batch, n_heads, 1, T)
    torch.testing.assert_close(cheap[-1], attentions[-1][:, :, :1])


@pytest.mark.parametrize("mix", list(MIXES))
@pytest.mark.parametrize("n_layers", [1, 3])
def test_fast_path_computes_the_same_logits_and_gradients(mix: str, n_layers: int) -> None:
    """Without attention asked for, the fused, [CLS]-only path must be the same function."""
    model, spec = _model(mix, n_layers=n_layers, n_outputs=3)
    inputs = _inputs(spec, 17)
    x = model.embed(**inputs).detach()
    pad = model.pad_mask(inputs["tokens"])
    outs, grads = [], []
    for explicit in (True, False):
        z = x.clone().requires_grad_()
        out = model.forward_embedded(z, pad, return_attention=explicit)
        out = out[0] if explicit else out
        outs.append(out)
        grads.append(torch.autograd.grad(out.sum(), z)[0])
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)
    assert (grads[1][pad] == 0).all()  # padding never reaches the output


def test_training_mode_runs_both_paths_with_dropout() -> None:
    model, spec = _model("everything")
    model.train()
    inputs = _inputs(spec, 8)
    torch.manual_seed(3)
    first = model(**inputs)
    torch.manual_seed(3)
    again = model(**inputs)
    torch.testing.assert_close(first, again)  # same seed, same dropout masks
    first.sum().backward()
    assert all(p.grad is not None for p in model.blocks.parameters())
    logits, attentions = model(**inputs, return_attention=True)
    assert logits.shape == (8, 1) and len(attentions) == 2
