"""Checks that a model bundle is exactly what neuromkt writes, before any of it is used.

Zip members are checked for unsafe names, links, duplicates, encryption, pickles, total
size and compression ratio (zip bombs), and read no further than their declared size.
``bundle.json`` must be strict JSON of a known format version with every entry of the
right type, and its parts (schema, encoders, model and training configuration) must
agree. The weights must hold exactly the tensors the described model has, with the
listed shapes and dtypes, and only finite values. It also holds the JSON value
conversions shared with the run registry (non-finite floats stored as ``null``).
"""

from __future__ import annotations

import json
import math
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import torch

from neuromkt.errors import ModelError

if TYPE_CHECKING:
    from neuromkt.data.schema import Schema
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import AttentionModel, InputSpec, ModelConfig
    from neuromkt.model.train_config import TrainConfig

FORMAT_VERSION = 1  # the newest bundle format this version reads and writes
BUNDLE_JSON, WEIGHTS = "bundle.json", "weights.safetensors"
PICKLE_MESSAGE = (
    "This looks like a PyTorch pickle file; neuromkt only loads its own bundles (a .zip "
    "with bundle.json and weights.safetensors), because pickles can run code."
)


@dataclass(frozen=True)
class Limits:
    """Size caps applied while reading a bundle (``neuromkt.model.bundle`` passes its ``MAX_*``)."""

    max_json_bytes: int  # bundle.json larger than this is refused
    max_total_bytes: int  # all members of a bundle together, uncompressed
    max_ratio: float  # uncompressed / compressed size above this (members > 1 MB) is a bomb


