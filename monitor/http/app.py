"""The ASGI app on the service port: ``/metrics``, ``/healthz``, ``/readyz`` and the API.

``/healthz`` answers 200 while the event loop runs. ``/readyz`` answers 200 once Kafka
was reached and every assigned feed was polled at least once, and 503 (with the
reason in the body) otherwise, so an orchestrator holds traffic until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from .. import __version__
from ..metrics import Metrics

Readiness = Callable[[], tuple[bool, dict[str, Any]]]


def build_app(metrics: Metrics, readiness: Readiness, routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(
        title="wire-monitor",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready, detail = readiness()
        return JSONResponse({"ready": ready, **detail}, status_code=200 if ready else 503)

    for router in routers:
        app.include_router(router)
    return app


class HttpServer:
    """uvicorn inside our event loop, without its signal handling (the service owns signals)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        )
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            from ..errors import ConfigError

            raise ConfigError(
                f"http: cannot listen on {self.host}:{self.port}: {exc.strerror}; choose another http.port"
            ) from None
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http-server")
        for _ in range(200):
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        if self._sock is not None:
            self._sock.close()
