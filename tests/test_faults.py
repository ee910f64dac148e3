"""Faults: a process killed while training or saving, a locked or damaged registry, a full disk.

The kill tests run a real Python process that trains a model, or saves one into a
registry (or over a model folder, as ``neuromkt train --out`` does), next to a model
saved before. The process announces where it is ("PAUSE <point>") from inside the
training loop or the save path and waits there, so that the SIGKILL lands at an exact,
named moment instead of a random one. The registry is then checked from this process:
consistent or repairable, still writable, and the model saved before loads and predicts
exactly as it did. The Train page is driven under AppTest with the registry locked by
another process, damaged, or on a full disk.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import neuromkt.model.bundle as bundle_module
from neuromkt.data.load import frame_fingerprint
from neuromkt.errors import ModelError
from neuromkt.model.bundle import bundle_to_zip_bytes, load_bundle, save_bundle
from neuromkt.model.inference import predict
from neuromkt.model.registry import BUSY_MESSAGE, Registry
from neuromkt.projects.store import ProjectStore, new_workspace_key
from neuromkt.ui.state import KEY_BUNDLE, KEY_DATASET, KEY_WORKSPACE, TRAIN_PAGE, Dataset
from neuromkt.ui.train_views import W_SAVE, W_SAVE_NAME

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
CHILD_TIMEOUT_S = 120

# The child process. argv: home, mode ("registry" or "folder"), point. With point
# "training" it trains a tiny model and stops in its progress callback; otherwise it loads
# the bundle the test left in ``home/next.zip`` and saves it into the registry (or over
# the model folder ``home/model``), stopping at ``point`` of the save. Where it stops it
# prints "PAUSE <point>" and sleeps until it is killed.
_CHILD = textwrap.dedent(
    """
    import os, sys, time
    import neuromkt.model.bundle as nb
    from neuromkt.model.registry import Registry

    home, mode, point = sys.argv[1:4]

    def pause(where):
        print("PAUSE", where, flush=True)
        time.sleep(600)

    if point == "training":
        import numpy as np, pandas as pd
        from neuromkt.model.network import ModelConfig
        from neuromkt.data.schema import infer_schema
        from neuromkt.model.training import fit
        from neuromkt.model.train_config import TrainConfig

        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"spend": rng.gamma(2.0, 10.0, 400),
                              "channel": rng.choice(["email", "search", "social"], 400)})
        frame["bought"] = (frame["spend"] > 20).astype(int)
        schema = infer_schema(frame, target="bought")
        def progress(p):
            if p.done >= 2 * 256:  # two steps of 256 rows
                pause(point)
        fit(frame, schema, ModelConfig.preset("small"), TrainConfig(epochs=50),
            name="second", on_progress=progress)
        sys.exit(0)

    real_write, real_replace = nb._write_synced, os.replace
    def write(path, data):
        real_write(path, data)
        if point == "weights_written" and str(path).endswith(nb.WEIGHTS):
            pause(point)
    def replace(src, dst):
        real_replace(src, dst)
        if point == "old_moved_aside" and os.path.basename(dst).startswith(nb.OLD_PREFIX):
            pause(point)
        if point == "moved_in" and os.path.basename(src).startswith(nb.TEMP_PREFIX):
            pause(point)
    nb._write_synced, os.replace = write, replace

    if point == "in_transaction":
        import sqlite3
        real_connect = sqlite3.connect
        class Connection:
            def __init__(self, con):
                self._con = con
            def execute(self, sql, *args):
                result = self._con.execute(sql, *args)
                if sql.startswith("INSERT"):
                    pause(point)
                return result
            def __getattr__(self, name):
                return getattr(self._con, name)
        sqlite3.connect = lambda *a, **k: Connection(real_connect(*a, **k))

    bundle = nb.load_bundle(os.path.join(home, "next.zip"))
    if mode == "folder":
        nb.save_bundle(bundle, os.path.join(home, "model"))
    else:
        Registry(home).save(bundle, dataset="second")
    print("FINISHED without pausing", flush=True)
    """
)


def _kill_when_paused(home: Path, mode: str, point: str) -> int:
    """Run the child until it pauses at ``point`` and SIGKILL it; its exit status."""
    env = {**os.environ, "NEUROMKT_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", _CHILD, str(home), mode, point]
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline()  # blocks until the child pauses, finishes or dies
        if line.split() != ["PAUSE", point]:
            pytest.fail(f"the child did not pause at {point}: {line!r} {child.stderr.read()}")
        child.send_signal(signal.SIGKILL)
        return child.wait(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def scored_rows(ecommerce_frame, tiny_bundle) -> tuple[pd.DataFrame, np.ndarray]:
    """200 sample rows and the tiny model's scores for them."""
    rows = ecommerce_frame.head(200)
    return rows, predict(tiny_bundle, rows)