# ------------------------------------------------------------------------ json values
def json_safe(value: Any) -> Any:
    """Plain JSON values: non-finite floats become None, numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()  # numpy or torch scalar
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    raise TypeError(f"{value!r} ({type(value).__name__}) cannot be stored in {BUNDLE_JSON}")


def restore_nan(value: Any) -> Any:
    """Inverse of :func:`json_safe` for metrics: ``None`` values become NaN."""
    if isinstance(value, dict):
        return {k: float("nan") if v is None else restore_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_nan(v) for v in value]
    return value


# ------------------------------------------------------------------------ pickles
def is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts like a pickle stream (protocol 2 to 5)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


# ------------------------------------------------------------------------- zip checks
def _unsafe_name(name: str) -> str | None:
    """Why a zip member name is unsafe, or None."""
    if "\\" in name or "\x00" in name:
        return "contains a backslash or NUL"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "points outside the bundle ('..')"
    return None


def _check_each_member(infos: list[zipfile.ZipInfo], label: str) -> None:
    seen: set[str] = set()
    for info in infos:
        why = _unsafe_name(info.filename)
        if why:
            raise ModelError(f"{label} holds a file whose name {why}: {info.filename!r}; refused.")
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise ModelError(f"{label} holds a symbolic link ({info.filename!r}); refused.")
        if info.filename in seen:
            raise ModelError(f"{label} holds {info.filename!r} twice; refused.")
        if info.flag_bits & 0x1:
            raise ModelError(f"{label} is password-protected; save the model again unprotected.")
        seen.add(info.filename)
    if any(name.endswith((".pkl", ".pickle")) for name in seen):
        raise ModelError(PICKLE_MESSAGE)


def _members(
    infos: list[zipfile.ZipInfo], label: str, limits: Limits
) -> dict[str, zipfile.ZipInfo]:
    """The two expected members by name; they may sit inside one top-level folder."""
    _check_each_member(infos, label)
    files = [i for i in infos if not i.is_dir()]
    prefix = files[0].filename.split("/")[0] + "/" if files else ""
    if not all(i.filename.startswith(prefix) and i.filename.count("/") == 1 for i in files):
        prefix = ""
    members = {i.filename.removeprefix(prefix): i for i in files}
    extra = [n for n in members if n not in (BUNDLE_JSON, WEIGHTS)]
    extra += [i.filename for i in infos if i.is_dir() and (not prefix or i.filename != prefix)]
    if extra:
        raise ModelError(f"{label} holds an unexpected file {extra[0]!r}; refused.")
    for name in (BUNDLE_JSON, WEIGHTS):
        if name not in members:
            raise ModelError(f"{label} is not a neuromkt model: it has no {name}.")
    total = sum(i.file_size for i in files)
    if total > limits.max_total_bytes:
        raise ModelError(f"{label} would unpack to {total / 1024**3:.1f} GB; refused (max 2 GB).")
    for info in files:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > limits.max_ratio:
            raise ModelError(
                f"{label} looks like a zip bomb: {info.filename!r} unpacks {ratio:,.0f} times "
                "larger than it is stored; refused."
            )
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limits: Limits) -> bytes:
    """Read one member, never more than its declared size (and the cap) in total."""
    is_json = info.filename.endswith(BUNDLE_JSON)
    limit = limits.max_json_bytes if is_json else limits.max_total_bytes
    if info.file_size > limit:
        raise ModelError(f"{label}: {info.filename!r} is too large for a neuromkt model.")
    chunks, size = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(min(1024**2, info.file_size + 1 - size)):
            size += len(chunk)
            if size > info.file_size:
                raise ModelError(f"{label}: {info.filename!r} is larger than it claims.")
            chunks.append(chunk)
    return b"".join(chunks)


def read_zip(source: Path | BinaryIO, label: str, limits: Limits) -> dict[str, bytes]:
    """``bundle.json`` and the weights from a zip, after every safety check on its members."""
    try:
        with zipfile.ZipFile(source) as zf:
            members = _members(zf.infolist(), label, limits)
            return {name: _read_member(zf, info, label, limits) for name, info in members.items()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{label} is not a valid zip file or is damaged ({exc}).") from exc
    except NotImplementedError as exc:
        raise ModelError(f"{label} uses an unsupported zip compression ({exc}).") from exc


# ------------------------------------------------------------------- document checks
REQUIRED_KEYS: dict[str, type] = {
    "task": str,
    "target": str,
    "name": str,
    "created_at": str,
    "data_fingerprint": str,
    "schema": dict,
    "encoders": dict,
    "model_config": dict,
    "input_spec": dict,
    "train_config": dict,
    "metrics": dict,
    "history": list,
    "weights_sha256": str,
    "tensors": dict,
}


def parse_document(raw: bytes, label: str, limits: Limits) -> dict[str, Any]:
    """Parse ``bundle.json`` and check its format version, keys and value types."""
    if len(raw) > limits.max_json_bytes:
        raise ModelError(f"{label}: {BUNDLE_JSON} is too large for a neuromkt model.")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(f"{label}: {BUNDLE_JSON} is not valid JSON ({exc}).") from exc
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise ModelError(f"{label}: {BUNDLE_JSON} does not describe a neuromkt model.")
    version = doc["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{label}: {BUNDLE_JSON} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{label} was made by a newer neuromkt (format {version}); upgrade neuromkt to "
            f"open it (this version reads format {FORMAT_VERSION})."
        )
    for key, kind in REQUIRED_KEYS.items():
        if key not in doc:
            raise ModelError(f"{label}: {BUNDLE_JSON} lacks the entry {key!r}.")
        if not isinstance(doc[key], kind):
            raise ModelError(
                f"{label}: in {BUNDLE_JSON}, {key!r} should be a {kind.__name__}, "
                f"not a {type(doc[key]).__name__}."
            )
    return doc


@dataclass
class Parts:
    """The JSON-described pieces of a bundle, rebuilt and checked."""

    schema: Schema
    encoders: Encoders
    model_config: ModelConfig
    spec: InputSpec
    train_config: TrainConfig


def parse_parts(doc: dict[str, Any], label: str) -> Parts:
    """Rebuild schema, encoders and configs from the document and check they agree."""
    from neuromkt.data.schema import Schema
    from neuromkt.errors import DataError
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import InputSpec, ModelConfig
    from neuromkt.model.train_config import TrainConfig

    builders = {
        "schema": Schema.from_dict,
        "encoders": Encoders.from_dict,
        "model_config": ModelConfig.from_dict,
        "input_spec": InputSpec.from_dict,
        "train_config": TrainConfig.from_dict,
    }
    built = []
    for key, build in builders.items():
        try:
            built.append(build(doc[key]))
        except (DataError, ModelError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(
                f"{label}: the {key!r} entry of {BUNDLE_JSON} is damaged ({exc})."
            ) from exc
    parts = Parts(*built)
    _check_agreement(doc, parts, label)
    return parts


def _check_agreement(doc: dict[str, Any], parts: Parts, label: str) -> None:
    """Task, target and input sizes must agree between every part of the description."""
    enc = parts.encoders
    for what, values in (
        ("task", {doc["task"], parts.schema.task, enc.task}),
        ("target", {doc["target"], parts.schema.target, enc.target}),
    ):
        if len(values) != 1:
            found = ", ".join(sorted(repr(v) for v in values))
            raise ModelError(f"{label}: {BUNDLE_JSON} names different {what}s ({found}).")
    cfg = parts.model_config
    if cfg.n_layers > 64 or cfg.d_model > 8192 or cfg.n_frequencies > 1024 or cfg.ffn_factor > 16:
        raise ModelError(f"{label}: the model configuration in {BUNDLE_JSON} is implausible.")
    have, want = enc.spec(), parts.spec
    sizes = (
        ("categorical", "cat_cardinalities", "levels"),
        ("text", "vocab_sizes", "tokens"),
        ("text", "max_lens", "token slots"),
    )
    for kind, attr, unit in sizes:
        wanted = dict(zip(getattr(want, kind), getattr(want, attr), strict=False))
        for name, size in zip(getattr(have, kind), getattr(have, attr), strict=True):
            if name in wanted and wanted[name] != size:
                raise ModelError(
                    f"{label}: the encoder of {kind} column '{name}' has {size} {unit}, but "
                    f"the model expects {wanted[name]}; the bundle is inconsistent."
                )
    if have != want:
        raise ModelError(
            f"{label}: the encoders in {BUNDLE_JSON} do not match the model's inputs "
            "(different columns or number of outputs); the bundle is inconsistent."
        )


# ---------------------------------------------------------------------- weight checks
def _load_tensors(weights: bytes, label: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    try:
        return load(weights)
    except Exception as exc:  # the Rust parser raises its own error type
        raise ModelError(f"{label}: {WEIGHTS} is damaged ({exc}).") from exc


def _check_tensors(
    tensors: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    listed: dict[str, Any],
    label: str,
) -> None:
    """Every tensor present, of the expected shape and dtype, finite, and as listed."""
    for name, meta in expected.items():
        if name not in tensors:
            raise ModelError(f"{label}: {WEIGHTS} lacks the tensor '{name}'.")
        got, want = list(tensors[name].shape), list(meta.shape)
        if got != want:
            raise ModelError(
                f"{label}: tensor '{name}' has shape {got} in {WEIGHTS}, but the model "
                f"described in {BUNDLE_JSON} needs {want}."
            )
        if tensors[name].dtype != meta.dtype:
            raise ModelError(
                f"{label}: tensor '{name}' is {tensors[name].dtype}, not {meta.dtype}."
            )
        entry = listed.get(name)
        if not isinstance(entry, dict) or entry.get("shape") != got:
            raise ModelError(
                f"{label}: {BUNDLE_JSON} lists tensor '{name}' with shape "
                f"{entry.get('shape') if isinstance(entry, dict) else None}, but {WEIGHTS} "
                f"has {got}."
            )
        if tensors[name].is_floating_point() and not torch.isfinite(tensors[name]).all():
            raise ModelError(f"{label}: tensor '{name}' holds NaN or infinite weights.")
    extra = sorted((set(tensors) | set(listed)) - set(expected))
    if extra:
        raise ModelError(f"{label}: {WEIGHTS} has an unexpected tensor '{extra[0]}'.")


def build_model(parts: Parts, weights: bytes, listed: dict[str, Any], label: str) -> AttentionModel:
    """The model with its weights, after checking them against a shape-only twin."""
    from neuromkt.model.network import AttentionModel

    with torch.device("meta"):
        expected = AttentionModel(config=parts.model_config, spec=parts.spec).state_dict()
    tensors = _load_tensors(weights, label)
    _check_tensors(tensors, expected, listed, label)
    model = AttentionModel(config=parts.model_config, spec=parts.spec)
    model.load_state_dict(tensors, strict=True)
    return model.eval()
