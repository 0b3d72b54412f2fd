"""Run the monitor as a real subprocess and observe it from outside, as an operator would.

``MonitorProcess`` writes a YAML config, starts ``python -m monitor run --config FILE``,
scrapes its real ``/metrics``, reads its log, its peak RSS (``VmHWM``) and its SQLite
state, and signals it (SIGTERM, SIGKILL). ``RevealingFeeds`` is a loopback feed server
whose feeds publish numbered items over time. ``collect_events`` reads a Kafka topic
until every expected event id arrived, and counts duplicates.

Everything binds to 127.0.0.1; nothing here reaches beyond loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Settings
from monitor.embedded.broker import free_port
from monitor.service import Service
from tests.conftest import REPO
from tests.support.feeds import FeedServer, Item, read_topic, rss


async def wait_for(
    condition: Callable[[], Awaitable[bool]] | Callable[[], bool],
    limit: float,
    what: str,
    every: float = 0.2,
) -> float:
    """Poll ``condition`` until true; returns the seconds it took. Fails the test naming ``what``."""
    started = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")
        await asyncio.sleep(every)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def base_config(
    state_dir: Path, bootstrap: str, prefix: str, feeds: list[dict[str, Any]], **over: Any
) -> dict[str, Any]:
    """A config tuned for fast fault tests: short intervals, small timeouts, small backoff."""
    cfg: dict[str, Any] = {
        "state_dir": str(state_dir),
        "shutdown_grace": 5.0,
        "kafka": {
            "bootstrap_servers": bootstrap,
            "idempotence": False,
            "topic_prefix": prefix,
            "partitions": 1,
            "request_timeout_ms": 3000,
            "linger_ms": 5,
        },
        "fetch": {
            "parse_workers": 0,
            "jitter": 0,
            "default_interval": 0.5,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "total_timeout": 3.0,
            "backoff_max": 2.0,
        },
        "outbox": {"retry_initial": 0.2, "retry_max": 1.0},
        "alerts": {"enabled": False},
        "logging": {"level": "INFO"},
        "feeds": feeds,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@dataclass
class MonitorProcess:
    """``python -m monitor run`` as a child process; see the module docstring."""

    workdir: Path
    config: dict[str, Any]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "monitor.log"

    @property
    def state_db(self) -> Path:
        return Path(self.config["state_dir"]) / "state.sqlite3"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.workdir / "config.yml"
        cfg_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        self.runs += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it; closed in wait()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREMON_")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(cfg_path),
                "--http-port",
                str(self.port),
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    async def wait_exit(self, limit: float) -> int:
        assert self.proc is not None
        proc = self.proc
        await wait_for(lambda: proc.poll() is not None, limit, "the monitor to exit", every=0.05)
        return int(proc.returncode)

    def stop(self) -> None:
        """Cleanup for a finally: block: SIGTERM, then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    async def scrape(self) -> Samples:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"http://127.0.0.1:{self.port}/metrics", timeout=aiohttp.ClientTimeout(total=5)
            ) as resp,
        ):
            return parse_metrics(await resp.text())

    async def try_scrape(self) -> Samples | None:
        try:
            return await self.scrape()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def wait_ready(self, limit: float = 30.0) -> None:
        """Until /metrics answers and Kafka was reached (topics created)."""

        async def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"the monitor exited at start:\n{self.log()[-3000:]}")
            samples = await self.try_scrape()
            return samples is not None and metric(samples, "wiremon_kafka_up") == 1

        await wait_for(ready, limit, "the monitor to serve /metrics with wiremon_kafka_up 1")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def peak_rss_kib(self) -> int:
        """VmHWM: the peak resident set size of the process so far, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc/<pid>/status")

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Read the monitor's SQLite state (WAL: safe while it runs or after it died)."""
        db = sqlite3.connect(f"file:{self.state_db}?mode=ro", uri=True)
        try:
            return db.execute(query).fetchall()
        finally:
            db.close()


def numbered_item(feed: str, n: int) -> Item:
    return Item(guid=f"urn:{feed}:{n}", title=f"{feed} dispatch number {n}", description=f"Body of item {n}.")


class RevealingFeeds:
    """``count`` feeds on one FeedServer; ``reveal(k)`` publishes k more items, round robin.

    Each document lists its newest ``window`` items, newest first, like an agency feed.
    """

    def __init__(self, server: FeedServer, count: int, *, window: int = 200) -> None:
        self.server = server
        self.names = [f"wire{i:02d}" for i in range(count)]
        self.items: dict[str, list[Item]] = {n: [] for n in self.names}
        self.window = window
        self.published = 0
        for name in self.names:
            self._render(name)

    def _render(self, name: str) -> None:
        newest = self.items[name][-self.window :][::-1]
        self.server.set(f"/{name}.xml", rss(newest, language="en"))

    def feeds(self, interval: float = 0.5) -> list[dict[str, Any]]:
        return [
            {"id": n, "url": self.server.url(f"/{n}.xml"), "agency": "TEST", "interval": interval}
            for n in self.names
        ]

    def reveal(self, k: int) -> None:
        touched = set()
        for _ in range(k):
            name = self.names[self.published % len(self.names)]
            self.items[name].append(numbered_item(name, len(self.items[name])))
            self.published += 1
            touched.add(name)
        for name in touched:
            self._render(name)

    async def reveal_over(self, total: int, seconds: float, steps: int = 40) -> None:
        """Publish ``total`` items spread evenly over ``seconds``."""
        per, extra = divmod(total, steps)
        for i in range(steps):
            self.reveal(per + (1 if i < extra else 0))
            await asyncio.sleep(seconds / steps)

    def guids(self) -> set[str]:
        return {it.guid for items in self.items.values() for it in items}


@dataclass
class Delivery:
    """What a topic holds: every message, by event id."""

    messages: list[Any]

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(m.value) for m in self.messages]

    def by_key(self) -> Counter[str]:
        return Counter(m.key.decode() for m in self.messages)

    @property
    def duplicates(self) -> int:
        return len(self.messages) - len(self.by_key())


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[Service]:
    """An in-process Service polling on its schedule; stopped and shut down on exit."""
    service = Service(settings, serve_http=False)
    await service.start()
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(stop))
    try:
        yield service
    finally:
        stop.set()
        await runner
        await service.shutdown()


async def collect_events(
    bootstrap: str,
    topic: str,
    *,
    expect_guids: set[str] | None = None,
    expect: int | None = None,
    within: float = 60.0,
    idle: float = 2.0,
) -> Delivery:
    """Read ``topic`` from the start until the expected guids (or count of distinct keys)
    arrived, plus ``idle`` s."""

    def complete(messages: list[Any]) -> bool:
        if expect_guids is not None:
            return expect_guids <= {json.loads(m.value).get("guid") for m in messages}
        return expect is not None and len({m.key for m in messages}) >= expect

    return Delivery(await read_topic(bootstrap, topic, until=complete, timeout=within, idle=idle))
