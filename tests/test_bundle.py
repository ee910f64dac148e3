"""Model bundles: save → load gives the same model; every kind of bad bundle is refused."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from neuromkt.errors import ModelError
from neuromkt.model import bundle as B
from neuromkt.model.bundle import (
    PICKLE_MESSAGE,
    ModelBundle,
    bundle_to_zip_bytes,
    load_bundle,
    save_bundle,
)
from neuromkt.model.bundle_checks import FORMAT_VERSION
from neuromkt.model.inference import predict


@pytest.fixture(scope="module")
def trained(tiny_bundle, ecommerce_frame) -> tuple[ModelBundle, pd.DataFrame]:
    """The shared tiny binary model (numeric, categorical and text inputs) and rows."""
    return tiny_bundle, ecommerce_frame.head(300)


@pytest.fixture(scope="module")
def files(trained) -> dict[str, bytes]:
    """The two files of the tiny bundle."""
    with zipfile.ZipFile(io.BytesIO(bundle_to_zip_bytes(trained[0]))) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def make_zip(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def bundle_zip(files: dict[str, bytes], doc: dict | None = None, weights: bytes | None = None):
    """Zip bytes of ``files`` with bundle.json and/or the weights replaced."""
    raw = files[B.BUNDLE_JSON] if doc is None else json.dumps(doc).encode()
    return make_zip(
        [(B.BUNDLE_JSON, raw), (B.WEIGHTS, files[B.WEIGHTS] if weights is None else weights)]
    )


def document(files: dict[str, bytes]) -> dict:
    return json.loads(files[B.BUNDLE_JSON])


def reweighted(files: dict[str, bytes], change) -> bytes:
    """Zip bytes whose weights were changed by ``change(tensors)``, with the checksum
    updated so that only the later checks can catch the change."""
    tensors = dict(load_tensors(files[B.WEIGHTS]))
    change(tensors)
    weights = save_tensors(tensors)
    doc = document(files)
    doc["weights_sha256"] = B.hashlib.sha256(weights).hexdigest()
    return bundle_zip(files, doc, weights)


def refused(source, match: str) -> ModelError:
    with pytest.raises(ModelError, match=match) as info:
        load_bundle(source)
    return info.value


# ----------------------------------------------------------------------- round trips
def assert_same_model(a: ModelBundle, b: ModelBundle, frame: pd.DataFrame) -> None:
    np.testing.assert_array_equal(predict(a, frame), predict(b, frame))
    assert not b.model.training
    assert next(b.model.parameters()).device.type == "cpu"
    assert b.schema == a.schema and b.task == a.task and b.target == a.target
    assert b.encoders.to_dict() == a.encoders.to_dict()
    assert b.model_config == a.model_config and b.train_config == a.train_config
    assert (b.name, b.created_at, b.data_fingerprint) == (a.name, a.created_at, a.data_fingerprint)
    assert json.dumps(b.metrics) == json.dumps(a.metrics)
    assert json.dumps(b.history) == json.dumps(a.history)


def test_round_trip_folder_zip_path_bytes_and_upload(trained, tmp_path):
    bundle, frame = trained
    folder = save_bundle(bundle, tmp_path / "models" / "m1")
    assert sorted(os.listdir(folder)) == [B.BUNDLE_JSON, B.WEIGHTS]
    assert_same_model(bundle, load_bundle(folder), frame)
    assert_same_model(bundle, load_bundle(str(folder)), frame)
    zip_path = save_bundle(bundle, tmp_path / "m1.zip")
    assert zipfile.is_zipfile(zip_path)
    assert_same_model(bundle, load_bundle(zip_path), frame)
    data = bundle_to_zip_bytes(bundle)
    assert_same_model(bundle, load_bundle(data), frame)
    upload = io.BytesIO(data)
    upload.name = "my model.zip"
    upload.read(10)  # a half-read upload is rewound
    assert_same_model(bundle, load_bundle(upload), frame)
    assert sorted(os.listdir(tmp_path)) == ["m1.zip", "models"]  # no temporary leftovers


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_round_trip_other_tasks(task, tmp_path, task_frame, request):
    bundle = request.getfixturevalue(f"tiny_{task}_bundle")
    again = load_bundle(save_bundle(bundle, tmp_path / task))
    assert_same_model(bundle, again, task_frame)
    expected = (len(task_frame), 3) if task == "multiclass" else (len(task_frame),)
    assert predict(again, task_frame).shape == expected


def test_bundle_json_contents(trained, files):
    doc = document(files)
    bundle = trained[0]
    assert doc["format_version"] == FORMAT_VERSION
    assert (doc["task"], doc["target"]) == ("binary", "purchased")
    assert doc["weights_sha256"] == B.hashlib.sha256(files[B.WEIGHTS]).hexdigest()
    state = bundle.model.state_dict()
    assert doc["tensors"] == {
        k: {"dtype": "float32", "shape": list(v.shape)} for k, v in state.items()
    }
    for key in ("schema", "encoders", "model_config", "input_spec", "train_config"):
        assert isinstance(doc[key], dict)
    assert doc["input_spec"] == bundle.model.spec.to_dict()


def test_nan_metrics_are_strict_json_and_come_back_as_nan(trained, tmp_path):
    bundle = dataclasses.replace(
        trained[0], metrics={"validation": {"roc_auc": float("nan"), "n": 3}, "primary": "x"}
    )
    folder = save_bundle(bundle, tmp_path / "nan")
    text = (folder / B.BUNDLE_JSON).read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    metrics = load_bundle(folder).metrics
    assert math.isnan(metrics["validation"]["roc_auc"]) and metrics["validation"]["n"] == 3


def test_save_replaces_an_old_bundle_but_not_other_folders(trained, tmp_path):
    bundle = trained[0]
    target = tmp_path / "m"
    save_bundle(dataclasses.replace(bundle, name="first"), target)
    save_bundle(dataclasses.replace(bundle, name="second"), target)
    assert load_bundle(target).name == "second"
    assert sorted(os.listdir(tmp_path)) == ["m"]
    busy = tmp_path / "photos"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(ModelError, match="holds other files"):
        save_bundle(bundle, busy)
    assert os.listdir(busy) == ["holiday.jpg"]


def test_failed_save_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ModelError, match="disk full"):
        save_bundle(trained[0], tmp_path / "m")
    with pytest.raises(ModelError, match="disk full"):
        save_bundle(trained[0], tmp_path / "m.zip")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------ pickles
class Payload:
    """Unpickling this creates the file ``path`` (via ``builtins.open``)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_the_payload_is_live(tmp_path):
    """Guard for the tests below: unpickling the payload really creates the file."""
    sentinel = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(sentinel))).close()
    assert sentinel.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickles_are_never_unpickled(files, tmp_path, protocol):
    sentinel = tmp_path / "pwned"
    raw = pickle.dumps({"state_dict": Payload(sentinel)}, protocol=protocol)
    torch_zip = tmp_path / "torch_save.pt"
    torch.save({"weights": Payload(sentinel)}, torch_zip)
    assert zipfile.is_zipfile(torch_zip)  # torch.save's zip with data.pkl inside
    (tmp_path / "model.pt").write_bytes(raw)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / B.BUNDLE_JSON).write_bytes(files[B.BUNDLE_JSON])
    (folder / B.WEIGHTS).write_bytes(raw)
    only_pt = tmp_path / "only_pt"
    only_pt.mkdir()
    (only_pt / "model.pth").write_bytes(raw)
    upload = io.BytesIO(raw)
    upload.name = "model.bin"
    sources = [
        tmp_path / "model.pt",
        raw,
        upload,
        torch_zip,
        torch_zip.read_bytes(),
        bundle_zip(files, weights=raw),
        make_zip([(B.BUNDLE_JSON, raw), (B.WEIGHTS, files[B.WEIGHTS])]),
        folder,
        only_pt,
    ]
    for source in sources:
        error = refused(source, "pickle")
        assert str(error) == PICKLE_MESSAGE
        assert not sentinel.exists()


