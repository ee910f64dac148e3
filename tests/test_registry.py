"""The run registry: save/list/load/rename/delete/compare, atomicity, locking, damage."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromkt.errors import ModelError
from neuromkt.model.bundle import TEMP_PREFIX, ModelBundle
from neuromkt.model.inference import predict
from neuromkt.model.registry import MAX_NAME_CHARS, Registry, clean_name

RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def trained(tiny_bundle, ecommerce_frame) -> tuple[ModelBundle, pd.DataFrame]:
    """The shared tiny binary model, named "tiny" here, and rows to score.

    A copy: the shared bundle's name is not this module's to rely on (the Train page
    renames the bundle it saves, and page tests hand it the shared one).
    """
    return dataclasses.replace(tiny_bundle, name="tiny"), ecommerce_frame.head(120)


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path / "home", timeout=0.2)


def named(bundle: ModelBundle, name: str) -> ModelBundle:
    return dataclasses.replace(bundle, name=name)


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# ------------------------------------------------------------------ basic operations
def test_save_list_get_load(registry, trained):
    bundle, frame = trained
    info = registry.save(bundle, dataset="shop.csv")
    assert RUN_ID.match(info.run_id)
    assert info.path == registry.models_dir / info.run_id and info.path.is_dir()
    assert (info.name, info.dataset, info.task, info.target) == (
        "tiny",
        "shop.csv",
        "binary",
        "purchased",
    )
    assert info.primary_metric == "roc_auc" and info.higher_is_better
    expected = bundle.metrics["validation"]["roc_auc"]
    assert info.primary_value == pytest.approx(expected, nan_ok=True)
    assert info.params["model"] == bundle.model_config.to_dict()
    assert info.params["train"] == bundle.train_config.to_dict()
    assert info.data_fingerprint == bundle.data_fingerprint
    runs = registry.list_runs()
    assert runs["run_id"].tolist() == [info.run_id]
    assert list(runs.columns[:3]) == ["run_id", "name", "dataset"]
    assert runs["status"].tolist() == ["ok"]
    assert registry.get(info.run_id) == info
    assert hash(info) == hash(registry.get(info.run_id))
    loaded = registry.load(info.run_id)
    np.testing.assert_array_equal(predict(loaded, frame), predict(bundle, frame))


def test_empty_registry_lists_nothing(registry):
    runs = registry.list_runs()
    assert runs.empty and "primary_value" in runs.columns
    assert registry.check(grace_s=0) == []


def test_rename_delete_and_unknown_ids(registry, trained):
    first = registry.save(trained[0], dataset="a")
    second = registry.save(named(trained[0], "other"), dataset="b")
    assert registry.rename(first.run_id, "  Spring  campaign\n").name == "Spring campaign"
    assert registry.load(first.run_id).name == "Spring campaign"
    registry.delete(first.run_id)
    assert registry.list_runs()["run_id"].tolist() == [second.run_id]
    assert not first.path.exists()
    assert sorted(os.listdir(registry.models_dir)) == [second.run_id]
    with pytest.raises(ModelError, match="no saved model"):
        registry.get(first.run_id)
    with pytest.raises(ModelError, match="no saved model"):
        registry.rename(first.run_id, "x")
    for bad in ("../x", "", second.run_id + "/..", "20240101-000000-zzzzzzzzzzzz"):
        with pytest.raises(ModelError, match="not a valid run id"):
            registry.load(bad)


def test_compare_puts_metrics_side_by_side(registry, trained):
    bundle = trained[0]
    a = registry.save(bundle, dataset="d")
    b = registry.save(named(bundle, "b"), dataset="d")
    table = registry.compare([b.run_id, a.run_id])
    assert list(table.columns) == [b.run_id, a.run_id]
    assert table.index.name == "metric"
    for metric in ("validation.roc_auc", "validation.log_loss", "test.accuracy", "best_epoch"):
        assert metric in table.index
    value = table.loc["validation.log_loss", a.run_id]
    assert value == pytest.approx(bundle.metrics["validation"]["log_loss"])
    assert "primary" not in table.index  # text entries are left out
    with pytest.raises(ModelError):
        registry.compare([a.run_id, "20240101-000000-000000000000"])


def test_nan_primary_metric(registry, trained):
    bundle = dataclasses.replace(
        trained[0], metrics={"validation": {"roc_auc": float("nan"), "n": 5}}
    )
    info = registry.save(bundle, dataset="d")
    assert math.isnan(info.primary_value) and math.isnan(info.metrics["validation"]["roc_auc"])
    assert registry.list_runs()["primary_value"].isna().all()


# ---------------------------------------------------------------------------- names
HOSTILE = ["../x", "../../../../tmp/evil", "a/b", "/abs/path", "x\x00y", "é" * 300, "\x1b[31mred"]


def test_hostile_names_stay_text_inside_home(tmp_path, trained):
    registry = Registry(tmp_path / "home")
    for name in HOSTILE:
        info = registry.save(named(trained[0], name), dataset=name)
        assert "\x00" not in info.name and "\x1b" not in info.name
        assert len(info.name) <= MAX_NAME_CHARS and len(info.dataset) <= MAX_NAME_CHARS
        registry.rename(info.run_id, name + "/../renamed")
    names = registry.list_runs()["name"].tolist()
    assert "../x/../renamed" in names and "a/b/../renamed" in names
    outside = all_files(tmp_path) - all_files(tmp_path / "home") - {tmp_path / "home"}
    assert outside == set()
    assert all(RUN_ID.match(p) for p in os.listdir(registry.models_dir))
    assert registry.check(grace_s=0) == []


def test_clean_name():
    assert clean_name("a\x00b\x07c") == "abc"
    assert clean_name("  two\tspaces \n") == "two spaces"
    assert clean_name("\x00\x01") == "model"
    assert len(clean_name("x" * 300)) == 120
    assert clean_name("../etc/passwd") == "../etc/passwd"


# -------------------------------------------------------------------------- homes
def test_home_is_read_at_call_time(tmp_path, monkeypatch, trained):
    monkeypatch.setenv("NEUROMKT_HOME", str(tmp_path / "one"))
    registry = Registry()
    registry.save(trained[0], dataset="d")
    monkeypatch.setenv("NEUROMKT_HOME", str(tmp_path / "two"))
    assert registry.list_runs().empty
    assert (tmp_path / "two" / "registry.sqlite").exists()
    assert len(os.listdir(tmp_path / "one" / "models")) == 1
    monkeypatch.delenv("NEUROMKT_HOME")
    monkeypatch.chdir(tmp_path)
    assert Registry().home == Path(".neuromkt")
    Registry().list_runs()
    assert (tmp_path / ".neuromkt" / "registry.sqlite").exists()


def test_unusable_home_is_a_model_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ModelError, match="Cannot create the model registry folder"):
        Registry(tmp_path / "file" / "home").list_runs()


# ---------------------------------------------------------------------- atomicity
def test_failure_while_moving_the_bundle_leaves_nothing(registry, trained, monkeypatch):
    registry.save(trained[0], dataset="kept")
    before = sorted(os.listdir(registry.models_dir))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ModelError, match="disk full"):
        registry.save(trained[0], dataset="lost")
    monkeypatch.undo()
    assert sorted(os.listdir(registry.models_dir)) == before
    assert registry.list_runs()["dataset"].tolist() == ["kept"]
    assert registry.check(grace_s=0) == []


def test_failure_of_the_database_insert_removes_the_folder(registry, trained):
    registry.list_runs()  # creates the database
    with sqlite3.connect(registry.db_path) as con:
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    with pytest.raises(ModelError, match="boom"):
        registry.save(trained[0], dataset="d")
    assert os.listdir(registry.models_dir) == []
    assert registry.list_runs().empty


def test_failed_delete_keeps_the_run(registry, trained):
    info = registry.save(trained[0], dataset="d")
    holder = sqlite3.connect(registry.db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ModelError, match="busy"):
            registry.delete(info.run_id)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert registry.load(info.run_id).name == "tiny"
    assert os.listdir(registry.models_dir) == [info.run_id]


def test_check_and_repair(registry, trained):
    kept = registry.save(trained[0], dataset="d")
    lost = registry.save(named(trained[0], "lost"), dataset="d")
    shutil.rmtree(lost.path)
    orphan = registry.models_dir / "20200101-000000-0123456789ab"
    orphan.mkdir()
    (orphan / "bundle.json").write_text("{}")
    leftover = registry.models_dir / f"{TEMP_PREFIX}abc"
    leftover.mkdir()
    # Young folders may belong to a save in progress; a row without files cannot.
    assert len(registry.check()) == 1
    problems = registry.check(grace_s=0)
    assert len(problems) == 3
    assert any("'lost'" in p and "no files" in p for p in problems)
    assert any("belongs to no saved model" in p for p in problems)
    assert any("Leftover temporary folder" in p for p in problems)
    done = registry.repair(grace_s=0)
    assert len(done) == 3
    assert sorted(os.listdir(registry.models_dir)) == [kept.run_id]
    runs = registry.list_runs().set_index("run_id")
    assert runs.loc[lost.run_id, "status"] == "missing"
    assert runs.loc[kept.run_id, "status"] == "ok"
    with pytest.raises(ModelError, match="files of saved model 'lost'"):
        registry.load(lost.run_id)
    assert registry.check(grace_s=0) == []


# -------------------------------------------------------------- locks and damage
def test_locked_database_says_busy(registry, trained):
    registry.list_runs()
    holder = sqlite3.connect(registry.db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ModelError) as info:
            registry.save(trained[0], dataset="d")
        assert str(info.value) == (
            "The model registry is busy (another process is writing); try again in a moment."
        )
        assert os.listdir(registry.models_dir) == []  # no half-saved run
        assert registry.reset_corrupt() is None and registry.db_path.exists()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    registry.save(trained[0], dataset="d")
    assert len(registry.list_runs()) == 1


def test_corrupted_database_file(registry, trained):
    registry.home.mkdir(parents=True)
    registry.db_path.write_bytes(b"this is not a database at all " * 200)
    with pytest.raises(ModelError) as info:
        registry.list_runs()
    message = str(info.value)
    assert str(registry.db_path) in message and "Move it aside" in message
    with pytest.raises(ModelError, match="damaged"):
        registry.save(trained[0], dataset="d")
    assert os.listdir(registry.models_dir) == []  # refused before writing any files
    moved = registry.reset_corrupt()
    assert moved is not None and moved.name.startswith("registry.sqlite.corrupt-")
    assert moved.read_bytes().startswith(b"this is not a database")
    assert registry.list_runs().empty
    registry.save(trained[0], dataset="d")
    assert len(registry.list_runs()) == 1
    assert registry.reset_corrupt() is None  # a healthy registry is left alone
    assert len(registry.list_runs()) == 1
    assert Registry(registry.home.parent / "elsewhere").reset_corrupt() is None


def test_first_use_waits_for_another_first_user(tmp_path):
    """Switching a new registry to WAL waits for a connection that holds the lock."""
    registry = Registry(tmp_path / "home", timeout=5.0)
    registry.models_dir.mkdir(parents=True)
    holder = sqlite3.connect(registry.db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another session, creating the registry
    release = threading.Timer(0.3, holder.execute, args=("ROLLBACK",))
    release.start()
    try:
        assert registry.list_runs().empty
    finally:
        release.join()
        holder.close()


def test_concurrent_saves_from_threads(registry, trained):
    registry.timeout = 10.0
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            registry.save(named(trained[0], f"run {i}"), dataset="d")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(registry.list_runs()["name"]) == [f"run {i}" for i in range(4)]
    assert len(os.listdir(registry.models_dir)) == 4
