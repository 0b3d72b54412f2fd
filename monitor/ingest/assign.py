"""Which feeds this instance polls.

Today every instance polls every configured feed (``StaticAssignment``). The interface is
the seam for sharing feeds between instances through a Kafka consumer group (DESIGN.md):
an assignment that yields the feeds of the partitions this instance owns, and calls
back when a rebalance moves feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..config import FeedConfig


class FeedAssignment(Protocol):
    def feeds(self) -> Sequence[FeedConfig]:
        """The enabled feeds this instance is responsible for now."""
        ...


class StaticAssignment:
    """All enabled feeds of the configuration."""

    def __init__(self, feeds: Sequence[FeedConfig]) -> None:
        self._feeds = [f for f in feeds if f.enabled]

    def feeds(self) -> Sequence[FeedConfig]:
        return self._feeds
