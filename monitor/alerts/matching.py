"""Pure matching: does an enriched event concern a subscription, and may it be sent now?

No I/O and no clock here: callers pass ``now``. Three pieces:

* ``compile_subscription`` turns a stored ``Subscription`` into a ``Matcher`` with
  its sets and normalised phrases precomputed, so matching one event against
  thousands of subscriptions costs a few set look-ups each.
* ``match`` answers which of the subscription's topics the event matched (or
  ``None``); ``should_alert`` applies the once-per-item / ``include_updates`` rule.
* ``throttle_verdict`` is the limit/digest state machine over ``ThrottleState``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from ..models import EnrichedEvent, TopicMatch
from .models import DigestThrottle, LimitThrottle, Subscription

URGENT = frozenset({"urgent", "flash"})
_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Fold case and accents, turn punctuation into spaces, pad with one space each side.

    ``" " + phrase + " "`` occurring in the result is then a whole-word match:
    ``normalize_text("Sanctions contre Moscou") `` contains ``" moscou "``, and
    ``"Élysée"`` and ``"elysee"`` fold alike.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " " + " ".join(_NON_WORD.sub(" ", stripped.casefold()).split()) + " "


class EventText:
    """The normalised title/summary/body of one event, computed at most once (lazily)."""

    def __init__(self, event: EnrichedEvent) -> None:
        self._event = event

    @cached_property
    def folded(self) -> str:
        e = self._event
        # Fields are folded apart and joined by a newline (which no folded phrase contains),
        # so a phrase cannot start in the title and end in the summary.
        return "\n".join(normalize_text(part) for part in (e.title, e.summary, e.body))


@dataclass(frozen=True, slots=True)
class Matcher:
    """A subscription compiled for fast matching (see ``compile_subscription``)."""

    subscription_id: str
    topics: frozenset[str]
    min_score: float
    languages: frozenset[str]
    agencies: frozenset[str]
    phrases: tuple[str, ...]
    phrases_all: bool
    urgent_only: bool
    active: bool
    include_updates: bool
    breaking: bool


def compile_subscription(sub: Subscription) -> Matcher:
    """Precompute what ``match`` needs; phrases that normalise to nothing are dropped."""
    phrases = tuple(p for p in (normalize_text(raw) for raw in sub.phrases) if p.strip())
    return Matcher(
        subscription_id=sub.id,
        topics=frozenset(sub.topics),
        min_score=sub.min_score,
        languages=frozenset(lang.lower() for lang in sub.languages),
        agencies=frozenset(a.casefold() for a in sub.agencies),
        phrases=phrases,
        phrases_all=sub.phrase_mode == "all",
        urgent_only=sub.urgent_only,
        active=sub.active,
        include_updates=sub.include_updates,
        breaking=sub.breaking,
    )


def match(m: Matcher, event: EnrichedEvent, text: EventText) -> tuple[TopicMatch, ...] | None:
    """The event's topics this subscription wants, best first; ``None`` when it does not match.

    Rules, all of which must hold: the subscription is active; the item is urgent or
    flash if ``urgent_only``; its language and agency are listed (empty list: any);
    at least one topic is listed (empty: any) and scores ``>= min_score`` — an empty
    topic list with ``min_score == 0`` also accepts items with no topic; and the
    phrases appear (all or any, per ``phrase_mode``). Cheap tests run first.
    """
    if not m.active:
        return None
    if m.urgent_only and event.urgency not in URGENT:
        return None
    if m.languages and (event.language or "").lower() not in m.languages:
        return None
    if m.agencies and event.agency.casefold() not in m.agencies:
        return None
    topics = tuple(
        t for t in event.topics if (not m.topics or t.topic in m.topics) and t.score >= m.min_score
    )
    if not topics and (m.topics or m.min_score > 0):
        return None
    if m.phrases:
        folded = text.folded
        found = (p in folded for p in m.phrases)
        if not (all(found) if m.phrases_all else any(found)):
            return None
    return tuple(sorted(topics, key=lambda t: -t.score))


def should_alert(m: Matcher, revision: int, last_alerted_revision: int | None) -> bool:
    """Once per item: the first revision seen alerts; a later one only with ``include_updates``."""
    if last_alerted_revision is None:
        return True
    return m.include_updates and revision > last_alerted_revision


def wants_breaking(m: Matcher, topic: str) -> bool:
    """Whether a breaking story on ``topic`` goes to this subscription."""
    return m.active and m.breaking and (not m.topics or topic in m.topics)


# -- throttle ---------------------------------------------------------------------------------

Verdict = Literal["send", "suppress", "hold"]


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What the throttle remembers about one subscription.

    ``sent`` holds the times of alerts let through inside the current limit window
    (oldest first); ``digest_opened_at`` is when the first alert of the digest being
    collected was held (``None``: nothing held).
    """

    sent: tuple[float, ...] = field(default=())
    digest_opened_at: float | None = None


def throttle_verdict(
    policy: LimitThrottle | DigestThrottle | None, state: ThrottleState, now: float
) -> tuple[Verdict, ThrottleState]:
    """Decide one alert's fate and return the next state.

    * no policy: ``send``;
    * limit N per W minutes (sliding window): ``send`` while fewer than N were sent
      in ``(now - W, now]``, else ``suppress`` (suppressed alerts do not count);
    * digest every W minutes: ``hold``; the first held alert opens the digest, which
      is due ``W`` minutes later (``digest_due``).
    """
    if policy is None:
        return "send", state
    if isinstance(policy, LimitThrottle):
        horizon = now - policy.window_minutes * 60.0
        recent = tuple(t for t in state.sent if t > horizon)
        if len(recent) >= policy.max_alerts:
            return "suppress", ThrottleState(recent, state.digest_opened_at)
        return "send", ThrottleState((*recent, now), state.digest_opened_at)
    opened = state.digest_opened_at if state.digest_opened_at is not None else now
    return "hold", ThrottleState(state.sent, opened)


def digest_due(policy: LimitThrottle | DigestThrottle | None, state: ThrottleState) -> float | None:
    """When the digest being collected must go out (``None``: nothing held).

    A subscription that stopped being a digest while alerts were held flushes them at once.
    """
    if state.digest_opened_at is None:
        return None
    if isinstance(policy, DigestThrottle):
        return state.digest_opened_at + policy.every_minutes * 60.0
    return state.digest_opened_at


def digest_flushed(state: ThrottleState) -> ThrottleState:
    """The state after the held alerts went out as one digest."""
    return ThrottleState(state.sent, None)
