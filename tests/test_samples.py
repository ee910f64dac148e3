"""Sample data sets: determinism, checked-in files, and the planted truth they document."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

from neuromkt.data import samples
from neuromkt.data.samples import SAMPLES, load_sample, sample_path, write_samples

ROOT = Path(__file__).resolve().parent.parent
KEYS = list(SAMPLES)
RATE_RANGES = {"ecommerce": (0.08, 0.15), "ads": (0.03, 0.08), "search_cn": (0.05, 0.12)}
ID_COLUMNS = {"ecommerce": "session_id", "ads": "impression_id", "search_cn": "query_id"}

# (sample, column, level or None for numeric, expected sign of the effect)
PLANTED = [
    ("ecommerce", "returning_visitor", "yes", +1),
    ("ecommerce", "discount_seen", "yes", +1),
    ("ecommerce", "channel", "email", +1),
    ("ecommerce", "device", "mobile", -1),
    ("ecommerce", "time_on_site_sec", None, +1),
    ("ecommerce", "pages_viewed", None, +1),
    ("ads", "placement", "search", +1),
    ("ads", "placement", "sidebar", -1),
    ("ads", "audience", "retargeting", +1),
    ("ads", "bid_cpm", None, +1),
    ("search_cn", "platform", "app", +1),
    ("search_cn", "position", None, -1),
]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _tokens(text: str) -> list[str]:
    """Reference tokenizer, as documented for the model (see sample_data/README.md)."""
    out: list[str] = []
    for piece in re.split(r"[\s,>|]+", text.lower()):
        if _CJK.search(piece):
            out += re.findall(r"[\u3400-\u9fff\uf900-\ufaff]|[a-z0-9]+", piece)
        elif word := piece.strip(string.punctuation):
            out.append(word)
    return out


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {key: load_sample(key) for key in KEYS}


@pytest.fixture(scope="module")
def token_sets(frames) -> dict[tuple[str, str], pd.Series]:
    """Per (sample, text column): the set of tokens of each row."""
    return {
        (key, column): frames[key][column].map(lambda text: set(_tokens(text)))
        for key in KEYS
        for column in SAMPLES[key].text_columns
    }


# ---------------------------------------------------------------- registry


@pytest.mark.parametrize("key", KEYS)
def test_spec_names_existing_columns_without_overlap(key: str, frames) -> None:
    spec, frame = SAMPLES[key], frames[key]
    assert spec.key == key
    assert spec.target in frame.columns
    features = set(spec.drivers) | set(spec.noise)
    assert not set(spec.drivers) & set(spec.noise)
    assert features <= set(frame.columns)
    assert not features & {spec.target, *spec.text_columns, ID_COLUMNS[key]}
    assert set(spec.text_columns) <= set(frame.columns)
    assert set(spec.driver_tokens) | set(spec.negative_tokens) <= set(spec.text_columns)
    # every column is accounted for: id, target, text, driver or noise
    assert set(frame.columns) == features | {spec.target, *spec.text_columns, ID_COLUMNS[key]}
    assert spec.description.count(". ") == 1 and spec.description.endswith(".")
    assert sample_path(key) == ROOT / "sample_data" / spec.file_name


def test_unknown_sample_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"'retail'.*ecommerce, ads, search_cn"):
        load_sample("retail")


# ---------------------------------------------------------------- generation


@pytest.mark.parametrize("key", KEYS)
def test_generation_is_deterministic_per_seed(key: str) -> None:
    generate = SAMPLES[key].generate
    first, again, other = generate(1_500, 5), generate(1_500, 5), generate(1_500, 6)
    assert_frame_equal(first, again)
    assert len(first) == 1_500
    assert not first.equals(other)
    assert (first[SAMPLES[key].text_columns[0]] != other[SAMPLES[key].text_columns[0]]).mean() > 0.5


@pytest.mark.parametrize("key", KEYS)
def test_checked_in_csv_equals_fresh_generation(key: str, tmp_path: Path) -> None:
    assert sample_path(key).exists(), "run `make samples` to write the sample CSV files"
    (fresh,) = write_samples(tmp_path, [key])
    assert_frame_equal(pd.read_csv(sample_path(key)), pd.read_csv(fresh))


def test_load_sample_regenerates_when_the_file_is_missing(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(samples, "SAMPLE_DIR", tmp_path)
    assert not sample_path("search_cn").exists()
    regenerated = load_sample("search_cn")
    assert_frame_equal(regenerated, pd.read_csv(ROOT / "sample_data" / "search_ads_cn.csv"))


@pytest.mark.slow
def test_entry_point_writes_and_reports(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "neuromkt.data.samples", "--out", str(tmp_path),
         "--only", "search_cn"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert (tmp_path / "search_ads_cn.csv").exists()
    assert "search_ads_cn.csv" in done.stdout and "12,000 rows" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search_ads_cn.csv"]


def test_sample_files_stay_small() -> None:
    total = sum(sample_path(key).stat().st_size for key in KEYS)
    assert total < 6_000_000


# ---------------------------------------------------------------- shapes, rates, missing values


@pytest.mark.parametrize("key", KEYS)
def test_rows_target_rate_and_ids(key: str, frames) -> None:
    spec, frame = SAMPLES[key], frames[key]
    assert len(frame) == spec.n_rows
    assert set(frame[spec.target].unique()) == {0, 1}
    low, high = RATE_RANGES[key]
    assert low <= frame[spec.target].mean() <= high
    assert frame[ID_COLUMNS[key]].is_unique


@pytest.mark.parametrize("key", KEYS)
def test_a_few_values_are_missing_in_features_only(key: str, frames) -> None:
    spec, frame = SAMPLES[key], frames[key]
    missing = frame.isna().mean()
    assert 1 <= (missing > 0).sum() <= 2
    assert missing.max() <= 0.03 and missing[missing > 0].min() >= 0.01
    assert set(missing[missing > 0].index) <= set(spec.drivers) | set(spec.noise)


def test_text_columns_look_like_their_documentation(frames, token_sets) -> None:
    events = frames["ecommerce"]["events"].map(_tokens)
    assert events.map(len).between(2, 25).all()
    vocabulary = "home category search product reviews promo account cart checkout error bounce"
    assert set().union(*token_sets["ecommerce", "events"]) == set(vocabulary.split())
    headlines = frames["ads"]["headline"]
    assert headlines.str.match(r"^[A-Z]").all() and headlines.nunique() > 500
    keywords = frames["search_cn"]["keyword"]
    assert keywords.map(lambda k: bool(_CJK.search(k))).all()
    assert 0.15 < keywords.str.contains(" ").mean() < 0.5  # some spaced, most not
    cn_tokens = set().union(*token_sets["search_cn", "keyword"])
    assert {"iphone15", "t", "恤", "包", "邮"} <= cn_tokens  # latin runs stay one token


# ---------------------------------------------------------------- planted truth


@pytest.mark.parametrize(("key", "column", "level", "sign"), PLANTED)
def test_planted_driver_moves_the_outcome(key: str, column: str, level, sign: int, frames) -> None:
    frame, target = frames[key], SAMPLES[key].target
    known = frame[frame[column].notna()]
    if level is None:
        rho, p_value = stats.spearmanr(known[column], known[target])
        assert np.sign(rho) == sign and p_value < 1e-6, (rho, p_value)
    else:
        hit = known[column] == level
        diff = known.loc[hit, target].mean() - known.loc[~hit, target].mean()
        table = pd.crosstab(hit, known[target])
        p_value = stats.chi2_contingency(table).pvalue
        assert np.sign(diff) == sign and abs(diff) > 0.015 and p_value < 1e-6, (diff, p_value)


def test_evening_hours_get_more_clicks(frames) -> None:
    ads = frames["ads"]
    evening = ads["hour"].between(18, 22)
    assert ads.loc[evening, "clicked"].mean() > 1.8 * ads.loc[~evening, "clicked"].mean()


def _independence_p(x: pd.Series, y: pd.Series) -> float:
    """p-value of independence of ``x`` (numeric: binned in deciles) and ``y``."""
    known = x.notna() & y.notna()
    x, y = x[known], y[known]
    if pd.api.types.is_numeric_dtype(x) and x.nunique() > 12:
        x = pd.qcut(x, 10, duplicates="drop")
    if pd.api.types.is_numeric_dtype(y) and y.nunique() > 12:
        y = pd.qcut(y, 10, duplicates="drop")
    return stats.chi2_contingency(pd.crosstab(x, y)).pvalue


@pytest.mark.parametrize(("key", "column"), [(k, c) for k in KEYS for c in SAMPLES[k].noise])
def test_noise_column_carries_no_signal(key: str, column: str, frames) -> None:
    frame, spec = frames[key], SAMPLES[key]
    assert _independence_p(frame[column], frame[spec.target]) > 1e-3
    for driver in spec.drivers:  # and is unrelated to the drivers
        assert _independence_p(frame[column], frame[driver]) > 1e-4, driver
    if frame[column].nunique() <= 10:  # no level is more than 2.5 points off the rest
        known = frame[frame[column].notna()]
        rates = known.groupby(column)[spec.target].mean()
        assert (rates - known[spec.target].mean()).abs().max() < 0.025


@pytest.mark.parametrize("key", KEYS)
def test_driver_tokens_occur_and_push_the_outcome_their_way(key: str, frames, token_sets) -> None:
    spec = SAMPLES[key]
    y = frames[key][spec.target]
    for tokens, sign in ((spec.driver_tokens, +1), (spec.negative_tokens, -1)):
        for column, words in tokens.items():
            for word in words:
                has = token_sets[key, column].map(lambda row, word=word: word in row)
                assert has.mean() > 0.03, f"{word!r} is too rare in {column}"
                diff = y[has].mean() - y[~has].mean()
                assert np.sign(diff) == sign and abs(diff) > 0.02, (word, diff)


@pytest.mark.parametrize("key", KEYS)
def test_reference_tokenizer_agrees_with_the_model_tokenizer(key: str, frames) -> None:
    tokenize = pytest.importorskip("neuromkt.model.encoders").tokenize
    for column in SAMPLES[key].text_columns:
        texts = frames[key][column].head(3_000)
        assert [tokenize(t) for t in texts] == [_tokens(t) for t in texts]


def test_planted_characters_appear_only_in_planted_phrases(frames) -> None:
    keyword = frames["search_cn"]["keyword"]
    for char, phrase in (("包", "包邮"), ("邮", "包邮"), ("二", "二手"), ("手", "二手")):
        assert (keyword.str.contains(char) == keyword.str.contains(phrase)).all(), char
    assert keyword[keyword.str.contains("折")].str.contains("[五七八]折").all()


def test_readme_documents_every_column() -> None:
    readme = (ROOT / "sample_data" / "README.md").read_text(encoding="utf-8")
    for key, spec in SAMPLES.items():
        assert f"`{spec.file_name}`" in readme and f"`{key}`" in readme
        for column in load_sample(key).columns:
            assert f"`{column}`" in readme, column


# ---------------------------------------------------------------- learnable, not leaky


def _simple_model_auc(key: str, frame: pd.DataFrame) -> float:
    """Holdout ROC-AUC of a plain logistic regression on binned numerics, one-hots, words."""
    spec = SAMPLES[key]
    numeric = [
        c
        for c in spec.drivers + spec.noise
        if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].nunique() > 30
    ]  # small integer columns (hour, position, pages_viewed) are one-hot encoded
    categorical = [c for c in spec.drivers + spec.noise if c not in numeric]
    binned = make_pipeline(
        SimpleImputer(strategy="median"),
        KBinsDiscretizer(n_bins=10, encode="onehot", quantile_method="averaged_inverted_cdf"),
    )
    columns = ColumnTransformer(
        [
            ("num", binned, numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            *[
                (col, CountVectorizer(tokenizer=_tokens, lowercase=False, binary=True,
                                      token_pattern=None), col)
                for col in spec.text_columns
            ],
        ]
    )  # fmt: skip
    model = make_pipeline(columns, LogisticRegression(C=0.5, max_iter=2_000))
    x = frame.drop(columns=[spec.target]).astype({c: object for c in categorical})
    x[categorical] = x[categorical].fillna("(missing)")
    x_train, x_test, y_train, y_test = train_test_split(
        x, frame[spec.target], test_size=0.3, random_state=0, stratify=frame[spec.target]
    )
    model.fit(x_train, y_train)
    return roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_a_simple_model_learns_the_planted_signal_but_not_perfectly(key: str, frames) -> None:
    auc = _simple_model_auc(key, frames[key])
    assert 0.74 <= auc <= 0.88, auc
