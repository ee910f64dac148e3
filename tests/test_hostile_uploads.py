"""Hostile and broken input through the pages, under AppTest.

Every file of the data-intake corpus (``tests/test_data.py``) goes through the Data
page and the Predict page: a broken file gives a clear ``st.error`` and leaves the
previous data set (or the last scored file) in place, an odd but readable one loads,
and neither shows a traceback. Model uploads on the Train page — pickles under other
names, zips that point outside themselves, zip bombs, bundles whose ``bundle.json``
lies, bundles from a future format — are refused with a message, keep the current
model, never run the payload (a sentinel file never appears) and write nothing.
Model names that look like paths cannot leave the registry folder when saved.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest
from test_data import BAD, GOOD  # the data-intake corpus: reused, not copied

from neuromkt.act.scoring import score_frame
from neuromkt.data.load import frame_fingerprint
from neuromkt.model.bundle import bundle_to_zip_bytes
from neuromkt.model.registry import Registry
from neuromkt.ui.data_views import ACCEPTED_TYPES
from neuromkt.ui.predict_views import KEY_SCORED, Scored
from neuromkt.ui.predict_views import W_UPLOAD as W_PREDICT_UPLOAD
from neuromkt.ui.state import DATA_PAGE, KEY_BUNDLE, KEY_DATASET, PREDICT_PAGE, TRAIN_PAGE, Dataset
from neuromkt.ui.state import W_UPLOAD as W_DATA_UPLOAD
from neuromkt.ui.train_models import zip_file_name
from neuromkt.ui.train_views import W_SAVE, W_SAVE_NAME
from neuromkt.ui.train_views import W_UPLOAD as W_MODEL_UPLOAD

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PREVIOUS = pd.DataFrame({"spend": [1.5, 2.5, 3.0, 4.0], "channel": ["web", "app"] * 2,
                         "bought": [0, 1, 1, 0]})  # fmt: skip
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{12}$")


# ---------------------------------------------------------------- helpers


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception][:1]
    return at


def _said(at: AppTest, kind: str) -> str:
    """The texts of one kind of alert, as the user reads them (markdown escapes removed)."""
    return " ".join(re.sub(r"\\(.)", r"\1", e.value) for e in getattr(at, kind))


def _dataset(frame: pd.DataFrame, name: str, schema: Any) -> Dataset:
    return Dataset(frame, name, schema, frame_fingerprint(frame))


def _file(name: str, content: bytes) -> tuple[str, bytes, str]:
    """What the file uploader receives for a file: name, bytes, type."""
    return (name, content, "application/octet-stream")


def _refused_by_streamlit(at: AppTest, allowed: list[str]) -> bool:
    """Whether the uploader refused the file's extension before the page saw it.

    In a browser the file chooser offers only the allowed types and the uploader refuses
    others with its own message (see the browser tests); a request that bypasses the
    browser is refused by Streamlit's server, which AppTest reports as an exception.
    """
    messages = [e.value for e in at.exception]
    return bool(messages) and all(
        "Invalid file extension" in m and all(f".{t}" in m for t in allowed) for m in messages
    )


def _tree(*folders: Path) -> set[str]:
    """Every path under ``folders`` (to see that nothing was written)."""
    return {str(p) for folder in folders if folder.exists() for p in folder.rglob("*")}


# ---------------------------------------------------------------- data files: Data page


@pytest.fixture
def data_page() -> AppTest:
    """The Data page with a small table already loaded."""
    from neuromkt.data.schema import infer_schema

    at = AppTest.from_file(APP, default_timeout=120).switch_page(DATA_PAGE)
    at.session_state[KEY_DATASET] = _dataset(PREVIOUS, "previous.csv", infer_schema(PREVIOUS))
    return _ok(at.run())


@pytest.mark.slow
@pytest.mark.parametrize(("file_name", "content", "words"), BAD, ids=[b[0] for b in BAD])
def test_broken_file_on_the_data_page(
    data_page: AppTest, file_name: str, content: bytes, words: tuple[str, ...]
) -> None:
    before = data_page.session_state[KEY_DATASET]
    at = data_page.file_uploader(key=W_DATA_UPLOAD).set_value(_file(file_name, content)).run()
    if Path(file_name).suffix[1:] not in ACCEPTED_TYPES:
        assert _refused_by_streamlit(at, ACCEPTED_TYPES)
        assert at.session_state[KEY_DATASET] is before
        return
    error = _said(_ok(at), "error")
    assert all(word in error for word in words), error
    assert "still in use" in error
    assert "Traceback" not in error
    assert at.session_state[KEY_DATASET] is before
    assert at.header[0].value.replace("\\", "") == "previous.csv"


@pytest.mark.slow
@pytest.mark.parametrize("case", GOOD, ids=[c.file_name for c in GOOD])
def test_odd_file_on_the_data_page(data_page: AppTest, case: Any) -> None:
    uploader = data_page.file_uploader(key=W_DATA_UPLOAD)
    at = _ok(uploader.set_value(_file(case.file_name, case.content)).run())
    assert not at.error, _said(at, "error")
    dataset = at.session_state[KEY_DATASET]
    assert dataset.name == case.file_name
    assert dataset.frame.shape == case.shape


# ---------------------------------------------------------------- data files: Predict page


@pytest.fixture(scope="module")
def last_scored(ecommerce_frame, tiny_bundle) -> Scored:
    """A file scored before the hostile one arrives."""
    rows = ecommerce_frame.head(30)
    frame = score_frame(tiny_bundle, rows, reasons=False)
    return Scored(frame, "scored before.csv", "scored-before", (), False)


@pytest.fixture
def predict_page(tiny_bundle, last_scored: Scored) -> AppTest:
    """The Predict page with a model, no data set (so: upload a file), and a scored file."""
    at = AppTest.from_file(APP, default_timeout=120).switch_page(PREDICT_PAGE)
    at.session_state[KEY_BUNDLE] = tiny_bundle
    at.session_state[KEY_SCORED] = last_scored
    return _ok(at.run())


def _upload_to_predict(at: AppTest, name: str, content: bytes) -> AppTest:
    return _ok(at.file_uploader(key=W_PREDICT_UPLOAD).set_value(_file(name, content)).run())


@pytest.mark.slow
@pytest.mark.parametrize(("file_name", "content", "words"), BAD, ids=[b[0] for b in BAD])
def test_broken_file_on_the_predict_page(
    predict_page: AppTest, last_scored: Scored, file_name: str, content: bytes, words: tuple
) -> None:
    at = predict_page.file_uploader(key=W_PREDICT_UPLOAD).set_value(_file(file_name, content))
    at = at.run()
    if Path(file_name).suffix[1:] not in ACCEPTED_TYPES:
        assert _refused_by_streamlit(at, ACCEPTED_TYPES)
        assert at.session_state[KEY_SCORED] is last_scored
        return
    error = _said(_ok(at), "error")
    assert all(word in error for word in words), error
    assert at.session_state[KEY_SCORED] is last_scored
    assert "scored before.csv" in " ".join(c.value.replace("\\", "") for c in at.caption)


@pytest.mark.slow
@pytest.mark.parametrize("case", GOOD, ids=[c.file_name for c in GOOD])
def test_odd_file_without_the_model_columns_on_the_predict_page(
    predict_page: AppTest, last_scored: Scored, case: Any
) -> None:
    at = _upload_to_predict(predict_page, case.file_name, case.content)
    assert "lacks the column" in _said(at, "error"), _said(at, "error")
    assert at.session_state[KEY_SCORED] is last_scored


# ---------------------------------------------------------------- model uploads: Train page


class _Payload:
    """Unpickling this runs ``open(sentinel, "w")``: the sentinel file shows it ran."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (str(self.sentinel), "w"))


