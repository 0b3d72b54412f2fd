"""The pydantic models at the monitor's boundaries.

``WireItem`` is one normalised feed item; ``TopicMatch`` / ``Evidence`` are what the
classifier says about it; ``EnrichedEvent`` is the payload of ``wire.enriched`` and
``wire.topic.<id>`` (its JSON Schema is checked in under ``schemas/``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Urgency = Literal["flash", "urgent", "routine"]
FieldName = Literal["title", "summary", "body"]
EventStatus = Literal["new", "updated"]

ENRICHED_SCHEMA_ID: Final = "enriched_event.v1"


class Evidence(BaseModel):
    """One thing that fired for a topic: which rule, what text, where.

    ``start``/``end`` are character offsets into the *original* text of ``field``
    (as published in the event), so a reader can highlight ``text[start:end]``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(description="Id of the rule that fired, e.g. 'truce_near_syria'.")
    text: str = Field(description="The matched text as it appears in the field.")
    field: FieldName
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class TopicMatch(BaseModel):
    """A topic that applies to an item, with a score ordering items by centrality."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    score: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)


class WireItem(BaseModel):
    """One feed item after normalisation: clean text, UTC times, a stable id."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(description="Stable id: hash of agency + guid (else link, else content).")
    agency: str
    feed_id: str
    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary: str = ""
    body: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    language: str | None = Field(default=None, description="ISO 639-1 code, declared or detected.")
    language_source: Literal["item", "feed", "config", "detected", "unknown"] = "unknown"
    urgency: Urgency = "routine"
    content_hash: str = Field(description="sha256 of the normalised title, summary, body and link.")


class EnrichedEvent(WireItem):
    """Payload of ``wire.enriched`` and ``wire.topic.<id>``.

    Consumers deduplicate on ``(event_id, revision)``: a redelivery after a crash
    carries the same pair; an update carries the same ``event_id`` and a higher
    ``revision``.
    """

    schema_id: Literal["enriched_event.v1"] = ENRICHED_SCHEMA_ID
    status: EventStatus
    revision: int = Field(ge=1, description="1 for the first publication, +1 per update.")
    topics: list[TopicMatch] = Field(default_factory=list)
    story_id: str | None = Field(
        default=None, description="Reserved for story clustering (items on one story); always null in v1."
    )
    fetched_at: datetime
    accepted_at: datetime = Field(description="When the monitor accepted the item (outbox write).")
