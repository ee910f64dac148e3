"""The sample event log: checked-in file, planted truth read back from its sessions, a model."""

from __future__ import annotations

import gzip
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from neuromkt.data.events import guess_event_log
from neuromkt.data.load import load_table
from neuromkt.data.samples import _GA4, EVENT_LOG, SAMPLE_SEED, event_log_path, write_event_log
from neuromkt.data.schema import infer_schema
from neuromkt.data.sessions import SessionConfig, build_sessions
from neuromkt.explain.attributions import attribute
from neuromkt.explain.summaries import feature_ranking
from neuromkt.model.inference import predict
from neuromkt.model.network import ModelConfig
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit

CONFIG = SessionConfig(
    EVENT_LOG.id_column,
    EVENT_LOG.time_column,
    EVENT_LOG.event_column,
    item_column=EVENT_LOG.item_column,
    keep=EVENT_LOG.keep,
    numbers=EVENT_LOG.numbers,
    outcome=EVENT_LOG.outcome,
)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    result = build_sessions(event_log_path(), CONFIG)
    # The numbers sample_data/README.md quotes.
    summary = result.summary
    assert (summary.events_read, summary.sessions, summary.sessions_set_aside) == (
        57_284, 8_466, 87)  # fmt: skip
    assert round(summary.outcome_rate, 3) == 0.092
    return result.frame


def test_the_checked_in_file_is_a_fresh_generation_and_small(tmp_path) -> None:
    path = event_log_path()
    assert path.stat().st_size < 1_000_000
    fresh = write_event_log(tmp_path)
    assert fresh.read_bytes() == path.read_bytes()  # gzip without a time stamp
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    assert text == EVENT_LOG.generate(EVENT_LOG.n_users, SAMPLE_SEED).to_csv(index=False)


def test_the_log_is_recognised_as_an_event_log() -> None:
    frame = load_table(event_log_path())
    guess = guess_event_log(frame)
    assert guess is not None
    assert (guess.id_column, guess.time_column, guess.event_column, guess.item_column) == (
        EVENT_LOG.id_column, EVENT_LOG.time_column, EVENT_LOG.event_column,
        EVENT_LOG.item_column)  # fmt: skip
    assert guess.numbers == EVENT_LOG.numbers
    assert set(guess.attributes) == set(EVENT_LOG.keep)


def _signals(frame: pd.DataFrame) -> pd.DataFrame:
    """The planted signals, read back from the sessions table alone."""
    rows = []
    for events, gaps in zip(frame["events"], frame["events_gap_s"], strict=True):
        names = [t.split(":")[0] for t in events.split()]
        after = [float(g) for g in gaps.split()][1:]
        rows.append((
            "add_to_cart" in names,
            any(a == "search" and b == "view_item" for a, b in pairwise(names)),
            any(e == "view_item" and g >= 60 for e, g in zip(names, after, strict=False)),
        ))  # fmt: skip
    signals = pd.DataFrame(rows, columns=["cart", "search_view", "long_dwell"]).astype(int)
    signals["email"] = (frame["traffic_medium"] == "email").to_numpy().astype(int)
    signals["mobile"] = (frame["device_category"] == "mobile").to_numpy().astype(int)
    return signals


def test_the_planted_model_is_read_back_from_the_sessions(sessions) -> None:
    assert not sessions["events"].str.contains("purchase").any()
    x = _signals(sessions)
    y = sessions["purchase"].to_numpy()
    truth = _GA4["intercept"] + sum(_GA4[k] * x[k] for k in x)
    assert roc_auc_score(y, truth) == pytest.approx(0.82, abs=0.02)
    x["us"] = (sessions["country"] == "United States").to_numpy().astype(int)
    x["price_mean"] = sessions["price_mean"].fillna(sessions["price_mean"].mean()) / 100
    fitted = LogisticRegression(C=100, max_iter=2000).fit(x, y)
    coef = dict(zip(x.columns, fitted.coef_[0], strict=True))
    for name in ("cart", "search_view", "long_dwell", "email", "mobile"):
        assert coef[name] == pytest.approx(_GA4[name], abs=0.3), (name, coef)
    assert abs(coef["us"]) < 0.25 and abs(coef["price_mean"]) < 0.5, coef


@pytest.fixture(scope="module")
def trained(sessions):
    schema = infer_schema(sessions, target="purchase")
    assert schema.role_of("events") == "text" and schema.role_of("events_gap_s") == "ignore"
    return fit(sessions, schema, ModelConfig(), TrainConfig(epochs=12, seed=0), name="ga4")


@pytest.fixture(scope="module")
def test_rows(sessions, trained) -> pd.DataFrame:
    return sessions.iloc[trained.split["test"]]


@pytest.mark.slow
def test_a_model_on_the_sessions_learns_the_planted_drivers(trained, test_rows) -> None:
    bundle = trained.bundle
    assert bundle.encoders.gap_columns == ["events_gap_s"]
    assert roc_auc_score(test_rows["purchase"], predict(bundle, test_rows)) > 0.74
    rows = test_rows.head(600)
    ig = attribute(bundle, rows, "ig")
    importance = feature_ranking(ig).set_index("feature")["importance"]
    noise = importance[list(EVENT_LOG.noise)].max()
    assert importance["events"] > 2 * noise, importance.round(3).to_dict()
    features = ig.values.features
    assert features.loc[rows["traffic_medium"] == "email", "traffic_medium"].mean() > 0
    # The neutral baseline is the most common level, mobile: desktop is pushed up from it.
    assert features.loc[rows["device_category"] == "desktop", "device_category"].mean() > 0
    # Cart: the same sessions without their add_to_cart events score lower.
    carts = test_rows[test_rows["n_add_to_cart"] > 0]
    assert len(carts) > 100
    assert (predict(bundle, carts) - predict(bundle, _without_carts(carts))).mean() > 0.05
    # Time: the same sessions, with every long look at an item made a short one.
    views = test_rows[test_rows["events"].str.contains("view_item")]
    pairs_of = zip(views["events"], views["events_gap_s"], strict=True)
    short = views.assign(events_gap_s=[_shorten_after_views(e, g) for e, g in pairs_of])
    changed = short["events_gap_s"] != views["events_gap_s"]
    assert changed.sum() > 100
    drop = predict(bundle, views[changed]) - predict(bundle, short[changed])
    assert drop.mean() > 0.01, drop.mean()


def _without_carts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its add_to_cart events (tokens, gaps and count) taken out."""
    events, gaps = [], []
    for e, g in zip(frame["events"], frame["events_gap_s"], strict=True):
        kept = [(t, s) for t, s in zip(e.split(), g.split(), strict=True)
                if not t.startswith("add_to_cart")]  # fmt: skip
        events.append(" ".join(t for t, _ in kept))
        gaps.append(" ".join(s for _, s in kept))
    return frame.assign(events=events, events_gap_s=gaps, n_add_to_cart=0)


def _shorten_after_views(events: str, gaps: str) -> str:
    """The gaps with every gap after a view_item set to 10 s."""
    names = [t.split(":")[0] for t in events.split()]
    values = gaps.split()
    for i, name in enumerate(names[:-1]):
        if name == "view_item" and float(values[i + 1]) >= 60:
            values[i + 1] = "10"
    return " ".join(values)


def test_drivers_and_noise_are_columns_of_the_sessions(sessions) -> None:
    for column in (*EVENT_LOG.drivers, *EVENT_LOG.noise):
        assert column in sessions.columns
    assert np.isin(sessions["traffic_medium"].unique(), ["organic", "cpc", "(none)", "email",
                                                         "referral"]).all()  # fmt: skip
