"""A hostile feed server on loopback, for fault-injection tests of the fetcher and parser.

``HostileServer`` is an aiohttp application bound to 127.0.0.1 on a free port. Every
endpoint misbehaves in one documented way (see ``_routes``); ``hits`` counts
requests per path so a test can assert that an endpoint was, or was never, fetched
(the remote-DTD endpoint of ``/xxe-remote`` in particular). ``inflight_max`` records
the peak number of concurrent requests per path, for concurrency-limit tests.

Nothing is held in memory beyond small constant buffers: ``/huge`` streams 50 MB of
generated XML, ``/gzip-bomb`` serves a cached ~1 MB gzip stream that inflates to
1 GiB (built in ~0.3 s from one compressed 1 MiB block of zeros repeated after
``Z_FULL_FLUSH``, which makes every block byte-identical, plus a computed trailer).

``connect_timeout_address()`` gives an address on loopback whose connect attempts
hang. Verified on Linux (this machine, kernel with syncookies=1,
tcp_abort_on_overflow=0): a socket that ``listen(0)``s and never accepts has an
accept queue of one; once one client has completed the handshake, the kernel
drops further SYNs (it does not answer RST), so ``connect()`` waits until the
client's own timeout — a real connect timeout, no external network needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import socket
import struct
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from types import TracebackType

from aiohttp import web

HUGE_BYTES = 50 * 1024 * 1024
BOMB_DECODED = 1 << 30
_ZEROS = b"\0" * (1 << 20)


def rss(items: int, *, title: str = "Hostile test feed", start: int = 0) -> bytes:
    """A small valid RSS 2.0 document with ``items`` synthetic items."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{title}</title><link>http://example.invalid/</link><description>test</description>",
    ]
    for i in range(start, start + items):
        parts.append(
            f"<item><title>Item {i}</title><link>http://example.invalid/item/{i}</link>"
            f"<guid>urn:test:item:{i}</guid><description>&lt;p&gt;Body {i}&lt;/p&gt;</description>"
            "<pubDate>Fri, 07 Jul 2017 12:00:00 GMT</pubDate></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


@functools.cache
def gzip_bomb() -> bytes:
    """~1 MB of gzip that inflates to 1 GiB of NUL bytes after a tiny XML head."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    blocks = BOMB_DECODED // len(_ZEROS)
    first = comp.compress(_ZEROS) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(_ZEROS) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(_ZEROS) + comp.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "Z_FULL_FLUSH blocks are expected to be identical"
    tail = comp.flush()  # empty final block + 8-byte trailer (CRC32, ISIZE) for 3 MiB
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(_ZEROS, crc)
    return first + block * (blocks - 1) + tail[:-8] + struct.pack("<II", crc, BOMB_DECODED & 0xFFFFFFFF)


def _deflate(data: bytes, *, raw: bool) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]><rss version="2.0"><channel><title>Laughs &lol9;</title><link>http://example.invalid/</link>
<item><title>&lol9;</title><description>&lol9;</description><guid>laugh-1</guid></item>
</channel></rss>
"""

XXE_FILE = b"""<?xml version="1.0" encoding="utf-8"?><!DOCTYPE rss [
<!ENTITY xxe SYSTEM "file:///etc/passwd">
]><rss version="2.0"><channel><title>XXE &xxe;</title><link>http://example.invalid/</link>
<item><title>Leak &xxe;</title><description>&xxe;</description><guid>xxe-1</guid></item>
</channel></rss>
"""


def xxe_remote(dtd_url: str) -> bytes:
    """A feed whose DOCTYPE pulls an external DTD and a parameter entity from ``dtd_url``."""
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd_url}" [\n'
        f'<!ENTITY % remote SYSTEM "{dtd_url}?pe=1"> %remote;\n'
        f'<!ENTITY ext SYSTEM "{dtd_url}?ge=1">\n'
        ']><rss version="2.0"><channel><title>Remote &ext;</title><link>http://example.invalid/</link>'
        "<item><title>Remote &ext;</title><guid>remote-1</guid></item></channel></rss>\n"
    ).encode()