def _prepare_child(home: Path, bundle: Any) -> None:
    (home / "next.zip").write_bytes(bundle_to_zip_bytes(bundle))


_REGISTRY_POINTS = {  # where the child is killed -> leftovers check(grace_s=0) reports
    "training": 0,
    "weights_written": 1,  # a temporary folder holding both files, not yet moved in
    "moved_in": 1,  # a bundle folder without a row
    "in_transaction": 1,  # a bundle folder, its row not committed
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(_REGISTRY_POINTS))
def test_kill_leaves_registry_consistent(
    point: str, tmp_path: Path, tiny_bundle, scored_rows
) -> None:
    registry = Registry(tmp_path)
    first = registry.save(tiny_bundle, dataset="first")
    _prepare_child(tmp_path, tiny_bundle)
    assert _kill_when_paused(tmp_path, "registry", point) == -signal.SIGKILL
    db = sqlite3.connect(registry.db_path)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()
    assert registry.list_runs()["run_id"].tolist() == [first.run_id]  # half-saved: not listed
    # Fresh leftovers are left alone by default (another session might be saving them) …
    assert registry.check() == []
    # … and are found and removed once they are old enough.
    problems = registry.check(grace_s=0)
    assert len(problems) == _REGISTRY_POINTS[point], problems
    registry.repair(grace_s=0)
    assert registry.check(grace_s=0) == []
    assert _entries(registry.models_dir) == [first.run_id]
    rows, scores = scored_rows
    np.testing.assert_allclose(predict(registry.load(first.run_id), rows), scores, rtol=1e-6)
    registry.save(tiny_bundle, dataset="after the crash")  # the registry is still writable
    assert len(registry.list_runs()) == 2


@pytest.mark.slow
@pytest.mark.parametrize("point", ["old_moved_aside", "moved_in"])
def test_kill_while_replacing_a_model_folder_keeps_a_loadable_model(
    point: str, tmp_path: Path, tiny_bundle, scored_rows
) -> None:
    """``neuromkt train --out DIR`` over an older model: the folder always holds a model."""
    save_bundle(tiny_bundle, tmp_path / "model")
    _prepare_child(tmp_path, tiny_bundle)
    assert _kill_when_paused(tmp_path, "folder", point) == -signal.SIGKILL
    rows, scores = scored_rows
    np.testing.assert_allclose(predict(load_bundle(tmp_path / "model"), rows), scores, rtol=1e-6)


# ---------------------------------------------------------------- full disk


