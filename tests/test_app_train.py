"""The Train page, driven through Streamlit's AppTest: train, stop, save, load, leakage.

Training runs in a background thread; the tests click "Train model" and then rerun
the app until the session's job is collected, as the page's polling fragment would.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.samples import load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.model.bundle import bundle_to_zip_bytes
from neuromkt.model.network import ModelConfig
from neuromkt.model.registry import Registry
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit
from neuromkt.projects.jobs import start_job
from neuromkt.projects.store import new_workspace_key
from neuromkt.ui.state import KEY_BUNDLE, KEY_DATASET, KEY_WORKSPACE, TRAIN_PAGE, Dataset
from neuromkt.ui.train_settings import W_EPOCHS, W_MAX_TOKENS, W_ROW_BUDGET, W_SIZE, W_TIME_LIMIT
from neuromkt.ui.train_views import (
    KEY_JOB,
    W_COMPARE,
    W_DELETE,
    W_EXCLUDE_PREFIX,
    W_LOAD_RUN,
    W_RENAME,
    W_RENAME_TO,
    W_RUN,
    W_SAVE,
    W_SAVE_NAME,
    W_START,
    W_STOP,
    W_UPLOAD,
)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
BINARY_CARDS = ["AUC", "PR-AUC", "Accuracy", "F1", "Log loss"]


@pytest.fixture(scope="module")
def clicks() -> pd.DataFrame:
    """600 Chinese search-ad rows: a text column, categories, numbers; trains in seconds."""
    return load_sample("search_cn").head(600).reset_index(drop=True)


def _dataset(frame: pd.DataFrame, target: str | None, name: str = "clicks") -> Dataset:
    schema = infer_schema(frame, target=target)
    return Dataset(frame=frame, name=name, schema=schema, fingerprint=frame_fingerprint(frame))


def _open(dataset: Dataset | None = None, bundle=None, *, workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if workspace is not None:  # the same link, as a reload or a second tab opens it
        at.query_params["ws"] = workspace
    at.run()
    if dataset is not None:
        at.session_state[KEY_DATASET] = dataset
    if bundle is not None:
        at.session_state[KEY_BUNDLE] = bundle
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception
    return at


def _job(at: AppTest):
    return at.session_state.get(KEY_JOB, None)


def _wait_for_job(at: AppTest, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while _job(at) is not None:
        if time.monotonic() > deadline:
            at.button(key=W_STOP).click().run()
            pytest.fail("training did not finish in time")
        time.sleep(0.3)
        at.run()
        assert not at.exception


def _train(at: AppTest, *, epochs: int = 2) -> None:
    # Changed together with the click, as a browser sends them: the click must see them.
    at.number_input(key=W_EPOCHS).set_value(epochs)
    at.number_input(key=W_MAX_TOKENS).set_value(8)
    at.number_input(key=W_TIME_LIMIT).set_value(0.0)
    at.button(key=W_START).click().run()
    assert not at.exception
    _wait_for_job(at)


def _texts(elements) -> str:
    return " ".join(str(element.value) for element in elements)


# ---------------------------------------------------------------- guards


def test_without_data_the_page_links_to_the_data_page() -> None:
    at = _open()
    assert "No data yet" in _texts(at.info)
    assert not at.button  # nothing to train


def test_without_data_a_saved_model_can_be_loaded(tiny_bundle) -> None:
    """A bundle zip and a saved run load without data; the page says data is needed next."""
    at = _open()
    data = bundle_to_zip_bytes(tiny_bundle)
    at.file_uploader(key=W_UPLOAD).set_value(("model.zip", data, "application/zip")).run()
    assert not at.exception
    assert at.session_state[KEY_BUNDLE].name == tiny_bundle.name
    assert "from the uploaded file" in _texts(at.success)
    assert "add a data set on the Data page" in _texts(at.info)
    assert [metric.label for metric in at.metric] == BINARY_CARDS  # the saved metrics
    at.button(key=W_SAVE).click().run()  # saved without a data set
    assert not at.exception and "Saved as" in _texts(at.success)
    run = Registry().list_runs().iloc[0]
    assert run["dataset"] == "(unnamed data)"
    workspace = at.session_state[KEY_WORKSPACE]
    stranger = _open()  # another browser, without the link: sees no saved model
    assert W_LOAD_RUN not in [button.key for button in stranger.button]
    assert "No saved models yet" in _texts(stranger.caption)
    at = _open(workspace=workspace)
    at.button(key=W_LOAD_RUN).click().run()
    assert not at.exception and at.session_state[KEY_BUNDLE].name == tiny_bundle.name
    assert "add a data set on the Data page" in _texts(at.info)


def test_without_an_outcome_the_page_asks_for_one(clicks) -> None:
    at = _open(_dataset(clicks, None))
    assert "Choose the outcome to predict first" in _texts(at.info)
    assert W_START not in [button.key for button in at.button]


# ---------------------------------------------------------------- train, save, load


@pytest.mark.slow
def test_train_then_save_load_rename_compare_delete(clicks) -> None:
    at = _open(_dataset(clicks, "clicked"))
    assert at.segmented_control(key=W_SIZE).value == "small"
    _train(at, epochs=2)

    bundle = at.session_state[KEY_BUNDLE]
    assert bundle is not None and len(bundle.history) <= 2  # the 2 set with the click
    assert "Trained in" in _texts(at.success)
    assert [metric.label for metric in at.metric] == BINARY_CARDS
    auc = float(at.metric[0].value)
    assert 0.0 <= auc <= 1.0
    assert "test rows held out during training" in _texts(at.caption)
    assert len(at.get("plotly_chart")) == 7  # ROC, PR, lift, gains, calibration, confusion, history

    # Save under a name that looks like a path and like HTML: it is only ever text.
    odd = "Q4 <b>clicks</b> / ../../etc"
    at.text_input(key=W_SAVE_NAME).set_value(odd)
    at.button(key=W_SAVE).click().run()
    assert not at.exception and "Saved as" in _texts(at.success)
    registry = Registry()
    runs = registry.list_runs()
    assert runs["name"].tolist() == [odd]
    run_id = runs["run_id"].iloc[0]
    assert sorted(p.name for p in registry.models_dir.iterdir()) == [run_id]
    at.text_input(key=W_SAVE_NAME).set_value("second run")
    at.button(key=W_SAVE).click().run()
    assert len(registry.list_runs()) == 2

    # Load the first run: a fresh bundle object with the same weights.
    at.selectbox(key=W_RUN).set_value(run_id)
    at.button(key=W_LOAD_RUN).click().run()
    assert not at.exception
    loaded = at.session_state[KEY_BUNDLE]
    assert loaded is not bundle and loaded.name == odd
    assert "Loaded" in _texts(at.success)
    assert float(at.metric[0].value) == pytest.approx(auc, abs=1e-3)  # same rows, same model

    # Rename, compare, delete.
    at.text_input(key=W_RENAME_TO).set_value("renamed")
    at.button(key=W_RENAME).click().run()
    assert registry.get(run_id).name == "renamed"
    at.multiselect(key=W_COMPARE).set_value(registry.list_runs()["run_id"].tolist()).run()
    table = next(df.value for df in at.dataframe if df.value.index.name == "metric")
    assert {"validation AUC", "test AUC", "best epoch"} <= set(table.index)
    assert table.shape[1] == 2
    at.selectbox(key=W_RUN).set_value(run_id)
    at.button(key=W_DELETE).click().run()
    assert not at.exception
    assert registry.list_runs()["name"].tolist() == ["second run"]


@pytest.mark.slow
def test_big_table_passes_can_be_switched_off(clicks) -> None:
    at = _open(_dataset(clicks, "clicked"))
    _train(at, epochs=1)
    assert at.session_state[KEY_BUNDLE].train_config.row_budget == TrainConfig.row_budget
    at.toggle(key=W_ROW_BUDGET).set_value(False)  # sent with the next click
    _train(at, epochs=1)
    assert at.session_state[KEY_BUNDLE].train_config.row_budget is None


@pytest.mark.slow
def test_stop_ends_training_early(clicks) -> None:
    at = _open(_dataset(clicks, "clicked"))
    at.number_input(key=W_EPOCHS).set_value(200)
    at.number_input(key=W_TIME_LIMIT).set_value(0.0)
    at.button(key=W_START).click().run()
    assert _job(at) is not None and at.button(key=W_STOP) is not None
    assert at.number_input(key=W_EPOCHS).disabled  # settings are locked while training
    at.button(key=W_STOP).click().run()
    _wait_for_job(at, timeout=120)
    bundle = at.session_state[KEY_BUNDLE]
    if bundle is None:  # stopped before the first epoch ended: nothing to keep
        assert "before the first epoch ended" in _texts(at.warning)
    else:
        assert len(bundle.history) < 200
        assert "You stopped training" in _texts(at.success)


def test_training_error_is_reported_by_the_job(clicks) -> None:
    frame = clicks.assign(clicked=0)  # one class only
    schema = infer_schema(clicks, target="clicked")
    job = start_job(
        new_workspace_key(), None, frame, schema, ModelConfig.preset("small"),
        TrainConfig(epochs=1), name="x", dataset_name="x", fingerprint="x",
    )  # fmt: skip
    assert job.wait(timeout=120)
    assert job.status == "failed" and job.result() is None
    assert "'clicked' has only one value" in job.error


# ---------------------------------------------------------------- leakage


def test_leak_is_flagged_and_excluded_in_one_click(clicks) -> None:
    rng = np.random.default_rng(0)
    frame = clicks.assign(cost_after_click=clicks["clicked"] * 2.0 + rng.normal(0, 0.1, 600))
    at = _open(_dataset(frame, "clicked"))
    assert "'cost\\_after\\_click' alone predicts 'clicked'" in _texts(at.warning)
    at.button(key=f"{W_EXCLUDE_PREFIX}cost_after_click").click().run()
    assert not at.exception
    assert at.session_state[KEY_DATASET].schema.role_of("cost_after_click") == "ignore"
    assert "cost\\_after\\_click" not in _texts(at.warning)
    assert "is now ignored" in _texts(at.success)


# ---------------------------------------------------------------- models from elsewhere


def test_model_on_its_own_data_is_scored_on_its_test_rows(
    tiny_bundle, ecommerce_frame, ecommerce_schema
) -> None:
    dataset = Dataset(ecommerce_frame, "shop", ecommerce_schema, frame_fingerprint(ecommerce_frame))
    at = _open(dataset, tiny_bundle)
    assert "the 600 test rows held out during training" in _texts(at.caption)
    assert float(at.metric[0].value) == pytest.approx(tiny_bundle.metrics["test"]["roc_auc"], 1e-3)
    assert not at.warning  # same columns, same roles


def test_model_for_other_columns_says_which_differ(tiny_bundle, clicks) -> None:
    at = _open(_dataset(clicks, "clicked"), tiny_bundle)
    warning = _texts(at.warning)
    assert "Missing column\\(s\\) the model needs" in warning and "channel" in warning
    assert "cannot be checked" in _texts(at.info)
    assert [metric.label for metric in at.metric] == BINARY_CARDS  # the saved metrics


def _numeric_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    score = x[:, 0] * 2 + x[:, 1]
    return pd.DataFrame(
        {
            "a": x[:, 0], "b": x[:, 1], "c": x[:, 2],
            "revenue": score * 10 + 50 + rng.normal(0, 2, n),
            "segment": np.select([score < -1, score < 1], ["low", "mid"], "high"),
        }
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "cards", "charts"),
    [
        ("revenue", ["RMSE", "MAE", "R²"], 4),  # residuals, histogram, deciles, history
        ("segment", ["Accuracy", "Macro-F1", "Macro AUC", "Log loss"], 6),
    ],
)
def test_regression_and_multiclass_results(target: str, cards: list[str], charts: int) -> None:
    frame = _numeric_frame()
    other = "segment" if target == "revenue" else "revenue"
    schema = infer_schema(frame, target=target).with_role(other, "ignore", frame)
    result = fit(frame, schema, ModelConfig.preset("small"), TrainConfig(epochs=3))
    dataset = Dataset(frame, "numbers", schema, frame_fingerprint(frame))
    at = _open(dataset, result.bundle)
    assert [metric.label for metric in at.metric] == cards
    assert len(at.get("plotly_chart")) == charts
