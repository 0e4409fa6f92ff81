"""The results store of a sweep: one SQLite file, one row per finished run.

Contract:

- Only one process writes (the sweep's parent, or Ray driver); each finished run is one
  ``INSERT`` in its own transaction, so an interruption at any moment (Ctrl-C, kill -9,
  power loss) leaves either the whole row or nothing.
- Rows are keyed by a stable hash of the run's fully resolved configuration
  (:func:`config_key`): the same configuration always maps to the same row, whatever grid
  it came from.
- The file carries a format name and a schema version (``PRAGMA user_version`` plus a
  ``meta`` table). A file that is not SQLite, fails SQLite's integrity check, or was
  written by an incompatible version is refused with one line (:class:`StoreError`) that
  names the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STORE_FORMAT = "anchorlab-sweep-store"
SCHEMA_VERSION = 1
STORE_FILENAME = "sweep.db"


class SweepError(ValueError):
    """A sweep that cannot run as asked; the message says how to fix it."""


class StoreError(SweepError):
    """A results store that cannot be used (damaged, foreign or from another version)."""


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace; refuses NaN and non-JSON values."""
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SweepError(f"a run configuration must be plain JSON data: {error}") from None


def config_key(config: Mapping[str, Any], kind: str) -> str:
    """The store key of a run: sha256 of its kind and canonical JSON configuration."""
    text = canonical_json({"kind": kind, "config": config})
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RunRecord:
    """One finished run as stored."""

    key: str
    kind: str
    cell: dict[str, Any]
    """The axis values of the grid cell that first asked for this run."""
    config: dict[str, Any]
    metrics: dict[str, Any]
    run_dir: str
    """Relative to the sweep directory."""
    seconds: float
    """Wall-clock time of the run itself."""
    cpu_seconds: float | None = None
    """CPU time of the run's process (all its threads): compare runs on a shared machine."""
    finished_at: float = field(default_factory=time.time)
    backend: str = "local"
    threads: int | None = None
    host: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def solution(self) -> str | None:
        value = self.metrics.get("solution")
        return value if isinstance(value, str) else None

    @property
    def seed(self) -> int | None:
        value = self.cell.get("seed", self.config.get("seed"))
        return value if isinstance(value, int) else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    cell        TEXT NOT NULL,
    config      TEXT NOT NULL,
    metrics     TEXT NOT NULL,
    solution    TEXT,
    seed        INTEGER,
    run_dir     TEXT NOT NULL,
    seconds     REAL NOT NULL,
    cpu_seconds REAL,
    finished_at REAL NOT NULL,
    backend     TEXT NOT NULL,
    threads     INTEGER,
    host        TEXT NOT NULL,
    versions    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grids (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    cells      TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

_COLUMNS = (
    "key, kind, cell, config, metrics, solution, seed, run_dir, seconds, cpu_seconds, finished_at, "
    "backend, threads, host, versions"
)


class SweepStore:
    """An open results store (``sweep.db`` in a sweep directory).

    ``SweepStore(path)`` creates the file if it is missing and refuses (``StoreError``) a
    file it cannot trust. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        fix = f"move {self.path} away (or choose another output directory) and rerun"
        if not self.path.exists() and not create:
            raise StoreError(f"{self.path}: no sweep store here; run a sweep into this directory")
        new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self._db = self._connect(read_only=not create)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if new:
                self._create()
            else:
                self._check(fix)
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{self.path} is damaged or not a sweep store ({error}); {fix}"
            ) from None

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        # A store in a directory this user cannot write (a shared, read-only copy) is opened
        # immutable, since SQLite cannot create its side files there; reading still works.
        if read_only and not os.access(self.path.parent, os.W_OK):
            uri = f"{self.path.resolve().as_uri()}?immutable=1"
            return sqlite3.connect(uri, uri=True, isolation_level=None)
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def _create(self) -> None:
        self._db.execute("PRAGMA journal_mode = WAL")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('format', ?), ('created_at', ?)",
                (STORE_FORMAT, str(time.time())),
            )
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        logger.debug("created sweep store %s", self.path)

    def _check(self, fix: str) -> None:
        status = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if status != "ok":
            first = status.splitlines()[0]
            raise StoreError(f"{self.path} is damaged (SQLite: {first}); {fix}")
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            raise StoreError(f"{self.path} is an SQLite file but not a sweep store; {fix}")
        row = self._db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        if row is None or row[0] != STORE_FORMAT:
            raise StoreError(f"{self.path} is an SQLite file but not a sweep store; {fix}")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            newer = "a newer" if version > SCHEMA_VERSION else "an older"
            raise StoreError(
                f"{self.path} was written by {newer} anchorlab (store schema {version}, this "
                f"version reads {SCHEMA_VERSION}); use a matching anchorlab or {fix}"
            )
        if not {"runs", "grids"} <= tables:
            raise StoreError(f"{self.path} is missing tables (damaged); {fix}")

    def _transaction(self):
        return _Transaction(self._db)

    # -- runs --------------------------------------------------------------------------------

    def add(self, record: RunRecord) -> bool:
        """Insert one finished run in its own transaction; False if its key was stored."""
        values = (
            record.key,
            record.kind,
            canonical_json(record.cell),
            canonical_json(record.config),
            json.dumps(record.metrics, sort_keys=True),
            record.solution,
            record.seed,
            record.run_dir,
            record.seconds,
            record.cpu_seconds,
            record.finished_at,
            record.backend,
            record.threads,
            record.host,
            canonical_json(record.versions),
        )
        with self._transaction():
            cursor = self._db.execute(
                f"INSERT OR IGNORE INTO runs ({_COLUMNS}) VALUES ({', '.join('?' * 15)})", values
            )
        return cursor.rowcount == 1

    def keys(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT key FROM runs")}

    def get(self, key: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM runs WHERE key = ?", (key,)).fetchone()
        return _record(row) if row else None

    def records(self, keys: Iterable[str] | None = None) -> list[RunRecord]:
        """Stored runs, all or those of ``keys`` (in that order, missing keys skipped)."""
        if keys is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY finished_at")
            return [_record(row) for row in rows]
        found = []
        for key in keys:
            record = self.get(key)
            if record is not None:
                found.append(record)
        return found

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    # -- grids -------------------------------------------------------------------------------

    def save_grid(self, name: str, spec: Mapping[str, Any], cells: list[dict[str, Any]]) -> None:
        """Remember a grid (its spec and its cells with their keys) under ``name``."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO grids VALUES (?, ?, ?, ?)",
                (name, canonical_json(spec), canonical_json(cells), time.time()),
            )

    def load_grid(self, name: str | None = None) -> tuple[str, dict, list[dict]] | None:
        """(name, spec, cells) of the named grid, or of the one saved last."""
        if name is None:
            query = "SELECT name, spec, cells FROM grids ORDER BY updated_at DESC LIMIT 1"
            row = self._db.execute(query).fetchone()
        else:
            query = "SELECT name, spec, cells FROM grids WHERE name = ?"
            row = self._db.execute(query, (name,)).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1]), json.loads(row[2])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


def _record(row: tuple) -> RunRecord:
    return RunRecord(
        key=row[0],
        kind=row[1],
        cell=json.loads(row[2]),
        config=json.loads(row[3]),
        metrics=json.loads(row[4]),
        run_dir=row[7],
        seconds=row[8],
        cpu_seconds=row[9],
        finished_at=row[10],
        backend=row[11],
        threads=row[12],
        host=row[13],
        versions=json.loads(row[14]),
    )
