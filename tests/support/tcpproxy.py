"""A TCP proxy on loopback that a test can cut and restore, for broker-outage tests.

``TcpProxy(target_host, target_port)`` listens on 127.0.0.1 (free port, see
``.port``/``.address``) and pipes every accepted connection to the target.

``cut()`` closes every open connection at once (abort: the peer sees a reset, as
when a broker dies) and, until ``restore()``, handles new connections according
to ``mode``:

- ``"refuse"`` (default): accepted and aborted immediately — the client sees a
  connection reset on connect, like a broker whose port is closed, without the
  proxy giving up its port (which another process could then take);
- ``"hold"``: accepted and left silent — the client's requests time out, like a
  broker that hangs or a network partition. Held connections are closed by
  ``restore()`` (clients reconnect) and by ``stop()``.

The listening socket itself stays open throughout, so the address never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Literal


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.port = 0
        self.connections = 0  # accepted since start, for assertions
        self._server: asyncio.Server | None = None
        self._cut: Literal["refuse", "hold"] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._cut is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._abort_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def cut(self, mode: Literal["refuse", "hold"] = "refuse") -> None:
        """Drop every connection now; refuse or hold new ones until ``restore()``."""
        self._cut = mode
        self._abort_all()

    def restore(self) -> None:
        """Forward new connections again; held ones are closed so clients reconnect."""
        self._cut = None
        self._abort_all()

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._cut == "refuse":
            writer.transport.abort()
            return
        self._writers.add(writer)
        if self._cut == "hold":
            return  # the transport stays open and silent until restore()/stop()
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self._writers.discard(writer)
            writer.transport.abort()
            return
        if self._cut is not None or writer not in self._writers:  # cut while we connected
            up_writer.transport.abort()
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended: end both, so a half-dead pair never lingers.
            self._writers.discard(dst)
            with contextlib.suppress(Exception):
                dst.transport.abort()
