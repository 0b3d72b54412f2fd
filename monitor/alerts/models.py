"""Pydantic models of the alert feature: subscriptions (in, stored, out) and alert payloads.

Shapes, from the user's side:

* ``SubscriptionIn``: what a client sends (POST/PUT) or the config file declares.
  ``webhook_secret`` is write-only: it is accepted here and never appears in any
  output model, log line or ``repr``.
* ``SubscriptionPatch``: a partial update; only the keys present are applied.
* ``Subscription``: what the store holds (``SubscriptionIn`` + id, source, times).
* ``SubscriptionView``: what the API returns (no secret; ``webhook_secret_set``).
* ``Alert`` (``alert.v1``) and ``AlertDigest`` (``alert_digest.v1``): the payloads
  delivered to webhooks and Kafka; their JSON Schemas come from
  ``alert_json_schema()`` / ``alert_digest_json_schema()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..models import EventStatus, TopicMatch, Urgency

ALERT_SCHEMA_ID: Final = "alert.v1"
DIGEST_SCHEMA_ID: Final = "alert_digest.v1"

Channel = Literal["webhook", "kafka"]
AlertKind = Literal["match", "breaking"]
Source = Literal["api", "config"]
# Lifecycle of one alert row: queued -> delivered | dead; held (waiting for a digest)
# -> queued; suppressed (over the limit throttle); cancelled (subscription deleted).
AlertStatus = Literal["queued", "held", "suppressed", "delivered", "dead", "cancelled"]

TopicId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
AgencyName = Annotated[str, Field(min_length=1, max_length=64)]
Phrase = Annotated[str, Field(min_length=1, max_length=200)]
SUBSCRIPTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:@/+-]{0,99}$"
KAFKA_SUFFIX_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"


class LimitThrottle(BaseModel):
    """At most ``max_alerts`` alerts in any sliding window of ``window_minutes``; the rest are suppressed."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["limit"]
    max_alerts: int = Field(ge=1, le=100_000)
    window_minutes: float = Field(gt=0, le=10_080)


