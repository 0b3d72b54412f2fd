"""The poll of one feed, as named phases in order:

    fetch → parse → normalise → dedupe → classify → enrich → accept (outbox) → commit

Each phase is a function or method you can call alone in a test; ``Poller.poll`` runs
them and turns every failure into an outcome, a metric and a report (never an
exception: one bad feed must not stop the others).

"accept" is where an item becomes the monitor's responsibility: the enriched event is
written to the durable outbox in the same transaction that records it as seen and
advances the feed's ETag/Last-Modified. The relay then moves it to Kafka.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from .config import FeedConfig, Settings
from .errors import FetchError, OutboxFullError
from .ingest.dedup import Decision, decide
from .ingest.fetch import Fetcher, FetchRequest, FetchResult
from .ingest.normalize import FeedContext
from .ingest.worker import ParseOutput, ParsePool
from .metrics import Metrics, language_label
from .models import EnrichedEvent, TopicMatch, WireItem
from .publish.serialize import event_value
from .store import AsyncStore, FeedState, OutboxEvent

log = logging.getLogger("wiremon.poll")


class TopicClassifier(Protocol):
    def classify(
        self, title: str, summary: str = "", body: str = "", language: str | None = None
    ) -> list[TopicMatch]: ...


@dataclass(slots=True)
class PollReport:
    feed_id: str
    outcome: str  # one of metrics.POLL_OUTCOMES
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    error: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    failures: int = 0
    events: list[str] = field(default_factory=list)


def to_classify(decisions: Sequence[Decision]) -> list[Decision]:
    """The decisions that need topics: new and updated items (duplicates are skipped)."""
    return [d for d in decisions if d.status != "duplicate"]


def texts_of(decisions: Sequence[Decision]) -> list[tuple[str, str, str, str | None]]:
    return [(d.item.title, d.item.summary, d.item.body, d.item.language) for d in decisions]


def enrich(
    decisions: Sequence[Decision], classifier: TopicClassifier, fetched_at: datetime, accepted_at: datetime
) -> list[EnrichedEvent]:
    """Classify and enrich new and updated items in this thread (duplicates are skipped)."""
    fresh = to_classify(decisions)
    topics = [classifier.classify(*t) for t in texts_of(fresh)]
    return build_events(fresh, topics, fetched_at, accepted_at)


# Every field of an event is already valid (a validated WireItem, topics from the
# classifier, our own timestamps), so events are assembled the way pydantic's validator
# leaves an instance rather than validated again: it was the largest per-event cost in
# the event loop. ``_FAST_EVENTS`` checks at import that the result serialises exactly
# like a validated instance, and falls back to validation if a pydantic version differs.
_EVENT_FIELDS = frozenset(EnrichedEvent.model_fields)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _fast_event(fields: dict[str, Any]) -> EnrichedEvent:
    event = EnrichedEvent.__new__(EnrichedEvent)
    object.__setattr__(event, "__dict__", fields)
    _set_fields_set(event, set(_EVENT_FIELDS))
    _set_extra(event, None)
    _set_private(event, None)
    return event


def _valid_event(fields: dict[str, Any]) -> EnrichedEvent:
    return EnrichedEvent.model_validate(fields)


def _event_fields(
    d: Decision, item_topics: list[TopicMatch], fetched_at: datetime, accepted_at: datetime
) -> dict[str, Any]:
    fields = dict(d.item.__dict__)
    fields.update(
        schema_id="enriched_event.v1",
        status="new" if d.status == "new" else "updated",
        revision=d.revision,
        topics=item_topics,
        story_id=None,
        fetched_at=fetched_at,
        accepted_at=accepted_at,
    )
    return fields


def _check_fast_events() -> bool:
    try:
        item = WireItem(event_id="a:1", agency="A", feed_id="f", title="t", content_hash="h")
        topics = [TopicMatch(topic="t", score=0.5, evidence=[])]
        when = datetime(2020, 1, 1, tzinfo=UTC)
        fields = _event_fields(Decision(item, "new", 1), topics, when, when)
        fast, valid = _fast_event(dict(fields)), _valid_event(dict(fields))
        return fast.model_dump_json() == valid.model_dump_json() and fast == valid
    except Exception:
        return False


_FAST_EVENTS = _check_fast_events()
_make_event = _fast_event if _FAST_EVENTS else _valid_event


def build_events(
    fresh: Sequence[Decision], topics: Sequence[list[TopicMatch]], fetched_at: datetime, accepted_at: datetime
) -> list[EnrichedEvent]:
    """Enriched events from classified new/updated items."""
    return [
        _make_event(_event_fields(d, item_topics, fetched_at, accepted_at))
        for d, item_topics in zip(fresh, topics, strict=True)
    ]


def _timestamp(when: datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def to_outbox(events: Sequence[EnrichedEvent], decisions: Sequence[Decision]) -> list[OutboxEvent]:
    hashes = {d.item.event_id: d.item.content_hash for d in decisions}
    return [
        OutboxEvent(
            event_id=e.event_id,
            revision=e.revision,
            topics=tuple(t.topic for t in e.topics),
            payload=event_value(e),
            content_hash=hashes[e.event_id],
            accepted_at=e.accepted_at.timestamp(),
            published_ts=_timestamp(e.published or e.updated),
        )
        for e in events
    ]


class Poller:
    """Polls feeds; holds no per-feed state of its own (that lives in the store)."""

    def __init__(
        self,
        settings: Settings,
        store: AsyncStore,
        fetcher: Fetcher,
        parser: ParsePool,
        classifier: TopicClassifier,
        metrics: Metrics,
        on_accepted: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.parser = parser
        self.classifier = classifier
        self.metrics = metrics
        self.on_accepted = on_accepted
        self.clock = clock

    async def poll(self, feed: FeedConfig) -> PollReport:
        fid = feed.feed_id
        m = self.metrics
        state = await self.store.run(self.store.sync.feed_state, fid)
        # -- fetch
        started = time.monotonic()
        try:
            result = await self.fetcher.fetch(
                FetchRequest(fid, feed.url, state.etag, state.last_modified, feed.headers)
            )
        except FetchError as exc:
            m.fetch_duration.observe(time.monotonic() - started)
            outcome = exc.reason if exc.reason in ("timeout", "connect_error") else "http_error"
            m.fetch_errors.labels(feed=fid, reason=exc.reason).inc()
            return await self._failed(feed, state, outcome, str(exc), exc.reason, exc.retry_after)
        m.fetch_duration.observe(time.monotonic() - started)
        fetched_at = datetime.fromtimestamp(self.clock(), tz=UTC)
        if result.not_modified:
            return await self._succeeded(feed, state, result, "not_modified")
        # -- parse + normalise (worker process)
        ctx = FeedContext(fid, feed.agency, feed.language)
        parsed: ParseOutput = await self.parser.run(result.content, result.content_type, result.url, ctx)
        if parsed.error is not None:
            m.parse_errors.labels(feed=fid, kind="unreadable").inc()
            return await self._failed(feed, state, "parse_error", parsed.error, "parse_error", None)
        if parsed.problem is not None:
            m.parse_errors.labels(feed=fid, kind=parsed.problem_kind or "other").inc()
            log.info(
                "feed %s: ill-formed document (%s); %d items recovered",
                fid,
                parsed.problem,
                len(parsed.items),
            )
        # -- dedupe
        seen = await self.store.run(self.store.sync.lookup_seen, [i.event_id for i in parsed.items])
        decisions = decide(parsed.items, seen)
        # -- classify + enrich
        accepted_at = datetime.fromtimestamp(self.clock(), tz=UTC)
        fresh = to_classify(decisions)
        topics = await self.parser.classify(texts_of(fresh))
        events = build_events(fresh, topics, fetched_at, accepted_at)
        # -- accept (outbox + seen + feed state, one transaction)
        new_state = FeedState(result.etag, result.last_modified, 0, self.clock())
        touched = [d.item.event_id for d in decisions if d.status == "duplicate"]
        try:
            await self.store.run(
                self.store.sync.accept, fid, new_state, to_outbox(events, decisions), touched
            )
        except OutboxFullError as exc:
            m.outbox_rejected.inc(len(events))
            # Not the feed's fault: its state stays as it was (nothing written, no failure
            # counted, so no backoff), and it is polled again at its normal interval; the
            # items it offered are accepted then, once the relay has made room.
            m.polls.labels(feed=fid, outcome="rejected").inc()
            return PollReport(fid, "rejected", error=str(exc), reason="outbox_full")
        if events:
            self.on_accepted()
        # -- commit: metrics and report
        report = PollReport(fid, "ok")
        for d in decisions:
            setattr(report, d.status, getattr(report, d.status) + 1)
        for status in ("new", "updated", "duplicate"):
            count = getattr(report, status)
            if count:
                m.items.labels(feed=fid, status=status).inc(count)
        # count per label set first: one labels() lookup per distinct set, not per event
        by_agency: Counter[tuple[str, str]] = Counter()
        by_topic: Counter[tuple[str, str, str]] = Counter()
        for e in events:
            lang = language_label(e.language)
            by_agency[(e.agency, lang)] += 1
            for t in e.topics:
                by_topic[(t.topic, e.agency, lang)] += 1
        for (agency, lang), n in by_agency.items():
            m.items_agency.labels(agency=agency, language=lang).inc(n)
        for (topic, agency, lang), n in by_topic.items():
            m.items_topic.labels(topic=topic, agency=agency, language=lang).inc(n)
        report.events = [e.event_id for e in events]
        self._mark_success(fid)
        m.polls.labels(feed=fid, outcome="ok").inc()
        return report

    def _mark_success(self, fid: str) -> None:
        self.metrics.feed_last_success.labels(feed=fid).set(self.clock())
        self.metrics.feed_consecutive_failures.labels(feed=fid).set(0)

    async def _succeeded(
        self, feed: FeedConfig, state: FeedState, result: FetchResult, outcome: str
    ) -> PollReport:
        fid = feed.feed_id
        new_state = FeedState(
            result.etag or state.etag, result.last_modified or state.last_modified, 0, self.clock()
        )
        await self.store.run(self.store.sync.save_feed_state, fid, new_state)
        self._mark_success(fid)
        self.metrics.polls.labels(feed=fid, outcome=outcome).inc()
        return PollReport(fid, outcome)

    async def _failed(
        self,
        feed: FeedConfig,
        state: FeedState,
        outcome: str,
        error: str,
        reason: str,
        retry_after: float | None,
    ) -> PollReport:
        fid = feed.feed_id
        failures = state.failures + 1
        # validators are dropped: after a failure the next poll fetches the whole document
        await self.store.run(
            self.store.sync.save_feed_state, fid, FeedState(None, None, failures, state.last_success)
        )
        self.metrics.polls.labels(feed=fid, outcome=outcome).inc()
        self.metrics.feed_consecutive_failures.labels(feed=fid).set(failures)
        return PollReport(
            fid, outcome, error=error, reason=reason, retry_after=retry_after, failures=failures
        )
