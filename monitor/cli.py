"""``wiremon``: the command line.

    wiremon run [--config FILE] [--once]   run the service (no config: the embedded default)
    wiremon check-config FILE              validate a configuration, list every problem
    wiremon tail TOPIC                     print events from a Kafka topic
    wiremon classify                       JSON Lines in, JSON Lines with topics out
    wiremon topics                         list topics and their languages
    wiremon eval FILE                      precision / recall / F1 on labelled JSON Lines
    wiremon schemas --write DIR|--check DIR  the JSON Schemas of every Kafka payload
    wiremon demo-feeds [--port N]          serve the bundled demo feeds (for docker compose)

Exit codes: 0 success, 1 bad input or failed check, 2 usage or configuration error,
3 events left unpublished in the outbox (``--once`` with Kafka unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .config import Settings, load_settings
from .errors import ConfigError, MonitorError
from .logs import setup_logging

log = logging.getLogger("wiremon")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wiremon", description="Watch news-agency feeds; publish classified items."
    )
    p.add_argument("--version", action="version", version=f"wire-monitor {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the service (no --config: the embedded default)")
    run.add_argument("--config", type=Path, help="YAML configuration file")
    run.add_argument("--once", action="store_true", help="poll every feed once, publish, flush and exit")
    run.add_argument("--http-port", type=int, help="port for /metrics, /healthz, /readyz and the API")
    run.add_argument("--state-dir", type=Path, help="where seen-item state and the outbox live")
    run.add_argument("--log-json", action="store_true", help="log JSON lines")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument(
        "--reveal-every", type=float, default=3.0, help="embedded default: seconds between reveals"
    )

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", type=Path)

    tail = sub.add_parser("tail", help="print events from a Kafka topic")
    tail.add_argument("topic")
    tail.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: from --config or 127.0.0.1:9092)"
    )
    tail.add_argument("--config", type=Path)
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--limit", type=int, default=0, help="stop after N events (0: never)")
    tail.add_argument(
        "--timeout", type=float, default=0, help="stop after N seconds without events (0: never)"
    )

    cls = sub.add_parser("classify", help="classify JSON Lines from stdin")
    cls.add_argument("--config", type=Path, help="to use its topics.dirs / topics.disabled")
    top = sub.add_parser("topics", help="list topics and their languages")
    top.add_argument("--config", type=Path)
    top.add_argument("--json", action="store_true")
    ev = sub.add_parser("eval", help="evaluate the classifier on labelled JSON Lines")
    ev.add_argument("file", type=Path)
    ev.add_argument("--config", type=Path)
    ev.add_argument("--json", action="store_true")

    sch = sub.add_parser("schemas", help="write or check the JSON Schemas of the Kafka payloads")
    grp = sch.add_mutually_exclusive_group(required=True)
    grp.add_argument("--write", type=Path, metavar="DIR")
    grp.add_argument("--check", type=Path, metavar="DIR")

    demo = sub.add_parser("demo-feeds", help="serve the bundled demo feeds over HTTP")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--reveal-every", type=float, default=3.0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = globals()[f"cmd_{args.command.replace('-', '_')}"]
        return int(handler(args))
    except ConfigError as exc:
        print(f"wiremon: configuration error: {exc}", file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(f"wiremon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# -- run
def cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "INFO", args.log_json)
    return asyncio.run(_run(args))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {}
    if args.http_port is not None:
        over.setdefault("http", {})["port"] = args.http_port
    if args.state_dir is not None:
        over["state_dir"] = str(args.state_dir)
    if args.log_json:
        over.setdefault("logging", {})["json"] = True
    return over


async def _run(args: argparse.Namespace) -> int:
    from .classify import load_classifier
    from .service import Service

    stack = None
    try:
        if args.config is not None:
            settings = load_settings(args.config, overrides=_overrides(args))
        else:
            from .embedded.default import EmbeddedStack

            base = load_settings(None, overrides=_overrides(args))  # validate env and flags first
            topic_ids = load_classifier(base.topics.dirs, base.topics.disabled).topics
            stack = EmbeddedStack(reveal_every=args.reveal_every)
            overlay = await stack.start(topic_ids, base.kafka.topic_prefix)
            settings = load_settings(None, base=overlay, overrides=_overrides(args))
        setup_logging(args.log_level or settings.logging.level, settings.logging.json_format)
        service = Service(settings)
        await service.start()
        _banner(settings, service, stack)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, service.reload_topics)
        left = 0
        try:
            if args.once:
                left = await service.run_once()
            else:
                await service.run(stop)
                log.info("stopping: finishing in-flight polls and flushing the outbox")
        finally:
            left = await service.shutdown() or left
        if args.once and left:
            print(f"wiremon: {left} events could not be published and wait in the outbox", file=sys.stderr)
            return 3
        return 0
    finally:
        if stack is not None:
            await stack.stop()


def _banner(settings: Settings, service: Any, stack: Any) -> None:
    http = service.http.url if service.http else "(disabled)"
    prefix = settings.kafka.topic_prefix
    lines = [f"wire-monitor {__version__}" + (" — embedded default" if stack else "")]
    if stack is not None:
        lines.append(
            f"  demo feeds : {stack.replay.base_url}/ ({len(settings.feeds)} feeds, replayed over time)"
        )
        lines.append(
            f"  kafka      : {settings.kafka.bootstrap_servers} (embedded Tansu broker, schema-validated)"
        )
    else:
        lines.append(f"  feeds      : {len(settings.feeds)}")
        lines.append(f"  kafka      : {settings.kafka.bootstrap_servers}")
    topic_ids = ", ".join(service.classifier.current.topics)
    lines += [
        f"  topics     : {prefix}enriched, {prefix}topic.<id> ({topic_ids})",
        f"  metrics    : {http}/metrics",
        f"  health     : {http}/healthz  {http}/readyz",
        f"  api        : {http}/api/docs",
        f"  state      : {Path(settings.state_dir).resolve()}",
        f"  watch it   : wiremon tail {prefix}enriched --bootstrap {settings.kafka.bootstrap_servers}",
        "Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


# -- check-config
def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.file)
    except ConfigError as exc:
        print(f"{args.file}: INVALID", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    from .classify import load_classifier

    try:
        classifier = load_classifier(settings.topics.dirs, settings.topics.disabled)
    except MonitorError as exc:
        print(f"{args.file}: INVALID\n  topics: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: OK — {len(settings.feeds)} feeds, kafka {settings.kafka.bootstrap_servers},"
        f" topics {', '.join(classifier.topics)}"
    )
    return 0


# -- tail
def cmd_tail(args: argparse.Namespace) -> int:
    setup_logging("WARNING")
    return asyncio.run(_tail(args))


async def _tail(args: argparse.Namespace) -> int:
    from aiokafka import AIOKafkaConsumer

    from .publish.kafka import client_options

    settings = load_settings(args.config) if args.config else load_settings(None)
    opts = client_options(settings.kafka)
    if args.bootstrap:
        opts["bootstrap_servers"] = args.bootstrap
    consumer = AIOKafkaConsumer(
        args.topic,
        **opts,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    count = 0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(args.timeout * 1000) if args.timeout else 1000)
            if not batch and args.timeout:
                return 0
            for messages in batch.values():
                for msg in messages:
                    value = msg.value.decode("utf-8", "replace") if msg.value else ""
                    print(value, flush=True)
                    count += 1
                    if args.limit and count >= args.limit:
                        return 0
    finally:
        await consumer.stop()


# -- classifier commands
def _classifier(config: Path | None) -> Any:
    from .classify import load_classifier

    settings = load_settings(config) if config else load_settings(None)
    return load_classifier(settings.topics.dirs, settings.topics.disabled)


def cmd_classify(args: argparse.Namespace) -> int:
    from .classify.cli import run_classify

    return run_classify(sys.stdin, sys.stdout, sys.stderr, _classifier(args.config))


def cmd_topics(args: argparse.Namespace) -> int:
    from .classify.cli import run_topics

    return run_topics(sys.stdout, _classifier(args.config), json=args.json)


def cmd_eval(args: argparse.Namespace) -> int:
    from .classify.cli import run_eval

    return run_eval(args.file, sys.stdout, _classifier(args.config), json_output=args.json)


# -- schemas
def cmd_schemas(args: argparse.Namespace) -> int:
    from .schemas import all_schemas, render

    schemas = all_schemas()
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        for name, schema in schemas.items():
            (args.write / name).write_text(render(schema), encoding="utf-8")
            print(f"wrote {args.write / name}")
        return 0
    drift = []
    for name, schema in schemas.items():
        path = args.check / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(schema):
            drift.append(name)
    if drift:
        print(
            f"schemas differ from the models: {', '.join(drift)}; run `wiremon schemas --write {args.check}`"
            " (and bump the version for a breaking change)",
            file=sys.stderr,
        )
        return 1
    print(f"{len(schemas)} schemas match the models")
    return 0


# -- demo feeds
def cmd_demo_feeds(args: argparse.Namespace) -> int:
    setup_logging("INFO")
    return asyncio.run(_demo(args))


async def _demo(args: argparse.Namespace) -> int:
    from .demo.replay import ReplayServer

    server = ReplayServer(reveal_every=args.reveal_every, shift_to_now=True)
    await server.start(host=args.host, port=args.port)
    print(json.dumps({"demo_feeds": server.feed_urls}, indent=2), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    return 0
