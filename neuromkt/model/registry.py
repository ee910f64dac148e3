"""The run registry: saved models listed in SQLite, their bundles on disk.

Layout under ``$NEUROMKT_HOME`` (default ``./.neuromkt``, read when each operation
runs, never at import)::

    registry.sqlite          one row per saved run
    models/<run_id>/         that run's bundle (bundle.json + weights.safetensors)

Run ids are generated (UTC time + random hex) and are the only thing used in paths;
the display name is any text the user likes and is stored as text only. Every
operation opens its own SQLite connection (WAL mode, busy timeout), so many Streamlit
sessions in one process can share a registry safely.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from neuromkt.errors import ModelError
from neuromkt.model.bundle import OLD_PREFIX, TEMP_PREFIX, load_bundle, save_bundle
from neuromkt.model.bundle_checks import json_safe as _json_safe
from neuromkt.model.bundle_checks import restore_nan as _restore_nan
from neuromkt.model.metrics import primary_metric

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "BUSY_MESSAGE",
    "COLUMNS",
    "DEFAULT_HOME",
    "Registry",
    "RegistryStore",
    "RunInfo",
    "clean_name",
    "home_dir",
]


DEFAULT_HOME = ".neuromkt"
_SCHEMA_VERSION = 1
COLUMNS = (
    "run_id", "name", "dataset", "data_fingerprint", "target", "task", "primary_metric",
    "primary_value", "higher_is_better", "metrics_json", "params_json", "created_at", "status",
)  # fmt: skip
_CREATE = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    dataset TEXT NOT NULL,
    data_fingerprint TEXT NOT NULL,
    target TEXT NOT NULL,
    task TEXT NOT NULL,
    primary_metric TEXT NOT NULL,
    primary_value REAL,
    higher_is_better INTEGER NOT NULL,
    metrics_json TEXT NOT NULL,
    params_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok'
)"""
BUSY_MESSAGE = "The model registry is busy (another process is writing); try again in a moment."


def home_dir() -> Path:
    """``$NEUROMKT_HOME``, or ``./.neuromkt`` when it is unset, read now."""
    return Path(os.environ.get("NEUROMKT_HOME") or DEFAULT_HOME).expanduser()


