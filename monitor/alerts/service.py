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

Concurrency: one asyncio lock serialises everything that reads and writes the
in-memory subscription and throttle state together with the store (``handle``, digest
flushes, subscription changes); deliveries run concurrently, bounded by
``delivery_concurrency``, owned by one dispatcher task that ``stop`` cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import fastapi

from ..errors import MonitorError, PublishError, StateError
from ..metrics import Metrics
from ..models import EnrichedEvent, TopicMatch
from .breaking import BreakingDetector, BreakingStory
from .config import AlertsConfig
from .matching import (
    EventText,
    Matcher,
    ThrottleState,
    Verdict,
    compile_subscription,
    digest_due,
    digest_flushed,
    match,
    should_alert,
    throttle_verdict,
    wants_breaking,
)
from .models import (
    ALERT_SCHEMA_ID,
    DIGEST_SCHEMA_ID,
    Alert,
    AlertDigest,
    AlertRecord,
    AlertStatus,
    BreakingInfo,
    LimitThrottle,
    Subscription,
    SubscriptionIn,
    SubscriptionPatch,
)
from .store import AlertStore, Delivery, NameTakenError, NewAlert, secret_of
from .webhook import WebhookError, WebhookSender, backoff_delay, check_webhook_url

log = logging.getLogger(__name__)

# A claimed delivery is leased this long; release_leases() at start frees leases an
# interrupted run left, so the value only has to outlast one attempt.
LEASE_SECONDS = 3600.0
MAX_IDLE_WAIT = 30.0
PRUNE_EVERY = 3600.0
HISTORY_SECONDS = 30 * 86_400.0
_STATUS_OF: dict[Verdict, AlertStatus] = {"send": "queued", "suppress": "suppressed", "hold": "held"}


class AlertPublisher(Protocol):
    async def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Publish one record and await the Kafka ack; raise ``PublishError`` on failure."""
        ...


class ApiError(MonitorError):
    """A request the API refuses: ``status`` and a message naming the field when there is one."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message, about=field)
        self.status = status
        self.field = field


def _alert_id(*parts: str) -> str:
    return "al_" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _token_digest(token: str) -> bytes:
    # Comparing fixed-length digests keeps compare_digest from leaking the token length.
    return hashlib.sha256(token.encode("utf-8")).digest()


