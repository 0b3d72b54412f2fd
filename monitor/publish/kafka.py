"""A thin aiokafka producer: connection settings from config, topic creation, acks.

Idempotence is a setting because Tansu, the embedded broker, lacks InitProducerId;
on real Kafka keep it on (the default) so retries never write a message twice.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from ..config import KafkaConfig
from ..errors import PublishError

log = logging.getLogger("wiremon.publish")

Headers = list[tuple[str, bytes]]


def topic_name(config: KafkaConfig, suffix: str) -> str:
    return f"{config.topic_prefix}{suffix}"


def client_options(config: KafkaConfig) -> dict[str, object]:
    """Connection options shared by producer, admin client and consumers."""
    opts: dict[str, object] = {
        "bootstrap_servers": config.bootstrap_servers,
        "client_id": config.client_id,
        "request_timeout_ms": config.request_timeout_ms,
        "security_protocol": config.security_protocol,
    }
    if config.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(config.ssl_cafile) if config.ssl_cafile else None)
        if config.ssl_certfile:
            context.load_cert_chain(
                str(config.ssl_certfile), str(config.ssl_keyfile) if config.ssl_keyfile else None
            )
        opts["ssl_context"] = context
    if config.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = config.sasl_mechanism
        opts["sasl_plain_username"] = config.sasl_username
        opts["sasl_plain_password"] = config.password()
    return opts


class KafkaPublisher:
    """Owns one ``AIOKafkaProducer``; ``start``/``stop`` or ``async with``."""

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        self._topic_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect (idempotent: a started publisher stays as it is)."""
        async with self._start_lock:
            if self._producer is None:
                await self._start()

    async def _start(self) -> None:
        compression = None if self.config.compression == "none" else self.config.compression
        producer = AIOKafkaProducer(
            **client_options(self.config),
            acks=self.config.acks,
            enable_idempotence=self.config.idempotence,
            linger_ms=self.config.linger_ms,
            max_batch_size=self.config.max_batch_size,
            compression_type=compression,
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise PublishError(
                f"cannot connect to Kafka at {self.config.bootstrap_servers}: {exc};"
                " check kafka.bootstrap_servers"
            ) from None
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()  # flushes what is buffered

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def connected(self) -> bool:
        """A producer is started (aiokafka reconnects it by itself after an outage)."""
        return self._producer is not None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublishError("the Kafka producer is not started")
        return self._producer

    async def ensure_topics(self, names: Iterable[str]) -> None:
        """Create the topics that do not exist yet (partitions from config)."""
        missing = [n for n in dict.fromkeys(names) if n not in self._known_topics]
        if not missing or not self.config.create_topics:
            self._known_topics.update(missing)
            return
        async with self._topic_lock:
            missing = [n for n in missing if n not in self._known_topics]
            if not missing:
                return
            admin = AIOKafkaAdminClient(**client_options(self.config))
            try:
                await admin.start()
                existing = set(await admin.list_topics())
                to_create = [n for n in missing if n not in existing]
                if to_create:
                    try:
                        await admin.create_topics(
                            [
                                NewTopic(n, self.config.partitions, self.config.replication_factor)
                                for n in to_create
                            ]
                        )
                        log.info("created Kafka topics %s", ", ".join(to_create))
                    except TopicAlreadyExistsError:
                        pass
            except (KafkaError, OSError) as exc:
                raise PublishError(f"cannot create Kafka topics {missing}: {exc}") from None
            finally:
                await admin.close()
            self._known_topics.update(missing)

    async def send_many(
        self, messages: Sequence[tuple[str, bytes, bytes, Headers]]
    ) -> list[BaseException | None]:
        """Send ``(topic, key, value, headers)`` messages; wait for every ack.

        Returns one entry per message: None when acknowledged, else the error.
        """
        producer = self.producer
        futures: list[asyncio.Future[object] | BaseException] = []
        for topic, key, value, headers in messages:
            try:
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            except (KafkaError, OSError) as exc:
                futures.append(exc)
        results: list[BaseException | None] = []
        for fut in futures:
            if isinstance(fut, BaseException):
                results.append(fut)
                continue
            try:
                await fut
                results.append(None)
            except (KafkaError, OSError) as exc:
                results.append(exc)
        return results

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        """One message, acknowledged; raises ``PublishError`` (the alert publisher contract)."""
        await self.ensure_topics([topic])
        (error,) = await self.send_many([(topic, key, value, headers)])
        if error is not None:
            raise PublishError(f"Kafka did not acknowledge a message to {topic}: {error}") from error
