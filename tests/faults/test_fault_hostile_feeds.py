"""Hostile feed servers next to healthy feeds, through the real ``python -m monitor run``.

One monitor process polls, for ~24 s, two healthy feeds that keep publishing and one
feed per hostile behaviour of ``tests/support/hostile.py`` (plus a connect timeout).
Everything is observed from outside: the monitor's real ``/metrics``, its log, the
hostile server's own request log (arrival and end time of every request), the items
on Kafka, and ``/proc/<pid>/status``.

Then a second process measures the peak RSS (``VmHWM``) cost of a 50 MB body and of a
gzip bomb with the *default* body cap (20 MB), against a baseline of healthy polls.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.embedded.broker import BrokerProcess
from tests.faults.harness import (
    MonitorProcess,
    RevealingFeeds,
    Samples,
    base_config,
    collect_events,
    metric,
    wait_for,
)
from tests.support.feeds import FeedServer
from tests.support.hostile import HostileServer, connect_timeout_address

pytestmark = pytest.mark.slow

RUN_SECONDS = 24.0
TOTAL_TIMEOUT = 3.0
RETRY_AFTER = 7.0  # what HostileServer's /429 sends

# feed id -> (path on the hostile server, fetch_errors reason, polls outcome)
FAILING: dict[str, tuple[str, str, str]] = {
    "h-connect": ("", "timeout", "timeout"),
    "h-drip": ("/slow-drip", "timeout", "timeout"),
    "h-500": ("/500", "http_error", "http_error"),
    "h-429": ("/429", "rate_limited", "http_error"),
    "h-redirect": ("/redirect-loop", "too_many_redirects", "http_error"),
    "h-huge": ("/huge", "too_large", "http_error"),
    "h-bomb": ("/gzip-bomb", "decompression_bomb", "http_error"),
    "h-png": ("/wrong-type", "bad_content_type", "http_error"),
    "h-empty": ("/empty", "empty", "http_error"),
}
# feeds that parse, with problems counted, and whose items must come out clean
PARSING: dict[str, str] = {
    "h-encoding": "/bad-encoding",
    "h-changing": "/changing",
    "x-laughs": "/billion-laughs",
    "x-file": "/xxe-file",
    "x-remote": "/xxe-remote",
}


class RecordingServer(HostileServer):
    """HostileServer that also records when each request arrived and ended, and can switch one path."""

    def __init__(self) -> None:
        super().__init__()
        self.log: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.mode = "ok"

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.monotonic()
        try:
            return await super()._count(request, handler)
        finally:
            self.log[request.path].append((started, time.monotonic()))

    def _routes(self) -> list[web.RouteDef]:
        return [*super()._routes(), web.get("/switch", self._switch)]

    async def _switch(self, request: web.Request) -> web.StreamResponse:
        """A feed that is healthy, a 50 MB body or a gzip bomb, as the test says."""
        handler = {"ok": self._ok, "huge": self._huge, "bomb": self._gzip_bomb}[self.mode]
        return await handler(request)


@dataclass
class Observed:
    samples: Samples
    samples_after: Samples
    log: str
    requests: dict[str, list[tuple[float, float]]]
    payloads: list[dict[str, Any]]
    healthy_guids: set[str]
    healthy_missing: set[str]
    peak_rss_kib: int
    hostile: RecordingServer
    urls: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def observed(kafka_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    tmp = tmp_path_factory.mktemp("hostile")
    yield asyncio.run(_scenario(kafka_broker, tmp))


async def _scenario(broker: BrokerProcess, tmp: Path) -> Observed:
    prefix = "hostile."
    hostile = RecordingServer()
    async with hostile, FeedServer() as healthy_server:
        healthy = RevealingFeeds(healthy_server, 2)
        with connect_timeout_address() as (host, port):
            urls = {fid: hostile.url(path) for fid, (path, _, _) in FAILING.items() if path}
            urls["h-connect"] = f"http://{host}:{port}/feed.xml"
            urls.update({fid: hostile.url(path) for fid, path in PARSING.items()})
            feeds = healthy.feeds(0.5) + [
                {"id": fid, "url": url, "agency": "HOSTILE", "interval": 0.5} for fid, url in urls.items()
            ]
            mon = MonitorProcess(
                tmp / "mon",
                base_config(
                    tmp / "state",
                    broker.bootstrap_servers,
                    prefix,
                    feeds,
                    # two parse processes, as in production: hostile XML goes through the real pool
                    fetch={"parse_workers": 1, "total_timeout": TOTAL_TIMEOUT},
                ),
            )
            try:
                mon.start()
                await mon.wait_ready()
                started = time.monotonic()
                # healthy feeds keep publishing all along
                await healthy.reveal_over(200, RUN_SECONDS - 4, steps=20)
                await wait_for(lambda: time.monotonic() - started >= RUN_SECONDS, RUN_SECONDS, "the run")
                samples = await mon.scrape()
                log = mon.log()
                samples_after = await mon.scrape()
                peak = mon.peak_rss_kib()
            finally:
                mon.stop()
        delivery = await collect_events(
            broker.bootstrap_servers, f"{prefix}enriched", expect_guids=healthy.guids(), within=30
        )
    payloads = delivery.payloads
    got = {p["guid"] for p in payloads}
    return Observed(
        samples,
        samples_after,
        log,
        dict(hostile.log),
        payloads,
        healthy.guids(),
        healthy.guids() - got,
        peak,
        hostile,
        urls,
    )


def test_healthy_feeds_keep_flowing(observed: Observed) -> None:
    assert not observed.healthy_missing, f"{len(observed.healthy_missing)} healthy items never reached Kafka"
    for fid in ("wire00", "wire01"):
        assert metric(observed.samples, "wiremon_polls_total", feed=fid, outcome="ok") >= 10


@pytest.mark.parametrize("fid", sorted(FAILING))
def test_each_failure_has_its_metric_and_one_log_line_per_poll(observed: Observed, fid: str) -> None:
    _, reason, outcome = FAILING[fid]
    s = observed.samples
    errors = metric(s, "wiremon_fetch_errors_total", feed=fid, reason=reason)
    assert errors >= 2, f"{fid}: wiremon_fetch_errors_total{{reason={reason!r}}} is {errors}"
    assert metric(s, "wiremon_fetch_errors_total", feed=fid) == errors, (
        f"{fid}: only reason {reason!r} expected"
    )
    assert metric(s, "wiremon_polls_total", feed=fid, outcome=outcome) == errors
    assert metric(s, "wiremon_polls_total", feed=fid, outcome="ok") == 0
    # one WARNING per failed poll: the metric is bumped just before the line is written,
    # so between two scrapes the log holds at least the first count and at most the second
    lines = re.findall(
        rf"WARNING +wiremon.service: feed {re.escape(fid)}: poll failed \({reason}\): .+; "
        r"next poll in \d+s",
        observed.log,
    )
    after = metric(observed.samples_after, "wiremon_polls_total", feed=fid, outcome=outcome)
    assert errors <= len(lines) <= after, (fid, errors, len(lines), after)


def test_failures_cost_bounded_time(observed: Observed) -> None:
    # the slow drip is cut by total_timeout: no request outlives it by much
    drip = observed.requests["/slow-drip"]
    assert len(drip) >= 3
    assert max(end - start for start, end in drip) <= TOTAL_TIMEOUT + 1.5
    # a connect that never completes costs connect_timeout, so the feed is polled again and again
    assert metric(observed.samples, "wiremon_polls_total", feed="h-connect") >= 4
    # and none of it delayed the healthy feeds: their items reached Kafka within seconds
    latency_count = metric(observed.samples, "wiremon_pipeline_latency_seconds_count")
    slow = latency_count - metric(observed.samples, "wiremon_pipeline_latency_seconds_bucket", le="2.5")
    assert latency_count > 0 and slow == 0, f"{slow} events took > 2.5s from fetch to Kafka"


def test_retry_after_is_honoured(observed: Observed) -> None:
    arrivals = [start for start, _ in observed.requests["/429"]]
    assert len(arrivals) >= 3, arrivals
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # server-side: the next request of that feed never came sooner than Retry-After
    assert min(gaps) >= RETRY_AFTER, gaps
    assert "retry after 7 s" in observed.log


def test_redirect_loop_stops_at_max_redirects(observed: Observed) -> None:
    polls = metric(observed.samples_after, "wiremon_polls_total", feed="h-redirect")
    # every poll follows at most max_redirects (5) hops: 6 requests, and no poll more
    assert len(observed.requests["/redirect-loop"]) <= 6 * (polls + 1)


def test_parsable_hostile_feeds_count_parse_errors_and_publish(observed: Observed) -> None:
    s = observed.samples
    for fid in ("h-encoding", "x-laughs", "x-file", "x-remote"):
        assert metric(s, "wiremon_polls_total", feed=fid, outcome="ok") >= 1, fid
        assert metric(s, "wiremon_parse_errors_total", feed=fid) >= 1, fid
    guids = {p["guid"] for p in observed.payloads}
    assert {"urn:test:item:0", "urn:test:item:1"} <= guids  # from the badly encoded feed
    # the feed that changes on every poll: one new item per poll, each published once
    changing = [p for p in observed.payloads if p["feed_id"] == "h-changing"]
    assert len(changing) >= 10
    assert len({p["event_id"] for p in changing}) == len(changing)


def test_hostile_xml_is_never_expanded_nor_resolved(observed: Observed) -> None:
    texts = " ".join(f"{p['title']} {p['summary']} {p['body']}" for p in observed.payloads)
    assert "lollol" not in texts, "an entity was expanded"
    assert "root:" not in texts and "/bin/" not in texts, "a local file was read"
    assert "REMOTE-DTD-WAS-FETCHED" not in texts
    assert observed.requests.get("/evil.dtd", []) == [], "the remote DTD was fetched"
    by_feed = {p["feed_id"]: p for p in observed.payloads}
    # the items still arrive, their entity references left as inert text
    assert by_feed["x-laughs"]["title"] == "&lol9;"
    assert by_feed["x-file"]["title"] == "Leak &xxe;"
    assert by_feed["x-remote"]["title"] == "Remote &ext;"


def test_monitor_memory_stays_bounded_under_all_of_it(observed: Observed) -> None:
    # 20 MB body cap (default) + interpreter + aiokafka: well under 200 MB
    assert observed.peak_rss_kib < 200 * 1024, observed.peak_rss_kib


@pytest.mark.parametrize(("mode", "reason"), [("bomb", "decompression_bomb"), ("huge", "too_large")])
async def test_peak_rss_under_huge_body_and_gzip_bomb(
    kafka_broker: BrokerProcess,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
    mode: str,
    reason: str,
) -> None:
    """Peak RSS with the default 20 MB cap: a fresh process, healthy polls, then the attack.

    One process per attack: VmHWM is a high-water mark, so a second attack in the same
    process would only show the larger of the two.
    """
    server = RecordingServer()
    async with server:
        mon = MonitorProcess(
            tmp_path / "mon",
            base_config(
                tmp_path / "state",
                kafka_broker.bootstrap_servers,
                f"rss-{mode}.",
                [{"id": "switch", "url": server.url("/switch"), "agency": "T", "interval": 0.3}],
                fetch={"max_body_bytes": 20 * 1024 * 1024, "backoff_max": 0.5},
            ),
        )
        try:
            mon.start()
            await mon.wait_ready()
            await _wait_healthy_polls(mon, 5)
            baseline = mon.peak_rss_kib()
            server.mode = mode
            await _wait_errors(mon, reason, 3)
            peak = mon.peak_rss_kib()
        finally:
            mon.stop()
    extra_mib = (peak - baseline) / 1024
    what = "a 1 GiB gzip bomb (1 MB on the wire)" if mode == "bomb" else "a 50 MB body"
    record_property("peak_rss_baseline_mib", round(baseline / 1024, 1))
    record_property("peak_rss_extra_mib", round(extra_mib, 1))
    print(
        f"\npeak RSS under {what}, 3 polls, cap 20 MB: {baseline / 1024:.1f} MiB before, "
        f"{peak / 1024:.1f} MiB after (+{extra_mib:.1f} MiB)"
    )
    # stopped at the cap: at most the cap plus a few read chunks, never the body or the bomb
    assert extra_mib < 40, extra_mib


async def _wait_healthy_polls(mon: MonitorProcess, n: int) -> None:
    async def check() -> bool:
        s = await mon.try_scrape()
        return (
            s is not None
            and (
                metric(s, "wiremon_polls_total", feed="switch", outcome="ok")
                + metric(s, "wiremon_polls_total", feed="switch", outcome="not_modified")
            )
            >= n
        )

    await wait_for(check, 30, f"{n} healthy polls")


async def _wait_errors(mon: MonitorProcess, reason: str, n: int) -> None:
    async def check() -> bool:
        s = await mon.try_scrape()
        return s is not None and metric(s, "wiremon_fetch_errors_total", feed="switch", reason=reason) >= n

    await wait_for(check, 60, f"{n} fetch errors {reason}")