class AlertService:
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
        self._token_digests = tuple(_token_digest(t) for t in api_tokens if t)
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
                    "created_at": old.created_at if old else _dt(now),
                    "updated_at": _dt(now),
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

    def _rebuild(self) -> None:
        self._matchers = tuple(compile_subscription(s) for s in self._subs.values())

    # -- matching -------------------------------------------------------------------------------

    async def handle(self, event: EnrichedEvent, published_at: float) -> None:
        """Match one event (already acked by Kafka) and persist the resulting alerts.

        Returns once the alerts are durable; delivery happens in the background. A
        subscription that fails to match is logged and skipped, never raised. Raises
        ``StateError`` only if the store cannot be written (nothing was recorded then).
        """
        if not self._started or not self.config.enabled:
            return
        now = self._clock()
        text = EventText(event)
        candidates: list[tuple[Matcher, tuple[TopicMatch, ...]]] = []
        for m in self._matchers:
            try:
                topics = match(m, event, text)
            except Exception:  # a bug for one subscription must not stop the others
                log.exception("alerts: matching subscription %s failed; skipped", m.subscription_id)
                continue
            if topics is not None:
                candidates.append((m, topics))
        stories = self._observe_breaking(event, now)
        if not candidates and not stories:
            return
        async with self._lock:
            last = await self.store.last_revisions(event.event_id, [m.subscription_id for m, _ in candidates])
            new: list[NewAlert] = []
            states: dict[str, ThrottleState] = {}
            for m, topics in candidates:
                sub = self._subs.get(m.subscription_id)
                if sub is None or not should_alert(m, event.revision, last.get(m.subscription_id)):
                    continue
                alert = self._make_alert(sub, event, topics, now, "match", None)
                verdict, state = throttle_verdict(
                    sub.throttle, states.get(sub.id) or self._throttle.get(sub.id, ThrottleState()), now
                )
                states[sub.id] = state
                body = alert.model_dump_json().encode()
                new.append(NewAlert(alert, sub.channel, _STATUS_OF[verdict], published_at, body))
            for story in stories:
                new += self._breaking_alerts(story, event, published_at, now)
            if not new and not stories:
                return
            await self.store.record_alerts(new, now, breaking=[(s.topic, s.fired_at) for s in stories])
            self._throttle.update(states)
        for a in new:
            self._metrics.alerts_matched.labels(channel=a.channel).inc()
        self._wake.set()

    def _observe_breaking(self, event: EnrichedEvent, now: float) -> list[BreakingStory]:
        at = event.published.timestamp() if event.published is not None else now
        stories = []
        for t in event.topics:
            if t.score < self.config.breaking_min_score:
                continue
            story = self._detector.observe(t.topic, event.agency, event.event_id, at, now)
            if story is not None:
                log.info("alerts: breaking story on %s (%s)", story.topic, ", ".join(story.agencies))
                stories.append(story)
        return stories

    def _breaking_alerts(
        self, story: BreakingStory, event: EnrichedEvent, published_at: float, now: float
    ) -> list[NewAlert]:
        topic = next(t for t in event.topics if t.topic == story.topic)
        info = BreakingInfo(
            topic=story.topic,
            agencies=list(story.agencies),
            event_ids=list(story.event_ids),
            window_minutes=self.config.breaking_window_minutes,
            first_seen=_dt(story.first_seen),
        )
        out = []
        for m in self._matchers:
            sub = self._subs.get(m.subscription_id)
            if sub is None or not wants_breaking(m, story.topic):
                continue
            alert = self._make_alert(sub, event, (topic,), now, "breaking", info, story.fired_at)
            # Breaking alerts skip the throttle: they are rare (once per topic per window) and urgent.
            out.append(NewAlert(alert, sub.channel, "queued", published_at, alert.model_dump_json().encode()))
        return out

    def _make_alert(
        self,
        sub: Subscription,
        event: EnrichedEvent,
        topics: Sequence[TopicMatch],
        now: float,
        kind: str,
        info: BreakingInfo | None,
        fired_at: float = 0.0,
    ) -> Alert:
        if kind == "breaking" and info is not None:
            alert_id = _alert_id(sub.id, "breaking", info.topic, repr(fired_at))
        else:
            alert_id = _alert_id(sub.id, event.event_id, str(event.revision))
        return Alert(
            alert_id=alert_id,
            kind="breaking" if kind == "breaking" else "match",
            subscription_id=sub.id,
            subscription_name=sub.name,
            event_id=event.event_id,
            revision=event.revision,
            event_status=event.status,
            topics=list(topics),
            title=event.title,
            link=event.link,
            agency=event.agency,
            language=event.language,
            urgency=event.urgency,
            published=event.published,
            story_id=event.story_id,
            created_at=_dt(now),
            breaking=info,
        )

    # -- delivery -------------------------------------------------------------------------------

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
                        created_at=_dt(now),
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

    # -- subscriptions (used by the API) ------------------------------------------------------

    def tokens_configured(self) -> bool:
        """Whether any API token is configured (without one the API refuses everything)."""
        return bool(self._token_digests)

    def token_ok(self, token: str) -> bool:
        """Constant-time check of a bearer token against every configured token."""
        given = _token_digest(token)
        ok = False
        for expected in self._token_digests:
            ok |= hmac.compare_digest(given, expected)
        return ok

    def subscriptions(self) -> list[Subscription]:
        return sorted(self._subs.values(), key=lambda s: (s.created_at, s.id))

    def subscription(self, sub_id: str) -> Subscription:
        sub = self._subs.get(sub_id)
        if sub is None:
            raise ApiError(404, f"no subscription with id {sub_id!r}")
        return sub

    async def create_subscription(self, spec: SubscriptionIn) -> Subscription:
        """Validate (secret, webhook address, name, quota) and store a new API subscription."""
        await self._check_spec(spec, None)
        now = _dt(self._clock())
        sub = Subscription.model_validate(
            {
                **spec.model_dump(),
                "webhook_secret": spec.webhook_secret,
                "id": "sub_" + uuid.uuid4().hex[:20],
                "source": "api",
                "created_at": now,
                "updated_at": now,
            }
        )
        async with self._lock:
            if len(self._subs) >= self.config.max_subscriptions:
                raise ApiError(409, f"the limit of {self.config.max_subscriptions} subscriptions is reached")
            await self._save(sub)
        return sub

    async def replace_subscription(self, sub_id: str, spec: SubscriptionIn) -> Subscription:
        """PUT: replace every field; an omitted ``webhook_secret`` keeps the stored one."""
        old = self._editable(sub_id)
        secret = spec.webhook_secret or (old.webhook_secret if spec.channel == "webhook" else None)
        spec = SubscriptionIn.model_validate({**spec.model_dump(), "webhook_secret": secret})
        await self._check_spec(spec, old)
        return await self._update(old, spec)

    async def patch_subscription(self, sub_id: str, patch: SubscriptionPatch) -> Subscription:
        """PATCH: apply the keys present; the result must be a valid subscription (else 422)."""
        old = self._editable(sub_id)
        merged = old.model_dump(include=set(SubscriptionIn.model_fields))
        merged["webhook_secret"] = old.webhook_secret
        merged.update({k: getattr(patch, k) for k in patch.model_fields_set})
        if merged.get("channel") != "webhook" and "webhook_secret" not in patch.model_fields_set:
            merged["webhook_secret"] = None
        # A pydantic ValidationError here is turned into a 422 naming the field by the API.
        spec = SubscriptionIn.model_validate(merged)
        await self._check_spec(spec, old)
        return await self._update(old, spec)

    async def delete_subscription(self, sub_id: str) -> None:
        """Delete an API subscription; its pending deliveries are cancelled."""
        old = self._editable(sub_id)
        async with self._lock:
            await self.store.delete_subscription(old.id, self._clock())
            self._subs.pop(old.id, None)
            self._throttle.pop(old.id, None)
            self._rebuild()

    async def recent_alerts(self, limit: int, subscription_id: str | None = None) -> list[AlertRecord]:
        return await self.store.recent_alerts(limit, subscription_id)

    def _editable(self, sub_id: str) -> Subscription:
        sub = self.subscription(sub_id)
        if sub.source == "config":
            raise ApiError(409, f"subscription {sub_id!r} is declared in the config file; change it there")
        return sub

    async def _check_spec(self, spec: SubscriptionIn, old: Subscription | None) -> None:
        if spec.channel == "webhook":
            if spec.webhook_secret is None:
                raise ApiError(422, "required when channel is 'webhook'", field="webhook_secret")
            url = spec.webhook_url or ""
            if old is None or old.webhook_url != url or not self.config.allow_private_webhooks:
                try:
                    await check_webhook_url(url, allow_private=self.config.allow_private_webhooks)
                except WebhookError as exc:
                    raise ApiError(422, exc.message, field="webhook_url") from None

    async def _update(self, old: Subscription, spec: SubscriptionIn) -> Subscription:
        sub = Subscription.model_validate(
            {
                **spec.model_dump(),
                "webhook_secret": spec.webhook_secret,
                "id": old.id,
                "source": old.source,
                "created_at": old.created_at,
                "updated_at": _dt(self._clock()),
            }
        )
        async with self._lock:
            if old.id not in self._subs:
                raise ApiError(404, f"no subscription with id {old.id!r}")
            await self._save(sub)
        self._wake.set()  # a throttle change may make a held digest due now
        return sub

    async def _save(self, sub: Subscription) -> None:
        try:
            await self.store.save_subscription(sub)
        except NameTakenError:
            raise ApiError(409, f"a subscription named {sub.name!r} already exists", field="name") from None
        self._subs[sub.id] = sub
        self._rebuild()

    def router(self) -> fastapi.APIRouter:
        """The subscription API under ``/api/v1`` (see ``api.py``)."""
        from .api import build_router

        router: fastapi.APIRouter = build_router(self)
        return router