def _zip(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _members(bundle: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle_to_zip_bytes(bundle))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _lying(bundle: Any, change: Callable[[dict[str, Any]], None]) -> bytes:
    """The bundle's zip with ``change`` applied to its bundle.json (weights untouched)."""
    members = _members(bundle)
    doc = json.loads(members["bundle.json"])
    change(doc)
    members["bundle.json"] = json.dumps(doc).encode()
    return _zip(members)


def _torch_save(obj: Any, *, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def _first_tensor_shape(doc: dict[str, Any]) -> None:
    name = next(iter(doc["tensors"]))
    doc["tensors"][name]["shape"] = [d + 1 for d in doc["tensors"][name]["shape"]]


def _more_words(doc: dict[str, Any]) -> None:
    doc["encoders"]["text"][0]["vocab"] += [f"extra{i}" for i in range(50)]


def _more_words_everywhere(doc: dict[str, Any]) -> None:
    _more_words(doc)
    doc["input_spec"]["vocab_sizes"][0] += 50


def _future(doc: dict[str, Any]) -> None:
    doc["format_version"] = 99


def _hostile_bundles(bundle: Any, sentinel: Path) -> list[tuple[str, str, bytes, str]]:
    """(case id, uploaded file name, bytes, words the refusal must contain)."""
    evil = pickle.dumps(_Payload(sentinel), protocol=4)
    real = _members(bundle)
    bomb = {"bundle.json": real["bundle.json"], "weights.safetensors": b"\0" * 40 * 1024**2}
    return [
        ("pickle-as-zip", "model.zip", evil, "pickle"),
        ("pickle-as-safetensors", "weights.safetensors", evil, "pickle"),
        ("torch-save-zip", "model.zip", _torch_save({"x": _Payload(sentinel)}), "pickle"),
        ("torch-save-legacy", "model.zip", _torch_save([_Payload(sentinel)], legacy=True),
         "pickle"),
        ("pickle-member", "model.zip", _zip({**real, "extra.pkl": evil}), "pickle"),
        ("dot-dot", "model.zip", _zip({**real, "../escaped.txt": b"x"}), "outside"),
        ("absolute", "model.zip", _zip({**real, f"{sentinel}.abs": b"x"}), "absolute"),
        ("symlink", "model.zip", _zip(real, link="link"), "symbolic link"),
        ("zip-bomb", "model.zip", _zip(bomb), "zip bomb"),
        ("shape-lie", "model.zip", _lying(bundle, _first_tensor_shape), "shape"),
        ("vocabulary-lie", "model.zip", _lying(bundle, _more_words), "inconsistent"),
        ("vocabulary-lie-everywhere", "model.zip", _lying(bundle, _more_words_everywhere),
         "shape"),
        ("future-format", "model.zip", _lying(bundle, _future), "newer neuromkt"),
        ("not-a-zip", "model.zip", b"PK\x03\x04 this is not really a zip", "zip"),
        ("empty", "model.zip", b"", "not a neuromkt model"),
    ]  # fmt: skip


_CASES = [
    "pickle-as-zip", "pickle-as-safetensors", "torch-save-zip", "torch-save-legacy",
    "pickle-member", "dot-dot", "absolute", "symlink", "zip-bomb", "shape-lie",
    "vocabulary-lie", "vocabulary-lie-everywhere", "future-format", "not-a-zip", "empty",
]  # fmt: skip


@pytest.fixture
def train_page(ecommerce_frame, tiny_bundle) -> AppTest:
    """The Train page with sample rows as the data set and the tiny model loaded."""
    frame = ecommerce_frame.head(300)
    at = AppTest.from_file(APP, default_timeout=120).switch_page(TRAIN_PAGE)
    at.session_state[KEY_DATASET] = _dataset(frame, "300 rows", tiny_bundle.schema)
    at.session_state[KEY_BUNDLE] = tiny_bundle
    return _ok(at.run())


@pytest.mark.slow
@pytest.mark.parametrize("case", _CASES)
def test_hostile_model_upload_is_refused(
    case: str, train_page: AppTest, tiny_bundle, tmp_path: Path
) -> None:
    sentinel = tmp_path / "payload-ran"
    cases = {c[0]: c[1:] for c in _hostile_bundles(tiny_bundle, sentinel)}
    name, content, words = cases[case]
    home = Registry().home
    watched = (tmp_path, home, ROOT)
    before = _tree(tmp_path, home)
    cwd_before = set(os.listdir(ROOT))
    at = train_page.file_uploader(key=W_MODEL_UPLOAD).set_value(_file(name, content)).run()
    if not name.endswith(".zip"):
        assert _refused_by_streamlit(at, ["zip"])
    else:
        error = _said(_ok(at), "error")
        assert words.lower() in error.lower(), error
        assert "still in use" in error  # and the current model is kept
    assert at.session_state[KEY_BUNDLE] is tiny_bundle
    assert not _said(at, "success")
    assert not sentinel.exists(), "the payload ran"
    assert _tree(tmp_path, home) == before, "something was written"
    assert set(os.listdir(ROOT)) == cwd_before
    assert not any((folder / "escaped.txt").exists() for folder in watched)
    assert not any((folder.parent / "escaped.txt").exists() for folder in watched)


def test_a_good_bundle_upload_is_accepted(train_page: AppTest, tiny_bundle) -> None:
    """The control case: the same uploader takes a real bundle."""
    data = bundle_to_zip_bytes(tiny_bundle)
    at = _ok(train_page.file_uploader(key=W_MODEL_UPLOAD).set_value(_file("good.zip", data)).run())
    assert "Loaded" in _said(at, "success")
    loaded = at.session_state[KEY_BUNDLE]
    assert loaded is not tiny_bundle and loaded.name == tiny_bundle.name


# ---------------------------------------------------------------- model names


_NAMES = [
    "../../../escaped",
    "/etc/passwd",
    "..",
    "a/b\\c/../../d",
    "nul\x00byte/../x",
    "x" * 300,
    "<script>alert(1)</script>",
    "\u202ereversed\u202c and \u200bzero width",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", _NAMES, ids=range(len(_NAMES)))
def test_model_names_cannot_leave_the_registry(name: str, train_page: AppTest) -> None:
    registry = Registry()
    outside = registry.home.parent
    before = set(os.listdir(outside))
    train_page.session_state[W_SAVE_NAME] = name  # as a crafted request could send it
    at = _ok(train_page.run())
    at = _ok(at.button(key=W_SAVE).click().run())
    assert "Saved as" in _said(at, "success"), _said(at, "error")
    (run,) = registry.list_runs().itertuples()
    assert RUN_ID.match(run.run_id)
    assert [p.name for p in registry.models_dir.iterdir()] == [run.run_id]
    assert sorted(os.listdir(registry.models_dir / run.run_id)) == [
        "bundle.json", "weights.safetensors"]  # fmt: skip
    assert set(os.listdir(outside)) == before
    expected = {"models", "registry.sqlite", "registry.sqlite-wal", "registry.sqlite-shm"}
    assert set(os.listdir(registry.home)) <= expected
    assert "\x00" not in run.name and len(run.name) <= 120 and run.name.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.zip", zip_file_name(name))
