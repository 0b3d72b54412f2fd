"""Durable state of one monitor instance, in one SQLite file (WAL).

Three tables, one database, so that accepting a poll is ONE transaction:

* ``feeds``  — per-feed HTTP validators (ETag, Last-Modified) and failure count;
* ``seen``   — per event id: content hash and revision, so an item is published once
  and a change gives exactly one ``updated`` event, across restarts;
* ``outbox`` — enriched events accepted but not yet acknowledged by Kafka, in order;
* ``outbox_dead`` — poison events: ones Kafka refused, message by message, ``max_attempts``
  times (too large, rejected by a schema registry). Kept for an operator, never retried.

``accept`` writes the outbox rows, the seen rows and the feed validators together: a
feed's state never advances past items that are neither in Kafka nor in the outbox,
and an item in the outbox is never lost by a crash (``synchronous=NORMAL`` under WAL
survives a killed process; ``durability="full"`` also survives power loss).

All keys are feed ids and event ids, so the state of a feed can later move with the
feed to another instance (see DESIGN.md, "Growing past one machine").

The class is synchronous and NOT thread-safe; ``AsyncStore`` runs it on one dedicated
thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import OutboxFullError, StateError

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_success REAL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    event_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    revision INTEGER NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_last_seen ON seen(last_seen);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    topics TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_at REAL NOT NULL,
    published_ts REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox_dead (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    topics TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_at REAL NOT NULL,
    published_ts REAL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class FeedState:
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    last_success: float | None = None


@dataclass(frozen=True, slots=True)
class SeenRecord:
    content_hash: str
    revision: int


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event to write to the outbox (``seq`` is assigned by the store)."""

    event_id: str
    revision: int
    topics: tuple[str, ...]
    payload: bytes
    content_hash: str
    accepted_at: float
    published_ts: float | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    event_id: str
    revision: int
    topics: tuple[str, ...]
    payload: bytes
    accepted_at: float
    published_ts: float | None
    attempts: int


