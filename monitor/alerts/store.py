"""Durable state of the alert router in SQLite (WAL): subscriptions, what was alerted, deliveries.

All SQL runs on one dedicated thread (a single-worker executor), so the event loop
never blocks on disk and the connection is never shared between threads. Every
method that changes more than one row does it in one transaction.

:class:`AlertStore` is assembled from one module per idea: the connection and schema
(:mod:`._sqlite`), subscription CRUD (:mod:`._subscriptions`) and the delivery queue
(:mod:`._deliveries`). This module holds what matching records — what was alerted,
held and fired — and the alert history, and re-exports the public names.

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

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from ._deliveries import Delivery, DeliveryKind, DeliveryQueue
from ._sqlite import to_datetime
from ._subscriptions import NameTakenError, SubscriptionTable
from .models import Alert, AlertRecord, AlertStatus, Channel, Subscription

__all__ = ["AlertStore", "Delivery", "DeliveryKind", "NameTakenError", "NewAlert", "secret_of"]


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to record. ``status`` 'queued' also creates its delivery (id = alert id)."""

    alert: Alert
    channel: Channel
    status: AlertStatus
    published_at: float | None
    body: bytes


class AlertStore(SubscriptionTable, DeliveryQueue):
    """The SQLite store; ``await open()`` before use, ``await close()`` after."""

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
                    updated_at=to_datetime(r["updated_at"]),
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
