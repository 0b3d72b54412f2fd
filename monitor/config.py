"""Configuration: a YAML file validated by pydantic, overridden by environment variables.

Every key is checked once, at start: unknown keys are errors, and each problem is
reported as ``path.to.key: what is wrong (got VALUE)`` so an operator can fix the
file without reading code.

Environment overrides use the prefix ``WIREMON_`` and ``__`` between levels, e.g.
``WIREMON_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or ``WIREMON_STATE_DIR=/srv/wm``.
Values are parsed as YAML scalars (``true``, ``3``, ``0.5``); lists as YAML flow
sequences (``WIREMON_HTTP__API_TOKENS='[a, b]'``). Feeds cannot be set from the
environment (they are a list of objects); use the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .alerts.config import AlertsConfig
from .errors import ConfigError

ENV_PREFIX = "WIREMON_"
_FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class KafkaConfig(_Section):
    """How to reach Kafka and how to publish."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field("wire.", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    client_id: str = "wiremon"
    partitions: int = Field(3, ge=1, le=1000)
    replication_factor: int = Field(1, ge=1, le=10)
    create_topics: bool = True
    acks: Literal["all", 1, 0] = "all"
    # Tansu (the embedded broker) lacks InitProducerId; real Kafka has it.
    idempotence: bool = True
    linger_ms: int = Field(5, ge=0, le=10_000)
    max_batch_size: int = Field(1_048_576, ge=1024)
    request_timeout_ms: int = Field(15_000, ge=1000)
    compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "none"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @model_validator(mode="after")
    def _check_security(self) -> KafkaConfig:
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError("sasl_mechanism is required when security_protocol is SASL_*")
            if not self.sasl_username:
                raise ValueError("sasl_username is required when security_protocol is SASL_*")
            if self.sasl_password is None and self.sasl_password_file is None:
                raise ValueError("sasl_password or sasl_password_file is required with SASL")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "sasl_password_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: file {str(path)!r} does not exist")
        return self

    def password(self) -> str | None:
        """The SASL password, read from the file when one is given (never logged)."""
        if self.sasl_password_file is not None:
            return Path(self.sasl_password_file).read_text(encoding="utf-8").strip()
        return self.sasl_password.get_secret_value() if self.sasl_password else None


class FetchConfig(_Section):
    """HTTP polling limits shared by every feed."""

    # publishers like a contact: add one, e.g. "wire-monitor/{version} (+mailto:desk@example.org)"
    user_agent: str = "wire-monitor/{version} (news feed monitor)"
    default_interval: float = Field(60.0, gt=0, le=86_400)
    jitter: float = Field(0.1, ge=0, le=0.5, description="Fraction of the interval added at random.")
    connect_timeout: float = Field(10.0, gt=0, le=300)
    read_timeout: float = Field(20.0, gt=0, le=600)
    total_timeout: float = Field(60.0, gt=0, le=3600)
    max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    per_host_concurrency: int = Field(4, ge=1, le=1000)
    global_concurrency: int = Field(256, ge=1, le=100_000)
    # after n failures in a row a feed waits interval * 2**n, capped here (Retry-After may ask more)
    backoff_max: float = Field(3600.0, gt=0)
    allow_private_addresses: bool = True
    parse_workers: int = Field(-1, ge=-1, le=64, description="-1: one per core (max 4); 0: a thread.")
    seen_retention_days: float = Field(30.0, gt=0, description="Forget items not seen for this long.")


class FeedConfig(_Section):
    """One feed to poll."""

    url: str
    agency: str = Field(min_length=1, max_length=64)
    id: str | None = None
    interval: float | None = Field(None, gt=0, le=86_400)
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")
    enabled: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @property
    def feed_id(self) -> str:
        """The configured id, or a stable one derived from the URL."""
        if self.id:
            return self.id
        return "f-" + hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:12]

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        if value is not None and not _FEED_ID.match(value):
            raise ValueError("must be 1-64 chars of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        return value


class OutboxConfig(_Section):
    """The durable outbox between accepting an item and Kafka's acknowledgement."""

    max_events: int = Field(100_000, ge=10)
    batch_size: int = Field(500, ge=1, le=10_000)
    retry_initial: float = Field(0.5, gt=0)
    retry_max: float = Field(30.0, gt=0)
    # Refusals of one event, message by message (too large, schema), before it moves to
    # the outbox_dead table. Connection failures never count.
    max_attempts: int = Field(10, ge=1, le=1000)


class HttpConfig(_Section):
    """The service's own HTTP port: /metrics, /healthz, /readyz, the alert API."""

    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)
    api_tokens: list[SecretStr] = Field(default_factory=list)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TopicsConfig(_Section):
    """Extra topic definition directories (override or add topics) and topics to disable."""

    dirs: list[Path] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)

    @field_validator("dirs")
    @classmethod
    def _dirs_exist(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not Path(path).is_dir():
                raise ValueError(f"{str(path)!r} is not a directory")
        return value


class Settings(_Section):
    """The whole configuration of one monitor instance."""

    instance_id: str = Field("wiremon", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    state_dir: Path = Path("./var/wiremon")
    shutdown_grace: float = Field(15.0, gt=0, le=600)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    feeds: list[FeedConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_feed_ids(self) -> Settings:
        seen: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            fid = feed.feed_id
            if fid in seen:
                raise ValueError(f"feeds[{index}].id: {fid!r} is already used by feeds[{seen[fid]}]")
            seen[fid] = index
        return self

    def interval_for(self, feed: FeedConfig) -> float:
        return feed.interval if feed.interval is not None else self.fetch.default_interval


def _format_errors(exc: ValidationError, source: str) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see deploy/config.example.yml)"
        value = err.get("input")
        shown = "" if err["type"] in ("missing",) or isinstance(value, dict | list) else f" (got {value!r})"
        if any(word in loc for word in ("password", "token", "secret")):
            shown = ""
        problems.append(f"{source}: {loc or '<top>'}: {msg}{shown}")
    return problems


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or not raw:
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        if path[0] == "feeds":
            raise ConfigError(
                f"{key}: feeds cannot be set from the environment; list them in the config file"
            )
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if path[-1] in ("sasl_password", "bootstrap_servers", "sasl_username") or value is None:
            value = raw  # keep strings verbatim: a password like '123' or 'null' is not a number
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: conflicts with another WIREMON_ variable")
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, merge and validate the configuration.

    Order, later wins: ``base`` (the embedded default), the file at ``path``,
    ``WIREMON_*`` environment variables, then ``overrides`` (command-line flags).
    Raises ``ConfigError`` listing every problem.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = dict(base or {})
    source = str(path) if path else "<default>"
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {str(path)!r} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(loaded).__name__}")
        data = _merge(data, loaded)
    env = _env_overrides(environ)
    if env:
        data = _merge(data, env)
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = _format_errors(exc, source)
        raise ConfigError(
            f"{len(problems)} problem(s) in the configuration:\n  " + "\n  ".join(problems), problems=problems
        ) from None
