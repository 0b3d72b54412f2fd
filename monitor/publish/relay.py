"""Drain the outbox to Kafka, in order, deleting each event once Kafka acknowledged it.

An event leaves the outbox only after every one of its messages (``wire.enriched`` and
each ``wire.topic.<id>``) was acknowledged. When Kafka is unreachable the relay keeps
the events, retries with capped exponential backoff, and reports the outage once (and
again when it ends) instead of once per attempt. A batch that fails part-way is sent
again from its first unacknowledged event: consumers may see a message twice, always
with the same key, ``event_id`` and ``revision``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from ..config import KafkaConfig, OutboxConfig
from ..metrics import Metrics
from ..store import AsyncStore, OutboxRow
from .kafka import KafkaPublisher
from .serialize import event_headers, event_topics

log = logging.getLogger("wiremon.publish")

AckCallback = Callable[[Sequence[OutboxRow], float], Awaitable[None]]


class OutboxRelay:
    """The only writer to Kafka for enriched events; run it as one background task."""

    def __init__(
        self,
        store: AsyncStore,
        publisher: KafkaPublisher,
        kafka: KafkaConfig,
        outbox: OutboxConfig,
        metrics: Metrics,
        on_acked: AckCallback | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.kafka = kafka
        self.config = outbox
        self.metrics = metrics
        self.on_acked = on_acked
        self._wake = asyncio.Event()
        # run() and drain() may overlap (shutdown, --once): one batch at a time, or both would send it
        self._lock = asyncio.Lock()
        self._failing_since: float | None = None
        self.last_ack: float | None = None
        self.delivered = 0

    def wake(self) -> None:
        """New events were accepted: publish without waiting for the idle tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set, then return (``drain`` flushes what is left)."""
        delay = self.config.retry_initial
        while not stop.is_set():
            try:
                sent = await self.publish_batch()
            except Exception as exc:  # a bug or a store error must not kill the relay
                log.exception("outbox relay error: %s; retrying in %.1fs", exc, delay)
                sent = -1
            if sent > 0:
                delay = self.config.retry_initial
                continue
            if sent < 0:
                await _wait_any(stop, None, delay)
                delay = min(delay * 2, self.config.retry_max)
                continue
            self._wake.clear()
            await _wait_any(stop, self._wake, 1.0)

    async def drain(self, timeout: float) -> int:
        """Publish until the outbox is empty or ``timeout`` passes; returns what is left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            remaining = deadline - time.monotonic()
            try:
                sent = await asyncio.wait_for(self.publish_batch(), timeout=max(0.1, remaining))
            except TimeoutError:
                break
            if sent == 0:
                break
            if sent < 0:
                await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return self.store.sync.outbox_count

    async def publish_batch(self) -> int:
        """One batch: events published (>0), 0 when the outbox is empty, -1 on failure."""
        async with self._lock:
            return await self._publish_batch()

    async def _publish_batch(self) -> int:
        rows = await self.store.run(self.store.sync.outbox_batch, self.config.batch_size)
        self.metrics.outbox_pending.set(self.store.sync.outbox_count)
        if not rows:
            return 0
        messages = []
        spans = []
        topics: set[str] = set()
        for row in rows:
            names = event_topics(self.kafka, row.topics)
            topics.update(names)
            headers = event_headers("new" if row.revision == 1 else "updated", row.revision)
            key = row.event_id.encode()
            spans.append(len(names))
            messages.extend((name, key, row.payload, headers) for name in names)
        try:
            await self.publisher.ensure_topics(sorted(topics))
            results = await self.publisher.send_many(messages)
        except Exception as exc:
            self._failed(rows, exc)
            await self.store.run(self.store.sync.outbox_mark_attempt, [r.seq for r in rows])
            return -1
        # the acknowledged prefix leaves the outbox; the rest is retried, in order
        done: list[OutboxRow] = []
        index = 0
        first_error: BaseException | None = None
        for row, span in zip(rows, spans, strict=True):
            errors = [e for e in results[index : index + span] if e is not None]
            index += span
            if errors:
                first_error = errors[0]
                break
            done.append(row)
        now = time.time()
        if done:
            await self.store.run(self.store.sync.outbox_delete, [r.seq for r in done])
            self._succeeded(done, now)
            if self.on_acked is not None:
                try:
                    await self.on_acked(done, now)
                except Exception:
                    log.exception("after-publish hook failed (alerts); events are on Kafka")
        if first_error is not None:
            self._failed(rows[len(done) :], first_error)
            return len(done) if done else -1
        return len(done)

    def _succeeded(self, rows: Sequence[OutboxRow], now: float) -> None:
        m = self.metrics
        m.publish.labels(outcome="ok").inc(len(rows))
        m.kafka_up.set(1)
        m.outbox_pending.set(self.store.sync.outbox_count)
        for row in rows:
            m.pipeline_latency.observe(max(0.0, now - row.accepted_at))
            if row.published_ts is not None:
                m.item_age.observe(max(0.0, now - row.published_ts))
        self.last_ack = now
        self.delivered += len(rows)
        if self._failing_since is not None:
            log.info(
                "Kafka is reachable again after %.1fs; outbox backlog %d",
                now - self._failing_since,
                self.store.sync.outbox_count,
            )
            self._failing_since = None

    def _failed(self, rows: Sequence[OutboxRow], exc: BaseException) -> None:
        self.metrics.publish.labels(outcome="error").inc(len(rows))
        self.metrics.kafka_up.set(0)
        if self._failing_since is None:
            self._failing_since = time.time()
            log.warning(
                "publishing to Kafka at %s failed: %s: %s; %d events stay in the outbox and are retried",
                self.kafka.bootstrap_servers,
                type(exc).__name__,
                exc,
                self.store.sync.outbox_count,
            )


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
