"""Backups of the whole database, taken while OptiHub serves, and restores into an empty one.

- SQLite: SQLite's online backup API copies the database page by page into a new SQLite
  file, a consistent snapshot even while requests write (they wait a few milliseconds per
  step, never for the whole copy). Restoring copies it back into an empty file the same way.
- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot in one transaction) and
  ``pg_restore`` in one transaction (all or nothing), from the PostgreSQL client programs on
  ``PATH`` or in ``/usr/lib/postgresql/<version>/bin`` (the newest).

A restore refuses a database that already holds tables: restore into a new, empty one (and
point OptiHub at it). The backup holds secrets encrypted with the instance key
(``OPTIHUB_SECRET_KEY``, or ``instance.key`` in the data directory): keep that key with
the backups, apart from them; a restore without it cannot read signing keys or webhook
secrets. After a restore, ``optihub migrate`` (which ``serve`` runs too) brings an older
backup up to this release's schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from optihub.errors import OptiHubError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Pages copied per step of SQLite's backup: writers wait at most one step.
PAGES_PER_STEP = 1024

Progress = Callable[[int, int], None]  # (done, total) pages; 0 total when unknown


class BackupError(OptiHubError):
    code = "backup_failed"


@dataclass(frozen=True)
class Done:
    path: Path
    kind: str  # "sqlite" or "postgresql"
    size: int


def kind_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in {"sqlite", "postgresql"}:
        raise BackupError(f"backups cover SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _libpq_url(url: str) -> str:
    """The URL as the PostgreSQL programs take it: no SQLAlchemy driver name, and no
    password (it goes in PGPASSWORD, not on a command line others can list)."""
    return make_url(url).set(drivername="postgresql", password=None).render_as_string()


def _pg_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = make_url(url).password
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def pg_program(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: on PATH, else the newest Debian PostgreSQL's."""
    found = shutil.which(name)
    if found:
        return found
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / name).exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return str(versions[-1] / name)
    raise BackupError(
        f"{name} was not found: install the PostgreSQL client programs "
        "(Debian: apt-get install postgresql-client)"
    )


def backup(url: str, target: Path, progress: Progress | None = None) -> Done:
    """Write a backup of the database at ``url`` to ``target`` (a new file)."""
    kind = kind_of(url)
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if kind == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(f"there is no database at {source_path}")
            _copy_sqlite(source_path, partial, progress)
        else:
            _run(
                [
                    pg_program("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(partial),
                    _libpq_url(url),
                ],
                "pg_dump",
                _pg_env(url),
            )
        partial.rename(target)  # a backup file is complete or absent
    finally:
        partial.unlink(missing_ok=True)
    return Done(target, kind, target.stat().st_size)


def restore(url: str, source: Path, progress: Progress | None = None) -> Done:
    """Restore the backup ``source`` into the empty database at ``url``."""
    kind = kind_of(url)
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    with source.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        made_by = "sqlite"
    elif head.startswith(PG_MAGIC):
        made_by = "postgresql"
    else:
        raise BackupError(f"{source} is not a backup: neither SQLite's nor pg_dump's format")
    if made_by != kind:
        raise BackupError(
            f"{source} is a {made_by} backup and the database is {kind}: restore it into a"
            f" {made_by} database"
        )
    tables = _tables(url)
    if tables:
        raise BackupError(
            f"the database already holds {len(tables)} tables: restore into a new, empty"
            " database (and point OPTIHUB_DATABASE_URL at it)"
        )
    if kind == "sqlite":
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_sqlite(source, target, progress)
    else:
        _run(
            [
                pg_program("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                "--dbname",
                _libpq_url(url),
                str(source),
            ],
            "pg_restore",
            _pg_env(url),
        )
    return Done(source, kind, source.stat().st_size)


def _tables(url: str) -> list[str]:
    if kind_of(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return []
    engine = create_engine(url if kind_of(url) == "sqlite" else _psycopg(url))
    try:
        with engine.connect() as connection:
            return list(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _psycopg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _copy_sqlite(source: Path, target: Path, progress: Progress | None) -> None:
    def step(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=PAGES_PER_STEP, progress=step)
    # Both connections closed (the context managers only commit).
    src.close()
    dst.close()


def _run(command: list[str], name: str, env: dict[str, str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit status {result.returncode}"
        raise BackupError(f"{name} failed: {last}")
