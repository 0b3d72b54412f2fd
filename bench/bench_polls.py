"""Polling capacity: how many conditional polls a second one monitor process sustains.

    .venv/bin/python bench/bench_polls.py [--feeds 1000] [--runs 3]

N small feeds on a loopback server (another process) that answers 304 to a matching
If-None-Match. The monitor polls every feed once to learn the ETags, then the measured
passes poll them all again (`Service.run_once`: fetch, 304, state write, metrics).
Baseline in the same run: a bare aiohttp loop doing the same conditional GETs, 64 at a
time (DESIGN.md measured ≈ 7,500/s for it). 20,000 feeds every 60 s need 333 polls/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from monitor.config import load_settings
from monitor.embedded.broker import BrokerProcess, free_port
from monitor.service import Service

BODY = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Nothing new</title><guid>only</guid></item></channel></rss>"
)


def serve(port: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        etag = '"' + request.path.strip("/") + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=BODY, content_type="application/rss+xml", headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/{name}", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def bare_aiohttp(urls: list[str]) -> float:
    limit = asyncio.Semaphore(64)
    async with aiohttp.ClientSession() as session:

        async def one(url: str) -> None:
            async with (
                limit,
                session.get(url, headers={"If-None-Match": '"' + url.rsplit("/", 1)[1] + '"'}) as r,
            ):
                assert r.status == 304
                await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return len(urls) / (time.perf_counter() - started)


async def monitor_polls(bootstrap: str, urls: list[str], runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(
            None,
            environ={},
            base={
                "state_dir": state,
                "kafka": {
                    "bootstrap_servers": bootstrap,
                    "idempotence": False,
                    "topic_prefix": "bench-polls.",
                },
                "fetch": {"per_host_concurrency": 64, "global_concurrency": 64},
                "alerts": {"enabled": False},
                "feeds": [{"id": f"f{i}", "url": u, "agency": "Bench"} for i, u in enumerate(urls)],
            },
        )
        service = Service(settings, serve_http=False)
        await service.start()
        try:
            await service.run_once()  # learn every ETag (and publish the one item per feed)
            rates = []
            for _ in range(runs):
                started = time.perf_counter()
                await service.run_once()
                rates.append(len(urls) / (time.perf_counter() - started))
            not_modified = sum(
                s.value
                for metric in service.metrics.registry.collect()
                for s in metric.samples
                if s.name == "wiremon_polls_total" and s.labels.get("outcome") == "not_modified"
            )
            assert not_modified == len(urls) * runs, (not_modified, len(urls) * runs)
            return rates
        finally:
            await service.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    time.sleep(1.0)
    urls = [f"http://127.0.0.1:{port}/feed{i}" for i in range(args.feeds)]
    with BrokerProcess() as broker:
        bare = [asyncio.run(bare_aiohttp(urls)) for _ in range(args.runs)]
        monitor = asyncio.run(monitor_polls(broker.bootstrap_servers, urls, args.runs))
    server.terminate()
    b, m = statistics.median(bare), statistics.median(monitor)
    print(f"{args.feeds} feeds answering 304, {args.runs} runs (medians), 64 at a time")
    print(f"  bare aiohttp conditional GETs:      {b:8.0f} polls/s")
    print(f"  monitor polls (fetch + state + metrics): {m:8.0f} polls/s   ({m / b:.2f} of bare aiohttp)")
    print(f"  20,000 feeds every 60 s need 333 polls/s: {'met' if m >= 333 else 'NOT met'}")


if __name__ == "__main__":
    main()
