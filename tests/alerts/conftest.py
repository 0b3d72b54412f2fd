"""Fixtures of the alert tests: a started ``AlertService`` on a temp dir with an in-memory publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts.config import AlertsConfig
from monitor.alerts.service import AlertService
from monitor.metrics import Metrics

from .helpers import MemoryPublisher

ServiceFactory = Callable[..., Awaitable[AlertService]]


@pytest.fixture()
async def make_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    """Build and start services on ``tmp_path`` (same state dir each time); all are stopped at the end."""
    started: list[AlertService] = []

    async def factory(
        publisher: Any = None,
        *,
        tokens: tuple[str, ...] = ("t0k3n",),
        clock: Any = None,
        topic_prefix: str = "wire.",
        **config: Any,
    ) -> AlertService:
        config.setdefault("allow_private_webhooks", True)
        config.setdefault("retry_initial", 0.05)
        config.setdefault("retry_max", 0.2)
        service = AlertService(
            AlertsConfig.model_validate(config),
            state_dir=tmp_path,
            topic_prefix=topic_prefix,
            publisher=publisher if publisher is not None else MemoryPublisher(),
            metrics=Metrics(),
            api_tokens=tokens,
        )
        if clock is not None:
            service._clock = clock
        await service.start()
        started.append(service)
        return service

    yield factory
    for service in started:
        await service.stop()
