"""Save and load trained models as self-describing bundles.

A bundle is a folder (or the same two files in a ``.zip``) holding ``bundle.json``
(format version, task, target, schema, encoder state, model and training config,
metrics, history, data fingerprint, creation time, weights checksum and tensor shapes)
and ``weights.safetensors``. Loading never unpickles anything and refuses, with a
``ModelError``, anything that is not exactly such a bundle: pickles, unsafe or
unexpected zip members, zip bombs, damaged or inconsistent descriptions, tampered or
non-finite weights.

Non-finite metric values (NaN, e.g. AUC with one class) are written to ``bundle.json``
as ``null`` so that the file is strict JSON, and read back as ``float("nan")``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import torch

from neuromkt.errors import ModelError

if TYPE_CHECKING:
    from neuromkt.encode import Encoders
    from neuromkt.model import AttentionModel, InputSpec, ModelConfig
    from neuromkt.schema import Schema
    from neuromkt.train import TrainConfig

__all__ = ["FORMAT_VERSION", "ModelBundle", "bundle_to_zip_bytes", "load_bundle", "save_bundle"]

FORMAT_VERSION = 1
BUNDLE_JSON, WEIGHTS = "bundle.json", "weights.safetensors"
TEMP_PREFIX = ".tmp-"  # temporary siblings written while saving
OLD_PREFIX = ".old-"  # a bundle being replaced, removed once the new one is in place
MAX_JSON_BYTES = 64 * 1024**2  # bundle.json larger than this is refused
MAX_TOTAL_BYTES = 2 * 1024**3  # all members of a bundle together, uncompressed
MAX_RATIO = 200  # uncompressed / compressed size above this (for members > 1 MB) is a bomb
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".bin"}
PICKLE_MESSAGE = (
    "This looks like a PyTorch pickle file; neuromkt only loads its own bundles (a .zip "
    "with bundle.json and weights.safetensors), because pickles can run code."
)


@dataclass
class ModelBundle:
    """A trained model with everything needed to apply and explain it.

    Attributes:
        model: The trained network, in eval mode (on CPU after loading).
        encoders: The fitted encoders that turn a frame into model inputs.
        schema: The column roles the model was trained with.
        train_config: The training configuration.
        metrics: JSON-safe metrics, e.g. ``{"validation": {...}, "test": {...}}``.
        data_fingerprint: A fingerprint of the training data.
        created_at: Creation time, ISO 8601 in UTC.
        name: A display name (any text; never used in file paths).
        history: Per-epoch training records.
    """

    model: AttentionModel
    encoders: Encoders
    schema: Schema
    train_config: TrainConfig
    metrics: dict[str, Any]
    data_fingerprint: str
    created_at: str
    name: str
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def task(self) -> str:
        """The task: "binary", "multiclass" or "regression"."""
        return self.schema.task

    @property
    def target(self) -> str:
        """The name of the target column."""
        return self.schema.target

    @property
    def model_config(self) -> ModelConfig:
        """The model's configuration."""
        return self.model.config


# ------------------------------------------------------------------------------ save
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neuromkt")
    except PackageNotFoundError:
        return "unknown"


def _bundle_files(bundle: ModelBundle) -> dict[str, bytes]:
    """The two files of ``bundle``: JSON description and safetensors weights."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    weights = save(tensors, metadata={"format": "pt"})
    doc = {
        "format_version": FORMAT_VERSION,
        "neuromkt_version": _package_version(),
        "task": bundle.task,
        "target": bundle.target,
        "name": bundle.name,
        "created_at": bundle.created_at,
        "data_fingerprint": bundle.data_fingerprint,
        "schema": bundle.schema.to_dict(),
        "encoders": bundle.encoders.to_dict(),
        "model_config": bundle.model.config.to_dict(),
        "input_spec": bundle.model.spec.to_dict(),
        "train_config": bundle.train_config.to_dict(),
        "metrics": _json_safe(bundle.metrics),
        "history": _json_safe(bundle.history),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "tensors": {
            k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
            for k, v in tensors.items()
        },
    }
    text = json.dumps(_json_safe(doc), ensure_ascii=False, indent=1, allow_nan=False)
    return {BUNDLE_JSON: text.encode("utf-8"), WEIGHTS: weights}


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_dir(tmp: Path, path: Path) -> None:
    """Move the finished folder ``tmp`` to ``path``, replacing an older bundle there."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise ModelError(f"Cannot save the model to '{path}': something else is there already.")
    if path.is_dir() and set(os.listdir(path)) - {BUNDLE_JSON, WEIGHTS}:
        raise ModelError(
            f"Cannot save the model to '{path}': the folder holds other files; "
            "choose an empty or new folder."
        )
    if not path.is_dir():
        os.replace(tmp, path)
        return
    old = path.parent / f"{OLD_PREFIX}{uuid.uuid4().hex}"
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def save_bundle(bundle: ModelBundle, path: str | Path) -> Path:
    """Write ``bundle`` to the folder ``path`` (or to a zip file when it ends in ``.zip``).

    The files are written to a temporary sibling, flushed to disk, and moved into place
    with ``os.replace``, so a reader never sees half a bundle. An existing bundle at
    ``path`` is replaced; a folder holding other files is refused.

    Returns:
        The path written.

    Raises:
        ModelError: when ``path`` is occupied by something that is not a bundle.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        if path.suffix.lower() == ".zip":
            _write_synced(tmp, bundle_to_zip_bytes(bundle))
            os.replace(tmp, path)
        else:
            tmp.mkdir()
            for name, data in _bundle_files(bundle).items():
                _write_synced(tmp / name, data)
            _fsync_dir(tmp)
            _replace_dir(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    return path


def bundle_to_zip_bytes(bundle: ModelBundle) -> bytes:
    """The bundle as a zip holding ``bundle.json`` and ``weights.safetensors``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in _bundle_files(bundle).items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


