"""The ``alerts:`` section of the configuration.

Every option is validated once, at start; unknown keys are errors. Subscriptions
declared here are upserted by name at start and marked ``source: config`` (the API
may read but not change them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .models import SubscriptionIn


class AlertsConfig(BaseModel):
    """Matching, delivery and API options of the alert router."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(True, description="When false, events are not matched (the API still answers).")
    subscriptions: list[SubscriptionIn] = Field(default_factory=list)
    allow_private_webhooks: bool = Field(
        False, description="Allow webhook URLs that resolve to loopback, private or link-local addresses."
    )
    webhook_timeout: float = Field(10.0, gt=0, le=300, description="Seconds for one webhook POST.")
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Failed webhook attempts before an alert goes to <prefix>alerts.dead."
    )
    retry_initial: float = Field(1.0, gt=0, le=3600, description="First retry delay in seconds (doubles).")
    retry_max: float = Field(300.0, gt=0, le=86_400, description="Cap of the retry delay in seconds.")
    delivery_concurrency: int = Field(16, ge=1, le=1000, description="Deliveries in flight at once.")
    breaking_agencies: int = Field(3, ge=2, le=100, description="K: distinct agencies making a story.")
    breaking_window_minutes: float = Field(10.0, gt=0, le=1440, description="W: the window for K agencies.")
    breaking_min_score: float = Field(0.0, ge=0.0, le=1.0, description="Topic score an item needs to count.")
    recent_limit: int = Field(1000, ge=1, le=100_000, description="Largest ?limit= of GET /api/v1/alerts.")
    max_subscriptions: int = Field(10_000, ge=1, le=1_000_000)

    @field_validator("subscriptions")
    @classmethod
    def _unique_names(cls, value: list[SubscriptionIn]) -> list[SubscriptionIn]:
        seen: dict[str, int] = {}
        for index, sub in enumerate(value):
            if sub.name in seen:
                raise ValueError(f"[{index}].name: {sub.name!r} is already used by [{seen[sub.name]}]")
            seen[sub.name] = index
            if sub.channel == "webhook" and sub.webhook_secret is None:
                raise ValueError(f"[{index}].webhook_secret: required when channel is 'webhook'")
        return value

    @model_validator(mode="after")
    def _retry_order(self) -> AlertsConfig:
        if self.retry_max < self.retry_initial:
            raise ValueError(f"retry_max ({self.retry_max}) must be >= retry_initial ({self.retry_initial})")
        return self