class HostileServer:
    """aiohttp server on 127.0.0.1 with misbehaving endpoints. Async context manager."""

    def __init__(self, *, items: int = 5) -> None:
        self.items = items
        self.hits: Counter[str] = Counter()
        self.inflight: Counter[str] = Counter()
        self.inflight_max: Counter[str] = Counter()
        self.last_headers: dict[str, dict[str, str]] = {}
        self._changing = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._forever = asyncio.Event()  # never set: /hang and /slow-drip wait on it

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._port}{path}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._count])
        app.router.add_routes(self._routes())
        # handler_cancellation: a client that gives up cancels /hang and /slow-drip
        # instead of leaving them running until shutdown.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HostileServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @web.middleware
    async def _count(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.last_headers[path] = dict(request.headers)
        self.inflight[path] += 1
        self.inflight_max[path] = max(self.inflight_max[path], self.inflight[path])
        try:
            return await handler(request)
        finally:
            self.inflight[path] -= 1

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ok.xml", self._ok),
            web.get("/slow-drip", self._slow_drip),
            web.get("/hang", self._hang),
            web.get("/500", self._status(500)),
            web.get("/404", self._status(404)),
            web.get("/429", self._429),
            web.get("/503-date", self._503_date),
            web.get("/redirect-loop", self._redirect_loop),
            web.get("/redirect", self._redirect),
            web.get("/redirect-ftp", self._redirect_ftp),
            web.get("/huge", self._huge),
            web.get("/gzip-bomb", self._gzip_bomb),
            web.get("/wrong-type", self._wrong_type),
            web.get("/octet", self._octet),
            web.get("/bad-encoding", self._bad_encoding),
            web.get("/empty", self._empty),
            web.get("/changing", self._changing_feed),
            web.get("/billion-laughs", self._fixed(BILLION_LAUGHS)),
            web.get("/xxe-file", self._fixed(XXE_FILE)),
            web.get("/xxe-remote", self._xxe_remote),
            web.get("/evil.dtd", self._evil_dtd),
            web.get("/headers", self._headers),
            web.get("/set-cookie", self._set_cookie),
        ]

    # -- endpoints ------------------------------------------------------------------

    async def _ok(self, request: web.Request) -> web.StreamResponse:
        """Valid RSS; ?n=items, ?delay=seconds, ?enc=gzip|deflate|rawdeflate; honours ETag/IMS."""
        delay = float(request.query.get("delay", "0"))
        if delay:
            await asyncio.sleep(delay)
        body = rss(int(request.query.get("n", self.items)))
        etag = '"v1"'
        modified = "Fri, 07 Jul 2017 12:00:00 GMT"
        inm, ims = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
        if inm == etag or ims == modified:
            return web.Response(status=304, headers={"ETag": etag, "Last-Modified": modified})
        headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": "application/rss+xml"}
        enc = request.query.get("enc")
        if enc == "gzip":
            body = zlib.compress(body, wbits=31)
            headers["Content-Encoding"] = "gzip"
        elif enc in ("deflate", "rawdeflate"):
            body = _deflate(body, raw=enc == "rawdeflate")
            headers["Content-Encoding"] = "deflate"
        elif enc:
            headers["Content-Encoding"] = enc
        return web.Response(body=body, headers=headers)

    async def _slow_drip(self, request: web.Request) -> web.StreamResponse:
        """200, headers at once, then one byte per second forever."""
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        await resp.write(b"<")
        while True:
            await asyncio.sleep(1.0)
            await resp.write(b" ")

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Accepts the connection and the request, never answers."""
        await self._forever.wait()
        raise AssertionError("unreachable")

    @staticmethod
    def _status(code: int) -> web.RequestHandler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=code, text=f"error {code}")

        return handler

    @staticmethod
    def _fixed(body: bytes, content_type: str = "application/rss+xml") -> web.RequestHandler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, headers={"Content-Type": content_type})

        return handler

    async def _429(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, text="slow down", headers={"Retry-After": "7"})

    async def _503_date(self, request: web.Request) -> web.StreamResponse:
        when = email.utils.formatdate(time.time() + 120, usegmt=True)
        return web.Response(status=503, text="maintenance", headers={"Retry-After": when})

    async def _redirect_loop(self, request: web.Request) -> web.StreamResponse:
        n = int(request.query.get("n", "0"))
        raise web.HTTPFound(f"/redirect-loop?n={n + 1}")

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        """?to=URL, ?code=301|302|303|307|308."""
        code = int(request.query.get("code", "302"))
        return web.Response(status=code, headers={"Location": request.query["to"]})

    async def _redirect_ftp(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("ftp://127.0.0.1/feed.xml")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """50 MB of generated XML, chunked (or with Content-Length when ?cl=1)."""
        headers = {"Content-Type": "application/rss+xml"}
        if request.query.get("cl"):
            headers["Content-Length"] = str(HUGE_BYTES)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        chunk = b"<item><title>x</title></item>" * 2260  # ~64 KiB
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < HUGE_BYTES:
                piece = chunk[: HUGE_BYTES - sent]
                await resp.write(piece)
                sent += len(piece)
            await resp.write_eof()
        return resp

    async def _gzip_bomb(self, request: web.Request) -> web.StreamResponse:
        body = gzip_bomb()
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
        resp.content_length = len(body)
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            for i in range(0, len(body), 65536):
                await resp.write(body[i : i + 65536])
            await resp.write_eof()
        return resp

    async def _wrong_type(self, request: web.Request) -> web.StreamResponse:
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
        return web.Response(body=png, headers={"Content-Type": "image/png"})

    async def _octet(self, request: web.Request) -> web.StreamResponse:
        """application/octet-stream; ?kind=xml gives a feed, anything else binary junk."""
        body = rss(1) if request.query.get("kind") == "xml" else b"\x00\x01\x02PK\x03\x04" * 100
        return web.Response(body=body, headers={"Content-Type": "application/octet-stream"})

    async def _bad_encoding(self, request: web.Request) -> web.StreamResponse:
        body = rss(2, title="Caf\u00e9 d\u00e9j\u00e0 vu").decode("utf-8").encode("latin-1") + b"\xff\xfe\xc3"
        return web.Response(body=body, headers={"Content-Type": "application/rss+xml; charset=utf-8"})

    async def _empty(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200, body=b"", headers={"Content-Type": "application/rss+xml"})

    async def _changing_feed(self, request: web.Request) -> web.StreamResponse:
        """A new item on every request (the newest first), no validators."""
        self._changing += 1
        return web.Response(
            body=rss(self._changing, title="Changing"), headers={"Content-Type": "application/rss+xml"}
        )

    async def _xxe_remote(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=xxe_remote(self.url("/evil.dtd")), headers={"Content-Type": "application/rss+xml"}
        )

    async def _evil_dtd(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text='<!ENTITY leak "REMOTE-DTD-WAS-FETCHED">', headers={"Content-Type": "application/xml-dtd"}
        )

    async def _headers(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=json.dumps(dict(request.headers)), content_type="application/json")

    async def _set_cookie(self, request: web.Request) -> web.StreamResponse:
        resp = web.Response(body=rss(1), headers={"Content-Type": "application/rss+xml"})
        resp.set_cookie("session", "feed-a-secret")
        return resp


@contextlib.contextmanager
def connect_timeout_address() -> Iterator[tuple[str, int]]:
    """(host, port) on loopback where TCP connects hang until the client times out.

    A listening socket with backlog 0 that never accepts; one filler connection
    fills its accept queue, after which Linux silently drops SYNs (see the module
    docstring). Raises RuntimeError if the queue cannot be filled.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        host, port = listener.getsockname()
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.3)
            fillers.append(filler)
            try:
                filler.connect((host, port))
            except (TimeoutError, OSError):
                break  # the queue is full: this SYN was dropped, as wanted
        else:
            raise RuntimeError("could not fill the accept queue of a backlog-0 listener")
        yield host, port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
