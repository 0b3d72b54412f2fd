"""The alert router: matches each enriched event to subscriptions and delivers alerts.

Guarantees:

* ``handle`` persists every alert it makes (and the "seen" mark of the item) in
  SQLite before it returns, in one transaction; a restart neither loses a queued
  alert nor alerts a subscriber twice for the same item (an update re-alerts only
  subscriptions with ``include_updates``).
* Delivery is at-least-once: a delivery interrupted by a stop or crash is retried
  after the next ``start``. ``alert_id`` (and the ``X-Wiremon-Delivery-Id`` header)
  let receivers drop duplicates.
* Webhook deliveries are retried with exponential backoff and jitter; after
  ``webhook_max_attempts`` failures — or at once for a refusal that retrying cannot
  fix (4xx, refused address) — the payload goes to ``<prefix>alerts.dead``.
  Kafka-channel deliveries are retried until Kafka takes them.

The router is assembled from one module per idea: matching and recording
(:mod:`._recording`), delivery workers (:mod:`._dispatch`), the subscription API's
side (:mod:`._admin`), over the state they share (:mod:`._core`). This module wires
them: construction, start-up (config subscriptions, restored state) and shutdown.

Concurrency: one asyncio lock serialises everything that reads and writes the
in-memory subscription and throttle state together with the store (``handle``, digest
flushes, subscription changes); deliveries run concurrently, bounded by
``delivery_concurrency``, owned by one dispatcher task that ``stop`` cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import fastapi

from ..metrics import Metrics
from ._admin import ApiError, SubscriptionAdmin, token_digest
from ._core import AlertPublisher, log, to_datetime
from ._dispatch import HISTORY_SECONDS, LEASE_SECONDS, MAX_IDLE_WAIT, PRUNE_EVERY, DeliveryWorkers
from ._recording import MatchRecorder
from .breaking import BreakingDetector
from .config import AlertsConfig
from .matching import Matcher, ThrottleState
from .models import LimitThrottle, Subscription
from .store import AlertStore
from .webhook import WebhookSender

__all__ = [
    "HISTORY_SECONDS",
    "LEASE_SECONDS",
    "MAX_IDLE_WAIT",
    "PRUNE_EVERY",
    "AlertPublisher",
    "AlertService",
    "ApiError",
]


class AlertService(MatchRecorder, DeliveryWorkers, SubscriptionAdmin):
    """See the module docstring. Lifecycle: ``await start()`` ... ``await stop()``."""

    def __init__(
        self,
        config: AlertsConfig,
        *,
        state_dir: Path,
        topic_prefix: str,
        publisher: AlertPublisher,
        metrics: Metrics,
        api_tokens: Sequence[str],
    ) -> None:
        self.config = config
        self.store = AlertStore(Path(state_dir) / "alerts.sqlite3")
        self.alerts_topic = f"{topic_prefix}alerts"
        self.dead_topic = f"{topic_prefix}alerts.dead"
        self._publisher = publisher
        self._metrics = metrics
        self._token_digests = tuple(token_digest(t) for t in api_tokens if t)
        # Seams for tests: the wall clock and the jitter source.
        self._clock: Callable[[], float] = time.time
        self._rand: Callable[[], float] = random.random
        self._sender = WebhookSender(
            timeout=config.webhook_timeout, allow_private=config.allow_private_webhooks
        )
        self._subs: dict[str, Subscription] = {}
        self._matchers: tuple[Matcher, ...] = ()
        self._throttle: dict[str, ThrottleState] = {}
        self._detector = BreakingDetector(config.breaking_agencies, config.breaking_window_minutes * 60.0)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._started = False
        self._last_prune = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, upsert config subscriptions, restore state, start the dispatcher."""
        await self.store.open()
        try:
            now = self._clock()
            await self._sync_config_subscriptions(now)
            self._subs = {s.id: s for s in await self.store.list_subscriptions()}
            self._rebuild()
            await self._restore_throttle(now)
            self._detector.restore(await self.store.breaking_fired())
            resumed = await self.store.release_leases(now)
            await self._sender.start()
        except BaseException:
            await self.store.close()
            raise
        self._started = True
        if self.config.enabled:
            self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="alerts-dispatcher")
        log.info(
            "alerts: started with %d subscription(s), %d delivery(ies) resumed, store %s",
            len(self._subs),
            resumed,
            self.store.path,
        )

    async def stop(self) -> None:
        """Stop dispatching, give in-flight deliveries up to ``webhook_timeout`` to end, cancel the
        rest (they stay pending and resume at next start), close the HTTP session and the store."""
        if not self._started:
            return
        self._started = False
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=self.config.webhook_timeout + 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._sender.close()
        await self.store.close()

    async def _sync_config_subscriptions(self, now: float) -> None:
        existing = {s.name: s for s in await self.store.list_subscriptions()}
        wanted = {spec.name for spec in self.config.subscriptions}
        for spec in self.config.subscriptions:
            old = existing.get(spec.name)
            if old is not None and old.source == "api":
                log.warning("alerts: config subscription %r replaces the API one of that name", spec.name)
            sub = Subscription.model_validate(
                {
                    **spec.model_dump(),
                    "webhook_secret": spec.webhook_secret,
                    "id": old.id if old else "sub_" + uuid.uuid4().hex[:20],
                    "source": "config",
                    "created_at": old.created_at if old else to_datetime(now),
                    "updated_at": to_datetime(now),
                }
            )
            await self.store.save_subscription(sub)
        for name, old in existing.items():
            if old.source == "config" and name not in wanted:
                log.info("alerts: subscription %r (%s) left the config file; deleting it", name, old.id)
                await self.store.delete_subscription(old.id, now)

    async def _restore_throttle(self, now: float) -> None:
        windows = [
            s.throttle.window_minutes * 60.0
            for s in self._subs.values()
            if isinstance(s.throttle, LimitThrottle)
        ]
        sent: dict[str, list[float]] = {}
        if windows:
            for sub_id, at in await self.store.sent_since(now - max(windows)):
                sent.setdefault(sub_id, []).append(at)
        opened = await self.store.held_openings()
        self._throttle = {
            sub_id: ThrottleState(tuple(sent.get(sub_id, ())), opened.get(sub_id))
            for sub_id in set(sent) | set(opened)
        }

    def router(self) -> fastapi.APIRouter:
        """The subscription API under ``/api/v1`` (see ``api.py``)."""
        from .api import build_router

        router: fastapi.APIRouter = build_router(self)
        return router
