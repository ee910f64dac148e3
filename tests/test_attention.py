"""Attention extraction and aggregation: known answers, invariants, token alignment."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch

from neuromkt.data.samples import SAMPLES, load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.errors import DataError, ModelError
from neuromkt.explain.attention import (
    AttentionMaps,
    AttentionView,
    check_labels,
    compute_attention,
    feature_matrix,
    global_features,
    layer_head_table,
    position_values,
)
from neuromkt.explain.positions import split_positions
from neuromkt.explain.rollout import rollout_cls
from neuromkt.explain.segments import (
    OUTCOME,
    SCORE_DECILE,
    example_row,
    outcome_labels,
    segment_labels,
    segment_table,
)
from neuromkt.explain.tables import attention_table, global_attention_summary
from neuromkt.explain.tokens import (
    row_token_weights,
    search_rows,
    token_matrix,
    token_spans,
    token_table,
)
from neuromkt.model.bundle import ModelBundle
from neuromkt.model.encoders import Encoders, tokenize
from neuromkt.model.network import AttentionModel, ModelConfig
from neuromkt.model.train_config import TrainConfig


def _bundle(
    frame: pd.DataFrame,
    target: str,
    text: tuple[str, ...],
    *,
    seed: int = 0,
    layers: int = 2,
    heads: int = 4,
) -> ModelBundle:
    """A model with random weights: attention is real and varied, no training needed."""
    schema = infer_schema(frame, target=target)
    for column in text:
        if schema.role_of(column) != "text":
            schema = schema.with_role(column, "text", frame)
    encoders = Encoders.fit(frame, schema)
    torch.manual_seed(seed)
    config = ModelConfig(d_model=32, n_layers=layers, n_heads=heads)
    model = AttentionModel(config=config, spec=encoders.spec()).eval()
    return ModelBundle(model, encoders, schema, TrainConfig(), {}, "fp", "2026-01-01T00:00:00", "t")


def _sample(key: str, n: int) -> tuple[pd.DataFrame, ModelBundle]:
    frame = load_sample(key).head(n).reset_index(drop=True)
    spec = SAMPLES[key]
    return frame, _bundle(frame, spec.target, spec.text_columns)


@pytest.fixture(scope="module")
def ecom() -> tuple[pd.DataFrame, ModelBundle, AttentionMaps]:
    frame, bundle = _sample("ecommerce", 600)
    return frame, bundle, compute_attention(bundle, frame, batch_size=128)


def _hand_maps(cls: np.ndarray, rollout: np.ndarray | None = None, scores=None) -> AttentionMaps:
    """Maps over a hand-built attention array, with encoders of two numeric features."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 3, "b": [0.0, 1.0] * 6, "y": [0, 1] * 6})
    encoders = Encoders.fit(frame, infer_schema(frame, target="y"))
    n = cls.shape[0]
    rollout = np.zeros((n, cls.shape[1], cls.shape[3])) if rollout is None else rollout
    scores = np.linspace(0, 1, n) if scores is None else np.asarray(scores, dtype=float)
    return AttentionMaps(cls, rollout, scores, pd.RangeIndex(n), encoders, pd.DataFrame())


# ---------------------------------------------------------------- known answers


def test_rollout_of_one_layer_is_half_attention_plus_identity() -> None:
    a = torch.tensor([[[[0.5, 0.3, 0.2], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]]])  # (1, 1, 3, 3)
    got = rollout_cls([a])[0, 0]
    torch.testing.assert_close(got, torch.tensor([0.75, 0.15, 0.10]))


