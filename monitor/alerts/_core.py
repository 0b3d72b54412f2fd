"""The state the alert router's parts share, and the rule for touching it.

:class:`RouterState` declares what :class:`~monitor.alerts.service.AlertService`
holds — the config, the store, the in-memory subscriptions and their compiled
matchers, the throttle state, the lock, the dispatcher's wake-up event — so that
matching (:mod:`._recording`), delivery (:mod:`._dispatch`) and the subscription API
(:mod:`._admin`) can each be written on their own against it.

The rule they all keep: one asyncio lock (``_lock``) serialises everything that reads
and writes the in-memory subscription and throttle state together with the store;
``_rebuild`` must be called (under the lock) whenever ``_subs`` changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from ..metrics import Metrics
from .breaking import BreakingDetector
from .config import AlertsConfig
from .matching import Matcher, ThrottleState, compile_subscription
from .models import Subscription
from .store import AlertStore
from .webhook import WebhookSender

# One logger for the whole router, named as before the split, so log filters keep working.
log = logging.getLogger("monitor.alerts.service")


class AlertPublisher(Protocol):
    async def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Publish one record and await the Kafka ack; raise ``PublishError`` on failure."""
        ...


def to_datetime(value: float) -> datetime:
    """An epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(value, tz=UTC)


class RouterState:
    """Attributes shared by the parts of :class:`~monitor.alerts.service.AlertService`.

    Declarations only: ``AlertService.__init__`` sets every one of them.
    """

    config: AlertsConfig
    store: AlertStore
    alerts_topic: str
    dead_topic: str
    _publisher: AlertPublisher
    _metrics: Metrics
    _token_digests: tuple[bytes, ...]
    _clock: Callable[[], float]
    _rand: Callable[[], float]
    _sender: WebhookSender
    _subs: dict[str, Subscription]
    _matchers: tuple[Matcher, ...]
    _throttle: dict[str, ThrottleState]
    _detector: BreakingDetector
    _lock: asyncio.Lock
    _wake: asyncio.Event
    _dispatcher: asyncio.Task[None] | None
    _inflight: set[asyncio.Task[None]]
    _started: bool
    _last_prune: float

    def _rebuild(self) -> None:
        self._matchers = tuple(compile_subscription(s) for s in self._subs.values())
