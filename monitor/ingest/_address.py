"""Where a poll may go: the private-address guard and the redirect policy.

Pure decisions about URLs and addresses, used by :mod:`monitor.ingest.fetch`.
Guarantees, when ``allow_private_addresses`` is off:

- a host name never connects to a private, loopback or link-local address
  (:class:`PublicOnlyResolver` drops such answers, and fails when none is left);
- a URL whose host is a non-global IP literal is refused before any connect
  (:func:`refuse_private_literal`).

And always, for a redirect (:func:`redirect_target`): it has a Location, it is
within ``max_redirects`` hops, and it leads to http(s) with a host; credentials-
bearing headers are not forwarded to another origin (:func:`forget_credentials`).
Every refusal is a :class:`~monitor.errors.FetchError` about the feed.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final
from urllib.parse import urljoin, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDict

from ..errors import FetchError

REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_CREDENTIALS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_global


class PublicOnlyResolver(AbstractResolver):
    """Resolver that drops private, loopback and link-local answers (SSRF guard)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def close(self) -> None:
        await self._inner.close()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        public = [a for a in answers if _is_public(a["host"])]
        if not public:
            raise OSError(f"{host} resolves only to private addresses (allow_private_addresses is off)")
        return public


def refuse_private_literal(url: str, *, feed_id: str) -> None:
    """Raise when ``url``'s host is an IP literal that is not globally routable."""
    hostname = urlsplit(url).hostname or ""
    try:
        literal = ipaddress.ip_address(hostname)
    except ValueError:
        literal = None
    if literal is not None and not literal.is_global:
        raise FetchError(
            "URL points to a private address and allow_private_addresses is off; the poll is refused",
            about=feed_id,
            reason="invalid_url",
        )


def redirect_target(
    base: str, location: str | None, *, status: int, feed_id: str, hop: int, max_redirects: int
) -> str:
    """The absolute URL a ``status`` redirect from ``base`` leads to, as hop number ``hop``."""
    if not location:
        raise FetchError(
            f"HTTP {status} redirect without a Location header; the poll failed and is retried later",
            about=feed_id,
            reason="http_error",
            status=status,
        )
    if hop > max_redirects:
        raise FetchError(
            f"more than {max_redirects} redirects (max_redirects); the poll is abandoned, check the feed URL",
            about=feed_id,
            reason="too_many_redirects",
            status=status,
        )
    target = urljoin(base, location.strip())
    tparts = urlsplit(target)
    if tparts.scheme not in ("http", "https") or not tparts.hostname:
        raise FetchError(
            f"redirected to a non-http(s) URL (scheme {tparts.scheme[:20]!r}); "
            "the poll is abandoned, check the feed URL",
            about=feed_id,
            reason="invalid_url",
            status=status,
        )
    return target


def forget_credentials(headers: CIMultiDict[str], target: str, origin: tuple[str, str]) -> None:
    """Drop credentials-bearing headers when ``target`` is not on ``origin`` (as browsers do)."""
    if urlsplit(target)[:2] != origin:
        for name in _CREDENTIALS:
            headers.popall(name, None)