# ----------------------------------------------------------------- zip structure
@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../bundle.json", "outside the bundle"),
        ("model/../../etc/bundle.json", "outside the bundle"),
        ("/etc/bundle.json", "absolute path"),
        ("C:/bundle.json", "absolute path"),
        ("model\\bundle.json", "backslash"),
    ],
)
def test_unsafe_member_names_are_refused(files, tmp_path, name, match):
    data = make_zip([(name, files[B.BUNDLE_JSON]), (B.WEIGHTS, files[B.WEIGHTS])])
    refused(data, match)
    (tmp_path / "bad.zip").write_bytes(data)
    refused(tmp_path / "bad.zip", match)
    assert sorted(os.listdir(tmp_path)) == ["bad.zip"]


def test_symlinks_duplicates_extras_and_missing_members_are_refused(files):
    link = zipfile.ZipInfo(B.WEIGHTS)
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    refused(make_zip([(B.BUNDLE_JSON, files[B.BUNDLE_JSON]), (link, b"/etc/passwd")]), "link")
    with pytest.warns(UserWarning, match="Duplicate"):
        twice = make_zip([*files.items(), (B.BUNDLE_JSON, files[B.BUNDLE_JSON])])
    refused(twice, "twice")
    refused(make_zip([*files.items(), ("notes.txt", b"hi")]), "unexpected file 'notes.txt'")
    refused(make_zip([*files.items(), ("extra/", b"")]), "unexpected file 'extra/'")
    refused(make_zip([(B.BUNDLE_JSON, files[B.BUNDLE_JSON])]), "no weights.safetensors")
    refused(make_zip([(B.WEIGHTS, files[B.WEIGHTS])]), "no bundle.json")


