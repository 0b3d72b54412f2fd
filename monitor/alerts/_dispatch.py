"""Delivery workers: the dispatcher task and one attempt at each delivery.

The dispatcher (:meth:`DeliveryWorkers._dispatch_loop`) flushes due digests, claims
due deliveries from the store under a lease and runs each as its own task, at most
``delivery_concurrency`` at a time; it sleeps until the next one is due or ``_wake``
is set. Guarantees: delivery is at-least-once (a delivery interrupted by a stop or
crash is retried after the next start; ``alert_id`` and ``X-Wiremon-Delivery-Id`` let
receivers drop duplicates); webhook deliveries are retried with exponential backoff
and jitter, and after ``webhook_max_attempts`` failures — or at once for a refusal
retrying cannot fix — the payload goes to ``<prefix>alerts.dead``; Kafka-channel
deliveries are retried until Kafka takes them. A failing attempt never crashes the
dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from ..errors import PublishError, StateError
from ._core import RouterState, log, to_datetime
from .matching import digest_due, digest_flushed
from .models import ALERT_SCHEMA_ID, DIGEST_SCHEMA_ID, Alert, AlertDigest, Subscription
from .store import Delivery, secret_of
from .webhook import WebhookError, backoff_delay

# A claimed delivery is leased this long; release_leases() at start frees leases an
# interrupted run left, so the value only has to outlast one attempt.
LEASE_SECONDS = 3600.0
MAX_IDLE_WAIT = 30.0
PRUNE_EVERY = 3600.0
HISTORY_SECONDS = 30 * 86_400.0


class DeliveryWorkers(RouterState):
    """The delivery half of :class:`~monitor.alerts.service.AlertService`."""

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                timeout = await self._dispatch_once()
            except StateError as exc:
                log.error("alerts: dispatcher cannot read the store (%s); retrying in 5 s", exc)
                timeout = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _dispatch_once(self) -> float:
        """Flush due digests, start due deliveries; return how long to sleep at most."""
        now = self._clock()
        next_digest = await self._flush_digests(now)
        free = self.config.delivery_concurrency - len(self._inflight)
        claimed: list[Delivery] = []
        if free > 0:
            claimed = await self.store.claim_due(now, free, now + LEASE_SECONDS)
            for d in claimed:
                task = asyncio.create_task(self._deliver(d), name=f"alert-delivery-{d.delivery_id}")
                self._inflight.add(task)
                task.add_done_callback(self._delivery_done)
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            removed = await self.store.prune(now - HISTORY_SECONDS)
            if removed:
                log.info("alerts: pruned %d finished row(s) older than 30 days", removed)
        if free > 0 and len(claimed) == free:
            return 0.0  # maybe more due: go round again
        if free <= 0:
            return MAX_IDLE_WAIT  # a finishing delivery wakes us
        wake_at = [t for t in (await self.store.next_due(), next_digest) if t is not None]
        return max(0.0, min([MAX_IDLE_WAIT, *(t - now for t in wake_at)]))

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("alerts: delivery task crashed", exc_info=task.exception())
        self._wake.set()

    async def _flush_digests(self, now: float) -> float | None:
        """Send digests that are due; return when the next one is due."""
        next_due: float | None = None
        async with self._lock:
            for sub_id, state in list(self._throttle.items()):
                sub = self._subs.get(sub_id)
                due = digest_due(sub.throttle if sub else None, state)
                if due is None:
                    continue
                if sub is None:
                    self._throttle[sub_id] = digest_flushed(state)
                    continue
                if due > now:
                    next_due = due if next_due is None else min(next_due, due)
                    continue
                digest_id = "dg_" + uuid.uuid4().hex[:32]

                def build(alerts: list[Alert], sub: Subscription = sub, digest_id: str = digest_id) -> bytes:
                    digest = AlertDigest(
                        digest_id=digest_id,
                        subscription_id=sub.id,
                        subscription_name=sub.name,
                        created_at=to_datetime(now),
                        alerts=alerts,
                    )
                    return digest.model_dump_json().encode()

                count = await self.store.flush_digest(sub.id, sub.channel, digest_id, build, now)
                self._throttle[sub_id] = digest_flushed(state)
                if count:
                    log.info("alerts: digest %s of %d alert(s) for %s queued", digest_id, count, sub.id)
        return next_due

    async def _deliver(self, d: Delivery) -> None:
        """One attempt at one delivery, then record the outcome (done, retry later, dead)."""
        sub = self._subs.get(d.subscription_id)
        now = self._clock()
        if sub is None:
            await self.store.finish(d.delivery_id, "cancelled", now, "subscription deleted")
            return
        attempt = d.attempts + 1
        exhausted = d.channel == "webhook" and d.attempts >= self.config.webhook_max_attempts
        try:
            if exhausted:
                raise WebhookError("attempts exhausted", retryable=False)
            if d.channel == "kafka":
                await self._send_kafka(sub, d)
            else:
                await self._send_webhook(sub, d, attempt, now)
        except asyncio.CancelledError:
            raise
        except (WebhookError, PublishError) as exc:
            await self._failed(sub, d, attempt, exc)
        except Exception as exc:  # an unexpected publisher error is still a failed attempt, not a crash
            log.exception("alerts: delivery %s failed unexpectedly", d.delivery_id)
            await self._failed(sub, d, attempt, exc)
        else:
            done = self._clock()
            await self.store.finish(d.delivery_id, "done", done)
            self._metrics.alerts_delivered.labels(channel=d.channel).inc(self._alert_count(d))
            if d.kind == "alert" and d.published_at is not None:
                # Digests are left out: their latency is the digest period, not the pipeline's.
                self._metrics.alert_latency.labels(channel=d.channel).observe(max(0.0, done - d.published_at))

    @staticmethod
    def _alert_count(d: Delivery) -> int:
        if d.kind == "alert":
            return 1
        return len(AlertDigest.model_validate_json(d.body).alerts)

    @staticmethod
    def _schema_of(d: Delivery) -> str:
        return ALERT_SCHEMA_ID if d.kind == "alert" else DIGEST_SCHEMA_ID

    async def _send_kafka(self, sub: Subscription, d: Delivery) -> None:
        headers = [("schema_id", self._schema_of(d).encode()), ("content-type", b"application/json")]
        key = sub.id.encode()
        await self._publisher.send(self.alerts_topic, key, d.body, headers)
        if sub.kafka_topic:
            await self._publisher.send(f"{self.alerts_topic}.{sub.kafka_topic}", key, d.body, headers)

    async def _send_webhook(self, sub: Subscription, d: Delivery, attempt: int, now: float) -> None:
        secret = secret_of(sub)
        if sub.channel != "webhook" or sub.webhook_url is None or secret is None:
            raise WebhookError("the subscription no longer has a webhook URL and secret", retryable=False)
        await self._sender.post(
            sub.webhook_url,
            d.body,
            secret=secret,
            now=now,
            headers={
                "X-Wiremon-Delivery-Id": d.delivery_id,
                "X-Wiremon-Delivery-Attempt": str(attempt),
                "X-Wiremon-Schema": self._schema_of(d),
                "X-Wiremon-Subscription": sub.id,
            },
            about=f"subscription {sub.id}",
        )

    async def _failed(self, sub: Subscription, d: Delivery, attempt: int, exc: BaseException) -> None:
        now = self._clock()
        reason = str(exc)
        retryable = not isinstance(exc, WebhookError) or exc.retryable
        if d.channel == "kafka" or (retryable and attempt < self.config.webhook_max_attempts):
            delay = backoff_delay(attempt, self.config.retry_initial, self.config.retry_max, self._rand)
            if isinstance(exc, WebhookError) and exc.retry_after is not None:
                delay = min(self.config.retry_max, max(delay, exc.retry_after))
            await self.store.reschedule(d.delivery_id, attempt, now + delay, reason)
            self._metrics.alerts_retried.labels(channel=d.channel).inc()
            log.warning(
                "alerts: delivery %s to %s failed (attempt %d: %s); retrying in %.1f s",
                d.delivery_id, sub.id, attempt, reason, delay,
            )  # fmt: skip
            return
        await self._dead_letter(sub, d, max(attempt, d.attempts), reason)

    async def _dead_letter(self, sub: Subscription, d: Delivery, attempts: int, reason: str) -> None:
        headers = [
            ("schema_id", self._schema_of(d).encode()),
            ("content-type", b"application/json"),
            ("x-wiremon-subscription", sub.id.encode()),
            ("x-wiremon-delivery-id", d.delivery_id.encode()),
            ("x-wiremon-attempts", str(attempts).encode()),
            ("x-wiremon-error", reason[:500].encode("utf-8", "replace")),
        ]
        now = self._clock()
        try:
            await self._publisher.send(self.dead_topic, sub.id.encode(), d.body, headers)
        except Exception as exc:  # Kafka is down too: keep the delivery pending, try the dead letter later
            delay = backoff_delay(attempts, self.config.retry_initial, self.config.retry_max, self._rand)
            # attempts >= max makes the next try go straight to the dead-letter topic.
            await self.store.reschedule(
                d.delivery_id, max(attempts, self.config.webhook_max_attempts), now + delay, reason
            )
            log.error("alerts: dead-lettering %s failed (%s); retrying in %.1f s", d.delivery_id, exc, delay)
            return
        await self.store.finish(d.delivery_id, "dead", now, reason)
        self._metrics.alerts_dead.labels(channel=d.channel).inc(self._alert_count(d))
        log.error(
            "alerts: delivery %s to %s dead-lettered on %s after %d attempt(s): %s",
            d.delivery_id, sub.id, self.dead_topic, attempts, reason,
        )  # fmt: skip