def test_rollout_of_two_layers_multiplies_through() -> None:
    a1 = torch.tensor([[[[0.5, 0.5], [0.0, 1.0]]]])
    a2 = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])
    # Â1 = [[.75,.25],[0,1]], Â2 = [[.5,.5],[.25,.75]]; CLS row of Â2·Â1 = [.375, .625]
    got = rollout_cls([a1, a2])[0]
    torch.testing.assert_close(got, torch.tensor([[0.75, 0.25], [0.375, 0.625]]))


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_rollout_matches_full_matrix_products(n_layers: int) -> None:
    gen = torch.Generator().manual_seed(n_layers)
    atts = [torch.softmax(torch.randn(4, 3, 6, 6, generator=gen), -1) for _ in range(n_layers)]
    got = rollout_cls(atts)
    product = None
    for layer, a in enumerate(atts):
        mixed = a.mean(1) + torch.eye(6)
        mixed = mixed / mixed.sum(-1, keepdim=True)
        product = mixed if product is None else mixed @ product
        torch.testing.assert_close(got[:, layer], product[:, 0], atol=1e-6, rtol=1e-5)


def test_position_values_pick_layers_and_heads() -> None:
    cls = np.zeros((2, 2, 2, 4), dtype="float32")  # (N, L, H, T)
    cls[:, 0, 0] = [0.4, 0.6, 0.0, 0.0]
    cls[:, 0, 1] = [0.2, 0.0, 0.8, 0.0]
    cls[:, 1, 0] = [0.0, 0.0, 0.0, 1.0]
    cls[:, 1, 1] = [1.0, 0.0, 0.0, 0.0]
    maps = _hand_maps(cls)
    np.testing.assert_allclose(position_values(maps)[0], [0.4, 0.15, 0.2, 0.25])
    np.testing.assert_allclose(
        position_values(maps, AttentionView(layer=0))[0], [0.3, 0.3, 0.4, 0.0]
    )
    np.testing.assert_allclose(
        position_values(maps, AttentionView(head=1))[0], [0.6, 0.0, 0.4, 0.0]
    )
    np.testing.assert_allclose(
        position_values(maps, AttentionView(layer=1, head=0))[0], [0, 0, 0, 1]
    )
    with pytest.raises(ValueError, match="layer 3 does not exist; the model has 2"):
        position_values(maps, AttentionView(layer=2))
    with pytest.raises(ValueError, match="rollout averages the heads"):
        AttentionView(method="rollout", head=0)


def test_global_and_layer_head_means_known_answer() -> None:
    cls = np.zeros((2, 1, 2, 3), dtype="float32")  # features a (pos 1), b (pos 2)
    cls[0, 0, 0] = [0.5, 0.5, 0.0]
    cls[1, 0, 0] = [0.5, 0.1, 0.4]
    cls[0, 0, 1] = [0.0, 0.0, 1.0]
    cls[1, 0, 1] = [0.0, 0.2, 0.8]
    table = global_features(_hand_maps(cls)).set_index("feature")
    assert table.loc["b", "attention"] == pytest.approx((0.0 + 0.4 + 1.0 + 0.8) / 4)
    assert table.loc["a", "attention"] == pytest.approx((0.5 + 0.1 + 0.0 + 0.2) / 4)
    assert list(table["rank"]) == [1, 2] and table.index[0] == "b"
    assert table["share"].sum() == pytest.approx(1.0)
    heads = layer_head_table(_hand_maps(cls)).set_index(["feature", "head"])["attention"]
    assert heads[("a", 1)] == pytest.approx(0.3) and heads[("b", 2)] == pytest.approx(0.9)


def test_segment_means_and_differences_known_answer() -> None:
    cls = np.zeros((4, 1, 1, 3), dtype="float32")
    cls[:, 0, 0, 1] = [0.1, 0.3, 0.5, 0.7]  # feature a
    cls[:, 0, 0, 2] = [0.2, 0.2, 0.4, 0.0]  # feature b
    labels = pd.Series(pd.Categorical(["x", "x", "y", "y"], categories=["y", "x"]))
    table = segment_table(_hand_maps(cls), labels).set_index(["segment", "feature"])
    assert table.loc[("x", "a"), "attention"] == pytest.approx(0.2)
    assert table.loc[("y", "a"), "attention"] == pytest.approx(0.6)
    assert table.loc[("y", "a"), "overall"] == pytest.approx(0.4)
    assert table.loc[("x", "a"), "difference"] == pytest.approx(-0.2)
    assert table.loc[("y", "b"), "n_rows"] == 2
    segments = list(dict.fromkeys(table.index.get_level_values("segment")))
    assert segments == ["y", "x"]  # the labels' categorical order