class StateStore:
    """The SQLite state; see the module docstring. Use from one thread only."""

    def __init__(self, path: Path, *, max_outbox: int = 100_000, durability: str = "normal") -> None:
        self.path = path
        self.max_outbox = max_outbox
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StateError(
                    f"state schema version {row[0]} is not supported (expected {SCHEMA_VERSION})",
                    about=str(path),
                )
        except (sqlite3.Error, OSError) as exc:
            raise StateError(
                f"cannot open the state database: {exc}; check state_dir and its permissions", about=str(path)
            ) from None
        self._outbox_count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    # -- feeds
    def feed_state(self, feed_id: str) -> FeedState:
        row = self._db.execute(
            "SELECT etag, last_modified, failures, last_success FROM feeds WHERE feed_id=?", (feed_id,)
        ).fetchone()
        return FeedState(*row) if row else FeedState()

    def save_feed_state(self, feed_id: str, state: FeedState) -> None:
        self._db.execute(
            "INSERT INTO feeds(feed_id, etag, last_modified, failures, last_success, updated_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(feed_id) DO UPDATE SET etag=excluded.etag,"
            " last_modified=excluded.last_modified, failures=excluded.failures,"
            " last_success=excluded.last_success, updated_at=excluded.updated_at",
            (feed_id, state.etag, state.last_modified, state.failures, state.last_success, time.time()),
        )

    # -- seen
    def lookup_seen(self, event_ids: Sequence[str]) -> dict[str, SeenRecord]:
        out: dict[str, SeenRecord] = {}
        ids = list(dict.fromkeys(event_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for event_id, content_hash, revision in self._db.execute(
                f"SELECT event_id, content_hash, revision FROM seen WHERE event_id IN ({marks})", chunk
            ):
                out[event_id] = SeenRecord(content_hash, revision)
        return out

    def prune_seen(self, older_than: float) -> int:
        """Forget items not seen since ``older_than``; returns how many."""
        return self._db.execute("DELETE FROM seen WHERE last_seen < ?", (older_than,)).rowcount

    # -- accept: the one transaction that moves a poll forward
    def accept(
        self,
        feed_id: str,
        state: FeedState,
        events: Sequence[OutboxEvent],
        touched: Iterable[str] = (),
        now: float | None = None,
    ) -> None:
        """Queue ``events``, record them as seen, bump ``touched`` ids, save the feed state.

        All or nothing. Raises ``OutboxFullError`` (and writes nothing) when the outbox
        cannot take every event.
        """
        now = time.time() if now is None else now
        # An empty outbox takes any poll, even one larger than the bound: otherwise a feed
        # with more new items than ``max_outbox`` would be refused forever (a livelock).
        if events and self._outbox_count and self._outbox_count + len(events) > self.max_outbox:
            raise OutboxFullError(
                f"outbox holds {self._outbox_count} of {self.max_outbox} events; {len(events)} new events"
                " refused, the feed's state is not advanced and it will be polled again",
                about=feed_id,
            )
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO outbox(event_id, revision, topics, payload, accepted_at, published_ts)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (
                        e.event_id,
                        e.revision,
                        json.dumps(list(e.topics)),
                        e.payload,
                        e.accepted_at,
                        e.published_ts,
                    )
                    for e in events
                ],
            )
            db.executemany(
                "INSERT INTO seen(event_id, content_hash, revision, last_seen) VALUES (?,?,?,?)"
                " ON CONFLICT(event_id) DO UPDATE SET content_hash=excluded.content_hash,"
                " revision=excluded.revision, last_seen=excluded.last_seen",
                [(e.event_id, e.content_hash, e.revision, now) for e in events],
            )
            db.executemany("UPDATE seen SET last_seen=? WHERE event_id=?", [(now, i) for i in touched])
            self.save_feed_state(feed_id, state)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._outbox_count += len(events)

    # -- outbox
    @property
    def outbox_count(self) -> int:
        return int(self._outbox_count)

    def outbox_batch(self, limit: int) -> list[OutboxRow]:
        rows = self._db.execute(
            "SELECT seq, event_id, revision, topics, payload, accepted_at, published_ts, attempts"
            " FROM outbox ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], r[5], r[6], r[7]) for r in rows]

    def outbox_delete(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            deleted = 0
            for start in range(0, len(seqs), 500):
                chunk = list(seqs[start : start + 500])
                marks = ",".join("?" * len(chunk))
                deleted += self._db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", chunk).rowcount
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._outbox_count -= deleted

    def outbox_mark_attempt(self, seq: int) -> int:
        """Count one refusal of event ``seq`` by Kafka; returns its refusals so far."""
        row = self._db.execute(
            "UPDATE outbox SET attempts=attempts+1 WHERE seq=? RETURNING attempts", (seq,)
        ).fetchone()
        return int(row[0]) if row else 0

    def outbox_bury(self, seq: int, reason: str, now: float | None = None) -> bool:
        """Move event ``seq`` from the outbox to ``outbox_dead`` (one transaction)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO outbox_dead(seq, event_id, revision, topics, payload, accepted_at,"
                " published_ts, attempts, reason, dead_at) SELECT seq, event_id, revision, topics, payload,"
                " accepted_at, published_ts, attempts, ?, ? FROM outbox WHERE seq=?",
                (reason[:1000], time.time() if now is None else now, seq),
            )
            moved = db.execute("DELETE FROM outbox WHERE seq=?", (seq,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._outbox_count -= moved
        return bool(moved)

    def outbox_dead(self) -> list[tuple[OutboxRow, str]]:
        """Every dead event with the reason it was buried, oldest first."""
        rows = self._db.execute(
            "SELECT seq, event_id, revision, topics, payload, accepted_at, published_ts, attempts, reason"
            " FROM outbox_dead ORDER BY seq"
        ).fetchall()
        return [
            (OutboxRow(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], r[5], r[6], r[7]), r[8]) for r in rows
        ]


class AsyncStore:
    """``StateStore`` behind one worker thread: every call is ``await``-able, in order."""

    def __init__(self, store: StateStore) -> None:
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wiremon-state")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        await self.run(self.sync.close)
        self._executor.shutdown(wait=True)
