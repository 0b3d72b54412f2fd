"""docker-compose.yml and everything it mounts, checked without Docker.

No Docker engine runs on these machines, so the stack is checked piece by piece: the
compose file parses and has every service, every host path it mounts or builds from
exists, each mounted config validates with its own tool (laid out as the container
sees it), the wiremon CLI accepts the commands compose runs, and the Grafana
dashboards are well-formed and query only metrics the monitor exposes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.deploy.deploy_checks import (
    COMPOSE_FILE,
    DEPLOY,
    REPO,
    iter_panels,
    load_dashboards,
    panel_queries,
    promql_metric_names,
)

REQUIRED_SERVICES = {"kafka", "monitor", "prometheus", "alertmanager", "grafana", "demo-feeds"}


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), (
        "no services in docker-compose.yml"
    )
    return doc


def _bind_mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(host path in the repo, container path) of a service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") != "bind":
                continue
            source, target = volume["source"], volume["target"]
        else:
            source, target = str(volume).split(":")[:2]
            if not source.startswith((".", "/")):
                continue  # a named volume
        mounts.append(((REPO / source).resolve(), PurePosixPath(target)))
    return mounts


def _lay_out(service: dict[str, Any], root: Path) -> None:
    """Copy a service's bind mounts under ``root`` at their container paths."""
    for source, target in _bind_mounts(service):
        dest = root / target.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy(source, dest)


def _flag(command: list[str], name: str) -> str:
    for arg in command:
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return command[command.index(name) + 1]


# --------------------------------------------------------------------------- the compose file


def test_services_exist() -> None:
    services = _compose()["services"]
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_kafka_is_single_node_kraft() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.0"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1


def test_bind_mounts_and_build_contexts_exist() -> None:
    doc = _compose()
    named = set(doc.get("volumes") or {})
    problems = []
    for name, service in doc["services"].items():
        for source, _target in _bind_mounts(service):
            if not source.exists():
                problems.append(f"{name}: mounted path {source.relative_to(REPO)} does not exist")
            elif not source.is_relative_to(REPO):
                problems.append(f"{name}: mounts {source}, outside the repository")
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0] if not isinstance(volume, dict) else volume.get("source", "")
            if not source.startswith((".", "/")) and source not in named:
                problems.append(f"{name}: named volume {source!r} is not declared under volumes:")
        build = service.get("build")
        if build is not None:
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            )
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            elif not dockerfile.is_file():
                problems.append(f"{name}: {dockerfile.relative_to(REPO)} does not exist")
    assert not problems, "\n".join(problems)


def test_dockerfile_runs_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in text
    user_lines = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split(":")[0] not in {"root", "0"}, "the image must not run as root"


# --------------------------------------------------------------------------- mounted configs validate


def test_prometheus_config_as_mounted(promtool: str, tool: Callable[..., str], tmp_path: Path) -> None:
    service = _compose()["services"]["prometheus"]
    _lay_out(service, tmp_path)
    config = _flag(service["command"], "--config.file")
    output = tool([promtool, "check", "config", str(tmp_path / config.lstrip("/"))])
    assert "1 rule files found" in output, f"rules not found where the container has them:\n{output}"
    # The compose scrape target and alertmanager are the compose service names.
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["wiremon"]["static_configs"][0]["targets"] == ["monitor:9108"]
    assert jobs["wiremon"].get("metrics_path", "/metrics") == "/metrics"
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_alertmanager_config_as_mounted(amtool: str, tool: Callable[..., str], tmp_path: Path) -> None:
    service = _compose()["services"]["alertmanager"]
    _lay_out(service, tmp_path)
    config = _flag(service["command"], "--config.file")
    tool([amtool, "check-config", str(tmp_path / config.lstrip("/"))])


def _monitor_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_wiremon_config_as_mounted() -> None:
    service = _compose()["services"]["monitor"]
    command = service["command"]
    config = PurePosixPath(_flag(command, "--config"))
    sources = {target: source for source, target in _bind_mounts(service)}
    assert config in sources, f"the monitor's --config {config} is not a bind mount"
    assert sources[config] == (DEPLOY / "compose" / "wiremon.yml").resolve()
    proc = _monitor_cli("check-config", str(sources[config]))
    assert proc.returncode == 0, f"wiremon check-config failed:\n{proc.stdout}\n{proc.stderr}"


def test_compose_wiremon_config_contents() -> None:
    config = yaml.safe_load((DEPLOY / "compose" / "wiremon.yml").read_text(encoding="utf-8"))
    assert config["kafka"] == {**config["kafka"], "bootstrap_servers": "kafka:9092", "idempotence": True}
    assert config["state_dir"] == "/var/lib/wiremon"
    assert config["http"] == {"host": "0.0.0.0", "port": 9108}
    feeds = {feed["id"]: feed for feed in config["feeds"]}
    assert set(feeds) == {"afp-fr", "reuters-en", "dpa-de", "tass-ru"}
    for feed_id, feed in feeds.items():
        assert feed["url"] == f"http://demo-feeds:8080/feeds/{feed_id}.xml"
        assert feed["agency"]


