"""Pure breaking-story detector: K distinct agencies on one topic within W minutes.

The caller passes each event's time and the current time (no clock here). A story
fires at most once per topic per window: after firing at ``t`` the topic stays quiet
until ``t + W``, whatever arrives meanwhile.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BreakingStory:
    """A topic that reached the agency threshold: who published, which items, when it began."""

    topic: str
    agencies: tuple[str, ...]
    event_ids: tuple[str, ...]
    first_seen: float
    fired_at: float


@dataclass(slots=True)
class _Sighting:
    at: float
    agency: str
    event_id: str


class BreakingDetector:
    """Remembers, per topic, the sightings of the last W minutes (memory bounded by the window)."""

    def __init__(self, agencies_needed: int, window_seconds: float) -> None:
        if agencies_needed < 1 or window_seconds <= 0:
            raise ValueError("agencies_needed must be >= 1 and window_seconds > 0")
        self.agencies_needed = agencies_needed
        self.window = window_seconds
        self._sightings: dict[str, deque[_Sighting]] = {}
        self._fired: dict[str, float] = {}

    def restore(self, fired: dict[str, float]) -> None:
        """Load the last firing time per topic (after a restart), so a window is not fired twice."""
        self._fired.update(fired)

    def observe(self, topic: str, agency: str, event_id: str, at: float, now: float) -> BreakingStory | None:
        """Record that ``agency`` published ``event_id`` on ``topic`` at ``at``; maybe fire.

        ``at`` is clamped to ``now`` (a feed clock in the future must not keep a
        sighting alive) and sightings older than ``now - W`` are forgotten, so a
        late-polled old item does not count towards a story happening now.
        """
        at = min(at, now)
        horizon = now - self.window
        if at <= horizon:
            return None
        seen = self._sightings.setdefault(topic, deque())
        seen.append(_Sighting(at, agency.casefold(), event_id))
        while seen and seen[0].at <= horizon:
            seen.popleft()
        fired = self._fired.get(topic)
        if fired is not None and now - fired < self.window:
            return None
        first: dict[str, _Sighting] = {}
        for s in seen:
            first.setdefault(s.agency, s)
        if len(first) < self.agencies_needed:
            return None
        self._fired[topic] = now
        ordered = sorted(first.values(), key=lambda s: s.at)
        return BreakingStory(
            topic=topic,
            agencies=tuple(s.agency for s in ordered),
            event_ids=tuple(s.event_id for s in ordered),
            first_seen=ordered[0].at,
            fired_at=now,
        )

    def prune(self, now: float) -> None:
        """Forget topics with no sighting inside the window (call now and then to bound memory)."""
        horizon = now - self.window
        for topic in [t for t, d in self._sightings.items() if not d or d[-1].at <= horizon]:
            del self._sightings[topic]
        for topic in [t for t, at in self._fired.items() if now - at >= self.window]:
            del self._fired[topic]
