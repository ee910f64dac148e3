"""Training: split, schedule, parameter groups, level dropout, epochs, seeds, early stop."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import drop_levels, fit, lr_at, make_parameter_groups, split_rows

SMALL = ModelConfig.preset("small")


def test_split_is_seeded_disjoint_and_stratified() -> None:
    y = np.r_[np.zeros(900), np.ones(100)]
    split = split_rows(y, task="binary", val_fraction=0.15, test_fraction=0.15, seed=3)
    rows = np.concatenate(list(split.values()))
    assert sorted(rows) == list(range(1000))  # every row once
    for name, share in (("test", 0.15), ("validation", 0.15), ("train", 0.70)):
        assert len(split[name]) == pytest.approx(1000 * share, abs=2)
        assert y[split[name]].mean() == pytest.approx(0.1, abs=0.01)  # same class balance
    again = split_rows(y, task="binary", val_fraction=0.15, test_fraction=0.15, seed=3)
    other = split_rows(y, task="binary", val_fraction=0.15, test_fraction=0.15, seed=4)
    np.testing.assert_array_equal(again["test"], split["test"])
    assert not np.array_equal(other["test"], split["test"])


def test_schedule_warms_up_then_decays_to_a_tenth() -> None:
    lrs = [lr_at(s, total=100, warmup=10, peak=1e-3) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))  # never rises again
    assert lr_at(100, total=100, warmup=10, peak=1e-3) == pytest.approx(1e-4)


def _ids(params) -> set[int]:
    return {id(p) for p in params}


@pytest.mark.parametrize("numeric_embedding", ["periodic", "linear"])
def test_no_decay_on_norms_biases_and_embeddings(
    ecommerce_frame, ecommerce_schema, numeric_embedding: str
) -> None:
    from neuromkt.model.encoders import Encoders

    encoders = Encoders.fit(ecommerce_frame, ecommerce_schema)
    config = ModelConfig.preset("small", n_layers=2, numeric_embedding=numeric_embedding)
    model = AttentionModel(config=config, spec=encoders.spec())
    decay, no_decay = make_parameter_groups(model, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    # Known answer: every parameter of the embedding ([CLS], numeric, tables), of
    # the norms and every bias goes undecayed; the Linear weights are decayed.
    expected = _ids(model.embed.parameters())
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            expected |= _ids(module.parameters())
        if isinstance(module, nn.Linear):
            expected.add(id(module.bias))
    assert _ids(no_decay["params"]) == expected
    linear = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    assert _ids(decay["params"]) == _ids(linear)
    assert all(p.ndim == 2 for p in decay["params"])  # weight matrices only


def test_parameter_groups_follow_module_types_not_names(ecommerce_frame, ecommerce_schema) -> None:
    """A wrapped model (as DDP wraps it: ``module.embed...``) gets the same groups."""
    from neuromkt.model.encoders import Encoders

    model = AttentionModel(
        config=SMALL, spec=Encoders.fit(ecommerce_frame, ecommerce_schema).spec()
    )
    wrapped = nn.ModuleDict({"module": model})
    for alone, inside in zip(
        make_parameter_groups(model, 0.05), make_parameter_groups(wrapped, 0.05), strict=True
    ):
        assert [id(p) for p in alone["params"]] == [id(p) for p in inside["params"]]


def test_level_dropout_hides_known_levels_and_words_only() -> None:
    categorical = torch.tensor([[0, 1, 2, 7]] * 5000)
    tokens = torch.tensor([[[0, 1, 5, 9]]] * 5000)
    inputs = {"numeric": torch.zeros(5000, 0), "categorical": categorical, "tokens": tokens}
    out = drop_levels(inputs, 0.25, torch.Generator().manual_seed(0))
    assert out["numeric"] is inputs["numeric"]
    cat, tok = out["categorical"], out["tokens"][:, 0]
    # "(other)"/"(missing)" and [PAD]/[UNK] never change.
    assert (cat[:, :2] == categorical[:, :2]).all() and (tok[:, :2] == tokens[:, 0, :2]).all()
    # Known levels become "(other)" (0) and words [UNK] (1), about a quarter of the time.
    assert set(cat[:, 2:].unique().tolist()) == {0, 2, 7}
    assert set(tok[:, 2:].unique().tolist()) == {1, 5, 9}
    assert (cat[:, 2:] == 0).float().mean() == pytest.approx(0.25, abs=0.02)
    assert (tok[:, 2:] == 1).float().mean() == pytest.approx(0.25, abs=0.02)
    again = drop_levels(inputs, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(again["categorical"], cat)  # seeded
    assert (categorical == torch.tensor([0, 1, 2, 7])).all()  # the input is not changed


def test_row_budget_caps_epochs() -> None:
    config = TrainConfig(epochs=30, row_budget=150_000)
    assert config.epochs_for(1_000) == 30
    assert config.epochs_for(35_000) == math.ceil(150_000 / 35_000) == 5
    assert config.epochs_for(10_000_000) == 1
    assert TrainConfig(epochs=30, row_budget=None).epochs_for(10_000_000) == 30


@pytest.mark.parametrize(
    ("field", "value"), [("level_dropout", 1.0), ("level_dropout", -0.1), ("row_budget", 0)]
)
def test_bad_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def _fit(frame, schema, **config):
    return fit(frame, schema, SMALL, TrainConfig(**{"epochs": 3, "batch_size": 128, **config}))


def test_same_seed_same_metrics_other_seed_differs(ecommerce_frame, ecommerce_schema) -> None:
    frame = ecommerce_frame.head(1500)
    first, again = _fit(frame, ecommerce_schema, seed=5), _fit(frame, ecommerce_schema, seed=5)
    other = _fit(frame, ecommerce_schema, seed=6)
    assert first.bundle.metrics["test"] == again.bundle.metrics["test"]
    assert [h["loss"] for h in first.history] == [h["loss"] for h in again.history]
    assert first.bundle.metrics["test"] != other.bundle.metrics["test"]


def test_best_epoch_weights_are_kept(ecommerce_frame, ecommerce_schema) -> None:
    result = _fit(ecommerce_frame.head(1500), ecommerce_schema, epochs=6, lr=3e-2, patience=2)
    aucs = [h["val_roc_auc"] for h in result.history]
    assert result.best_epoch == int(np.argmax(aucs)) + 1
    assert result.bundle.metrics["validation"]["roc_auc"] == pytest.approx(max(aucs))
