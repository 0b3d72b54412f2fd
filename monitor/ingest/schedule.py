"""When to poll each feed next. The arithmetic is pure; ``DueQueue`` holds the times.

A feed is polled every ``interval`` seconds plus a random jitter (so that feeds
configured alike do not poll in lock-step); after ``n`` failures in a row it waits
``interval * 2**n`` (capped at ``backoff_max``), and never less than the server's
``Retry-After``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

MAX_RETRY_AFTER = 86_400.0


def next_delay(
    interval: float,
    *,
    failures: int = 0,
    jitter: float = 0.0,
    rand: float = 0.0,
    backoff_max: float = 3600.0,
    retry_after: float | None = None,
) -> float:
    """Seconds until the next poll. ``rand`` in [0, 1) comes from the caller's RNG."""
    delay = interval
    if failures > 0:
        delay = min(max(backoff_max, interval), interval * 2.0 ** min(failures, 30))
    delay *= 1.0 + jitter * rand
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


@dataclass(order=True, slots=True)
class _Entry:
    due: float
    feed_id: str = field(compare=False)
    token: int = field(compare=False)


class DueQueue:
    """Feeds ordered by due time; rescheduling a feed supersedes its earlier entry."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._tokens: dict[str, int] = {}
        self._counter = 0

    def schedule(self, feed_id: str, due: float) -> None:
        self._counter += 1
        self._tokens[feed_id] = self._counter
        heapq.heappush(self._heap, _Entry(due, feed_id, self._counter))

    def remove(self, feed_id: str) -> None:
        self._tokens.pop(feed_id, None)

    def next_due(self) -> float | None:
        while self._heap and self._tokens.get(self._heap[0].feed_id) != self._heap[0].token:
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> list[str]:
        """Feeds due at ``now``, removed from the queue (reschedule them after the poll)."""
        out: list[str] = []
        while self._heap and self._heap[0].due <= now:
            entry = heapq.heappop(self._heap)
            if self._tokens.get(entry.feed_id) == entry.token:
                del self._tokens[entry.feed_id]
                out.append(entry.feed_id)
        return out

    def __len__(self) -> int:
        return len(self._tokens)
