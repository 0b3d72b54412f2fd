"""The alert store's SQLite plumbing: the schema, the connection and its one thread.

:class:`SqliteStore` is the base the alert store's table groups build on. It
guarantees:

* all SQL runs on one dedicated thread (a single-worker executor), so the event loop
  never blocks on disk and the connection is never shared between threads;
* :meth:`SqliteStore._tx` is one ``BEGIN IMMEDIATE`` transaction: the write lock is
  taken up front, and an exception rolls everything back;
* the database is in WAL mode with ``synchronous=FULL`` (what was committed survives
  a power cut), and a new file is created mode 0600 (it holds webhook secrets);
* every SQLite failure, and use before :meth:`open`, is a :class:`StateError` about
  the file.

The schema is created if missing (``CREATE ... IF NOT EXISTS``) on every open; the
tables are described in :mod:`monitor.alerts.store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..errors import StateError

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    subscription_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    delivery_id TEXT,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at);
CREATE INDEX IF NOT EXISTS alerts_sub_status ON alerts (subscription_id, status);
CREATE INDEX IF NOT EXISTS alerts_delivery ON alerts (delivery_id);
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    published_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    state TEXT NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS breaking_fired (
    topic TEXT PRIMARY KEY,
    fired_at REAL NOT NULL
);
"""


def to_datetime(value: float) -> datetime:
    """A stored epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(value, tz=UTC)


class SqliteStore:
    """One SQLite file on one thread; ``await open()`` before use, ``await close()`` after."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._db is None:
            raise StateError("the alert store is not open", about=str(self.path))
        db = self._db
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, db)
        except sqlite3.Error as exc:
            raise StateError(f"SQLite failed: {exc}", about=str(self.path)) from exc

    @staticmethod
    @contextlib.contextmanager
    def _tx(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front: no upgrade deadlock, no half-done batch.
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # The file holds webhook secrets: readable by the service's user only.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: an alert queued before handle() returned survives a power cut, not just a crash.
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_SCHEMA)
        return db

    async def open(self) -> None:
        """Create or open the database (and its tables). Raises ``StateError`` if it cannot."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-sqlite")
        loop = asyncio.get_running_loop()
        try:
            self._db = await loop.run_in_executor(self._executor, self._connect)
        except (sqlite3.Error, OSError) as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StateError(f"cannot open the alert store: {exc}", about=str(self.path)) from exc

    async def close(self) -> None:
        """Close the connection and stop the thread; safe to call twice."""
        if self._executor is None:
            return
        db, self._db = self._db, None
        executor, self._executor = self._executor, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(executor, db.close)
        executor.shutdown(wait=True)
