"""Shared, session-scoped fixtures: a sample frame and a tiny trained model on it."""

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
