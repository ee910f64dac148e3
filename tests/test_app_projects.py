"""Projects in the dashboard: the link brings the work back; other workspaces see nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from neuromkt.projects.jobs import JobStore
from neuromkt.projects.store import ProjectStore, new_workspace_key
from neuromkt.ui.home_views import W_PROJECT_DELETE, W_PROJECT_OPEN, W_PROJECT_RENAME_TO
from neuromkt.ui.state import (
    ATTENTION_PAGE,
    DATA_PAGE,
    KEY_BUNDLE,
    KEY_DATASET,
    KEY_PROJECT,
    KEY_WORKSPACE,
    TRAIN_PAGE,
)
from neuromkt.ui.train_settings import W_EPOCHS, W_TIME_LIMIT
from neuromkt.ui.train_views import KEY_JOB, W_START, W_STOP

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _open(page: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception
    return at


def _texts(elements) -> str:
    return " ".join(str(element.value) for element in elements)


def _try_sample() -> AppTest:
    at = _open()
    at.button(key="home_try_ecommerce").click().run()
    assert not at.exception
    return at


def test_a_fresh_visit_gets_a_private_workspace_in_the_url() -> None:
    a, b = _open(), _open()
    ws_a, ws_b = a.session_state[KEY_WORKSPACE], b.session_state[KEY_WORKSPACE]
    assert ws_a != ws_b and len(ws_a) >= 20
    assert a.query_params["ws"] == ws_a
    assert "whoever has this page's link" in _texts(a.caption).lower()


def test_the_sample_becomes_a_project_that_a_reload_brings_back() -> None:
    at = _try_sample()
    ws, project = at.session_state[KEY_WORKSPACE], at.session_state[KEY_PROJECT]
    assert project is not None and at.query_params["project"] == project
    first = at.session_state[KEY_DATASET]
    assert at.session_state[KEY_BUNDLE] is not None
    for page in (DATA_PAGE, TRAIN_PAGE, ATTENTION_PAGE):
        again = _open(page, ws=ws, project=project)  # a reload: a new session, same URL
        dataset = again.session_state[KEY_DATASET]
        assert dataset is not None and dataset.fingerprint == first.fingerprint
        assert dataset.schema == first.schema and dataset.name == first.name
        bundle = again.session_state[KEY_BUNDLE]
        assert bundle is not None and bundle.data_fingerprint == first.fingerprint
        assert "No data yet" not in _texts(again.info)
        assert "No model yet" not in _texts(again.info)


def test_another_workspace_cannot_open_the_project() -> None:
    at = _try_sample()
    project = at.session_state[KEY_PROJECT]
    stranger = _open(ws=new_workspace_key(), project=project)  # a crafted link
    assert stranger.session_state[KEY_DATASET] is None
    assert stranger.session_state[KEY_BUNDLE] is None
    assert "does not exist in your workspace" in _texts(stranger.error)
    assert "project" not in stranger.query_params
    assert "No projects yet" in _texts(stranger.caption)
    stranger.switch_page(DATA_PAGE).run()
    assert not stranger.exception and stranger.session_state[KEY_DATASET] is None


def test_home_lists_renames_opens_and_deletes_projects() -> None:
    at = _try_sample()
    ws, project = at.session_state[KEY_WORKSPACE], at.session_state[KEY_PROJECT]
    home = _open(ws=ws)
    assert "E-commerce sessions" in _texts(home.markdown)
    assert "1 model" in _texts(home.markdown)
    home.text_input(key=f"{W_PROJECT_RENAME_TO}{project}").set_value("Spring <b>demo</b>")
    home.button(key=f"home_project_rename_{project}").click().run()
    assert not home.exception
    assert ProjectStore().get_project(ws, project).name == "Spring <b>demo</b>"
    assert "Renamed" in _texts(home.success)

    fresh = _open(ws=ws)  # same link, no project open yet
    assert fresh.session_state[KEY_DATASET] is None
    fresh.button(key=f"{W_PROJECT_OPEN}{project}").click().run()
    assert not fresh.exception
    assert fresh.session_state[KEY_DATASET] is not None
    assert fresh.session_state[KEY_PROJECT] == project

    folder = ProjectStore().projects_dir / project
    assert folder.is_dir()
    home.button(key=f"{W_PROJECT_DELETE}{project}").click().run()
    assert not home.exception
    assert "Deleted" in _texts(home.success)
    assert ProjectStore().list_projects(ws) == []
    assert not folder.exists()
    assert home.session_state[KEY_DATASET] is None
    assert ProjectStore().registry.list_runs().empty


@pytest.mark.slow
def test_a_reload_during_training_reattaches_to_the_job() -> None:
    at = _try_sample()
    ws, project = at.session_state[KEY_WORKSPACE], at.session_state[KEY_PROJECT]
    at.switch_page(TRAIN_PAGE).run()
    at.number_input(key=W_EPOCHS).set_value(200)
    at.number_input(key=W_TIME_LIMIT).set_value(0.0)
    at.button(key=W_START).click().run()
    assert not at.exception and at.session_state[KEY_JOB] is not None

    again = _open(TRAIN_PAGE, ws=ws, project=project)  # the reload
    assert again.session_state[KEY_JOB] == at.session_state[KEY_JOB]
    assert again.button(key=W_STOP) is not None
    stranger = _open(TRAIN_PAGE, ws=new_workspace_key(), project=project)
    assert stranger.session_state.get(KEY_JOB, None) is None
    deadline = time.monotonic() + 180
    while again.session_state[KEY_JOB] is not None:
        assert time.monotonic() < deadline, "training did not end"
        job = JobStore().row(ws, again.session_state[KEY_JOB])
        if job["epochs_json"] != "[]" and not job["stop"]:
            again.button(key=W_STOP).click()
        time.sleep(0.5)
        again.run()
        assert not again.exception
    assert "You stopped training" in _texts(again.success)
    bundle = again.session_state[KEY_BUNDLE]
    assert bundle is not None and len(bundle.history) < 200
    reloaded = _open(ATTENTION_PAGE, ws=ws, project=project)
    assert reloaded.session_state[KEY_BUNDLE].name == bundle.name