# ------------------------------------------------------------------------ json values
def _json_safe(value: Any) -> Any:
    """Plain JSON values: non-finite floats become None, numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()  # numpy or torch scalar
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    raise TypeError(f"{value!r} ({type(value).__name__}) cannot be stored in {BUNDLE_JSON}")


def _restore_nan(value: Any) -> Any:
    """Inverse of :func:`_json_safe` for metrics: ``None`` values become NaN."""
    if isinstance(value, dict):
        return {k: float("nan") if v is None else _restore_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_nan(v) for v in value]
    return value


# ------------------------------------------------------------------------------ read
def _is_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _read_stream(stream: BinaryIO, label: str) -> bytes:
    if hasattr(stream, "seek"):
        with contextlib.suppress(OSError, ValueError):
            stream.seek(0)
    data = stream.read(MAX_TOTAL_BYTES + 1)
    if not isinstance(data, bytes | bytearray):
        raise ModelError(f"{label} could not be read as a file.")
    if len(data) > MAX_TOTAL_BYTES:
        raise ModelError(f"{label} is larger than 2 GB, too large for a neuromkt model.")
    return bytes(data)


def _read_zip_or_refuse(source: Path | bytes, head: bytes, label: str) -> dict[str, bytes]:
    suffix = source.suffix.lower() if isinstance(source, Path) else ""
    if _is_pickle(head) or (suffix in _PICKLE_SUFFIXES and not head.startswith(_ZIP_MAGIC)):
        raise ModelError(PICKLE_MESSAGE)
    if not head.startswith(_ZIP_MAGIC):
        raise ModelError(
            f"{label} is not a neuromkt model: expected a folder or a .zip holding "
            f"{BUNDLE_JSON} and {WEIGHTS}."
        )
    return _read_zip(source if isinstance(source, Path) else io.BytesIO(source), label)


def _read_folder(path: Path) -> dict[str, bytes]:
    files = {}
    for name in (BUNDLE_JSON, WEIGHTS):
        member = path / name
        if member.is_symlink():
            raise ModelError(f"'{member}' is a symbolic link; a model's files must be real files.")
        if not member.is_file():
            if any(p.suffix.lower() in _PICKLE_SUFFIXES for p in path.iterdir()):
                raise ModelError(PICKLE_MESSAGE)
            raise ModelError(
                f"The folder '{path}' is not a neuromkt model: it has no {name}. A model "
                f"folder holds {BUNDLE_JSON} and {WEIGHTS}."
            )
        limit = MAX_JSON_BYTES if name == BUNDLE_JSON else MAX_TOTAL_BYTES
        if member.stat().st_size > limit:
            raise ModelError(f"'{member}' is too large to be part of a neuromkt model.")
        files[name] = member.read_bytes()
    return files


def _read_source(source: str | Path | bytes | BinaryIO) -> tuple[dict[str, bytes], str]:
    """The two files of a bundle from any supported source, and a label for messages."""
    if isinstance(source, bytes | bytearray | memoryview):
        data, label = bytes(source), "The uploaded file"
        return _read_zip_or_refuse(data, data[:8], label), label
    if hasattr(source, "read"):
        label = f"The file '{Path(str(getattr(source, 'name', 'upload'))).name}'"
        data = _read_stream(source, label)
        return _read_zip_or_refuse(data, data[:8], label), label
    if not isinstance(source, str | os.PathLike):
        raise ModelError(f"Cannot load a model from a {type(source).__name__}.")
    path = Path(source)
    if path.is_dir():
        return _read_folder(path), f"The model folder '{path}'"
    if not path.is_file():
        raise ModelError(f"There is no model at '{path}'; check the path.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    label = f"The file '{path.name}'"
    return _read_zip_or_refuse(path, head, label), label


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


def _members(infos: list[zipfile.ZipInfo], label: str) -> dict[str, zipfile.ZipInfo]:
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
    if total > MAX_TOTAL_BYTES:
        raise ModelError(f"{label} would unpack to {total / 1024**3:.1f} GB; refused (max 2 GB).")
    for info in files:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > MAX_RATIO:
            raise ModelError(
                f"{label} looks like a zip bomb: {info.filename!r} unpacks {ratio:,.0f} times "
                "larger than it is stored; refused."
            )
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    """Read one member, never more than its declared size (and the cap) in total."""
    limit = MAX_JSON_BYTES if info.filename.endswith(BUNDLE_JSON) else MAX_TOTAL_BYTES
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


def _read_zip(source: Path | BinaryIO, label: str) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(source) as zf:
            members = _members(zf.infolist(), label)
            return {name: _read_member(zf, info, label) for name, info in members.items()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{label} is not a valid zip file or is damaged ({exc}).") from exc
    except NotImplementedError as exc:
        raise ModelError(f"{label} uses an unsupported zip compression ({exc}).") from exc


# ------------------------------------------------------------------- document checks
_REQUIRED: dict[str, type] = {
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


def _parse_document(raw: bytes, label: str) -> dict[str, Any]:
    """Parse ``bundle.json`` and check its format version, keys and value types."""
    if len(raw) > MAX_JSON_BYTES:
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
    for key, kind in _REQUIRED.items():
        if key not in doc:
            raise ModelError(f"{label}: {BUNDLE_JSON} lacks the entry {key!r}.")
        if not isinstance(doc[key], kind):
            raise ModelError(
                f"{label}: in {BUNDLE_JSON}, {key!r} should be a {kind.__name__}, "
                f"not a {type(doc[key]).__name__}."
            )
    return doc


@dataclass
class _Parts:
    """The JSON-described pieces of a bundle, rebuilt and checked."""

    schema: Schema
    encoders: Encoders
    model_config: ModelConfig
    spec: InputSpec
    train_config: TrainConfig


def _parse_parts(doc: dict[str, Any], label: str) -> _Parts:
    """Rebuild schema, encoders and configs from the document and check they agree."""
    from neuromkt.encode import Encoders
    from neuromkt.errors import DataError
    from neuromkt.model import InputSpec, ModelConfig
    from neuromkt.schema import Schema
    from neuromkt.train import TrainConfig

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
    parts = _Parts(*built)
    _check_agreement(doc, parts, label)
    return parts


def _check_agreement(doc: dict[str, Any], parts: _Parts, label: str) -> None:
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


def _build_model(
    parts: _Parts, weights: bytes, listed: dict[str, Any], label: str
) -> AttentionModel:
    """The model with its weights, after checking them against a shape-only twin."""
    from neuromkt.model import AttentionModel

    with torch.device("meta"):
        expected = AttentionModel(config=parts.model_config, spec=parts.spec).state_dict()
    tensors = _load_tensors(weights, label)
    _check_tensors(tensors, expected, listed, label)
    model = AttentionModel(config=parts.model_config, spec=parts.spec)
    model.load_state_dict(tensors, strict=True)
    return model.eval()


def load_bundle(source: str | Path | bytes | BinaryIO) -> ModelBundle:
    """Load a bundle from a folder, a ``.zip`` path, zip bytes or an uploaded file.

    Everything is validated before use; the model comes back in eval mode on CPU.

    Raises:
        ModelError: with a plain sentence saying what is wrong, for anything that is
            not a valid neuromkt bundle (including every kind of pickle).
    """
    files, label = _read_source(source)
    raw_json, weights = files[BUNDLE_JSON], files[WEIGHTS]
    if _is_pickle(raw_json[:2]) or _is_pickle(weights[:2]):
        raise ModelError(PICKLE_MESSAGE)
    doc = _parse_document(raw_json, label)
    if hashlib.sha256(weights).hexdigest() != doc["weights_sha256"].lower():
        raise ModelError(
            f"{label}: {WEIGHTS} does not match the checksum recorded in {BUNDLE_JSON}; "
            "the weights were changed or damaged after saving. Save the model again."
        )
    parts = _parse_parts(doc, label)
    return ModelBundle(
        model=_build_model(parts, weights, doc["tensors"], label),
        encoders=parts.encoders,
        schema=parts.schema,
        train_config=parts.train_config,
        metrics=_restore_nan(doc["metrics"]),
        data_fingerprint=doc["data_fingerprint"],
        created_at=doc["created_at"],
        name=doc["name"],
        history=_restore_nan(doc["history"]),
    )