class RegistryStore:
    """The registry's home folder and its SQLite file.

    Args:
        home: The folder; ``None`` means ``$NEUROMKT_HOME`` (or ``./.neuromkt``), read
            anew at every operation.
        timeout: Seconds to wait for another writer before giving up.
    """

    def __init__(self, home: Path | str | None = None, *, timeout: float = 5.0) -> None:
        self._home = None if home is None else Path(home)
        self.timeout = timeout

    @property
    def home(self) -> Path:
        """The home folder."""
        return self._home if self._home is not None else home_dir()

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.home / "registry.sqlite"

    @property
    def models_dir(self) -> Path:
        """The folder holding one bundle folder per run."""
        return self.home / "models"

    # ----------------------------------------------------------------- connection
    def _error(self, exc: sqlite3.Error) -> ModelError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return ModelError(BUSY_MESSAGE)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return ModelError(
                f"The model registry file '{self.db_path}' is damaged and cannot be read. "
                "Move it aside (rename it, or use 'Reset registry' which renames it to "
                "registry.sqlite.corrupt-<time>) and neuromkt will start a fresh one; the "
                "model folders under models/ are kept."
            )
        return ModelError(f"The model registry '{self.db_path}' cannot be used ({exc}).")

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A fresh connection; with ``write`` a transaction committed on success."""
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(
                f"Cannot create the model registry folder '{self.home}' ({exc.strerror}); "
                "set NEUROMKT_HOME to a folder you can write to."
            ) from exc
        con = None
        try:
            con = sqlite3.connect(self.db_path, timeout=self.timeout, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._prepare(con)
            if write:
                con.execute("BEGIN IMMEDIATE")
            yield con
            if write:
                con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            if con is not None:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                con.close()

    def _prepare(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == _SCHEMA_VERSION:
            return
        if version > _SCHEMA_VERSION:
            raise ModelError(
                f"The model registry '{self.db_path}' was made by a newer neuromkt; "
                "upgrade neuromkt to use it."
            )
        # The first use; other connections may be here at the same moment. Switching
        # to WAL does not wait for them (SQLite answers "locked" at once), so it is
        # retried up to the timeout; the table is then created under the write lock.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                con.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
        con.execute("BEGIN IMMEDIATE")
        con.execute(_CREATE)
        con.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        con.execute("COMMIT")

    # ------------------------------------------------------------------ damage
    def _is_damaged(self) -> bool:
        try:
            with self._connect() as con:
                return con.execute("PRAGMA quick_check").fetchall() != [("ok",)]
        except ModelError as exc:
            if str(exc) == BUSY_MESSAGE:
                raise  # busy is not damaged: never move a registry that is in use
            return True

    def reset_corrupt(self) -> Path | None:
        """Rename a damaged ``registry.sqlite`` to ``registry.sqlite.corrupt-<time>`` so
        that a fresh registry starts; model folders are kept (``repair`` then lists
        them as orphans). A healthy registry is left alone.

        Returns:
            The new name of the damaged file, or None when nothing was moved.

        Raises:
            ModelError: the registry is busy.
        """
        if not self.db_path.exists() or not self._is_damaged():
            return None
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        moved = self.db_path.with_name(f"{self.db_path.name}.corrupt-{stamp}")
        os.replace(self.db_path, moved)
        for suffix in ("-wal", "-shm"):
            side = self.db_path.with_name(self.db_path.name + suffix)
            if side.exists():
                os.replace(side, moved.with_name(moved.name + suffix))
        return moved


MAX_NAME_CHARS = 120
_DELETING_PREFIX = ".deleting-"
_TEMP_PREFIXES = (TEMP_PREFIX, OLD_PREFIX, _DELETING_PREFIX)
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{12}$")


def clean_name(name: Any, *, default: str = "model") -> str:
    """A display name: control characters (NUL included) removed, at most 120 characters."""
    text = "".join(" " if ch in "\t\n\r" else ch for ch in str(name))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cs"))
    text = " ".join(text.split())[:MAX_NAME_CHARS].strip()
    return text or default


@dataclass(frozen=True)
class RunInfo:
    """One saved run.

    Attributes:
        run_id: Generated id; names the folder ``models/<run_id>``.
        name: Display name (any text).
        dataset: Name of the data set the model was trained on.
        data_fingerprint: Fingerprint of the training data.
        target: Target column.
        task: "binary", "multiclass" or "regression".
        primary_metric: Name of the headline metric (see ``metrics.primary_metric``).
        primary_value: Its validation value (NaN when undefined).
        higher_is_better: Whether a larger ``primary_value`` is better.
        metrics: All metrics as saved (NaN where undefined).
        params: ``{"model": ModelConfig dict, "train": TrainConfig dict}``.
        created_at: When the run was saved, ISO 8601 UTC.
        status: "ok", or "missing" when ``repair`` found its files gone.
        path: Folder of the bundle.
    """

    run_id: str
    name: str
    dataset: str
    data_fingerprint: str
    target: str
    task: str
    primary_metric: str
    primary_value: float
    higher_is_better: bool
    metrics: dict[str, Any] = field(repr=False, hash=False)
    params: dict[str, Any] = field(repr=False, hash=False)
    created_at: str
    status: str
    path: Path


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"


def _to_json(value: Any) -> str:
    return json.dumps(_json_safe(value), ensure_ascii=False, allow_nan=False)


def _metrics_from_json(text: str) -> Any:
    """Metrics as saved; ``null`` (a NaN when saved) becomes NaN again."""
    return _restore_nan(json.loads(text))


def _primary_value(metrics: dict[str, Any], name: str) -> float | None:
    for split in ("validation", "test"):
        part = metrics.get(split)
        if isinstance(part, dict) and isinstance(part.get(name), int | float):
            value = float(part[name])
            return value if math.isfinite(value) else None
    return None


class Registry(RegistryStore):
    """Saved runs under one home folder.

    The folder, the SQLite file, its connections and ``reset_corrupt`` come from
    :class:`neuromkt.model.registry.RegistryStore`; runs and their upkeep are here.

    Args:
        home: The folder; ``None`` means ``$NEUROMKT_HOME`` (or ``./.neuromkt``), read
            anew at every operation.
        timeout: Seconds to wait for another writer before giving up.
    """

    # ------------------------------------------------------------------- runs
    def _row_to_info(self, row: Sequence[Any]) -> RunInfo:
        d = dict(zip(COLUMNS, row, strict=True))
        value = d["primary_value"]
        return RunInfo(
            run_id=d["run_id"],
            name=d["name"],
            dataset=d["dataset"],
            data_fingerprint=d["data_fingerprint"],
            target=d["target"],
            task=d["task"],
            primary_metric=d["primary_metric"],
            primary_value=float("nan") if value is None else float(value),
            higher_is_better=bool(d["higher_is_better"]),
            metrics=_metrics_from_json(d["metrics_json"]),
            params=json.loads(d["params_json"]),
            created_at=d["created_at"],
            status=d["status"],
            path=self.models_dir / d["run_id"],
        )

    def _check_id(self, run_id: str) -> str:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise ModelError(f"{str(run_id)[:80]!r} is not a valid run id.")
        return run_id

    def save(self, bundle: ModelBundle, *, dataset: str) -> RunInfo:
        """Store ``bundle`` as a new run and return its record.

        The bundle folder is written under a temporary name inside ``models/`` and
        moved into place with ``os.replace``; the database row is inserted afterwards
        in one transaction. If the insert fails the folder is removed again, so the
        registry never lists a run without files nor keeps files of an unlisted run.

        Raises:
            ModelError: the registry is busy or damaged, or the bundle cannot be written.
        """
        with self._connect():
            pass  # fail early, before writing files, if the registry is unusable
        run_id = _new_run_id()
        folder = self.models_dir / run_id
        metric, higher = primary_metric(bundle.task)
        row = {
            "run_id": run_id,
            "name": clean_name(bundle.name),
            "dataset": clean_name(dataset, default="(unnamed data)"),
            "data_fingerprint": str(bundle.data_fingerprint),
            "target": str(bundle.target),
            "task": str(bundle.task),
            "primary_metric": metric,
            "primary_value": _primary_value(bundle.metrics, metric),
            "higher_is_better": int(higher),
            "metrics_json": _to_json(bundle.metrics),
            "params_json": _to_json(
                {"model": bundle.model.config.to_dict(), "train": bundle.train_config.to_dict()}
            ),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "ok",
        }
        save_bundle(bundle, folder)
        try:
            with self._connect(write=True) as con:
                marks = ", ".join("?" for _ in COLUMNS)
                con.execute(
                    f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})",
                    [row[c] for c in COLUMNS],
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.get(run_id)

    def list_runs(self) -> pd.DataFrame:
        """All runs, newest first: run_id, name, dataset, task, target, primary_metric,
        primary_value, higher_is_better, created_at, status, data_fingerprint."""
        shown = [c for c in COLUMNS if not c.endswith("_json")]
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(shown)} FROM runs ORDER BY created_at DESC, run_id DESC"
            ).fetchall()
        frame = pd.DataFrame(rows, columns=shown)
        frame["primary_value"] = frame["primary_value"].astype("float64")
        frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
        order = ["run_id", "name", "dataset", "task", "target", "primary_metric"]
        order += ["primary_value", "higher_is_better", "created_at", "status", "data_fingerprint"]
        return frame[order]

    def get(self, run_id: str) -> RunInfo:
        """The record of one run; ModelError if there is none."""
        self._check_id(run_id)
        with self._connect() as con:
            row = con.execute(
                f"SELECT {', '.join(COLUMNS)} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise ModelError(f"There is no saved model with id '{run_id}'.")
        return self._row_to_info(row)

    def load(self, run_id: str) -> ModelBundle:
        """The bundle of one run, named with its current display name."""
        info = self.get(run_id)
        if not info.path.is_dir():
            raise ModelError(
                f"The files of saved model '{info.name}' ({run_id}) are missing; run "
                "the registry check to tidy up, then train or upload the model again."
            )
        bundle = load_bundle(info.path)
        bundle.name = info.name
        return bundle

    def rename(self, run_id: str, name: str) -> RunInfo:
        """Change a run's display name (cleaned, at most 120 characters)."""
        self._check_id(run_id)
        with self._connect(write=True) as con:
            cur = con.execute(
                "UPDATE runs SET name = ? WHERE run_id = ?", (clean_name(name), run_id)
            )
            if cur.rowcount == 0:
                raise ModelError(f"There is no saved model with id '{run_id}'.")
        return self.get(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run: its row and its folder.

        The folder is first moved aside, then the row deleted; if that fails the
        folder is moved back, so a run is never half deleted.
        """
        self._check_id(run_id)
        self.get(run_id)
        folder = self.models_dir / run_id
        aside = self.models_dir / f"{_DELETING_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"
        moved = folder.is_dir() and not folder.is_symlink()
        if moved:
            os.replace(folder, aside)
        try:
            with self._connect(write=True) as con:
                con.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        except BaseException:
            if moved:
                os.replace(aside, folder)
            raise
        if moved:
            shutil.rmtree(aside, ignore_errors=True)

    def compare(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Metrics of several runs side by side.

        Returns:
            One row per metric (``"validation.roc_auc"``, ``"test.rmse"``,
            ``"best_epoch"``, …), one column per run id, in the order given.
        """
        columns = {}
        for run_id in run_ids:
            info = self.get(run_id)
            columns[run_id] = _flatten(info.metrics)
        frame = pd.DataFrame(columns, dtype="float64")
        frame.index.name = "metric"
        return frame

    # ------------------------------------------------------------------ upkeep
    def _problems(self, grace_s: float) -> list[tuple[str, str, str]]:
        """``(kind, message, name)`` per problem; kind is missing, orphan or temp and
        name is the run id or the entry under ``models/``."""
        with self._connect() as con:
            rows = con.execute("SELECT run_id, name, status FROM runs").fetchall()
        known = {run_id for run_id, _, _ in rows}
        found = [
            ("missing", f"Saved model '{name}' ({run_id}) has no files in models/{run_id}.", run_id)
            for run_id, name, status in rows
            if status == "ok" and not (self.models_dir / run_id).is_dir()
        ]
        now = time.time()
        for entry in sorted(self.models_dir.iterdir()):
            try:
                recent = now - entry.lstat().st_mtime < grace_s
            except FileNotFoundError:
                continue  # removed meanwhile by another session
            if entry.name in known or recent:
                continue  # a save or delete may still be under way
            if entry.name.startswith(_TEMP_PREFIXES):
                message = f"Leftover temporary folder models/{entry.name}."
                found.append(("temp", message, entry.name))
            else:
                found.append(
                    ("orphan", f"models/{entry.name} belongs to no saved model.", entry.name)
                )
        return found

    def check(self, *, grace_s: float = 600.0) -> list[str]:
        """Plain-language problems: runs whose folder is missing, folders of no run,
        leftover temporary folders. Entries younger than ``grace_s`` seconds are
        skipped, since another session may be saving them right now."""
        return [message for _, message, _ in self._problems(grace_s)]

    def repair(self, *, grace_s: float = 600.0) -> list[str]:
        """Fix what :meth:`check` finds: remove orphan and temporary folders, mark runs
        without files as "missing". Returns what was done."""
        done = []
        for kind, _, name in self._problems(grace_s):
            if kind == "missing":
                with self._connect(write=True) as con:
                    con.execute("UPDATE runs SET status = 'missing' WHERE run_id = ?", (name,))
                done.append(f"Marked saved model {name} as missing.")
                continue
            path = self.models_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            done.append(f"Removed models/{name}.")
        return done


def _flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat
