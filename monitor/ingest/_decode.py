"""Reading a feed body: Content-Encoding removed by us, the decoded size capped.

aiohttp's own decompression is off (its brotli path has no output limit), so every
response body passes through :func:`read_body`. It guarantees:

- the *decoded* body never exceeds ``cap`` bytes; no more than the cap plus one
  decoding step (``_STEP``) is ever held, because zlib is asked for at most
  ``_STEP`` bytes per call and the budget is checked after every piece;
- a gzip/deflate body that inflates past the cap at a ratio above ``BOMB_RATIO``
  is reported as ``decompression_bomb``, any other overflow as ``too_large``;
- compressed input that decodes to (almost) nothing cannot run forever: reading
  stops once the compressed bytes alone pass the cap plus one read chunk;
- only ``identity``, ``gzip`` (alias ``x-gzip``) and ``deflate`` (zlib-wrapped or
  raw) are accepted; anything else is ``bad_content_type``.

Every failure is a :class:`~monitor.errors.FetchError` about the feed being read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Final

import aiohttp

from ..errors import FetchError

# Brotli is not advertised: no brotli module is installed here, and aiohttp's own
# brotli path has no output limit, which would reopen the decompression-bomb hole.
ACCEPT_ENCODING: Final = "gzip, deflate"
BOMB_RATIO: Final = 100
CHUNK: Final = 64 * 1024  # the session's read buffer, and the slack allowed past the cap
_STEP: Final = 256 * 1024  # most decoded bytes produced by one zlib call


class _Decoder:
    """Streams Content-Encoding away with bounded output per step.

    ``zlib`` is asked for at most ``_STEP`` bytes per call (``max_length``), so one
    compressed chunk of a bomb never inflates into more than ``_STEP`` at once.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None
        self._pending = b""
        self.compressed = 0

    def _new(self, head: bytes) -> Any:
        if self.encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped (RFC 9110) but many servers send raw
        # deflate; a zlib header has CM=8 and a 16-bit value divisible by 31.
        if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
            return zlib.decompressobj(zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode ``data`` in pieces of at most ``_STEP`` bytes each.

        The caller checks its budget after every piece and stops iterating when it
        is exceeded, so a bomb never materialises more than one piece past the cap.
        """
        self.compressed += len(data)
        if self.encoding == "identity":
            for i in range(0, len(data), _STEP):
                yield data[i : i + _STEP]
            return
        data = self._pending + data
        self._pending = b""
        while data:
            if self._zlib is None:
                if self.encoding == "deflate" and len(data) < 2:
                    self._pending = data
                    return
                self._zlib = self._new(data[:2])
            piece = self._zlib.decompress(data, _STEP)
            if piece:
                yield piece
            if self._zlib.eof:
                # gzip allows several members back to back; anything after a deflate
                # stream's end is junk we ignore.
                data = self._zlib.unused_data if self.encoding == "gzip" else b""
                if data:
                    self._zlib = None
            else:
                # Non-empty only when the output filled _STEP: loop to decode the rest.
                data = self._zlib.unconsumed_tail


async def read_body(resp: aiohttp.ClientResponse, *, feed_id: str, cap: int) -> bytes:
    """The decoded body of ``resp``, at most ``cap`` bytes, or a ``FetchError``."""
    fid = feed_id
    encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("", "none"):
        encoding = "identity"
    if encoding == "x-gzip":
        encoding = "gzip"
    if encoding not in ("identity", "gzip", "deflate"):
        raise FetchError(
            f"unsupported Content-Encoding {encoding[:30]!r} "
            f"(we sent Accept-Encoding: {ACCEPT_ENCODING}); the poll is abandoned",
            about=fid,
            reason="bad_content_type",
            status=resp.status,
        )
    too_large = FetchError(
        f"body exceeds {cap} bytes (max_body_bytes); the poll is abandoned",
        about=fid,
        reason="too_large",
        status=resp.status,
    )
    if encoding == "identity" and (resp.content_length or 0) > cap:
        raise too_large
    decoder = _Decoder(encoding)
    # Pieces in a list, joined once at the end. A growing BytesIO reallocates, and
    # once glibc has raised its mmap threshold (after freeing an earlier large body) a
    # realloc copies: old and new buffer alive together, twice the cap at the peak
    # (seen: +40 MiB instead of +21 MiB under a 50 MB body).
    pieces: list[bytes] = []
    size = 0
    while True:
        chunk = await resp.content.readany()
        if not chunk:
            break
        for piece in decoder.feed(chunk):
            size += len(piece)
            if size > cap:
                pieces.clear()  # drop what we hold before building the error
                if encoding != "identity" and decoder.compressed * BOMB_RATIO < size:
                    raise FetchError(
                        f"{encoding} body inflates past {cap} bytes (max_body_bytes) from only "
                        f"{decoder.compressed} compressed bytes; a decompression bomb, "
                        "the poll is abandoned",
                        about=fid,
                        reason="decompression_bomb",
                        status=resp.status,
                    )
                raise too_large
            pieces.append(piece)
        # Compressed input that decodes to (almost) nothing must not run forever.
        if decoder.compressed > cap + CHUNK and encoding != "identity":
            raise too_large
    return b"".join(pieces)
