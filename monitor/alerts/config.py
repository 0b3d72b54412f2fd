"""The ``alerts:`` section of the configuration (stub; the alerts module owns it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
