"""Run the emulator with uvicorn in a background thread, for tests and benchmarks.

The socket is bound before uvicorn starts, so with port 0 the real port is known at
once, and `start()` returns only once the server answers a request.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from heldout.hub_emulator.app import create_app
from heldout.hub_emulator.services import Services
from heldout.hub_emulator.settings import EmulatorSettings

START_TIMEOUT = 15.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


class EmulatorServer:
    """One emulator on `host:port` (port 0 picks a free one). Also a context manager."""

    def __init__(
        self, settings: EmulatorSettings | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.settings = settings if settings is not None else EmulatorSettings()
        self.host = host
        self.port = port
        self.app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def services(self) -> Services:
        if self.app is None:
            raise RuntimeError("the emulator is not started")
        return self.app.state.services

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            return self
        self.app = create_app(self.settings)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every response waits ~40 ms (Nagle + delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            self.services.state.close()
            raise
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="hub-emulator", daemon=True
        )
        self._thread.start()
        self._wait_until_up()
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self._server is not None and self._thread is not None
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the Hub emulator stopped while starting")
            if self._server.started:
                try:
                    with _DIRECT.open(f"{self.url}/_emulator/health", timeout=2):
                        return
                except OSError:
                    pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"the Hub emulator did not answer within {START_TIMEOUT} s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self.app is not None:
            self.services.state.close()
        self._server = self._thread = self._socket = None

    def counters(self) -> dict[str, int]:
        """Hub requests so far, by endpoint name (faulted ones included)."""
        return self.services.counters.snapshot()

    def reset_counters(self) -> None:
        self.services.counters.reset()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
