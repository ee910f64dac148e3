"""Projects in workspaces: a data set, its column roles, page settings and models.

Layout under ``$NEUROMKT_HOME`` (default ``./.neuromkt``, read at every operation)::

    registry.sqlite                  the run registry's ``runs`` table, plus
                                     ``projects`` and ``project_runs`` (the link table
                                     that says which project and workspace a run is in)
    projects/<project_id>/data.parquet   the data set as loaded
    projects/<project_id>/roles.json     its column roles (``Schema.to_json``)
    projects/<project_id>/settings.json  page settings, ``{page: {name: value}}``
    models/<run_id>/                 bundles, as the registry files them

A workspace is an unguessable key (``secrets.token_urlsafe``); in no-sign-in mode it
lives in the browser's URL, and whoever holds it holds the workspace. Every method
takes the workspace and checks that the project or run belongs to it; an id from
another workspace and an id that does not exist give the same ``ProjectError``, so
the answer leaks nothing about other workspaces.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from neuromkt.data.load import frame_fingerprint
from neuromkt.data.schema import Schema
from neuromkt.errors import DataError, ModelError, ProjectError
from neuromkt.model.registry import Registry, RegistryStore, RunInfo, clean_name

if TYPE_CHECKING:
    from neuromkt.model.bundle import ModelBundle

__all__ = ["ProjectInfo", "ProjectStore", "is_valid_key", "new_workspace_key"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CREATE = (
    """CREATE TABLE IF NOT EXISTS projects (
        project_id TEXT PRIMARY KEY,
        workspace TEXT NOT NULL,
        name TEXT NOT NULL,
        dataset TEXT NOT NULL,
        n_rows INTEGER NOT NULL,
        n_cols INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        sample_key TEXT,
        warnings_json TEXT NOT NULL DEFAULT '[]',
        active_run TEXT,
        created_at TEXT NOT NULL,
        opened_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS projects_workspace ON projects (workspace)",
    """CREATE TABLE IF NOT EXISTS project_runs (
        run_id TEXT PRIMARY KEY,
        project_id TEXT,
        workspace TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS project_runs_project ON project_runs (project_id)",
)
_FIELDS = (
    "project_id", "workspace", "name", "dataset", "n_rows", "n_cols", "fingerprint",
    "sample_key", "warnings_json", "active_run", "created_at", "opened_at",
)  # fmt: skip
_NO_PROJECT = "This project does not exist in your workspace (or was deleted)."
_NO_MODEL = "This model does not exist in your workspace (or was deleted)."


def new_workspace_key() -> str:
    """A fresh, unguessable workspace key (URL-safe, 128 bits)."""
    return secrets.token_urlsafe(16)


def is_valid_key(value: Any) -> bool:
    """Whether ``value`` looks like a workspace key or project id (never proves it exists)."""
    return isinstance(value, str) and bool(_KEY.match(value))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ProjectInfo:
    """One project as listed.

    Attributes:
        project_id: Unguessable id; names the folder ``projects/<project_id>``.
        name: Display name (user text: escape before rendering).
        dataset: The data set's display name.
        n_rows: Rows of the data set.
        n_cols: Columns of the data set.
        n_models: Models saved in the project.
        fingerprint: ``frame_fingerprint`` of the stored data set.
        sample_key: The sample's key when the data set is a bundled sample, else None.
        warnings: Repairs made while the data set was loaded, in plain language.
        active_run: The run id of the project's current model, or None.
        created_at: When it was created, ISO 8601 UTC.
        opened_at: When it was last opened, ISO 8601 UTC.
    """

    project_id: str
    name: str
    dataset: str
    n_rows: int
    n_cols: int
    n_models: int
    fingerprint: str
    sample_key: str | None
    warnings: tuple[str, ...]
    active_run: str | None
    created_at: str
    opened_at: str


class ProjectStore(RegistryStore):
    """Projects and their models under one home folder, always asked per workspace.

    Args:
        home: The folder; ``None`` means ``$NEUROMKT_HOME`` (or ``./.neuromkt``), read
            anew at every operation.
        timeout: Seconds to wait for another writer before giving up.
    """

    @property
    def registry(self) -> Registry:
        """The run registry in the same home folder."""
        return Registry(self._home, timeout=self.timeout)

    @property
    def projects_dir(self) -> Path:
        """The folder holding one folder per project."""
        return self.home / "projects"

    def _prepare(self, con: sqlite3.Connection) -> None:
        super()._prepare(con)
        for statement in _CREATE:
            con.execute(statement)

    # ---------------------------------------------------------------- checks
    def _key(self, value: Any, what: str) -> str:
        if not is_valid_key(value):
            raise ProjectError(
                f"The {what} in this link is not valid; open the link you were given, "
                "or start a new project from Home."
            )
        return value

    def _row(self, con: sqlite3.Connection, workspace: str, project_id: str) -> dict[str, Any]:
        self._key(workspace, "workspace key")
        self._key(project_id, "project id")
        row = con.execute(
            f"SELECT {', '.join(_FIELDS)} FROM projects WHERE project_id = ? AND workspace = ?",
            (project_id, workspace),
        ).fetchone()
        if row is None:
            raise ProjectError(_NO_PROJECT)
        return dict(zip(_FIELDS, row, strict=True))

    def _info(self, con: sqlite3.Connection, d: dict[str, Any]) -> ProjectInfo:
        n_models = con.execute(
            "SELECT COUNT(*) FROM project_runs WHERE project_id = ?", (d["project_id"],)
        ).fetchone()[0]
        return ProjectInfo(
            project_id=d["project_id"], name=d["name"], dataset=d["dataset"],
            n_rows=int(d["n_rows"]), n_cols=int(d["n_cols"]), n_models=int(n_models),
            fingerprint=d["fingerprint"], sample_key=d["sample_key"],
            warnings=tuple(json.loads(d["warnings_json"])), active_run=d["active_run"],
            created_at=d["created_at"], opened_at=d["opened_at"],
        )  # fmt: skip

    def _folder(self, project_id: str) -> Path:
        return self.projects_dir / project_id

    # ---------------------------------------------------------------- projects
    def create_project(
        self,
        workspace: str,
        frame: pd.DataFrame,
        schema: Schema,
        *,
        dataset: str,
        name: str | None = None,
        sample_key: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> ProjectInfo:
        """Store ``frame`` and ``schema`` as a new project of ``workspace``.

        The files are written into a temporary folder that is moved into place before
        the row is inserted; if the insert fails the folder is removed again.

        Raises:
            ProjectError: the workspace key is not valid.
            DataError: the table cannot be stored as Parquet.
        """
        self._key(workspace, "workspace key")
        with self._connect():
            pass  # fail early, before writing files, if the store is unusable
        project_id = secrets.token_urlsafe(16)
        folder = self._folder(project_id)
        tmp = self.projects_dir / f".tmp-{project_id}"
        tmp.mkdir(parents=True)
        try:
            _write_frame(frame, tmp / "data.parquet")
            (tmp / "roles.json").write_text(schema.to_json(), encoding="utf-8")
            (tmp / "settings.json").write_text("{}", encoding="utf-8")
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stamp = _now()
        row = {
            "project_id": project_id, "workspace": workspace,
            "name": clean_name(name or dataset, default="Untitled project"),
            "dataset": clean_name(dataset, default="(unnamed data)"),
            "n_rows": len(frame), "n_cols": frame.shape[1],
            "fingerprint": frame_fingerprint(frame), "sample_key": sample_key,
            "warnings_json": json.dumps([str(w) for w in warnings], ensure_ascii=False),
            "active_run": None, "created_at": stamp, "opened_at": stamp,
        }  # fmt: skip
        try:
            with self._connect(write=True) as con:
                marks = ", ".join("?" for _ in _FIELDS)
                con.execute(
                    f"INSERT INTO projects ({', '.join(_FIELDS)}) VALUES ({marks})",
                    [row[f] for f in _FIELDS],
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.get_project(workspace, project_id)

    def list_projects(self, workspace: str) -> list[ProjectInfo]:
        """The workspace's projects, most recently opened first."""
        self._key(workspace, "workspace key")
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(_FIELDS)} FROM projects WHERE workspace = ? "
                "ORDER BY opened_at DESC, created_at DESC, project_id",
                (workspace,),
            ).fetchall()
            return [self._info(con, dict(zip(_FIELDS, r, strict=True))) for r in rows]

    def get_project(self, workspace: str, project_id: str) -> ProjectInfo:
        """One project of the workspace; ProjectError if it is not there."""
        with self._connect() as con:
            return self._info(con, self._row(con, workspace, project_id))

    def open_project(
        self, workspace: str, project_id: str
    ) -> tuple[ProjectInfo, pd.DataFrame, Schema]:
        """The project, its table and its roles; marks it as opened now.

        Raises:
            ProjectError: the project is not in the workspace, or its files are gone.
        """
        with self._connect(write=True) as con:
            self._row(con, workspace, project_id)
            con.execute(
                "UPDATE projects SET opened_at = ? WHERE project_id = ?", (_now(), project_id)
            )
        info = self.get_project(workspace, project_id)
        folder = self._folder(project_id)
        try:
            frame = pd.read_parquet(folder / "data.parquet")
            schema = Schema.from_json((folder / "roles.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProjectError(
                f"The files of project '{info.name}' are missing or damaged ({exc}); "
                "delete the project and load the data again."
            ) from exc
        frame.attrs["source_name"] = info.dataset
        frame.attrs["load_warnings"] = list(info.warnings)
        return info, frame, schema

    def save_schema(self, workspace: str, project_id: str, schema: Schema) -> None:
        """Replace the project's column roles."""
        with self._connect() as con:
            self._row(con, workspace, project_id)
        _write_text_atomic(self._folder(project_id) / "roles.json", schema.to_json())

    def rename_project(self, workspace: str, project_id: str, name: str) -> ProjectInfo:
        """Change a project's display name (cleaned, at most 120 characters)."""
        with self._connect(write=True) as con:
            self._row(con, workspace, project_id)
            con.execute(
                "UPDATE projects SET name = ? WHERE project_id = ?",
                (clean_name(name, default="Untitled project"), project_id),
            )
        return self.get_project(workspace, project_id)

    def delete_project(self, workspace: str, project_id: str) -> None:
        """Remove a project: its rows, its models (rows and bundles) and its files."""
        with self._connect(write=True) as con:
            self._row(con, workspace, project_id)
            runs = [
                r[0]
                for r in con.execute(
                    "SELECT run_id FROM project_runs WHERE project_id = ?", (project_id,)
                )
            ]
            con.execute("DELETE FROM project_runs WHERE project_id = ?", (project_id,))
            con.execute("DELETE FROM projects WHERE project_id = ?", (project_id,))
        registry = self.registry
        for run_id in runs:
            try:
                registry.delete(run_id)
            except ModelError:  # its row already gone: tidy its folder
                shutil.rmtree(registry.models_dir / run_id, ignore_errors=True)
        folder = self._folder(project_id)
        if folder.is_dir():
            aside = self.projects_dir / f".deleting-{project_id}-{uuid.uuid4().hex[:8]}"
            os.replace(folder, aside)
            shutil.rmtree(aside, ignore_errors=True)

    # ---------------------------------------------------------------- settings
    def load_settings(self, workspace: str, project_id: str) -> dict[str, dict[str, Any]]:
        """The project's page settings, ``{page: {name: value}}`` ({} when none)."""
        with self._connect() as con:
            self._row(con, workspace, project_id)
        try:
            data = json.loads((self._folder(project_id) / "settings.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_settings(
        self, workspace: str, project_id: str, page: str, values: dict[str, Any]
    ) -> None:
        """Replace one page's settings (JSON values only) in the project."""
        settings = self.load_settings(workspace, project_id)
        settings[str(page)] = json.loads(json.dumps(values))
        _write_text_atomic(
            self._folder(project_id) / "settings.json", json.dumps(settings, ensure_ascii=False)
        )

    # ---------------------------------------------------------------- models
    def save_model(
        self,
        workspace: str,
        project_id: str | None,
        bundle: ModelBundle,
        *,
        dataset: str = "",
        make_active: bool = True,
    ) -> RunInfo:
        """Save ``bundle`` in the registry as a model of the project, or of the
        workspace alone when ``project_id`` is None (a model uploaded without data;
        ``dataset`` then names its data for the list)."""
        self._key(workspace, "workspace key")
        if project_id is not None:
            dataset = self.get_project(workspace, project_id).dataset
        run = self.registry.save(bundle, dataset=dataset)
        try:
            with self._connect(write=True) as con:
                if project_id is not None:
                    self._row(con, workspace, project_id)  # deleted meanwhile?
                con.execute(
                    "INSERT INTO project_runs (run_id, project_id, workspace) VALUES (?, ?, ?)",
                    (run.run_id, project_id, workspace),
                )
                if make_active and project_id is not None:
                    con.execute(
                        "UPDATE projects SET active_run = ? WHERE project_id = ?",
                        (run.run_id, project_id),
                    )
        except BaseException:
            self.registry.delete(run.run_id)
            raise
        return run

    def _model_project(self, con: sqlite3.Connection, workspace: str, run_id: Any) -> str:
        self._key(workspace, "workspace key")
        row = con.execute(
            "SELECT project_id FROM project_runs WHERE run_id = ? AND workspace = ?",
            (str(run_id), workspace),
        ).fetchone()
        if row is None:
            raise ProjectError(_NO_MODEL)
        return row[0]

    def list_models(self, workspace: str, project_id: str | None = None) -> pd.DataFrame:
        """The workspace's models (of one project when given), as ``Registry.list_runs``
        lists them, plus a ``project_id`` column."""
        self._key(workspace, "workspace key")
        with self._connect() as con:
            if project_id is not None:
                self._row(con, workspace, project_id)
            query = "SELECT run_id, project_id FROM project_runs WHERE workspace = ?"
            args: tuple[str, ...] = (workspace,)
            if project_id is not None:
                query += " AND project_id = ?"
                args += (project_id,)
            links = dict(con.execute(query, args).fetchall())
        runs = self.registry.list_runs()
        runs = runs[runs["run_id"].isin(list(links))].reset_index(drop=True)
        return runs.assign(project_id=runs["run_id"].map(links))

    def load_model(self, workspace: str, run_id: str) -> ModelBundle:
        """The bundle of one of the workspace's models."""
        with self._connect() as con:
            self._model_project(con, workspace, run_id)
        return self.registry.load(run_id)

    def get_model(self, workspace: str, run_id: str) -> RunInfo:
        """The registry record of one of the workspace's models."""
        with self._connect() as con:
            self._model_project(con, workspace, run_id)
        return self.registry.get(run_id)

    def rename_model(self, workspace: str, run_id: str, name: str) -> RunInfo:
        """Rename one of the workspace's models."""
        with self._connect() as con:
            self._model_project(con, workspace, run_id)
        return self.registry.rename(run_id, name)

    def delete_model(self, workspace: str, run_id: str) -> None:
        """Delete one of the workspace's models (row, link and bundle)."""
        with self._connect(write=True) as con:
            self._model_project(con, workspace, run_id)
            con.execute("DELETE FROM project_runs WHERE run_id = ?", (run_id,))
            con.execute("UPDATE projects SET active_run = NULL WHERE active_run = ?", (run_id,))
        self.registry.delete(run_id)

    def set_active_model(self, workspace: str, project_id: str, run_id: str | None) -> None:
        """Make ``run_id`` (a model of the same workspace) the project's current model."""
        with self._connect(write=True) as con:
            self._row(con, workspace, project_id)
            if run_id is not None:
                self._model_project(con, workspace, run_id)
            con.execute(
                "UPDATE projects SET active_run = ? WHERE project_id = ?", (run_id, project_id)
            )


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    try:
        frame.to_parquet(path, index=False)
    except (ValueError, TypeError, ImportError) as exc:
        raise DataError(
            f"This table cannot be kept in a project ({exc}); columns that mix numbers "
            "and text are the usual cause: save the file with one type per column."
        ) from exc


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
