"""deploy/k8s/wiremon.yaml: the objects, probes, scrape annotations, and a config that validates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.deploy_checks import DEPLOY, REPO

MANIFEST = DEPLOY / "k8s" / "wiremon.yaml"


def _objects() -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if doc]
    return {doc["kind"]: doc for doc in docs}


def test_kinds() -> None:
    assert set(_objects()) == {"ConfigMap", "Deployment", "Service"}


def test_probes_ports_and_scrape_annotations() -> None:
    objects = _objects()
    pod = objects["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "http", "containerPort": 9108} in container["ports"]
    for notes in (pod["metadata"]["annotations"], objects["Service"]["metadata"]["annotations"]):
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/port"] == "9108"
        assert notes["prometheus.io/path"] == "/metrics"
    selector = objects["Service"]["spec"]["selector"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    # The container reads the ConfigMap where --config points.
    config_path = container["command"][container["command"].index("--config") + 1]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    config_volume = next(
        name for name, vol in volumes.items() if vol.get("configMap", {}).get("name") == "wiremon-config"
    )
    assert config_path == f"{mounts[config_volume]}/config.yml"


def test_configmap_config_validates(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(_objects()["ConfigMap"]["data"]["config.yml"], encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"wiremon check-config failed:\n{proc.stdout}\n{proc.stderr}"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert settings["http"] == {"host": "0.0.0.0", "port": 9108}
