"""Matching and recording: what one enriched event means for each subscription.

:meth:`MatchRecorder.handle` matches an event against every subscription, applies
the update rule and the throttle, watches for breaking stories, and persists every
alert it makes — with the item's "seen" mark and any breaking firing — in one store
transaction before it returns. Guarantees: a restart neither loses a queued alert nor
alerts a subscriber twice for the same item (an update re-alerts only subscriptions
with ``include_updates``); alert ids are deterministic, so a retried call records
nothing twice; a subscription whose matching fails is logged and skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..models import EnrichedEvent, TopicMatch
from ._core import RouterState, log, to_datetime
from .breaking import BreakingStory
from .matching import (
    EventText,
    Matcher,
    ThrottleState,
    Verdict,
    match,
    should_alert,
    throttle_verdict,
    wants_breaking,
)
from .models import Alert, AlertStatus, BreakingInfo, Subscription
from .store import NewAlert

_STATUS_OF: dict[Verdict, AlertStatus] = {"send": "queued", "suppress": "suppressed", "hold": "held"}


def _alert_id(*parts: str) -> str:
    return "al_" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


class MatchRecorder(RouterState):
    """The matching half of :class:`~monitor.alerts.service.AlertService`."""

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
            first_seen=to_datetime(story.first_seen),
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
            created_at=to_datetime(now),
            breaking=info,
        )
