"""The one place that wires the monitor together and owns every background task.

    scheduler ─► Poller (fetch → parse → normalise → dedupe → classify → enrich → accept)
                   │                                                        │
                   ▼                                                        ▼
               metrics                                    outbox (SQLite) ─► OutboxRelay ─► Kafka
                                                                                 │
                                                                                 ▼
                                                                  AlertService.handle (alerts)

Lifecycle: ``start()`` opens everything, ``run(stop)`` polls until ``stop`` is set,
``shutdown()`` stops polling, lets in-flight polls finish, drains the outbox to
Kafka and closes everything within ``shutdown_grace`` seconds. What could not be
published stays in the outbox for the next start: nothing accepted is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .classify import ReloadableClassifier
from .config import FeedConfig, Settings
from .http.app import HttpServer, build_app
from .ingest.assign import FeedAssignment, StaticAssignment
from .ingest.fetch import Fetcher
from .ingest.schedule import DueQueue, next_delay
from .ingest.worker import ClassifierSpec, ParsePool
from .logs import redact
from .metrics import Metrics
from .models import EnrichedEvent
from .poll import Poller, PollReport
from .publish.kafka import KafkaPublisher, topic_name
from .publish.relay import OutboxRelay
from .store import AsyncStore, OutboxRow, StateStore

log = logging.getLogger("wiremon.service")


class _RepeatFilter(logging.Filter):
    """Let one record per (logger, message template) through every ``every`` seconds.

    aiokafka logs an ERROR on each reconnect attempt, ~10 a second while Kafka is down:
    hours of outage would bury the log. The relay already says once that Kafka is
    unreachable and once that it is back; aiokafka's detail stays visible, throttled.
    """

    def __init__(self, every: float = 60.0) -> None:
        super().__init__()
        self.every = every
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        if len(self._last) > 1000:  # templates are few; never let a months-long run grow this
            self._last.clear()
        self._last[key] = now
        return True


def _throttle_kafka_client_logs() -> None:
    # a logger's filters see only its own records, not its children's: attach to each
    names = [n for n in logging.root.manager.loggerDict if n == "aiokafka" or n.startswith("aiokafka.")]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RepeatFilter) for f in logger.filters):
            logger.addFilter(_RepeatFilter())


class Service:
    """One monitor instance. Use ``async with Service(settings) as svc: await svc.run(stop)``."""

    def __init__(
        self,
        settings: Settings,
        *,
        assignment: FeedAssignment | None = None,
        metrics: Metrics | None = None,
        serve_http: bool = True,
    ) -> None:
        self.settings = settings
        self.assignment = assignment or StaticAssignment(settings.feeds)
        self.metrics = metrics or Metrics()
        self.serve_http = serve_http
        self.classifier = ReloadableClassifier(settings.topics.dirs, settings.topics.disabled)
        self.store: AsyncStore | None = None
        self.publisher = KafkaPublisher(settings.kafka)
        self.fetcher = Fetcher(settings.fetch, version=__version__)
        self.parser: ParsePool | None = None
        self.relay: OutboxRelay | None = None
        self.poller: Poller | None = None
        self.http: HttpServer | None = None
        self.alerts: Any = None
        self._relay_stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._polled: set[str] = set()
        self._inflight: dict[str, asyncio.Task[PollReport]] = {}
        self._rng = random.Random()
        redact(settings.kafka.password(), *(t.get_secret_value() for t in settings.http.api_tokens))

    # -- lifecycle
    async def start(self) -> None:
        s = self.settings
        _throttle_kafka_client_logs()
        state_path = Path(s.state_dir) / "state.sqlite3"
        self.store = AsyncStore(StateStore(state_path, max_outbox=s.outbox.max_events))
        self.metrics.outbox_capacity.set(s.outbox.max_events)
        self.metrics.outbox_pending.set(self.store.sync.outbox_count)
        self.metrics.feeds_configured.set(len(self.assignment.feeds()))
        self.metrics.kafka_up.set(0)
        if self.store.sync.outbox_count:
            log.info(
                "outbox holds %d events from a previous run; publishing them first",
                self.store.sync.outbox_count,
            )
        spec = ClassifierSpec(tuple(str(d) for d in s.topics.dirs), tuple(s.topics.disabled))
        self.parser = ParsePool(s.fetch.parse_workers, spec, local_classify=self.classifier.classify)
        await self.parser.warm_up()
        await self.fetcher.start()
        self.alerts = await self._start_alerts()
        self.relay = OutboxRelay(
            self.store,
            self.publisher,
            s.kafka,
            s.outbox,
            self.metrics,
            on_acked=self._after_publish if self.alerts is not None else None,
        )
        self.poller = Poller(
            s,
            self.store,
            self.fetcher,
            self.parser,
            self.classifier,
            self.metrics,
            on_accepted=self.relay.wake,
        )
        if self.serve_http:
            routers = [self.alerts.router()] if self.alerts is not None else []
            self.http = HttpServer(build_app(self.metrics, self.readiness, routers), s.http.host, s.http.port)
            await self.http.start()
        self._relay_task = asyncio.create_task(self._run_relay(), name="outbox-relay")

    async def _start_alerts(self) -> Any:
        if not self.settings.alerts.enabled:
            return None
        from .alerts.service import AlertService

        svc = AlertService(
            self.settings.alerts,
            state_dir=Path(self.settings.state_dir),
            topic_prefix=self.settings.kafka.topic_prefix,
            publisher=self.publisher,
            metrics=self.metrics,
            api_tokens=[t.get_secret_value() for t in self.settings.http.api_tokens],
        )
        await svc.start()
        return svc

    async def _run_relay(self) -> None:
        assert self.relay is not None
        await self._connect_kafka()
        await self.relay.run(self._relay_stop)

    async def _connect_kafka(self) -> None:
        """Connect and create the topics; retry until Kafka answers or we stop."""
        delay = self.settings.outbox.retry_initial
        topics = [
            topic_name(self.settings.kafka, "enriched"),
            *(topic_name(self.settings.kafka, f"topic.{t}") for t in self.classifier.current.topics),
            topic_name(self.settings.kafka, "alerts"),
            topic_name(self.settings.kafka, "alerts.dead"),
        ]
        while not self._relay_stop.is_set():
            try:
                await self.publisher.start()
                await self.publisher.ensure_topics(topics)
                self.metrics.kafka_up.set(1)
                if self.relay is not None:
                    self.relay.kafka_ok = True
                return
            except Exception as exc:
                await self.publisher.stop()
                log.warning(
                    "Kafka at %s is not reachable (%s); polling continues into the outbox, retrying in %.0fs",
                    self.settings.kafka.bootstrap_servers,
                    exc,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._relay_stop.wait(), timeout=delay)
                delay = min(delay * 2, self.settings.outbox.retry_max)

    async def _after_publish(self, rows: Sequence[OutboxRow], now: float) -> None:
        for row in rows:
            event = EnrichedEvent.model_validate_json(row.payload)
            await self.alerts.handle(event, now)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        feeds = [f.feed_id for f in self.assignment.feeds()]
        unpolled = [f for f in feeds if f not in self._polled]
        kafka_ok = self.publisher.connected and self.relay is not None and self.relay.kafka_ok
        detail = {
            "kafka": "ok" if kafka_ok else "unreachable",
            "feeds": len(feeds),
            "feeds_not_polled": len(unpolled),
            "outbox_pending": self.store.sync.outbox_count if self.store else None,
        }
        return kafka_ok and not unpolled, detail

    async def shutdown(self) -> int:
        """Stop everything in order within ``shutdown_grace``; returns events left in the outbox."""
        grace = self.settings.shutdown_grace
        deadline = time.monotonic() + grace
        if self._inflight:
            _, pending = await asyncio.wait(list(self._inflight.values()), timeout=grace / 3)
            for task in pending:
                task.cancel()
        left = 0
        self._relay_stop.set()
        if self._relay_task is not None:
            try:
                await asyncio.wait_for(self._relay_task, timeout=max(1.0, deadline - time.monotonic()))
            except TimeoutError:
                self._relay_task.cancel()
        if self.relay is not None and self.publisher.connected and self.store is not None:
            left = await self.relay.drain(max(0.5, deadline - time.monotonic()))
        elif self.store is not None:
            left = self.store.sync.outbox_count
        if left:
            log.warning("%d events stay in the outbox; they are published at the next start", left)
        if self.alerts is not None:
            await self.alerts.stop()
        await self.publisher.stop()
        await self.fetcher.close()
        if self.parser is not None:
            self.parser.close(wait=False)
        if self.http is not None:
            await self.http.stop()
        if self.store is not None:
            await self.store.close()
        return left

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    # -- polling
    async def poll_feed(self, feed: FeedConfig) -> PollReport:
        assert self.poller is not None
        try:
            report = await self.poller.poll(feed)
        except Exception as exc:  # a bug must cost one poll, not the service
            log.exception("feed %s: poll crashed: %s", feed.feed_id, exc)
            report = PollReport(feed.feed_id, "parse_error", error=f"internal error: {exc}", failures=1)
        self._polled.add(feed.feed_id)
        return report

    def _next_delay(self, feed: FeedConfig, report: PollReport) -> float:
        return next_delay(
            self.settings.interval_for(feed),
            failures=report.failures,
            jitter=self.settings.fetch.jitter,
            rand=self._rng.random(),
            backoff_max=self.settings.fetch.backoff_max,
            retry_after=report.retry_after,
        )

    def _log_report(self, feed: FeedConfig, report: PollReport, delay: float) -> None:
        if report.error is not None:
            log.warning(
                "feed %s: poll failed (%s): %s; next poll in %.0fs",
                feed.feed_id,
                report.reason,
                report.error,
                delay,
                extra={
                    "feed": feed.feed_id,
                    "outcome": report.outcome,
                    "reason": report.reason,
                    "next_poll_s": round(delay, 1),
                },
            )
        elif report.new or report.updated:
            log.info(
                "feed %s: %d new, %d updated, %d unchanged",
                feed.feed_id,
                report.new,
                report.updated,
                report.duplicate,
                extra={"feed": feed.feed_id, "outcome": report.outcome},
            )

    async def run_once(self) -> int:
        """Poll every feed once, publish, flush. Returns events left unpublished."""
        feeds = list(self.assignment.feeds())
        reports = await asyncio.gather(*(self.poll_feed(f) for f in feeds))
        for feed, report in zip(feeds, reports, strict=True):
            self._log_report(feed, report, 0)
        assert self.relay is not None
        deadline = time.monotonic() + self.settings.shutdown_grace
        while self.store is not None and self.store.sync.outbox_count and time.monotonic() < deadline:
            if not self.publisher.connected:
                await asyncio.sleep(0.1)
                continue
            left = await self.relay.drain(max(0.1, deadline - time.monotonic()))
            if left:
                await asyncio.sleep(0.2)
        return self.store.sync.outbox_count if self.store else 0

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every assigned feed on its schedule until ``stop`` is set."""
        queue = DueQueue()
        feeds = {f.feed_id: f for f in self.assignment.feeds()}
        now = time.monotonic()
        for fid, feed in feeds.items():
            # spread the first polls over the first second (or interval) instead of a thundering herd
            queue.schedule(fid, now + self._rng.random() * min(1.0, self.settings.interval_for(feed)))
        limit = asyncio.Semaphore(self.settings.fetch.global_concurrency)
        wake = asyncio.Event()

        async def one(feed: FeedConfig) -> PollReport:
            async with limit:
                report = await self.poll_feed(feed)
            delay = self._next_delay(feed, report)
            self._log_report(feed, report, delay)
            queue.schedule(feed.feed_id, time.monotonic() + delay)
            wake.set()
            return report

        last_prune = 0.0
        while not stop.is_set():
            for fid in queue.pop_due(time.monotonic()):
                task = asyncio.create_task(one(feeds[fid]), name=f"poll:{fid}")
                self._inflight[fid] = task
                task.add_done_callback(functools.partial(self._forget_inflight, fid))
            if time.monotonic() - last_prune > 3600:
                last_prune = time.monotonic()
                await self._prune_seen()
            due = queue.next_due()
            timeout = 1.0 if due is None else max(0.0, min(1.0, due - time.monotonic()))
            wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    def _forget_inflight(self, fid: str, _task: asyncio.Task[PollReport]) -> None:
        self._inflight.pop(fid, None)

    async def _prune_seen(self) -> None:
        if self.store is None:
            return
        cutoff = time.time() - self.settings.fetch.seen_retention_days * 86_400
        removed = await self.store.run(self.store.sync.prune_seen, cutoff)
        if removed:
            log.info(
                "forgot %d items not seen for %.0f days", removed, self.settings.fetch.seen_retention_days
            )

    def reload_topics(self) -> list[str]:
        """SIGHUP: reload topic definitions; on failure the old set stays."""
        problems = self.classifier.reload()
        self.metrics.topic_reloads.labels(outcome="error" if problems else "ok").inc()
        if problems:
            log.error("topic reload failed, keeping the previous topics: %s", "; ".join(problems))
        else:
            if self.parser is not None:
                self.parser.bump_generation()
            log.info("topics reloaded: %s", ", ".join(self.classifier.current.topics))
        return problems


def describe(settings: Settings) -> str:
    return json.dumps({"feeds": len(settings.feeds), "kafka": settings.kafka.bootstrap_servers})
