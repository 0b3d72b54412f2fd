"""One error hierarchy for the whole monitor.

    MonitorError
    ├── ConfigError            bad configuration file, key or environment value
    ├── TopicDefinitionError   a topic definition file that does not validate
    ├── FetchError             one poll of one feed failed (``reason`` says how)
    ├── ParseError             the bytes of a feed could not be turned into items
    ├── PublishError           Kafka refused or could not be reached
    ├── OutboxFullError        the durable outbox reached its bound
    ├── StateError             the state store is unusable (corrupt, locked, ...)
    └── BrokerError            the embedded broker could not be started

Every error renders what it is about (a feed id, a key, a file) and its cause, so
that a log line built from ``str(exc)`` is enough for an operator to act on.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""

    def __init__(self, message: str, *, about: str | None = None) -> None:
        self.message = message
        self.about = about
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.about}: {self.message}" if self.about else self.message
        cause = self.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text = f"{text} (caused by {type(cause).__name__}: {cause})"
        return text


class ConfigError(MonitorError):
    """Configuration is invalid. ``problems`` lists every problem found, one per line."""

    def __init__(self, message: str, *, about: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message, about=about)
        self.problems = problems or [message]


class TopicDefinitionError(MonitorError):
    """A topic definition file does not validate; ``about`` names the file."""


class FetchError(MonitorError):
    """A poll failed. ``reason`` is a short, bounded label usable in metrics.

    Reasons: ``timeout``, ``connect_error``, ``http_error``, ``rate_limited``,
    ``too_large``, ``decompression_bomb``, ``too_many_redirects``,
    ``bad_content_type``, ``invalid_url``, ``empty``.
    """

    def __init__(
        self,
        message: str,
        *,
        about: str | None = None,
        reason: str = "http_error",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, about=about)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class ParseError(MonitorError):
    """The fetched bytes are not a feed we can extract items from."""


class PublishError(MonitorError):
    """Publishing to Kafka failed; the items stay in the outbox."""


class OutboxFullError(MonitorError):
    """The outbox holds as many items as it may; new items are refused, not dropped."""


class StateError(MonitorError):
    """The state store cannot be opened or written."""


class BrokerError(MonitorError):
    """The embedded Kafka-compatible broker could not be started or stopped."""
