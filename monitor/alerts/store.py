"""Durable state of the alert router in SQLite (WAL): subscriptions, what was alerted, deliveries.

All SQL runs on one dedicated thread (a single-worker executor), so the event loop
never blocks on disk and the connection is never shared between threads. Every
method that changes more than one row does it in one transaction.

Tables:

* ``subscriptions``: one row per subscription, the full spec as JSON (the webhook
  secret included — it is needed to sign; the file is created mode 0600).
* ``seen``: ``(subscription_id, event_id) -> last alerted revision``; this is what
  makes "one alert per item per subscriber" survive a restart.
* ``alerts``: every alert made, with its status (history for ``GET /alerts``).
* ``deliveries``: what must still be sent (one alert, or one digest of alerts), with
  attempts and the time of the next try. A delivery being worked on carries a lease
  (``next_attempt_at`` in the future); ``release_leases`` at start makes the ones an
  interrupted process left behind due again.
* ``breaking_fired``: last firing time per topic, so a restart does not fire twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

from pydantic import SecretStr

from ..errors import StateError
from .models import Alert, AlertRecord, AlertStatus, Channel, Subscription, SubscriptionIn

T = TypeVar("T")
DeliveryKind = Literal["alert", "digest"]

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


class NameTakenError(StateError):
    """Another subscription already has this name."""


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to record. ``status`` 'queued' also creates its delivery (id = alert id)."""

    alert: Alert
    channel: Channel
    status: AlertStatus
    published_at: float | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing to send: a single alert or a digest, with its attempts so far."""

    delivery_id: str
    subscription_id: str
    channel: Channel
    kind: DeliveryKind
    body: bytes
    published_at: float | None
    attempts: int


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _sub_from_row(row: sqlite3.Row) -> Subscription:
    spec = json.loads(row["spec"])
    return Subscription.model_validate(
        {
            **spec,
            "id": row["id"],
            "source": row["source"],
            "created_at": _ts(row["created_at"]),
            "updated_at": _ts(row["updated_at"]),
        }
    )


def _spec_json(sub: SubscriptionIn) -> str:
    spec = sub.model_dump(mode="json", include=set(SubscriptionIn.model_fields))
    spec["webhook_secret"] = sub.webhook_secret.get_secret_value() if sub.webhook_secret else None
    return json.dumps(spec, ensure_ascii=False)


class AlertStore:
    """The SQLite store; ``await open()`` before use, ``await close()`` after."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------------------------

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

    # -- subscriptions ------------------------------------------------------------------------

    async def list_subscriptions(self) -> list[Subscription]:
        def q(db: sqlite3.Connection) -> list[Subscription]:
            rows = db.execute("SELECT * FROM subscriptions ORDER BY created_at, id")
            return [_sub_from_row(r) for r in rows]

        return await self._run(q)

    async def count_subscriptions(self) -> int:
        return await self._run(lambda db: int(db.execute("SELECT count(*) FROM subscriptions").fetchone()[0]))

    async def get_subscription(self, sub_id: str) -> Subscription | None:
        def q(db: sqlite3.Connection) -> Subscription | None:
            row = db.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
            return _sub_from_row(row) if row else None

        return await self._run(q)

    async def save_subscription(self, sub: Subscription) -> None:
        """Insert or replace by id. Raises ``NameTakenError`` if another id has the name."""

        def q(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO subscriptions (id, name, source, spec, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                    " source = excluded.source, spec = excluded.spec, updated_at = excluded.updated_at",
                    (
                        sub.id,
                        sub.name,
                        sub.source,
                        _spec_json(sub),
                        sub.created_at.timestamp(),
                        sub.updated_at.timestamp(),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise NameTakenError(f"a subscription named {sub.name!r} already exists") from exc

        await self._run(q)

    async def delete_subscription(self, sub_id: str, now: float) -> bool:
        """Delete it, forget what it saw, cancel what it still had to deliver. False if unknown."""

        def q(db: sqlite3.Connection) -> bool:
            with self._tx(db):
                cur = db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
                if cur.rowcount == 0:
                    return False
                db.execute("DELETE FROM seen WHERE subscription_id = ?", (sub_id,))
                db.execute(
                    "UPDATE deliveries SET state = 'cancelled'"
                    " WHERE subscription_id = ? AND state = 'pending'",
                    (sub_id,),
                )
                db.execute(
                    "UPDATE alerts SET status = 'cancelled', updated_at = ?"
                    " WHERE subscription_id = ? AND status IN ('queued', 'held')",
                    (now, sub_id),
                )
                return True

        return await self._run(q)

    # -- matching state ----------------------------------------------------------------------

    async def last_revisions(self, event_id: str, subscription_ids: Sequence[str]) -> dict[str, int]:
        """For one event: the revision last alerted, per subscription that was alerted at all."""
        if not subscription_ids:
            return {}

        def q(db: sqlite3.Connection) -> dict[str, int]:
            out: dict[str, int] = {}
            ids = list(subscription_ids)
            # Chunked: SQLite caps the number of bound parameters.
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    "SELECT subscription_id, revision FROM seen"
                    f" WHERE event_id = ? AND subscription_id IN ({marks})",
                    (event_id, *chunk),
                ):
                    out[row[0]] = int(row[1])
            return out

        return await self._run(q)

    async def record_alerts(
        self, alerts: Sequence[NewAlert], now: float, breaking: Sequence[tuple[str, float]] = ()
    ) -> None:
        """In one transaction: mark each match alert's (subscription, event) seen at its revision,
        store the alert, create the delivery of each 'queued' alert, and record breaking firings.

        A retried call with the same alerts changes nothing (alert ids are deterministic).
        """

        def q(db: sqlite3.Connection) -> None:
            with self._tx(db):
                for new in alerts:
                    a = new.alert
                    if a.kind == "match":
                        db.execute(
                            "INSERT INTO seen (subscription_id, event_id, revision, at) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT DO UPDATE SET revision = max(revision, excluded.revision),"
                            " at = excluded.at",
                            (a.subscription_id, a.event_id, a.revision, now),
                        )
                    queued = new.status == "queued"
                    cur = db.execute(
                        "INSERT OR IGNORE INTO alerts (alert_id, subscription_id, channel, kind, status,"
                        " delivery_id, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            a.alert_id,
                            a.subscription_id,
                            new.channel,
                            a.kind,
                            new.status,
                            a.alert_id if queued else None,
                            a.model_dump_json(),
                            now,
                            now,
                        ),
                    )
                    if queued and cur.rowcount:
                        db.execute(
                            "INSERT OR IGNORE INTO deliveries (delivery_id, subscription_id, channel, kind,"
                            " body, published_at, attempts, next_attempt_at, state, created_at)"
                            " VALUES (?, ?, ?, 'alert', ?, ?, 0, ?, 'pending', ?)",
                            (
                                a.alert_id,
                                a.subscription_id,
                                new.channel,
                                new.body,
                                new.published_at,
                                now,
                                now,
                            ),
                        )
                for topic, at in breaking:
                    db.execute(
                        "INSERT INTO breaking_fired (topic, fired_at) VALUES (?, ?)"
                        " ON CONFLICT DO UPDATE SET fired_at = excluded.fired_at",
                        (topic, at),
                    )

        await self._run(q)

    async def breaking_fired(self) -> dict[str, float]:
        def q(db: sqlite3.Connection) -> dict[str, float]:
            return {r[0]: float(r[1]) for r in db.execute("SELECT topic, fired_at FROM breaking_fired")}

        return await self._run(q)

    async def sent_since(self, since: float) -> list[tuple[str, float]]:
        """(subscription id, time) of match alerts let through since ``since`` (limit throttle state)."""

        def q(db: sqlite3.Connection) -> list[tuple[str, float]]:
            return [
                (r[0], float(r[1]))
                for r in db.execute(
                    "SELECT subscription_id, created_at FROM alerts WHERE created_at > ? AND kind = 'match'"
                    " AND status IN ('queued', 'delivered', 'dead') ORDER BY created_at",
                    (since,),
                )
            ]

        return await self._run(q)

    async def held_openings(self) -> dict[str, float]:
        """Per subscription with held alerts: when the oldest was held (digest state after restart)."""

        def q(db: sqlite3.Connection) -> dict[str, float]:
            return {
                r[0]: float(r[1])
                for r in db.execute(
                    "SELECT subscription_id, min(created_at) FROM alerts WHERE status = 'held'"
                    " GROUP BY subscription_id"
                )
            }

        return await self._run(q)

    async def flush_digest(
        self, sub_id: str, channel: Channel, digest_id: str, build: Callable[[list[Alert]], bytes], now: float
    ) -> int:
        """Turn a subscription's held alerts into one digest delivery; returns how many went in.

        ``build`` makes the body from the held alerts (oldest first); it runs on the store's
        thread inside the transaction, so no alert is held twice or lost in between.
        """

        def q(db: sqlite3.Connection) -> int:
            with self._tx(db):
                rows = db.execute(
                    "SELECT alert_id, payload FROM alerts WHERE subscription_id = ? AND status = 'held'"
                    " ORDER BY created_at, alert_id",
                    (sub_id,),
                ).fetchall()
                if not rows:
                    return 0
                held = [Alert.model_validate_json(r["payload"]) for r in rows]
                db.execute(
                    "INSERT INTO deliveries (delivery_id, subscription_id, channel, kind, body, published_at,"
                    " attempts, next_attempt_at, state, created_at) VALUES (?, ?, ?, 'digest', ?, NULL, 0, ?,"
                    " 'pending', ?)",
                    (digest_id, sub_id, channel, build(held), now, now),
                )
                db.executemany(
                    "UPDATE alerts SET status = 'queued', delivery_id = ?, updated_at = ? WHERE alert_id = ?",
                    [(digest_id, now, r["alert_id"]) for r in rows],
                )
                return len(rows)

        return await self._run(q)

    # -- deliveries -------------------------------------------------------------------------

    async def release_leases(self, now: float) -> int:
        """Make every pending delivery due now (start-up: resume what a previous run left)."""

        def q(db: sqlite3.Connection) -> int:
            with self._tx(db):
                cur = db.execute(
                    "UPDATE deliveries SET next_attempt_at = ?"
                    " WHERE state = 'pending' AND next_attempt_at > ?",
                    (now, now),
                )
                return cur.rowcount

        return await self._run(q)

    async def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        """Up to ``limit`` pending deliveries due at ``now``, leased until ``lease_until``."""

        def q(db: sqlite3.Connection) -> list[Delivery]:
            with self._tx(db):
                rows = db.execute(
                    "SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
                    " ORDER BY next_attempt_at, created_at LIMIT ?",
                    (now, limit),
                ).fetchall()
                db.executemany(
                    "UPDATE deliveries SET next_attempt_at = ? WHERE delivery_id = ?",
                    [(lease_until, r["delivery_id"]) for r in rows],
                )
            return [
                Delivery(
                    delivery_id=r["delivery_id"],
                    subscription_id=r["subscription_id"],
                    channel=cast(Channel, r["channel"]),
                    kind=cast(DeliveryKind, r["kind"]),
                    body=bytes(r["body"]),
                    published_at=r["published_at"],
                    attempts=int(r["attempts"]),
                )
                for r in rows
            ]

        return await self._run(q)

    async def next_due(self) -> float | None:
        """The earliest ``next_attempt_at`` among pending deliveries (leases included)."""

        def q(db: sqlite3.Connection) -> float | None:
            row = db.execute("SELECT min(next_attempt_at) FROM deliveries WHERE state = 'pending'").fetchone()
            return None if row[0] is None else float(row[0])

        return await self._run(q)

    async def finish(
        self,
        delivery_id: str,
        state: Literal["done", "dead", "cancelled"],
        now: float,
        error: str | None = None,
    ) -> None:
        """Close a delivery; its alerts become delivered / dead / cancelled."""
        status = {"done": "delivered", "dead": "dead", "cancelled": "cancelled"}[state]

        def q(db: sqlite3.Connection) -> None:
            with self._tx(db):
                db.execute(
                    "UPDATE deliveries SET state = ?, last_error = ? WHERE delivery_id = ?",
                    (state, error, delivery_id),
                )
                db.execute(
                    "UPDATE alerts SET status = ?, updated_at = ? WHERE delivery_id = ?",
                    (status, now, delivery_id),
                )

        await self._run(q)

    async def reschedule(self, delivery_id: str, attempts: int, next_attempt_at: float, error: str) -> None:
        """Record a failed attempt and when to try again."""

        def q(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?"
                " WHERE delivery_id = ?",
                (attempts, next_attempt_at, error[:500], delivery_id),
            )

        await self._run(q)

    async def delivery_state(self, delivery_id: str) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of one delivery, for tests and diagnostics."""

        def q(db: sqlite3.Connection) -> tuple[str, int, str | None] | None:
            row = db.execute(
                "SELECT state, attempts, last_error FROM deliveries WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
            return None if row is None else (row[0], int(row[1]), row[2])

        return await self._run(q)

    # -- history ------------------------------------------------------------------------------

    async def recent_alerts(self, limit: int, subscription_id: str | None = None) -> list[AlertRecord]:
        """The newest alerts first, with their status."""

        def q(db: sqlite3.Connection) -> list[AlertRecord]:
            sql = "SELECT payload, status, channel, updated_at FROM alerts"
            args: tuple[object, ...] = ()
            if subscription_id is not None:
                sql += " WHERE subscription_id = ?"
                args = (subscription_id,)
            sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
            return [
                AlertRecord(
                    alert=Alert.model_validate_json(r["payload"]),
                    status=r["status"],
                    channel=r["channel"],
                    updated_at=_ts(r["updated_at"]),
                )
                for r in db.execute(sql, (*args, limit))
            ]

        return await self._run(q)

    async def prune(self, before: float) -> int:
        """Forget finished alerts, deliveries and seen marks older than ``before``; returns rows removed."""

        def q(db: sqlite3.Connection) -> int:
            with self._tx(db):
                n = db.execute(
                    "DELETE FROM alerts WHERE updated_at < ? AND status IN"
                    " ('delivered', 'dead', 'suppressed', 'cancelled')",
                    (before,),
                ).rowcount
                n += db.execute(
                    "DELETE FROM deliveries WHERE created_at < ? AND state != 'pending'", (before,)
                ).rowcount
                n += db.execute("DELETE FROM seen WHERE at < ?", (before,)).rowcount
                return n

        return await self._run(q)


def secret_of(sub: Subscription) -> bytes | None:
    """The webhook secret as bytes (for signing only; never log it)."""
    secret: SecretStr | None = sub.webhook_secret
    return secret.get_secret_value().encode("utf-8") if secret is not None else None