def test_rollout_view_reads_the_chosen_layer() -> None:
    rollout = np.zeros((1, 2, 3), dtype="float32")
    rollout[0, 0] = [0.6, 0.3, 0.1]
    rollout[0, 1] = [0.5, 0.1, 0.4]
    maps = _hand_maps(np.zeros((1, 2, 1, 3), dtype="float32"), rollout)
    np.testing.assert_allclose(position_values(maps, AttentionView("rollout"))[0], [0.5, 0.1, 0.4])
    np.testing.assert_allclose(
        position_values(maps, AttentionView("rollout", layer=0))[0], [0.6, 0.3, 0.1]
    )


def test_check_labels_names_both_counts() -> None:
    with pytest.raises(ValueError, match="attention has 12 positions, but 11 tokens"):
        check_labels(12, ["t"] * 11, "tokens")


# ---------------------------------------------------------------- a real model


def test_attention_rows_sum_to_one_and_padding_is_zero(ecom) -> None:
    frame, bundle, maps = ecom
    pad = bundle.model.pad_mask(bundle.encoders.transform(frame)["tokens"]).numpy()  # (N, T)
    assert pad.any(), "the sample must have padded rows for this test to mean anything"
    np.testing.assert_allclose(maps.cls.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(maps.rollout.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(maps.cls.transpose(0, 3, 1, 2)[pad] == 0.0)
    assert np.all(maps.rollout.transpose(0, 2, 1)[pad] == 0.0)
    assert maps.cls.dtype == np.float32 and not maps.cls.flags.writeable


def test_chunking_does_not_change_results(ecom, monkeypatch) -> None:
    frame, bundle, maps = ecom
    monkeypatch.setattr("neuromkt.explain.attention.CHUNK_ROWS", 97)
    small = compute_attention(bundle, frame, batch_size=13)
    np.testing.assert_allclose(small.cls, maps.cls, atol=1e-6)
    np.testing.assert_allclose(small.rollout, maps.rollout, atol=1e-6)
    np.testing.assert_allclose(small.scores, maps.scores, atol=1e-6)
    pd.testing.assert_frame_equal(small.tokens, maps.tokens)


def test_scores_are_the_models_predictions(ecom) -> None:
    from neuromkt.model.inference import predict

    frame, bundle, maps = ecom
    np.testing.assert_allclose(maps.scores, predict(bundle, frame), atol=1e-6)


def test_feature_matrix_agrees_with_split_positions(ecom) -> None:
    frame, bundle, maps = ecom
    values = position_values(maps, AttentionView(layer=1, head=2))
    expected = split_positions(values, bundle.encoders, frame).features
    np.testing.assert_allclose(values @ feature_matrix(bundle.encoders), expected, atol=1e-6)


def test_attention_table_for_the_cli(ecom) -> None:
    frame, bundle, maps = ecom
    table = attention_table(bundle, frame.iloc[10:60], method="rollout")
    assert list(table.columns) == bundle.encoders.input_columns
    assert list(table.index) == list(range(10, 60))
    self_share = position_values(maps, AttentionView("rollout"))[10:60, 0]
    np.testing.assert_allclose(table.sum(axis=1) + self_share, 1.0, atol=1e-5)


def test_global_summary_has_the_cli_shape(ecom) -> None:
    frame, bundle, _ = ecom
    summary = global_attention_summary(bundle, frame, min_count=30)
    assert set(summary) == {"features", "tokens"}
    json.dumps(summary)  # plain JSON types only
    names = [f["name"] for f in summary["features"]]
    assert sorted(names) == sorted(bundle.encoders.input_columns)
    for key in ("features", "tokens"):
        values = [item["importance"] for item in summary[key]]
        assert values == sorted(values, reverse=True)
    assert summary["tokens"] and all(t["count"] >= 30 for t in summary["tokens"])
    assert {tuple(sorted(t)) for t in summary["tokens"]} == {
        ("column", "count", "importance", "token")
    }


def test_missing_model_column_is_named() -> None:
    frame, bundle = _sample("ecommerce", 50)
    with pytest.raises(ModelError, match="'device'"):
        compute_attention(bundle, frame.drop(columns="device"))


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("key", ["ecommerce", "ads", "search_cn"])
def test_token_weights_align_with_the_original_text(key: str) -> None:
    frame, bundle = _sample(key, 300)
    maps = compute_attention(bundle, frame)
    column = SAMPLES[key].text_columns[0]
    values = position_values(maps)
    start = 1 + len(bundle.encoders.feature_columns)
    for row in (0, 7, 151, 299):
        text = str(frame.at[row, column])
        weights = row_token_weights(maps, frame, row)
        assert list(weights["token"]) == tokenize(text)
        for w in weights.itertuples():
            assert text[w.start : w.end].lower() == w.token
        seen = weights[weights["seen"]]
        np.testing.assert_allclose(seen["attention"], values[row, start + seen["slot"]])


def test_cjk_and_english_spans_keep_case_and_punctuation() -> None:
    assert token_spans("夏季连衣裙 包邮", tokenize("夏季连衣裙 包邮")) == [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (6, 7),
        (7, 8),
    ]
    text = "FREE shipping — today only!!! (sale)"
    spans = token_spans(text, tokenize(text))
    assert [text[s:e] for s, e in spans] == ["FREE", "shipping", "—", "today", "only", "sale"]
    assert token_spans("home > cart > cart", ["home", "cart", "cart"]) == [
        (0, 4),
        (7, 11),
        (14, 18),
    ]


def test_tokens_past_the_length_limit_are_marked_unseen() -> None:
    frame, bundle = _sample("ecommerce", 300)
    limit = bundle.encoders.text[0].max_len
    frame.loc[5, "events"] = " ".join(["cart"] * (limit + 3))
    maps = compute_attention(bundle, frame)
    weights = row_token_weights(maps, frame, 5)
    assert len(weights) == limit + 3
    assert weights["seen"].sum() == limit
    assert weights["attention"].isna().sum() == 3


def test_changed_text_gives_a_clear_error(ecom) -> None:
    frame, _, maps = ecom
    changed = frame.copy()
    changed.loc[3, "events"] = "home"
    with pytest.raises(
        ValueError,
        match=r"attention has \d+ token positions for column "
        r"'events' in row 3, but its text shows 1 tokens",
    ):
        row_token_weights(maps, changed, 3)


def test_token_table_known_answer() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0] * 5,
            "t": ["a b a", "b", "a c", "c", "b"] * 4,
            "y": [1, 0, 1, 0, 0] * 4,
        }
    )
    bundle = _bundle(frame, "y", ("t",), layers=1, heads=1)
    maps = compute_attention(bundle, frame)
    values = position_values(maps)
    table = token_table(maps, frame, min_count=5).set_index("token")
    a_rows = [i for i in range(20) if i % 5 in (0, 2)]
    start = 2  # [CLS], x, then the slots of t
    per_row = [values[i, start] + (values[i, start + 2] if i % 5 == 0 else 0.0) for i in a_rows]
    assert table.loc["a", "attention"] == pytest.approx(np.mean(per_row))
    assert table.loc["a", "count"] == 8 and table.loc["a", "occurrences"] == 12
    assert table.loc["a", "outcome_rate"] == pytest.approx(1.0)
    assert table.loc["b", "outcome_rate"] == pytest.approx(4 / 12)
    assert table["count"].min() >= 5
    assert set(token_table(maps, frame, min_count=9)["token"]) == {"b"}


