"""Pipeline benchmark: N local feeds over HTTP → Kafka acknowledgements.

    .venv/bin/python bench/bench_pipeline.py [--feeds 40] [--runs 3] [--synthetic [--items 100]]

The feeds are the real agency documents of ../shared/corpus/agency-feeds (BBC, CNN, DW,
Le Monde, Lenta, NYT, Reuters, Spiegel, ...: real sizes, markup and oddities), served as
--feeds distinct feeds by giving every copy its own GUIDs and links; --synthetic uses
generated multilingual RSS instead (also the fallback when ../shared is absent).

Prints, measured in the same run (medians of --runs):
  * parse-only ceiling  — feedparser.parse of the same documents, one core, items/s;
  * produce-only ceiling — aiokafka producing the same number of events of the same
    size to the same embedded broker, messages/s;
  * end to end          — `Service.run_once` on a fresh state: fetch (aiohttp, from a
    feed server in another process) → parse → normalise → dedupe → classify → outbox →
    Kafka acks on wire.enriched and wire.topic.*, items/s;
and the ratio end-to-end / parse-only (the issue's goal: ≥ 0.6).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser
from aiohttp import web
from aiokafka import AIOKafkaProducer

from monitor.config import load_settings
from monitor.embedded.broker import BrokerProcess, free_port
from monitor.service import Service

HEADLINES = [
    (
        "fr",
        "Syrie : le cessez-le-feu dans le sud-ouest globalement respecté",
        "Le cessez-le-feu négocié par"
        " Washington et Moscou tient depuis dimanche dans les provinces de Deraa et Qouneitra, selon l'OSDH.",
    ),
    (
        "en",
        "EU agrees new sanctions package on Russian oil exports",
        "European Union ambassadors agreed on"
        " Wednesday a new round of sanctions targeting Russian crude shipments and the shadow fleet.",
    ),
    (
        "de",
        "G20-Gipfel: Tausende Polizisten sichern Hamburg",
        "Mit einem Großaufgebot der Polizei und Sperrzonen in der Innenstadt bereitet sich Hamburg"
        " auf den G20-Gipfel vor; Proteste sind angekündigt.",
    ),
    (
        "es",
        "La inflación de la eurozona baja al 2,1 % en octubre",
        "La tasa de inflación interanual de la"
        " zona del euro se moderó en octubre, según la oficina estadística Eurostat.",
    ),
    (
        "ru",
        "В Сирии вступило в силу перемирие",
        "Режим прекращения огня на юго-западе Сирии вступил в силу"
        " в воскресенье, сообщили в Министерстве обороны России.",
    ),
    (
        "ar",
        "مجموعة العشرين: إجراءات أمنية مشددة في هامبورغ",
        "نشرت الشرطة الألمانية آلاف العناصر في هامبورغ قبل قمة مجموعة العشرين وسط احتجاجات واسعة.",
    ),
    (
        "en",
        "FIFA sanctions club over fan violence",
        "Football's governing body fined the club and ordered"
        " two matches behind closed doors after crowd trouble in the derby.",
    ),
    (
        "fr",
        "Bourse de Paris : le CAC 40 termine en légère hausse",
        "La place parisienne a fini la séance en"
        " hausse de 0,3 %, portée par les valeurs bancaires et le luxe.",
    ),
]


def make_feed(feed_no: int, items: int, rng: random.Random) -> bytes:
    base = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>Bench wire {feed_no}</title><link>http://127.0.0.1/</link><description>b</description>",
    ]
    for i in range(items):
        lang, title, summary = HEADLINES[rng.randrange(len(HEADLINES))]
        body = " ".join([summary] * 3)
        out.append(
            f"<item><title>{escape(title)} ({feed_no}-{i})</title><guid>bench-{feed_no}-{i}</guid>"
            f"<link>http://127.0.0.1/a/{feed_no}/{i}</link>"
            f"<pubDate>{format_datetime(base + timedelta(minutes=i))}</pubDate>"
            f"<description>{escape('<p>' + body + '</p>')}</description><category>{lang}</category></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode()


CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "agency-feeds"
_ID_TAGS = re.compile(rb"(<(guid|link)\b[^>]*>)(\s*(?:<!\[CDATA\[)?)([^<\]]+)", re.IGNORECASE)


def _suffixer(suffix: bytes) -> Callable[[re.Match[bytes]], bytes]:
    return lambda m: m.group(1) + m.group(3) + m.group(4).rstrip() + suffix


def corpus_feeds(count: int) -> dict[str, bytes]:
    """``count`` documents cycling through the corpus; copy k gets '#k' on every guid and link."""
    sources = sorted(CORPUS.glob("*.xml"))
    docs = {}
    for i in range(count):
        data = sources[i % len(sources)].read_bytes()
        docs[f"/feed-{i}.xml"] = _ID_TAGS.sub(_suffixer(f"#c{i}".encode()), data)
    return docs


def expected_items(docs: dict[str, bytes]) -> int:
    """Distinct items the monitor should publish: what parse + normalise gives, per document."""
    from monitor.ingest.normalize import FeedContext
    from monitor.ingest.worker import parse_and_normalise

    ids: set[str] = set()
    for i, data in enumerate(docs.values()):
        out = parse_and_normalise(
            data, "application/rss+xml", "http://127.0.0.1/", FeedContext(f"bench-{i}", f"Agency{i % 7}")
        )
        ids.update(item.event_id for item in out.items)
    return len(ids)


def serve(docs: dict[str, bytes], port: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=docs[request.path], content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{name}", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


def parse_only(docs: list[bytes]) -> float:
    started = time.perf_counter()
    n = 0
    for doc in docs:
        n += len(feedparser.parse(doc, sanitize_html=False, resolve_relative_uris=False).entries)
    return n / (time.perf_counter() - started)


async def produce_only(bootstrap: str, count: int, size: int, prefix: str) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    value = b"x" * size
    try:
        await producer.send_and_wait(f"{prefix}warm", value)
        started = time.perf_counter()
        futures = [await producer.send(f"{prefix}warm", value, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def end_to_end(bootstrap: str, urls: list[str], prefix: str, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(
            None,
            environ={},
            base={
                "state_dir": state,
                "kafka": {
                    "bootstrap_servers": bootstrap,
                    "idempotence": False,
                    "topic_prefix": prefix,
                    "partitions": 3,
                },
                "fetch": {"parse_workers": workers},
                "alerts": {"enabled": False},
                "outbox": {"max_events": 1_000_000, "batch_size": 2000},
                "feeds": [
                    {"id": f"bench-{i}", "url": u, "agency": f"Agency{i % 7}"} for i, u in enumerate(urls)
                ],
            },
        )
        service = Service(settings, serve_http=False)
        await service.start()
        while not (service.relay and service.relay.kafka_ok):  # noqa: ASYNC110 - topics exist before the clock
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        try:
            assert service.parser is not None
            started = time.perf_counter()
            left = await service.run_once()
            elapsed = time.perf_counter() - started
            delivered = service.relay.delivered if service.relay else 0
        finally:
            await service.shutdown()
        assert left == 0, f"{left} events left in the outbox"
        return delivered / elapsed, delivered


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--items", type=int, default=100, help="items per synthetic feed")
    ap.add_argument("--synthetic", action="store_true", help="generated feeds instead of the corpus")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=-1, help="parse worker processes (-1: one per core)")
    args = ap.parse_args()
    if args.synthetic or not CORPUS.is_dir():
        rng = random.Random(7)
        docs = {f"/feed-{i}.xml": make_feed(i, args.items, rng) for i in range(args.feeds)}
        kind = "synthetic"
    else:
        docs = corpus_feeds(args.feeds)
        kind = "corpus"
    total_items = expected_items(docs)
    size = sum(map(len, docs.values())) // len(docs)
    print(
        f"{args.feeds} {kind} feeds, {total_items} items ({size / 1024:.0f} KB per feed on average),"
        f" {args.runs} runs, {multiprocessing.cpu_count()} cores"
    )
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(docs, port), daemon=True)
    server.start()
    urls = [f"http://127.0.0.1:{port}{p}" for p in docs]
    parse_rates, produce_rates, e2e_rates = [], [], []
    with BrokerProcess() as broker:
        time.sleep(0.5)
        for run in range(args.runs):
            parse_rates.append(parse_only(list(docs.values())))
            produce_rates.append(
                asyncio.run(produce_only(broker.bootstrap_servers, total_items, 1500, f"bench{run}."))
            )
            rate, delivered = asyncio.run(
                end_to_end(broker.bootstrap_servers, urls, f"bench-e2e{run}.", args.workers)
            )
            assert delivered == total_items, (delivered, total_items)
            e2e_rates.append(rate)
            print(
                f"  run {run + 1}: parse-only {parse_rates[-1]:8.0f} items/s | produce-only "
                f"{produce_rates[-1]:8.0f} msg/s | end to end {rate:8.0f} items/s"
            )
    server.terminate()
    parse, produce, e2e = (statistics.median(x) for x in (parse_rates, produce_rates, e2e_rates))
    print(f"parse-only ceiling (feedparser, 1 core): {parse:8.0f} items/s")
    print(f"produce-only ceiling (aiokafka → Tansu):  {produce:8.0f} msg/s")
    print(f"end to end (HTTP → Kafka acks):          {e2e:8.0f} items/s")
    print(f"ratio end-to-end / parse-only:           {e2e / parse:8.2f}   (goal ≥ 0.6)")


if __name__ == "__main__":
    main()
