"""Webhook delivery: signing, the private-address guard, retry delays, one POST.

Signature: ``X-Wiremon-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 over ``f"{t}." + body`` with the subscription's secret (the Stripe
scheme: the timestamp is signed too, so a receiver can refuse replays).

Address guard: unless ``allow_private`` is set, a webhook may only reach global
unicast addresses. It is checked when a subscription is created (``check_webhook_url``)
and again on every delivery, on the addresses the connection will actually use: IP
literals are checked before the request, names through ``GuardedResolver``, which
aiohttp asks for every new connection (no DNS cache), so a name that rebinds to
127.0.0.1 after the create-time check is still refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from .. import __version__
from ..errors import MonitorError

SIGNATURE_HEADER = "X-Wiremon-Signature"
MAX_RESPONSE_BYTES = 64 * 1024
# Statuses worth retrying: the receiver is busy, slow or broken for now. Any other
# non-2xx (3xx, 4xx) says the request itself is refused, so retrying cannot help.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class WebhookError(MonitorError):
    """A webhook delivery failed. ``retryable`` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        about: str | None = None,
        retryable: bool = True,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, about=about)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class PrivateAddressError(OSError):
    """The webhook host resolves only to addresses the guard refuses (an ``OSError`` for aiohttp)."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``X-Wiremon-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, now: float, tolerance: float = 300.0) -> bool:
    """Receiver side: True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_delay(attempt: int, initial: float, maximum: float, rand: Callable[[], float]) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with "equal jitter".

    The base is ``min(maximum, initial * 2**(attempt-1))``; the delay is drawn in
    ``[base/2, base)`` so retries of many alerts failing together spread out, while
    never retrying sooner than half the intended pause.
    """
    base = min(maximum, initial * (2.0 ** min(attempt - 1, 62)))
    return base / 2.0 + rand() * base / 2.0


def is_forbidden_address(address: str) -> bool:
    """True for anything but a global unicast address (loopback, private, link-local, CGNAT, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal_host(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that drops refused addresses and fails when none is left."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if not is_forbidden_address(r["host"])]
        if not allowed:
            raise PrivateAddressError(f"{host} resolves only to loopback, private or link-local addresses")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


async def check_webhook_url(
    url: str, *, allow_private: bool, resolver: AbstractResolver | None = None
) -> None:
    """Create-time check: raise ``WebhookError`` (not retryable) if ``url`` may not be used.

    With ``allow_private`` nothing is resolved. Otherwise the host must resolve, and
    only to global addresses.
    """
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    literal = _literal_host(host)
    if literal is not None:
        if is_forbidden_address(literal):
            raise WebhookError(
                f"{host} is a loopback, private or link-local address"
                " (allow with alerts.allow_private_webhooks)",
                retryable=False,
            )
        return
    inner = resolver or aiohttp.ThreadedResolver()
    try:
        results = await inner.resolve(host, 0, socket.AF_UNSPEC)
    except (OSError, UnicodeError, ValueError) as exc:
        raise WebhookError(f"host {host!r} does not resolve ({exc})", retryable=False) from None
    finally:
        if resolver is None:
            await inner.close()
    refused = [r["host"] for r in results if is_forbidden_address(r["host"])]
    if refused:
        raise WebhookError(
            f"{host} resolves to {refused[0]}, a loopback, private or link-local address"
            " (allow with alerts.allow_private_webhooks)",
            retryable=False,
        )


def _is_private_refusal(exc: BaseException) -> bool:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, PrivateAddressError):
            return True
        todo += [cur.__cause__, cur.__context__, getattr(cur, "os_error", None)]
    return False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: ignored, our own backoff applies


class WebhookSender:
    """One aiohttp session for all webhook POSTs; ``start()`` / ``close()``."""

    def __init__(
        self, *, timeout: float, allow_private: bool, resolver: AbstractResolver | None = None
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        inner = self._resolver or aiohttp.ThreadedResolver()
        resolver = inner if self.allow_private else GuardedResolver(inner)
        # No DNS cache: each new connection resolves (and is checked) again.
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=100)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": f"wire-monitor/{__version__} (alert webhook)"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        secret: bytes,
        now: float,
        headers: dict[str, str],
        about: str,
    ) -> int:
        """POST ``body`` signed with ``secret``; return the 2xx status or raise ``WebhookError``.

        Redirects are not followed (a redirect could lead to a refused address).
        """
        if self._session is None:
            raise WebhookError("the webhook sender is not started", about=about)
        host = urlsplit(url).hostname or ""
        literal = _literal_host(host)
        if not self.allow_private and literal is not None and is_forbidden_address(literal):
            raise WebhookError(
                f"{host} is a loopback, private or link-local address", about=about, retryable=False
            )
        all_headers: dict[str, Any] = {
            **headers,
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body, int(now)),
        }
        try:
            async with self._session.post(url, data=body, headers=all_headers, allow_redirects=False) as resp:
                await resp.content.read(MAX_RESPONSE_BYTES)
                status = resp.status
                if 200 <= status < 300:
                    return status
                retryable = status >= 500 or status in RETRYABLE_STATUSES
                raise WebhookError(
                    f"HTTP {status} from the webhook",
                    about=about,
                    retryable=retryable,
                    status=status,
                    retry_after=_retry_after(resp.headers.get("Retry-After")),
                )
        except WebhookError:
            raise
        except TimeoutError:
            raise WebhookError(f"no answer within {self.timeout:g} s", about=about) from None
        except (aiohttp.ClientError, OSError) as exc:
            if _is_private_refusal(exc):
                raise WebhookError(
                    f"{host} resolves only to loopback, private or link-local addresses",
                    about=about,
                    retryable=False,
                ) from None
            raise WebhookError(f"{type(exc).__name__}: {exc}", about=about) from None
        except asyncio.CancelledError:
            raise