def test_search_rows_is_literal_and_ignores_case() -> None:
    frame = pd.DataFrame({"q": ["C++ jobs", "c++ JOBS", "java", None]}, index=[10, 11, 12, 13])
    assert search_rows(frame, "q", "c++") == [10, 11]
    assert search_rows(frame, "q", "  ") == []


def test_token_matrix_rows_sum_to_one_and_match_cls(ecom) -> None:
    frame, bundle, maps = ecom
    for view in (AttentionView(layer=1, head=3), AttentionView(), AttentionView("rollout")):
        matrix = token_matrix(bundle, frame, 4, view)
        n = matrix["query"].max() + 1
        n_tokens = len(tokenize(frame.at[4, "events"])[: bundle.encoders.text[0].max_len])
        assert n == 1 + len(bundle.encoders.feature_columns) + n_tokens  # padding left out
        np.testing.assert_allclose(matrix.groupby("query")["attention"].sum(), 1.0, atol=1e-5)
        cls_row = matrix[matrix["query"] == 0]["attention"].to_numpy()
        np.testing.assert_allclose(cls_row, position_values(maps, view)[4, :n], atol=1e-5)
    labels = matrix[matrix["query"] == 0]["key_label"].tolist()
    assert labels[0] == "[CLS]" and labels[1].startswith("pages_viewed = ")


