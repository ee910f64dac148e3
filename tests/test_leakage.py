"""The leakage check: planted leaks are flagged, honest columns and ids are not."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.leakage import LeakThresholds, column_strength, find_leaks
from neuromkt.data.load import load_table
from neuromkt.data.samples import SAMPLES
from neuromkt.data.schema import infer_schema
from neuromkt.model.sample_models import sample_frame_and_schema

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHOPPERS = SHARED_DATA / "online_shoppers_intention" / "online_shoppers_intention.csv"
REVIEWS = SHARED_DATA / "womens_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv"


def _binary_frame(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Honest features, an id, a free text and a target with a 20% positive rate."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    return pd.DataFrame(
        {
            "spend": rng.gamma(2.0, 30.0, n) + 8 * y,  # a real, modest driver
            "channel": rng.choice(["web", "app", "email", "store"], n),
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "note": [f"w{i % 613} w{i % 17} w{i % 5}" for i in range(n)],
            "bought": y,
        }
    )


def _schema(frame: pd.DataFrame, target: str, **roles: str):
    schema = infer_schema(frame, target=target)
    for column, role in roles.items():
        schema = schema.with_role(column, role, frame)
    return schema


def _strength(frame: pd.DataFrame, schema) -> dict[str, float]:
    table = column_strength(frame, schema)
    return dict(zip(table["column"], table["score"], strict=True))


def test_honest_columns_are_not_flagged() -> None:
    frame = _binary_frame()
    schema = _schema(frame, "bought", customer_id="categorical", note="text")
    scores = _strength(frame, schema)
    assert find_leaks(frame, schema) == []
    assert 0.55 < scores["spend"] < 0.8  # the real driver is visible but not suspicious
    # Out-of-fold rates: a unique id and a near-unique text score like a coin toss.
    assert abs(scores["customer_id"] - 0.5) < 0.03
    assert abs(scores["note"] - 0.5) < 0.05


def test_a_noisy_copy_of_the_target_is_flagged_and_named() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(1)
    frame["refund_amount"] = frame["bought"] * 40 + rng.normal(0, 5, len(frame))
    schema = _schema(frame, "bought")
    findings = find_leaks(frame, schema)
    assert [f.column for f in findings] == ["refund_amount"]
    leak = findings[0]
    assert leak.level == "likely" and leak.measure == "AUC" and leak.score > 0.99
    assert "'refund_amount' alone predicts 'bought'" in leak.message
    assert "duration" in leak.message and "PageValues" in leak.message


def test_a_reversed_numeric_leak_is_flagged() -> None:
    frame = _binary_frame()
    frame["days_to_churn"] = np.where(frame["bought"] == 1, 1.0, 30.0) + np.arange(len(frame)) % 3
    findings = find_leaks(frame, _schema(frame, "bought"))
    assert findings[0].column == "days_to_churn" and findings[0].score > 0.99


def test_missing_values_that_mark_the_outcome_are_flagged() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(2)
    frame["order_value"] = np.where(frame["bought"] == 1, rng.gamma(2, 50, len(frame)), np.nan)
    findings = find_leaks(frame, _schema(frame, "bought"))
    assert [f.column for f in findings] == ["order_value"]


def test_a_categorical_leak_is_flagged_with_out_of_fold_rates() -> None:
    frame = _binary_frame()
    rng = np.random.default_rng(3)
    flipped = rng.random(len(frame)) < 0.03
    frame["status"] = np.where((frame["bought"] == 1) ^ flipped, "shipped", "open")
    findings = find_leaks(frame, _schema(frame, "bought", customer_id="categorical"))
    assert [f.column for f in findings] == ["status"]
    assert findings[0].score > 0.95


def test_regression_leaks_numeric_and_categorical() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    revenue = rng.gamma(2.0, 50.0, n)
    frame = pd.DataFrame(
        {
            "visits": rng.poisson(3, n),
            "revenue_with_tax": revenue * 1.2 + rng.normal(0, 1, n),
            "tier": np.where(revenue > 150, "gold", np.where(revenue > 60, "silver", "bronze")),
            "region": rng.choice(list("NESW"), n),
            "revenue": revenue,
        }
    )
    schema = _schema(frame, "revenue")
    assert schema.task == "regression"
    table = column_strength(frame, schema).set_index("column")
    assert table.loc["revenue_with_tax", "measure"] == "|Spearman|"
    assert table.loc["revenue_with_tax", "score"] > 0.99
    assert table.loc["tier", "measure"] == "R²"
    assert table.loc["visits", "score"] < 0.1 and table.loc["region", "score"] < 0.05
    flagged = {f.column: f.level for f in find_leaks(frame, schema)}
    assert flagged["revenue_with_tax"] == "likely"
    assert "visits" not in flagged and "region" not in flagged


def test_multiclass_leak_is_flagged() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    segment = rng.choice(["a", "b", "c"], n)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "segment_code": np.char.add("seg-", segment),
            "segment": segment,
        }
    )
    schema = _schema(frame, "segment")
    assert schema.task == "multiclass"
    findings = find_leaks(frame, schema)
    assert [f.column for f in findings] == ["segment_code"]
    assert findings[0].measure == "macro AUC" and findings[0].score > 0.99


def test_no_target_means_nothing_to_check() -> None:
    frame = _binary_frame()
    schema = infer_schema(frame)
    assert column_strength(frame, schema).empty
    assert find_leaks(frame, schema) == []


def test_thresholds_give_two_levels() -> None:
    thresholds = LeakThresholds()
    assert thresholds.level("AUC", 0.95) == "likely"
    assert thresholds.level("AUC", 0.87) == "possible"
    assert thresholds.level("AUC", 0.80) is None
    assert thresholds.level("R²", float("nan")) is None
    assert thresholds.level("|Spearman|", 0.97) == "likely"


@pytest.mark.parametrize("key", list(SAMPLES))
def test_samples_have_no_leak(key: str) -> None:
    frame, schema = sample_frame_and_schema(key)
    assert find_leaks(frame, schema) == []


def test_fast_on_100k_rows() -> None:
    rng = np.random.default_rng(6)
    n = 100_000
    y = (rng.random(n) < 0.1).astype(int)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "leak": y + rng.normal(0, 0.3, n),
            "city": rng.choice([f"city{i}" for i in range(300)], n),
            "visitor": [f"v{i}" for i in range(n)],
            "pages": [f"home p{i % 97} p{i % 13} cart" for i in range(n)],
            "y": y,
        }
    )
    schema = _schema(frame, "y", visitor="categorical", pages="text")
    started = time.perf_counter()
    findings = find_leaks(frame, schema)
    assert time.perf_counter() - started < 10.0  # about 0.3 s on a quiet laptop core
    assert [f.column for f in findings] == ["leak"]


@pytest.mark.skipif(not SHOPPERS.exists(), reason="shared data set not available")
def test_online_shoppers_page_values() -> None:
    """Real data: PageValues (partly derived from the purchase) scores AUC 0.863."""
    frame = load_table(SHOPPERS)
    schema = infer_schema(frame, target="Revenue")
    scores = _strength(frame, schema)
    assert scores["PageValues"] == pytest.approx(0.863, abs=0.005)
    assert max(v for k, v in scores.items() if k != "PageValues") < 0.75  # ExitRates 0.70
    findings = find_leaks(frame, schema)
    assert [(f.column, f.level) for f in findings] == [("PageValues", "possible")]


@pytest.mark.skipif(not REVIEWS.exists(), reason="shared data set not available")
def test_clothing_reviews_rating_gives_away_the_recommendation() -> None:
    """Real data: the star rating, written with the review, predicts 'recommended'."""
    frame = load_table(REVIEWS)
    schema = infer_schema(frame, target="Recommended IND")
    findings = find_leaks(frame, schema)
    assert findings[0].column == "Rating" and findings[0].level == "likely"
    assert findings[0].score == pytest.approx(0.972, abs=0.01)
    assert len(findings) == 1