def test_members_inside_one_folder_are_accepted(files, trained):
    data = make_zip([("my model/", b"")] + [(f"my model/{k}", v) for k, v in files.items()])
    assert_same_model(trained[0], load_bundle(data), trained[1])


def test_zip_bomb_is_refused(files):
    bomb = make_zip([(B.BUNDLE_JSON, files[B.BUNDLE_JSON]), (B.WEIGHTS, bytes(64 * 1024**2))])
    assert len(bomb) < 100_000  # a few tens of KB expanding to 64 MB
    refused(bomb, "zip bomb")


def test_total_size_cap(files, monkeypatch):
    monkeypatch.setattr(B, "MAX_TOTAL_BYTES", 1000)
    refused(bundle_zip(files), "would unpack to")


def test_not_a_zip_or_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    refused(tmp_path / "notes.txt", "not a neuromkt model")
    refused(b"\x00\x01 random bytes", "not a neuromkt model")
    refused(tmp_path / "nothing-here", "There is no model")
    refused(tmp_path, "has no bundle.json")
    refused(b"PK\x03\x04 truncated", "not a valid zip")
    with pytest.raises(ModelError, match="Cannot load a model from a int"):
        load_bundle(42)


def test_symlinked_member_in_a_folder_is_refused(files, tmp_path):
    (tmp_path / "real.json").write_bytes(files[B.BUNDLE_JSON])
    (tmp_path / B.WEIGHTS).write_bytes(files[B.WEIGHTS])
    (tmp_path / B.BUNDLE_JSON).symlink_to(tmp_path / "real.json")
    refused(tmp_path, "symbolic link")


# --------------------------------------------------------------------- bundle.json
def test_bad_json_is_refused(files, monkeypatch):
    weights = (B.WEIGHTS, files[B.WEIGHTS])
    refused(make_zip([(B.BUNDLE_JSON, b"{not json"), weights]), "not valid JSON")
    refused(make_zip([(B.BUNDLE_JSON, b"\xff\xfe"), weights]), "not valid JSON")
    refused(make_zip([(B.BUNDLE_JSON, b"[1, 2]"), weights]), "does not describe a neuromkt")
    monkeypatch.setattr(B, "MAX_JSON_BYTES", 100)
    refused(bundle_zip(files), "too large")