class DigestThrottle(BaseModel):
    """Alerts are held and delivered together, one digest at most every ``every_minutes``."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["digest"]
    every_minutes: float = Field(gt=0, le=10_080)


Throttle = Annotated[LimitThrottle | DigestThrottle, Field(discriminator="mode")]


class _SubscriptionCommon(BaseModel):
    """Fields shared by the input and output shapes (everything but the secret)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SUBSCRIPTION_NAME_PATTERN, description="Unique, human-chosen name.")
    topics: list[TopicId] = Field(
        default_factory=list, max_length=200, description="Topic ids; empty means any topic."
    )
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="A listed topic must score at least this.")
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50, description="Empty means any.")
    agencies: list[AgencyName] = Field(default_factory=list, max_length=200, description="Empty means any.")
    phrases: list[Phrase] = Field(
        default_factory=list,
        max_length=50,
        description="Whole-word phrases, matched case- and accent-insensitively in title/summary/body.",
    )
    phrase_mode: Literal["all", "any"] = Field("all", description="Whether every phrase or one must appear.")
    urgent_only: bool = Field(False, description="Only items of urgency 'urgent' or 'flash'.")
    channel: Channel
    webhook_url: str | None = Field(None, max_length=2000, description="Required for channel 'webhook'.")
    kafka_topic: str | None = Field(
        None,
        pattern=KAFKA_SUFFIX_PATTERN,
        description="Extra topic for channel 'kafka': '<prefix>alerts.<kafka_topic>'.",
    )
    throttle: Throttle | None = None
    active: bool = True
    include_updates: bool = Field(False, description="Alert again when a matched item is updated.")
    breaking: bool = Field(False, description="Also receive breaking-story alerts for the subscribed topics.")

    @field_validator("webhook_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            parts = urlsplit(value)
            port = parts.port  # raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if port == 0:
            raise ValueError("port 0 is not a valid port")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; the request is signed instead")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
            raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("kafka_topic")
    @classmethod
    def _check_suffix(cls, value: str | None) -> str | None:
        if value == "dead":
            raise ValueError("'dead' is reserved for the dead-letter topic")
        return value

    @model_validator(mode="after")
    def _check_channel(self) -> _SubscriptionCommon:
        if self.channel == "webhook" and self.webhook_url is None:
            raise ValueError("webhook_url is required when channel is 'webhook'")
        if self.channel != "webhook" and self.webhook_url is not None:
            raise ValueError("webhook_url is only used when channel is 'webhook'")
        if self.channel != "kafka" and self.kafka_topic is not None:
            raise ValueError("kafka_topic is only used when channel is 'kafka'")
        return self


class SubscriptionIn(_SubscriptionCommon):
    """A subscription as a client (POST/PUT) or the config file declares it."""

    webhook_secret: SecretStr | None = Field(
        None,
        min_length=16,
        max_length=512,
        description="HMAC key for the X-Wiremon-Signature header. Write-only: never returned. "
        "Required for channel 'webhook' (on PUT, omit it to keep the current one).",
    )


class SubscriptionPatch(BaseModel):
    """A partial update: only keys present in the request body change (``null`` clears a nullable key)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, pattern=SUBSCRIPTION_NAME_PATTERN)
    topics: list[TopicId] | None = Field(None, max_length=200)
    min_score: float | None = Field(None, ge=0.0, le=1.0)
    languages: list[LanguageCode] | None = Field(None, max_length=50)
    agencies: list[AgencyName] | None = Field(None, max_length=200)
    phrases: list[Phrase] | None = Field(None, max_length=50)
    phrase_mode: Literal["all", "any"] | None = None
    urgent_only: bool | None = None
    channel: Channel | None = None
    webhook_url: str | None = Field(None, max_length=2000)
    webhook_secret: SecretStr | None = Field(None, min_length=16, max_length=512)
    kafka_topic: str | None = Field(None, pattern=KAFKA_SUFFIX_PATTERN)
    throttle: Throttle | None = None
    active: bool | None = None
    include_updates: bool | None = None
    breaking: bool | None = None


class Subscription(SubscriptionIn):
    """A stored subscription. ``source`` says whether the API or the config file owns it."""

    id: str
    source: Source = "api"
    created_at: datetime
    updated_at: datetime


class SubscriptionView(_SubscriptionCommon):
    """A subscription as the API returns it: everything but the secret."""

    id: str
    source: Source
    created_at: datetime
    updated_at: datetime
    webhook_secret_set: bool = Field(description="Whether a webhook secret is stored (it is never returned).")

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionView:
        data = sub.model_dump(exclude={"webhook_secret"})
        return cls.model_validate({**data, "webhook_secret_set": sub.webhook_secret is not None})


class BreakingInfo(BaseModel):
    """Why a breaking alert fired: the agencies that published on the topic inside the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    agencies: list[str]
    event_ids: list[str]
    window_minutes: float
    first_seen: datetime


class Alert(BaseModel):
    """One alert for one subscription (payload ``alert.v1``).

    ``alert_id`` is deterministic for a (subscription, event, revision) — or for a
    (subscription, topic, window) for breaking alerts — so a receiver can drop the
    duplicates an at-least-once delivery may produce.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_id: Literal["alert.v1"] = ALERT_SCHEMA_ID
    alert_id: str
    kind: AlertKind
    subscription_id: str
    subscription_name: str
    event_id: str
    revision: int = Field(ge=1)
    event_status: EventStatus
    topics: list[TopicMatch] = Field(description="The subscribed topics the item matched, best first.")
    title: str
    link: str | None
    agency: str
    language: str | None
    urgency: Urgency
    published: datetime | None
    story_id: str | None = None
    created_at: datetime
    breaking: BreakingInfo | None = Field(None, description="Set for kind 'breaking'.")


class AlertDigest(BaseModel):
    """Alerts held for a digest subscription, delivered together (payload ``alert_digest.v1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_id: Literal["alert_digest.v1"] = DIGEST_SCHEMA_ID
    digest_id: str
    subscription_id: str
    subscription_name: str
    created_at: datetime
    alerts: list[Alert]


class AlertRecord(BaseModel):
    """An alert with its delivery state, as ``GET /api/v1/alerts`` lists it."""

    model_config = ConfigDict(extra="forbid")

    alert: Alert
    status: AlertStatus
    channel: Channel
    updated_at: datetime


class ErrorBody(BaseModel):
    """Body of a 4xx answer other than a validation error."""

    detail: str


def _with_header(schema: dict[str, Any], schema_id: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://wire-monitor/schemas/{schema_id}.json",
        **schema,
    }


def alert_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``Alert`` as serialised on the wire (checked in as ``schemas/alert.v1.json``)."""
    return _with_header(Alert.model_json_schema(mode="serialization"), ALERT_SCHEMA_ID)


def alert_digest_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``AlertDigest`` (to check in as ``schemas/alert_digest.v1.json``)."""
    return _with_header(AlertDigest.model_json_schema(mode="serialization"), DIGEST_SCHEMA_ID)
