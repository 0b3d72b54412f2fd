"""The alert store's delivery queue: the ``deliveries`` table and its leases.

A delivery is one thing to send (a single alert or a digest of alerts). Guarantees:
a delivery being worked on carries a lease (``next_attempt_at`` in the future), so
:meth:`DeliveryQueue.claim_due` never hands it out twice while the lease runs;
:meth:`DeliveryQueue.release_leases` at start makes the ones an interrupted process
left behind due again; closing a delivery moves its alerts to the matching status
in the same transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal, cast

from ._sqlite import SqliteStore
from .models import Channel

DeliveryKind = Literal["alert", "digest"]


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


class DeliveryQueue(SqliteStore):
    """The delivery methods of :class:`~monitor.alerts.store.AlertStore`."""

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