@pytest.mark.parametrize("key", sorted(B._REQUIRED))
def test_missing_keys_are_refused(files, key):
    doc = document(files)
    del doc[key]
    refused(bundle_zip(files, doc), f"lacks the entry '{key}'")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("metrics", [], "'metrics' should be a dict, not a list"),
        ("name", 7, "'name' should be a str"),
        ("format_version", "1", "invalid format_version"),
        ("format_version", True, "invalid format_version"),
        ("format_version", 0, "invalid format_version"),
        ("schema", {"columns": 3}, "'schema' entry .* is damaged"),
        ("model_config", {"d_model": 7, "n_heads": 2}, "'model_config' entry .* is damaged"),
        ("model_config", {"d_model": 16, "n_layers": 10_000}, "implausible"),
        ("input_spec", {"numeric": []}, "'input_spec' entry .* is damaged"),
        ("train_config", {"epochs": 0}, "'train_config' entry .* is damaged"),
        ("encoders", {"numeric": "x"}, "'encoders' entry .* is damaged"),
        ("task", "regression", "names different tasks"),
        ("target", "clicked", "names different targets"),
    ],
)
def test_wrong_values_are_refused(files, key, value, match):
    doc = document(files)
    doc[key] = value
    refused(bundle_zip(files, doc), match)


def test_future_format_version_asks_for_an_upgrade(files):
    doc = {"format_version": 3, "something": "new"}
    error = refused(bundle_zip(files, doc), "made by a newer neuromkt")
    assert "(format 3); upgrade neuromkt to open it" in str(error)


def test_encoder_state_that_lies_is_refused(files):
    doc = document(files)
    column = doc["encoders"]["categorical"][0]
    n_levels = len(column["levels"])
    column["levels"].append("tiktok")
    expected = (
        f"column '{column['name']}' has {n_levels + 1} levels, but the model expects {n_levels}"
    )
    refused(bundle_zip(files, doc), expected)
    doc = document(files)
    text = doc["encoders"]["text"][0]
    text["vocab"].append("zzz")
    refused(
        bundle_zip(files, doc), f"text column '{text['name']}' has .* tokens, but the model expects"
    )
    doc = document(files)
    doc["encoders"]["numeric"] = doc["encoders"]["numeric"][:1]
    refused(bundle_zip(files, doc), "do not match the model's inputs")


def test_consistent_lie_is_caught_by_the_weight_shapes(files):
    doc = document(files)
    doc["encoders"]["categorical"][0]["levels"].append("tiktok")
    doc["input_spec"]["cat_cardinalities"][0] += 1
    rows, width = doc["tensors"]["embed.categorical.weight"]["shape"]
    error = refused(bundle_zip(files, doc), "tensor 'embed.categorical.weight' has shape")
    assert f"[{rows}, {width}] in weights.safetensors" in str(error)
    assert f"needs [{rows + 1}, {width}]" in str(error)


# ------------------------------------------------------------------------ weights
def test_tampered_weights_fail_the_checksum(files):
    weights = bytearray(files[B.WEIGHTS])
    weights[-1] ^= 0xFF
    refused(bundle_zip(files, weights=bytes(weights)), "does not match the checksum")


def test_weights_with_wrong_shapes_missing_extra_or_nonfinite_tensors(files):
    def widen(t):
        t["head.weight"] = torch.zeros(2, t["head.weight"].shape[1])

    d = document(files)["model_config"]["d_model"]
    refused(reweighted(files, widen), rf"'head.weight' has shape \[2, {d}\] .* needs \[1, {d}\]")
    refused(reweighted(files, lambda t: t.pop("norm.bias")), "lacks the tensor 'norm.bias'")
    refused(reweighted(files, lambda t: t.update(spy=torch.zeros(1))), "unexpected tensor 'spy'")

    def poison(t):
        t["norm.weight"] = t["norm.weight"].clone()
        t["norm.weight"][0] = float("nan")

    refused(reweighted(files, poison), "'norm.weight' holds NaN or infinite")

    def halve(t):
        t["norm.weight"] = t["norm.weight"].half()

    refused(reweighted(files, halve), "'norm.weight' is torch.float16")


def test_tensor_listing_that_lies_and_damaged_safetensors(files):
    doc = document(files)
    doc["tensors"]["norm.weight"]["shape"] = [99]
    refused(bundle_zip(files, doc), "lists tensor 'norm.weight' with shape \\[99\\]")
    junk = b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}"
    doc = document(files)
    doc["weights_sha256"] = B.hashlib.sha256(junk).hexdigest()
    refused(bundle_zip(files, doc, junk), "weights.safetensors is damaged")
