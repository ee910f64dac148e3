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

This module writes bundles and reads their files from a folder, a path, bytes or an
upload; the checks on zip members, on ``bundle.json`` and on the weights live in
``neuromkt.model.bundle_checks``. The size caps below are read at each load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from neuromkt.errors import ModelError
from neuromkt.model.bundle_checks import (
    BUNDLE_JSON,
    FORMAT_VERSION,
    PICKLE_MESSAGE,
    REQUIRED_KEYS,
    WEIGHTS,
    Limits,
    build_model,
    is_pickle,
    json_safe,
    parse_document,
    parse_parts,
    read_zip,
    restore_nan,
)

if TYPE_CHECKING:
    from neuromkt.data.schema import Schema
    from neuromkt.model.encoders import Encoders
    from neuromkt.model.network import AttentionModel, ModelConfig
    from neuromkt.model.train_config import TrainConfig

__all__ = ["ModelBundle", "bundle_to_zip_bytes", "load_bundle", "save_bundle"]

TEMP_PREFIX = ".tmp-"  # temporary siblings written while saving
OLD_PREFIX = ".old-"  # a bundle being replaced, removed once the new one is in place
MAX_JSON_BYTES = 64 * 1024**2  # bundle.json larger than this is refused
MAX_TOTAL_BYTES = 2 * 1024**3  # all members of a bundle together, uncompressed
MAX_RATIO = 200  # uncompressed / compressed size above this (for members > 1 MB) is a bomb
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".bin"}
_REQUIRED = REQUIRED_KEYS  # the entries bundle.json must have (old name, used by tests)


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

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> bundle.encoders.input_columns[:3], bundle.model_config.d_model
        (['pages_viewed', 'time_on_site_sec', 'ad_slot_score'], 64)
        >>> round(bundle.metrics["test"]["roc_auc"], 3)
        0.822
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
        "metrics": json_safe(bundle.metrics),
        "history": json_safe(bundle.history),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "tensors": {
            k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
            for k, v in tensors.items()
        },
    }
    text = json.dumps(json_safe(doc), ensure_ascii=False, indent=1, allow_nan=False)
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
    # Named after the bundle, so a reader can restore it if the process dies between
    # the two renames (see _restore_replaced).
    old = path.parent / f"{OLD_PREFIX}{path.name}.{uuid.uuid4().hex}"
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
        ModelError: when ``path`` is occupied by something that is not a bundle, or
            the disk refuses the write (full, read-only); nothing half-written is left.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> folder = nm.save_bundle(bundle, Path(tempfile.mkdtemp()) / "my-model")
        >>> sorted(p.name for p in folder.iterdir())
        ['bundle.json', 'weights.safetensors']
        >>> rows = nm.load_sample("ecommerce").head(50)
        >>> bool((nm.predict(nm.load_bundle(folder), rows) == nm.predict(bundle, rows)).all())
        True
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
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ModelError(
            f"Could not save the model to '{path}': {reason}. Free some disk space or "
            "choose another folder, then save again."
        ) from exc
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


# ------------------------------------------------------------------------------ read
def _limits() -> Limits:
    """The size caps as they stand now (read at each call, so they can be changed)."""
    return Limits(MAX_JSON_BYTES, MAX_TOTAL_BYTES, MAX_RATIO)


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
    if is_pickle(head) or (suffix in _PICKLE_SUFFIXES and not head.startswith(_ZIP_MAGIC)):
        raise ModelError(PICKLE_MESSAGE)
    if not head.startswith(_ZIP_MAGIC):
        raise ModelError(
            f"{label} is not a neuromkt model: expected a folder or a .zip holding "
            f"{BUNDLE_JSON} and {WEIGHTS}."
        )
    stream = source if isinstance(source, Path) else io.BytesIO(source)
    return read_zip(stream, label, _limits())


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


def _restore_replaced(path: Path) -> None:
    """Put back a bundle folder that a killed save had moved aside and not yet replaced."""
    if not path.parent.is_dir():
        return
    aside = [
        p
        for p in path.parent.glob(f"{OLD_PREFIX}{path.name}.*")
        if p.is_dir() and {BUNDLE_JSON, WEIGHTS} <= set(os.listdir(p))
    ]
    if aside:
        newest = max(aside, key=lambda p: p.stat().st_mtime)
        with contextlib.suppress(OSError):  # another reader may have restored it first
            os.replace(newest, path)


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
    if not path.exists():
        _restore_replaced(path)
    if path.is_dir():
        return _read_folder(path), f"The model folder '{path}'"
    if not path.is_file():
        raise ModelError(f"There is no model at '{path}'; check the path.")
    with open(path, "rb") as fh:
        head = fh.read(8)
    label = f"The file '{path.name}'"
    return _read_zip_or_refuse(path, head, label), label


def load_bundle(source: str | Path | bytes | BinaryIO) -> ModelBundle:
    """Load a bundle from a folder, a ``.zip`` path, zip bytes or an uploaded file.

    Everything is validated before use; the model comes back in eval mode on CPU.

    Raises:
        ModelError: with a plain sentence saying what is wrong, for anything that is
            not a valid neuromkt bundle (including every kind of pickle).

    Example:
        >>> import neuromkt as nm
        >>> bundle = nm.load_bundle("sample_data/models/ecommerce.zip")
        >>> bundle.task, bundle.target, len(bundle.encoders.input_columns)
        ('binary', 'purchased', 11)
    """
    files, label = _read_source(source)
    raw_json, weights = files[BUNDLE_JSON], files[WEIGHTS]
    if is_pickle(raw_json[:2]) or is_pickle(weights[:2]):
        raise ModelError(PICKLE_MESSAGE)
    doc = parse_document(raw_json, label, _limits())
    if hashlib.sha256(weights).hexdigest() != doc["weights_sha256"].lower():
        raise ModelError(
            f"{label}: {WEIGHTS} does not match the checksum recorded in {BUNDLE_JSON}; "
            "the weights were changed or damaged after saving. Save the model again."
        )
    parts = parse_parts(doc, label)
    return ModelBundle(
        model=build_model(parts, weights, doc["tensors"], label),
        encoders=parts.encoders,
        schema=parts.schema,
        train_config=parts.train_config,
        metrics=restore_nan(doc["metrics"]),
        data_fingerprint=doc["data_fingerprint"],
        created_at=doc["created_at"],
        name=doc["name"],
        history=restore_nan(doc["history"]),
    )