@pytest.mark.parametrize("service_name", ["monitor", "demo-feeds"])
def test_wiremon_cli_accepts_compose_command(service_name: str) -> None:
    """Every --flag compose passes to `wiremon <subcommand>` is one the subcommand knows."""
    command = _compose()["services"][service_name]["command"]
    assert command[0] == "wiremon", command
    subcommand = command[1]
    proc = _monitor_cli(subcommand, "--help")
    assert proc.returncode == 0, f"`wiremon {subcommand} --help` failed:\n{proc.stdout}\n{proc.stderr}"
    unknown = [
        arg.split("=")[0]
        for arg in command[2:]
        if arg.startswith("--") and arg.split("=")[0] not in proc.stdout
    ]
    assert not unknown, f"`wiremon {subcommand}` does not list {unknown} in --help:\n{proc.stdout}"


def test_grafana_provisioning_matches_mounts() -> None:
    service = _compose()["services"]["grafana"]
    mounts = {target: source for source, target in _bind_mounts(service)}
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    (datasource,) = datasources["datasources"]
    assert (datasource["type"], datasource["uid"]) == ("prometheus", "prometheus")
    assert datasource["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "wiremon.yml").read_text(encoding="utf-8")
    )
    (provider,) = providers["providers"]
    path = PurePosixPath(provider["options"]["path"])
    assert mounts.get(path) == (DEPLOY / "grafana" / "dashboards").resolve(), (
        f"the dashboards provider reads {path}, where compose mounts nothing or something else"
    )
    assert (
        mounts.get(PurePosixPath("/etc/grafana/provisioning"))
        == (DEPLOY / "grafana" / "provisioning").resolve()
    )


# --------------------------------------------------------------------------- dashboards


def test_dashboards_present() -> None:
    assert set(load_dashboards()) >= {"wire-overview.json", "feed-health.json", "pipeline.json"}


def test_dashboards_are_valid_models() -> None:
    problems = []
    uids = set()
    for name, dashboard in load_dashboards().items():
        if not 36 <= dashboard.get("schemaVersion", 0) <= 41:
            problems.append(f"{name}: schemaVersion {dashboard.get('schemaVersion')} (want ~39)")
        if not dashboard.get("uid") or dashboard["uid"] in uids:
            problems.append(f"{name}: missing or duplicate uid {dashboard.get('uid')!r}")
        uids.add(dashboard.get("uid"))
        if not dashboard.get("title"):
            problems.append(f"{name}: no title")
        ids = [panel.get("id") for panel in iter_panels(dashboard["panels"])]
        if None in ids or len(ids) != len(set(ids)):
            problems.append(f"{name}: panel ids missing or not unique: {ids}")
        for panel in iter_panels(dashboard["panels"]):
            grid = panel.get("gridPos", {})
            if not {"h", "w", "x", "y"} <= set(grid) or grid["x"] + grid["w"] > 24:
                problems.append(f"{name}: panel {panel.get('title')!r} has a bad gridPos {grid}")
            if panel.get("type") == "row":
                continue
            if not panel.get("targets"):
                problems.append(f"{name}: panel {panel.get('title')!r} has no query")
            for target in panel.get("targets", []):
                if not target.get("expr", "").strip():
                    problems.append(f"{name}: panel {panel.get('title')!r} has a target without expr")
                for where in (panel, target):
                    ds = where.get("datasource")
                    if ds != {"type": "prometheus", "uid": "prometheus"}:
                        problems.append(f"{name}: panel {panel.get('title')!r} datasource {ds}")
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and variable.get("datasource", {}).get("uid") != "prometheus":
                problems.append(f"{name}: variable {variable.get('name')} has another datasource")
    assert not problems, "\n".join(problems)


def test_dashboard_queries_use_known_metrics(known_series: frozenset[str]) -> None:
    problems = []
    dashboards = load_dashboards()
    for query in panel_queries(dashboards):
        names = promql_metric_names(query.expr)
        if not names:
            problems.append(f"no metric in {query}")
        for name in sorted(names - known_series):
            problems.append(f"unknown metric {name!r} in {query}")
    for file_name, dashboard in dashboards.items():
        for variable in dashboard.get("templating", {}).get("list", []):
            definition = variable.get("definition", "")
            if definition.startswith("label_values("):
                selector = definition[len("label_values(") :].rsplit(",", 1)[0]
                for name in sorted(promql_metric_names(selector) - known_series):
                    problems.append(f"unknown metric {name!r} in {file_name} variable ${variable['name']}")
    assert not problems, "\n".join(problems)


def test_metric_name_extraction() -> None:
    """The lexical extractor the check above relies on finds names and only names."""
    expr = (
        'sum by (feed) (rate(wiremon_polls_total{feed=~"$feed", outcome!="ok"}[$__rate_interval])) * 60'
        " / on (feed) group_left (x) wiremon:topic_items:rate10m > 0.5e3"
        ' or label_replace(vector(0), "a", "b", "", "") unless bogus_metric offset 10m'
    )
    assert promql_metric_names(expr) == {"wiremon_polls_total", "wiremon:topic_items:rate10m", "bogus_metric"}
