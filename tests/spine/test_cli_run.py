"""The console contracts, run as real processes: ``run --once``, the embedded default,
``tail`` and ``classify``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from monitor.embedded.broker import BrokerProcess, free_port
from tests.conftest import REPO, SHARED
from tests.support.feeds import FeedServer, Item, read_topic, rss

SEED = (SHARED / "seed-dispatch.txt").read_text(encoding="utf-8")


def env(tmp: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WIREMON_")}
    return {**clean, "PYTHONPATH": str(REPO), "WIREMON_STATE_DIR": str(tmp / "state")}


async def wiremon(
    *args: str, tmp: Path, stdin: bytes | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        *args,
        env=env(tmp),
        cwd=tmp,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_run_once_with_config_then_tail(
    kafka_broker: BrokerProcess, topic_prefix: str, tmp_path: Path
) -> None:
    async with FeedServer() as server:
        url = server.set(
            "/afp.xml",
            rss(
                [
                    Item(
                        guid="seed",
                        title="Trump et Poutine s'accordent sur un cessez-le-feu en Syrie",
                        content=SEED,
                    ),
                    Item(guid="two", title="Météo : orages sur la Provence", description="Alerte orange."),
                ]
            ),
        )
        config = tmp_path / "config.yml"
        config.write_text(f"""
kafka:
  bootstrap_servers: "{kafka_broker.bootstrap_servers}"
  idempotence: false
  topic_prefix: "{topic_prefix}"
feeds:
  - url: "{url}"
    agency: "AFP"
    interval: 1
""")
        started = time.monotonic()
        code, out, err = await wiremon(
            "run", "--once", "--config", str(config), "--http-port", "0", tmp=tmp_path
        )
        assert code == 0, err
        assert time.monotonic() - started < 45
        assert "kafka      : " + kafka_broker.bootstrap_servers in out
    messages = await read_topic(kafka_broker.bootstrap_servers, f"{topic_prefix}enriched", expect=2)
    assert sorted(json.loads(m.value)["guid"] for m in messages) == ["seed", "two"]
    code, out, err = await wiremon(
        "tail",
        f"{topic_prefix}topic.syria_ceasefire",
        "--bootstrap",
        kafka_broker.bootstrap_servers,
        "--from-beginning",
        "--limit",
        "1",
        tmp=tmp_path,
        timeout=30,
    )
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["guid"] == "seed"


async def test_run_once_with_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text("feeds:\n  - url: nope\n    agency: AFP\n")
    code, _out, err = await wiremon("run", "--once", "--config", str(config), tmp=tmp_path)
    assert code == 2
    assert "feeds[0].url" in err and "nope" in err


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_embedded_default_starts_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "run",
        "--http-port",
        str(port),
        "--reveal-every",
        "0.5",
        env=env(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        banner = ""
        while "Ctrl-C to stop." not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "wiremon exited before printing its banner"
            banner += line.decode()
        kafka_port = int(re.search(r"kafka\s+: 127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/metrics" in banner
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60
            while True:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        break
                assert time.monotonic() < deadline, "never ready"
                await asyncio.sleep(0.3)
            deadline = time.monotonic() + 30
            while True:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    text = await resp.text()
                if 'wiremon_items_topic_total{agency="AFP",language="fr",topic="syria_ceasefire"}' in text:
                    break
                assert time.monotonic() < deadline, "the seed dispatch was never classified"
                await asyncio.sleep(0.5)
            assert 'wiremon_publish_total{outcome="ok"}' in text
        assert _port_open(kafka_port)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        assert code == 0
        assert not _port_open(kafka_port), "the embedded broker outlived the monitor"
        assert not _port_open(port)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_classify_command_contract(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"id": 1, "title": "Syrie : un cessez-le-feu entre en vigueur dans le sud-ouest", "extra": [1]}
        ),
        "{not json",
        json.dumps({"id": 3, "title": "Météo : orages sur la Provence"}),
    ]
    code, out, err = await wiremon("classify", tmp=tmp_path, stdin=("\n".join(lines) + "\n").encode())
    assert code != 0
    assert "line 2" in err
    first, third = (json.loads(x) for x in out.splitlines())
    assert first["id"] == 1 and first["extra"] == [1]
    assert first["topics"][0]["topic"] == "syria_ceasefire"
    assert 0 < first["topics"][0]["score"] <= 1 and first["topics"][0]["evidence"]
    assert third["topics"] == []
