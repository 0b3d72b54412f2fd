"""Fixtures shared by the whole suite: a real Kafka-compatible broker on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.embedded.broker import BrokerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One real Tansu broker for the session (memory storage, no schema validation).

    Tests isolate themselves with their own topic prefix (see ``topic_prefix``).
    """
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    broker = BrokerProcess(log_path=log)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture()
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A Kafka topic prefix unique to the test, so tests sharing the broker never collide."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return f"t{free_port()}-{name}."


@pytest.fixture()
def unused_port() -> int:
    return free_port()


# CI runs must be reproducible: a property test that finds a bug should find it on every
# run of the same commit (and locally, `HYPOTHESIS_PROFILE=dev` explores afresh each time).
from hypothesis import settings as _hsettings  # noqa: E402

_hsettings.register_profile("ci", derandomize=True, database=None, print_blob=True)
_hsettings.register_profile("dev", print_blob=True)
_hsettings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
