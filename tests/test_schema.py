"""Role inference, task detection, Schema editing and serialisation, training checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.data.labels import infer_task, target_labels
from neuromkt.data.load import load_table
from neuromkt.data.schema import (
    ROLES,
    ColumnSpec,
    Schema,
    infer_schema,
    validate_for_training,
)
from neuromkt.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
N = 200


def _tricky_frame(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    events = np.array(["home", "search", "product", "cart", "checkout", "faq"])
    nouns = np.array(["shoes", "dress", "price", "delivery", "colour", "size", "fabric"])
    adjectives = np.array(["great", "slow", "lovely", "cheap", "soft", "late", "perfect"])
    han = list("男士休闲裤女装连衣裙运动鞋手机壳耳机充电器")
    reviews = [
        f"The {rng.choice(nouns)} was {rng.choice(adjectives)} and the "
        f"{rng.choice(nouns)} felt {rng.choice(adjectives)} {i}"
        for i in range(n)
    ]
    return pd.DataFrame(
        {
            "user_id": [f"u{i:05d}" for i in range(n)],
            "row": np.arange(n) + 1000,
            "token": [f"{x:012x}" for x in rng.integers(0, 2**47, n)],
            "zip": rng.choice(["02134", "00501", "10001", "07030"], n),
            "events": [" ".join(rng.choice(events, rng.integers(2, 8))) for _ in range(n)],
            "path": [">".join(rng.choice(events, rng.integers(2, 6))) for _ in range(n)],
            "review": reviews,
            "keyword": ["".join(rng.choice(han, rng.integers(4, 8))) for _ in range(n)],
            "channel": rng.choice(["email", "search", "social", "display"], n),
            "constant": ["x"] * n,
            "empty": [np.nan] * n,
            "amount": rng.normal(50, 10, n),
            "rating": rng.integers(1, 6, n),
            "flag": rng.random(n) < 0.5,
            "signup": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "campaign_id": rng.choice([11, 12, 13, 14, 15], n),
            "converted": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
        }
    )


EXPECTED_ROLES = {
    "user_id": ("id", "identifier"),
    "row": ("id", "running number"),
    "token": ("id", "unique for every row"),
    "zip": ("categorical", "leading zeros"),
    "events": ("text", "sequence of events"),
    "path": ("text", "sequence of events"),
    "review": ("text", "free text"),
    "keyword": ("text", "Chinese"),
    "channel": ("categorical", "4 different values"),
    "constant": ("ignore", "constant"),
    "empty": ("ignore", "entirely empty"),
    "amount": ("numeric", "numbers"),
    "rating": ("numeric", "5 different values"),
    "flag": ("categorical", "yes/no"),
    "signup": ("datetime", "dates"),
    "campaign_id": ("categorical", "named like an identifier"),
    "converted": ("target", "outcome"),
}


@pytest.fixture(scope="module")
def tricky() -> pd.DataFrame:
    return _tricky_frame()


@pytest.fixture(scope="module")
def tricky_schema(tricky: pd.DataFrame) -> Schema:
    return infer_schema(tricky, target="converted")


@pytest.mark.parametrize("column", list(EXPECTED_ROLES))
def test_roles_on_tricky_columns(tricky_schema: Schema, column: str) -> None:
    role, words = EXPECTED_ROLES[column]
    spec = next(c for c in tricky_schema.columns if c.name == column)
    assert spec.role == role
    assert words in spec.reason


def test_schema_properties_follow_column_order(tricky_schema: Schema, tricky) -> None:
    assert tricky_schema.target == "converted"
    assert tricky_schema.task == "binary"
    assert tricky_schema.classes == ("no", "yes")
    assert tricky_schema.numeric == ["amount", "rating"]
    assert tricky_schema.categorical == ["zip", "channel", "flag", "campaign_id"]
    assert tricky_schema.text == ["events", "path", "review", "keyword"]
    order = list(tricky.columns)
    assert tricky_schema.features == sorted(tricky_schema.features, key=order.index)
    assert set(tricky_schema.features) == {"amount", "rating", "zip", "channel", "flag"} | {
        "campaign_id",
        "events",
        "path",
        "review",
        "keyword",
    }
    spec = tricky_schema.columns[list(tricky.columns).index("empty")]
    assert (spec.n_missing, spec.n_unique) == (N, 0)


def test_small_frames_do_not_call_categories_ids() -> None:
    frame = pd.DataFrame({"city": ["Paris", "Rome", "Oslo"], "n": [1, 2, 3]})
    assert infer_schema(frame).role_of("city") == "categorical"


def test_mostly_unique_words_become_id() -> None:
    values = [f"ref{i}" for i in range(150)] + ["ref1"] * 50
    spec = infer_schema(pd.DataFrame({"ref": values})).columns[0]
    assert spec.role == "id"
    assert "too many" in spec.reason


def test_infer_schema_errors() -> None:
    with pytest.raises(DataError, match="no column 'nope' to predict"):
        infer_schema(pd.DataFrame({"a": [1, 2]}), target="nope")
    with pytest.raises(DataError, match="no columns"):
        infer_schema(pd.DataFrame())
    with pytest.raises(DataError, match="not text"):
        infer_schema(pd.DataFrame(np.zeros((3, 2))))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([True, False, None], ["true", "false", None]),
        ([1.0, 0.0, np.nan], ["1", "0", None]),
        ([1.5, 2.0, np.nan], ["1.5", "2", None]),
        ([" Yes ", "NO", "y", ""], ["yes", "no", "y", None]),
        (["Churned", " Stayed", None], ["Churned", "Stayed", None]),
        ([3, 1, 2], ["3", "1", "2"]),
    ],
)
def test_target_labels(values: list, expected: list) -> None:
    labels = target_labels(pd.Series(values))
    assert [None if pd.isna(v) else v for v in labels] == expected


@pytest.mark.parametrize(
    ("values", "task", "classes"),
    [
        (["yes", "no", "no", "no"], "binary", ("no", "yes")),
        (["No", "Yes", "Yes", "Yes"], "binary", ("no", "yes")),
        ([True, False, False], "binary", ("false", "true")),
        ([1, 0, 0, 1], "binary", ("0", "1")),
        ([1.0, 0.0, 0.0], "binary", ("0", "1")),
        ([-1, 1, 1], "binary", ("-1", "1")),
        (["clicked", "not clicked", "not clicked"], "binary", ("not clicked", "clicked")),
        (["negative", "positive", "negative"], "binary", ("negative", "positive")),
        (["churn", "stay", "stay", "stay"], "binary", ("stay", "churn")),
        (["stay", "churn", "churn", "churn"], "binary", ("churn", "stay")),
        (["b", "a", "c", "a"], "multiclass", ("a", "b", "c")),
        ([5, 1, 2, 3, 4, 10], "multiclass", ("1", "2", "3", "4", "5", "10")),
        (list(range(40)), "regression", ()),
        ([0.5, 1.25, 3.0, 7.5], "regression", ()),
    ],
)
def test_infer_task(values: list, task: str, classes: tuple) -> None:
    assert infer_task(pd.Series(values)) == (task, classes)


def test_with_role_target_swap_demotes_and_reinfers(tricky_schema: Schema, tricky) -> None:
    swapped = tricky_schema.with_role("rating", "target", tricky)
    assert swapped.target == "rating"
    assert swapped.task == "multiclass"
    assert swapped.classes == ("1", "2", "3", "4", "5")
    assert swapped.role_of("converted") == "categorical"
    assert swapped.role_of("rating") == "target"
    assert tricky_schema.target == "converted"  # the original is unchanged


def test_with_role_moving_target_away_clears_task(tricky_schema: Schema, tricky) -> None:
    edited = tricky_schema.with_role("converted", "categorical", tricky)
    assert edited.target is None
    assert edited.task is None
    assert edited.classes == ()
    kept = tricky_schema.with_role("review", "ignore", tricky)
    assert (kept.task, kept.classes) == ("binary", ("no", "yes"))
    assert "review" not in kept.features
    assert next(c for c in kept.columns if c.name == "review").reason == "set by you"


def test_with_role_refusals(tricky_schema: Schema, tricky) -> None:
    with pytest.raises(DataError, match="no column 'nope'"):
        tricky_schema.with_role("nope", "numeric", tricky)
    with pytest.raises(DataError, match="'feature' is not a column role"):
        tricky_schema.with_role("amount", "feature", tricky)
    with pytest.raises(DataError, match="Column 'channel' holds text"):
        tricky_schema.with_role("channel", "numeric", tricky)
    assert tricky_schema.with_role("rating", "categorical", tricky).role_of("rating") == (
        "categorical"
    )


def test_dict_and_json_round_trip(tricky_schema: Schema) -> None:
    assert Schema.from_dict(tricky_schema.to_dict()) == tricky_schema
    assert Schema.from_json(tricky_schema.to_json()) == tricky_schema
    no_target = Schema((ColumnSpec("a", "numeric", "numbers", "int64", 0, 3),))
    assert Schema.from_json(no_target.to_json()) == no_target


def _spec_dict(name: str = "a", role: str = "numeric") -> dict:
    return {"name": name, "role": role, "reason": "", "dtype": "int64", "n_missing": 0,
            "n_unique": 2}  # fmt: skip


@pytest.mark.parametrize(
    ("junk", "words"),
    [
        ([], "damaged"),
        ({"columns": "a"}, "damaged"),
        ({"columns": [1]}, "damaged"),
        ({"columns": [{"role": "numeric"}]}, "damaged"),
        ({"columns": [{**_spec_dict(), "n_missing": "0"}]}, "damaged"),
        ({"columns": [_spec_dict(role="magic")]}, "'magic' is not a column role"),
        ({"columns": [_spec_dict("a", "target"), _spec_dict("b", "target")]}, "one target"),
        ({"columns": [_spec_dict(), _spec_dict()]}, "appears twice"),
        ({"columns": [_spec_dict()], "task": "binary"}, "no target"),
        ({"columns": [_spec_dict("a", "target")], "task": "ranking"}, "not a task"),
        ({"columns": [_spec_dict()], "classes": [1, 2]}, "damaged"),
    ],
)
def test_from_dict_refuses_junk(junk: object, words: str) -> None:
    with pytest.raises(DataError, match=words):
        Schema.from_dict(junk)


def test_from_json_refuses_bad_json() -> None:
    with pytest.raises(DataError, match="not valid JSON"):
        Schema.from_json("{columns:")


def _training_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "spend": rng.normal(size=n),
            "channel": rng.choice(["a", "b"], n),
            "converted": rng.choice([0, 1], n),
        }
    )


def test_validate_accepts_good_data() -> None:
    frame = _training_frame()
    assert validate_for_training(frame, infer_schema(frame, target="converted")) == []


def test_validate_warns_on_missing_targets_and_small_classes() -> None:
    frame = _training_frame()
    frame["converted"] = frame["converted"].astype("float64")
    frame.loc[:4, "converted"] = np.nan
    frame.loc[5:7, "converted"] = 2
    warnings = validate_for_training(frame, infer_schema(frame, target="converted"))
    assert "5 rows have no value in 'converted' and will be left out." in warnings
    assert any("Class '2'" in w and "only 3 rows" in w for w in warnings)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.assign(converted=0), "Column 'converted' has only one value (0); "
         "the target needs at least two classes."),
        (lambda f: f.assign(converted=np.nan), "Column 'converted' is empty"),
        (lambda f: f.head(15), "Only 15 rows have a value in 'converted'; at least 20"),
        (lambda f: f.assign(converted=[f"c{i}" for i in range(len(f))]), "60 different values"),
    ],
)  # fmt: skip
def test_validate_refusals(edit, message: str) -> None:
    frame = edit(_training_frame())
    schema = infer_schema(frame, target="converted")
    with pytest.raises(DataError) as caught:
        validate_for_training(frame, schema)
    assert message in str(caught.value)


def test_validate_needs_target_and_features() -> None:
    frame = _training_frame()
    with pytest.raises(DataError, match="No target is chosen"):
        validate_for_training(frame, infer_schema(frame))
    schema = infer_schema(frame, target="converted")
    schema = schema.with_role("spend", "ignore", frame).with_role("channel", "id", frame)
    with pytest.raises(DataError, match="no feature columns"):
        validate_for_training(frame, schema)
    with pytest.raises(DataError, match="Column 'spend' from the schema is not in the data"):
        validate_for_training(frame.drop(columns="spend"), infer_schema(frame, target="converted"))


def test_validate_refuses_labels_outside_the_classes() -> None:
    frame = _training_frame()
    schema = infer_schema(frame, target="converted")
    frame.loc[0, "converted"] = 7
    with pytest.raises(DataError, match="value '7', which is not one of the schema's classes"):
        validate_for_training(frame, schema)


def test_every_role_is_settable(tricky: pd.DataFrame, tricky_schema: Schema) -> None:
    for role in ROLES:
        assert tricky_schema.with_role("rating", role, tricky).role_of("rating") == role


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data set {relative} is not present")
    return path


def test_online_shoppers_real_data() -> None:
    frame = load_table(_shared("online_shoppers_intention/online_shoppers_intention.csv"))
    schema = infer_schema(frame, target="Revenue")
    assert schema.task == "binary"
    assert schema.classes == ("false", "true")
    assert schema.role_of("Month") == "categorical"
    assert schema.role_of("Weekend") == "categorical"
    assert schema.role_of("PageValues") == "numeric"
    assert len(schema.features) == 17
    assert validate_for_training(frame, schema) == []


def test_marketing_campaign_real_data() -> None:
    frame = load_table(_shared("marketing_campaign_ifood/marketing_campaign.csv"))
    schema = infer_schema(frame, target="Response")
    assert frame.shape == (2240, 29)
    assert (schema.task, schema.classes) == ("binary", ("0", "1"))
    assert schema.role_of("ID") == "id"
    assert schema.role_of("Dt_Customer") == "datetime"
    assert schema.role_of("Z_CostContact") == "ignore"
    assert schema.role_of("Education") == "categorical"


def test_clothing_reviews_real_data() -> None:
    frame = load_table(_shared("womens_clothing_reviews/Womens Clothing E-Commerce Reviews.csv"))
    schema = infer_schema(frame, target="Recommended IND")
    assert schema.role_of("Review Text") == "text"
    assert schema.role_of("Title") == "text"
    assert schema.role_of("Unnamed: 0") == "id"
    assert schema.role_of("Department Name") == "categorical"
    assert schema.classes == ("0", "1")


@pytest.mark.parametrize(
    ("name", "role"),
    [("paid", "numeric"), ("valid", "numeric"), ("userId", "id"), ("Customer ID", "id")],
)
def test_identifier_names_need_a_real_id_suffix(name: str, role: str) -> None:
    rng = np.random.default_rng(2)
    values = rng.permutation(np.arange(100) * 7) if role == "id" else rng.integers(0, 2, 100)
    assert infer_schema(pd.DataFrame({name: values})).role_of(name) == role
