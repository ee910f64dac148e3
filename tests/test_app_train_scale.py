"""The Train page on a table too large to train in the browser: the command line instead."""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.samples import load_sample
from neuromkt.data.schema import infer_schema
from neuromkt.ui.state import KEY_DATASET, TRAIN_PAGE, Dataset
from neuromkt.ui.train_scale import ENV_VAR
from neuromkt.ui.train_views import W_START

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _open(frame: pd.DataFrame) -> AppTest:
    schema = infer_schema(frame, target="purchased").with_role("browser", "ignore", frame)
    dataset = Dataset(frame=frame, name="big", schema=schema, fingerprint=frame_fingerprint(frame))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.session_state[KEY_DATASET] = dataset
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception
    return at


def test_a_table_over_the_threshold_gets_the_command_to_train_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, "500")
    frame = load_sample("ecommerce").head(600)
    at = _open(frame)
    warning = " ".join(str(w.value) for w in at.warning)
    assert "600 rows, more than the 500" in warning
    assert not [b for b in at.button if b.key == W_START]  # no training in the browser
    command = shlex.split(at.code[0].value)
    assert command[:2] == ["neuromkt", "train"]
    assert command[command.index("--target") + 1] == "purchased"
    assert command[command.index("--text") + 1] == "events"
    assert command[command.index("--ignore") + 1] == "browser"
    assert command[command.index("--out") + 1].endswith(".zip")
    written = pd.read_parquet(command[2])  # the data path in the command is real
    assert written["session_id"].tolist() == frame["session_id"].tolist()


def test_a_table_under_the_threshold_trains_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "600")
    at = _open(load_sample("ecommerce").head(600))
    assert not at.code and [b for b in at.button if b.key == W_START]
