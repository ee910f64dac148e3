"""The project store: create, open, rename, delete, settings, models, workspace checks."""

from __future__ import annotations

import pandas as pd
import pytest

from neuromkt.data.load import frame_fingerprint
from neuromkt.errors import ProjectError
from neuromkt.projects.store import ProjectStore, is_valid_key, new_workspace_key


@pytest.fixture
def store(tmp_path):
    return ProjectStore(tmp_path)


@pytest.fixture
def small(ecommerce_frame, ecommerce_schema):
    return ecommerce_frame.head(200).reset_index(drop=True), ecommerce_schema


def test_keys_are_unguessable_and_distinct():
    keys = {new_workspace_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(is_valid_key(k) and len(k) >= 20 for k in keys)
    assert not is_valid_key("../etc") and not is_valid_key("short") and not is_valid_key(None)


def test_create_open_roundtrip(store, small):
    frame, schema = small
    ws = new_workspace_key()
    info = store.create_project(ws, frame, schema, dataset="shop.csv", warnings=("fixed x",))
    assert info.name == "shop.csv" and info.n_rows == 200 and info.n_models == 0
    assert is_valid_key(info.project_id)
    opened, back, roles = store.open_project(ws, info.project_id)
    pd.testing.assert_frame_equal(back, frame)
    assert frame_fingerprint(back) == info.fingerprint
    assert roles == schema
    assert back.attrs["load_warnings"] == ["fixed x"]
    assert opened.opened_at >= info.opened_at
    assert (store.projects_dir / info.project_id / "data.parquet").is_file()


def test_other_workspace_is_refused_everywhere(store, small, tiny_bundle):
    frame, schema = small
    mine, theirs = new_workspace_key(), new_workspace_key()
    project = store.create_project(mine, frame, schema, dataset="secret-upload.csv")
    run = store.save_model(mine, project.project_id, tiny_bundle)
    pid = project.project_id
    calls = [
        lambda: store.get_project(theirs, pid),
        lambda: store.open_project(theirs, pid),
        lambda: store.rename_project(theirs, pid, "stolen"),
        lambda: store.delete_project(theirs, pid),
        lambda: store.save_schema(theirs, pid, schema),
        lambda: store.load_settings(theirs, pid),
        lambda: store.save_settings(theirs, pid, "Data", {"a": 1}),
        lambda: store.save_model(theirs, pid, tiny_bundle),
        lambda: store.list_models(theirs, pid),
        lambda: store.load_model(theirs, run.run_id),
        lambda: store.get_model(theirs, run.run_id),
        lambda: store.rename_model(theirs, run.run_id, "stolen"),
        lambda: store.delete_model(theirs, run.run_id),
        lambda: store.set_active_model(mine, pid, "not-a-run-of-mine"),
    ]
    for call in calls:
        with pytest.raises(ProjectError, match="does not exist in your workspace"):
            call()
    assert store.list_projects(theirs) == []
    assert store.list_models(theirs).empty
    # nothing changed for the owner
    assert store.get_project(mine, pid).name == "secret-upload.csv"
    assert store.get_model(mine, run.run_id).name == tiny_bundle.name


def test_invalid_ids_are_refused_plainly(store):
    with pytest.raises(ProjectError, match="not valid"):
        store.list_projects("x")
    with pytest.raises(ProjectError, match="not valid"):
        store.get_project(new_workspace_key(), "../../etc/passwd")


def test_rename_and_list_order(store, small):
    frame, schema = small
    ws = new_workspace_key()
    a = store.create_project(ws, frame, schema, dataset="a.csv")
    b = store.create_project(ws, frame, schema, dataset="b.csv")
    renamed = store.rename_project(ws, a.project_id, "  Spring\ncampaign\x00 ")
    assert renamed.name == "Spring campaign"
    store.open_project(ws, a.project_id)
    listed = store.list_projects(ws)
    assert {p.project_id for p in listed} == {a.project_id, b.project_id}
    assert listed[0].opened_at >= listed[1].opened_at


def test_settings_and_schema_are_kept(store, small):
    frame, schema = small
    ws = new_workspace_key()
    pid = store.create_project(ws, frame, schema, dataset="a.csv").project_id
    store.save_settings(ws, pid, "Attention", {"rows": 50, "view": "heads"})
    store.save_settings(ws, pid, "Train", {"epochs": 3})
    assert store.load_settings(ws, pid) == {
        "Attention": {"rows": 50, "view": "heads"},
        "Train": {"epochs": 3},
    }
    column = next(c.name for c in schema.columns if c.role == "numeric")
    changed = schema.with_role(column, "ignore", frame)
    store.save_schema(ws, pid, changed)
    assert store.open_project(ws, pid)[2] == changed


def test_models_belong_to_the_project(store, small, tiny_bundle):
    frame, schema = small
    ws = new_workspace_key()
    p1 = store.create_project(ws, frame, schema, dataset="a.csv").project_id
    p2 = store.create_project(ws, frame, schema, dataset="b.csv").project_id
    run = store.save_model(ws, p1, tiny_bundle)
    assert store.get_project(ws, p1).active_run == run.run_id
    assert store.get_project(ws, p1).n_models == 1
    assert list(store.list_models(ws, p1)["run_id"]) == [run.run_id]
    assert store.list_models(ws, p2).empty
    assert list(store.list_models(ws)["project_id"]) == [p1]
    loaded = store.load_model(ws, run.run_id)
    assert loaded.data_fingerprint == tiny_bundle.data_fingerprint
    store.rename_model(ws, run.run_id, "best")
    assert store.get_model(ws, run.run_id).name == "best"
    store.delete_model(ws, run.run_id)
    assert store.get_project(ws, p1).active_run is None
    assert store.registry.list_runs().empty


def test_delete_removes_files_and_models(store, small, tiny_bundle):
    frame, schema = small
    ws = new_workspace_key()
    pid = store.create_project(ws, frame, schema, dataset="a.csv").project_id
    run = store.save_model(ws, pid, tiny_bundle)
    store.delete_project(ws, pid)
    assert store.list_projects(ws) == []
    assert not (store.projects_dir / pid).exists()
    assert not (store.models_dir / run.run_id).exists()
    assert store.registry.list_runs().empty
    assert [p.name for p in store.projects_dir.iterdir()] == []
    with pytest.raises(ProjectError):
        store.open_project(ws, pid)


def test_missing_files_give_a_plain_error(store, small):
    frame, schema = small
    ws = new_workspace_key()
    pid = store.create_project(ws, frame, schema, dataset="a.csv").project_id
    (store.projects_dir / pid / "data.parquet").unlink()
    with pytest.raises(ProjectError, match="missing or damaged"):
        store.open_project(ws, pid)


def test_a_model_without_project_belongs_to_the_workspace(store, tiny_bundle):
    mine, theirs = new_workspace_key(), new_workspace_key()
    run = store.save_model(mine, None, tiny_bundle, dataset="uploaded.zip")
    assert list(store.list_models(mine)["run_id"]) == [run.run_id]
    assert store.list_models(theirs).empty
    with pytest.raises(ProjectError):
        store.load_model(theirs, run.run_id)
    assert store.load_model(mine, run.run_id).name == tiny_bundle.name
