"""Attributions: completeness, baselines, padding, known answers, the CLI's shapes."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from neuromkt.data.samples import SAMPLES
from neuromkt.errors import ModelError
from neuromkt.explain.agreement import deletion_curve
from neuromkt.explain.attention import compute_attention, position_values
from neuromkt.explain.attributions import METHODS, attribute, convergence
from neuromkt.explain.methods import EmbeddedForward, embed_rows, explained_output
from neuromkt.explain.summaries import feature_ranking, token_ranking
from neuromkt.explain.tables import attribution_table, global_attribution_summary
from neuromkt.model.encoders import OTHER
from neuromkt.model.inference import logits_for, predict
from neuromkt.model.sample_models import (
    load_sample_bundle,
    sample_frame_and_schema,
    train_sample_bundle,
)
from neuromkt.model.train_config import TrainConfig
from neuromkt.progress import Progress

GRADIENT = ("ig", "gradshap", "deeplift", "inputxgrad", "occlusion")


@pytest.fixture(scope="module")
def rows(ecommerce_frame: pd.DataFrame) -> pd.DataFrame:
    """60 rows with gaps in them, and a non-default index (labels must follow)."""
    part = ecommerce_frame.iloc[200:260].copy()
    part.index = part.index + 10_000
    return part


@pytest.fixture(scope="module")
def ig(tiny_bundle, rows):
    return attribute(tiny_bundle, rows, "ig", steps=32)


def _pad_mask(bundle, frame: pd.DataFrame) -> np.ndarray:
    inputs = bundle.encoders.transform(frame)
    return bundle.model.pad_mask(inputs["tokens"]).numpy()


# ---------------------------------------------------------------- completeness


def test_ig_completeness_on_a_trained_model(ig) -> None:
    gap = ig.score - ig.baseline_score
    assert np.abs(gap).mean() > 0.1  # the rows really differ from the baseline
    assert np.abs(ig.delta).sum() / np.abs(gap).sum() < 0.02
    # δ is Σ attributions − (F(x) − F(baseline)), as Captum defines it
    np.testing.assert_allclose(ig.raw.sum(axis=1) - gap, ig.delta, atol=2e-3)
    assert convergence(ig).ok and convergence(ig).available


def test_more_steps_shrink_the_delta(tiny_bundle, rows) -> None:
    few = attribute(tiny_bundle, rows.head(20), "ig", steps=2)
    many = attribute(tiny_bundle, rows.head(20), "ig", steps=32)
    assert np.abs(many.delta).sum() < np.abs(few.delta).sum()


def test_score_is_the_log_odds_the_model_predicts(tiny_bundle, rows, ig) -> None:
    np.testing.assert_allclose(1 / (1 + np.exp(-ig.score)), predict(tiny_bundle, rows), atol=1e-5)
    assert ig.output.label == "log-odds of purchased = 1"
    prob = attribute(tiny_bundle, rows.head(20), "ig", output="probability")
    np.testing.assert_allclose(prob.score, predict(tiny_bundle, rows.head(20)), atol=1e-5)


@pytest.mark.parametrize("method", GRADIENT)
def test_cls_and_padding_get_exactly_zero(tiny_bundle, rows, method) -> None:
    result = attribute(tiny_bundle, rows.head(40), method)
    pad = _pad_mask(tiny_bundle, rows.head(40))
    assert pad.any()  # the e-commerce clickstreams are shorter than the slots
    assert (result.raw[pad] == 0).all()
    assert (result.raw[:, 0] == 0).all()
    assert np.isfinite(result.raw).all()
    assert np.abs(result.raw[~pad]).sum() > 0


def test_equals_captum_layer_integrated_gradients_on_model_embed(tiny_bundle, rows) -> None:
    """The embedding-space computation is LayerIntegratedGradients at model.embed."""
    part = rows.head(16)
    ours = attribute(tiny_bundle, part, "ig", baseline="missing", steps=32)
    model, encoders = tiny_bundle.model, tiny_bundle.encoders
    inputs = encoders.transform(part)
    missing_row = {
        "numeric": torch.zeros_like(inputs["numeric"]),
        "numeric_missing": torch.ones_like(inputs["numeric_missing"]),
        "categorical": torch.ones_like(inputs["categorical"]),  # the "(missing)" rows
        "tokens": (inputs["tokens"] > 0).long(),  # [UNK] where a token is, [PAD] elsewhere
    }

    def forward(numeric, numeric_missing, categorical, tokens):
        return model(numeric, numeric_missing, categorical, tokens)[:, 0]

    names = ("numeric", "numeric_missing", "categorical", "tokens")
    layer = LayerIntegratedGradients(forward, model.embed)
    theirs, delta = layer.attribute(
        tuple(inputs[k] for k in names),
        baselines=tuple(missing_row[k] for k in names),
        n_steps=32,
        return_convergence_delta=True,
    )
    np.testing.assert_allclose(ours.raw, theirs.sum(dim=2).detach().numpy(), atol=2e-4)
    np.testing.assert_allclose(ours.delta, delta.detach().numpy(), atol=2e-4)


def test_results_do_not_depend_on_chunking(tiny_bundle, rows, ig) -> None:
    small = attribute(tiny_bundle, rows.head(12), "ig", steps=32, batch_size=96)  # 3 a chunk
    np.testing.assert_allclose(small.raw, ig.raw[:12], atol=1e-4)
    pd.testing.assert_frame_equal(small.values.features, ig.values.features.head(12), atol=1e-4)


# ---------------------------------------------------------------- baselines


def test_neutral_baseline_is_a_typical_row(tiny_bundle, rows, ig) -> None:
    encoders = tiny_bundle.encoders
    channel = encoders.categorical[[e.name for e in encoders.categorical].index("channel")]
    typical = channel.levels[2]  # the most frequent level in training
    at_mode = rows["channel"].astype(str) == typical
    assert at_mode.any() and (~at_mode).any()
    values = ig.values.features["channel"]
    assert (values[at_mode] == 0).all()  # a column at its typical value explains nothing
    assert (values[~at_mode] != 0).any()
    assert OTHER not in channel.levels[2:]


@pytest.mark.parametrize("baseline", ["neutral", "missing"])
def test_every_baseline_keeps_completeness(tiny_bundle, rows, baseline) -> None:
    result = attribute(tiny_bundle, rows.head(20), "ig", baseline=baseline, steps=32)
    gap = result.score - result.baseline_score
    assert np.abs(result.delta).sum() <= 0.03 * np.abs(gap).sum() + 1e-3
    assert result.baseline == baseline


def test_zero_baseline_needs_more_steps_and_says_so(tiny_bundle, rows) -> None:
    """LayerNorm makes the path from an all-zero embedding steep near its start."""
    coarse = attribute(tiny_bundle, rows.head(20), "ig", baseline="zero", steps=8)
    fine = attribute(tiny_bundle, rows.head(20), "ig", baseline="zero", steps=128)
    assert np.abs(fine.delta).sum() < np.abs(coarse.delta).sum()
    check = convergence(coarse)
    assert not check.ok and "Raise the steps from 8 to 32" in check.message


def test_zero_baseline_is_all_zero_except_cls_and_padding(tiny_bundle, rows) -> None:
    model, encoders = tiny_bundle.model, tiny_bundle.encoders
    x, base, pad = embed_rows(model, encoders, encoders.transform(rows.head(8)), "zero")
    keep = pad.clone()
    keep[:, 0] = True
    assert torch.equal(base[keep], x[keep])
    assert (base[~keep] == 0).all()


# ---------------------------------------------------------------- perturbation methods


def test_ablation_matches_resetting_a_column_by_hand(tiny_bundle, rows) -> None:
    part = rows.head(25)
    result = attribute(tiny_bundle, part, "ablation")
    logit = logits_for(tiny_bundle, part)[:, 0].double().numpy()
    encoders = tiny_bundle.encoders
    np.testing.assert_allclose(result.score, logit, atol=1e-5)
    numeric = encoders.numeric[0]
    categorical = encoders.categorical[0]
    edits = {
        numeric.name: float(numeric.inverse(np.zeros(1))[0]),  # the training median
        categorical.name: categorical.levels[2],  # the most frequent level
        "events": "",  # empty text
    }
    for column, value in edits.items():
        reset = part.copy()
        reset[column] = value
        changed = logit - logits_for(tiny_bundle, reset)[:, 0].double().numpy()
        np.testing.assert_allclose(result.values.features[column], changed, atol=1e-4)


def test_ablation_deletes_tokens_one_at_a_time(tiny_bundle, rows) -> None:
    result = attribute(tiny_bundle, rows.head(25), "ablation")
    pad = _pad_mask(tiny_bundle, rows.head(25))
    assert (result.raw[pad] == 0).all()
    tokens = result.values.tokens
    assert len(tokens) == (~pad[:, 1 + len(tiny_bundle.encoders.feature_columns) :]).sum()
    cart = tokens[tokens["token"] == "cart"]["value"]
    assert len(cart) and cart.mean() > 0  # deleting "cart" lowers the purchase score


def test_occlusion_window_one_matches_replacing_a_position(tiny_bundle, rows) -> None:
    part = rows.head(6)
    result = attribute(tiny_bundle, part, "occlusion", window=1)
    model, encoders = tiny_bundle.model, tiny_bundle.encoders
    x, base, pad = embed_rows(model, encoders, encoders.transform(part), "neutral")
    forward = EmbeddedForward(model, explained_output(encoders))
    position = 1 + encoders.feature_columns.index("returning_visitor")
    covered = x.clone()
    covered[:, position] = base[:, position]
    with torch.no_grad():
        expected = forward(x - base, base, pad) - forward(covered - base, base, pad)
    np.testing.assert_allclose(result.raw[:, position], expected.numpy(), atol=1e-5)


def test_gradshap_is_reproducible_and_reports_a_delta(tiny_bundle, rows) -> None:
    one = attribute(tiny_bundle, rows.head(20), "gradshap", samples=8, seed=3)
    two = attribute(tiny_bundle, rows.head(20), "gradshap", samples=8, seed=3)
    np.testing.assert_array_equal(one.raw, two.raw)
    assert np.isfinite(one.delta).all()
    assert convergence(one).available


def test_methods_without_a_delta_say_so(tiny_bundle, rows) -> None:
    for method in ("inputxgrad", "ablation", "occlusion"):
        result = attribute(tiny_bundle, rows.head(10), method)
        assert np.isnan(result.delta).all()
        check = convergence(result)
        assert not check.available and check.ok and "no completeness check" in check.message


def test_deeplift_runs_and_its_delta_is_surfaced(tiny_bundle, rows) -> None:
    result = attribute(tiny_bundle, rows.head(20), "deeplift")
    assert np.isfinite(result.delta).all()
    check = convergence(result, tolerance=1e-9)
    assert not check.ok and "Integrated Gradients" in check.message


def test_large_delta_warns_with_the_fix(tiny_bundle, rows) -> None:
    result = attribute(tiny_bundle, rows.head(30), "ig", steps=1)
    check = convergence(result, tolerance=1e-6)
    assert not check.ok
    assert "Raise the steps from 1 to 4" in check.message


# ---------------------------------------------------------------- tasks


def test_regression_explains_the_value_in_target_units(tiny_regression_bundle, task_frame) -> None:
    bundle = tiny_regression_bundle
    part = task_frame.head(30)
    result = attribute(bundle, part, "ig", steps=64)
    np.testing.assert_allclose(result.score, predict(bundle, part), rtol=1e-4)
    gap = result.score - result.baseline_score
    assert np.abs(result.raw.sum(axis=1) - gap).max() < 0.01 * bundle.encoders.target_std
    assert result.output.label == "predicted time_on_site_sec"


def test_multiclass_explains_the_chosen_class(tiny_multiclass_bundle, task_frame) -> None:
    bundle = tiny_multiclass_bundle
    part = task_frame.head(20)
    chosen = bundle.encoders.classes[-1]  # not the first: the default would pass anyway
    result = attribute(bundle, part, "ig", target=chosen, output="probability")
    probs = predict(bundle, part)[:, list(bundle.encoders.classes).index(chosen)]
    np.testing.assert_allclose(result.score, probs, atol=1e-5)
    assert result.output.label == f"probability of device = {chosen}"
    logit = attribute(bundle, part, "ig", target=chosen)
    assert logit.output.label == f"logit of device = {chosen}"
    with pytest.raises(ValueError, match="'top' is not one of the model's classes"):
        attribute(bundle, part, "ig", target="top")


# ---------------------------------------------------------------- API for the CLI


def test_attribution_table_has_one_row_per_row_and_one_column_per_feature(
    tiny_bundle, rows
) -> None:
    table = attribution_table(tiny_bundle, rows.head(15), "ablation")
    assert list(table.columns) == tiny_bundle.encoders.input_columns
    assert table.index.equals(rows.head(15).index)
    assert np.isfinite(table.to_numpy()).all()


@pytest.mark.parametrize("method", ["ig", "gradshap", "deeplift", "ablation"])
def test_global_summary_has_the_cli_json_shape(tiny_bundle, rows, method) -> None:
    summary = global_attribution_summary(tiny_bundle, rows, method, min_count=3, steps=16)
    assert set(summary) == {"features", "tokens"}
    assert all(set(f) == {"name", "importance"} for f in summary["features"])
    assert {f["name"] for f in summary["features"]} == set(tiny_bundle.encoders.input_columns)
    assert all(set(t) == {"column", "token", "importance", "count"} for t in summary["tokens"])
    assert all(t["count"] >= 3 for t in summary["tokens"])
    for items in summary.values():
        values = [item["importance"] for item in items]
        assert values == sorted(values, reverse=True) and all(v >= 0 for v in values)
    assert json.loads(json.dumps(summary)) == summary


def test_method_names_are_the_cli_names() -> None:
    assert list(METHODS) == ["ig", "gradshap", "deeplift", "inputxgrad", "ablation", "occlusion"]


def test_bad_requests_fail_with_plain_messages(tiny_bundle, rows) -> None:
    with pytest.raises(ValueError, match="Unknown method 'shap'; choose one of ig, gradshap"):
        attribute(tiny_bundle, rows, "shap")
    with pytest.raises(ValueError, match="Feature ablation cannot use the 'zero' baseline"):
        attribute(tiny_bundle, rows, "ablation", baseline="zero")
    with pytest.raises(ValueError, match="steps=0"):
        attribute(tiny_bundle, rows, "ig", steps=0)
    with pytest.raises(ModelError, match="'events'"):
        attribute(tiny_bundle, rows.drop(columns="events"), "ig")


def test_progress_is_reported_per_chunk(tiny_bundle, rows) -> None:
    seen: list[Progress] = []
    attribute(tiny_bundle, rows, "ig", steps=8, batch_size=8 * 25, on_progress=seen.append)
    assert [(p.done, p.total) for p in seen] == [(25, 60), (50, 60), (60, 60)]
    assert {(p.unit, p.message) for p in seen} == {("rows", "Integrated Gradients")}
    assert all(b.elapsed_s >= a.elapsed_s >= 0 for a, b in itertools.pairwise(seen))


def test_empty_frame_gives_empty_result(tiny_bundle, rows) -> None:
    result = attribute(tiny_bundle, rows.head(0), "ig")
    assert result.raw.shape == (0, tiny_bundle.encoders.spec().n_positions)
    assert result.values.features.empty


# ---------------------------------------------------------------- planted drivers


@pytest.fixture(scope="module", params=[pytest.param(k, marks=pytest.mark.slow) for k in SAMPLES])
def sample_case(request):
    """A decent model of each sample and IG and ablation on 300 of its rows.

    The model is the shipped pre-trained bundle (default configuration, the full
    sample, seed 0; ``make samples``); without it, the same recipe is trained here
    with 10 epochs, which takes minutes.
    """
    key = request.param
    frame, _ = sample_frame_and_schema(key)
    bundle = load_sample_bundle(key)
    if bundle is None:
        bundle = train_sample_bundle(key, train_config=TrainConfig(epochs=10, seed=0)).bundle
    rows = frame.sample(300, random_state=1)
    ig = attribute(bundle, rows, "ig")
    ablation = attribute(bundle, rows, "ablation")
    return SAMPLES[key], bundle, rows, ig, ablation


def test_ig_ranks_planted_drivers_above_planted_noise(sample_case) -> None:
    spec, _, _, ig, _ = sample_case
    importance = feature_ranking(ig).set_index("feature")["importance"]
    noise = importance[list(spec.noise)]
    for driver in spec.drivers[:2]:
        assert importance[driver] > noise.max(), (driver, importance.round(3).to_dict())


def test_ablation_agrees_with_ig_in_sign(sample_case) -> None:
    spec, _, _, ig, ablation = sample_case
    for driver in spec.drivers[:2]:
        a, b = ig.values.features[driver], ablation.values.features[driver]
        clear = a.abs() > 0.05 * a.abs().max()  # rows where IG sees a real push
        assert clear.sum() >= 20
        assert (np.sign(a[clear]) == np.sign(b[clear])).mean() >= 0.9, driver


def test_planted_tokens_push_the_planted_way(sample_case) -> None:
    spec, _, _, ig, _ = sample_case
    tokens = token_ranking(ig, min_count=5).set_index("token")["signed_mean"]
    for column, raising in spec.driver_tokens.items():
        assert all(tokens.get(t, 0.0) > 0 for t in raising if t in tokens.index), column
        assert any(t in tokens.index for t in raising)


def test_ig_deletion_curve_falls_faster_than_random(sample_case) -> None:
    _, bundle, rows, ig, _ = sample_case
    attention = position_values(compute_attention(bundle, rows))
    curve = deletion_curve(bundle, rows, ig, attention, max_k=6)
    assert curve.auc["attribution"] < curve.auc["random"]
