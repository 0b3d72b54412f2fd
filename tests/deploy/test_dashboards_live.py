"""Every dashboard query returns data from a real Prometheus scraping a real monitor.

The monitor is `python -m monitor run` with no config: the embedded default (demo
feeds replayed on loopback, embedded broker). Debian's `prometheus` scrapes it every
second and evaluates our rules file, so recording rules the dashboards use exist too.
Then each panel's PromQL goes through `/api/v1/query` with Grafana's variables
replaced; a query that errors, or still returns nothing when the wait is over, fails.
Panels about events that may not have happened (alert deliveries, fetch errors) are
written to return 0 instead of nothing, so they are held to the same rule.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.deploy_checks import REPO, RULES_FILE, PanelQuery, load_dashboards, panel_queries

pytestmark = pytest.mark.slow

READY_TIMEOUT = 60.0  # the monitor's /readyz
MIN_SCRAPES = 5  # scrapes of the monitor before any query counts
DATA_TIMEOUT = 30.0  # after that, how long queries may stay empty before failing


def _http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Process:
    """A subprocess with its output in a log file, for failure messages."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return f"--- last lines of {self.name} output ({self.log}) ---\n{_tail(self.log)}"

    def wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.proc.returncode} before {url} answered\n{self.output()}"
                )
            if _http_get(url, timeout=2)[0] == 200:
                return
            time.sleep(0.25)
        pytest.fail(f"{self.name}: {url} did not answer 200 within {timeout:.0f}s\n{self.output()}")

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"{self.name} did not stop within {timeout:.0f}s of SIGTERM\n{self.output()}")
        return self.proc.returncode


def _start(name: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Process:
    log = cwd / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, proc, log)


@pytest.fixture(scope="module")
def monitor(
    tmp_path_factory: pytest.TempPathFactory, port_factory: Callable[[], int]
) -> Iterator[tuple[Process, int]]:
    """The embedded default monitor, ready (`/readyz` 200)."""
    workdir = tmp_path_factory.mktemp("monitor")
    port = port_factory()
    env = dict(os.environ)
    env["WIREMON_STATE_DIR"] = str(workdir / "state")
    # The package is installed editable in the venv; the repo on the path as well makes the
    # test independent of that (the caller's PYTHONPATH, if any, keeps precedence).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO)) if p)
    process = _start(
        "monitor", [sys.executable, "-m", "monitor", "run", "--http-port", str(port)], workdir, env
    )
    try:
        process.wait_http(f"http://127.0.0.1:{port}/readyz", READY_TIMEOUT)
        yield process, port
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@pytest.fixture(scope="module")
def prometheus(
    monitor: tuple[Process, int],
    prometheus_bin: str,
    tmp_path_factory: pytest.TempPathFactory,
    port_factory: Callable[[], int],
) -> Iterator[str]:
    """A real Prometheus scraping the monitor every second with our rules loaded; its base URL."""
    _, monitor_port = monitor
    workdir = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [
            {
                "job_name": "wiremon",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{monitor_port}"]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = port_factory()
    process = _start(
        "prometheus",
        [
            prometheus_bin,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        workdir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{base}/-/ready", 30)
        yield base
    finally:
        process.stop()


def _query(base: str, expr: str) -> dict[str, Any]:
    status, body = _http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=10)
    try:
        answer: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError:
        answer = {"status": "error", "error": f"HTTP {status}: {body[:200]!r}"}
    return answer


def _has_data(answer: dict[str, Any]) -> bool:
    data = answer.get("data", {})
    return data.get("resultType") == "scalar" or bool(data.get("result"))


_BUILTIN_INTERVALS = re.compile(r"\$\{?__(?:rate_interval|interval|range)\}?")
_VARIABLES = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's interval variables by 1m and template variables by `.*` (All)."""
    return _VARIABLES.sub(".*", _BUILTIN_INTERVALS.sub("1m", expr))


def test_grafana_variable_substitution() -> None:
    expr = 'sum(rate(x{feed=~"$feed", c=~"${channel}"}[$__rate_interval])) / increase(y[$__range])'
    assert grafana_to_promql(expr) == 'sum(rate(x{feed=~".*", c=~".*"}[1m])) / increase(y[1m])'


def test_every_panel_query_returns_data(prometheus: str, monitor: tuple[Process, int]) -> None:
    process, _ = monitor
    queries = panel_queries(load_dashboards())
    assert queries, "no dashboard queries found"

    # Enough scrapes that rate() over 1m has points, and the monitor has polled.
    deadline = time.monotonic() + 30
    while True:
        scraped = _query(prometheus, 'count_over_time(up{job="wiremon"}[1m])')
        polled = _query(prometheus, "sum(wiremon_polls_total)")
        scrapes = float(scraped["data"]["result"][0]["value"][1]) if _has_data(scraped) else 0
        polls = float(polled["data"]["result"][0]["value"][1]) if _has_data(polled) else 0
        if scrapes >= MIN_SCRAPES and polls > 0:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"after 30s Prometheus has {scrapes:.0f} scrapes of the monitor and sees {polls:.0f} polls\n"
                f"{process.output()}"
            )
        time.sleep(0.5)

    # Some series appear a little after the first polls (items, publishes, recording rules):
    # retry the empty ones until DATA_TIMEOUT; an error fails at once.
    pending: dict[PanelQuery, str] = {q: grafana_to_promql(q.expr) for q in queries}
    errors: list[str] = []
    deadline = time.monotonic() + DATA_TIMEOUT
    while pending:
        for query, promql in list(pending.items()):
            answer = _query(prometheus, promql)
            if answer.get("status") != "success":
                errors.append(f"{query}\n    ran as: {promql}\n    error: {answer.get('error')}")
                del pending[query]
            elif _has_data(answer):
                del pending[query]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    empty = [f"{query}\n    ran as: {promql}" for query, promql in pending.items()]
    problems = [f"{len(errors)} queries failed:", *errors] if errors else []
    if empty:
        problems += [f"{len(empty)} queries still empty after {DATA_TIMEOUT:.0f}s:", *empty]
    assert not problems, "\n".join(problems) + "\n" + process.output()


def test_monitor_stops_cleanly_on_sigterm(monitor: tuple[Process, int]) -> None:
    process, _ = monitor
    code = process.stop()
    assert code == 0, f"the monitor exited with {code} on SIGTERM\n{process.output()}"