# ---------------------------------------------------------------- segments and examples


def test_segment_labels_by_outcome_decile_and_columns(ecom) -> None:
    frame, _, maps = ecom
    outcome = segment_labels(maps, frame, OUTCOME)
    assert list(outcome.cat.categories) == ["purchased = 1", "purchased = 0"]
    assert (outcome == "purchased = 1").sum() == (frame["purchased"] == 1).sum()
    deciles = segment_labels(maps, frame, SCORE_DECILE)
    assert deciles.value_counts().tolist() == [60] * 10
    by_decile = [maps.scores[(deciles == d).to_numpy()] for d in deciles.cat.categories]
    assert all(lo.max() <= hi.min() for lo, hi in itertools.pairwise(by_decile))
    assert deciles.cat.categories[0].startswith("D1 · ")
    quint = segment_labels(maps, frame, "time_on_site_sec")
    assert len(quint.cat.categories) == 5 + int(frame["time_on_site_sec"].isna().any())
    channel = segment_labels(maps, frame, "channel", max_levels=3)
    assert len(channel.cat.categories) == 3 and "(other)" in channel.cat.categories
    with pytest.raises(DataError, match="no column 'nope'"):
        segment_labels(maps, frame, "nope")
    with pytest.raises(DataError, match="no outcome column 'purchased'"):
        outcome_labels(maps.encoders, frame.drop(columns="purchased"))


def test_example_rows_are_the_extreme_scores_of_each_outcome(ecom) -> None:
    frame, _, maps = ecom
    high, low = example_row(maps, frame, "high"), example_row(maps, frame, "low")
    y = frame["purchased"].to_numpy()
    assert y[high] == 1 and maps.scores[high] == maps.scores[y == 1].max()
    assert y[low] == 0 and maps.scores[low] == maps.scores[y == 0].min()


def test_regression_outcome_is_split_at_the_median() -> None:
    frame = load_sample("ecommerce").head(300).drop(columns="purchased")
    frame = frame.dropna(subset=["time_on_site_sec"]).reset_index(drop=True)
    bundle = _bundle(frame, "time_on_site_sec", ("events",), layers=1, heads=2)
    maps = compute_attention(bundle, frame)
    labels = outcome_labels(bundle.encoders, frame)
    assert len(labels.cat.categories) == 2 and labels.cat.categories[0].startswith(
        "time_on_site_sec above"
    )
    table = token_table(maps, frame, min_count=20).set_index("token")
    rows = frame["events"].map(lambda t: "cart" in tokenize(t))
    expected = frame.loc[rows, "time_on_site_sec"].mean()
    assert table.loc["cart", "outcome_rate"] == pytest.approx(expected)
    assert segment_table(maps, segment_labels(maps, frame, SCORE_DECILE)).shape[0] == 10 * 10
