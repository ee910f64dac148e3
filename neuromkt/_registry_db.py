"""The SQLite side of the run registry: where the file lives, the ``runs`` table,
connections and what to do when the file is damaged.

:class:`RegistryStore` is the base of :class:`neuromkt.registry.Registry`. Every
operation opens its own connection (WAL mode, busy timeout) through
:meth:`RegistryStore._connect`, and sqlite errors become a ``ModelError`` a marketer
can act on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from neuromkt.errors import ModelError

__all__ = ["BUSY_MESSAGE", "COLUMNS", "DEFAULT_HOME", "RegistryStore", "home_dir"]

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
        con.execute("PRAGMA journal_mode = WAL")
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
