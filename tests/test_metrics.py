"""Metrics against scikit-learn on random data, plus known answers and edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from neuromkt.model import metrics as M

SEEDS = [0, 1, 2, 3]


def _binary_data(seed: int, n: int = 300, *, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    if ties:
        p = np.round(p, 1)  # many tied scores
    return y, p


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_match_sklearn(seed, ties):
    y, p = _binary_data(seed, ties=ties)
    got = M.binary_metrics(y, p, threshold=0.5)
    pred = (p >= 0.5).astype(int)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-9)
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert got["positive_rate"] == pytest.approx(y.mean())
    assert got["n"] == 300


@pytest.mark.parametrize("seed", SEEDS)
def test_curves_match_sklearn(seed):
    y, p = _binary_data(seed, ties=True)
    roc = M.roc_curve(y, p)
    fpr, tpr, thr = skm.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)
    np.testing.assert_allclose(roc["threshold"].to_numpy()[1:], thr[1:])
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(skm.roc_auc_score(y, p))

    pr = M.pr_curve(y, p)
    prec, rec, pthr = skm.precision_recall_curve(y, p)
    np.testing.assert_allclose(pr["precision"], prec[::-1])
    np.testing.assert_allclose(pr["recall"], rec[::-1])
    np.testing.assert_allclose(pr["threshold"].to_numpy()[1:], pthr[::-1])


def test_auc_known_answers_with_ties():
    # Pairs (pos, neg): (0.5 vs 0.5) tie counts one half.
    assert M.binary_metrics([0, 1], [0.5, 0.5])["roc_auc"] == 0.5
    # positives 0.8, 0.4; negatives 0.4, 0.1: pairs 1 + 1 + 0.5 + 1 = 3.5 of 4.
    assert M.binary_metrics([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1])["roc_auc"] == 0.875
    assert M.binary_metrics([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2])["roc_auc"] == 1.0
    assert M.binary_metrics([0, 1, 0, 1], [0.9, 0.1, 0.8, 0.2])["roc_auc"] == 0.0


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_gives_nan_auc_without_crashing(label):
    y = np.full(20, label)
    p = np.linspace(0.05, 0.95, 20)
    got = M.binary_metrics(y, p)
    assert math.isnan(got["roc_auc"])
    # No negatives: every precision is 1 (scikit-learn sums the steps, so 1 up to rounding).
    assert math.isnan(got["pr_auc"]) if label == 0 else got["pr_auc"] == pytest.approx(1.0)
    assert math.isfinite(got["log_loss"])
    assert M.roc_curve(y, p).shape[0] == 21
    json.dumps(got)  # still serialisable


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_curves_and_thresholds_are_quiet(label, recwarn):
    y = np.full(6, label)
    p = [0.1, 0.2, 0.2, 0.5, 0.7, 0.9]
    roc, pr = M.roc_curve(y, p), M.pr_curve(y, p)
    missing = "tpr" if label == 0 else "fpr"
    assert roc[missing].isna().all() and roc.shape[0] == 6  # five distinct scores + (0, 0)
    assert pr["recall"].iloc[0] == 0.0 and pr["precision"].iloc[0] == 1.0
    assert pr["recall"].iloc[1:].isna().all() if label == 0 else pr["recall"].iloc[-1] == 1.0
    threshold, accuracy = M.best_threshold(y, p, metric="accuracy")
    assert accuracy == 1.0 and (threshold > 0.9 if label == 0 else threshold == 0.1)
    assert M.best_threshold(y, p, metric="f1")[1] == (0.0 if label == 0 else 1.0)
    assert not recwarn.list, [str(w.message) for w in recwarn]


def test_returned_values_are_python_scalars():
    y, p = _binary_data(0)
    for d in (
        M.binary_metrics(y, p),
        M.regression_metrics(p, p * 0.9),
        M.multiclass_metrics(y, np.c_[1 - p, p], ["a", "b"]),
    ):
        assert all(type(v) in (float, int) for v in d.values()), d
        json.loads(json.dumps(d))


def test_log_loss_is_clipped():
    got = M.binary_metrics([1, 1], [0.0, 0.0])
    assert got["log_loss"] == pytest.approx(-math.log(1e-15), rel=1e-9)
    assert math.isfinite(M.binary_metrics([1, 0], [0.0, 1.0])["log_loss"])


def test_threshold_is_inclusive_and_empty_denominators_give_zero():
    got = M.binary_metrics([1, 0, 1], [0.5, 0.2, 0.1], threshold=0.5)
    assert got["precision"] == 1.0 and got["recall"] == 0.5
    none = M.binary_metrics([1, 0], [0.2, 0.1], threshold=0.9)
    assert none["precision"] == 0.0 and none["f1"] == 0.0


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("seed", SEEDS)
def test_calibration_matches_sklearn(seed, strategy):
    y, p = _binary_data(seed)
    table = M.calibration_table(y, p, n_bins=8, strategy=strategy)
    frac, mean = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(table["frac_pos"], frac)
    np.testing.assert_allclose(table["mean_pred"], mean)
    assert table["count"].sum() == len(y)
    assert list(table.columns) == [
        "bin",
        "bin_lower",
        "bin_upper",
        "mean_pred",
        "frac_pos",
        "count",
    ]


def test_calibration_known_answer_and_empty_bins_dropped():
    table = M.calibration_table([0, 1, 1, 1], [0.1, 0.15, 0.9, 0.95], n_bins=2)
    assert table["bin"].tolist() == [0, 1]
    assert table["frac_pos"].tolist() == [0.5, 1.0]
    assert table["count"].tolist() == [2, 2]
    sparse = M.calibration_table([0, 1], [0.05, 0.95], n_bins=10)
    assert sparse["bin"].tolist() == [0, 9]


def test_lift_table_known_answer():
    # 10 rows, scores 10..1; positives at the top three scores and one at the bottom.
    score = np.arange(10, 0, -1, dtype=float)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    t = M.lift_table(y, score, n_bins=5)
    assert t["decile"].tolist() == [1, 2, 3, 4, 5]
    assert t["n"].tolist() == [2, 2, 2, 2, 2]
    assert t["positives"].tolist() == [2, 1, 0, 0, 1]
    np.testing.assert_allclose(t["rate"], [1.0, 0.5, 0, 0, 0.5])
    np.testing.assert_allclose(t["lift"], [2.5, 1.25, 0, 0, 1.25])
    np.testing.assert_allclose(t["cum_gain"], [0.5, 0.75, 0.75, 0.75, 1.0])
    np.testing.assert_allclose(t["cum_population"], [0.2, 0.4, 0.6, 0.8, 1.0])
    assert t["max_score"].tolist() == [10, 8, 6, 4, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_lift_table_invariants(seed):
    y, p = _binary_data(seed, n=1000)
    t = M.lift_table(y, p)
    assert len(t) == 10 and t["n"].sum() == 1000
    assert t["cum_gain"].iloc[-1] == pytest.approx(1.0)
    assert (np.diff(t["min_score"]) <= 0).all()  # top decile has the top scores
    # Weighted average lift is 1 by construction.
    assert np.average(t["lift"], weights=t["n"]) == pytest.approx(1.0)
    assert t["lift"].iloc[0] > 1.0  # informative scores put positives on top


def test_lift_table_never_splits_ties():
    y = np.array([1, 0, 1, 0, 1, 0])
    t = M.lift_table(y, np.full(6, 0.3), n_bins=3)
    assert len(t) == 1 and t["n"].iloc[0] == 6 and t["lift"].iloc[0] == 1.0
    t0 = M.lift_table(np.zeros(4, int), [0.1, 0.2, 0.3, 0.4], n_bins=2)
    assert t0["lift"].isna().all()


@pytest.mark.parametrize("metric", ["f1", "accuracy", "youden", "balanced_accuracy"])
@pytest.mark.parametrize("seed", SEEDS)
def test_best_threshold_is_best_by_brute_force(seed, metric):
    y, p = _binary_data(seed, n=120, ties=True)
    thr, value = M.best_threshold(y, p, metric=metric)

    def score(t):
        pred = (p >= t).astype(int)
        if metric == "f1":
            return skm.f1_score(y, pred, zero_division=0)
        if metric == "accuracy":
            return skm.accuracy_score(y, pred)
        bal = skm.balanced_accuracy_score(y, pred)
        return bal if metric == "balanced_accuracy" else 2 * bal - 1

    assert value == pytest.approx(score(thr))
    assert value >= max(score(t) for t in np.unique(p)) - 1e-12


def test_best_threshold_can_predict_all_negative():
    thr, acc = M.best_threshold([0, 0, 0, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.1], metric="accuracy")
    assert thr > 0.9 and acc == 0.8


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, 200)
    yhat = y + rng.normal(0, 1, 200)
    got = M.regression_metrics(y, yhat)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, yhat))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat))
    assert got["r2"] == pytest.approx(skm.r2_score(y, yhat))
    assert got["n"] == 200


def test_regression_known_answers_and_constant_target():
    got = M.regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert got["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert got["mae"] == pytest.approx(2 / 3)
    assert got["r2"] == pytest.approx(1 - 4 / 2)
    assert math.isnan(M.regression_metrics([2.0, 2.0], [1.0, 3.0])["r2"])
    assert math.isnan(M.regression_metrics([0.1, 0.1, 0.1], [0.1, 0.2, 0.3])["r2"])
    frame = M.residuals_frame([1.0, 2.0], [1.5, 1.0])
    assert frame["residual"].tolist() == [-0.5, 1.0]
    assert frame["abs_residual"].tolist() == [0.5, 1.0]


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, c = 400, 4
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = M.multiclass_metrics(y, proba, ["a", "b", "c", "d"])
    pred = proba.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-9)
    assert got["macro_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert got["n"] == n and got["n_classes"] == c


def test_multiclass_missing_class_does_not_crash():
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    got = M.multiclass_metrics([0, 1, 0], proba, ["x", "y", "z"])
    assert got["accuracy"] == 1.0 and got["macro_f1"] == 1.0
    assert got["macro_auc"] == 1.0  # class "z" has no positives and is skipped


def test_confusion_matrix():
    cm = M.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], ["no", "maybe", 3])
    assert list(cm.index) == ["no", "maybe", "3"] and cm.index.name == "actual"
    assert cm.columns.name == "predicted"
    expected = skm.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], labels=[0, 1, 2])
    np.testing.assert_array_equal(cm.to_numpy(), expected)
    assert isinstance(cm, pd.DataFrame)


def test_task_dispatch_and_primary_metric():
    y, p = _binary_data(1)
    assert M.task_metrics("binary", y, p) == M.binary_metrics(y, p)
    assert M.task_metrics("regression", p, p)["rmse"] == 0.0
    mc = M.task_metrics("multiclass", y, np.c_[1 - p, p], ["n", "y"])
    assert mc["accuracy"] == M.binary_metrics(y, p)["accuracy"]
    assert M.primary_metric("binary") == ("roc_auc", True)
    assert M.primary_metric("multiclass") == ("log_loss", False)
    assert M.primary_metric("regression") == ("rmse", False)
    for task in ("binary", "multiclass", "regression"):
        name, _ = M.primary_metric(task)
        assert name in M.task_metrics(
            task, y, np.c_[1 - p, p] if task == "multiclass" else p, ["n", "y"]
        )
    with pytest.raises(ValueError, match="Unknown task"):
        M.primary_metric("ranking")
    with pytest.raises(ValueError, match="classes"):
        M.task_metrics("multiclass", y, np.c_[1 - p, p])


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 2], [0.1, 0.2], "0 or 1"),
        (["a", "b"], [0.1, 0.2], "0/1"),
        ([0, 1], [0.1], "shape"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([0, 1], [0.1, 1.5], "between 0 and 1"),
        ([], [], "non-empty"),
    ],
)
def test_bad_binary_inputs_raise(y, p, match):
    with pytest.raises(ValueError, match=match):
        M.binary_metrics(y, p)
