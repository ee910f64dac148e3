"""Evaluation on held-out rows, and how a data set differs from a model's columns."""

from __future__ import annotations

import numpy as np
import pytest

from neuromkt.data.schema import infer_schema
from neuromkt.errors import DataError, ModelError
from neuromkt.model.evaluation import (
    baseline_metrics,
    decile_table,
    evaluate_holdout,
    evaluate_rows,
    holdout_rows,
    schema_differences,
)
from neuromkt.model.inference import predict
from neuromkt.model.metrics import best_threshold, binary_metrics


def test_holdout_rows_rebuild_the_training_split(tiny_result, ecommerce_frame) -> None:
    rebuilt = holdout_rows(tiny_result.bundle, ecommerce_frame)
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(rebuilt[name], tiny_result.split[name])


def test_holdout_evaluation_matches_the_metrics_of_fit(tiny_result, ecommerce_frame) -> None:
    bundle = tiny_result.bundle
    evaluation = evaluate_holdout(bundle, ecommerce_frame, tiny_result.split)
    saved = bundle.metrics["test"]
    assert evaluation.where == f"the {saved['n']:,} test rows held out during training"
    assert evaluation.metrics["roc_auc"] == pytest.approx(saved["roc_auc"], abs=1e-6)
    assert evaluation.metrics["log_loss"] == pytest.approx(saved["log_loss"], abs=1e-6)
    # The cut-off is the best-F1 one on the validation rows, not on the test rows.
    val_rows = ecommerce_frame.iloc[tiny_result.split["validation"]]
    y_val = (val_rows["purchased"] == 1).astype(int).to_numpy()
    expected, _ = best_threshold(y_val, predict(bundle, val_rows), "f1")
    assert evaluation.threshold == pytest.approx(expected)
    test_rows = ecommerce_frame.iloc[tiny_result.split["test"]]
    np.testing.assert_allclose(evaluation.pred, predict(bundle, test_rows))
    expected_f1 = binary_metrics(evaluation.y, evaluation.pred, threshold=expected)["f1"]
    assert evaluation.metrics["f1"] == pytest.approx(expected_f1)


def test_evaluation_on_other_data_scores_every_labelled_row(tiny_bundle, ecommerce_frame) -> None:
    other = ecommerce_frame.tail(500).copy()
    other.loc[other.index[:10], "purchased"] = np.nan
    evaluation = evaluate_holdout(tiny_bundle, other, None)
    assert len(evaluation.y) == 490
    assert evaluation.where.startswith("the 490 rows of the current data set")
    assert evaluation.threshold == 0.5


def test_evaluation_needs_the_target_and_the_columns(tiny_bundle, ecommerce_frame) -> None:
    with pytest.raises(DataError, match="'purchased'"):
        evaluate_rows(tiny_bundle, ecommerce_frame.drop(columns="purchased"), None, where="x")
    with pytest.raises(ModelError, match="'channel'"):
        evaluate_rows(tiny_bundle, ecommerce_frame.drop(columns="channel"), None, where="x")


def test_baseline_is_no_model(tiny_result, ecommerce_frame) -> None:
    evaluation = evaluate_holdout(tiny_result.bundle, ecommerce_frame, tiny_result.split)
    base = baseline_metrics(evaluation)
    rate = evaluation.y.mean()
    assert base["roc_auc"] == pytest.approx(0.5)
    assert base["pr_auc"] == pytest.approx(rate)
    assert base["accuracy"] == pytest.approx(max(rate, 1 - rate))


def test_decile_table_ranks_by_prediction() -> None:
    y = np.arange(20, dtype=float)
    table = decile_table(y, -y)  # predictions rank the rows in reverse
    assert table["n"].tolist() == [2] * 10
    assert table["actual"].iloc[0] == pytest.approx(0.5)  # highest predictions: y = 0, 1
    assert table["predicted"].iloc[-1] == pytest.approx(-18.5)


def test_schema_differences_name_columns_and_roles(tiny_bundle, ecommerce_frame) -> None:
    model = tiny_bundle.schema
    same = schema_differences(model, model, list(ecommerce_frame.columns))
    assert same == []
    frame = ecommerce_frame.drop(columns=["channel", "device"])
    data = infer_schema(frame, target="purchased").with_role("pages_viewed", "categorical", frame)
    notes = schema_differences(model, data, list(frame.columns))
    assert notes[0] == "Missing column(s) the model needs: 'channel', 'device'."
    assert "'pages_viewed' is categorical here but numeric in the model" in notes[1]
    retarget = infer_schema(ecommerce_frame, target="returning_visitor")
    notes = schema_differences(model, retarget, list(ecommerce_frame.columns))
    assert "The model predicts 'purchased', but the data set's outcome is 'returning_visitor'." in (
        notes
    )
    assert any("does not use: 'purchased'" in n for n in notes)
