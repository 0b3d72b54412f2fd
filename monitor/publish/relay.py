"""Drain the outbox to Kafka, in order, deleting each event once Kafka acknowledged it.

An event leaves the outbox only after every one of its messages (``wire.enriched`` and
each ``wire.topic.<id>``) was acknowledged. When Kafka is unreachable the relay keeps
the events, retries with capped exponential backoff, and reports the outage once (and
again when it ends) instead of once per attempt. A batch that fails part-way is sent
again from its first unacknowledged event: consumers may see a message twice, always
with the same key, ``event_id`` and ``revision``.

Poison events. Kafka may refuse one message for good while accepting others: a value
too large for the broker (``MessageSizeTooLargeError``) or one a schema registry
rejects (Tansu answers ``UnknownError``). Such an event would block the ordered outbox
forever, so: when a batch fails only with such per-message errors, the relay sends the
head event *alone* (a broker refuses a whole partition batch, so innocent neighbours
fail with the culprit). Each refusal of an event sent alone counts as one attempt; after
``outbox.max_attempts`` it moves to the ``outbox_dead`` table with an ERROR log line and
``wiremon_outbox_dead_total``, and the relay goes on. Connection-level failures (broker
down, timeouts, leader changes) never count: those events just wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnknownError,
)

from ..config import KafkaConfig, OutboxConfig
from ..metrics import Metrics
from ..store import AsyncStore, OutboxRow
from .kafka import Headers, KafkaPublisher
from .serialize import event_headers, event_topics

log = logging.getLogger("wiremon.publish")

AckCallback = Callable[[Sequence[OutboxRow], float], Awaitable[None]]

# Refusals of a message's content, not of the connection: retrying the same bytes gives
# the same answer. An allow-list, not ``not exc.retriable``: KafkaTimeoutError (broker
# unreachable) is "not retriable" for aiokafka too, and must never bury an event.
POISON_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,  # bigger than the broker's message.max.bytes (or the client's max_request_size)
    RecordListTooLargeError,
    CorruptRecordException,
    UnknownError,  # Tansu's answer for a value its schema registry rejects
)


def is_poison(errors: Sequence[BaseException]) -> bool:
    """True when every error is a per-message refusal (see ``POISON_ERRORS``)."""
    return bool(errors) and all(isinstance(e, POISON_ERRORS) for e in errors)


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
        # set when a batch failed only with poison errors: send the head event alone
        # until it is delivered or buried, to tell the culprit from its neighbours
        self._isolate = False
        self.last_ack: float | None = None
        self.delivered = 0
        self.kafka_ok = False  # the last connect or publish reached Kafka

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
        """One batch: >0 progress (events published or buried), 0 when the outbox is empty, -1 on failure."""
        async with self._lock:
            return await self._publish_batch()

    async def _publish_batch(self) -> int:
        limit = 1 if self._isolate else self.config.batch_size
        rows = await self.store.run(self.store.sync.outbox_batch, limit)
        self.metrics.outbox_pending.set(self.store.sync.outbox_count)
        if not rows:
            return 0
        messages: list[tuple[str, bytes, bytes, Headers]] = []
        spans: list[int] = []
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
            # the batch as a whole (topic creation, connection): never an attempt against an event
            self._failed(rows, exc)
            return -1
        # the acknowledged prefix leaves the outbox; the rest is retried, in order
        done: list[OutboxRow] = []
        index = 0
        first_errors: list[BaseException] = []
        all_errors: list[BaseException] = []
        for row, span in zip(rows, spans, strict=True):
            errors = [e for e in results[index : index + span] if e is not None]
            index += span
            all_errors.extend(errors)
            if errors and not first_errors:
                first_errors = errors
            if not first_errors:
                done.append(row)
        first_error = first_errors[0] if first_errors else None
        now = time.time()
        if done:
            # the hook (alert matching) runs before the delete: a crash in between replays
            # the events to it after the restart, and it drops what it already recorded
            # (subscription, event id, revision), so no alert is lost or doubled
            if self.on_acked is not None:
                try:
                    await self.on_acked(done, now)
                except Exception:
                    log.exception("after-publish hook failed (alerts); events are on Kafka")
            await self.store.run(self.store.sync.outbox_delete, [r.seq for r in done])
            self._succeeded(done, now)
        if first_error is None:
            self._isolate = False
            return len(done)
        if is_poison(all_errors):
            if len(rows) > 1:
                # which event is refused? retry from the head, one event at a time
                self._isolate = True
                return len(done) or 1
            return await self._refused(rows[0], first_error)
        self._failed(rows[len(done) :], first_error)
        return len(done) if done else -1

    async def _refused(self, row: OutboxRow, error: BaseException) -> int:
        """``row``, sent alone, was refused for its content: count it, bury it at the limit."""
        attempts = await self.store.run(self.store.sync.outbox_mark_attempt, row.seq)
        reason = f"{type(error).__name__}: {error}"
        self.metrics.publish.labels(outcome="error").inc()
        if attempts < self.config.max_attempts:
            log.warning(
                "Kafka refused event %s (attempt %d of %d): %s; retrying",
                row.event_id,
                attempts,
                self.config.max_attempts,
                reason,
            )
            return -1
        await self.store.run(self.store.sync.outbox_bury, row.seq, reason)
        self.metrics.outbox_dead.inc()
        self.metrics.outbox_pending.set(self.store.sync.outbox_count)
        self._isolate = False
        log.error(
            "event %s (revision %d) moved to outbox_dead after %d refusals by Kafka: %s;"
            " publishing continues with the next event",
            row.event_id,
            row.revision,
            attempts,
            reason,
            extra={"event_id": row.event_id, "reason": reason},
        )
        return 1

    def _succeeded(self, rows: Sequence[OutboxRow], now: float) -> None:
        m = self.metrics
        m.publish.labels(outcome="ok").inc(len(rows))
        m.kafka_up.set(1)
        self.kafka_ok = True
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
        self.kafka_ok = False
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