def _full_disk(monkeypatch: pytest.MonkeyPatch, after: str = ".safetensors") -> None:
    """Make writing the weights fail half-way with ENOSPC, as a full disk does."""
    real = bundle_module._write_synced

    def write(path: Path, data: bytes) -> None:
        if str(path).endswith(after):
            with open(path, "xb") as fh:
                fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(bundle_module, "_write_synced", write)


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_full_disk_during_registry_save_leaves_no_half_bundle(
    tiny_bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(tmp_path)
    kept = registry.save(tiny_bundle, dataset="before")
    _full_disk(monkeypatch)
    with pytest.raises((ModelError, OSError)) as caught:
        registry.save(tiny_bundle, dataset="disk full")
    assert "space" in str(caught.value).lower()
    assert _entries(registry.models_dir) == [kept.run_id]
    assert registry.list_runs()["run_id"].tolist() == [kept.run_id]
    assert registry.check(grace_s=0) == []
    load_bundle(kept.path)


def test_full_disk_during_save_is_a_plain_model_error(
    tiny_bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI and the CLI show ModelError messages; a bare OSError would be a traceback."""
    _full_disk(monkeypatch)
    with pytest.raises(ModelError, match="space"):
        Registry(tmp_path).save(tiny_bundle, dataset="disk full")


@pytest.mark.parametrize("target", ["model", "model.zip"])
def test_full_disk_while_replacing_keeps_the_old_model(
    target: str, tiny_bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_bundle(tiny_bundle, tmp_path / target)
    before = sorted(p.name for p in tmp_path.iterdir())
    _full_disk(monkeypatch, after="" if target.endswith(".zip") else ".safetensors")
    with pytest.raises((ModelError, OSError)):
        save_bundle(tiny_bundle, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary left over
    load_bundle(path)


# ---------------------------------------------------------------- the Train page


TRAIN_WORKSPACE = new_workspace_key()


@pytest.fixture
def train_page(ecommerce_frame, tiny_bundle) -> AppTest:
    """The Train page with 300 sample rows as the data set and the tiny model loaded."""
    frame = ecommerce_frame.head(300)
    at = AppTest.from_file(APP, default_timeout=120).switch_page(TRAIN_PAGE)
    dataset = Dataset(frame, "300 rows", tiny_bundle.schema, frame_fingerprint(frame))
    at.session_state[KEY_DATASET] = dataset
    at.session_state[KEY_BUNDLE] = tiny_bundle
    at.session_state[KEY_WORKSPACE] = TRAIN_WORKSPACE  # as if opened from its link
    return at


def _runs_table(at: AppTest) -> pd.DataFrame:
    return next(t.value for t in at.dataframe if "dataset" in t.value.columns)


def _alerts(at: AppTest, kind: str) -> str:
    return " ".join(e.value.replace("\\", "") for e in getattr(at, kind))


def _assert_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_train_page_save_on_a_full_disk_says_so(
    train_page: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = train_page.run()
    _assert_no_traceback(at)
    _full_disk(monkeypatch)
    at.text_input(key=W_SAVE_NAME).input("disk full").run()
    at.button(key=W_SAVE).click().run()
    _assert_no_traceback(at)
    assert "space" in _alerts(at, "error").lower()
    assert _entries(Registry().models_dir) == []


@pytest.mark.slow
def test_train_page_with_a_locked_registry_says_busy_and_recovers(
    train_page: AppTest, tiny_bundle
) -> None:
    registry = Registry()
    ProjectStore().save_model(TRAIN_WORKSPACE, None, tiny_bundle, dataset="saved before")
    holder = sqlite3.connect(registry.db_path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET name = name")  # takes the exclusive lock
    try:
        at = train_page.run()
        _assert_no_traceback(at)
        assert BUSY_MESSAGE in _alerts(at, "error")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    at.run()  # the way forward: try again once the other writer is done
    _assert_no_traceback(at)
    assert BUSY_MESSAGE not in _alerts(at, "error")
    assert _runs_table(at)["dataset"].tolist() == ["saved before"]


def test_train_page_with_a_damaged_registry_offers_a_reset(
    train_page: AppTest, tiny_bundle
) -> None:
    registry = Registry()
    kept = registry.save(tiny_bundle, dataset="saved before")
    for side in ("-wal", "-shm"):
        registry.db_path.with_name(registry.db_path.name + side).unlink(missing_ok=True)
    registry.db_path.write_bytes(b"this is not a database" * 200)
    at = train_page.run()
    _assert_no_traceback(at)
    assert "damaged" in _alerts(at, "error")
    resets = [b for b in at.button if "reset" in b.label.lower()]
    assert resets, "the message names 'Reset registry', but the page has no such button"
    resets[0].click().run()
    _assert_no_traceback(at)
    assert "damaged" not in _alerts(at, "error")
    assert list(registry.home.glob("registry.sqlite.corrupt-*"))  # the damaged file is kept
    assert (registry.models_dir / kept.run_id).is_dir()  # and so are the model folders
