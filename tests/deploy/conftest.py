"""Helpers for the deploy tests: where the repo's deploy files are, the Prometheus tools, ports.

The tools come from Debian (`apt-get install -y prometheus prometheus-alertmanager`).
A missing tool FAILS the test rather than skipping it: CI installs them, so their
absence means a broken setup, and a skipped check would pass silently.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.deploy.deploy_checks import PROMETHEUS_SERIES, catalogue_metric_names, recording_rule_names

# Binary name -> Debian package that provides it.
_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


def find_binary(name: str) -> str:
    """Absolute path of a Prometheus tool on PATH, or fail the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        package = _PACKAGES.get(name, name)
        pytest.fail(
            f"`{name}` not found on PATH; these tests need it. "
            f"Install it with `apt-get install -y {package}` (CI's setup does this).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_binary("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return find_binary("amtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return find_binary("prometheus")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_tool(args: Sequence[str], cwd: Path | None = None, timeout: float = 60) -> str:
    """Run a command and assert it exits 0; the failure message carries its whole output."""
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    output = f"$ {' '.join(args)}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{output}"
    return output


@pytest.fixture()
def free_tcp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def port_factory() -> Callable[[], int]:
    """``free_port`` for tests that need several ports."""
    return free_port


@pytest.fixture(scope="session")
def tool() -> Callable[..., str]:
    """``run_tool`` for test modules (conftest is not importable by name: the root one shadows it)."""
    return run_tool


@pytest.fixture(scope="session")
def known_series() -> frozenset[str]:
    """Names a dashboard or rule may select: the catalogue, recording rules, Prometheus' own."""
    return frozenset(catalogue_metric_names() | recording_rule_names() | PROMETHEUS_SERIES)
