"""Subscription CRUD in the alert store: the ``subscriptions`` table.

A subscription is stored as its full spec in JSON (the webhook secret included — it
is needed to sign). Guarantees: names are unique (:class:`NameTakenError`), saving is
an upsert by id that keeps ``created_at``, and deleting a subscription in one
transaction also forgets what it saw and cancels what it still had to deliver.
"""

from __future__ import annotations

import json
import sqlite3

from ..errors import StateError
from ._sqlite import SqliteStore, to_datetime
from .models import Subscription, SubscriptionIn


class NameTakenError(StateError):
    """Another subscription already has this name."""


def _sub_from_row(row: sqlite3.Row) -> Subscription:
    spec = json.loads(row["spec"])
    return Subscription.model_validate(
        {
            **spec,
            "id": row["id"],
            "source": row["source"],
            "created_at": to_datetime(row["created_at"]),
            "updated_at": to_datetime(row["updated_at"]),
        }
    )


def _spec_json(sub: SubscriptionIn) -> str:
    spec = sub.model_dump(mode="json", include=set(SubscriptionIn.model_fields))
    spec["webhook_secret"] = sub.webhook_secret.get_secret_value() if sub.webhook_secret else None
    return json.dumps(spec, ensure_ascii=False)


class SubscriptionTable(SqliteStore):
    """The subscription methods of :class:`~monitor.alerts.store.AlertStore`."""

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
