"""The Prometheus config and rules check with promtool, and the rules' unit tests pass.

`promtool test rules` runs deploy/prometheus/tests/wiremon_test.yml, which holds a
firing and a quiet case for every alert; here we also make sure no required alert
went missing and that every alert is covered by that file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.deploy.deploy_checks import PROMETHEUS_DIR, RULES_FILE, RULES_TESTS, promql_metric_names

REQUIRED_ALERTS = {
    "FeedStale",
    "FeedFailing",
    "NoItemsIngested",
    "KafkaPublishFailing",
    "OutboxBacklog",
    "AlertDeliveryFailing",
    "TopicSpike",
}


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_prometheus_config_checks(promtool: str, tool: Callable[..., str], tmp_path: Path) -> None:
    # A copy in a temp dir, so `rule_files: [rules/*.yml]` resolves exactly as in the container.
    shutil.copy(PROMETHEUS_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp_path / "rules")
    output = tool([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert "1 rule files found" in output, f"the rules were not picked up:\n{output}"


def test_rules_check(promtool: str, tool: Callable[..., str]) -> None:
    tool([promtool, "check", "rules", str(RULES_FILE)])


def test_rules_unit_tests_pass(promtool: str, tool: Callable[..., str]) -> None:
    tool([promtool, "test", "rules", RULES_TESTS.name], cwd=RULES_TESTS.parent)


def test_required_alerts_exist() -> None:
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    missing = REQUIRED_ALERTS - alerts
    assert not missing, f"alerts missing from {RULES_FILE.name}: {sorted(missing)}"


def test_rules_use_known_metrics(known_series: frozenset[str]) -> None:
    problems = [
        f"{rule.get('alert') or rule.get('record')}: unknown metric {name!r}"
        for rule in _rules()
        for name in sorted(promql_metric_names(rule["expr"]) - known_series)
    ]
    assert not problems, "\n".join(problems)


def test_alerts_are_labelled_and_annotated() -> None:
    for rule in _rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            assert annotations.get(key, "").strip(), f"{name}: annotation {key!r} missing"


def test_every_alert_fires_and_stays_quiet_in_unit_tests() -> None:
    """Each alert name has a case expecting it to fire and one expecting silence."""
    doc = yaml.safe_load(RULES_TESTS.read_text(encoding="utf-8"))
    fires: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert not alerts - fires, f"alerts never expected to fire: {sorted(alerts - fires)}"
    assert not alerts - quiet, f"alerts never expected to stay quiet: {sorted(alerts - quiet)}"
    # OutboxBacklog has two severities: both must be seen firing.
    severities = {
        alert["exp_labels"]["severity"]
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == "OutboxBacklog"
        for alert in case.get("exp_alerts", [])
    }
    assert severities == {"warning", "critical"}
