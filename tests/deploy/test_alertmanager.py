"""The Alertmanager config validates with amtool and routes alerts by severity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from tests.deploy.deploy_checks import ALERTMANAGER_CONFIG as CONFIG


def test_check_config(amtool: str, tool: Callable[..., str]) -> None:
    tool([amtool, "check-config", str(CONFIG)])


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=KafkaPublishFailing", "severity=critical"], "wiremon-critical"),
        (["alertname=FeedStale", "severity=warning", "feed=afp-fr"], "wiremon-warning"),
        (["alertname=SomethingNew"], "wiremon-warning"),
    ],
)
def test_routes(amtool: str, tool: Callable[..., str], labels: list[str], receiver: str) -> None:
    verify = f"--verify.receivers={receiver}"
    tool([amtool, "config", "routes", "test", f"--config.file={CONFIG}", verify, *labels])


def test_kafka_failure_inhibits_outbox_backlog() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert any(
        'alertname = "KafkaPublishFailing"' in rule["source_matchers"]
        and any("OutboxBacklog" in m for m in rule["target_matchers"])
        for rule in config["inhibit_rules"]
    )
