"""Time in the model: gap buckets, their alignment with tokens, the embedding, bundles."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from neuromkt.data.schema import infer_schema
from neuromkt.errors import ModelError
from neuromkt.explain.attention import compute_attention
from neuromkt.explain.attributions import attribute
from neuromkt.explain.noise import noise_floor
from neuromkt.explain.tokens import row_token_weights, token_table
from neuromkt.model.bundle import load_bundle, save_bundle
from neuromkt.model.encoders import Encoders, gap_buckets
from neuromkt.model.inference import logits_for, predict
from neuromkt.model.metrics import binary_metrics
from neuromkt.model.network import N_GAP_BUCKETS, AttentionModel, InputSpec, ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit


def test_gap_buckets_are_log2_steps_with_0_for_unknown() -> None:
    seconds = [math.nan, -1, 0, 0.99, 1, 2.9, 3, 6.9, 7, 15, 1800, 86_400, 10**12]
    assert gap_buckets(seconds).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 11, 17, 23]
    assert gap_buckets([10**12]).max() == N_GAP_BUCKETS - 1


def _dwell_sessions(n: int, seed: int = 0) -> pd.DataFrame:
    """Every session has one view; converted = the dwell on it (the gap after) is long.

    The tokens are drawn independently of the outcome, so only the time gaps tell.
    """
    rng = np.random.default_rng(seed)
    words = np.array(["home", "search", "cart", "promo"])
    events, gaps, converted = [], [], []
    for _ in range(n):
        before, after = rng.integers(1, 4), rng.integers(1, 4)
        tokens = [*words[rng.integers(0, 4, before)], "view", *words[rng.integers(0, 4, after)]]
        seconds = rng.integers(2, 20, len(tokens)).astype(float)
        seconds[0] = 0
        long = rng.random() < 0.5
        seconds[before + 1] = rng.integers(120, 600) if long else rng.integers(2, 20)
        events.append(" ".join(tokens))
        gaps.append(" ".join(f"{s:g}" for s in seconds))
        converted.append(int(long) if rng.random() > 0.05 else int(not long))
    return pd.DataFrame({"events": events, "events_gap_s": gaps, "converted": converted})


def test_the_gap_column_is_read_with_its_events_and_aligned_with_the_tokens() -> None:
    frame = pd.DataFrame({
        "events": ["home view_item:shoes cart", "Home>Shoes view", None, "a b c d e f"],
        "events_gap_s": ["0 12 300", "0 5", None, "0 1 1 1"],  # the last row lacks 2 gaps
        "converted": [1, 0, 0, 1],
    })  # fmt: skip
    schema = infer_schema(frame, target="converted")
    assert schema.role_of("events_gap_s") == "ignore"
    reason = next(c.reason for c in schema.columns if c.name == "events_gap_s")
    assert "the time before each event of 'events'" in reason
    schema = schema.with_role("events", "text", frame)
    encoders = Encoders.fit(frame, schema)
    enc = encoders.text[0]
    assert enc.gap_column == "events_gap_s" and encoders.gap_columns == ["events_gap_s"]
    assert encoders.spec().time_gaps == (True,)
    seconds = enc.gap_seconds(frame["events"], frame["events_gap_s"])
    assert seconds[0] == [0.0, 12.0, 300.0]
    assert seconds[1] == [0.0, 0.0, 5.0]  # "Home>Shoes" is two tokens with one gap
    assert seconds[2] == []
    assert seconds[3][:4] == [0.0, 1.0, 1.0, 1.0] and all(math.isnan(v) for v in seconds[3][4:])
    inputs = encoders.transform(frame)
    assert inputs["gaps"].shape == inputs["tokens"].shape
    gaps, tokens = inputs["gaps"][:, 0].numpy(), inputs["tokens"][:, 0].numpy()
    assert gaps[0, :3].tolist() == gaps_of([0, 12, 300])
    assert ((tokens == 0) <= (gaps == 0)).all()  # padding never has a gap
    assert gaps[3, 4:6].tolist() == [0, 0]  # unknown
    with pytest.raises(ModelError, match="events_gap_s"):
        encoders.check_columns(frame.drop(columns="events_gap_s"))


def gaps_of(seconds: list[float]) -> list[int]:
    return gap_buckets(seconds).tolist()


def test_without_a_gap_column_the_inputs_and_spec_are_as_before() -> None:
    frame = _dwell_sessions(60).drop(columns="events_gap_s")
    schema = infer_schema(frame, target="converted").with_role("events", "text", frame)
    encoders = Encoders.fit(frame, schema)
    assert set(encoders.transform(frame)) == {"numeric", "numeric_missing", "categorical", "tokens"}
    spec = encoders.spec()
    assert spec.time_gaps == () and "time_gaps" not in spec.to_dict()
    model = AttentionModel(config=ModelConfig(d_model=16, n_heads=2), spec=spec)
    assert not hasattr(model.embed, "gap")
    assert not any(name.startswith("embed.gap") for name in model.state_dict())


def test_the_gap_embedding_changes_the_output_and_only_on_its_column() -> None:
    spec = InputSpec((), (), (), ("events", "words"), (10, 10), (5, 5), 1, (True, False))
    assert InputSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    old = {k: v for k, v in spec.to_dict().items() if k != "time_gaps"}
    assert InputSpec.from_dict(old).time_gaps == ()
    with pytest.raises(ValueError, match="time_gaps"):
        InputSpec((), (), (), ("events",), (10,), (5,), 1, (True, False))
    torch.manual_seed(0)
    model = AttentionModel(config=ModelConfig(d_model=16, n_heads=2), spec=spec).eval()
    tokens = torch.randint(2, 10, (4, 2, 5))
    empty = torch.zeros(4, 0)
    base = {"numeric": empty, "numeric_missing": empty.bool(),
            "categorical": empty.long(), "tokens": tokens}  # fmt: skip
    gaps = torch.randint(1, N_GAP_BUCKETS, (4, 2, 5))
    with torch.no_grad():
        none = model(**base)
        zeros = model(**base, gaps=torch.zeros_like(gaps))
        some = model(**base, gaps=gaps)
        other_column = gaps.clone()
        other_column[:, 1] = 3  # the column without gaps ignores them
        same = model(**base, gaps=torch.where(torch.arange(2)[None, :, None] == 0, gaps,
                                              other_column))  # fmt: skip
    torch.testing.assert_close(none, zeros)
    assert not torch.allclose(none, some)
    torch.testing.assert_close(some, same)


@pytest.fixture(scope="module")
def dwell() -> tuple[pd.DataFrame, object, object]:
    frame = _dwell_sessions(2400)
    schema = infer_schema(frame, target="converted").with_role("events", "text", frame)
    config = ModelConfig.preset("small")
    train = TrainConfig(epochs=12, seed=0)
    with_gaps = fit(frame, schema, config, train, name="dwell")
    blind = frame.drop(columns="events_gap_s")
    blind_schema = infer_schema(blind, target="converted").with_role("events", "text", blind)
    without = fit(blind, blind_schema, config, train, name="no gaps")
    return frame, with_gaps, without


@pytest.mark.slow
def test_a_model_learns_a_planted_dwell_time_only_with_gaps(dwell) -> None:
    frame, with_gaps, without = dwell
    test = with_gaps.split["test"]
    y = frame["converted"].to_numpy()[test]
    auc = binary_metrics(y, predict(with_gaps.bundle, frame.iloc[test]))["roc_auc"]
    blind = frame.drop(columns="events_gap_s").iloc[test]
    auc_without = binary_metrics(y, predict(without.bundle, blind))["roc_auc"]
    assert auc > 0.85, auc  # 5% of labels are flipped: the ceiling is about 0.95
    assert auc_without < 0.62, auc_without  # the tokens alone say nothing


@pytest.mark.slow
def test_bundles_with_gaps_round_trip_and_explain(dwell, tmp_path) -> None:
    frame, with_gaps, _ = dwell
    bundle = with_gaps.bundle
    rows = frame.iloc[:40]
    path = save_bundle(bundle, tmp_path / "dwell.zip")
    back = load_bundle(path)
    assert back.encoders.gap_columns == ["events_gap_s"]
    assert back.model.spec.time_gaps == (True,)
    np.testing.assert_array_equal(predict(back, rows), predict(bundle, rows))
    # Integrated Gradients stays complete with the gap embedding in the tokens.
    ig = attribute(back, rows, "ig", steps=32)
    gap = ig.score - ig.baseline_score
    assert np.abs(ig.delta).sum() <= 0.03 * np.abs(gap).sum() + 1e-3
    # Ablation explains the model as it scores: with its time gaps.
    ablation = attribute(back, rows, "ablation")
    logits = logits_for(back, rows)[:, 0].numpy()
    np.testing.assert_allclose(ablation.score, logits, atol=1e-5)
    # The per-token tables show the dwell next to each event.
    maps = compute_attention(back, rows)
    weights = row_token_weights(maps, rows, rows.index[0])
    seconds = [float(v) for v in rows["events_gap_s"].iloc[0].split()]  # one per event
    assert weights["gap_s"].tolist() == seconds
    assert weights["dwell_s"].tolist()[:-1] == seconds[1:]
    assert math.isnan(weights["dwell_s"].iloc[-1])
    vocab = token_table(maps, rows, min_count=1).set_index("token")
    assert vocab.loc["view", "median_dwell_s"] >= 2


def test_the_highlighted_sequence_shows_gap_and_dwell_in_the_tooltip() -> None:
    from neuromkt.figures.attention import highlight_html

    text = "search view_item:shoes cart"
    weights = pd.DataFrame({
        "column": "events", "slot": [0, 1, 2], "token": text.split(),
        "start": [0, 7, 23], "end": [6, 22, 27], "attention": [0.2, 0.5, 0.3],
        "seen": True, "in_vocab": True,
        "gap_s": [0.0, 4.0, 125.0], "dwell_s": [4.0, 125.0, math.nan],
    })  # fmt: skip
    out = highlight_html(text, weights)
    assert 'title="view_item:shoes: attention 0.5000, 4 s after the previous event, ' in out
    assert "2 min 5 s until the next" in out
    assert 'title="cart: attention 0.3000, 2 min 5 s after the previous event"' in out
    plain = highlight_html(text, weights.drop(columns=["gap_s", "dwell_s"]))
    assert "after the previous event" not in plain


@pytest.mark.slow
def test_the_noise_floor_shuffles_events_with_their_time_gaps(dwell) -> None:
    # Only the dwell time carries the outcome: shuffling the events column (with its
    # gaps) must clear the floor; a model without gaps has nothing there to lose.
    frame, with_gaps, _ = dwell
    test = frame.iloc[with_gaps.split["test"]]
    table = noise_floor(with_gaps.bundle, test).set_index("feature")
    assert table.loc["events", "distinguishable"], table
