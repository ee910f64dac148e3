"""Shared, session-scoped fixtures: a sample frame and a tiny trained model per task.

``tiny_bundle`` (binary, ``purchased``) is trained on ``ecommerce_frame``;
``tiny_multiclass_bundle`` (``device``) and ``tiny_regression_bundle``
(``time_on_site_sec``) on ``task_frame``. Each is trained once per test session; a
test that needs a model of its own kind (other data, settings under test) trains it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from neuromkt.data.samples import SAMPLES, load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.model.network import ModelConfig
from neuromkt.model.threads import configure_threads
from neuromkt.model.train_config import TrainConfig
from neuromkt.model.training import fit

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

configure_threads()  # as the app does: one core left for the browser and server


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own NEUROMKT_HOME, so no test touches ./.neuromkt."""
    monkeypatch.setenv("NEUROMKT_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def ecommerce_frame():
    """The first 4,000 rows of the e-commerce sample (target ``purchased``)."""
    return load_sample("ecommerce").head(4000).reset_index(drop=True)


@pytest.fixture(scope="session")
def ecommerce_schema(ecommerce_frame):
    return infer_schema(ecommerce_frame, target=SAMPLES["ecommerce"].target)


@pytest.fixture(scope="session")
def tiny_result(ecommerce_frame, ecommerce_schema):
    """A small model trained for a few epochs on the e-commerce rows (a few seconds)."""
    return fit(
        ecommerce_frame,
        ecommerce_schema,
        ModelConfig.preset("small"),
        TrainConfig(epochs=4, seed=0),
        name="tiny",
    )


@pytest.fixture(scope="session")
def tiny_bundle(tiny_result):
    return tiny_result.bundle


@pytest.fixture(scope="session")
def task_frame(ecommerce_frame):
    """600 complete e-commerce rows without ``purchased``, for the other two tasks:
    ``device`` is the multiclass target, ``time_on_site_sec`` the regression one."""
    return ecommerce_frame.drop(columns="purchased").head(600).dropna().reset_index(drop=True)


def _tiny_fit(frame, target: str):
    schema = infer_schema(frame, target=target)
    config = TrainConfig(epochs=2, seed=0)
    return fit(frame, schema, ModelConfig.preset("small"), config, name=f"tiny {target}").bundle


@pytest.fixture(scope="session")
def tiny_multiclass_bundle(task_frame):
    """A small multiclass model of ``device`` (three classes) on ``task_frame``."""
    return _tiny_fit(task_frame, "device")


@pytest.fixture(scope="session")
def tiny_regression_bundle(task_frame):
    """A small regression model of ``time_on_site_sec`` on ``task_frame``."""
    return _tiny_fit(task_frame, "time_on_site_sec")
